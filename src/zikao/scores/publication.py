"""Writes of a sitting's score publication: publish early, move the release time.

These are the only writes of `Sitting.release_at` / `Sitting.published_at` after a sitting is
set up; each one invalidates the release-hour cache (`scores.cache.releases_changed`) after
commit, so the change is seen by the very next request of every channel.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, ValidationFailed
from zikao.scores.cache import releases_changed
from zikao.scores.selectors import sitting_release


def _snapshot(sitting: Sitting) -> dict:
    return {
        "release_at": sitting.release_at.isoformat() if sitting.release_at else None,
        "published_at": sitting.published_at.isoformat() if sitting.published_at else None,
    }


@transaction.atomic
def sitting_publish_early(*, actor: Actor, sitting: Sitting) -> Sitting:
    """Publish the sitting's scores now, before the scheduled release time.

    Refuses SITTING_ALREADY_RELEASED when its scores are already visible.
    """
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
    """Move the scheduled release time of a sitting not yet released.

    Refuses SITTING_ALREADY_RELEASED (published scores are never taken back) and
    SITTING_RELEASE_IN_PAST (a new time that has already passed: use sitting_publish_early).
    """
    locked = Sitting.objects.select_for_update().get(pk=sitting.pk)
    if sitting_release(locked).released:
        raise DomainError("SITTING_ALREADY_RELEASED", _("该考次成绩已发布。"), {"sitting": locked.label})
    if release_at <= clock.now():
        raise ValidationFailed(
            "SITTING_RELEASE_IN_PAST", _("发布时间须晚于当前时间。"), {"release_at": release_at.isoformat()}
        )
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
