"""The release hour's "my latest scores" in one cache round trip (docs/decisions/0005).

On Redis the dashboard and /api/me/scores/latest read the session (or the token's entry), the
sign-in state and the cached page in one Lua round trip, found through a pointer (session key or
token digest → candidate id). These tests pin down that the pointer is only a hint: wrong,
missing or left behind after a sign-out, it never shows anything to the wrong person; and that
every invalidation of the sign-in check and of the scores still applies at once, on the
embedded demo's cache (locmem, database sessions) as on Redis.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.api.helpers import bearer, token_for
from tests.portal.helpers import TEST_IP, TEST_PASSWORD, log_in
from tests.portal.test_records_support import AFTER, EARLIER, RELEASE, SYSTEM, World, build_world
from tests.portal.test_release_support import backend, redis_commands, web
from zikao.accounts import session_cache
from zikao.accounts.selectors import token_digest
from zikao.accounts.services import candidate_password_change
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.scores.services import score_correct

FIXTURES = (backend, redis_commands, web)  # imported fixtures used below
NEW_PASSWORD = "Xinmima2026ok"
LATEST = "/api/me/scores/latest"


@pytest.fixture
def world(db) -> World:
    return build_world()


def dashboard(client: Client):
    return client.get(reverse("portal:dashboard"))


def signed_out(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


def session_pointer(client: Client) -> str:
    return session_cache._session_pointer_key(client.cookies["sessionid"].value)


# --- one round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_a_dashboard_hit_is_one_redis_round_trip_and_no_query(
    web: Client, world: World, backend, redis_commands
):
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        first = dashboard(web)
        redis_commands.names.clear()
        with CaptureQueriesContext(connection) as queries:
            page = dashboard(web)
    assert first.status_code == 200 and page.status_code == 200
    assert redis_commands.names == ["EVALSHA"]
    assert queries.captured_queries == []
    body = page.content.decode()
    assert "李明远" in body and "数据结构与算法" in body and "88" in body
    assert page["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_an_api_hit_is_one_redis_round_trip_and_no_query(web: Client, world: World, backend, redis_commands):
    with clock.frozen_at(AFTER):
        token = token_for(world.alice)
        assert web.get(LATEST, headers=bearer(token)).status_code == 200
        redis_commands.names.clear()
        with CaptureQueriesContext(connection) as queries:
            answer = web.get(LATEST, headers=bearer(token))
    assert redis_commands.names == ["EVALSHA"]
    assert queries.captured_queries == []
    assert [s["course_code"] for s in answer.json()["scores"]] == ["13003"]


@pytest.mark.parametrize("backend", ["locmem"], indirect=True)
def test_on_the_demo_cache_a_hit_reads_only_the_session_row(web: Client, world: World, backend):
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        dashboard(web)
        with CaptureQueriesContext(connection) as queries:
            page = dashboard(web)
    assert page.status_code == 200 and "数据结构与算法" in page.content.decode()
    assert [q["sql"].split("FROM")[1].split()[0] for q in queries.captured_queries] == ['"django_session"']


# --- the pointer is only a hint --------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_a_session_pointer_to_another_candidate_shows_nothing_of_theirs(
    web: Client, world: World, backend, redis_commands
):
    bob = Client()
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        log_in(bob, world.bob)
        assert "王芳" in dashboard(bob).content.decode()  # bob's page and state are cached
        dashboard(web)
        cache.set(session_pointer(web), world.bob.pk)  # alice's session now points at bob
        redis_commands.names.clear()
        page = dashboard(web).content.decode()
        repaired = cache.get(session_pointer(web))
        redis_commands.names.clear()
        again = dashboard(web).content.decode()
    assert "李明远" in page and "王芳" not in page and "13003" in page
    assert repaired == world.alice.pk
    assert redis_commands.names == ["EVALSHA"] and "李明远" in again


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_a_missing_pointer_costs_a_round_trip_and_is_put_back(
    web: Client, world: World, backend, redis_commands
):
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        dashboard(web)
        cache.delete(session_pointer(web))
        redis_commands.names.clear()
        page = dashboard(web)
        second = list(redis_commands.names)
        redis_commands.names.clear()
        dashboard(web)
        third = list(redis_commands.names)
    assert page.status_code == 200 and "李明远" in page.content.decode()
    assert second[0] == "EVALSHA" and "MGET" in second and "SET" in second
    assert cache.get(session_pointer(web)) == world.alice.pk
    assert third == ["EVALSHA"]


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_a_token_pointer_to_another_candidate_shows_nothing_of_theirs(web: Client, world: World, backend):
    with clock.frozen_at(AFTER):
        alice_token, bob_token = token_for(world.alice), token_for(world.bob)
        assert web.get(LATEST, headers=bearer(bob_token)).status_code == 200
        assert web.get(LATEST, headers=bearer(alice_token)).status_code == 200
        cache.set(session_cache._token_pointer_key(token_digest(alice_token)), world.bob.pk)
        answer = web.get(LATEST, headers=bearer(alice_token)).json()
    assert [s["course_code"] for s in answer["scores"]] == ["13003"]
    assert cache.get(session_cache._token_pointer_key(token_digest(alice_token))) == world.alice.pk


def test_a_signed_out_session_stays_out_though_its_pointer_is_left(web: Client, world: World, backend):
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        assert dashboard(web).status_code == 200
        cookie = web.cookies["sessionid"].value
        csrf = dashboard(web).content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        assert web.post(reverse("portal:logout"), {"csrfmiddlewaretoken": csrf}).status_code == 302
        if backend == "redis":
            cache.set(session_cache._session_pointer_key(cookie), world.alice.pk)
        replay = Client()
        replay.cookies["sessionid"] = cookie  # the old cookie, replayed
        assert signed_out(dashboard(replay))
        assert signed_out(dashboard(web))


# --- invalidation still applies at once ---------------------------------------------------------------


def test_a_password_change_elsewhere_ends_page_and_api_at_once(
    web: Client, world: World, backend, django_capture_on_commit_callbacks
):
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        token = token_for(world.alice)
        assert dashboard(web).status_code == 200
        assert web.get(LATEST, headers=bearer(token)).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            candidate_password_change(
                actor=Actor.candidate(world.alice, ip=TEST_IP),
                candidate=world.alice,
                current_password=TEST_PASSWORD,
                new_password=NEW_PASSWORD,
            )
        assert signed_out(dashboard(web))
        api = web.get(LATEST, headers=bearer(token))
    assert api.status_code == 401 and api.json()["code"] == "TOKEN_INVALID"


def test_a_correction_shows_at_once_on_the_hot_path(
    web: Client, world: World, backend, django_capture_on_commit_callbacks
):
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        token = token_for(world.alice)
        for _ in range(2):
            assert ">88<" in dashboard(web).content.decode()
            assert '"value":88' in web.get(LATEST, headers=bearer(token)).content.decode().replace(" ", "")
        with django_capture_on_commit_callbacks(execute=True):
            score_correct(actor=SYSTEM, score=world.unreleased, value=93, reason="合分错误")
        page = dashboard(web).content.decode()
        api = web.get(LATEST, headers=bearer(token)).json()
    assert ">93<" in page and ">88<" not in page
    assert [s["value"] for s in api["scores"]] == [93]


def test_a_new_name_shows_at_once_in_the_cached_page(web: Client, world: World, backend):
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        assert "李明远" in dashboard(web).content.decode()
        world.alice.name = "李明源"
        world.alice.save(update_fields=["name"])  # every Candidate save bumps the sign-in state
        page = dashboard(web).content.decode()
    assert "李明源" in page and "李明远" not in page


def test_two_candidates_never_see_each_others_cached_page(web: Client, world: World, backend):
    bob = Client()
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        log_in(bob, world.bob)
        alice_token, bob_token = token_for(world.alice), token_for(world.bob)
        for _ in range(3):
            alice_page, bob_page = dashboard(web).content.decode(), dashboard(bob).content.decode()
            assert "李明远" in alice_page and "王芳" not in alice_page and "13003" in alice_page
            assert "王芳" in bob_page and "李明远" not in bob_page and "13003" not in bob_page
            bob_api = bob.get(LATEST, headers=bearer(bob_token)).json()
            alice_api = web.get(LATEST, headers=bearer(alice_token)).json()
            assert [s["course_code"] for s in bob_api["scores"]] == ["02324"]
            assert [s["course_code"] for s in alice_api["scores"]] == ["13003"]


def test_a_session_from_before_the_instant_sees_the_release_by_reloading(web: Client, world: World, backend):
    """Signed in (page and app) before the release instant: a reload after it shows the new
    sitting, without signing in again."""
    with clock.frozen_at(EARLIER):
        log_in(web, world.alice)
        token = token_for(world.alice)
        assert "数据结构与算法" not in dashboard(web).content.decode()
        assert web.get(LATEST, headers=bearer(token)).json()["sitting"]["label"] == "202510"
    with clock.frozen_at(RELEASE):
        page = dashboard(web)
        api = web.get(LATEST, headers=bearer(token))
    assert page.status_code == 200 and "数据结构与算法" in page.content.decode()
    assert api.status_code == 200 and api.json()["sitting"]["label"] == "202604"


def test_the_csrf_token_of_a_cached_page_is_each_requests_own_and_works(world: World, backend):
    web = Client(enforce_csrf_checks=True)
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        first = dashboard(web).content.decode()
        second = dashboard(web).content.decode()
        token = second.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        assert token not in first
        assert web.post(reverse("portal:logout"), {"csrfmiddlewaretoken": token}).status_code == 302
        assert signed_out(dashboard(web))


# --- the cached page's CSRF token, the API's token revocation, a lost connection -----------------


def test_the_cached_page_does_not_resend_a_csrf_cookie_the_browser_holds(world: World, backend):
    from django.middleware.csrf import _unmask_cipher_token

    web = Client(enforce_csrf_checks=True)
    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        first = dashboard(web)  # no CSRF cookie yet: Django makes the secret and sets the cookie
        secret = first.cookies["csrftoken"].value
        second = dashboard(web)
        tokens = [
            page.content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
            for page in (first, second)
        ]
    assert len(secret) == 32 and "csrftoken" not in second.cookies
    assert [_unmask_cipher_token(t) for t in tokens] == [secret, secret]
    assert tokens[0] != tokens[1] and all(len(t) == 64 for t in tokens)


def test_a_masked_token_is_uniform_over_the_alphabet():
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, _unmask_cipher_token
    from django.test import RequestFactory

    from zikao.portal.auth import masked_csrf_token

    request = RequestFactory().get("/me/")
    request.META["CSRF_COOKIE"] = secret = "a" * 32
    tokens = [masked_csrf_token(request) for _ in range(400)]
    assert {_unmask_cipher_token(t) for t in tokens} == {secret}
    masks = "".join(t[:32] for t in tokens)
    counts = [masks.count(c) for c in CSRF_ALLOWED_CHARS]
    assert set(masks) <= set(CSRF_ALLOWED_CHARS) and min(counts) > 100 and max(counts) < 320  # 206 expected
    assert "CSRF_COOKIE_NEEDS_UPDATE" not in request.META


def test_an_api_logout_ends_the_token_at_once_with_the_cache_warm(web: Client, world: World, backend):
    with clock.frozen_at(AFTER):
        token = token_for(world.alice)
        other = token_for(world.alice)
        assert web.get(LATEST, headers=bearer(token)).status_code == 200
        assert web.get(LATEST, headers=bearer(other)).status_code == 200
        assert web.post("/api/auth/logout", headers=bearer(token)).status_code == 204
        gone = web.get(LATEST, headers=bearer(token))
        kept = web.get(LATEST, headers=bearer(other))
    assert gone.status_code == 401 and gone.json()["code"] == "TOKEN_INVALID"
    assert kept.status_code == 200  # issuing or revoking one token leaves the others alone


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_a_broken_redis_connection_falls_back_and_recovers(
    web: Client, world: World, backend, redis_commands, monkeypatch
):
    import redis

    with clock.frozen_at(AFTER):
        log_in(web, world.alice)
        assert dashboard(web).status_code == 200
        broken = session_cache._local.conn
        read = broken.read_response

        def lost(*args, **kwargs):
            monkeypatch.setattr(broken, "read_response", read)  # once
            raise redis.ConnectionError("connection lost")  # e.g. Redis restarted meanwhile

        monkeypatch.setattr(broken, "read_response", lost)
        redis_commands.names.clear()
        page = dashboard(web)
        fallback = list(redis_commands.names)
        redis_commands.names.clear()
        again = dashboard(web)
    assert page.status_code == again.status_code == 200
    assert "李明远" in page.content.decode() and "李明远" in again.content.decode()
    # the lost one, then redis-py's own path (on a fresh connection: its handshake comes first)
    assert fallback[0] == fallback[-1] == "EVALSHA" and fallback.count("EVALSHA") == 2
    assert session_cache._local.conn is not None and redis_commands.names == ["EVALSHA"]  # fast path again
