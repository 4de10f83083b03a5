"""Per-sitting statistics for the office reports: entries, attendance, pass rates, distribution.

Every figure is a grouped aggregate computed by the database (no rows fetched per candidate);
the SQL is plain GROUP BY / COUNT(...) FILTER (CASE on SQLite), so SQLite and PostgreSQL agree.

Definitions (what the report's columns mean):

* entries (报考): confirmed entries of the sitting (paid; cancelled and unpaid do not count);
* attended (实考): current exam results whose status is not absent (valid, void, withheld);
* absent (缺考): current exam results with status absent;
* withheld (暂缓): attended results withheld, by status or by an active `ScoreWithholding` of the
  candidate for the sitting; they are neither passes nor fails until released;
* passed (及格): valid, not withheld, value ≥ the province pass mark or a passing grade
  (`scores.rules.is_pass`);
* pass rate (及格率): passed / (attended − withheld), in per cent to one decimal.

A result's area is its entry's area (考区), or the candidate's county office when it has no entry.

Results are figures about scores: before a sitting's release instant only holders of
`scores.publish` (province score managers) see attendance, passes and the distribution; every
other user gets the entry counts and nothing derived from results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.accounts.permissions import Perm, has_perm, require_perm
from zikao.catalog.models import Course, ProvincePolicy, Sitting, TimetableEntry
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import NotFound, ValidationFailed
from zikao.entries.models import Entry
from zikao.scores.models import Method, Score, ScoreWithholding
from zikao.scores.rules import PASSING_GRADES
from zikao.scores.selectors import sitting_release

# (low, high) inclusive; 100 belongs to the last bucket.
HISTOGRAM_BUCKETS: tuple[tuple[int, int], ...] = (*((low, low + 9) for low in range(0, 90, 10)), (90, 100))


@dataclass(frozen=True)
class CourseRow:
    """One course of the sitting (or the total when `course_code` is empty)."""

    course_code: str
    course_name: str
    entries: int
    attended: int | None = None
    absent: int | None = None
    withheld: int | None = None
    passed: int | None = None

    @property
    def decided(self) -> int | None:
        if self.attended is None or self.withheld is None:
            return None
        return self.attended - self.withheld

    @property
    def pass_rate(self) -> Decimal | None:
        """Passed / decided results in per cent, one decimal (half up); None when nothing decided."""
        decided = self.decided
        if not decided or self.passed is None:
            return None
        return (Decimal(self.passed) * 100 / Decimal(decided)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )


@dataclass(frozen=True)
class AreaCourseRow:
    """One course in one area (county office): entries and attendance."""

    area_code: str
    area_name: str
    course_code: str
    course_name: str
    entries: int
    attended: int | None = None
    absent: int | None = None


@dataclass(frozen=True)
class HistogramBucket:
    low: int
    high: int
    count: int

    @property
    def label(self) -> str:
        return f"{self.low}–{self.high}"


@dataclass(frozen=True)
class SittingReport:
    """Everything the report page and its export show for one sitting, in one user's scope."""

    sitting: Sitting
    release_at: datetime | None
    released: bool
    results_disclosed: bool
    pass_mark: int
    scope_label: str
    courses: list[CourseRow]
    total: CourseRow
    areas: list[AreaCourseRow]
    histogram: list[HistogramBucket] = field(default_factory=list)
    histogram_course: Course | None = None

    @property
    def histogram_total(self) -> int:
        return sum(b.count for b in self.histogram)


# --- what the user may see ------------------------------------------------------------------------


def report_sittings(user) -> list[Sitting]:
    """Sittings to report on, newest first. Requires `reports.view`."""
    require_perm(user, Perm.REPORTS_VIEW)
    return list(Sitting.objects.order_by("-label"))


def report_sitting_get(user, label: str) -> Sitting:
    """The sitting with this label; NOT_FOUND when there is none. Requires `reports.view`."""
    require_perm(user, Perm.REPORTS_VIEW)
    sitting = Sitting.objects.filter(label=label).first()
    if sitting is None:
        raise NotFound()
    return sitting


def results_disclosed(user, sitting: Sitting) -> bool:
    """Whether result figures of `sitting` may be shown to `user` now (released, or a publisher)."""
    return sitting_release(sitting).released or has_perm(user, Perm.SCORES_PUBLISH)


def _area_ids(user) -> list[int] | None:
    """Ids of the county offices whose figures the user sees (None: the whole province)."""
    office = user.office
    if office.level == Office.Level.PROVINCE:
        return None
    if office.level == Office.Level.CITY:
        return list(
            Office.objects.filter(Q(parent_id=office.pk) | Q(pk=office.pk)).values_list("pk", flat=True)
        )
    return [office.pk]


def _course_for_histogram(code: str) -> Course | None:
    if not code:
        return None
    if not (len(code) == 5 and code.isdigit()):
        raise ValidationFailed("REPORT_COURSE_INVALID", _("课程代码应为5位数字。"), {"course": [code[:20]]})
    course = Course.objects.filter(code=code).first()
    if course is None:
        raise ValidationFailed("REPORT_COURSE_INVALID", _("没有该课程代码。"), {"course": [code]})
    return course


# --- the aggregates -------------------------------------------------------------------------------


def _results(sitting: Sitting, area_ids: list[int] | None):
    held = ScoreWithholding.objects.filter(
        candidate_id=OuterRef("candidate_id"), sitting_id=OuterRef("sitting_id"), released_at__isnull=True
    )
    qs = Score.objects.filter(sitting=sitting, is_current=True, method=Method.EXAM).annotate(
        area_id=Coalesce(F("entry__area_id"), F("candidate__county_office_id"), output_field=IntegerField()),
        held=Exists(held),
    )
    if area_ids is not None:
        qs = qs.filter(area_id__in=area_ids)
    return qs


def _pass_q(pass_mark: int) -> Q:
    return Q(status=Score.Status.VALID, held=False) & (
        Q(value__gte=pass_mark) | Q(value__isnull=True, grade__in=sorted(PASSING_GRADES))
    )


def _bucket_case() -> Case:
    whens = [
        When(value__gte=low, then=Value(index))
        for index, (low, _high) in reversed(list(enumerate(HISTOGRAM_BUCKETS)))
    ]
    return Case(*whens, default=Value(0), output_field=IntegerField())


def sitting_report(user, sitting: Sitting, *, histogram_course: str = "") -> SittingReport:
    """The report of `sitting` in the user's scope.

    Province: every area; city: its counties; county: itself. Result figures (attendance,
    passes, withheld, distribution) only when `results_disclosed`; otherwise those fields are
    None and the distribution is empty (no query touches scores then). Requires `reports.view`;
    refuses REPORT_COURSE_INVALID for a malformed or unknown histogram course.
    """
    require_perm(user, Perm.REPORTS_VIEW)
    chosen = _course_for_histogram(histogram_course)
    area_ids = _area_ids(user)
    disclosed = results_disclosed(user, sitting)
    pass_mark = ProvincePolicy.current().pass_mark

    entry_qs = Entry.objects.filter(sitting=sitting, status=Entry.Status.CONFIRMED)
    if area_ids is not None:
        entry_qs = entry_qs.filter(area_id__in=area_ids)
    entries = {
        (row["area_id"], row["course_id"]): row["n"]
        for row in entry_qs.values("area_id", "course_id").annotate(n=Count("id")).order_by()
    }

    results: dict[tuple[int, int], dict[str, int]] = {}
    histogram: list[HistogramBucket] = []
    if disclosed:
        grouped = (
            _results(sitting, area_ids)
            .values("area_id", "course_id")
            .annotate(
                attended=Count("id", filter=~Q(status=Score.Status.ABSENT)),
                absent=Count("id", filter=Q(status=Score.Status.ABSENT)),
                withheld=Count(
                    "id",
                    filter=~Q(status=Score.Status.ABSENT) & (Q(status=Score.Status.WITHHELD) | Q(held=True)),
                ),
                passed=Count("id", filter=_pass_q(pass_mark)),
            )
            .order_by()
        )
        results = {(row["area_id"], row["course_id"]): row for row in grouped}
        scored = _results(sitting, area_ids).filter(
            status=Score.Status.VALID, held=False, value__isnull=False
        )
        if chosen is not None:
            scored = scored.filter(course=chosen)
        counts = {
            row["bucket"]: row["n"]
            for row in scored.annotate(bucket=_bucket_case())
            .values("bucket")
            .annotate(n=Count("id"))
            .order_by()
        }
        histogram = [
            HistogramBucket(low=low, high=high, count=counts.get(index, 0))
            for index, (low, high) in enumerate(HISTOGRAM_BUCKETS)
        ]

    course_ids = {course_id for _area, course_id in (*entries, *results)}
    course_ids |= set(TimetableEntry.objects.filter(sitting=sitting).values_list("course_id", flat=True))
    courses = {c.pk: c for c in Course.objects.filter(pk__in=course_ids)}
    area_keys = {area_id for area_id, _course in (*entries, *results)}
    areas = {o.pk: o for o in Office.objects.filter(pk__in=area_keys)}

    def result(key, name) -> int | None:
        return results.get(key, {}).get(name, 0) if disclosed else None

    per_course: dict[int, dict[str, int]] = {cid: {} for cid in courses}
    for key in {*entries, *results}:
        bucket = per_course[key[1]]
        bucket["entries"] = bucket.get("entries", 0) + entries.get(key, 0)
        for name in ("attended", "absent", "withheld", "passed"):
            bucket[name] = bucket.get(name, 0) + (results.get(key, {}).get(name, 0))

    def course_row(course: Course, sums: dict[str, int]) -> CourseRow:
        return CourseRow(
            course_code=course.code,
            course_name=course.name,
            entries=sums.get("entries", 0),
            attended=sums.get("attended", 0) if disclosed else None,
            absent=sums.get("absent", 0) if disclosed else None,
            withheld=sums.get("withheld", 0) if disclosed else None,
            passed=sums.get("passed", 0) if disclosed else None,
        )

    course_rows = sorted(
        (course_row(courses[cid], sums) for cid, sums in per_course.items()), key=lambda r: r.course_code
    )
    totals = {
        name: sum(per_course[cid].get(name, 0) for cid in per_course)
        for name in ("entries", "attended", "absent", "withheld", "passed")
    }
    total = CourseRow(
        course_code="",
        course_name=str(_("合计")),
        entries=totals["entries"],
        attended=totals["attended"] if disclosed else None,
        absent=totals["absent"] if disclosed else None,
        withheld=totals["withheld"] if disclosed else None,
        passed=totals["passed"] if disclosed else None,
    )
    area_rows = sorted(
        (
            AreaCourseRow(
                area_code=areas[area_id].region_code,
                area_name=areas[area_id].name,
                course_code=courses[course_id].code,
                course_name=courses[course_id].name,
                entries=entries.get((area_id, course_id), 0),
                attended=result((area_id, course_id), "attended"),
                absent=result((area_id, course_id), "absent"),
            )
            for area_id, course_id in {*entries, *results}
        ),
        key=lambda r: (r.area_code, r.course_code),
    )
    release = sitting_release(sitting)
    return SittingReport(
        sitting=sitting,
        release_at=release.release_at,
        released=release.released,
        results_disclosed=disclosed,
        pass_mark=pass_mark,
        scope_label=user.office.name,
        courses=course_rows,
        total=total,
        areas=area_rows,
        histogram=histogram,
        histogram_course=chosen,
    )


@transaction.atomic
def report_export_start(*, actor: Actor, sitting: Sitting, histogram_course: str = "") -> SittingReport:
    """The report to write into a spreadsheet, after recording `report.exported`.

    The event names the sitting, the histogram course, the office scope and whether result
    figures were included. Refuses like `sitting_report` (nothing is written then).
    """
    user = actor.user
    report = sitting_report(user, sitting, histogram_course=histogram_course)
    audit_record(
        actor=actor,
        event_type="report.exported",
        subject=sitting,
        after={
            "sitting": sitting.label,
            "course": report.histogram_course.code if report.histogram_course else "",
            "office": user.office.region_code,
            "results_disclosed": report.results_disclosed,
            "format": "xlsx",
        },
    )
    return report
