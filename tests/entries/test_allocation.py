"""entries.allocation: deterministic, ≤ 30 per room, one centre per candidate, unplaced reported."""

from __future__ import annotations

import pytest

from tests.entries.seating import AFTER_CLOSE, candidate, centre, grant_entries_manage, paid, staff_actor
from tests.entries.world import CLOSES, EntryWorld
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.core import clock
from zikao.core.errors import NotFound
from zikao.core.models import AuditEvent
from zikao.entries import allocation
from zikao.entries.allocation import RoomSpec, Want, plan_area
from zikao.entries.models import AllocationRun, Entry, SeatAssignment

__all__ = ["grant_entries_manage"]


@pytest.fixture(autouse=True)
def _setup(grant_entries_manage):
    with clock.frozen_at(AFTER_CLOSE):
        yield


def seats(world: EntryWorld) -> dict[tuple[str, str], tuple[str, str, str, int]]:
    """(candidate_no, course) → (centre, room, slot, seat)."""
    return {
        (a.entry.candidate.candidate_no, a.entry.course.code): (
            a.room.centre.code,
            a.room.number,
            a.slot.code,
            a.seat_no,
        )
        for a in SeatAssignment.objects.select_related(
            "entry__candidate", "entry__course", "room__centre", "slot"
        )
    }


# --- the pure planner -------------------------------------------------------------------------


def test_plan_area_is_independent_of_input_order():
    rooms = [(1, [RoomSpec(10, 1, 2), RoomSpec(11, 1, 1)]), (2, [RoomSpec(20, 2, 3)])]
    wants = [Want(i, f"{i % 5:012d}", 100 + i % 2) for i in range(1, 9)]
    first = plan_area(wants, rooms)
    second = plan_area(list(reversed(wants)), rooms)
    assert first.seats == second.seats
    assert first.unplaced == second.unplaced == {}
    assert sorted(first.seats.values()) == sorted(
        [(10, 1), (10, 2), (11, 1), (20, 1), (10, 1), (10, 2), (11, 1), (20, 1)]
    )


def test_plan_area_keeps_a_candidate_at_one_centre_when_the_first_is_full_in_one_slot():
    # centre 1 has 1 seat: candidate A (two slots) takes it in both; B (two slots) fits only at 2.
    rooms = [(1, [RoomSpec(10, 1, 1)]), (2, [RoomSpec(20, 2, 5)])]
    wants = [Want(1, "A", 7), Want(2, "A", 8), Want(3, "B", 7), Want(4, "B", 8), Want(5, "C", 9)]
    plan = plan_area(wants, rooms)
    assert plan.seats == {1: (10, 1), 2: (10, 1), 3: (20, 1), 4: (20, 1), 5: (10, 1)}
    assert plan.split_candidates == []


def test_plan_area_prefers_a_centre_free_in_every_slot_and_reports_unplaced():
    rooms = [(1, [RoomSpec(10, 1, 1)]), (2, [RoomSpec(20, 2, 1)])]
    # A c1/7; B c1/8; C (7, 8): c1 is full in both, c2 free in both → C whole at c2; D (7): none left.
    wants = [
        Want(1, "A", 7),
        Want(2, "B", 8),
        Want(3, "C", 7),
        Want(4, "C", 8),
        Want(5, "D", 7),
        Want(6, "E", None),
    ]
    plan = plan_area(wants, rooms)
    assert plan.seats == {1: (10, 1), 2: (10, 1), 3: (20, 1), 4: (20, 1)}
    assert plan.unplaced == {5: "NO_SEAT", 6: "NO_SLOT"}
    assert plan.split_candidates == []
    # B (7, 8): c1 full in 7 → B whole at c2; C (8) → c1.
    plan = plan_area([Want(1, "A", 7), Want(2, "B", 7), Want(3, "B", 8), Want(4, "C", 8)], rooms)
    assert plan.seats == {1: (10, 1), 2: (20, 1), 3: (20, 1), 4: (10, 1)}


def test_plan_area_splits_a_candidate_across_centres_when_nothing_else_fits():
    rooms = [(1, [RoomSpec(10, 1, 1)]), (2, [RoomSpec(20, 2, 1)])]
    # A takes c1/7 and B takes c2/8; C needs 7 and 8: no centre is free in both → 7 at c2, 8 at c1.
    plan = plan_area(
        [Want(1, "A", 7), Want(2, "B", 8), Want(3, "B", 9), Want(4, "C", 7), Want(5, "C", 8)],
        [(1, [RoomSpec(10, 1, 1)]), (2, [RoomSpec(20, 2, 1)])],
    )
    assert plan.seats[4] == (20, 1)
    plan = plan_area(
        [
            Want(1, "A", 7),
            Want(2, "A2", 8),
            Want(3, "A2", 6),
            Want(4, "B", 6),
            Want(5, "C", 7),
            Want(6, "C", 8),
        ],
        rooms,
    )
    # A c1/7; A2 (6, 8) → c1; B (6): c2; C (7, 8): c1 full 7 and 8, c2 full? no: c2 free in 7 and 8 → c2.
    assert plan.seats[5] == (20, 1) and plan.seats[6] == (20, 1)
    plan = plan_area(
        [
            Want(1, "A", 7),
            Want(2, "B", 8),
            Want(3, "B", 6),
            Want(4, "BB", 8),
            Want(5, "C", 7),
            Want(6, "C", 8),
        ],
        rooms,
    )
    # A c1/7; B (6, 8) c1; BB (8) → c2; C (7, 8): c1 full in both, c2 full in 8 → split: 7 at c2, 8 nowhere.
    assert plan.seats[5] == (20, 1)
    assert plan.unplaced == {6: "NO_SEAT"}
    assert plan.split_candidates == ["C"]


# --- the service ------------------------------------------------------------------------------


def test_allocation_places_everyone_deterministically_and_rerun_replaces(world):
    c1 = centre(world.county, "01", 2, 1)
    centre(world.county, "02", 30)
    people = [candidate(world) for _ in range(4)]
    for who in people:
        paid(world, who, "10001", "10002")
    paid(world, people[0], "10003")
    paid(world, candidate(world), "10003", status=Entry.Status.PENDING_PAYMENT)  # not paid: not placed
    actor = staff_actor(world.city)
    run1 = allocation.allocation_run(actor=actor, sitting=world.sitting)
    first = seats(world)
    nos = sorted(p.candidate_no for p in people)
    assert first == {
        (nos[0], "10001"): ("01", "1", "SAT_AM", 1),
        (nos[0], "10002"): ("01", "1", "SAT_PM", 1),
        (nos[0], "10003"): ("01", "1", "SUN_AM", 1),
        (nos[1], "10001"): ("01", "1", "SAT_AM", 2),
        (nos[1], "10002"): ("01", "1", "SAT_PM", 2),
        (nos[2], "10001"): ("01", "2", "SAT_AM", 1),
        (nos[2], "10002"): ("01", "2", "SAT_PM", 1),
        (nos[3], "10001"): ("02", "1", "SAT_AM", 1),
        (nos[3], "10002"): ("02", "1", "SAT_PM", 1),
    }
    assert run1.report["totals"] == {
        "entries": 9,
        "placed": 9,
        "unplaced": 0,
        "candidates": 4,
        "split_candidates": 0,
    }
    area = run1.report["areas"][0]
    assert area["area_name"] == "玄武区"
    assert area["centres"][0]["code"] == "01" and area["centres"][0]["placed"] == 7
    assert area["centres"][0]["rooms"][0]["by_slot"] == {"SAT_AM": 2, "SAT_PM": 2, "SUN_AM": 1}
    run2 = allocation.allocation_run(actor=actor, sitting=world.sitting)
    assert seats(world) == first
    assert SeatAssignment.objects.count() == 9
    assert set(SeatAssignment.objects.values_list("run", flat=True)) == {run2.pk}
    assert run2.report["replaced"] == 9
    assert AuditEvent.objects.filter(event_type="entries.allocation_run").count() == 2
    # a room taken away: the re-run moves its people, still ≤ its seats
    c1.rooms.filter(number="2").update(active=False)
    allocation.allocation_run(actor=actor, sitting=world.sitting)
    after = seats(world)
    assert after[(nos[2], "10001")] == ("02", "1", "SAT_AM", 1)
    assert after[(nos[3], "10001")] == ("02", "1", "SAT_AM", 2)


def test_rooms_never_hold_more_than_their_seats_and_fill_in_order(world):
    centre(world.county, "01", 30, 30, 5)
    for _ in range(70):
        paid(world, candidate(world), "10001")
    run = allocation.allocation_run(actor=staff_actor(world.province), sitting=world.sitting)
    by_room = {}
    for room, seat in SeatAssignment.objects.values_list("room__number", "seat_no"):
        by_room.setdefault(room, []).append(seat)
    assert {k: sorted(v) for k, v in by_room.items()} == {
        "1": list(range(1, 31)),
        "2": list(range(1, 31)),
        "3": list(range(1, 6)),
    }
    unplaced = run.report["unplaced"]
    assert len(unplaced) == 5 and {u["reason"] for u in unplaced} == {"NO_SEAT"}
    assert run.report["totals"]["placed"] == 65 and run.report["totals"]["unplaced"] == 5
    # the last five by candidate number are the unplaced ones
    last = sorted(SeatAssignment.objects.values_list("entry__candidate__candidate_no", flat=True))[-1]
    assert all(u["candidate_no"] > last for u in unplaced)


def test_inactive_centres_are_not_used_and_entries_without_slot_are_reported(world):
    centre(world.county, "01", 30, active=False)
    centre(world.county, "02", 30)
    who = candidate(world)
    paid(world, who, "10001")
    paid(world, who, "10009")  # not in the timetable: no slot
    run = allocation.allocation_run(actor=staff_actor(world.province), sitting=world.sitting)
    assert seats(world) == {(who.candidate_no, "10001"): ("02", "1", "SAT_AM", 1)}
    assert [(u["course"], u["reason"]) for u in run.report["unplaced"]] == [("10009", "NO_SLOT")]


def test_a_city_allocates_only_its_counties(world):
    centre(world.county, "01", 30)
    centre(world.other_county, "01", 30)
    mine, theirs = candidate(world), candidate(world, area=world.other_county)
    paid(world, mine, "10001")
    paid(world, theirs, "10001")
    run = allocation.allocation_run(actor=staff_actor(world.city), sitting=world.sitting)
    assert set(seats(world)) == {(mine.candidate_no, "10001")}
    assert [a["area_name"] for a in run.report["areas"]] == ["玄武区"]
    allocation.allocation_run(actor=staff_actor(world.other_city), sitting=world.sitting)
    assert set(seats(world)) == {(mine.candidate_no, "10001"), (theirs.candidate_no, "10001")}
    with pytest.raises(NotFound):
        allocation.run_for_staff(staff_actor(world.other_city).user, run.pk)


def test_allocation_refused_before_the_window_closes_and_without_permission(world):
    centre(world.county, "01", 30)
    paid(world, candidate(world), "10001")
    with clock.frozen_at(CLOSES - clock.now().resolution), pytest.raises(allocation.AllocationRefused) as exc:
        allocation.allocation_run(actor=staff_actor(world.province), sitting=world.sitting)
    assert exc.value.code == "ALLOCATION_WINDOW_OPEN"
    for actor in (staff_actor(world.county), staff_actor(world.province, roles=(Role.READ_ONLY,))):
        with pytest.raises(PermissionDenied):
            allocation.allocation_run(actor=actor, sitting=world.sitting)
    assert AllocationRun.objects.count() == 0
    assert SeatAssignment.objects.count() == 0
    assert not AuditEvent.objects.filter(event_type="entries.allocation_run").exists()


def test_cancelled_entries_lose_their_seat_on_rerun(world):
    centre(world.county, "01", 30)
    a, b = candidate(world), candidate(world)
    (entry_a,) = paid(world, a, "10001")
    paid(world, b, "10001")
    actor = staff_actor(world.province)
    allocation.allocation_run(actor=actor, sitting=world.sitting)
    Entry.objects.filter(pk=entry_a.pk).update(status=Entry.Status.CANCELLED)
    allocation.allocation_run(actor=actor, sitting=world.sitting)
    assert seats(world) == {(b.candidate_no, "10001"): ("01", "1", "SAT_AM", 1)}
