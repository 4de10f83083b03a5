"""Writes of scores. A published score is never edited: `score_correct` supersedes it."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from zikao.catalog.models import Course, Sitting
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, ValidationFailed
from zikao.entries.models import Entry
from zikao.scores import rules
from zikao.scores.cache import candidate_scores_changed
from zikao.scores.models import Method, Score
from zikao.scores.selectors import sitting_release


def _snapshot(score: Score) -> dict:
    return {
        "course": score.course.code,
        "sitting": score.sitting.label if score.sitting else None,
        "value": score.value,
        "grade": score.grade,
        "method": score.method,
        "status": score.status,
    }


@transaction.atomic
def score_record(
    *,
    actor: Actor,
    candidate,
    course: Course,
    sitting: Sitting | None,
    value: int | None = None,
    grade: str = "",
    status: str = Score.Status.VALID,
    method: str = Method.EXAM,
    source: str = "",
) -> Score:
    """Record a result.

    An exam result needs the candidate's entry for that course and sitting (SCORE_NOT_ENTERED)
    and may not be written once the sitting is released (SCORE_PUBLISHED: use score_correct).
    Recording the same result again changes nothing and returns the existing row; a different
    result for the same course and sitting before release is refused (SCORE_CONFLICT).
    Credit from elsewhere (exemption, transfer) has no sitting. Never the thesis by exemption.
    """
    rules.validate_result(course_kind=course.kind, value=value, grade=grade, status=status)
    if method not in Method.values:
        raise ValidationFailed("SCORE_METHOD_INVALID", _("取得方式无效。"), {"method": method})
    if method == Method.EXAM and sitting is None:
        raise ValidationFailed("SCORE_SITTING_REQUIRED", _("考试成绩须指定考次。"), {"sitting": None})
    if method == Method.EXEMPTION and course.kind == "thesis":
        raise DomainError("EXEMPTION_THESIS", _("毕业论文(设计)不能免考。"), {"course": course.code})
    entry = None
    if method == Method.EXAM:
        assert sitting is not None
        entry = (
            Entry.objects.filter(candidate=candidate, sitting=sitting, course=course)
            .exclude(status=Entry.Status.CANCELLED)
            .first()
        )
        if entry is None:
            raise DomainError(
                "SCORE_NOT_ENTERED",
                _("该考生未报考该课程。"),
                {"course": course.code, "sitting": sitting.label},
            )
        existing = Score.objects.filter(
            candidate=candidate, course=course, sitting=sitting, is_current=True
        ).first()
        if existing is not None:
            if (existing.value, existing.grade, existing.status) == (value, grade, status):
                return existing
            if sitting_release(sitting).released:
                raise DomainError(
                    "SCORE_PUBLISHED", _("成绩已发布，只能通过更正修改。"), {"course": course.code}
                )
            raise DomainError("SCORE_CONFLICT", _("该课程本考次已有不同的成绩。"), {"course": course.code})
    score = Score.objects.create(
        candidate=candidate,
        course=course,
        sitting=sitting,
        entry=entry,
        value=value,
        grade=grade,
        status=status,
        method=method,
        source=source,
        created_at=clock.now(),
        created_by=actor.user if actor.kind == "staff" else None,
    )
    audit_record(
        actor=actor, event_type="score.recorded", subject=score, candidate=candidate, after=_snapshot(score)
    )
    # Release-hour cache (scores.cache): the candidate's snapshot is stale once this commits.
    candidate_scores_changed(score.candidate_id)
    return score


@transaction.atomic
def score_correct(
    *,
    actor: Actor,
    score: Score,
    value: int | None = None,
    grade: str = "",
    status: str = Score.Status.VALID,
    reason: str,
) -> Score:
    """Supersede a score with a corrected version; the old one stays as history.

    Refuses SCORE_CORRECTION_REASON_REQUIRED without a reason, SCORE_NOT_CURRENT for a
    score already superseded, SCORE_CORRECTION_UNCHANGED when nothing would change.
    """
    if not reason or not reason.strip():
        raise ValidationFailed("SCORE_CORRECTION_REASON_REQUIRED", _("更正须说明理由。"), {"reason": ""})
    old = Score.objects.select_for_update(of=("self",)).select_related("course", "sitting").get(pk=score.pk)
    if not old.is_current:
        raise DomainError("SCORE_NOT_CURRENT", _("该成绩已被更正，请更正最新版本。"), {"score": old.pk})
    rules.validate_result(course_kind=old.course.kind, value=value, grade=grade, status=status)
    if (old.value, old.grade, old.status) == (value, grade, status):
        raise DomainError("SCORE_CORRECTION_UNCHANGED", _("更正后的成绩与原成绩相同。"), {})
    before = _snapshot(old)
    Score.objects.filter(pk=old.pk).update(is_current=False)
    new = Score.objects.create(
        candidate_id=old.candidate_id,
        course=old.course,
        sitting=old.sitting,
        entry_id=old.entry_id,
        value=value,
        grade=grade,
        status=status,
        method=old.method,
        source=old.source,
        supersedes=old,
        correction_reason=reason.strip(),
        created_at=clock.now(),
        created_by=actor.user if actor.kind == "staff" else None,
    )
    audit_record(
        actor=actor,
        event_type="score.corrected",
        subject=new,
        candidate=old.candidate,
        before=before,
        after={**_snapshot(new), "reason": new.correction_reason, "supersedes": old.pk},
    )
    # Release-hour cache (scores.cache): the candidate's snapshot is stale once this commits.
    candidate_scores_changed(new.candidate_id)
    return new
