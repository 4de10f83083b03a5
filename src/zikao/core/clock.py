"""The one clock every rule reads ("is the window open", "is the sitting released").

Tests and the staff preview freeze it with `frozen_at(...)`; nothing in the domain calls
`timezone.now()` for a rule.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import date, datetime

from django.utils import timezone

_frozen: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("zikao_clock", default=None)


def now() -> datetime:
    """The current instant (aware), or the frozen one inside `frozen_at`."""
    frozen = _frozen.get()
    return frozen if frozen is not None else timezone.now()


def today() -> date:
    """Today's date in the project's time zone (Asia/Shanghai)."""
    return timezone.localdate(now())


@contextlib.contextmanager
def frozen_at(instant: datetime) -> Iterator[datetime]:
    """Freeze `now()` at `instant` for the block (tests, staff preview "as of")."""
    if timezone.is_naive(instant):
        instant = timezone.make_aware(instant)
    token = _frozen.set(instant)
    try:
        yield instant
    finally:
        _frozen.reset(token)
