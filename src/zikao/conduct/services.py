"""Writes of violations: record, void the scores, appeal, decide, revoke.

Every service takes the acting staff user (`actor.user`), checks `Perm.CONDUCT_RECORD` and that
the candidate lies in the user's office scope (an out-of-scope candidate is `NotFound`, like a
missing one), runs in one transaction, writes one `violation.*` audit event plus a
`ViolationEvent` (the violation's own history) and never deletes anything.

Scores are voided and restored only through `scores.services.score_correct`: a void is a new
version with status `void` and a reason naming the violation; a restoration is a new version
with the pre-void result. `ViolationScore` remembers which version each violation voided, so a
revocation or reduction restores exactly those results, and a course that another standing
violation also voids stays void (the other violation takes it over).
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from zikao.accounts.permissions import Perm, PermissionDenied, require_candidate_in_scope, require_perm
from zikao.candidates.models import Candidate
from zikao.catalog.models import Course, Sitting
from zikao.conduct import rules
from zikao.conduct.models import Violation, ViolationAppeal, ViolationEvent, ViolationScore
from zikao.conduct.selectors import sitting_results
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.scores.cache import candidate_scores_changed
from zikao.scores.models import Score
from zikao.scores.services import score_correct

MAX_TEXT = 4000


def _require_staff(actor: Actor) -> None:
    if actor.kind != "staff" or actor.user is None:
        raise PermissionDenied(Perm.CONDUCT_RECORD)
    require_perm(actor.user, Perm.CONDUCT_RECORD)


def _text(value: str | None, field: str, code: str, message, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationFailed(code, message, {field: ""})
    if len(text) > MAX_TEXT:
        raise ValidationFailed("VIOLATION_TEXT_TOO_LONG", _("文字过长（最多4000字）。"), {field: len(text)})
    return text


def snapshot(v: Violation) -> dict:
    """The decision's state as stored in history and the audit trail."""
    return {
        "id": v.pk,
        "candidate_no": v.candidate.candidate_no,
        "sitting": v.sitting.label,
        "course": v.course.code if v.course is not None else None,
        "kind": v.kind,
        "penalty": v.penalty,
        "suspension": v.suspension,
        "suspension_years": v.suspension_years,
        "suspension_starts": v.suspension_starts.isoformat() if v.suspension_starts else None,
        "suspension_ends": v.suspension_ends.isoformat() if v.suspension_ends else None,
        "revoked": v.revoked_at is not None,
    }


def _stored_text(message) -> str:
    """Text stored in data (score correction reasons) is kept in the source language."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(message)


def _void_reason(v: Violation) -> str:
    return _stored_text(
        _("违规处理（编号%(id)s，%(kind)s）：%(penalty)s")
        % {"id": v.pk, "kind": v.get_kind_display(), "penalty": v.get_penalty_display()}
    )


def _restore_reason(v: Violation, why) -> str:
    return _stored_text(_("违规处理（编号%(id)s）%(why)s，恢复原成绩") % {"id": v.pk, "why": why})


def _event(v: Violation, actor: Actor, type_: str, *, note: str = "", before=None, after=None, appeal=None):
    return ViolationEvent.objects.create(
        violation=v,
        type=type_,
        at=clock.now(),
        actor=actor.user if actor.kind == "staff" else None,
        actor_label=actor.label[:100],
        note=note,
        appeal=appeal,
        before=before,
        after=after,
    )


def _lock_candidate(candidate) -> Candidate:
    """Lock the record so two officers cannot write conflicting decisions at once."""
    locked = (
        Candidate.objects.select_for_update().select_related("county_office").filter(pk=candidate.pk).first()
    )
    if locked is None:
        raise NotFound()
    return locked


def _lock_violation(actor: Actor, violation) -> Violation:
    """Permission, then the candidate lock, then the violation row fresh from the database."""
    _require_staff(actor)
    row = Violation.objects.filter(pk=getattr(violation, "pk", violation)).select_related("candidate").first()
    if row is None:
        raise NotFound()
    require_candidate_in_scope(actor.user, row.candidate)
    _lock_candidate(row.candidate)
    return (
        Violation.objects.select_for_update(of=("self",))
        .select_related("candidate", "candidate__county_office", "sitting", "course", "decided_by_office")
        .get(pk=row.pk)
    )


def _standing_others(v: Violation) -> list[Violation]:
    return list(
        Violation.objects.filter(
            candidate_id=v.candidate_id, sitting_id=v.sitting_id, revoked_at__isnull=True
        )
        .exclude(pk=v.pk)
        .order_by("decided_at", "pk")
    )


def _apply_voids(actor: Actor, v: Violation) -> list[ViolationScore]:
    """Void every current result in the violation's scope that exists and is not void yet."""
    qs = Score.objects.filter(
        candidate_id=v.candidate_id,
        sitting_id=v.sitting_id,
        is_current=True,
        status__in=rules.VOIDABLE_SCORE_STATUSES,
    ).select_related("course")
    if v.penalty == rules.VOID_COURSE:
        qs = qs.filter(course=v.course)
    links = []
    reason = _void_reason(v)
    for score in qs.order_by("course__code"):
        void = score_correct(
            actor=actor, score=score, value=None, grade="", status=Score.Status.VOID, reason=reason
        )
        links.append(
            ViolationScore.objects.create(
                violation=v,
                original=score,
                voided=void,
                voided_at=clock.now(),
                state=ViolationScore.State.HELD,
            )
        )
    return links


def _covers(v: Violation, course_id: int) -> bool:
    return rules.covers(v.penalty, str(v.course_id) if v.course_id else None, str(course_id))


def _release_voids(actor: Actor, v: Violation, links: list[ViolationScore], why) -> dict:
    """Stop `v` holding these voided results: restore each, or hand it to another standing
    violation that also voids that course, or leave it when the void version was corrected since.

    Call after `v` itself is revoked or reduced (so it no longer counts as covering them).
    Returns course codes by outcome for the history.
    """
    others = _standing_others(v)
    outcome: dict[str, list[str]] = {"restored": [], "handed_over": [], "superseded": []}
    now = clock.now()
    for link in links:
        voided = Score.objects.select_related("course").get(pk=link.voided_id)
        code = voided.course.code
        if not voided.is_current:
            link.state, link.released_at = ViolationScore.State.SUPERSEDED, now
            link.save(update_fields=["state", "released_at"])
            outcome["superseded"].append(code)
            continue
        holder = next((o for o in others if _covers(o, voided.course_id)), None)
        if holder is not None:
            link.state, link.released_at = ViolationScore.State.HANDED_OVER, now
            link.save(update_fields=["state", "released_at"])
            ViolationScore.objects.create(
                violation=holder,
                original_id=link.original_id,
                voided=voided,
                voided_at=link.voided_at,
                state=ViolationScore.State.HELD,
            )
            outcome["handed_over"].append(code)
            continue
        original = Score.objects.get(pk=link.original_id)
        restored = score_correct(
            actor=actor,
            score=voided,
            value=original.value,
            grade=original.grade,
            status=original.status,
            reason=_restore_reason(v, why),
        )
        link.state, link.released_at, link.restored = ViolationScore.State.RESTORED, now, restored
        link.save(update_fields=["state", "released_at", "restored"])
        outcome["restored"].append(code)
    return outcome


def _check_not_duplicate(candidate, sitting, course: Course | None, *, exclude: int | None = None) -> None:
    qs = Violation.objects.filter(candidate=candidate, sitting=sitting, revoked_at__isnull=True)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    qs = qs.filter(course__isnull=True) if course is None else qs.filter(course=course)
    existing = qs.first()
    if existing is not None:
        raise DomainError(
            "VIOLATION_DUPLICATE",
            _("该考生本考次的同一科目（或当次全部科目）已有有效的违规处理。"),
            {"violation": existing.pk},
        )


@transaction.atomic
def violation_record(
    *,
    actor: Actor,
    candidate: Candidate,
    sitting: Sitting,
    course: Course | None,
    kind: str,
    penalty: str | None = None,
    suspension_years: int | None = None,
    description: str,
    evidence_note: str = "",
) -> Violation:
    """Record a violation and apply its penalty at once: void the affected current results and
    (for serious kinds) suspend the candidate from the sitting's first day for 1–3 years.

    Refuses: PERMISSION_DENIED; NOT_FOUND (candidate outside the actor's scope, or merged);
    VIOLATION_KIND_INVALID, VIOLATION_PENALTY_MISMATCH, VIOLATION_COURSE_REQUIRED,
    VIOLATION_COURSE_NOT_APPLICABLE, VIOLATION_SUSPENSION_NOT_ALLOWED,
    VIOLATION_SUSPENSION_YEARS_INVALID (rules.decide_penalty); VIOLATION_DESCRIPTION_REQUIRED;
    VIOLATION_TEXT_TOO_LONG; VIOLATION_SITTING_NOT_HELD (the sitting has not begun);
    VIOLATION_NOT_ENTERED (no entry or result in that course / that sitting);
    VIOLATION_DUPLICATE (a standing violation for the same course, or the whole sitting).
    """
    _require_staff(actor)
    if candidate is None or candidate.status == Candidate.Status.MERGED:
        raise NotFound()
    require_candidate_in_scope(actor.user, candidate)
    candidate = _lock_candidate(candidate)
    decision = rules.decide_penalty(
        kind, penalty=penalty, suspension_years=suspension_years, has_course=course is not None
    )
    description = _text(description, "description", "VIOLATION_DESCRIPTION_REQUIRED", _("请填写违规事实。"))
    evidence_note = _text(evidence_note, "evidence_note", "", "", required=False)
    if sitting is None or clock.today() < sitting.first_day:
        raise DomainError(
            "VIOLATION_SITTING_NOT_HELD",
            _("该考次尚未开考，不能认定违规。"),
            {"sitting": sitting.label if sitting else None},
        )
    results = sitting_results(candidate, sitting)
    if course is not None and all(r.course_id != course.pk for r in results):
        raise DomainError(
            "VIOLATION_NOT_ENTERED",
            _("该考生本考次未报考该课程，也没有该课程的成绩。"),
            {"course": course.code, "sitting": sitting.label},
        )
    if course is None and not results:
        raise DomainError(
            "VIOLATION_NOT_ENTERED", _("该考生本考次没有报考任何课程。"), {"sitting": sitting.label}
        )
    _check_not_duplicate(candidate, sitting, course)
    starts = ends = None
    if decision.suspension_years is not None:
        starts, ends = rules.suspension_dates(sitting.first_day, decision.suspension_years)
    try:
        with transaction.atomic():
            v = Violation.objects.create(
                candidate=candidate,
                sitting=sitting,
                course=course,
                kind=decision.kind,
                penalty=decision.penalty,
                suspension=decision.suspension,
                suspension_years=decision.suspension_years,
                suspension_starts=starts,
                suspension_ends=ends,
                description=description,
                evidence_note=evidence_note,
                decided_at=clock.now(),
                decided_by=actor.user,
                decided_by_office=actor.user.office,
            )
    except IntegrityError:  # a concurrent decision won the race (the lock makes this rare)
        raise DomainError(
            "VIOLATION_DUPLICATE", _("该考生本考次的同一科目（或当次全部科目）已有有效的违规处理。"), {}
        ) from None
    links = _apply_voids(actor, v)
    after = {**snapshot(v), "voided_scores": [link.voided_id for link in links]}
    _event(v, actor, ViolationEvent.Type.RECORDED, note=description, after=after)
    audit_record(actor=actor, event_type="violation.recorded", subject=v, candidate=candidate, after=after)
    candidate_scores_changed(candidate.pk)
    return v


@transaction.atomic
def violation_apply(*, actor: Actor, violation: Violation) -> list[ViolationScore]:
    """Void results in a standing violation's scope that arrived after the decision (e.g. a
    score file imported later). Refuses VIOLATION_REVOKED, VIOLATION_NOTHING_TO_VOID."""
    v = _lock_violation(actor, violation)
    if v.revoked_at is not None:
        raise DomainError("VIOLATION_REVOKED", _("该违规处理已撤销。"), {"violation": v.pk})
    links = _apply_voids(actor, v)
    if not links:
        raise DomainError("VIOLATION_NOTHING_TO_VOID", _("没有需要补充作废的成绩。"), {"violation": v.pk})
    after = {"voided_scores": [link.voided_id for link in links]}
    _event(v, actor, ViolationEvent.Type.SCORES_VOIDED, after=after)
    audit_record(
        actor=actor, event_type="violation.scores_voided", subject=v, candidate=v.candidate, after=after
    )
    return links


@transaction.atomic
def violation_appeal_lodge(
    *,
    actor: Actor,
    violation: Violation,
    submitted_on: date,
    grounds: str,
    decision_received_on: date | None = None,
) -> ViolationAppeal:
    """Register the candidate's appeal (复核申请) against a standing violation.

    `decision_received_on` (default: the decision date) starts the 15-day window.
    Refuses: VIOLATION_REVOKED; VIOLATION_APPEAL_EXISTS (one review per decision);
    VIOLATION_APPEAL_GROUNDS_REQUIRED; VIOLATION_APPEAL_DATE_INVALID; VIOLATION_APPEAL_LATE.
    While the appeal is open the penalty stays in force.
    """
    v = _lock_violation(actor, violation)
    if v.revoked_at is not None:
        raise DomainError("VIOLATION_REVOKED", _("该违规处理已撤销。"), {"violation": v.pk})
    if ViolationAppeal.objects.filter(violation=v).exists():
        raise DomainError(
            "VIOLATION_APPEAL_EXISTS", _("该处理已提出过复核申请，不能重复申请。"), {"violation": v.pk}
        )
    grounds = _text(grounds, "grounds", "VIOLATION_APPEAL_GROUNDS_REQUIRED", _("请填写复核申请理由。"))
    decided_on = timezone.localdate(v.decided_at)
    received_on = decision_received_on or decided_on
    rules.check_appeal_dates(
        decided_on=decided_on, received_on=received_on, submitted_on=submitted_on, today=clock.today()
    )
    appeal = ViolationAppeal.objects.create(
        violation=v,
        decision_received_on=received_on,
        submitted_on=submitted_on,
        grounds=grounds,
        lodged_at=clock.now(),
        lodged_by=actor.user,
    )
    after = {
        "appeal": appeal.pk,
        "decision_received_on": received_on.isoformat(),
        "submitted_on": submitted_on.isoformat(),
    }
    _event(v, actor, ViolationEvent.Type.APPEAL_LODGED, note=grounds, after=after, appeal=appeal)
    audit_record(
        actor=actor, event_type="violation.appeal_lodged", subject=v, candidate=v.candidate, after=after
    )
    return appeal


def _revoke(actor: Actor, v: Violation, reason: str, why) -> dict:
    before = snapshot(v)
    v.revoked_at = clock.now()
    v.revoked_by = actor.user
    v.revocation_reason = reason
    v.save(update_fields=["revoked_at", "revoked_by", "revocation_reason"])
    links = list(ViolationScore.objects.filter(violation=v, state=ViolationScore.State.HELD).order_by("pk"))
    outcome = _release_voids(actor, v, links, why)
    candidate_scores_changed(v.candidate_id)
    return {"before": before, "after": {**snapshot(v), **outcome}}


@transaction.atomic
def violation_revoke(*, actor: Actor, violation: Violation, reason: str) -> Violation:
    """Revoke a decision (the office corrects its own error): the row stays with the reason,
    the suspension stops counting, every result it voided is restored as a new version.

    Refuses: VIOLATION_REVOKED (already); VIOLATION_APPEAL_OPEN (decide the appeal instead);
    VIOLATION_REASON_REQUIRED.
    """
    v = _lock_violation(actor, violation)
    if v.revoked_at is not None:
        raise DomainError("VIOLATION_REVOKED", _("该违规处理已撤销。"), {"violation": v.pk})
    if ViolationAppeal.objects.filter(violation=v, status=ViolationAppeal.Status.OPEN).exists():
        raise DomainError(
            "VIOLATION_APPEAL_OPEN", _("该处理正在复核中，请通过复核决定撤销。"), {"violation": v.pk}
        )
    reason = _text(reason, "reason", "VIOLATION_REASON_REQUIRED", _("请填写撤销理由。"))
    change = _revoke(actor, v, reason, _("已撤销"))
    _event(v, actor, ViolationEvent.Type.REVOKED, note=reason, **change)
    audit_record(actor=actor, event_type="violation.revoked", subject=v, candidate=v.candidate, **change)
    return v


@transaction.atomic
def violation_appeal_decide(
    *,
    actor: Actor,
    appeal: ViolationAppeal,
    outcome: str,
    note: str,
    kind: str | None = None,
    course: Course | None = None,
    suspension_years: int | None = None,
) -> ViolationAppeal:
    """Decide an open appeal: upheld (nothing changes), revoked (as `violation_revoke`), or
    reduced to a lighter `kind` / fewer `suspension_years` (and, from a whole-sitting penalty to
    a one-course one, the `course` that stays void: the other results are restored).

    Only an office above the deciding one may decide (county decision → city or province;
    city or province decision → province). Refuses: NOT_FOUND; VIOLATION_APPEAL_NOT_OPEN;
    VIOLATION_APPEAL_OUTCOME_INVALID; VIOLATION_APPEAL_LEVEL; VIOLATION_APPEAL_NOTE_REQUIRED;
    for a reduction the rules' codes plus VIOLATION_REDUCTION_NOT_LESS, VIOLATION_REDUCTION_SCOPE,
    VIOLATION_NOT_ENTERED, VIOLATION_DUPLICATE.
    """
    _require_staff(actor)
    row = ViolationAppeal.objects.filter(pk=getattr(appeal, "pk", appeal)).first()
    if row is None:
        raise NotFound()
    v = _lock_violation(actor, row.violation_id)
    appeal = ViolationAppeal.objects.select_for_update().get(pk=row.pk)
    if appeal.status != ViolationAppeal.Status.OPEN:
        raise DomainError("VIOLATION_APPEAL_NOT_OPEN", _("该复核申请已作出决定。"), {"appeal": appeal.pk})
    if outcome not in rules.APPEAL_OUTCOMES:
        raise ValidationFailed("VIOLATION_APPEAL_OUTCOME_INVALID", _("复核结论无效。"), {"outcome": outcome})
    deciding_level = v.decided_by_office.level if v.decided_by_office else None
    if not rules.may_review(deciding_office_level=deciding_level, reviewer_level=actor.user.office.level):
        raise DomainError(
            "VIOLATION_APPEAL_LEVEL",
            _("复核须由作出处理决定的考试机构的上一级机构决定。"),
            {"required_level": rules.appeal_reviewer_level(deciding_level)},
        )
    note = _text(note, "note", "VIOLATION_APPEAL_NOTE_REQUIRED", _("请填写复核意见。"))
    if outcome == rules.APPEAL_UPHELD:
        change: dict = {"before": snapshot(v), "after": snapshot(v)}
        event_type, status = ViolationEvent.Type.APPEAL_UPHELD, ViolationAppeal.Status.UPHELD
    elif outcome == rules.APPEAL_REVOKED:
        change = _revoke(actor, v, note, _("经复核撤销"))
        event_type, status = ViolationEvent.Type.APPEAL_REVOKED, ViolationAppeal.Status.REVOKED
    else:
        change = _reduce(actor, v, kind=kind, course=course, suspension_years=suspension_years)
        event_type, status = ViolationEvent.Type.APPEAL_REDUCED, ViolationAppeal.Status.REDUCED
    appeal.status = status
    appeal.decided_at = clock.now()
    appeal.decided_by = actor.user
    appeal.decision_note = note
    appeal.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    _event(v, actor, event_type, note=note, appeal=appeal, **change)
    audit_record(
        actor=actor,
        event_type="violation.appeal_decided",
        subject=v,
        candidate=v.candidate,
        before=change["before"],
        after={**change["after"], "appeal": appeal.pk, "outcome": outcome},
    )
    return appeal


def _reduce(
    actor: Actor, v: Violation, *, kind: str | None, course: Course | None, suspension_years: int | None
) -> dict:
    if not kind:
        raise ValidationFailed("VIOLATION_KIND_INVALID", _("请选择减轻后的违规情形。"), {"kind": ""})
    new = rules.decide_penalty(kind, suspension_years=suspension_years, has_course=course is not None)
    old = rules.Decision(v.kind, v.penalty, v.suspension, v.suspension_years)
    rules.check_reduction(
        old,
        new,
        old_course=str(v.course_id) if v.course_id else None,
        new_course=str(course.pk) if course is not None else None,
    )
    if course is not None and all(r.course_id != course.pk for r in sitting_results(v.candidate, v.sitting)):
        raise DomainError(
            "VIOLATION_NOT_ENTERED",
            _("该考生本考次未报考该课程，也没有该课程的成绩。"),
            {"course": course.code, "sitting": v.sitting.label},
        )
    if course is not None and course.pk != v.course_id:
        _check_not_duplicate(v.candidate, v.sitting, course, exclude=v.pk)
    before = snapshot(v)
    v.kind, v.penalty, v.course = new.kind, new.penalty, course
    v.suspension, v.suspension_years = new.suspension, new.suspension_years
    if new.suspension_years is not None:
        v.suspension_starts, v.suspension_ends = rules.suspension_dates(
            v.sitting.first_day, new.suspension_years
        )
    else:
        v.suspension_starts = v.suspension_ends = None
    v.save(
        update_fields=[
            "kind",
            "penalty",
            "course",
            "suspension",
            "suspension_years",
            "suspension_starts",
            "suspension_ends",
        ]
    )
    released: list[ViolationScore] = []
    if new.penalty == rules.VOID_COURSE and course is not None:
        released = list(
            ViolationScore.objects.filter(violation=v, state=ViolationScore.State.HELD)
            .exclude(voided__course=course)
            .order_by("pk")
        )
    outcome = _release_voids(actor, v, released, _("经复核减轻")) if released else {}
    candidate_scores_changed(v.candidate_id)
    return {"before": before, "after": {**snapshot(v), **outcome}}
