"""Reads of violations."""

from __future__ import annotations

from datetime import date

from zikao.conduct import rules
from zikao.conduct.models import Violation
from zikao.core import clock


def candidate_suspension(candidate, *, on: date | None = None) -> rules.SuspensionPeriod | None:
    """The suspension running for `candidate` today (or on `on`), if any."""
    periods = [
        rules.SuspensionPeriod(v.suspension_starts, v.suspension_ends, v.revoked_at)
        for v in Violation.objects.filter(candidate=candidate).exclude(suspension="")
        if v.suspension_starts and v.suspension_ends
    ]
    return rules.suspension_running(periods, on or clock.today())


def candidate_violations(candidate) -> list[Violation]:
    """Every violation on the record, newest first, revoked ones included (they keep history)."""
    return list(Violation.objects.filter(candidate=candidate).select_related("sitting", "course"))
