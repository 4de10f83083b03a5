"""暂缓发布: an active ScoreWithholding hides a candidate's scores of one sitting from every
channel (portal pages, API, passed courses, record, graduation progress, cached responses),
before and after the release instant; releasing it shows them at once. And the preview."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.api.helpers import bearer, token_for
from tests.factories import CandidateFactory, EntryFactory
from tests.office.conftest import make_staff, offices
from tests.portal.helpers import log_in
from tests.portal.test_records_support import AFTER, BEFORE, EARLIER, RELEASE, SYSTEM, World, build_world
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.core.models import AuditEvent
from zikao.graduation.selectors import graduation_progress
from zikao.scores import cache as score_cache
from zikao.scores.models import ScoreWithholding
from zikao.scores.publication import sitting_publish_early, withholding_create, withholding_release
from zikao.scores.selectors import (
    candidate_passed_courses,
    candidate_score_preview,
    candidate_visible_scores,
    candidate_withheld_sittings,
)

pytestmark = pytest.mark.django_db
OFFICE_FIXTURES = (offices, make_staff)  # fixtures of tests/office/conftest.py used below

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


@pytest.fixture
def manager(offices, make_staff):
    return Actor.staff(make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province))


def channels(client, token) -> dict[str, str]:
    """Every candidate channel's body for alice: pages (incl. the 202604 page) and endpoints."""
    bodies = {name: client.get(reverse(name)).content.decode() for name in PAGES}
    bodies["portal:scores?202604"] = client.get(
        reverse("portal:scores"), {"sitting": "202604"}
    ).content.decode()
    for url in ENDPOINTS:
        response = client.get(url, headers=bearer(token))
        assert response.status_code == 200, url
        bodies[url] = response.content.decode()
    return bodies


def shows_13003(body: str) -> bool:
    return "13003" in body or "数据结构与算法" in body


def cached_codes(candidate) -> set[tuple[str | None, str]]:
    stored = cache.get(score_cache._snapshot_key(candidate.pk))
    return {(s.sitting, s.course_code) for s in stored[2].scores} if stored else set()


def progress_done_codes(client, token) -> set[str]:
    plans = client.get("/api/me/progress", headers=bearer(token)).json()["plans"]
    return {line["code"] for plan in plans for line in plan["done"]}


def withhold(actor, world, **kw):
    return withholding_create(
        actor=actor, candidate=world.alice, sitting=world.s2604, reason=kw.get("reason", "涉嫌违纪，待处理")
    )


# --- every channel ----------------------------------------------------------------------------


def test_a_withheld_candidate_sees_nothing_of_that_sitting_before_at_or_after_the_instant(
    client, world: World, manager, django_capture_on_commit_callbacks
):
    with clock.frozen_at(EARLIER), django_capture_on_commit_callbacks(execute=True):
        withhold(manager, world)
    for instant in (BEFORE, RELEASE, AFTER, AFTER + dt.timedelta(days=400)):
        with clock.frozen_at(instant):
            log_in(client, world.alice)
            token = token_for(world.alice)
            bodies = channels(client, token)
            done = progress_done_codes(client, token)
            passed = {p.course_code for p in candidate_passed_courses(world.alice)}
            progress = {
                code for plan in graduation_progress(world.alice) for code in _fulfilled(plan.evaluation)
            }
        for name, body in bodies.items():
            assert not shows_13003(body), (instant, name)
        assert "13003" not in done and "13003" not in passed and "13003" not in progress
        assert "00023" in passed  # 202510 stays visible: only that sitting is withheld
        assert ("202604", "13003") not in cached_codes(world.alice)
        if instant >= RELEASE:  # (before it, the entry lives only until the instant: ~1 s)
            assert ("202510", "00023") in cached_codes(world.alice)  # the snapshot was really cached


def _fulfilled(evaluation) -> set[str]:
    return {
        code for item in evaluation.items if item.fulfilment is not None for code in item.fulfilment.sources
    }


def test_other_candidates_of_the_sitting_are_not_affected(client, world: World, manager):
    with clock.frozen_at(EARLIER):
        withhold(manager, world)
    with clock.frozen_at(RELEASE):
        assert [(s.sitting, s.course_code, s.value) for s in candidate_visible_scores(world.bob)] == [
            ("202510", "00023", 95),
            ("202604", "02324", 66),
        ]


def test_progress_counts_the_course_only_once_released(
    client, world: World, manager, django_capture_on_commit_callbacks
):
    with clock.frozen_at(AFTER):
        token = token_for(world.alice)
        assert "13003" in progress_done_codes(client, token)  # the plan does count it when visible
        with django_capture_on_commit_callbacks(execute=True):
            w = withhold(manager, world)
        assert "13003" not in progress_done_codes(client, token)
        with django_capture_on_commit_callbacks(execute=True):
            withholding_release(actor=manager, withholding=w, note="违纪嫌疑排除")
        assert "13003" in progress_done_codes(client, token)


def test_cached_responses_lose_the_scores_the_moment_they_are_withheld(
    client, world: World, manager, django_capture_on_commit_callbacks
):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        token = token_for(world.alice)
        before = channels(client, token)
        assert shows_13003(before["portal:dashboard"]) and shows_13003(before["/api/me/scores/latest"])
        assert ("202604", "13003") in cached_codes(world.alice)
        with django_capture_on_commit_callbacks(execute=True):
            withhold(manager, world)
        after = channels(client, token)
    for name, body in after.items():
        assert not shows_13003(body), name
    assert ("202604", "13003") not in cached_codes(world.alice)


def test_releasing_shows_the_scores_at_once_everywhere(
    client, world: World, manager, django_capture_on_commit_callbacks
):
    with clock.frozen_at(EARLIER):
        log_in(client, world.alice)
        token = token_for(world.alice)
        with django_capture_on_commit_callbacks(execute=True):
            w = withhold(manager, world)
    with clock.frozen_at(AFTER):
        assert not any(shows_13003(b) for b in channels(client, token).values())
        with django_capture_on_commit_callbacks(execute=True):
            withholding_release(actor=manager, withholding=w, note="处理完毕，无违纪")
        bodies = channels(client, token)
    for name in (
        "portal:dashboard",
        "portal:scores_all",
        "portal:passed",
        "portal:scores?202604",
        "/api/me/scores",
    ):
        assert shows_13003(bodies[name]), name
    assert ("202604", "13003") in cached_codes(world.alice)
    # the old per-score WITHHELD status still hides 15040 whatever happens to the withholding
    assert not any("15040" in b for b in bodies.values())


def test_released_before_the_instant_the_embargo_still_holds(client, world: World, manager):
    with clock.frozen_at(EARLIER):
        w = withhold(manager, world)
        withholding_release(actor=manager, withholding=w, note="误操作")
    with clock.frozen_at(BEFORE):
        assert [s.sitting for s in candidate_visible_scores(world.alice)] == [
            "202510",
            "202510",
            "202510",
            None,
        ]
    with clock.frozen_at(RELEASE):
        assert ("202604", "13003") in {
            (s.sitting, s.course_code) for s in candidate_visible_scores(world.alice)
        }


def test_publishing_early_keeps_withheld_candidates_hidden(client, world: World, manager):
    with clock.frozen_at(EARLIER):
        withhold(manager, world)
        sitting_publish_early(actor=SYSTEM, sitting=world.s2604)
        assert "13003" not in {s.course_code for s in candidate_visible_scores(world.alice)}
        assert "02324" in {s.course_code for s in candidate_visible_scores(world.bob, sitting="202604")}


def test_visibility_at_an_instant_follows_the_release_of_the_withholding(world: World, manager):
    with clock.frozen_at(AFTER):
        w = withhold(manager, world)
    released_at = AFTER + dt.timedelta(hours=1)
    with clock.frozen_at(released_at):
        withholding_release(actor=manager, withholding=w, note="结案")
    codes = lambda at: {s.course_code for s in candidate_visible_scores(world.alice, at=at)}  # noqa: E731
    assert "13003" not in codes(released_at - dt.timedelta(microseconds=1))
    assert "13003" in codes(released_at)
    assert candidate_withheld_sittings(world.alice, at=released_at - dt.timedelta(microseconds=1)) == {
        "202604"
    }
    assert candidate_withheld_sittings(world.alice, at=released_at) == set()


# --- the services -----------------------------------------------------------------------------


def test_create_and_release_write_history_and_audit(world: World, manager):
    with clock.frozen_at(EARLIER):
        w = withhold(manager, world, reason="  考场违纪待查  ")
    with clock.frozen_at(AFTER):
        released = withholding_release(actor=manager, withholding=w, note=" 结案：不予处理 ")
    row = ScoreWithholding.objects.get()
    assert (
        row.reason,
        row.created_at,
        row.created_by,
        row.released_at,
        row.released_by,
        row.release_note,
    ) == (
        "考场违纪待查",
        EARLIER,
        manager.user,
        AFTER,
        manager.user,
        "结案：不予处理",
    )
    assert released.pk == row.pk
    events = list(AuditEvent.objects.filter(event_type__startswith="score.withholding").order_by("id"))
    assert [(e.event_type, e.candidate_id, e.actor_user) for e in events] == [
        ("score.withholding_created", world.alice.pk, manager.user),
        ("score.withholding_released", world.alice.pk, manager.user),
    ]
    assert events[1].before["released_at"] is None and events[1].after["released_at"] == AFTER.isoformat()


def test_a_second_withholding_after_release_is_allowed(world: World, manager):
    with clock.frozen_at(EARLIER):
        first = withhold(manager, world)
        withholding_release(actor=manager, withholding=first, note="撤销")
        withhold(manager, world, reason="新的线索")
    assert ScoreWithholding.objects.count() == 2
    assert ScoreWithholding.objects.filter(released_at__isnull=True).count() == 1


def test_refusals_change_nothing(world: World, manager):
    stranger = CandidateFactory()
    with clock.frozen_at(EARLIER):
        with pytest.raises(ValidationFailed) as exc:
            withhold(manager, world, reason="   ")
        assert exc.value.code == "WITHHOLDING_REASON_REQUIRED"
        with pytest.raises(DomainError) as exc:
            withholding_create(actor=manager, candidate=stranger, sitting=world.s2604, reason="x")
        assert exc.value.code == "WITHHOLDING_NOT_ENTERED"
        assert not ScoreWithholding.objects.exists()
        assert not AuditEvent.objects.filter(event_type__startswith="score.withholding").exists()
        w = withhold(manager, world)
        with pytest.raises(DomainError) as exc:  # double submit
            withhold(manager, world)
        assert exc.value.code == "WITHHOLDING_ALREADY_ACTIVE"
        with pytest.raises(ValidationFailed) as exc:
            withholding_release(actor=manager, withholding=w, note=" ")
        assert exc.value.code == "WITHHOLDING_NOTE_REQUIRED"
        withholding_release(actor=manager, withholding=w, note="ok")
        with pytest.raises(DomainError) as exc:  # double submit
            withholding_release(actor=manager, withholding=w, note="again")
        assert exc.value.code == "WITHHOLDING_NOT_ACTIVE"
    assert ScoreWithholding.objects.count() == 1
    assert ScoreWithholding.objects.get().release_note == "ok"
    assert AuditEvent.objects.filter(event_type__startswith="score.withholding").count() == 2


def test_an_entered_candidate_without_scores_yet_can_be_withheld(world: World, manager):
    EntryFactory(candidate=world.bob, sitting=world.s2610, course=world.unreleased.course)
    with clock.frozen_at(EARLIER):
        w = withholding_create(actor=manager, candidate=world.bob, sitting=world.s2610, reason="待查")
    assert (w.candidate, w.sitting) == (world.bob, world.s2610)


@pytest.mark.parametrize(
    ("roles", "level"),
    [((Role.READ_ONLY,), "province"), ((Role.SCORE_MANAGER,), "city"), ((Role.CONDUCT_OFFICER,), "province")],
)
def test_staff_without_the_permission_cannot_withhold_or_release(
    offices, make_staff, world, manager, roles, level
):
    user = make_staff(roles=roles, office=getattr(offices, level))
    with clock.frozen_at(EARLIER):
        with pytest.raises(PermissionDenied):
            withhold(Actor.staff(user), world)
        w = withhold(manager, world)
        with pytest.raises(PermissionDenied):
            withholding_release(actor=Actor.staff(user), withholding=w, note="x")
    assert ScoreWithholding.objects.filter(released_at__isnull=True).count() == 1
    assert AuditEvent.objects.filter(event_type__startswith="score.withholding").count() == 1


def test_system_and_candidates_cannot_withhold(world: World):
    for actor in (SYSTEM, Actor.candidate(world.alice)):
        with clock.frozen_at(EARLIER), pytest.raises(PermissionDenied):
            withhold(actor, world)
    assert not ScoreWithholding.objects.exists()


# --- preview ----------------------------------------------------------------------------------


def test_preview_shows_the_future_without_leaking_into_the_candidates_cache(
    client,
    world: World,
    offices,
    make_staff,
):
    user = make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province)
    with clock.frozen_at(EARLIER):
        log_in(client, world.alice)
        preview = candidate_score_preview(user, world.alice, at=RELEASE)
        assert cache.get(score_cache._snapshot_key(world.alice.pk)) is None  # nothing written
        before = candidate_score_preview(user, world.alice, at=BEFORE)
        page = client.get(reverse("portal:dashboard")).content.decode()
    assert ("202604", "13003", 88) in {(s.sitting, s.course_code, s.value) for s in preview.scores}
    assert "15040" not in {s.course_code for s in preview.scores}
    assert "13003" in {p.course_code for p in preview.passed}
    assert [(s.label, s.released, s.withheld) for s in preview.sittings] == [
        ("202604", True, False),
        ("202510", True, False),
    ]
    assert "13003" not in {s.course_code for s in before.scores}
    assert [(s.label, s.released) for s in before.sittings] == [("202604", False), ("202510", True)]
    assert not shows_13003(page)
    assert ("202604", "13003") not in cached_codes(world.alice)


def test_preview_respects_withholding_and_scope(world: World, offices, make_staff, manager):
    with clock.frozen_at(EARLIER):
        withhold(manager, world)
    preview = candidate_score_preview(manager.user, world.alice, at=AFTER)
    assert "13003" not in {s.course_code for s in preview.scores}
    assert next((s.label, s.released, s.withheld) for s in preview.sittings) == ("202604", True, True)
    city_elsewhere = make_staff(roles=(Role.READ_ONLY,), office=offices.other_city)
    with pytest.raises(NotFound):
        candidate_score_preview(city_elsewhere, world.alice, at=AFTER)


@pytest.mark.postgres
def test_two_simultaneous_withholdings_make_one(transactional_db, is_postgres, offices, make_staff):
    from tests.factories import ScoreFactory, SittingFactory
    from tests.scores.test_corrections import race

    if not is_postgres:
        pytest.skip("PostgreSQL only (SQLite serialises writers)")
    sitting = SittingFactory(label="202604", release_at=RELEASE)
    score = ScoreFactory(
        entry__candidate=CandidateFactory(county_office=offices.county), entry__sitting=sitting
    )
    first = Actor.staff(make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province))
    second = Actor.staff(make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province))

    def withhold_as(actor):
        return lambda: withholding_create(
            actor=actor, candidate=score.candidate, sitting=sitting, reason="待查"
        )

    results = race(withhold_as(first), withhold_as(second))
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and getattr(errors[0], "code", None) == "WITHHOLDING_ALREADY_ACTIVE", results
    assert ScoreWithholding.objects.count() == 1
    assert AuditEvent.objects.filter(event_type="score.withholding_created").count() == 1
