"""Reads of violations: suspensions for other apps, scoped lists and details for the office.

Other apps ask one question here: "is this candidate suspended for this activity today?"
(`suspension_blocks` / `active_suspension`): entries (报考), credits (转考) and graduation (毕业)
call it instead of reading `Violation` rows themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from zikao.accounts.permissions import Perm, office_scope_q, require_candidate_in_scope, require_perm
from zikao.candidates.models import Candidate
from zikao.catalog.models import Sitting
from zikao.conduct import rules
from zikao.conduct.models import Violation, ViolationAppeal, ViolationEvent, ViolationScore
from zikao.core import clock
from zikao.core.errors import NotFound
from zikao.entries.models import Entry
from zikao.scores.models import Score

# --- suspensions (for entries, credits, graduation) -------------------------------------------


def _period(v: Violation) -> rules.SuspensionPeriod:
    return rules.SuspensionPeriod(
        starts=v.suspension_starts,  # type: ignore[arg-type]
        ends=v.suspension_ends,  # type: ignore[arg-type]
        revoked_at=v.revoked_at,
        scope=v.suspension,
        violation_id=v.pk,
    )


def suspension_periods(violations: Iterable[Violation]) -> list[rules.SuspensionPeriod]:
    """The suspensions among `violations` (revoked ones included: the rules ignore them)."""
    return [_period(v) for v in violations if v.suspension and v.suspension_starts and v.suspension_ends]


def active_suspension(candidate, *, on: date | None = None) -> rules.SuspensionPeriod | None:
    """The suspension running for `candidate` on `on` (default today), the one ending last, or None.

    Revoked violations never suspend; a reduced one suspends for its reduced term.
    """
    rows = Violation.objects.filter(candidate=candidate, revoked_at__isnull=True).exclude(suspension="")
    return rules.suspension_running(suspension_periods(rows), on or clock.today())


# Kept for existing callers (candidates.selectors, API): same answer as active_suspension.
candidate_suspension = active_suspension


def suspension_blocks(
    candidate_or_violations, activity: str, *, on: date | None = None
) -> rules.SuspensionPeriod | None:
    """The suspension that blocks `activity` ("entry", "transfer", "graduation") on `on`, or None.

    Takes a Candidate (reads its violations) or an iterable of Violation rows already loaded.
    Activities a suspension does not block (reading scores, …) always get None.
    """
    day = on or clock.today()
    if activity not in rules.BLOCKED_BY_SUSPENSION:
        return None
    if isinstance(candidate_or_violations, Candidate):
        return rules.blocks(
            activity, [p for p in [active_suspension(candidate_or_violations, on=day)] if p], day
        )
    return rules.blocks(activity, suspension_periods(candidate_or_violations), day)


def candidate_violations(candidate) -> list[Violation]:
    """Every violation on the record, newest first, revoked ones included (they keep history)."""
    return list(
        Violation.objects.filter(candidate=candidate)
        .select_related("sitting", "course")
        .order_by("-decided_at")
    )


def violation_covering(candidate, sitting, course) -> Violation | None:
    """A standing violation that voids `course` of `sitting` for `candidate` (for score imports:
    a result arriving after the decision must be recorded void), or None."""
    return (
        Violation.objects.filter(candidate=candidate, sitting=sitting, revoked_at__isnull=True)
        .filter(Q(penalty=rules.VOID_SITTING) | Q(course=course))
        .order_by("decided_at", "pk")
        .first()
    )


# --- office reads ------------------------------------------------------------------------------

STATUS_ACTIVE = "active"
STATUS_APPEALING = "appealing"
STATUS_REVOKED = "revoked"
STATUS_REDUCED = "reduced"
STATUS_FILTERS = (STATUS_ACTIVE, STATUS_APPEALING, STATUS_REDUCED, STATUS_REVOKED)


def violations_for_staff(
    user,
    *,
    sitting: str = "",
    kind: str = "",
    status: str = "",
    candidate_no: str = "",
) -> QuerySet[Violation]:
    """Violations of candidates in the user's scope, newest first, filtered.

    `status`: active (not revoked), appealing (an open appeal), reduced (reduced on appeal),
    revoked. Unknown filter values match nothing rather than everything. Needs CONDUCT_VIEW.
    """
    require_perm(user, Perm.CONDUCT_VIEW)
    qs = (
        Violation.objects.filter(office_scope_q(user, "candidate__county_office"))
        .select_related("candidate", "sitting", "course")
        .annotate(
            appealing=Exists(
                ViolationAppeal.objects.filter(violation=OuterRef("pk"), status=ViolationAppeal.Status.OPEN)
            )
        )
        .order_by("-decided_at", "-pk")
    )
    if sitting:
        qs = qs.filter(sitting__label=sitting)
    if kind:
        qs = qs.filter(kind=kind) if kind in rules.KINDS else qs.none()
    if candidate_no:
        qs = qs.filter(candidate__candidate_no=candidate_no.strip())
    if status == STATUS_ACTIVE:
        qs = qs.filter(revoked_at__isnull=True)
    elif status == STATUS_REVOKED:
        qs = qs.filter(revoked_at__isnull=False)
    elif status == STATUS_APPEALING:
        qs = qs.filter(appealing=True)
    elif status == STATUS_REDUCED:
        qs = qs.filter(appeals__status=ViolationAppeal.Status.REDUCED)
    elif status:
        qs = qs.none()
    return qs


def violation_for_staff(user, pk) -> Violation:
    """One violation, if its candidate is in the user's scope; NotFound otherwise (also for a
    malformed id). Needs CONDUCT_VIEW."""
    require_perm(user, Perm.CONDUCT_VIEW)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < pk < 2**63:  # beyond a bigint: no such row (and no database overflow error)
        raise NotFound()
    violation = (
        Violation.objects.filter(pk=pk)
        .select_related(
            "candidate",
            "candidate__county_office",
            "sitting",
            "course",
            "decided_by",
            "decided_by_office",
            "revoked_by",
        )
        .first()
    )
    if violation is None:
        raise NotFound()
    require_candidate_in_scope(user, violation.candidate)
    return violation


@dataclass(frozen=True)
class VoidedScoreRow:
    link: ViolationScore
    original: Score
    voided: Score
    restored: Score | None
    current: Score | None  # the score's current version now


@dataclass(frozen=True)
class EventRow:
    event: ViolationEvent
    change: str  # "严重作弊，停考3年 → 作弊" when the decision changed, else ""
    restored: list[str]
    handed_over: list[str]
    superseded: list[str]


def _decision_text(state: dict) -> str:
    kind = (
        Violation.Kind(state["kind"]).label
        if state.get("kind") in Violation.Kind.values
        else state.get("kind")
    )
    parts = [str(kind)]
    if state.get("course"):
        parts.append(str(state["course"]))
    if state.get("suspension_years"):
        parts.append(str(_("停考%(years)s年") % {"years": state["suspension_years"]}))
    return str(_("，")).join(parts)


def event_rows(events: Iterable[ViolationEvent]) -> list[EventRow]:
    """History rows with the decision change spelled out in the user's language."""
    rows = []
    for e in events:
        before, after = e.before or {}, e.after or {}
        keys = ("kind", "course", "suspension_years")
        changed = before and after and any(before.get(k) != after.get(k) for k in keys)
        rows.append(
            EventRow(
                event=e,
                change=f"{_decision_text(before)} → {_decision_text(after)}" if changed else "",
                restored=list(after.get("restored", [])),
                handed_over=list(after.get("handed_over", [])),
                superseded=list(after.get("superseded", [])),
            )
        )
    return rows


@dataclass(frozen=True)
class ViolationDetail:
    violation: Violation
    events: list[EventRow]
    appeal: ViolationAppeal | None
    voided: list[VoidedScoreRow]
    pending: list[Score]  # results in the penalty's scope still not void (arrived later)
    suspension_running: bool
    reviewer_level: str


def _current_of(score: Score) -> Score | None:
    """The current version of the result `score` belongs to (same candidate, course, sitting)."""
    return Score.objects.filter(
        candidate_id=score.candidate_id,
        course_id=score.course_id,
        sitting=score.sitting,
        is_current=True,
    ).first()


def pending_scores(violation: Violation) -> list[Score]:
    """Current results in the violation's scope that are not void yet (e.g. imported after the
    decision): what `violation_apply` would void. Empty for a revoked violation."""
    if violation.revoked_at is not None:
        return []
    qs = Score.objects.filter(
        candidate_id=violation.candidate_id,
        sitting_id=violation.sitting_id,
        is_current=True,
        status__in=rules.VOIDABLE_SCORE_STATUSES,
    )
    if violation.penalty == rules.VOID_COURSE:
        qs = qs.filter(course=violation.course)
    return list(qs.select_related("course", "sitting").order_by("course__code"))


def violation_detail(user, pk) -> ViolationDetail:
    """Everything the detail page shows: history, appeal, voided scores (with what they were and
    what they are now), results still to void. NotFound out of scope. Needs CONDUCT_VIEW."""
    violation = violation_for_staff(user, pk)
    links = list(
        ViolationScore.objects.filter(violation=violation)
        .select_related("original", "voided", "restored", "voided__course")
        .order_by("voided__course__code", "pk")
    )
    rows = [
        VoidedScoreRow(
            link=link,
            original=link.original,
            voided=link.voided,
            restored=link.restored,
            current=_current_of(link.voided),
        )
        for link in links
    ]
    today = clock.today()
    running = bool(
        violation.revoked_at is None
        and violation.suspension
        and violation.suspension_starts
        and violation.suspension_ends
        and violation.suspension_starts <= today <= violation.suspension_ends
    )
    return ViolationDetail(
        violation=violation,
        events=event_rows(violation.events.order_by("at", "pk")),
        appeal=violation.appeals.select_related("lodged_by", "decided_by").first(),
        voided=rows,
        pending=pending_scores(violation),
        suspension_running=running,
        reviewer_level=rules.appeal_reviewer_level(
            violation.decided_by_office.level if violation.decided_by_office else None
        ),
    )


@dataclass(frozen=True)
class SittingResult:
    """One course a candidate entered (or has a result in) in a sitting, for the record form."""

    course_id: int
    course_code: str
    course_name: str
    entry_status: str  # "" when there is no entry (a result without one: history)
    score: Score | None


@dataclass(frozen=True)
class CandidateSitting:
    candidate: Candidate
    sitting: Sitting
    results: list[SittingResult]
    standing: list[Violation]  # standing violations of this sitting


def candidate_for_staff(user, candidate_no: str) -> Candidate:
    """The open record with this number if it is in the user's scope; NotFound otherwise."""
    number = (candidate_no or "").strip()
    candidate = (
        Candidate.objects.filter(candidate_no=number)
        .exclude(status=Candidate.Status.MERGED)
        .select_related("county_office")
        .first()
        if number
        else None
    )
    if candidate is None:
        raise NotFound()
    require_candidate_in_scope(user, candidate)
    return candidate


def candidate_sitting(user, candidate_no: str, sitting_label: str) -> CandidateSitting:
    """The candidate's entries and current results of one sitting (to choose the course of a
    violation). NotFound for an unknown / out-of-scope number or unknown sitting. Needs CONDUCT_RECORD."""
    require_perm(user, Perm.CONDUCT_RECORD)
    candidate = candidate_for_staff(user, candidate_no)
    sitting = Sitting.objects.filter(label=(sitting_label or "").strip()).first()
    if sitting is None:
        raise NotFound()
    return CandidateSitting(
        candidate=candidate,
        sitting=sitting,
        results=sitting_results(candidate, sitting),
        standing=list(
            Violation.objects.filter(
                candidate=candidate, sitting=sitting, revoked_at__isnull=True
            ).select_related("course")
        ),
    )


def sitting_results(candidate, sitting) -> list[SittingResult]:
    """Courses of `sitting` the candidate entered (not cancelled) or has a current result in."""
    entries = {
        e.course_id: e
        for e in Entry.objects.filter(candidate=candidate, sitting=sitting)
        .exclude(status=Entry.Status.CANCELLED)
        .select_related("course")
    }
    scores = {
        s.course_id: s
        for s in Score.objects.filter(candidate=candidate, sitting=sitting, is_current=True).select_related(
            "course"
        )
    }
    result = []
    for course_id in set(entries) | set(scores):
        course = (entries.get(course_id) or scores[course_id]).course
        entry = entries.get(course_id)
        result.append(
            SittingResult(
                course_id=course_id,
                course_code=course.code,
                course_name=course.name,
                entry_status=entry.status if entry else "",
                score=scores.get(course_id),
            )
        )
    return sorted(result, key=lambda r: r.course_code)


def sittings_for_choice() -> list[Sitting]:
    """Sittings that have begun (a violation can only happen in one), newest first."""
    return list(Sitting.objects.filter(first_day__lte=clock.today()).order_by("-label"))
