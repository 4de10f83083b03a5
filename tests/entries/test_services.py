"""entries.services: entering, swapping, moving area, cancelling — every rule through the service,
all or nothing, idempotency, seats given back exactly once, hooks, rate limits, permissions."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.entries.world import BEFORE_OPEN, CLOSES, DURING, EntryWorld
from tests.factories import SHANGHAI, EntryFactory, StaffFactory
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import ROLE_PERMISSIONS, Perm, PermissionDenied, Role
from zikao.candidates.models import Candidate
from zikao.catalog.models import ProvincePolicy, Sitting
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import NotFound, ValidationFailed
from zikao.core.models import AuditEvent
from zikao.core.ratelimit import Limit
from zikao.entries import rules, services
from zikao.entries.models import AreaSlotCapacity, Entry, EntrySettings, EntrySubmission


@pytest.fixture(autouse=True)
def _during():
    with clock.frozen_at(DURING):
        yield


def enter(world: EntryWorld, candidate: Candidate, codes, *, area=None, key=None, actor=None):
    return services.entries_create(
        actor=actor or world.actor(candidate),
        candidate=candidate,
        sitting=world.sitting,
        course_codes=codes,
        area=area if area is not None else world.county,
        idempotency_key=key,
    )


def state(world: EntryWorld) -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        sorted(Entry.objects.values_list("pk", "status", "area_id", "course__code")),
        sorted(AreaSlotCapacity.objects.values_list("pk", "capacity", "taken")),
        AuditEvent.objects.count(),
        EntrySubmission.objects.count(),
    )


def refused(code: str, call, world: EntryWorld):
    before = state(world)
    with pytest.raises(services.EntryRefused) as info:
        call()
    assert info.value.code == code
    assert state(world) == before
    return info.value


# --- entering --------------------------------------------------------------------------------


def test_enter_two_courses(world: EntryWorld):
    result = enter(world, world.alice, ["10002", "10001"])
    entries = result.entries
    assert [e.course.code for e in entries] == ["10001", "10002"]  # in slot order
    assert {e.status for e in entries} == {Entry.Status.PENDING_PAYMENT}
    assert {e.fee_fen for e in entries} == {4500}
    assert {e.hold_expires_at for e in entries} == {DURING + dt.timedelta(minutes=30)}
    assert {e.area_id for e in entries} == {world.county.pk}
    assert [e.slot.code for e in entries] == ["SAT_AM", "SAT_PM"]
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 1, "SUN_AM": 0, "SUN_PM": 0}
    assert world.taken(world.sibling) == {"SAT_AM": 0, "SAT_PM": 0, "SUN_AM": 0, "SUN_PM": 0}
    event = AuditEvent.objects.get(event_type="entries.entered")
    assert event.candidate_id == world.alice.pk
    assert event.actor_kind == "candidate"
    assert event.after["area"] == world.county.pk
    assert [e["course"] for e in event.after["entries"]] == ["10001", "10002"]
    assert result.replayed is False


def test_payment_hold_from_the_sitting_settings(world: EntryWorld):
    EntrySettings.objects.create(sitting=world.sitting, payment_hold_minutes=45)
    entry = enter(world, world.alice, ["10001"]).entries[0]
    assert entry.hold_expires_at == DURING + dt.timedelta(minutes=45)


def test_no_fee_confirms_at_once(world: EntryWorld):
    ProvincePolicy.objects.update(fee_per_course_fen=0)
    entry = enter(world, world.alice, ["10001"]).entries[0]
    assert (entry.status, entry.fee_fen, entry.hold_expires_at) == (Entry.Status.CONFIRMED, 0, None)


def test_window_not_open_yet(world: EntryWorld):
    with clock.frozen_at(BEFORE_OPEN):
        error = refused(rules.ENTRY_WINDOW_CLOSED, lambda: enter(world, world.alice, ["10001"]), world)
    assert error.fields["state"] == "not_open"
    assert error.status == 422


def test_window_closed(world: EntryWorld):
    with clock.frozen_at(CLOSES):
        error = refused(rules.ENTRY_WINDOW_CLOSED, lambda: enter(world, world.alice, ["10001"]), world)
    assert error.fields["state"] == "closed"


def test_sitting_without_window(world: EntryWorld):
    Sitting.objects.filter(pk=world.sitting.pk).update(entry_opens_at=None, entry_closes_at=None)
    error = refused(rules.ENTRY_WINDOW_CLOSED, lambda: enter(world, world.alice, ["10001"]), world)
    assert error.fields["state"] == "unset"


def test_the_window_is_read_fresh(world: EntryWorld):
    """A sitting object loaded before the office closed the window does not keep it open."""
    stale = Sitting.objects.get(pk=world.sitting.pk)
    Sitting.objects.filter(pk=world.sitting.pk).update(entry_closes_at=DURING - dt.timedelta(minutes=1))
    before = state(world)
    with pytest.raises(services.EntryRefused) as info:
        services.entries_create(
            actor=world.actor(world.alice),
            candidate=world.alice,
            sitting=stale,
            course_codes=["10001"],
            area=world.county,
        )
    assert info.value.code == rules.ENTRY_WINDOW_CLOSED
    assert state(world) == before


@pytest.mark.parametrize(
    ("code", "course"),
    [
        (rules.ENTRY_COURSE_NOT_IN_PLAN, "10008"),
        (rules.ENTRY_COURSE_NOT_OFFERED, "10009"),
        (rules.ENTRY_ALREADY_PASSED, "10012"),
        (rules.ENTRY_THEORY_NOT_PASSED, "10004"),
        (rules.ENTRY_THESIS_NOT_YET, "10010"),
        (rules.ENTRY_PRECONDITION_NOT_MET, "10011"),
    ],
)
def test_course_rules(world: EntryWorld, code, course):
    error = refused(code, lambda: enter(world, world.alice, ["10001", course]), world)
    assert error.fields["course"] == course
    assert [r["code"] for r in error.fields["refusals"]] == [code]
    assert error.status == 422


def test_a_course_unknown_everywhere_is_not_in_plan(world: EntryWorld):
    refused(rules.ENTRY_COURSE_NOT_IN_PLAN, lambda: enter(world, world.alice, ["77777"]), world)


def test_practice_after_its_theory_passed(world: EntryWorld):
    world.pass_course(world.alice, "10001")
    entry = enter(world, world.alice, ["10004"]).entries[0]
    assert entry.course.code == "10004"


def test_a_pass_not_yet_released_does_not_count(world: EntryWorld):
    """Passes come only from the visible scores: an unreleased 10001 pass leaves 10004 blocked."""
    Sitting.objects.filter(pk=world.earlier.pk).update(release_at=DURING + dt.timedelta(days=1))
    refused(rules.ENTRY_THEORY_NOT_PASSED, lambda: enter(world, world.alice, ["10004"]), world)
    # ...and 10012 (passed there) may be entered again, as far as the candidate can see.
    assert enter(world, world.alice, ["10012"]).entries[0].course.code == "10012"


def test_thesis_once_everything_else_is_passed(world: EntryWorld):
    for code in ("10001", "10002", "10003", "10004", "10005", "10006", "10009", "10011"):
        world.pass_course(world.alice, code)
    assert enter(world, world.alice, ["10010"]).entries[0].course.code == "10010"


def test_slot_clash_in_one_request(world: EntryWorld):
    error = refused(rules.ENTRY_SLOT_CLASH, lambda: enter(world, world.alice, ["10001", "10005"]), world)
    assert error.fields["course"] == "10005"


def test_slot_clash_with_an_earlier_entry(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    refused(rules.ENTRY_SLOT_CLASH, lambda: enter(world, world.alice, ["10005"]), world)


def test_duplicate(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    error = refused(rules.ENTRY_DUPLICATE, lambda: enter(world, world.alice, ["10001"]), world)
    assert error.status == 409


def test_a_cancelled_course_can_be_entered_again(world: EntryWorld):
    entry = enter(world, world.alice, ["10001"]).entries[0]
    services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entry)
    again = enter(world, world.alice, ["10001"]).entries[0]
    assert again.pk != entry.pk
    assert world.taken()["SAT_AM"] == 1


def test_max_courses(world: EntryWorld):
    ProvincePolicy.objects.update(max_courses_per_sitting=2)
    enter(world, world.alice, ["10001"])
    error = refused(rules.ENTRY_MAX_COURSES, lambda: enter(world, world.alice, ["10002", "10003"]), world)
    assert (error.fields["max"], error.fields["entered"], error.fields["requested"]) == (2, 1, 2)
    enter(world, world.alice, ["10002"])


def test_default_maximum_is_four(world: EntryWorld):
    """Without a policy row: 4. (The world has four slots, so a fifth course also clashes.)"""
    ProvincePolicy.objects.all().delete()
    enter(world, world.alice, ["10001", "10002", "10003", "10006"])
    error = refused(rules.ENTRY_SLOT_CLASH, lambda: enter(world, world.alice, ["10005"]), world)
    maximum = [r for r in error.fields["refusals"] if r["code"] == rules.ENTRY_MAX_COURSES]
    assert [(r["max"], r["entered"], r["requested"]) for r in maximum] == [(4, 4, 1)]


def test_one_area_per_sitting(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    error = refused(
        rules.ENTRY_AREA_MISMATCH, lambda: enter(world, world.alice, ["10002"], area=world.sibling), world
    )
    assert error.fields["area"] == world.county.pk


def test_area_must_have_seats_in_the_sitting(world: EntryWorld):
    refused(rules.ENTRY_AREA_INVALID, lambda: enter(world, world.alice, ["10001"], area=world.city), world)
    refused(rules.ENTRY_AREA_INVALID, lambda: enter(world, world.alice, ["10001"], area="abc"), world)
    refused(rules.ENTRY_AREA_INVALID, lambda: enter(world, world.alice, ["10001"], area=2**70), world)


def test_suspended(world: EntryWorld):
    world.suspend(world.alice, starts=dt.date(2026, 5, 1), ends=dt.date(2027, 4, 30))
    error = refused(rules.ENTRY_SUSPENDED, lambda: enter(world, world.alice, ["10001"]), world)
    assert error.fields["until"] == "2027-04-30"


def test_a_suspension_that_ended_does_not_block(world: EntryWorld):
    world.suspend(world.alice, starts=dt.date(2025, 5, 1), ends=dt.date(2026, 4, 30))
    assert len(enter(world, world.alice, ["10001"]).entries) == 1


def test_record_closed(world: EntryWorld):
    Candidate.objects.filter(pk=world.alice.pk).update(status=Candidate.Status.TRANSFERRED_OUT)
    refused(rules.ENTRY_RECORD_CLOSED, lambda: enter(world, world.alice, ["10001"]), world)


def test_malformed_codes_and_keys(world: EntryWorld):
    before = state(world)
    with pytest.raises(ValidationFailed) as info:
        enter(world, world.alice, ["1000x"])
    assert info.value.code == "ENTRY_COURSE_CODE_INVALID"
    with pytest.raises(ValidationFailed) as info:
        enter(world, world.alice, [f"{10000 + i}" for i in range(21)])
    assert info.value.code == "ENTRY_COURSE_CODE_INVALID"
    with pytest.raises(ValidationFailed) as info:
        enter(world, world.alice, ["10001"], key="has space")
    assert info.value.code == rules.ENTRY_IDEMPOTENCY_KEY_INVALID
    with pytest.raises(ValidationFailed):
        enter(world, world.alice, ["10001"], key="x" * 65)
    assert state(world) == before


# --- seats -----------------------------------------------------------------------------------


def test_area_full_lists_the_areas_with_seats(world: EntryWorld):
    AreaSlotCapacity.objects.filter(sitting=world.sitting, area=world.county).update(capacity=1, taken=1)
    AreaSlotCapacity.objects.filter(
        sitting=world.sitting, area=world.sibling, slot=world.slots["SAT_AM"]
    ).update(taken=30)
    error = refused(rules.ENTRY_AREA_FULL, lambda: enter(world, world.alice, ["10001"]), world)
    assert error.status == 409
    assert error.fields["slot"] == "SAT_AM"
    assert error.fields["areas"] == [{"id": world.other_county.pk, "name": "姑苏区", "free": 5}]


def test_all_or_nothing_when_one_slot_is_full(world: EntryWorld):
    """SAT_AM has seats, SAT_PM is full: nothing is entered and SAT_AM keeps its seats."""
    counter = world.counter(world.county, "SAT_PM")
    AreaSlotCapacity.objects.filter(pk=counter.pk).update(capacity=2, taken=2)
    error = refused(rules.ENTRY_AREA_FULL, lambda: enter(world, world.alice, ["10001", "10002"]), world)
    assert error.fields["slot"] == "SAT_PM"
    assert world.taken()["SAT_AM"] == 0


def test_the_conditional_update_decides_not_the_snapshot(world: EntryWorld, monkeypatch):
    """The rules' seat snapshot says there is a seat; the counter is full by the time the seat is
    taken (someone else won it): the UPDATE finds no seat and everything rolls back."""
    from zikao.entries import selectors

    real = selectors.sitting_area_seats
    AreaSlotCapacity.objects.filter(sitting=world.sitting, area=world.county).update(capacity=1, taken=1)

    def optimistic(sitting):
        seats = real(sitting)
        county = seats[world.county.pk]
        seats[world.county.pk] = rules.AreaSeats(county.area, county.name, dict.fromkeys(county.free, 1))
        return seats

    monkeypatch.setattr("zikao.entries.selectors.sitting_area_seats", optimistic)
    refused(rules.ENTRY_AREA_FULL, lambda: enter(world, world.alice, ["10001", "10002"]), world)
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 1, "SUN_AM": 1, "SUN_PM": 1}


def test_last_seat(world: EntryWorld):
    AreaSlotCapacity.objects.filter(sitting=world.sitting, area=world.county).update(capacity=1)
    enter(world, world.alice, ["10001"])
    refused(rules.ENTRY_AREA_FULL, lambda: enter(world, world.bob, ["10001"]), world)
    assert world.counter(world.county, "SAT_AM").taken == 1


# --- idempotency -----------------------------------------------------------------------------


def test_same_key_returns_the_same_entries(world: EntryWorld):
    first = enter(world, world.alice, ["10001", "10002"], key="key-1")
    before = state(world)
    again = enter(world, world.alice, ["10002", "10001"], key="key-1")
    assert again.replayed is True
    assert [e.pk for e in again.entries] == [e.pk for e in first.entries]
    assert state(world) == before


def test_same_key_for_another_request_is_refused(world: EntryWorld):
    enter(world, world.alice, ["10001"], key="key-1")
    before = state(world)
    with pytest.raises(ValidationFailed) as info:
        enter(world, world.alice, ["10002"], key="key-1")
    assert info.value.code == rules.ENTRY_IDEMPOTENCY_KEY_REUSED
    assert state(world) == before


def test_keys_belong_to_one_candidate(world: EntryWorld):
    enter(world, world.alice, ["10001"], key="key-1")
    bob = enter(world, world.bob, ["10001"], key="key-1")
    assert bob.replayed is False
    assert bob.entries[0].candidate_id == world.bob.pk


def test_a_refused_request_can_be_retried_with_its_key(world: EntryWorld):
    AreaSlotCapacity.objects.filter(sitting=world.sitting, area=world.county).update(capacity=0)
    refused(rules.ENTRY_AREA_FULL, lambda: enter(world, world.alice, ["10001"], key="key-1"), world)
    AreaSlotCapacity.objects.filter(sitting=world.sitting, area=world.county).update(capacity=30)
    assert enter(world, world.alice, ["10001"], key="key-1").replayed is False


def test_integrity_error_becomes_a_clean_duplicate(world: EntryWorld, monkeypatch):
    """A write that slipped past the checks hits the unique constraint: ENTRY_DUPLICATE, no 500,
    no seat taken."""
    enter(world, world.alice, ["10001"])
    monkeypatch.setattr("zikao.entries.selectors.live_entries", lambda candidate, sitting, lock=False: [])
    error = refused(rules.ENTRY_DUPLICATE, lambda: enter(world, world.alice, ["10001"]), world)
    assert error.fields["course"] == "10001"


def test_integrity_error_becomes_a_clean_slot_clash(world: EntryWorld, monkeypatch):
    enter(world, world.alice, ["10001"])
    monkeypatch.setattr("zikao.entries.selectors.live_entries", lambda candidate, sitting, lock=False: [])
    refused(rules.ENTRY_SLOT_CLASH, lambda: enter(world, world.alice, ["10005"]), world)


# --- lapsed holds ------------------------------------------------------------------------------


def test_a_lapsed_unpaid_hold_is_released_when_entering_again(world: EntryWorld):
    first = enter(world, world.alice, ["10001"]).entries[0]
    later = DURING + dt.timedelta(minutes=31)
    with clock.frozen_at(later):
        result = enter(world, world.alice, ["10001"])
    first.refresh_from_db()
    assert (first.status, first.cancel_reason, first.cancelled_at) == (
        Entry.Status.CANCELLED,
        "unpaid",
        later,
    )
    assert [e.pk for e in result.expired] == [first.pk]
    assert world.taken()["SAT_AM"] == 1


def test_a_hold_still_running_is_kept(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    with clock.frozen_at(DURING + dt.timedelta(minutes=29)):
        refused(rules.ENTRY_DUPLICATE, lambda: enter(world, world.alice, ["10001"]), world)


# --- swap (改报) -------------------------------------------------------------------------------


def change(world: EntryWorld, candidate, add, remove, key=None):
    return services.entries_change(
        actor=world.actor(candidate),
        candidate=candidate,
        sitting=world.sitting,
        add=add,
        remove=remove,
        idempotency_key=key,
    )


def test_swap_a_course(world: EntryWorld):
    old = enter(world, world.alice, ["10001", "10002"]).entries[1]
    result = change(world, world.alice, ["10003"], ["10002"])
    old.refresh_from_db()
    assert (old.status, old.cancel_reason) == (Entry.Status.CANCELLED, "changed")
    assert [e.course.code for e in result.entries] == ["10003"]
    assert [e.pk for e in result.released] == [old.pk]
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 0, "SUN_AM": 1, "SUN_PM": 0}
    event = AuditEvent.objects.get(event_type="entries.changed")
    assert [e["course"] for e in event.before["entries"]] == ["10002"]


def test_swap_in_the_same_slot_of_a_full_area(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SAT_AM").pk).update(capacity=1)
    change(world, world.alice, ["10005"], ["10001"])
    assert world.counter(world.county, "SAT_AM").taken == 1


def test_swap_keeps_the_old_seat_when_the_new_one_fails(world: EntryWorld):
    enter(world, world.alice, ["10001", "10002"])
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SUN_AM").pk).update(capacity=0)
    refused(rules.ENTRY_AREA_FULL, lambda: change(world, world.alice, ["10003"], ["10002"]), world)
    assert (
        Entry.objects.filter(candidate=world.alice, sitting=world.sitting, status="pending_payment").count()
        == 2
    )


def test_swap_refusals(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    refused(rules.ENTRY_NOT_ENTERED, lambda: change(world, world.alice, ["10003"], ["10002"]), world)
    refused(rules.ENTRY_NOT_ENTERED, lambda: change(world, world.alice, ["10003"], []), world)
    refused(rules.ENTRY_ALREADY_PASSED, lambda: change(world, world.alice, ["10012"], ["10001"]), world)
    with clock.frozen_at(CLOSES):
        refused(rules.ENTRY_WINDOW_CLOSED, lambda: change(world, world.alice, ["10003"], ["10001"]), world)


def test_swap_idempotent(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    first = change(world, world.alice, ["10002"], ["10001"], key="swap-1")
    before = state(world)
    again = change(world, world.alice, ["10002"], ["10001"], key="swap-1")
    assert again.replayed and [e.pk for e in again.entries] == [e.pk for e in first.entries]
    assert state(world) == before


# --- change area -------------------------------------------------------------------------------


def move(world: EntryWorld, candidate, area):
    return services.entries_change_area(
        actor=world.actor(candidate), candidate=candidate, sitting=world.sitting, area=area
    )


def test_move_to_another_area(world: EntryWorld):
    enter(world, world.alice, ["10001", "10002"])
    moved = move(world, world.alice, world.sibling)
    assert {e.area_id for e in moved} == {world.sibling.pk}
    assert world.taken() == {"SAT_AM": 0, "SAT_PM": 0, "SUN_AM": 0, "SUN_PM": 0}
    assert world.taken(world.sibling) == {"SAT_AM": 1, "SAT_PM": 1, "SUN_AM": 0, "SUN_PM": 0}
    assert AuditEvent.objects.filter(event_type="entries.area_changed").count() == 1


def test_move_refusals(world: EntryWorld):
    refused(rules.ENTRY_NOTHING_ENTERED, lambda: move(world, world.alice, world.sibling), world)
    enter(world, world.alice, ["10001", "10002"])
    refused(rules.ENTRY_AREA_UNCHANGED, lambda: move(world, world.alice, world.county), world)
    refused(rules.ENTRY_AREA_INVALID, lambda: move(world, world.alice, world.city), world)
    AreaSlotCapacity.objects.filter(pk=world.counter(world.other_county, "SAT_PM").pk).update(capacity=0)
    error = refused(rules.ENTRY_AREA_FULL, lambda: move(world, world.alice, world.other_county), world)
    assert error.fields["slot"] == "SAT_PM"
    assert [(a["name"], a["free"]) for a in error.fields["areas"]] == [("秦淮区", 30), ("玄武区", 29)]
    with clock.frozen_at(CLOSES):
        refused(rules.ENTRY_WINDOW_CLOSED, lambda: move(world, world.alice, world.sibling), world)


# --- cancel ------------------------------------------------------------------------------------


def cancel(world: EntryWorld, candidate, entry):
    return services.entry_cancel(actor=world.actor(candidate), candidate=candidate, entry=entry)


def test_cancel_releases_exactly_one_seat(world: EntryWorld):
    entries = enter(world, world.alice, ["10001", "10002"]).entries
    enter(world, world.bob, ["10001"])
    cancelled = cancel(world, world.alice, entries[0])
    assert (cancelled.status, cancelled.cancel_reason, cancelled.cancelled_at) == (
        "cancelled",
        "candidate",
        DURING,
    )
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 1, "SUN_AM": 0, "SUN_PM": 0}
    event = AuditEvent.objects.get(event_type="entry.cancelled")
    assert (event.subject_id, event.before["status"]) == (str(entries[0].pk), "pending_payment")


def test_cancel_twice(world: EntryWorld):
    entry = enter(world, world.alice, ["10001"]).entries[0]
    cancel(world, world.alice, entry)
    error = refused(rules.ENTRY_ALREADY_CANCELLED, lambda: cancel(world, world.alice, entry), world)
    assert error.status == 409
    assert world.taken()["SAT_AM"] == 0


def test_cancel_after_the_window_changes_nothing(world: EntryWorld):
    entry = enter(world, world.alice, ["10001"]).entries[0]
    with clock.frozen_at(CLOSES):
        refused(rules.ENTRY_WINDOW_CLOSED, lambda: cancel(world, world.alice, entry), world)


def test_cancel_someone_elses_entry_is_not_found(world: EntryWorld):
    entry = enter(world, world.bob, ["10001"]).entries[0]
    before = state(world)
    for target in (entry, entry.pk, str(entry.pk), 999999, "abc", -1, 2**70):
        with pytest.raises(NotFound):
            cancel(world, world.alice, target)
    assert state(world) == before


def test_release_seats_gives_a_seat_back_once(world: EntryWorld):
    entry = enter(world, world.alice, ["10001"]).entries[0]
    stale = Entry.objects.get(pk=entry.pk)
    assert [e.pk for e in services.release_seats([entry], reason="unpaid")] == [entry.pk]
    assert services.release_seats([stale], reason="unpaid") == []
    assert world.taken()["SAT_AM"] == 0


def test_release_seats_uses_the_current_area(world: EntryWorld):
    """A caller holding a copy from before an area change gives back the seat where it is now."""
    entry = enter(world, world.alice, ["10001"]).entries[0]
    move(world, world.alice, world.sibling)
    services.release_seats([entry], reason="unpaid")
    assert world.taken()["SAT_AM"] == 0
    assert world.taken(world.sibling)["SAT_AM"] == 0


def test_release_seats_never_below_zero(world: EntryWorld):
    entry = EntryFactory(
        candidate=world.alice,
        sitting=world.sitting,
        course=world.courses["10001"],
        slot=world.slots["SAT_AM"],
    )
    services.release_seats([entry], reason="office")
    assert world.taken()["SAT_AM"] == 0


def test_cancel_hooks_run_once_per_cancelled_entry(world: EntryWorld, monkeypatch):
    calls = []
    services._load_hook_modules()  # entries.payments registers its own hook first, for good
    monkeypatch.setattr(services, "_cancel_hooks", [])
    services.on_entry_cancelled(
        lambda entry, **kw: calls.append((entry.pk, kw["previous_status"], kw["reason"]))
    )
    entry = enter(world, world.alice, ["10001"]).entries[0]
    Entry.objects.filter(pk=entry.pk).update(status=Entry.Status.CONFIRMED)  # paid
    cancel(world, world.alice, entry.pk)
    services.release_seats([entry], reason="office")
    assert calls == [(entry.pk, "confirmed", "candidate")]


def test_release_seats_refuses_an_unknown_reason(world: EntryWorld):
    entry = enter(world, world.alice, ["10001"]).entries[0]
    with pytest.raises(ValueError):
        services.release_seats([entry], reason="whatever")


# --- rate limits -------------------------------------------------------------------------------


def test_rate_limited_per_candidate(world: EntryWorld, monkeypatch):
    monkeypatch.setattr(services, "CREATE_PER_CANDIDATE", Limit("test-entry-candidate", 2, 60))
    enter(world, world.alice, ["10001"])
    refused(rules.ENTRY_DUPLICATE, lambda: enter(world, world.alice, ["10001"]), world)
    before = state(world)
    with pytest.raises(services.EntryRateLimited) as info:
        enter(world, world.alice, ["10002"])
    assert (info.value.code, info.value.status) == (rules.ENTRY_RATE_LIMITED, 429)
    assert 1 <= info.value.fields["retry_after"] <= 60
    assert state(world) == before
    enter(world, world.bob, ["10002"])  # another candidate is not limited


def test_rate_limited_per_address(world: EntryWorld, monkeypatch):
    monkeypatch.setattr(services, "CREATE_PER_IP", Limit("test-entry-ip", 1, 60))
    enter(world, world.alice, ["10001"])
    with pytest.raises(services.EntryRateLimited):
        enter(world, world.bob, ["10001"])
    enter(world, world.bob, ["10001"], actor=world.actor(world.bob, ip="198.51.100.1"))


def test_cancel_rate_limited(world: EntryWorld, monkeypatch):
    monkeypatch.setattr(services, "CANCEL_PER_CANDIDATE", Limit("test-cancel", 1, 60))
    entries = enter(world, world.alice, ["10001", "10002"]).entries
    cancel(world, world.alice, entries[0])
    with pytest.raises(services.EntryRateLimited):
        cancel(world, world.alice, entries[1])


# --- who may act -------------------------------------------------------------------------------


def test_another_candidates_actor_is_not_found(world: EntryWorld):
    before = state(world)
    with pytest.raises(NotFound):
        enter(world, world.alice, ["10001"], actor=world.actor(world.bob))
    with pytest.raises(NotFound):
        enter(world, world.alice, ["10001"], actor=Actor.public(ip="203.0.113.1"))
    assert state(world) == before


def _staff(office, roles=()):
    user = StaffFactory(office=office)
    for role in roles:
        StaffRole.objects.create(user=user, role=role, granted_at=DURING)
    return user


def test_staff_entering_on_behalf(world: EntryWorld, monkeypatch):
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.RECORD_CLERK, ROLE_PERMISSIONS[Role.RECORD_CLERK] | {Perm.ENTRIES_MANAGE}
    )
    before = state(world)
    with pytest.raises(PermissionDenied):
        enter(world, world.alice, ["10001"], actor=Actor.staff(_staff(world.city)))
    with pytest.raises(PermissionDenied):  # county level: ENTRIES_MANAGE needs a city office
        enter(world, world.alice, ["10001"], actor=Actor.staff(_staff(world.county, [Role.RECORD_CLERK])))
    with pytest.raises(NotFound):  # another city
        enter(world, world.alice, ["10001"], actor=Actor.staff(_staff(world.other_city, [Role.RECORD_CLERK])))
    assert state(world) == before
    clerk = Actor.staff(_staff(world.city, [Role.RECORD_CLERK]))
    result = enter(world, world.alice, ["10001"], actor=clerk)
    assert len(result.entries) == 1
    assert AuditEvent.objects.get(event_type="entries.entered").actor_kind == "staff"
    cancelled = services.entry_cancel(actor=clerk, candidate=world.alice, entry=result.entries[0])
    assert cancelled.cancel_reason == "office"


def test_system_actor(world: EntryWorld):
    assert len(enter(world, world.alice, ["10001"], actor=Actor.system("test")).entries) == 1


def test_hold_expiry_time_is_the_clock_not_the_wall(world: EntryWorld):
    moment = dt.datetime(2026, 8, 21, 8, 0, tzinfo=SHANGHAI)
    with clock.frozen_at(moment):
        entry = enter(world, world.alice, ["10001"]).entries[0]
    assert entry.created_at == moment


def test_another_candidates_lapsed_hold_does_not_keep_the_last_seat(world: EntryWorld):
    """Bob held the area's last SAT_AM seat and never paid: once his hold has run out, Alice
    gets the seat at once (no wait for the minute sweeper) and Bob's entry is cancelled unpaid."""
    held = enter(world, world.bob, ["10001"]).entries[0]
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SAT_AM").pk).update(capacity=1)
    with clock.frozen_at(DURING + dt.timedelta(minutes=29)):
        refused(rules.ENTRY_AREA_FULL, lambda: enter(world, world.alice, ["10001"]), world)
    later = DURING + dt.timedelta(minutes=31)
    with clock.frozen_at(later):
        entered = enter(world, world.alice, ["10001"]).entries
    held.refresh_from_db()
    assert (held.status, held.cancel_reason, held.cancelled_at) == (Entry.Status.CANCELLED, "unpaid", later)
    assert [(e.candidate_id, e.status) for e in entered] == [(world.alice.pk, Entry.Status.PENDING_PAYMENT)]
    assert world.counter(world.county, "SAT_AM").taken == 1
