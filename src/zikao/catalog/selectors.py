"""Reads of the catalog that front doors need (the office's catalog pages, the portal's home page).

The catalog is province-wide reference data: every staff user with CATALOG_VIEW sees all of it
(no office scope). Lookups by key raise `NotFound` for a missing object.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zikao.catalog.models import (
    CatalogUpload,
    Course,
    Level,
    Major,
    Plan,
    PlanItem,
    PlanSubstitution,
    PoliticsRuleSet,
    School,
    Sitting,
    Slot,
    TimetableEntry,
)
from zikao.catalog.plandiff import PlanDiff, plan_diff
from zikao.catalog.planfile import (
    CatalogCourse,
    PlanFileError,
    PlanSpec,
    Problem,
    detect_kind,
    normalize_credits,
    parse_plan,
    parse_politics_rules,
    parse_substitution_table,
)
from zikao.catalog.rules import SLOT_CODES, Clash, PlanCourses, timetable_clashes
from zikao.catalog.timetablefile import (
    ROW_ADD,
    ROW_ERROR,
    ROW_UNCHANGED,
    RowReport,
    SlotTime,
    TimetableFileError,
    check_rows,
    read_timetable,
)
from zikao.core import clock
from zikao.core.errors import NotFound


def sittings_overview(*, limit: int = 4) -> QuerySet[Sitting]:
    """The latest sittings, newest first (label, first day, release time) for the home page."""
    return Sitting.objects.order_by("-label")[:limit]


def course_catalog() -> dict[str, CatalogCourse]:
    """The Course table as the mapping the plan-file parser validates against."""
    return {
        code: CatalogCourse(code, name, normalize_credits(credits), kind)
        for code, name, credits, kind in Course.objects.values_list("code", "name", "credits", "kind")
    }


# --- courses, schools, majors, plans -------------------------------------------------------------


def courses_search(*, q: str = "", kind: str = "") -> QuerySet[Course]:
    """Courses whose code starts with `q` or whose name contains it, optionally of one kind."""
    qs = Course.objects.all()
    q = q.strip()
    if q:
        qs = qs.filter(Q(code__startswith=q) | Q(name__icontains=q))
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("code")


def course_get(code: str) -> Course:
    course = Course.objects.filter(code=code).first()
    if course is None:
        raise NotFound()
    return course


def course_plans(course: Course) -> QuerySet[Plan]:
    """The plans that list the course (for its page)."""
    return (
        Plan.objects.filter(items__course=course)
        .select_related("major")
        .order_by("major__code", "major__level", "-version")
    )


def schools_search(*, q: str = "") -> QuerySet[School]:
    qs = School.objects.annotate(major_count=Count("majors"))
    q = q.strip()
    if q:
        qs = qs.filter(Q(code__startswith=q) | Q(name__icontains=q))
    return qs.order_by("code")


def school_get(pk: int) -> School:
    school = School.objects.filter(pk=pk).first()
    if school is None:
        raise NotFound()
    return school


def majors_search(*, q: str = "", level: str = "") -> QuerySet[Major]:
    qs = Major.objects.select_related("school").annotate(plan_count=Count("plans"))
    q = q.strip()
    if q:
        qs = qs.filter(Q(code__startswith=q) | Q(name__icontains=q) | Q(province_code__istartswith=q))
    if level:
        qs = qs.filter(level=level)
    return qs.order_by("code", "level")


def major_get(pk: int) -> Major:
    major = Major.objects.select_related("school").filter(pk=pk).first()
    if major is None:
        raise NotFound()
    return major


def plans_search(*, q: str = "") -> QuerySet[Plan]:
    qs = Plan.objects.select_related("major", "major__school").annotate(item_count=Count("items"))
    q = q.strip()
    if q:
        qs = qs.filter(Q(major__code__startswith=q) | Q(major__name__icontains=q))
    return qs.order_by("major__code", "major__level", "-version")


def plan_get(pk: int) -> Plan:
    plan = Plan.objects.select_related("major", "major__school").filter(pk=pk).first()
    if plan is None:
        raise NotFound()
    return plan


def plan_items(plan: Plan) -> QuerySet[PlanItem]:
    return plan.items.select_related("course", "practice_for").order_by("row")


def plan_label(plan: Plan) -> str:
    """The plan as people name it: 080901 计算机科学与技术(本科) 2024版."""
    level = Level(plan.major.level).label if plan.major.level in Level.values else plan.major.level
    return str(_("%(code)s %(name)s(%(level)s) %(version)d版")) % {
        "code": plan.major.code,
        "name": plan.major.name,
        "level": level,
        "version": plan.version,
    }


# --- plan uploads --------------------------------------------------------------------------------

PREVIEW_INVALID = "invalid"
PREVIEW_NEW_MAJOR = "new_major"  # no such major yet: major (and maybe school) and plan created
PREVIEW_NEW_PLAN = "new_plan"  # the major exists without any plan
PREVIEW_NEW_VERSION = "new_version"  # a newer version than every stored one
PREVIEW_OLDER_VERSION = "older_version"  # a version older than the newest stored one
PREVIEW_UPDATE = "update"  # replaces the stored plan of the same version
PREVIEW_IDENTICAL = "identical"  # exactly what is stored: applying changes nothing
PREVIEW_NEW = "new"  # substitution table / politics rules not stored yet


def upload_get(pk: int, *, kind: str, sitting: Sitting | None = None) -> CatalogUpload:
    """An upload of that kind (and sitting, for timetables), else NotFound."""
    qs = CatalogUpload.objects.filter(pk=pk, kind=kind)
    if sitting is not None:
        qs = qs.filter(sitting=sitting)
    upload = qs.select_related("uploaded_by", "applied_by").first()
    if upload is None:
        raise NotFound()
    return upload


def plan_uploads_recent(*, limit: int = 20) -> QuerySet[CatalogUpload]:
    return CatalogUpload.objects.filter(kind=CatalogUpload.Kind.PLAN).select_related(
        "uploaded_by", "applied_by"
    )[:limit]


def text_checksum(text: str) -> str:
    """The checksum the plan importer keys idempotency on (sha256 of the UTF-8 text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fingerprint(parts: list) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


@dataclass
class PlanPreview:
    """What applying an uploaded plan file would do, computed against the current catalog.

    `base` fingerprints the stored documents the preview compared with; the apply refuses
    (PLAN_UPLOAD_STALE) when it no longer matches, so what is applied is what was previewed.
    """

    upload: CatalogUpload
    text: str
    kind: str | None = None  # "plan" / "substitution" / "politics"
    status: str = PREVIEW_INVALID
    problems: list[Problem] = field(default_factory=list)
    title: str = ""
    spec: PlanSpec | None = None
    compared: Plan | None = None
    diff: PlanDiff | None = None
    new_school: bool = False
    rows: int = 0
    base: str = ""

    @property
    def can_apply(self) -> bool:
        return not self.problems and self.status not in (PREVIEW_INVALID, PREVIEW_IDENTICAL)


def upload_text(upload: CatalogUpload) -> str:
    """The uploaded bytes as text (UTF-8, a BOM dropped); the upload service refused others."""
    return bytes(upload.content).decode("utf-8-sig")


def plan_upload_preview(upload: CatalogUpload) -> PlanPreview:
    """Parse the uploaded file against the course catalog and compare it with what is stored.

    For a plan: the status (new major / new plan / new version / older version / update /
    identical), the stored version compared with (same version if stored, else the newest) and
    the `PlanDiff`; for a substitution table or politics rules: new / update / identical and the
    number of rows. A file the parser refuses gives status "invalid" and its line-numbered
    problems. Reads only.
    """
    text = upload_text(upload)
    preview = PlanPreview(upload=upload, text=text)
    catalog = course_catalog()
    try:
        preview.kind = detect_kind(text)
        if preview.kind == "plan":
            _preview_plan(preview, parse_plan(text, courses=catalog, source_name=upload.source_name))
        elif preview.kind == "substitution":
            table = parse_substitution_table(text, courses=catalog, source_name=upload.source_name)
            stored = PlanSubstitution.objects.filter(
                major_code=table.major_code,
                level=table.level,
                from_version=table.from_version,
                to_version=table.to_version,
            ).first()
            preview.title = str(_("顶替表 %(id)s(%(major)s %(old)d版 → %(new)d版)")) % {
                "id": table.id,
                "major": table.major_code,
                "old": table.from_version,
                "new": table.to_version,
            }
            preview.rows = len(table.rows)
            _preview_document(preview, stored.checksum if stored is not None else None)
        else:
            rules = parse_politics_rules(text, courses=catalog, source_name=upload.source_name)
            stored_rules = PoliticsRuleSet.objects.filter(rules_id=rules.id).first()
            preview.title = str(_("思想政治课程顶替规则 %(id)s")) % {"id": rules.id}
            preview.rows = len(rules.rules)
            _preview_document(preview, stored_rules.checksum if stored_rules is not None else None)
    except PlanFileError as exc:
        preview.status = PREVIEW_INVALID
        preview.problems = list(exc.problems)
    return preview


def _preview_document(preview: PlanPreview, stored_checksum: str | None) -> None:
    preview.base = stored_checksum or "none"
    if stored_checksum is None:
        preview.status = PREVIEW_NEW
    elif stored_checksum == text_checksum(preview.text):
        preview.status = PREVIEW_IDENTICAL
    else:
        preview.status = PREVIEW_UPDATE


def plan_base(major: Major | None) -> str:
    """Fingerprint of a major's stored plans (versions, checksums) and name: the preview's base."""
    if major is None:
        return "none"
    versions = list(major.plans.order_by("version").values_list("version", "checksum"))
    return _fingerprint([major.name, major.school_id, versions])


def _preview_plan(preview: PlanPreview, spec: PlanSpec) -> None:
    preview.spec = spec
    level = Level(spec.level).label
    preview.title = str(_("%(code)s %(name)s(%(level)s) %(version)d版")) % {
        "code": spec.major_code,
        "name": spec.major_name,
        "level": level,
        "version": spec.version,
    }
    preview.new_school = not School.objects.filter(name=spec.school).exists()
    major = Major.objects.filter(code=spec.major_code, level=spec.level).first()
    preview.base = plan_base(major)
    plans = list(major.plans.select_related("major").order_by("version")) if major is not None else []
    same = next((p for p in plans if p.version == spec.version), None)
    if major is None:
        preview.status = PREVIEW_NEW_MAJOR
    elif same is not None:
        identical = same.checksum == text_checksum(preview.text) and major.name == spec.major_name
        preview.status = PREVIEW_IDENTICAL if identical else PREVIEW_UPDATE
        preview.compared = same
    elif plans:
        newest = plans[-1]
        preview.status = PREVIEW_NEW_VERSION if spec.version > newest.version else PREVIEW_OLDER_VERSION
        preview.compared = newest
    else:
        preview.status = PREVIEW_NEW_PLAN
    if preview.compared is not None:
        preview.diff = plan_diff(PlanSpec.from_json(preview.compared.spec), spec)


# --- sittings and timetable ----------------------------------------------------------------------


def sittings_list() -> QuerySet[Sitting]:
    return Sitting.objects.annotate(course_count=Count("timetable")).order_by("-label")


def sitting_get(label: str) -> Sitting:
    sitting = Sitting.objects.filter(label=label).first()
    if sitting is None:
        raise NotFound()
    return sitting


def sitting_slots(sitting: Sitting) -> list[Slot]:
    """The sitting's slots in SAT_AM … SUN_PM order."""
    order = {code: index for index, code in enumerate(SLOT_CODES)}
    return sorted(sitting.slots.all(), key=lambda s: (order.get(s.code, len(order)), s.starts_at))


def sitting_status(sitting: Sitting, now: datetime | None = None) -> str:
    """Where the sitting stands now: "planned", "entry_open", "entry_closed", "examined",
    "released" (scores visible)."""
    now = now or clock.now()
    release = sitting.effective_release_at
    if release is not None and release <= now:
        return "released"
    slots = list(sitting.slots.all())
    if slots and min(s.starts_at for s in slots) <= now:
        return "examined"
    if sitting.entry_opens_at and sitting.entry_closes_at:
        if sitting.entry_opens_at <= now < sitting.entry_closes_at:
            return "entry_open"
        if now >= sitting.entry_closes_at:
            return "entry_closed"
    return "planned"


def timetable_started(sitting: Sitting) -> bool:
    """True once the sitting's first slot has started: its timetable is then history."""
    first = sitting.slots.order_by("starts_at").values_list("starts_at", flat=True).first()
    return first is not None and first <= clock.now()


def timetable_of(sitting: Sitting) -> QuerySet[TimetableEntry]:
    return (
        TimetableEntry.objects.filter(sitting=sitting)
        .select_related("course", "slot")
        .order_by("slot__starts_at", "course__code")
    )


def timetable_entry_get(sitting: Sitting, pk: int) -> TimetableEntry:
    entry = TimetableEntry.objects.select_related("course", "slot").filter(sitting=sitting, pk=pk).first()
    if entry is None:
        raise NotFound()
    return entry


def timetable_assignment(sitting: Sitting) -> dict[str, str]:
    """The sitting's timetable as course code → slot code."""
    return dict(TimetableEntry.objects.filter(sitting=sitting).values_list("course__code", "slot__code"))


def timetable_base(sitting: Sitting) -> str:
    """Fingerprint of the sitting's timetable: an import preview is applied only while it holds."""
    return _fingerprint(sorted(timetable_assignment(sitting).items()))


def plans_for_clashes(sitting: Sitting) -> list[PlanCourses]:
    """Every plan a candidate may still follow at this sitting (no transition end, or one on or
    after its first day), with its courses and theory/practice pairs, in major order."""
    plans = list(
        Plan.objects.filter(Q(graduate_until__isnull=True) | Q(graduate_until__gte=sitting.first_day))
        .select_related("major")
        .order_by("major__code", "major__level", "version")
    )
    codes: dict[int, set[str]] = {plan.pk: set() for plan in plans}
    pairs: dict[int, set[tuple[str, str]]] = {plan.pk: set() for plan in plans}
    rows = PlanItem.objects.filter(plan__in=plans).values_list(
        "plan_id", "course__code", "practice_for__code"
    )
    for plan_id, code, theory in rows:
        codes[plan_id].add(code)
        if theory:
            pairs[plan_id].add((theory, code))
    return [PlanCourses(plan_label(p), frozenset(codes[p.pk]), frozenset(pairs[p.pk])) for p in plans]


def timetable_clash_report(sitting: Sitting) -> list[Clash]:
    """All clashes of the sitting's current timetable (for its page)."""
    return timetable_clashes(timetable_assignment(sitting), plans_for_clashes(sitting))


@dataclass
class TimetableReport:
    """The dry run of an uploaded timetable: per-row verdicts, the clashes the new rows would
    cause, and file-level problems. Nothing is written to compute it."""

    upload: CatalogUpload
    sitting: Sitting
    source: str = ""
    header: bool = False
    file_problems: list[Problem] = field(default_factory=list)
    rows: list[RowReport] = field(default_factory=list)
    clashes: list[Clash] = field(default_factory=list)
    course_names: dict[str, str] = field(default_factory=dict)
    base: str = ""
    locked: bool = False

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def added(self) -> int:
        return self.count(ROW_ADD)

    @property
    def unchanged(self) -> int:
        return self.count(ROW_UNCHANGED)

    @property
    def errors(self) -> int:
        return self.count(ROW_ERROR)

    @property
    def can_apply(self) -> bool:
        return (
            not self.file_problems
            and not self.locked
            and not self.errors
            and not self.clashes
            and self.added > 0
        )


def timetable_report(upload: CatalogUpload) -> TimetableReport:
    """Read the uploaded spreadsheet and judge it against the catalog, the sitting's slots and
    current timetable, and the plans (clashes involving at least one new row). Reads only."""
    sitting = upload.sitting
    assert sitting is not None
    report = TimetableReport(upload=upload, sitting=sitting, locked=timetable_started(sitting))
    report.base = timetable_base(sitting)
    try:
        sheet = read_timetable(bytes(upload.content))
    except TimetableFileError as exc:
        report.file_problems = list(exc.problems)
        return report
    report.source, report.header = sheet.source, sheet.header
    wanted = {row.course for row in sheet.rows}
    courses = dict(Course.objects.filter(code__in=wanted).values_list("code", "name"))
    slots = [SlotTime(s.code, s.starts_at, s.ends_at) for s in sitting_slots(sitting)]
    existing = timetable_assignment(sitting)
    report.rows = check_rows(
        sheet.rows, courses=courses, slots=slots, existing=existing, tz=timezone.get_default_timezone()
    )
    new = {row.course: row.slot for row in report.rows if row.status == ROW_ADD}
    if new:
        report.clashes = timetable_clashes({**existing, **new}, plans_for_clashes(sitting), involving=new)
    clash_codes = {code for clash in report.clashes for code in clash.courses}
    report.course_names = dict(Course.objects.filter(code__in=clash_codes).values_list("code", "name"))
    return report


def timetable_uploads_recent(sitting: Sitting, *, limit: int = 10) -> QuerySet[CatalogUpload]:
    return CatalogUpload.objects.filter(kind=CatalogUpload.Kind.TIMETABLE, sitting=sitting).select_related(
        "uploaded_by", "applied_by"
    )[:limit]
