"""Writing the audit trail. Services call `audit_record`; nothing updates or deletes an event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zikao.core import clock


@dataclass(frozen=True)
class Actor:
    """Who is acting: a staff user, a candidate, the public (an IP), or the system (a command)."""

    kind: str
    user: Any = None
    label: str = ""
    ip: str | None = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind="system", label=label)

    @classmethod
    def staff(cls, user, ip: str | None = None) -> Actor:
        return cls(kind="staff", user=user, label=user.get_username(), ip=ip)

    @classmethod
    def candidate(cls, candidate, ip: str | None = None) -> Actor:
        return cls(kind="candidate", label=candidate.candidate_no, ip=ip)

    @classmethod
    def public(cls, ip: str | None = None) -> Actor:
        return cls(kind="public", label="public", ip=ip)


def audit_record(
    *,
    actor: Actor,
    event_type: str,
    subject: Any = None,
    subject_type: str | None = None,
    subject_id: Any = None,
    candidate: Any = None,
    before: dict | None = None,
    after: dict | None = None,
):
    """Append one AuditEvent. Call inside the service's transaction so both land or neither."""
    from zikao.core.models import AuditEvent

    if subject is not None:
        subject_type = subject_type or subject._meta.label_lower
        subject_id = subject_id if subject_id is not None else subject.pk
    return AuditEvent.objects.create(
        at=clock.now(),
        actor_kind=actor.kind,
        actor_user=actor.user if actor.kind == "staff" else None,
        actor_label=actor.label[:100],
        event_type=event_type,
        subject_type=subject_type or "",
        subject_id=str(subject_id if subject_id is not None else ""),
        candidate=candidate,
        before=before,
        after=after,
        ip=actor.ip,
    )
