"""Fixtures of the release-hour tests (imported by tests/portal/test_release_*.py and
tests/api/test_release_*.py): the cache backends the hot path must be right on, and a counter
of Redis round trips.

`backend` runs a test twice: on the local-memory cache with database sessions (the embedded
demo, where the hot path uses plain `get_many` calls) and on Redis with the cache session store
of `accounts.session_cache` (production, where it uses one Lua round trip). The Redis run is
skipped when no Redis answers at ZIKAO_TEST_REDIS_URL (default redis://127.0.0.1:6379/13); it
uses its own key prefix and deletes only its own keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

REDIS_URL = os.environ.get("ZIKAO_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def _redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:
        return False
    return True


@pytest.fixture(params=["locmem", "redis"])
def backend(request, settings) -> Iterator[str]:
    """The cache/session configuration of the test: "locmem" (demo) or "redis" (production)."""
    if request.param == "redis":
        if not _redis_available():
            pytest.skip(f"no Redis at {REDIS_URL}")
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"zikao-test-{uuid.uuid4().hex}",
            }
        }
        settings.SESSION_ENGINE = "zikao.accounts.session_cache"
        try:
            yield "redis"
        finally:
            cache.delete_pattern("*")  # only this test's prefix
    else:
        yield "locmem"


@pytest.fixture
def web(backend) -> Client:
    """A browser for the test's backend (made after the settings are in place)."""
    return Client()


class RedisCommands:
    """Counts the commands sent to Redis (each one a network round trip)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __len__(self) -> int:
        return len(self.names)


@pytest.fixture
def redis_commands(monkeypatch) -> RedisCommands:
    """Every command sent on any Redis connection (through redis-py's client or directly)."""
    from redis.connection import Connection

    counter = RedisCommands()
    original = Connection.send_command

    def counting(self, *args, **kwargs):
        counter.names.append(str(args[0]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_command", counting)
    return counter
