"""The one read path for candidate-visible scores.

Every channel (portal pages, API, PDFs, exports, notifications) reads scores through these
functions; nothing else decides whether a score may be seen. A sitting's exam scores are
visible from its effective release instant (`Sitting.effective_release_at`, compared with
`core.clock.now()`); withheld scores are never visible; superseded versions are history.
Credit without a sitting (exemption, transfer) is an office decision and visible once recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from zikao.catalog.models import ProvincePolicy, Sitting
from zikao.catalog.planfile import normalize_credits
from zikao.core import clock
from zikao.scores import rules
from zikao.scores.models import Score


@dataclass(frozen=True)
class VisibleScore:
    """One result as a candidate may see it."""

    course_code: str
    course_name: str
    course_kind: str
    credits: int | Decimal
    sitting: str | None
    value: int | None
    grade: str
    method: str
    status: str
    passed: bool


@dataclass(frozen=True)
class PassedCourseRow:
    """The best valid pass of one course, with how it was obtained."""

    course_code: str
    course_name: str
    course_kind: str
    credits: int | Decimal
    sitting: str | None
    value: int | None
    grade: str
    method: str


@dataclass(frozen=True)
class SittingRelease:
    label: str
    released: bool
    release_at: datetime | None


def sitting_release(sitting: Sitting, *, at: datetime | None = None) -> SittingRelease:
    """Whether a sitting's scores are visible now (or at `at`), and from when."""
    instant = at or clock.now()
    release_at = sitting.effective_release_at
    return SittingRelease(sitting.label, release_at is not None and release_at <= instant, release_at)


def _visible_filter(instant: datetime) -> Q:
    released = Q(sitting__release_at__lte=instant) | Q(sitting__published_at__lte=instant)
    return Q(is_current=True) & ~Q(status=Score.Status.WITHHELD) & (Q(sitting__isnull=True) | released)


def candidate_visible_scores(
    candidate, *, sitting: Sitting | str | None = None, at: datetime | None = None
) -> list[VisibleScore]:
    """The scores `candidate` may see now: current versions, released sittings, nothing withheld.

    With `sitting`, only that sitting's exam scores (empty before its release). Ordered by
    sitting then course code; credit without a sitting comes last.
    """
    instant = at or clock.now()
    pass_mark = ProvincePolicy.current().pass_mark
    qs = Score.objects.filter(_visible_filter(instant), candidate=candidate)
    if sitting is not None:
        qs = qs.filter(sitting__label=sitting.label if isinstance(sitting, Sitting) else sitting)
    rows = qs.select_related("course", "sitting").order_by("sitting__label", "course__code")
    result = [
        VisibleScore(
            course_code=s.course.code,
            course_name=s.course.name,
            course_kind=s.course.kind,
            credits=normalize_credits(s.course.credits),
            sitting=s.sitting.label if s.sitting else None,
            value=s.value,
            grade=s.grade,
            method=s.method,
            status=s.status,
            passed=rules.is_pass(value=s.value, grade=s.grade, status=s.status, pass_mark=pass_mark),
        )
        for s in rows
    ]
    return sorted(result, key=lambda r: (r.sitting is None, r.sitting or "", r.course_code))


def candidate_passed_courses(candidate, *, at: datetime | None = None) -> list[PassedCourseRow]:
    """The best visible valid pass per course (highest result; the earliest sitting on a tie)."""
    best: dict[str, VisibleScore] = {}
    for score in candidate_visible_scores(candidate, at=at):
        if not score.passed:
            continue
        current = best.get(score.course_code)
        if current is None or rules.result_rank(value=score.value, grade=score.grade) > rules.result_rank(
            value=current.value, grade=current.grade
        ):
            best[score.course_code] = score
    return [
        PassedCourseRow(
            course_code=s.course_code,
            course_name=s.course_name,
            course_kind=s.course_kind,
            credits=s.credits,
            sitting=s.sitting,
            value=s.value,
            grade=s.grade,
            method=s.method,
        )
        for s in sorted(best.values(), key=lambda s: s.course_code)
    ]


def score_history(score: Score) -> list[Score]:
    """All versions of a result, oldest first (who, when, why each came to be)."""
    chain = [score]
    while chain[0].supersedes_id is not None:
        chain.insert(0, Score.objects.get(pk=chain[0].supersedes_id))
    current = score
    while True:
        nxt = Score.objects.filter(supersedes=current).first()
        if nxt is None:
            break
        chain.append(nxt)
        current = nxt
    return chain
