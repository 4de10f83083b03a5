"""Warming before a release (`scores.cache.warm_release`, `manage.py warm_release_snapshots`).

What each candidate of a sitting will see at its release instant is computed beforehand and
filed under the release's epoch: never readable before the instant, served from the first
request at it, and dead at once when a score, a withholding or the release itself changes after
the warming. On the demo cache and on Redis.
"""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.api.helpers import bearer, token_for
from tests.office.conftest import make_staff, offices
from tests.portal.helpers import log_in
from tests.portal.test_records_support import AFTER, BEFORE, EARLIER, RELEASE, SYSTEM, World, build_world
from tests.portal.test_release_support import backend, web
from zikao.accounts.permissions import Role
from zikao.candidates.models import Candidate
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.scores import cache as score_cache
from zikao.scores.publication import sitting_publish_early, sitting_release_reschedule, withholding_create
from zikao.scores.services import score_correct

FIXTURES = (backend, web, offices, make_staff)  # imported fixtures used below
LATEST = "/api/me/scores/latest"


@pytest.fixture
def world(db) -> World:
    return build_world()


def warm(world: World, **kwargs) -> score_cache.WarmResult:
    """What the management command does, for alice and bob (the candidates of 202604)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the front doors register their renderers
    candidates = Candidate.objects.filter(pk__in=[world.alice.pk, world.bob.pk]).order_by("pk")
    return score_cache.warm_release(world.s2604, candidates, **kwargs)


def page(client: Client) -> str:
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def latest(client: Client, token: str) -> dict:
    response = client.get(LATEST, headers=bearer(token))
    assert response.status_code == 200
    return response.json()


def signed_in(world: World, web: Client) -> str:
    """alice signed in on the web (`web`) and in the app (the returned token), before T."""
    log_in(web, world.alice)
    return token_for(world.alice)


def test_warmed_values_are_unreadable_before_the_instant_and_served_at_it(web: Client, world: World, backend):
    with clock.frozen_at(EARLIER):
        token = signed_in(world, web)
        assert "数据结构与算法" not in page(web)  # the pre-release page is cached too
        result = warm(world)
        assert "数据结构与算法" not in page(web)
        assert latest(web, token)["sitting"]["label"] == "202510"
        snapshot = score_cache.candidate_score_snapshot(world.alice)
    assert result.candidates == 2 and result.values == 4  # per candidate: page + API JSON
    assert result.epoch == int(RELEASE.timestamp())
    assert "202604" not in {s.sitting for s in snapshot.scores}
    with clock.frozen_at(BEFORE):  # the last instant before the release
        assert "数据结构与算法" not in page(web) and "13003" not in page(web)
        assert latest(web, token)["sitting"]["label"] == "202510"
        assert "202604" not in {s.sitting for s in score_cache.candidate_score_snapshot(world.alice).scores}
    with clock.frozen_at(RELEASE), CaptureQueriesContext(connection) as queries:
        released = page(web)
        answer = latest(web, token)
        at_instant = score_cache.candidate_score_snapshot(world.alice)
    assert "数据结构与算法" in released and ">88<" in released and "15040" not in released
    assert answer["sitting"]["label"] == "202604" and [s["course_code"] for s in answer["scores"]] == [
        "13003"
    ]
    assert ("202604", "13003") in {(s.sitting, s.course_code) for s in at_instant.scores}
    # served from the warmed entries: no score, sitting or entry was read at the instant
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert "scores_score" not in tables and "catalog_sitting" not in tables and "entries_entry" not in tables


def test_a_correction_after_the_warming_is_what_shows(
    web: Client, world: World, backend, django_capture_on_commit_callbacks
):
    with clock.frozen_at(EARLIER):
        token = signed_in(world, web)
        warm(world)
        with django_capture_on_commit_callbacks(execute=True):
            score_correct(actor=SYSTEM, score=world.unreleased, value=93, reason="合分错误")
    with clock.frozen_at(RELEASE):
        released = page(web)
        answer = latest(web, token)
    assert ">93<" in released and ">88<" not in released
    assert [s["value"] for s in answer["scores"]] == [93]


def test_a_withholding_after_the_warming_hides_the_sitting(
    web: Client, world: World, backend, offices, make_staff, django_capture_on_commit_callbacks
):
    manager = Actor.staff(make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province))
    with clock.frozen_at(EARLIER):
        token = signed_in(world, web)
        bob = Client()
        log_in(bob, world.bob)
        warm(world)
        with django_capture_on_commit_callbacks(execute=True):
            withholding_create(
                actor=manager, candidate=world.alice, sitting=world.s2604, reason="涉嫌违纪，待处理"
            )
    with clock.frozen_at(RELEASE):
        released = page(web)
        answer = latest(web, token)
        bobs = page(bob)
    assert "13003" not in released and "数据结构与算法" not in released
    assert all(s["course_code"] != "13003" for s in answer["scores"])
    assert "02324" in bobs  # bob's warmed page is untouched by alice's withholding


def test_a_release_moved_after_the_warming_is_respected(
    web: Client, world: World, backend, django_capture_on_commit_callbacks
):
    later = RELEASE + dt.timedelta(hours=2)
    with clock.frozen_at(EARLIER):
        token = signed_in(world, web)
        warm(world)
        with django_capture_on_commit_callbacks(execute=True):
            sitting_release_reschedule(actor=SYSTEM, sitting=world.s2604, release_at=later)
    for instant in (RELEASE, later - dt.timedelta(microseconds=1)):
        with clock.frozen_at(instant):
            assert "数据结构与算法" not in page(web)
            assert latest(web, token)["sitting"]["label"] == "202510"
    with clock.frozen_at(later):
        assert "数据结构与算法" in page(web)
        assert latest(web, token)["sitting"]["label"] == "202604"


def test_an_early_publication_after_the_warming_shows_at_once(
    web: Client, world: World, backend, django_capture_on_commit_callbacks
):
    with clock.frozen_at(EARLIER):
        token = signed_in(world, web)
        warm(world)
        with django_capture_on_commit_callbacks(execute=True):
            sitting_publish_early(actor=SYSTEM, sitting=world.s2604)
        assert "数据结构与算法" in page(web)
        assert latest(web, token)["sitting"]["label"] == "202604"


def test_warming_refuses_a_sitting_without_a_future_release(world: World, backend):
    with clock.frozen_at(AFTER), pytest.raises(ValueError, match="202604"):
        warm(world)
    with clock.frozen_at(AFTER), pytest.raises(CommandError, match="202604"):
        call_command("warm_release_snapshots", "--sitting", "202604", stdout=StringIO())
    with pytest.raises(CommandError, match="no sitting 209910"):
        call_command("warm_release_snapshots", "--sitting", "209910", stdout=StringIO())
    with pytest.raises(CommandError, match="K/N"):
        call_command("warm_release_snapshots", "--sitting", "202604", "--shard", "4/4", stdout=StringIO())


def test_the_command_warms_every_candidate_of_the_sitting_by_shard(web: Client, world: World, backend):
    out = StringIO()
    with clock.frozen_at(EARLIER):
        log_in(web, world.alice)
        shard = world.alice.pk % 2
        call_command("warm_release_snapshots", "--sitting", "202604", "--shard", f"{shard}/2", stdout=out)
        epoch = int(RELEASE.timestamp())
        alice_key = score_cache._snapshot_key(world.alice.pk, epoch)
        bob_key = score_cache._snapshot_key(world.bob.pk, epoch)
        assert cache.get(alice_key) is not None
        assert (cache.get(bob_key) is None) == (world.bob.pk % 2 != shard)
        call_command("warm_release_snapshots", "--sitting", "202604", stdout=out)
        assert cache.get(bob_key) is not None
    text = out.getvalue()
    assert "renderers: api.latest, portal.dashboard" in text
    assert "warmed 2 candidates for the release epoch of 202604" in text
    with clock.frozen_at(RELEASE), CaptureQueriesContext(connection) as queries:
        released = page(web)
    assert "数据结构与算法" in released
    assert "scores_score" not in " ".join(q["sql"] for q in queries.captured_queries)


def test_the_warmed_page_and_json_are_what_a_request_renders(
    web: Client, world: World, backend, django_capture_on_commit_callbacks
):
    """What the warming files is exactly what the page and endpoint render at the instant
    (each response's own CSRF token aside)."""
    import re

    def same(page: str) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)

    with clock.frozen_at(EARLIER):
        token = signed_in(world, web)
        warm(world)
    with clock.frozen_at(RELEASE):
        warmed_page, warmed_api = page(web), web.get(LATEST, headers=bearer(token)).content
        with django_capture_on_commit_callbacks(execute=True):
            score_cache.candidate_scores_changed(world.alice.pk)  # the warmed entries die
        with CaptureQueriesContext(connection) as queries:
            fresh_page, fresh_api = page(web), web.get(LATEST, headers=bearer(token)).content
    assert "scores_score" in " ".join(q["sql"] for q in queries.captured_queries)  # really rendered anew
    assert same(fresh_page) == same(warmed_page) and "数据结构与算法" in fresh_page
    assert fresh_api == warmed_api


def test_the_command_warms_only_listed_candidates(world: World, backend, tmp_path):
    listed = tmp_path / "ids.txt"
    listed.write_text(f"{world.bob.pk}\n999999999\n")
    out = StringIO()
    with clock.frozen_at(EARLIER):
        call_command(
            "warm_release_snapshots", "--sitting", "202604", "--candidate-ids", str(listed), stdout=out
        )
    epoch = int(RELEASE.timestamp())
    assert cache.get(score_cache._snapshot_key(world.bob.pk, epoch)) is not None
    assert cache.get(score_cache._snapshot_key(world.alice.pk, epoch)) is None
    assert "warmed 1 candidates" in out.getvalue()
    listed.write_text("not a number\n")
    with clock.frozen_at(EARLIER), pytest.raises(CommandError, match="--candidate-ids"):
        call_command("warm_release_snapshots", "--sitting", "202604", "--candidate-ids", str(listed))


def test_the_command_also_warms_the_sign_in_state_of_older_sessions(web: Client, world: World, backend):
    from zikao.accounts import session_cache

    with clock.frozen_at(EARLIER):
        log_in(web, world.alice)
        call_command("warm_release_snapshots", "--sitting", "202604", stdout=StringIO())
        version, state = cache.get(session_cache._state_key(world.alice.pk))
        assert version == cache.get(session_cache._version_key(world.alice.pk))
        assert state.candidate_no == world.alice.candidate_no and state.must_change_password is False
        assert cache.get(session_cache._state_key(world.bob.pk)) is None  # no account: nothing to cache
    with clock.frozen_at(RELEASE), CaptureQueriesContext(connection) as queries:
        released = page(web)
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert "数据结构与算法" in released
    assert "candidates_candidate" not in tables and "accounts_candidateaccount" not in tables


def test_a_state_warmed_before_a_password_change_is_not_used(
    web: Client, world: World, backend, django_capture_on_commit_callbacks
):
    from tests.portal.helpers import TEST_IP, TEST_PASSWORD
    from zikao.accounts.services import candidate_password_change

    with clock.frozen_at(EARLIER):
        log_in(web, world.alice)
        call_command("warm_release_snapshots", "--sitting", "202604", stdout=StringIO())
        with django_capture_on_commit_callbacks(execute=True):
            candidate_password_change(
                actor=Actor.candidate(world.alice, ip=TEST_IP),
                candidate=world.alice,
                current_password=TEST_PASSWORD,
                new_password="Xinmima2026ok",
            )
    with clock.frozen_at(RELEASE):
        response = web.get(reverse("portal:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


def test_the_command_warms_live_api_tokens_but_never_revoked_ones(web: Client, world: World, backend):
    from zikao.accounts import session_cache
    from zikao.accounts.models import ApiToken
    from zikao.accounts.selectors import token_digest

    with clock.frozen_at(EARLIER):
        live, revoked = token_for(world.alice), token_for(world.alice)
        ApiToken.objects.filter(key_digest=token_digest(revoked)).update(revoked_at=clock.now())
        cache.clear() if backend == "locmem" else cache.delete_pattern("*")  # entries of hours ago: gone
        call_command("warm_release_snapshots", "--sitting", "202604", stdout=StringIO())
        assert cache.get(session_cache._token_key(token_digest(live))) is not None
        assert cache.get(session_cache._token_key(token_digest(revoked))) is None
    with clock.frozen_at(RELEASE):
        with CaptureQueriesContext(connection) as queries:
            answer = latest(web, live)
        refused = web.get(LATEST, headers=bearer(revoked))
    assert answer["sitting"]["label"] == "202604"
    assert refused.status_code == 401 and refused.json()["code"] == "TOKEN_INVALID"
    assert queries.captured_queries == []  # token, sign-in state, JSON: all warmed
