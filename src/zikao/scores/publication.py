"""Writes of a sitting's score publication: release time, publish early, withholding, the
bookkeeping stamp of `release_due_sittings`.

Visibility itself is decided only by `scores.selectors` against `core.clock.now()`: a sitting's
scores appear at its release instant with no one pressing a button and nothing running. These
services change what that read path sees (`Sitting.release_at` / `published_at`,
`ScoreWithholding`), and each invalidates the release-hour cache (`scores.cache`) after commit,
so the change is seen by the very next request of every channel.

Staff actors need the permission (at province level, `PERM_MIN_LEVEL`) and, for a candidate,
the scope; the system actor (management commands, tasks) may publish and reschedule but cannot
withhold (a withholding names the staff member who decided it).
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zikao.accounts.permissions import Perm, PermissionDenied, require_candidate_in_scope, require_perm
from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, ValidationFailed
from zikao.entries.models import Entry
from zikao.scores.cache import candidate_scores_changed, releases_changed
from zikao.scores.models import Score, ScoreWithholding
from zikao.scores.selectors import sitting_release


def _require(actor: Actor, perm: str, *, system_allowed: bool) -> None:
    """Staff: the permission; system: only where allowed; anyone else: never."""
    if actor.kind == "staff":
        require_perm(actor.user, perm)
    elif not (system_allowed and actor.kind == "system"):
        raise PermissionDenied(perm)


def _snapshot(sitting: Sitting) -> dict:
    return {
        "release_at": sitting.release_at.isoformat() if sitting.release_at else None,
        "published_at": sitting.published_at.isoformat() if sitting.published_at else None,
    }


@transaction.atomic
def sitting_publish_early(*, actor: Actor, sitting: Sitting) -> Sitting:
    """Publish the sitting's scores now, before the scheduled release time.

    Needs SCORES_PUBLISH (staff) or the system actor (PERMISSION_DENIED otherwise). Refuses
    SITTING_ALREADY_RELEASED when its scores are already visible (so a double submit publishes
    once). Candidates withheld in the sitting stay hidden.
    """
    _require(actor, Perm.SCORES_PUBLISH, system_allowed=True)
    locked = Sitting.objects.select_for_update().get(pk=sitting.pk)
    if sitting_release(locked).released:
        raise DomainError("SITTING_ALREADY_RELEASED", _("该考次成绩已发布。"), {"sitting": locked.label})
    before = _snapshot(locked)
    locked.published_at = clock.now()
    locked.save(update_fields=["published_at"])
    audit_record(
        actor=actor,
        event_type="sitting.published_early",
        subject=locked,
        before=before,
        after=_snapshot(locked),
    )
    releases_changed()
    return locked


@transaction.atomic
def sitting_release_reschedule(*, actor: Actor, sitting: Sitting, release_at: datetime) -> Sitting:
    """Set or move the scheduled release time of a sitting not yet released.

    Needs SCORES_PUBLISH (staff) or the system actor (PERMISSION_DENIED otherwise). Refuses
    SITTING_RELEASE_INVALID for a naive time, SITTING_ALREADY_RELEASED (published scores are
    never taken back, and a release that happened cannot be moved) and SITTING_RELEASE_IN_PAST
    (a new time that is not in the future: use sitting_publish_early). Setting the time it
    already has changes nothing and writes no audit event (a double submit is harmless).
    """
    _require(actor, Perm.SCORES_PUBLISH, system_allowed=True)
    if not isinstance(release_at, datetime) or timezone.is_naive(release_at):
        raise ValidationFailed(
            "SITTING_RELEASE_INVALID", _("发布时间无效。"), {"release_at": str(release_at)}
        )
    locked = Sitting.objects.select_for_update().get(pk=sitting.pk)
    if sitting_release(locked).released:
        raise DomainError("SITTING_ALREADY_RELEASED", _("该考次成绩已发布。"), {"sitting": locked.label})
    if release_at <= clock.now():
        raise ValidationFailed(
            "SITTING_RELEASE_IN_PAST", _("发布时间须晚于当前时间。"), {"release_at": release_at.isoformat()}
        )
    if locked.release_at == release_at:
        return locked
    before = _snapshot(locked)
    locked.release_at = release_at
    locked.save(update_fields=["release_at"])
    audit_record(
        actor=actor,
        event_type="sitting.release_rescheduled",
        subject=locked,
        before=before,
        after=_snapshot(locked),
    )
    releases_changed()
    return locked


def release_due_sittings(*, actor: Actor | None = None) -> list[Sitting]:
    """Stamp `published_at` on every sitting whose release time has passed and that has none.

    Bookkeeping only: **visibility never depends on this running.** Every channel compares the
    release time with `clock.now()` on each read, so scores appear at the instant whether this
    runs every minute, an hour late, or never. The stamp records that the release happened (and
    is the hook for later notifications). It is set to the release time itself, so the
    effective release instant (`min(release_at, published_at)`) does not move, no snapshot of
    the release-hour cache becomes invalid, and nothing is precomputed or cached here (nothing
    warmed ahead of an instant can leak). One transaction and one audit event
    (`sitting.release_recorded`) per sitting; running it again changes nothing.
    """
    actor = actor or Actor.system("release_due_sittings")
    _require(actor, Perm.SCORES_PUBLISH, system_allowed=True)
    now = clock.now()
    stamped = []
    due = Sitting.objects.filter(release_at__lte=now, published_at__isnull=True).order_by("label")
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            locked = Sitting.objects.select_for_update().get(pk=pk)
            if locked.published_at is not None or locked.release_at is None or locked.release_at > now:
                continue  # published or moved meanwhile
            before = _snapshot(locked)
            locked.published_at = locked.release_at
            locked.save(update_fields=["published_at"])
            audit_record(
                actor=actor,
                event_type="sitting.release_recorded",
                subject=locked,
                before=before,
                after=_snapshot(locked),
            )
            stamped.append(locked)
    return stamped


# --- withholding (暂缓发布) -------------------------------------------------------------------


def _withholding_snapshot(w: ScoreWithholding) -> dict:
    return {
        "candidate": w.candidate.candidate_no,
        "sitting": w.sitting.label,
        "reason": w.reason,
        "released_at": w.released_at.isoformat() if w.released_at else None,
        "release_note": w.release_note,
    }


@transaction.atomic
def withholding_create(*, actor: Actor, candidate, sitting: Sitting, reason: str) -> ScoreWithholding:
    """Withhold every score of `candidate` in `sitting` from every channel until released.

    Works before and after the sitting's release instant (after it, the scores disappear from
    the candidate's pages and API at once). Staff only, with SCORES_WITHHOLD
    (PERMISSION_DENIED) and the candidate in scope (NOT_FOUND). Refuses
    WITHHOLDING_REASON_REQUIRED without a reason, WITHHOLDING_NOT_ENTERED when the candidate
    neither entered nor holds a score in the sitting, WITHHOLDING_ALREADY_ACTIVE when one is in
    force (a double submit withholds once).
    """
    _require(actor, Perm.SCORES_WITHHOLD, system_allowed=False)
    require_candidate_in_scope(actor.user, candidate)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("WITHHOLDING_REASON_REQUIRED", _("请填写暂缓发布的原因。"), {"reason": ""})
    sat = (
        Entry.objects.filter(candidate=candidate, sitting=sitting)
        .exclude(status=Entry.Status.CANCELLED)
        .exists()
        or Score.objects.filter(candidate=candidate, sitting=sitting).exists()
    )
    if not sat:
        raise DomainError(
            "WITHHOLDING_NOT_ENTERED",
            _("该考生未参加该考次，无需暂缓发布。"),
            {"candidate": candidate.candidate_no, "sitting": sitting.label},
        )
    if ScoreWithholding.objects.filter(
        candidate=candidate, sitting=sitting, released_at__isnull=True
    ).exists():
        raise DomainError(
            "WITHHOLDING_ALREADY_ACTIVE",
            _("该考生本考次成绩已在暂缓发布中。"),
            {"candidate": candidate.candidate_no, "sitting": sitting.label},
        )
    try:
        with transaction.atomic():
            withholding = ScoreWithholding.objects.create(
                candidate=candidate,
                sitting=sitting,
                reason=reason,
                created_at=clock.now(),
                created_by=actor.user,
            )
    except IntegrityError:  # a concurrent request won the race for the one active row
        raise DomainError(
            "WITHHOLDING_ALREADY_ACTIVE",
            _("该考生本考次成绩已在暂缓发布中。"),
            {"candidate": candidate.candidate_no, "sitting": sitting.label},
        ) from None
    audit_record(
        actor=actor,
        event_type="score.withholding_created",
        subject=withholding,
        candidate=candidate,
        after=_withholding_snapshot(withholding),
    )
    candidate_scores_changed(candidate.pk)
    return withholding


@transaction.atomic
def withholding_release(*, actor: Actor, withholding: ScoreWithholding, note: str) -> ScoreWithholding:
    """End a withholding: the candidate's scores of that sitting become visible at once (if the
    sitting is released). The row stays as history with who, when and why.

    Staff only, with SCORES_WITHHOLD (PERMISSION_DENIED) and the candidate in scope
    (NOT_FOUND). Refuses WITHHOLDING_NOTE_REQUIRED without a note and WITHHOLDING_NOT_ACTIVE
    when it was already released (a double submit releases once).
    """
    _require(actor, Perm.SCORES_WITHHOLD, system_allowed=False)
    locked = (
        ScoreWithholding.objects.select_for_update(of=("self",))
        .select_related("candidate", "sitting")
        .get(pk=withholding.pk)
    )
    require_candidate_in_scope(actor.user, locked.candidate)
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("WITHHOLDING_NOTE_REQUIRED", _("请填写解除暂缓发布的说明。"), {"note": ""})
    if locked.released_at is not None:
        raise DomainError("WITHHOLDING_NOT_ACTIVE", _("该暂缓发布已解除。"), {"withholding": locked.pk})
    before = _withholding_snapshot(locked)
    locked.released_at = clock.now()
    locked.released_by = actor.user
    locked.release_note = note
    locked.save(update_fields=["released_at", "released_by", "release_note"])
    audit_record(
        actor=actor,
        event_type="score.withholding_released",
        subject=locked,
        candidate=locked.candidate,
        before=before,
        after=_withholding_snapshot(locked),
    )
    candidate_scores_changed(locked.candidate_id)
    return locked
