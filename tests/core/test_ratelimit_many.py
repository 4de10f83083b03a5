"""`hit_many`: several limits in one Redis round trip, counted exactly as the same `hit` calls one
after the other (in order, stopping at the first past its limit), on the demo's local-memory cache
and on Redis (where each `hit` is now one round trip too)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from tests.portal.test_release_support import backend
from zikao.core import clock
from zikao.core.ratelimit import Limit, RateLimited, hit, hit_many, reset

FIXTURES = (backend,)
PER_CANDIDATE = Limit("t-many-candidate", 2, 60)
PER_IP = Limit("t-many-ip", 3, 600)
T0 = dt.datetime(2026, 11, 28, 10, 0, 15, tzinfo=dt.UTC)  # 15 s into its minute and its 10 minutes
WINDOW_60 = int(T0.timestamp()) // 60
WINDOW_600 = int(T0.timestamp()) // 600


class RoundTrips:
    """Every write to any Redis connection: one per command, one per pipeline."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def round_trips(monkeypatch) -> RoundTrips:
    from redis.connection import AbstractConnection

    counter = RoundTrips()
    original = AbstractConnection.send_packed_command

    def counting(self, *args, **kwargs):
        counter.count += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return counter


def counters(candidate: str, ip: str) -> tuple:
    return (
        cache.get(f"rl:{PER_CANDIDATE.purpose}:{candidate}:{WINDOW_60}"),
        cache.get(f"rl:{PER_IP.purpose}:{ip}:{WINDOW_600}"),
    )


def test_counts_every_limit_in_order_and_stops_at_the_first_past_it(backend):
    with clock.frozen_at(T0):
        hit_many([(PER_CANDIDATE, "7"), (PER_IP, "10.0.0.1")])
        hit_many([(PER_CANDIDATE, "7"), (PER_IP, "10.0.0.1")])
        assert counters("7", "10.0.0.1") == (2, 2)
        with pytest.raises(RateLimited) as refused:
            hit_many([(PER_CANDIDATE, "7"), (PER_IP, "10.0.0.1")])
        # The candidate's limit refused: the address was not counted (as with hit, hit).
        assert counters("7", "10.0.0.1") == (3, 2)
        assert (refused.value.code, refused.value.status, refused.value.retry_after) == (
            "RATE_LIMITED",
            429,
            45,
        )
        hit_many([(PER_CANDIDATE, "8"), (PER_IP, "10.0.0.1")])  # another candidate, same address
        with pytest.raises(RateLimited) as refused:
            hit_many([(PER_CANDIDATE, "9"), (PER_IP, "10.0.0.1")])  # the address's 4th of 3
        assert refused.value.retry_after == 585
        assert counters("9", "10.0.0.1") == (1, 4)
    with clock.frozen_at(T0 + dt.timedelta(seconds=45)):  # the candidate's next window
        hit_many([(PER_CANDIDATE, "7")])
        assert cache.get(f"rl:{PER_CANDIDATE.purpose}:7:{WINDOW_60 + 1}") == 1


def test_the_same_counters_as_hit_one_after_the_other(backend):
    """A mixed sequence of hit_many and hit calls shares the counters and the refusals."""
    with clock.frozen_at(T0):
        hit(PER_CANDIDATE, "1")
        hit_many([(PER_CANDIDATE, "1"), (PER_IP, "10.0.0.2")])
        with pytest.raises(RateLimited):
            hit(PER_CANDIDATE, "1")
        assert counters("1", "10.0.0.2") == (3, 1)
        hit(PER_IP, "10.0.0.2")
        hit(PER_IP, "10.0.0.2")
        with pytest.raises(RateLimited) as refused:
            hit_many([(PER_IP, "10.0.0.2"), (PER_CANDIDATE, "2")])
        assert refused.value.retry_after == 585
        assert counters("2", "10.0.0.2") == (None, 4)
        reset(PER_IP, "10.0.0.2")
        hit_many([(PER_IP, "10.0.0.2"), (PER_CANDIDATE, "2")])
        assert counters("2", "10.0.0.2") == (1, 1)


def test_nothing_to_count_is_nothing(backend):
    hit_many([])


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_on_redis_two_limits_are_one_round_trip_with_the_counters_timeouts(backend, round_trips):
    with clock.frozen_at(T0):
        hit_many([(PER_CANDIDATE, "warm-up")])  # the script is loaded once per Redis
        round_trips.count = 0
        hit_many([(PER_CANDIDATE, "3"), (PER_IP, "10.0.0.3")])
        assert round_trips.count == 1
        hit(PER_CANDIDATE, "3")
        assert round_trips.count == 2
        assert counters("3", "10.0.0.3") == (2, 1)
        candidate_ttl = cache.ttl(f"rl:{PER_CANDIDATE.purpose}:3:{WINDOW_60}")
        ip_ttl = cache.ttl(f"rl:{PER_IP.purpose}:10.0.0.3:{WINDOW_600}")
    assert 60 < candidate_ttl <= 65 and 600 < ip_ttl <= 605  # window + 5 s, set once when created


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_on_redis_a_counter_left_by_the_old_add_and_incr_counts_on(backend):
    """Counters written by `cache.add` + `cache.incr` (before hit_many) are read and counted on."""
    key = f"rl:{PER_CANDIDATE.purpose}:4:{WINDOW_60}"
    with clock.frozen_at(T0):
        cache.add(key, 0, timeout=65)
        cache.incr(key)
        hit_many([(PER_CANDIDATE, "4")])
        with pytest.raises(RateLimited):
            hit(PER_CANDIDATE, "4")
        assert cache.get(key) == 3
