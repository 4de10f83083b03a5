"""Rate limits on anything that can be guessed (lookups, logins, codes), kept in the cache.

Fixed windows keyed by purpose and subject (an IP, an ID number, a candidate). With Redis
(`REDIS_URL`) the counters are shared by every web process; in the demo they live in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from zikao.core import clock
from zikao.core.errors import DomainError


class RateLimited(DomainError):
    status = 429

    def __init__(self, retry_after: int):
        super().__init__("RATE_LIMITED", _("操作过于频繁，请稍后再试。"), {"retry_after": retry_after})
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    purpose: str
    limit: int
    window_seconds: int


def _key(limit: Limit, subject: str) -> tuple[str, int]:
    window = int(clock.now().timestamp()) // limit.window_seconds
    return f"rl:{limit.purpose}:{subject}:{window}", window


def hit(limit: Limit, subject: str) -> None:
    """Count one attempt; raise RateLimited (HTTP 429, retry_after seconds) past the limit."""
    key, window = _key(limit, subject)
    cache.add(key, 0, timeout=limit.window_seconds + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=limit.window_seconds + 5)
        count = 1
    if count > limit.limit:
        retry_after = (window + 1) * limit.window_seconds - int(clock.now().timestamp())
        raise RateLimited(max(retry_after, 1))


def reset(limit: Limit, subject: str) -> None:
    cache.delete(_key(limit, subject)[0])
