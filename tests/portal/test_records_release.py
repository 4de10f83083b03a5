"""The release hour: nothing unreleased or withheld in any page, API response or cached snapshot,
before or at the release instant; exactly on time after it; writes take effect at once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.api.helpers import bearer, token_for
from tests.factories import SHANGHAI
from tests.portal.helpers import log_in
from tests.portal.test_records_support import (
    AFTER,
    BEFORE,
    EARLIER,
    RELEASE,
    SYSTEM,
    World,
    build_world,
)
from zikao.core import clock
from zikao.scores import cache as score_cache
from zikao.scores.models import Score
from zikao.scores.publication import sitting_publish_early, sitting_release_reschedule
from zikao.scores.services import score_correct

PAGES = ["portal:dashboard", "portal:scores", "portal:scores_all", "portal:passed", "portal:record"]
ENDPOINTS = [
    "/api/me/scores/latest",
    "/api/me/scores",
    "/api/me/sittings/202604/scores",
    "/api/me/passed",
    "/api/me/record",
]


@pytest.fixture
def world(db) -> World:
    return build_world()


def cached_codes(candidate) -> set[tuple[str | None, str]]:
    """(sitting, course) of every score inside the candidate's cached snapshot, if any."""
    stored = cache.get(score_cache._snapshot_key(candidate.pk))
    return {(s.sitting, s.course_code) for s in stored[2].scores} if stored else set()


def everything(client, token) -> list[str]:
    bodies = [client.get(reverse(name)).content.decode() for name in PAGES]
    bodies.append(client.get(reverse("portal:scores"), {"sitting": "202604"}).content.decode())
    bodies += [client.get(url, headers=bearer(token)).content.decode() for url in ENDPOINTS]
    return bodies


def test_nothing_unreleased_or_withheld_anywhere_before_and_at_the_instant(client, world: World):
    with clock.frozen_at(EARLIER):
        log_in(client, world.alice)
        token = token_for(world.alice)
    for instant in (EARLIER, BEFORE):
        with clock.frozen_at(instant):
            bodies = everything(client, token)
        for body in bodies:
            assert "13003" not in body and "数据结构与算法" not in body
            assert "15040" not in body and ">91<" not in body and '"value":91' not in body.replace(" ", "")
        assert ("202604", "13003") not in cached_codes(world.alice)
        assert ("202604", "15040") not in cached_codes(world.alice)
        assert ("202510", "00023") in cached_codes(world.alice)  # the snapshot was really cached
    # At the instant (the cache still holds the pre-release snapshot): released, never withheld.
    with clock.frozen_at(RELEASE):
        bodies = everything(client, token)
    assert all(r.status_code == 200 for r in [client.get(reverse("portal:dashboard"))])
    assert "数据结构与算法" in bodies[0] and "88" in bodies[0]
    assert '"course_code":"13003"' in bodies[6].replace(" ", "")
    for body in bodies:
        assert "15040" not in body and ">91<" not in body and '"value":91' not in body.replace(" ", "")
    assert ("202604", "13003") in cached_codes(world.alice)
    assert ("202604", "15040") not in cached_codes(world.alice)


def test_a_reload_after_the_instant_shows_the_new_sitting_without_logging_in_again(client, world: World):
    with clock.frozen_at(BEFORE):
        log_in(client, world.alice)
        token = token_for(world.alice)
        page = client.get(reverse("portal:dashboard")).content.decode()
        api = client.get("/api/me/scores/latest", headers=bearer(token)).json()
    assert "202510考次成绩" in page and "13003" not in page
    assert api["sitting"]["label"] == "202510" and api["pending"][0]["label"] == "202604"
    with clock.frozen_at(RELEASE + dt.timedelta(seconds=1)):
        page = client.get(reverse("portal:dashboard"))
        api = client.get("/api/me/scores/latest", headers=bearer(token))
    assert page.status_code == 200 and "202604考次成绩" in page.content.decode()
    assert "数据结构与算法" in page.content.decode()
    assert api.status_code == 200
    assert api.json()["sitting"] == {
        "label": "202604",
        "released": True,
        "release_at": "2026-05-10T15:00:00+08:00",
    }
    assert [s["course_code"] for s in api.json()["scores"]] == ["13003"]
    assert api.json()["pending"] == []


def test_publishing_early_takes_effect_at_once(client, world: World, django_capture_on_commit_callbacks):
    with clock.frozen_at(EARLIER):
        log_in(client, world.alice)
        token = token_for(world.alice)
        assert "13003" not in client.get(reverse("portal:dashboard")).content.decode()
        assert (
            client.get("/api/me/scores/latest", headers=bearer(token)).json()["sitting"]["label"] == "202510"
        )
        with django_capture_on_commit_callbacks(execute=True):
            sitting_publish_early(actor=SYSTEM, sitting=world.s2604)
        page = client.get(reverse("portal:dashboard")).content.decode()
        api = client.get("/api/me/scores/latest", headers=bearer(token)).json()
    assert "202604考次成绩" in page and "数据结构与算法" in page and "15040" not in page
    assert api["sitting"]["label"] == "202604"
    assert [s["course_code"] for s in api["scores"]] == ["13003"]


def test_moving_the_release_later_takes_effect_at_once(
    client, world: World, django_capture_on_commit_callbacks
):
    later = dt.datetime(2026, 5, 10, 18, 0, tzinfo=SHANGHAI)
    with clock.frozen_at(EARLIER):
        log_in(client, world.alice)
        client.get(reverse("portal:dashboard"))
        with django_capture_on_commit_callbacks(execute=True):
            sitting_release_reschedule(actor=SYSTEM, sitting=world.s2604, release_at=later)
        notice = client.get(reverse("portal:scores"), {"sitting": "202604"}).content.decode()
    assert "202604考次成绩将于 2026-05-10 18:00 发布。" in notice
    with clock.frozen_at(AFTER):
        page = client.get(reverse("portal:dashboard")).content.decode()
    assert "13003" not in page and "202510考次成绩" in page
    with clock.frozen_at(later):
        assert "数据结构与算法" in client.get(reverse("portal:dashboard")).content.decode()


def test_a_correction_after_release_is_shown_at_once(
    client, world: World, django_capture_on_commit_callbacks
):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        token = token_for(world.alice)
        assert "88" in client.get(reverse("portal:dashboard")).content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            score_correct(actor=SYSTEM, score=world.unreleased, value=93, reason="合分错误")
        page = client.get(reverse("portal:dashboard")).content.decode()
        api = client.get("/api/me/sittings/202604/scores", headers=bearer(token)).json()
    assert ">93<" in page and ">88<" not in page
    assert [(s["course_code"], s["value"]) for s in api["scores"]] == [("13003", 93)]


def test_withholding_after_release_hides_the_score_at_once(
    client, world: World, django_capture_on_commit_callbacks
):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        token = token_for(world.alice)
        assert "数据结构与算法" in client.get(reverse("portal:dashboard")).content.decode()
        assert cached_codes(world.alice)
        with django_capture_on_commit_callbacks(execute=True):
            score_correct(
                actor=SYSTEM,
                score=world.unreleased,
                value=88,
                status=Score.Status.WITHHELD,
                reason="违规待查",
            )
        bodies = everything(client, token)
    for body in bodies:
        assert "13003" not in body and "数据结构与算法" not in body
    assert ("202604", "13003") not in cached_codes(world.alice)


@pytest.mark.parametrize("evict", ["releases", "candidate", "all"])
def test_lost_version_tokens_never_revive_an_old_snapshot(
    world: World, evict, django_capture_on_commit_callbacks
):
    """An evicted token (Redis LRU, restart) is replaced by a fresh random one: the snapshot is
    recomputed, so a correction committed meanwhile can never be hidden behind an old entry."""
    with clock.frozen_at(AFTER):
        first = score_cache.candidate_score_snapshot(world.alice)
        Score.objects.filter(pk=world.unreleased.pk).update(value=99)  # behind the services' back
        keys = {
            "releases": [score_cache.RELEASES_VERSION_KEY],
            "candidate": [score_cache._candidate_version_key(world.alice.pk)],
            "all": [score_cache.RELEASES_VERSION_KEY, score_cache._candidate_version_key(world.alice.pk)],
        }[evict]
        assert score_cache.candidate_score_snapshot(world.alice) is not None
        cache.delete_many(keys)
        second = score_cache.candidate_score_snapshot(world.alice)
    assert [s.value for s in first.scores_of("202604")] == [88]
    assert [s.value for s in second.scores_of("202604")] == [99]


def test_snapshot_interval_and_timeout_stop_at_the_next_release(world: World):
    with clock.frozen_at(EARLIER):
        snapshot = score_cache.candidate_score_snapshot(world.alice)
    assert snapshot.valid_from == dt.datetime(2025, 11, 20, 15, tzinfo=SHANGHAI)
    assert snapshot.valid_until == RELEASE
    assert snapshot.valid_at(BEFORE) and not snapshot.valid_at(RELEASE)
    with clock.frozen_at(AFTER):
        after = score_cache.candidate_score_snapshot(world.alice)
    assert (after.valid_from, after.valid_until) == (RELEASE, None)
    # bob's snapshot: 202610 is not his, so only his own sittings bound it.
    with clock.frozen_at(AFTER):
        assert score_cache.candidate_score_snapshot(world.bob).valid_until is None


def test_a_cache_hit_makes_no_database_query(world: World, django_assert_num_queries):
    with clock.frozen_at(AFTER):
        score_cache.candidate_score_snapshot(world.alice)
        with django_assert_num_queries(0):
            snapshot = score_cache.candidate_score_snapshot(world.alice)
    assert [s.course_code for s in snapshot.scores_of("202604")] == ["13003"]


def test_a_staff_preview_in_the_future_does_not_leak_into_the_present(world: World):
    """A snapshot computed under a frozen future clock is never served at an earlier instant."""
    with clock.frozen_at(AFTER):
        assert score_cache.candidate_score_snapshot(world.alice).scores_of("202604")
    with clock.frozen_at(BEFORE):
        assert score_cache.candidate_score_snapshot(world.alice).scores_of("202604") == []
