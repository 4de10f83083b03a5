"""Pure rules about penalties: is a suspension running, what it blocks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

# What a running suspension blocks (domain.md: "a suspension blocks entry, transfer and graduation").
BLOCKED_BY_SUSPENSION = frozenset({"entry", "transfer", "graduation"})


@dataclass(frozen=True)
class SuspensionPeriod:
    starts: date
    ends: date
    revoked_at: datetime | None = None


def suspension_running(periods: Iterable[SuspensionPeriod], on: date) -> SuspensionPeriod | None:
    """The suspension in force on `on` (the one ending last), or None. Revoked ones never count."""
    running = [p for p in periods if p.revoked_at is None and p.starts <= on <= p.ends]
    return max(running, key=lambda p: p.ends) if running else None


def blocks(action: str, periods: Iterable[SuspensionPeriod], on: date) -> SuspensionPeriod | None:
    """The suspension that blocks `action` ("entry", "transfer", "graduation") on `on`, if any."""
    if action not in BLOCKED_BY_SUSPENSION:
        return None
    return suspension_running(periods, on)
