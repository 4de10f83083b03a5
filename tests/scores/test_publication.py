"""Timed publication: the release instant (no one pressing a button), moving it, publishing
early, the bookkeeping command, permissions of the services."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from tests.factories import SHANGHAI, CandidateFactory, CourseFactory, ScoreFactory, SittingFactory
from tests.office.conftest import make_staff, offices
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, ValidationFailed
from zikao.core.models import AuditEvent
from zikao.scores import rules
from zikao.scores.publication import release_due_sittings, sitting_publish_early, sitting_release_reschedule
from zikao.scores.selectors import candidate_visible_scores, sitting_release, sittings_publication_overview
from zikao.scores.tasks import release_due_sittings as release_task

pytestmark = pytest.mark.django_db
OFFICE_FIXTURES = (offices, make_staff)  # fixtures of tests/office/conftest.py used below
RELEASE = dt.datetime(2026, 11, 28, 15, 0, tzinfo=SHANGHAI)
BEFORE = RELEASE - dt.timedelta(microseconds=1)
SYSTEM = Actor.system("test")


@pytest.fixture
def sitting():
    return SittingFactory(label="202610", first_day=dt.date(2026, 10, 24), release_at=RELEASE)


@pytest.fixture
def candidate_with_score(sitting):
    candidate = CandidateFactory()
    ScoreFactory(
        entry__candidate=candidate, entry__sitting=sitting, entry__course=CourseFactory(code="02324")
    )
    return candidate


def _snapshot(sitting: Sitting) -> tuple:
    sitting.refresh_from_db()
    return sitting.release_at, sitting.published_at


# --- the instant -------------------------------------------------------------------------------


def test_scores_appear_exactly_at_the_release_instant_with_nothing_run(candidate_with_score, sitting):
    with clock.frozen_at(BEFORE):
        assert candidate_visible_scores(candidate_with_score) == []
        assert sitting_release(sitting).released is False
    with clock.frozen_at(RELEASE):
        assert [s.value for s in candidate_visible_scores(candidate_with_score)] == [75]
        assert sitting_release(sitting).released is True
    sitting.refresh_from_db()
    assert sitting.published_at is None  # nobody ran anything
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("release_at", "published_at", "now", "expected"),
    [
        (None, None, RELEASE, rules.RELEASE_UNSCHEDULED),
        (RELEASE, None, BEFORE, rules.RELEASE_SCHEDULED),
        (RELEASE, None, RELEASE, rules.RELEASE_RELEASED),
        (RELEASE, RELEASE, RELEASE, rules.RELEASE_RELEASED),  # stamped by release_due_sittings
        (RELEASE, BEFORE, BEFORE, rules.RELEASE_PUBLISHED_EARLY),
        (None, BEFORE, RELEASE, rules.RELEASE_PUBLISHED_EARLY),
    ],
)
def test_release_state(release_at, published_at, now, expected):
    assert rules.release_state(release_at=release_at, published_at=published_at, now=now) == expected


def test_seconds_until_rounds_up_and_stops_at_zero():
    assert rules.seconds_until(RELEASE, now=BEFORE) == 1
    assert rules.seconds_until(RELEASE, now=RELEASE - dt.timedelta(days=1, seconds=5)) == 86405
    assert rules.seconds_until(RELEASE, now=RELEASE) == 0
    assert rules.seconds_until(None, now=RELEASE) is None


def test_overview_counts_and_states(sitting):
    SittingFactory(
        label="202604",
        first_day=dt.date(2026, 4, 11),
        release_at=dt.datetime(2026, 5, 10, 15, tzinfo=SHANGHAI),
    )
    SittingFactory(label="202701", first_day=dt.date(2027, 1, 9), release_at=None)
    with clock.frozen_at(RELEASE - dt.timedelta(hours=1)):
        rows = sittings_publication_overview()
    assert [(r.sitting.label, r.state, r.seconds_to_release) for r in rows] == [
        ("202701", "unscheduled", None),
        ("202610", "scheduled", 3600),
        ("202604", "released", 0),
    ]


# --- publish early / reschedule ---------------------------------------------------------------


def test_publish_early_by_province_score_manager(offices, make_staff, sitting, candidate_with_score):
    user = make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province)
    now = RELEASE - dt.timedelta(hours=3)
    with clock.frozen_at(now):
        sitting_publish_early(actor=Actor.staff(user), sitting=sitting)
        assert [s.value for s in candidate_visible_scores(candidate_with_score)] == [75]
        with pytest.raises(DomainError) as exc:  # double submit
            sitting_publish_early(actor=Actor.staff(user), sitting=sitting)
    assert exc.value.code == "SITTING_ALREADY_RELEASED"
    assert _snapshot(sitting) == (RELEASE, now)
    event = AuditEvent.objects.get()
    assert (event.event_type, event.actor_user, event.after["published_at"]) == (
        "sitting.published_early",
        user,
        now.isoformat(),
    )


@pytest.mark.parametrize(
    ("roles", "level"),
    [
        ((Role.READ_ONLY,), "province"),
        ((Role.SCORE_MANAGER,), "city"),
        ((Role.SCORE_MANAGER,), "county"),
        ((), "province"),
    ],
)
def test_publication_services_refuse_staff_without_the_permission(offices, make_staff, sitting, roles, level):
    user = make_staff(roles=roles, office=getattr(offices, level))
    with clock.frozen_at(RELEASE - dt.timedelta(days=1)):
        with pytest.raises(PermissionDenied):
            sitting_publish_early(actor=Actor.staff(user), sitting=sitting)
        with pytest.raises(PermissionDenied):
            sitting_release_reschedule(
                actor=Actor.staff(user), sitting=sitting, release_at=RELEASE + dt.timedelta(hours=1)
            )
    assert _snapshot(sitting) == (RELEASE, None)
    assert not AuditEvent.objects.exists()


def test_candidates_and_the_public_can_never_publish(sitting):
    for actor in (Actor.candidate(CandidateFactory()), Actor.public("203.0.113.1")):
        with pytest.raises(PermissionDenied):
            sitting_publish_early(actor=actor, sitting=sitting)
    assert _snapshot(sitting) == (RELEASE, None)


def test_reschedule_moves_a_future_release(sitting, candidate_with_score):
    later = RELEASE + dt.timedelta(hours=2)
    with clock.frozen_at(RELEASE - dt.timedelta(days=1)):
        sitting_release_reschedule(actor=SYSTEM, sitting=sitting, release_at=later)
        sitting_release_reschedule(actor=SYSTEM, sitting=sitting, release_at=later)  # same: no-op
    assert _snapshot(sitting) == (later, None)
    assert AuditEvent.objects.filter(event_type="sitting.release_rescheduled").count() == 1
    with clock.frozen_at(RELEASE):
        assert candidate_visible_scores(candidate_with_score) == []
    with clock.frozen_at(later):
        assert len(candidate_visible_scores(candidate_with_score)) == 1


@pytest.mark.parametrize(
    ("now", "new", "code"),
    [
        (RELEASE - dt.timedelta(days=1), RELEASE - dt.timedelta(days=2), "SITTING_RELEASE_IN_PAST"),
        (RELEASE - dt.timedelta(days=1), RELEASE - dt.timedelta(days=1), "SITTING_RELEASE_IN_PAST"),
        (RELEASE, RELEASE + dt.timedelta(days=1), "SITTING_ALREADY_RELEASED"),
        (RELEASE + dt.timedelta(days=1), RELEASE - dt.timedelta(days=3), "SITTING_ALREADY_RELEASED"),
        (RELEASE - dt.timedelta(days=1), dt.datetime(2026, 12, 1, 15, 0), "SITTING_RELEASE_INVALID"),
    ],
)
def test_reschedule_refusals_change_nothing(sitting, now, new, code):
    with clock.frozen_at(now), pytest.raises(DomainError) as exc:
        sitting_release_reschedule(actor=SYSTEM, sitting=sitting, release_at=new)
    assert exc.value.code == code
    assert _snapshot(sitting) == (RELEASE, None)
    assert not AuditEvent.objects.exists()


def test_reschedule_of_an_early_published_sitting_is_refused(sitting):
    with clock.frozen_at(RELEASE - dt.timedelta(days=1)):
        sitting_publish_early(actor=SYSTEM, sitting=sitting)
        with pytest.raises(DomainError) as exc:
            sitting_release_reschedule(
                actor=SYSTEM, sitting=sitting, release_at=RELEASE + dt.timedelta(days=1)
            )
    assert exc.value.code == "SITTING_ALREADY_RELEASED"
    assert _snapshot(sitting) == (RELEASE, RELEASE - dt.timedelta(days=1))


def test_a_sitting_without_time_can_be_scheduled(candidate_with_score):
    unscheduled = SittingFactory(label="202701", first_day=dt.date(2027, 1, 9), release_at=None)
    when = dt.datetime(2027, 2, 20, 15, tzinfo=SHANGHAI)
    with clock.frozen_at(when - dt.timedelta(days=5)):
        sitting_release_reschedule(actor=SYSTEM, sitting=unscheduled, release_at=when)
    assert _snapshot(unscheduled) == (when, None)
    event = AuditEvent.objects.get()
    assert (event.before, event.after) == (
        {"release_at": None, "published_at": None},
        {"release_at": when.isoformat(), "published_at": None},
    )


def test_reschedule_with_a_naive_value_is_a_validation_error(sitting):
    with clock.frozen_at(RELEASE - dt.timedelta(days=1)), pytest.raises(ValidationFailed):
        sitting_release_reschedule(actor=SYSTEM, sitting=sitting, release_at="2026-12-01 15:00")  # type: ignore[arg-type]


# --- release_due_sittings ---------------------------------------------------------------------


def test_release_due_sittings_stamps_the_release_time_once(sitting):
    early = SittingFactory(
        label="202604", first_day=dt.date(2026, 4, 11), release_at=RELEASE - dt.timedelta(days=200)
    )
    future = SittingFactory(
        label="202701", first_day=dt.date(2027, 1, 9), release_at=RELEASE + dt.timedelta(days=60)
    )
    SittingFactory(label="202707", first_day=dt.date(2027, 7, 3), release_at=None)
    with clock.frozen_at(BEFORE):
        assert [s.label for s in release_due_sittings()] == ["202604"]
    with clock.frozen_at(RELEASE):
        assert [s.label for s in release_due_sittings()] == ["202610"]
        assert release_due_sittings() == []  # idempotent
    assert _snapshot(early) == (RELEASE - dt.timedelta(days=200), RELEASE - dt.timedelta(days=200))
    assert _snapshot(sitting) == (RELEASE, RELEASE)  # the release instant, not when it ran
    assert _snapshot(future) == (RELEASE + dt.timedelta(days=60), None)
    events = list(AuditEvent.objects.order_by("id").values_list("event_type", "subject_id", "actor_kind"))
    assert events == [
        ("sitting.release_recorded", str(early.pk), "system"),
        ("sitting.release_recorded", str(sitting.pk), "system"),
    ]


def test_release_due_sittings_never_moves_visibility_or_touches_the_cache(
    sitting, candidate_with_score, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from zikao.scores import cache as score_cache

    with clock.frozen_at(RELEASE + dt.timedelta(minutes=1)):
        snapshot = score_cache.candidate_score_snapshot(candidate_with_score)
        tokens = cache.get_many([score_cache.RELEASES_VERSION_KEY])
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            release_due_sittings()
        assert callbacks == []  # nothing invalidated, nothing warmed
        assert cache.get_many([score_cache.RELEASES_VERSION_KEY]) == tokens
        assert score_cache.candidate_score_snapshot(candidate_with_score) == snapshot
    assert sitting.effective_release_at == RELEASE
    sitting.refresh_from_db()
    assert sitting.effective_release_at == RELEASE


def test_release_due_sittings_refuses_a_staff_actor_without_permission(offices, make_staff, sitting):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.province)
    with clock.frozen_at(RELEASE), pytest.raises(PermissionDenied):
        release_due_sittings(actor=Actor.staff(user))
    assert _snapshot(sitting) == (RELEASE, None)


def test_management_command_and_celery_task(sitting):
    out = StringIO()
    with clock.frozen_at(BEFORE):
        call_command("release_due_sittings", stdout=out)
    assert out.getvalue() == "no sitting due\n"
    out = StringIO()
    with clock.frozen_at(RELEASE):
        call_command("release_due_sittings", stdout=out)
    assert out.getvalue() == "recorded the release of 1 sitting(s): 202610\n"
    later = SittingFactory(
        label="202701", first_day=dt.date(2027, 1, 9), release_at=RELEASE + dt.timedelta(days=1)
    )
    with clock.frozen_at(RELEASE + dt.timedelta(days=2)):
        assert release_task.delay().get() == ["202701"]
    assert _snapshot(later) == (RELEASE + dt.timedelta(days=1), RELEASE + dt.timedelta(days=1))


def test_beat_schedule_runs_every_minute():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["scores-release-due-sittings"]
    assert entry == {"task": "zikao.scores.tasks.release_due_sittings", "schedule": 60.0}
