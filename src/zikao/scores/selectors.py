"""The one read path for candidate-visible scores, and the office's reads of publication.

Every channel (portal pages, API, PDFs, exports, notifications) reads scores through these
functions; nothing else decides whether a score may be seen. A sitting's exam scores are
visible from its effective release instant (`Sitting.effective_release_at`, compared with
`core.clock.now()`, the instant itself included); withheld scores are never visible, whether
withheld one by one (`Score.Status.WITHHELD`) or as a candidate's whole sitting (an active
`ScoreWithholding`); superseded versions are history. Credit without a sitting (exemption,
transfer) is an office decision and visible once recorded.

The office reads below (sittings' publication state, withholdings, the preview "as of", a
candidate's scores for staff, corrections) take the staff user and apply their scope: an
out-of-scope candidate raises the same `NotFound` as a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q

from zikao.catalog.models import ProvincePolicy, Sitting
from zikao.catalog.planfile import normalize_credits
from zikao.core import clock
from zikao.scores import rules
from zikao.scores.models import Score, ScoreWithholding


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


def _withholding_active_q(instant: datetime) -> Q:
    """Withholdings in force at `instant`: not released, or released only after it.

    The creation time is deliberately not consulted: a withholding hides its scores for every
    instant before its release (a preview of the past errs on the side of hiding), so nothing
    depends on the clocks of the staff who created it.
    """
    return Q(released_at__isnull=True) | Q(released_at__gt=instant)


def _visible_filter(instant: datetime) -> Q:
    released = Q(sitting__release_at__lte=instant) | Q(sitting__published_at__lte=instant)
    withheld = Q(
        Exists(
            ScoreWithholding.objects.filter(
                _withholding_active_q(instant),
                candidate_id=OuterRef("candidate_id"),
                sitting_id=OuterRef("sitting_id"),
            )
        )
    )
    return (
        Q(is_current=True)
        & ~Q(status=Score.Status.WITHHELD)
        & (Q(sitting__isnull=True) | (released & ~withheld))
    )


def candidate_withheld_sittings(candidate, *, at: datetime | None = None) -> set[str]:
    """Labels of the candidate's sittings withheld as a whole at `at` (default now).

    For a page that wants to say "暂缓发布" instead of showing an empty released sitting; the
    scores themselves are already left out by `candidate_visible_scores`.
    """
    instant = at or clock.now()
    return set(
        ScoreWithholding.objects.filter(_withholding_active_q(instant), candidate=candidate).values_list(
            "sitting__label", flat=True
        )
    )


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


# --- office reads: publication, withholding, preview, corrections ------------------------------


def _privileged(user) -> bool:
    """Province score staff, who handle scores before publication (import, publish, correct)."""
    from zikao.accounts.permissions import Perm, has_perm

    return any(
        has_perm(user, perm)
        for perm in (
            Perm.SCORES_IMPORT,
            Perm.SCORES_PUBLISH,
            Perm.SCORES_WITHHOLD,
            Perm.SCORES_CORRECT_REQUEST,
            Perm.SCORES_CORRECT_APPROVE,
        )
    )


def sitting_get(label: str) -> Sitting:
    """The sitting with this label; NotFound for an unknown or malformed label."""
    sitting = Sitting.objects.filter(label=label).first() if isinstance(label, str) else None
    if sitting is None:
        from zikao.core.errors import NotFound

        raise NotFound()
    return sitting


@dataclass(frozen=True)
class SittingPublicationRow:
    """One sitting as the publication list shows it."""

    sitting: Sitting
    state: str  # rules.RELEASE_*
    effective_release_at: datetime | None
    seconds_to_release: int | None
    active_withholdings: int


def sittings_publication_overview(*, at: datetime | None = None) -> list[SittingPublicationRow]:
    """Every sitting, newest first, with its release state at `at` (default now) and how many
    candidates are withheld in it (an aggregate: no candidate is named)."""
    instant = at or clock.now()
    counts = dict(
        ScoreWithholding.objects.filter(_withholding_active_q(instant))
        .values("sitting_id")
        .annotate(n=Count("id"))
        .values_list("sitting_id", "n")
    )
    rows = []
    for sitting in Sitting.objects.order_by("-label"):
        effective = sitting.effective_release_at
        rows.append(
            SittingPublicationRow(
                sitting=sitting,
                state=rules.release_state(
                    release_at=sitting.release_at, published_at=sitting.published_at, now=instant
                ),
                effective_release_at=effective,
                seconds_to_release=rules.seconds_until(effective, now=instant),
                active_withholdings=counts.get(sitting.pk, 0),
            )
        )
    return rows


@dataclass(frozen=True)
class SittingPublication:
    """A sitting's publication page: state, counts, and the withholdings in the user's scope."""

    sitting: Sitting
    state: str
    effective_release_at: datetime | None
    seconds_to_release: int | None
    current_scores: int
    candidates: int
    active_withholdings: list[ScoreWithholding]
    released_withholdings: list[ScoreWithholding]


def sitting_publication(user, sitting: Sitting, *, at: datetime | None = None) -> SittingPublication:
    """The publication state of `sitting` at `at` (default now) for the staff `user`.

    Withholdings are listed only for candidates in the user's scope; counts are of the whole
    sitting (current exam scores, distinct candidates holding one).
    """
    from zikao.accounts.permissions import office_scope_q

    instant = at or clock.now()
    effective = sitting.effective_release_at
    scores = Score.objects.filter(sitting=sitting, is_current=True)
    withholdings = (
        ScoreWithholding.objects.filter(sitting=sitting)
        .filter(office_scope_q(user, "candidate__county_office"))
        .select_related("candidate", "created_by", "released_by")
        .order_by("-created_at", "-id")
    )
    active: list[ScoreWithholding] = []
    released: list[ScoreWithholding] = []
    for w in withholdings:
        (released if w.released_at is not None and w.released_at <= instant else active).append(w)
    return SittingPublication(
        sitting=sitting,
        state=rules.release_state(
            release_at=sitting.release_at, published_at=sitting.published_at, now=instant
        ),
        effective_release_at=effective,
        seconds_to_release=rules.seconds_until(effective, now=instant),
        current_scores=scores.count(),
        candidates=scores.values("candidate_id").distinct().count(),
        active_withholdings=active,
        released_withholdings=released,
    )


def withholding_get(user, pk) -> ScoreWithholding:
    """A withholding whose candidate is in the user's scope; NotFound otherwise (or missing)."""
    from zikao.accounts.permissions import office_scope_q
    from zikao.core.errors import NotFound

    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    found = (
        ScoreWithholding.objects.filter(pk=key)
        .filter(office_scope_q(user, "candidate__county_office"))
        .select_related("candidate", "sitting", "created_by", "released_by")
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def staff_candidate_get(user, candidate_no: str):
    """The open record with this number if it lies in the user's scope; NotFound otherwise."""
    from zikao.accounts.permissions import require_candidate_in_scope
    from zikao.candidates.selectors import candidate_get

    candidate = candidate_get((candidate_no or "").strip())
    require_candidate_in_scope(user, candidate)
    return candidate


@dataclass(frozen=True)
class PreviewSitting:
    label: str
    release_at: datetime | None
    released: bool
    withheld: bool


@dataclass(frozen=True)
class ScorePreview:
    """What one candidate would see at `at`: computed by the one read path, never cached."""

    at: datetime
    sittings: list[PreviewSitting]  # newest first
    scores: list[VisibleScore]
    passed: list[PassedCourseRow]


def candidate_score_preview(user, candidate, *, at: datetime) -> ScorePreview:
    """预览: the candidate's score view as it would be at `at`, for staff (scope-checked).

    Reads through `candidate_visible_scores(at=...)` and `candidate_passed_courses(at=...)`
    only: it never reads or writes the release-hour cache, so a preview of a future instant
    cannot put anything into what the candidate is served. Withholdings are taken as they
    stand now (a withholding not yet released hides its scores at every instant).
    """
    from zikao.accounts.permissions import require_candidate_in_scope
    from zikao.entries.models import Entry

    require_candidate_in_scope(user, candidate)
    scores = candidate_visible_scores(candidate, at=at)
    withheld = candidate_withheld_sittings(candidate, at=at)
    sitting_ids = set(
        Entry.objects.filter(candidate=candidate)
        .exclude(status=Entry.Status.CANCELLED)
        .values_list("sitting_id", flat=True)
    ) | set(
        Score.objects.filter(candidate=candidate, sitting__isnull=False, is_current=True).values_list(
            "sitting_id", flat=True
        )
    )
    sittings = []
    for sitting in Sitting.objects.filter(pk__in=sitting_ids).order_by("-label"):
        release = sitting_release(sitting, at=at)
        sittings.append(
            PreviewSitting(sitting.label, release.release_at, release.released, sitting.label in withheld)
        )
    return ScorePreview(
        at=at, sittings=sittings, scores=scores, passed=candidate_passed_courses(candidate, at=at)
    )


@dataclass(frozen=True)
class StaffScoreRow:
    """One current result as staff see it in a candidate's score list."""

    score: Score
    released: bool  # the candidate's sitting is released (always True for credit without sitting)
    withheld: bool  # withheld one by one or as part of a withheld sitting
    value_shown: bool  # False: the result is hidden from this staff user (not public yet)
    open_correction_id: int | None

    @property
    def visible_to_candidate(self) -> bool:
        return self.released and not self.withheld


def staff_candidate_scores(user, candidate, *, at: datetime | None = None) -> list[StaffScoreRow]:
    """The candidate's current results for staff, by sitting then course (credit last).

    Province score staff (import, publish, withhold, correct) see every result; other staff see
    a result's value only once the candidate can see it, so an unreleased sitting does not leak
    through a county office's screen either. NotFound when the candidate is out of scope.
    """
    from zikao.accounts.permissions import require_candidate_in_scope
    from zikao.scores.models import ScoreCorrection

    require_candidate_in_scope(user, candidate)
    instant = at or clock.now()
    privileged = _privileged(user)
    withheld_sittings = candidate_withheld_sittings(candidate, at=instant)
    open_corrections = dict(
        ScoreCorrection.objects.filter(
            score__candidate=candidate, status=ScoreCorrection.Status.REQUESTED
        ).values_list("score_id", "pk")
    )
    rows = []
    scores = (
        Score.objects.filter(candidate=candidate, is_current=True)
        .select_related("course", "sitting")
        .order_by("sitting__label", "course__code")
    )
    for score in scores:
        released = score.sitting is None or sitting_release(score.sitting, at=instant).released
        withheld = score.status == Score.Status.WITHHELD or (
            score.sitting is not None and score.sitting.label in withheld_sittings
        )
        rows.append(
            StaffScoreRow(
                score=score,
                released=released,
                withheld=withheld,
                value_shown=privileged or (released and not withheld),
                open_correction_id=open_corrections.get(score.pk),
            )
        )
    return sorted(
        rows,
        key=lambda r: (
            r.score.sitting is None,
            r.score.sitting.label if r.score.sitting else "",
            r.score.course.code,
        ),
    )


def staff_score_get(user, pk) -> Score:
    """A score (any version) of a candidate in the user's scope; NotFound otherwise."""
    from zikao.accounts.permissions import office_scope_q
    from zikao.core.errors import NotFound

    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    found = (
        Score.objects.filter(pk=key)
        .filter(office_scope_q(user, "candidate__county_office"))
        .select_related("candidate", "course", "sitting", "created_by")
        .first()
    )
    if found is None:
        raise NotFound()
    return found


def score_value_shown(user, score: Score, *, at: datetime | None = None) -> bool:
    """Whether staff `user` may see this result's value now (see staff_candidate_scores)."""
    if _privileged(user):
        return True
    instant = at or clock.now()
    if score.status == Score.Status.WITHHELD:
        return False
    if score.sitting is None:
        return True
    if not sitting_release(score.sitting, at=instant).released:
        return False
    return score.sitting.label not in candidate_withheld_sittings(score.candidate, at=instant)


def _corrections_scoped(user):
    from zikao.accounts.permissions import office_scope_q
    from zikao.scores.models import ScoreCorrection

    return ScoreCorrection.objects.filter(
        office_scope_q(user, "score__candidate__county_office")
    ).select_related(
        "score__candidate", "score__course", "score__sitting", "requested_by", "decided_by", "result"
    )


def corrections_open(user) -> list:
    """Correction requests waiting for a second person, oldest first, in the user's scope."""
    from zikao.scores.models import ScoreCorrection

    return list(
        _corrections_scoped(user)
        .filter(status=ScoreCorrection.Status.REQUESTED)
        .order_by("requested_at", "id")
    )


def corrections_decided(user, *, limit: int = 50) -> list:
    """The latest decided (approved, rejected, withdrawn) requests in the user's scope."""
    from zikao.scores.models import ScoreCorrection

    return list(
        _corrections_scoped(user)
        .exclude(status=ScoreCorrection.Status.REQUESTED)
        .order_by("-decided_at", "-id")[:limit]
    )


def corrections_of_score(score: Score) -> list:
    """Every correction request made against any version of this result, newest first."""
    from zikao.scores.models import ScoreCorrection

    versions = [s.pk for s in score_history(score)]
    return list(
        ScoreCorrection.objects.filter(score_id__in=versions)
        .select_related("requested_by", "decided_by", "result")
        .order_by("-requested_at", "-id")
    )


def correction_get(user, pk):
    """A correction request of a candidate in the user's scope; NotFound otherwise."""
    from zikao.core.errors import NotFound

    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    found = _corrections_scoped(user).filter(pk=key).first()
    if found is None:
        raise NotFound()
    return found
