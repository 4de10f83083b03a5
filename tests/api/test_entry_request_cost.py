"""What `POST /api/me/entries` costs the web process besides the entry service (issue 5's bench).

The bench's requests are each the first use of an API token with nothing of its candidate in the
cache: that check is one query (the token row joined with the sign-in state) and, on Redis, two
round trips (the fetch, then the version token claimed together with the entries). The two rate
limits (per candidate, per address) are one round trip. A write that lands between the token's
read and the claim makes the row be read again after it, never cached stale.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.helpers import bearer, token_for
from tests.core.test_ratelimit_many import round_trips
from tests.entries.world import DURING, EntryWorld, build_entry_world
from tests.portal.test_release_support import backend, redis_commands
from zikao.accounts import session_cache
from zikao.accounts.models import CandidateAccount
from zikao.accounts.selectors import token_digest
from zikao.core import clock
from zikao.entries import services
from zikao.entries.models import Entry

FIXTURES = (backend, redis_commands, round_trips)
BASE = "/api/me/entries"


@pytest.fixture
def world(db) -> EntryWorld:
    with clock.frozen_at(DURING):
        return build_entry_world()


@pytest.fixture(autouse=True)
def _during():
    with clock.frozen_at(DURING):
        yield


def forget_sign_in(candidate, token: str, *, keep_version: bool = False) -> None:
    """Nothing of this token and its candidate's sign-in in the cache (an app signed in long
    ago, as in the bench); `keep_version`: the candidate's version token stays."""
    digest = token_digest(token)
    keys = [
        session_cache._state_key(candidate.pk),
        session_cache._token_key(digest),
        session_cache._token_pointer_key(digest),
    ]
    if not keep_version:
        keys.append(session_cache._version_key(candidate.pk))
    cache.delete_many(keys)
    assert cache.get_many(keys) == {}


def post(client, token: str, courses: list[str], area: int, key: str):
    return client.post(
        BASE,
        {"sitting": "202610", "courses": courses, "area": area},
        content_type="application/json",
        headers={**bearer(token), "Idempotency-Key": key},
    )


def warm_up(client, world: EntryWorld) -> None:
    """Another candidate's entry first: scripts loaded, connections open, reference data cached."""
    other = world.candidate(name="预热考生")
    assert post(client, token_for(other), ["10001"], world.county.pk, "warm-up").status_code == 201


def sql_of(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


# --- the token's first use -----------------------------------------------------------------------


def test_a_tokens_first_use_is_one_query(world: EntryWorld, backend, round_trips):
    warm_up_token = token_for(world.bob)
    session_cache.token_check(warm_up_token)
    token = token_for(world.alice)
    forget_sign_in(world.alice, token)
    round_trips.count = 0
    with CaptureQueriesContext(connection) as queries:
        checked = session_cache.token_check(token)
    first = round_trips.count
    assert checked is not None and checked.state.candidate_id == world.alice.pk
    assert checked.state.name == "李明远" and checked.row[1] == world.alice.pk
    [statement] = sql_of(queries)
    assert "accounts_apitoken" in statement and "accounts_candidateaccount" in statement
    # Everything the next request needs is cached under the version token claimed after the read.
    version = cache.get(session_cache._version_key(world.alice.pk))
    assert cache.get(session_cache._state_key(world.alice.pk)) == (version, checked.state)
    assert cache.get(session_cache._token_key(token_digest(token))) == (world.alice.pk, version, checked.row)
    round_trips.count = 0
    with CaptureQueriesContext(connection) as again:
        assert session_cache.token_check(token) == checked
    assert again.captured_queries == []
    if backend == "redis":
        assert (first, round_trips.count) == (2, 1)  # fetch + claim; then the fetch alone


def test_with_a_version_token_already_there_the_row_is_read_again_after_it(
    world: EntryWorld, backend, round_trips
):
    session_cache.token_check(token_for(world.bob))
    token = token_for(world.alice)
    forget_sign_in(world.alice, token, keep_version=True)
    version = cache.get(session_cache._version_key(world.alice.pk))
    assert version is not None
    round_trips.count = 0
    with CaptureQueriesContext(connection) as queries:
        checked = session_cache.token_check(token)
    trips = round_trips.count
    assert checked is not None and checked.state.candidate_id == world.alice.pk
    assert [("accounts_apitoken" in s) for s in sql_of(queries)] == [True, True]
    assert cache.get(session_cache._token_key(token_digest(token))) == (world.alice.pk, version, checked.row)
    assert cache.get(session_cache._version_key(world.alice.pk)) == version
    if backend == "redis":
        assert trips == 3  # fetch, claim (refused), the entries' write


def test_a_write_between_the_tokens_read_and_the_claim_is_never_cached_stale(
    world: EntryWorld, backend, monkeypatch
):
    token = token_for(world.alice)
    forget_sign_in(world.alice, token)
    original = session_cache._TOKEN_ROW.first
    reads = []

    def read_then_lock_elsewhere(digest):
        row = original(digest)
        if not reads:  # a password change by another request commits right after this read
            account = CandidateAccount.objects.get(pk=world.alice.pk)
            account.session_epoch += 1
            account.save(update_fields=["session_epoch"])
        reads.append(row)
        return row

    monkeypatch.setattr(session_cache._TOKEN_ROW, "first", read_then_lock_elsewhere)
    assert session_cache.token_check(token) is None  # read again after the write: epoch moved on
    epoch = reads[0][-4]  # the account's epoch in the first read
    assert [r[-4] for r in reads] == [epoch, epoch + 1]
    version = cache.get(session_cache._version_key(world.alice.pk))
    version_state = cache.get(session_cache._state_key(world.alice.pk))
    assert version_state[0] == version and version_state[1].session_epoch == epoch + 1
    monkeypatch.undo()
    with CaptureQueriesContext(connection) as queries:
        assert session_cache.token_check(token) is None
    assert queries.captured_queries == []


def test_the_portals_sign_in_state_is_claimed_the_same_way(world: EntryWorld, backend, monkeypatch):
    """`session_state` with no version token: one query, the state filed under the version claimed
    after it; a write between the read and the claim makes it read again, never cached stale."""
    token = token_for(world.alice)
    forget_sign_in(world.alice, token)
    with CaptureQueriesContext(connection) as queries:
        state = session_cache.session_state(world.alice.pk)
    assert len(queries.captured_queries) == 1 and state.name == "李明远"
    version = cache.get(session_cache._version_key(world.alice.pk))
    assert cache.get(session_cache._state_key(world.alice.pk)) == (version, state)

    forget_sign_in(world.alice, token)
    original = session_cache._STATE_ROW.first
    reads = []

    def read_then_rename_elsewhere(candidate_id):
        row = original(candidate_id)
        if not reads:
            world.alice.refresh_from_db()
            world.alice.name = "李明"
            world.alice.save(update_fields=["name"])
        reads.append(row)
        return row

    monkeypatch.setattr(session_cache._STATE_ROW, "first", read_then_rename_elsewhere)
    assert session_cache.session_state(world.alice.pk).name == "李明"
    assert [r[1] for r in reads] == ["李明远", "李明"]
    monkeypatch.undo()
    version = cache.get(session_cache._version_key(world.alice.pk))
    assert cache.get(session_cache._state_key(world.alice.pk))[0] == version
    assert cache.get(session_cache._state_key(world.alice.pk))[1].name == "李明"


def test_an_unknown_token_is_one_query_and_caches_nothing(world: EntryWorld, backend, round_trips):
    session_cache.token_check(token_for(world.bob))
    unknown = "x" * 43
    round_trips.count = 0
    with CaptureQueriesContext(connection) as queries:
        assert session_cache.token_check(unknown) is None
    trips = round_trips.count
    assert len(queries.captured_queries) == 1
    assert cache.get(session_cache._token_key(token_digest(unknown))) is None
    if backend == "redis":
        assert trips == 1  # the fetch


# --- the entry POST -------------------------------------------------------------------------------


def test_an_entry_post_on_first_use_costs_one_query_and_four_round_trips_besides_the_service(
    client, world: EntryWorld, backend, round_trips, redis_commands, django_capture_on_commit_callbacks
):
    warm_up(client, world)
    token = token_for(world.alice)
    forget_sign_in(world.alice, token)
    round_trips.count = 0
    redis_commands.names.clear()
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
        response = post(client, token, ["10001", "10002"], world.county.pk, "first")
    trips, names = round_trips.count, list(redis_commands.names)
    assert response.status_code == 201
    assert sorted(e["course_code"] for e in response.json()["entries"]) == ["10001", "10002"]
    statements = sql_of(queries)
    # The token with the sign-in state, the sitting by its label, then only the service's
    # transaction (a savepoint inside the test's own transaction).
    assert "accounts_apitoken" in statements[0] and "accounts_candidateaccount" in statements[0]
    assert 'FROM "catalog_sitting"' in statements[1]
    assert statements[2].startswith("SAVEPOINT") and statements[-1].startswith("RELEASE SAVEPOINT")
    assert sum("accounts_apitoken" in s or "accounts_candidateaccount" in s for s in statements) == 1
    assert Entry.objects.filter(candidate=world.alice, sitting=world.sitting).count() == 2
    if backend == "redis":
        # the token fetch, the claim with its entries, both rate limits, the entry cache's tokens
        assert names == ["EVALSHA", "EVALSHA", "EVALSHA", "MGET"]
        assert trips == 4
    window = int(DURING.timestamp()) // 60
    assert cache.get(f"rl:{services.CREATE_PER_CANDIDATE.purpose}:{world.alice.pk}:{window}") == 1
    assert cache.get(f"rl:{services.CREATE_PER_IP.purpose}:127.0.0.1:{window}") == 2  # warm-up + this


def test_the_next_post_with_the_same_token_reads_no_token_row(
    client, world: EntryWorld, backend, round_trips
):
    warm_up(client, world)
    token = token_for(world.alice)
    forget_sign_in(world.alice, token)
    assert post(client, token, ["10001"], world.county.pk, "first").status_code == 201
    round_trips.count = 0
    with CaptureQueriesContext(connection) as queries:
        response = post(client, token, ["10002"], world.county.pk, "second")
    trips = round_trips.count
    assert response.status_code == 201
    assert not any("accounts_apitoken" in s or "accounts_candidateaccount" in s for s in sql_of(queries))
    if backend == "redis":
        assert trips == 3  # the token fetch, the rate limits, the entry cache


def test_the_rate_limits_still_refuse_with_retry_after_and_write_nothing(
    client, world: EntryWorld, backend, monkeypatch
):
    from zikao.core.ratelimit import Limit

    monkeypatch.setattr(services, "CREATE_PER_IP", Limit("t-cost-ip", 1, 60))
    token = token_for(world.alice)
    assert post(client, token, ["10001"], world.county.pk, "a").status_code == 201
    refused = post(client, token, ["10002"], world.county.pk, "b")
    assert (refused.status_code, refused.json()["code"]) == (429, "ENTRY_RATE_LIMITED")
    assert refused["Retry-After"] == str(refused.json()["fields"]["retry_after"]) == str(60 - DURING.second)
    assert list(
        Entry.objects.filter(candidate=world.alice, sitting=world.sitting).values_list(
            "course__code", flat=True
        )
    ) == ["10001"]
