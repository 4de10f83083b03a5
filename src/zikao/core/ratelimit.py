"""Rate limits on anything that can be guessed (lookups, logins, codes), kept in the cache.

Fixed windows keyed by purpose and subject (an IP, an ID number, a candidate). With Redis
(`REDIS_URL`) the counters are shared by every web process; in the demo they live in memory.

`hit_many` counts one attempt against several limits (e.g. per candidate and per address) in
one Redis round trip (a Lua script), exactly as the same `hit` calls one after the other would:
the limits are counted in order and the first one past its limit stops the count there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache, caches
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


def _retry_after(limit: Limit, window: int) -> int:
    return max((window + 1) * limit.window_seconds - int(clock.now().timestamp()), 1)


# KEYS: counters; ARGV: their limits, then their timeouts. Counts each in turn (a new counter gets
# its timeout) and stops at the first past its limit: returns its index (1-based) and count, or 0.
_HIT_LUA = """
local n = #KEYS
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[n + i]) end
  if count > tonumber(ARGV[i]) then return {i, count} end
end
return {0, 0}
"""

_scripts: dict[int, Any] = {}


def _redis_backend() -> Any | None:
    """The default cache if it is django-redis (the Lua path), else None."""
    backend = caches["default"]
    try:
        from django_redis.cache import RedisCache
    except ImportError:  # pragma: no cover - django-redis is a dependency
        return None
    if not isinstance(backend, RedisCache):
        return None
    return backend


def _hit_one(limit: Limit, key: str) -> int:
    cache.add(key, 0, timeout=limit.window_seconds + 5)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=limit.window_seconds + 5)
        return 1


def hit_many(hits: Sequence[tuple[Limit, str]]) -> None:
    """Count one attempt against each (limit, subject) in order; raise RateLimited (HTTP 429,
    retry_after seconds) at the first past its limit, the later ones not counted. One round
    trip on Redis, the same counters (keys, values, timeouts) as `hit`."""
    if not hits:
        return
    keyed = [(limit, *_key(limit, subject)) for limit, subject in hits]
    backend = _redis_backend()
    if backend is None:
        for limit, key, window in keyed:
            if _hit_one(limit, key) > limit.limit:
                raise RateLimited(_retry_after(limit, window))
        return
    client = backend.client.get_client(write=True)
    script = _scripts.get(id(client))
    if script is None or script.registered_client is not client:
        script = _scripts[id(client)] = client.register_script(_HIT_LUA)
    make_key = backend.client.make_key
    index, _count = script(
        keys=[make_key(key) for _limit, key, _window in keyed],
        args=[limit.limit for limit, *_ in keyed] + [limit.window_seconds + 5 for limit, *_ in keyed],
        client=client,
    )
    if index:
        limit, _unused, window = keyed[int(index) - 1]
        raise RateLimited(_retry_after(limit, window))


def hit(limit: Limit, subject: str) -> None:
    """Count one attempt; raise RateLimited (HTTP 429, retry_after seconds) past the limit."""
    hit_many([(limit, subject)])


def reset(limit: Limit, subject: str) -> None:
    cache.delete(_key(limit, subject)[0])
