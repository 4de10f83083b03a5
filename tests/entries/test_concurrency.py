"""Races on PostgreSQL: many candidates for the last seats, one candidate submitting twice.

Each thread has its own database connection (Django's connections are per thread) and commits
for real (`transaction=True`); a barrier releases them together. Skipped on SQLite, whose
single writer serialises everything anyway (its path is covered by test_services.py).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from tests.entries.world import DURING, EntryWorld, build_entry_world
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError
from zikao.entries import rules, services
from zikao.entries.models import AreaSlotCapacity, Entry, EntrySubmission

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pg_world(is_postgres) -> EntryWorld:
    if not is_postgres:
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://…)")
    return build_entry_world()


def race(calls) -> list:
    """Run every call in its own thread, all released at once; the outcome of each, in order:
    ("ok", result) or (error code, fields)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            with clock.frozen_at(DURING):
                barrier.wait(timeout=60)
                outcomes[index] = ("ok", call())
        except DomainError as error:
            outcomes[index] = (error.code, error.fields)
        except Exception as error:
            outcomes[index] = ("crash", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert all(not t.is_alive() for t in threads)
    return outcomes


def enter_call(world: EntryWorld, candidate, codes, key=None):
    def call():
        return services.entries_create(
            actor=Actor.candidate(candidate),
            candidate=candidate,
            sitting=world.sitting,
            course_codes=codes,
            area=world.county.pk,
            idempotency_key=key,
        )

    return call


def test_forty_candidates_race_for_the_last_ten_seats(pg_world: EntryWorld):
    world = pg_world
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SAT_AM").pk).update(capacity=30, taken=20)
    candidates = [world.candidate() for _ in range(40)]
    outcomes = race([enter_call(world, c, ["10001"]) for c in candidates])
    assert Counter(o[0] for o in outcomes) == {"ok": 10, rules.ENTRY_AREA_FULL: 30}
    assert world.counter(world.county, "SAT_AM").taken == 30
    assert Entry.objects.filter(sitting=world.sitting, course__code="10001").count() == 10
    winners = {o[1].entries[0].candidate_id for o in outcomes if o[0] == "ok"}
    assert len(winners) == 10
    # The losers were told where seats are left.
    full = [o[1] for o in outcomes if o[0] == rules.ENTRY_AREA_FULL]
    assert all([a["name"] for a in f["areas"]] == ["秦淮区", "姑苏区"] for f in full)


def test_all_or_nothing_under_a_race(pg_world: EntryWorld):
    """SAT_AM has 15 seats left, SAT_PM 6: whoever misses SAT_PM keeps no SAT_AM seat."""
    world = pg_world
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SAT_AM").pk).update(capacity=15)
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SAT_PM").pk).update(capacity=6)
    candidates = [world.candidate() for _ in range(20)]
    outcomes = race([enter_call(world, c, ["10001", "10002"]) for c in candidates])
    assert Counter(o[0] for o in outcomes) == {"ok": 6, rules.ENTRY_AREA_FULL: 14}
    assert world.taken() == {"SAT_AM": 6, "SAT_PM": 6, "SUN_AM": 0, "SUN_PM": 0}
    assert Entry.objects.filter(sitting=world.sitting).count() == 12


def test_one_candidate_double_submit_enters_once(pg_world: EntryWorld):
    world = pg_world
    outcomes = race([enter_call(world, world.alice, ["10001", "10002"], key=f"k{i}") for i in range(8)])
    codes = Counter(o[0] for o in outcomes)
    assert codes == {"ok": 1, rules.ENTRY_DUPLICATE: 7}
    assert sorted(
        Entry.objects.filter(candidate=world.alice, sitting=world.sitting).values_list(
            "course__code", flat=True
        )
    ) == ["10001", "10002"]
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 1, "SUN_AM": 0, "SUN_PM": 0}


def test_one_candidate_same_key_race_returns_one_result(pg_world: EntryWorld):
    world = pg_world
    outcomes = race([enter_call(world, world.alice, ["10001"], key="same") for _ in range(8)])
    assert Counter(o[0] for o in outcomes) == {"ok": 8}
    assert Counter(o[1].replayed for o in outcomes) == {False: 1, True: 7}
    assert len({o[1].entries[0].pk for o in outcomes}) == 1
    assert EntrySubmission.objects.count() == 1
    assert world.taken()["SAT_AM"] == 1


def test_one_candidate_racing_into_the_maximum(pg_world: EntryWorld):
    """Four requests of one course each, maximum 2: exactly two pass, whatever the order."""
    world = pg_world
    from zikao.catalog.models import ProvincePolicy

    ProvincePolicy.objects.update(max_courses_per_sitting=2)
    outcomes = race([enter_call(world, world.alice, [code]) for code in ("10001", "10002", "10003", "10006")])
    assert Counter(o[0] for o in outcomes) == {"ok": 2, rules.ENTRY_MAX_COURSES: 2}
    assert Entry.objects.filter(candidate=world.alice, sitting=world.sitting).count() == 2
    assert sum(world.taken().values()) == 2


def test_cancel_and_expiry_race_give_the_seat_back_once(pg_world: EntryWorld):
    world = pg_world
    with clock.frozen_at(DURING):
        entries = services.entries_create(
            actor=Actor.candidate(world.alice),
            candidate=world.alice,
            sitting=world.sitting,
            course_codes=["10001"],
            area=world.county,
        ).entries
    entry = entries[0]

    def cancel():
        return services.entry_cancel(
            actor=Actor.candidate(world.alice), candidate=world.alice, entry=entry.pk
        )

    def sweep():
        return services.release_seats([Entry.objects.get(pk=entry.pk)], reason="unpaid")

    outcomes = race([cancel, sweep, sweep, cancel])
    assert all(o[0] in ("ok", rules.ENTRY_ALREADY_CANCELLED) for o in outcomes), outcomes
    assert world.counter(world.county, "SAT_AM").taken == 0
    assert Entry.objects.get(pk=entry.pk).status == Entry.Status.CANCELLED
