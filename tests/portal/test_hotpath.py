"""The release-hour hot path: the cached sign-in state (accounts.session_cache) and the rendered
snapshot fragments (scores.cache.candidate_score_rendered) never outlive what they were built
from: a password change or lock ends other sessions at once, a score write or release change
shows at once, and nothing cached for one candidate is served to another."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.api.helpers import bearer, token_for
from tests.portal.helpers import TEST_IP, TEST_PASSWORD, log_in
from tests.portal.test_records_support import AFTER, BEFORE, EARLIER, RELEASE, SYSTEM, World, build_world
from zikao.accounts import session_cache
from zikao.accounts.errors import AccountLocked, LoginFailed
from zikao.accounts.services import candidate_login, candidate_password_change
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.scores.cache import candidate_score_rendered
from zikao.scores.models import Score
from zikao.scores.publication import sitting_publish_early
from zikao.scores.services import score_correct

NEW_PASSWORD = "Xinmima2026ok"


@pytest.fixture
def world(db) -> World:
    return build_world()


def _dashboard(client: Client):
    return client.get(reverse("portal:dashboard"))


def _signed_out(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


def _change_password(candidate) -> None:
    candidate_password_change(
        actor=Actor.candidate(candidate, ip=TEST_IP),
        candidate=candidate,
        current_password=TEST_PASSWORD,
        new_password=NEW_PASSWORD,
    )


# --- sign-in state ------------------------------------------------------------------------------


def test_a_warm_session_check_reads_no_candidate_or_account_row(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        assert _dashboard(client).status_code == 200
        with CaptureQueriesContext(connection) as queries:
            page = _dashboard(client)
    assert page.status_code == 200 and "李明远" in page.content.decode()
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "candidates_candidate" not in sql and "accounts_candidateaccount" not in sql


def test_password_change_on_another_device_ends_this_session_at_once(
    client, world: World, django_capture_on_commit_callbacks
):
    other = Client()
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        log_in(other, world.alice)
        token = token_for(world.alice)
        assert _dashboard(client).status_code == 200  # sign-in state and fragment cached
        assert client.get("/api/me/scores/latest", headers=bearer(token)).status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            _change_password(world.alice)
        assert _signed_out(_dashboard(client))
        assert _signed_out(_dashboard(other))
        api = client.get("/api/me/scores/latest", headers=bearer(token))
    assert api.status_code == 401 and api.json()["code"] == "TOKEN_INVALID"


def test_a_state_read_before_the_commit_dies_with_the_commit(
    client, world: World, django_capture_on_commit_callbacks
):
    """A concurrent request that read the old row before the password change committed and filed
    it under the token of the moment is not trusted after the commit."""
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        assert _dashboard(client).status_code == 200
        stale = session_cache.session_state(world.alice.pk)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            _change_password(world.alice)
        version = cache.get(session_cache._version_key(world.alice.pk))
        cache.set(session_cache._state_key(world.alice.pk), (version, stale))
        for callback in callbacks:
            callback()
        assert _signed_out(_dashboard(client))


def test_a_lock_ends_the_session_at_once_even_with_the_cache_warm(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        assert _dashboard(client).status_code == 200
        for _ in range(5):
            with pytest.raises((LoginFailed, AccountLocked)):
                candidate_login(
                    actor=Actor.public(ip=TEST_IP), identifier=world.alice.candidate_no, password="wrong"
                )
        assert _signed_out(_dashboard(client))


def test_the_cached_candidate_loads_other_fields_in_one_query(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        session_cache.session_state(world.alice.pk)
        candidate = session_cache.session_candidate_for(world.alice.pk, world.alice.account.session_epoch)
    assert candidate is not None and candidate.pk == world.alice.pk and candidate.name == "李明远"
    with CaptureQueriesContext(connection) as queries:
        assert candidate.phone == "13812345678"
        assert candidate.birth_date == world.alice.birth_date
        assert candidate.id_number == world.alice.id_number
    assert len(queries.captured_queries) == 1


# --- rendered fragments ---------------------------------------------------------------------------


class Renders:
    def __init__(self) -> None:
        self.calls: list[tuple[int, tuple]] = []

    def __call__(self, snapshot) -> str:
        codes = tuple((s.sitting, s.course_code, s.value) for s in snapshot.scores)
        self.calls.append((snapshot.candidate_id, codes))
        return repr((snapshot.candidate_id, codes))


def test_a_rendered_fragment_is_reused_only_for_its_snapshot(
    world: World, django_capture_on_commit_callbacks
):
    render = Renders()
    with clock.frozen_at(BEFORE):
        first = candidate_score_rendered(world.alice, "v", render)
        assert candidate_score_rendered(world.alice, "v", render) == first
        assert len(render.calls) == 1
        assert "13003" not in first and "15040" not in first
    with clock.frozen_at(RELEASE):  # the release instant: a new snapshot, so a new rendering
        released = candidate_score_rendered(world.alice, "v", render)
    assert len(render.calls) == 2 and "13003" in released and "15040" not in released
    with clock.frozen_at(AFTER):
        candidate_score_rendered(world.alice, "v", render)
        with django_capture_on_commit_callbacks(execute=True):
            score_correct(actor=SYSTEM, score=world.unreleased, value=93, reason="合分错误")
        corrected = candidate_score_rendered(world.alice, "v", render)
    assert "93" in corrected and "88" not in corrected


def test_another_candidate_never_gets_a_cached_fragment(client, world: World):
    render = Renders()
    with clock.frozen_at(AFTER):
        alice = candidate_score_rendered(world.alice, "same", render)
        bob = candidate_score_rendered(world.bob, "same", render)
        assert [c[0] for c in render.calls] == [world.alice.pk, world.bob.pk]
        assert bob != alice and "13003" not in bob
        log_in(client, world.alice)
        bob_client = Client()
        log_in(bob_client, world.bob)
        for _ in range(2):
            assert "李明远" in _dashboard(client).content.decode()
            page = _dashboard(bob_client).content.decode()
            assert "王芳" in page and "李明远" not in page and "13003" not in page
            latest = bob_client.get("/api/me/scores/latest", headers=bearer(token_for(world.bob))).json()
            assert all(s["course_code"] != "13003" for s in latest["scores"])


def test_early_publication_shows_at_once_with_the_fragment_cached(
    client, world: World, django_capture_on_commit_callbacks
):
    with clock.frozen_at(EARLIER):
        log_in(client, world.alice)
        token = token_for(world.alice)
        for _ in range(2):  # the second request is served from the cached fragment / JSON
            assert "13003" not in _dashboard(client).content.decode()
            assert "13003" not in client.get("/api/me/scores/latest", headers=bearer(token)).content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            sitting_publish_early(actor=SYSTEM, sitting=world.s2604)
        page = _dashboard(client).content.decode()
        api = client.get("/api/me/scores/latest", headers=bearer(token)).json()
    assert "数据结构与算法" in page and "15040" not in page
    assert [s["course_code"] for s in api["scores"]] == ["13003"]


def test_withholding_hides_at_once_with_the_fragment_cached(
    client, world: World, django_capture_on_commit_callbacks
):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        token = token_for(world.alice)
        for _ in range(2):
            assert "数据结构与算法" in _dashboard(client).content.decode()
            assert "13003" in client.get("/api/me/scores/latest", headers=bearer(token)).content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            score_correct(
                actor=SYSTEM,
                score=world.unreleased,
                value=88,
                status=Score.Status.WITHHELD,
                reason="违规待查",
            )
        page = _dashboard(client).content.decode()
        api = client.get("/api/me/scores/latest", headers=bearer(token)).content.decode()
    assert "13003" not in page and "数据结构与算法" not in page
    assert "13003" not in api


def test_the_cached_page_carries_each_requests_own_csrf_token(world: World):
    client = Client(enforce_csrf_checks=True)
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        first = _dashboard(client).content.decode()
        second = _dashboard(client).content.decode()
        tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', second)
        assert len(tokens) == 2 and "李明远" in second
        assert re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', first) != tokens
        response = client.post(reverse("portal:logout"), {"csrfmiddlewaretoken": tokens[0]})
    assert response.status_code == 302
    assert _signed_out(_dashboard(client))
