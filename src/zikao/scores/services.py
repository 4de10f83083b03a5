"""Writes of scores. A published score is never edited: `score_correct` supersedes it.

Corrections of published scores go through the four-eyes workflow below: one staff member
requests (`correction_request`, with reason and evidence), a second one approves
(`correction_approve`, which applies it through `score_correct`) or rejects; the requester may
withdraw. The old version always stays as history.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import IO

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from zikao.accounts.permissions import (
    Perm,
    PermissionDenied,
    has_perm,
    require_candidate_in_scope,
    require_perm,
)
from zikao.catalog.models import Course, Sitting
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.entries.models import Entry
from zikao.scores import rules
from zikao.scores.cache import candidate_scores_changed
from zikao.scores.models import Method, Score, ScoreCorrection
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


# --- corrections (four-eyes) ------------------------------------------------------------------

CORRECTION_TARGET_STATUSES = (Score.Status.VALID, Score.Status.ABSENT, Score.Status.VOID)


def _require_staff(actor: Actor, perm: str) -> None:
    if actor.kind != "staff":
        raise PermissionDenied(perm)
    require_perm(actor.user, perm)


def _correction_snapshot(c: ScoreCorrection) -> dict:
    return {
        "score": c.score_id,
        "new_value": c.new_value,
        "new_grade": c.new_grade,
        "new_status": c.new_status,
        "reason": c.reason,
        "evidence_note": c.evidence_note,
        "evidence_sha256": c.evidence_sha256,
        "status": c.status,
        "decision_note": c.decision_note,
        "result": c.result_id,
    }


def _not_open(correction: ScoreCorrection) -> DomainError:
    return DomainError(
        "CORRECTION_NOT_OPEN",
        _("该更正申请已处理（%(status)s），不能重复操作。") % {"status": correction.get_status_display()},
        {"correction": correction.pk, "status": correction.status},
    )


def _four_eyes(correction: ScoreCorrection) -> DomainError:
    return DomainError(
        "CORRECTION_FOUR_EYES",
        _("更正须由申请人以外的另一位工作人员审核。"),
        {"correction": correction.pk},
    )


def _read_evidence(upload) -> tuple[str, str]:
    """Validate an uploaded evidence file; return (extension, SHA-256 hex). Reads it once."""
    name = getattr(upload, "name", "") or ""
    size = getattr(upload, "size", None)
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    digest = hashlib.sha256()
    counted = 0
    chunks = upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(64 * 1024), b"")
    for chunk in chunks:
        digest.update(chunk)
        counted += len(chunk)
        if counted > rules.EVIDENCE_MAX_BYTES:
            break
    upload.seek(0)
    extension = rules.validate_evidence_file(name=name, size=counted if size is None else size, head=head)
    return extension, digest.hexdigest()


@transaction.atomic
def correction_request(
    *,
    actor: Actor,
    score: Score,
    new_value: int | None = None,
    new_grade: str = "",
    new_status: str = Score.Status.VALID,
    reason: str,
    evidence_note: str = "",
    evidence_file=None,
) -> ScoreCorrection:
    """Ask for a published score to be corrected; a second person decides (four-eyes).

    Staff only, with SCORES_CORRECT_REQUEST (PERMISSION_DENIED) and the candidate in scope
    (NOT_FOUND). Refuses CORRECTION_REASON_REQUIRED without a reason,
    CORRECTION_EVIDENCE_REQUIRED without an evidence note or file, CORRECTION_EVIDENCE_EMPTY /
    _TOO_LARGE / _TYPE for an unusable file (PDF, PNG or JPEG up to 10 MB),
    CORRECTION_STATUS_INVALID for a target status other than valid/absent/void, the result
    rules of `rules.validate_result` (SCORE_OUT_OF_RANGE, ...), SCORE_NOT_CURRENT for a version
    already superseded, CORRECTION_NOT_PUBLISHED before the sitting's release (the import and
    `score_record` path applies then), SCORE_CORRECTION_UNCHANGED when nothing would change, and
    CORRECTION_ALREADY_OPEN while another request on the score waits (a double submit requests
    once). The evidence file is stored under MEDIA_ROOT (never served directly) under a random
    name, with its SHA-256.
    """
    _require_staff(actor, Perm.SCORES_CORRECT_REQUEST)
    reason = (reason or "").strip()
    evidence_note = (evidence_note or "").strip()
    if not reason:
        raise ValidationFailed("CORRECTION_REASON_REQUIRED", _("请填写更正理由。"), {"reason": ""})
    if not evidence_note and not evidence_file:
        raise ValidationFailed(
            "CORRECTION_EVIDENCE_REQUIRED",
            _("请填写证明材料说明或上传证明材料文件。"),
            {"evidence_note": "", "evidence_file": None},
        )
    if new_status not in CORRECTION_TARGET_STATUSES:
        raise ValidationFailed(
            "CORRECTION_STATUS_INVALID", _("更正后的状态无效。"), {"new_status": new_status}
        )
    old = (
        Score.objects.select_for_update(of=("self",))
        .select_related("course", "sitting", "candidate")
        .get(pk=score.pk)
    )
    require_candidate_in_scope(actor.user, old.candidate)
    rules.validate_result(course_kind=old.course.kind, value=new_value, grade=new_grade, status=new_status)
    if not old.is_current:
        raise DomainError("SCORE_NOT_CURRENT", _("该成绩已被更正，请更正最新版本。"), {"score": old.pk})
    if old.sitting is not None and not sitting_release(old.sitting).released:
        raise DomainError(
            "CORRECTION_NOT_PUBLISHED",
            _("该成绩尚未发布，发布前请通过成绩导入修改。"),
            {"score": old.pk, "sitting": old.sitting.label},
        )
    if (old.value, old.grade, old.status) == (new_value, new_grade, new_status):
        raise DomainError("SCORE_CORRECTION_UNCHANGED", _("更正后的成绩与原成绩相同。"), {})
    if ScoreCorrection.objects.filter(score=old, status=ScoreCorrection.Status.REQUESTED).exists():
        raise DomainError("CORRECTION_ALREADY_OPEN", _("该成绩已有待审核的更正申请。"), {"score": old.pk})
    extension = digest = ""
    if evidence_file:
        extension, digest = _read_evidence(evidence_file)
    correction = ScoreCorrection(
        score=old,
        new_value=new_value,
        new_grade=new_grade,
        new_status=new_status,
        reason=reason,
        evidence_note=evidence_note,
        evidence_sha256=digest,
        requested_at=clock.now(),
        requested_by=actor.user,
    )
    stored = None
    try:
        if evidence_file:
            # A random name: the uploader's file name may carry personal data.
            correction.evidence_file.save(f"{uuid.uuid4().hex}.{extension}", File(evidence_file), save=False)
            stored = correction.evidence_file.name
        with transaction.atomic():
            correction.save()
        audit_record(
            actor=actor,
            event_type="score.correction_requested",
            subject=correction,
            candidate=old.candidate,
            before={"value": old.value, "grade": old.grade, "status": old.status},
            after=_correction_snapshot(correction),
        )
    except IntegrityError:  # a concurrent request on the same score won
        if stored:
            correction.evidence_file.storage.delete(stored)
        raise DomainError(
            "CORRECTION_ALREADY_OPEN", _("该成绩已有待审核的更正申请。"), {"score": old.pk}
        ) from None
    except BaseException:
        if stored:
            correction.evidence_file.storage.delete(stored)
        raise
    return correction


def _lock_correction(actor: Actor, correction: ScoreCorrection) -> ScoreCorrection:
    locked = (
        ScoreCorrection.objects.select_for_update(of=("self",))
        .select_related("score__candidate", "score__course", "score__sitting")
        .get(pk=correction.pk)
    )
    require_candidate_in_scope(actor.user, locked.score.candidate)
    return locked


@transaction.atomic
def correction_approve(*, actor: Actor, correction: ScoreCorrection, note: str = "") -> ScoreCorrection:
    """Approve a correction request: the score is superseded through `score_correct` (the old
    version stays as history, `result` points at the new one) and the candidate sees the new
    value at once.

    Staff only, with SCORES_CORRECT_APPROVE (PERMISSION_DENIED) and the candidate in scope
    (NOT_FOUND). Refuses CORRECTION_NOT_OPEN once decided or withdrawn (approving twice makes
    one new version only), CORRECTION_FOUR_EYES when the approver requested it, and what
    `score_correct` refuses (SCORE_NOT_CURRENT when the score changed meanwhile).
    """
    _require_staff(actor, Perm.SCORES_CORRECT_APPROVE)
    locked = _lock_correction(actor, correction)
    if locked.status != ScoreCorrection.Status.REQUESTED:
        raise _not_open(locked)
    if locked.requested_by_id == actor.user.pk:
        raise _four_eyes(locked)
    before = _correction_snapshot(locked)
    new = score_correct(
        actor=actor,
        score=locked.score,
        value=locked.new_value,
        grade=locked.new_grade,
        status=locked.new_status,
        reason=locked.reason,
    )
    locked.status = ScoreCorrection.Status.APPROVED
    locked.decided_at = clock.now()
    locked.decided_by = actor.user
    locked.decision_note = (note or "").strip()
    locked.result = new
    locked.save(update_fields=["status", "decided_at", "decided_by", "decision_note", "result"])
    audit_record(
        actor=actor,
        event_type="score.correction_approved",
        subject=locked,
        candidate=locked.score.candidate,
        before=before,
        after={**_correction_snapshot(locked), "requested_by": locked.requested_by_id},
    )
    return locked


@transaction.atomic
def correction_reject(*, actor: Actor, correction: ScoreCorrection, note: str) -> ScoreCorrection:
    """Turn a correction request down; the score stays as it is.

    Staff only, with SCORES_CORRECT_APPROVE (PERMISSION_DENIED) and the candidate in scope
    (NOT_FOUND). Refuses CORRECTION_NOTE_REQUIRED without a note, CORRECTION_NOT_OPEN once
    decided, CORRECTION_FOUR_EYES for the requester (who withdraws instead).
    """
    _require_staff(actor, Perm.SCORES_CORRECT_APPROVE)
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("CORRECTION_NOTE_REQUIRED", _("驳回须说明理由。"), {"note": ""})
    locked = _lock_correction(actor, correction)
    if locked.status != ScoreCorrection.Status.REQUESTED:
        raise _not_open(locked)
    if locked.requested_by_id == actor.user.pk:
        raise _four_eyes(locked)
    before = _correction_snapshot(locked)
    locked.status = ScoreCorrection.Status.REJECTED
    locked.decided_at = clock.now()
    locked.decided_by = actor.user
    locked.decision_note = note
    locked.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    audit_record(
        actor=actor,
        event_type="score.correction_rejected",
        subject=locked,
        candidate=locked.score.candidate,
        before=before,
        after=_correction_snapshot(locked),
    )
    return locked


@transaction.atomic
def correction_withdraw(*, actor: Actor, correction: ScoreCorrection, note: str = "") -> ScoreCorrection:
    """The requester takes their own open request back; the score stays as it is.

    Staff only, with SCORES_CORRECT_REQUEST (PERMISSION_DENIED) and the candidate in scope
    (NOT_FOUND). Refuses CORRECTION_NOT_REQUESTER for anyone but the requester and
    CORRECTION_NOT_OPEN once decided. `decided_by` stays empty (it names a second person only).
    """
    _require_staff(actor, Perm.SCORES_CORRECT_REQUEST)
    locked = _lock_correction(actor, correction)
    if locked.status != ScoreCorrection.Status.REQUESTED:
        raise _not_open(locked)
    if locked.requested_by_id != actor.user.pk:
        raise DomainError(
            "CORRECTION_NOT_REQUESTER", _("只有申请人可以撤回更正申请。"), {"correction": locked.pk}
        )
    before = _correction_snapshot(locked)
    locked.status = ScoreCorrection.Status.WITHDRAWN
    locked.decided_at = clock.now()
    locked.decision_note = (note or "").strip()
    locked.save(update_fields=["status", "decided_at", "decision_note"])
    audit_record(
        actor=actor,
        event_type="score.correction_withdrawn",
        subject=locked,
        candidate=locked.score.candidate,
        before=before,
        after=_correction_snapshot(locked),
    )
    return locked


@transaction.atomic
def correction_evidence_open(*, actor: Actor, correction: ScoreCorrection) -> tuple[IO[bytes], str]:
    """Open a correction's evidence file for a staff member; returns (file, download name).

    Staff only, with SCORES_CORRECT_REQUEST or SCORES_CORRECT_APPROVE (PERMISSION_DENIED) and
    the candidate in scope (NOT_FOUND, also when there is no file). Every opening is an audit
    event (`score.correction_evidence_viewed`). Refuses CORRECTION_EVIDENCE_CORRUPT when the
    stored file no longer has the SHA-256 recorded at upload.
    """
    if actor.kind != "staff" or not (
        has_perm(actor.user, Perm.SCORES_CORRECT_APPROVE) or has_perm(actor.user, Perm.SCORES_CORRECT_REQUEST)
    ):
        raise PermissionDenied(Perm.SCORES_CORRECT_APPROVE)
    found = ScoreCorrection.objects.select_related("score__candidate").get(pk=correction.pk)
    require_candidate_in_scope(actor.user, found.score.candidate)
    if not found.evidence_file:
        raise NotFound()
    storage = found.evidence_file.storage
    if not storage.exists(found.evidence_file.name):
        raise NotFound()
    digest = hashlib.sha256()
    with storage.open(found.evidence_file.name, "rb") as stored:
        for chunk in iter(lambda: stored.read(64 * 1024), b""):
            digest.update(chunk)
    if digest.hexdigest() != found.evidence_sha256:
        raise DomainError(
            "CORRECTION_EVIDENCE_CORRUPT",
            _("证明材料文件与上传时的校验值不一致，请联系系统管理员。"),
            {"correction": found.pk},
        )
    audit_record(
        actor=actor,
        event_type="score.correction_evidence_viewed",
        subject=found,
        candidate=found.score.candidate,
        after={"evidence_sha256": found.evidence_sha256},
    )
    extension = found.evidence_file.name.rsplit(".", 1)[-1]
    return storage.open(found.evidence_file.name, "rb"), f"correction-{found.pk}-evidence.{extension}"
