"""entries.capacity: seats from rooms, never below taken, the office override, who may."""

from __future__ import annotations

import pytest

from tests.entries.world import DURING, EntryWorld
from tests.factories import SittingFactory, StaffFactory
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import ROLE_PERMISSIONS, Perm, PermissionDenied, Role
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import NotFound, ValidationFailed
from zikao.core.models import AuditEvent
from zikao.entries import capacity
from zikao.entries.models import AreaSlotCapacity, Centre, Room

ROLE = Role.RECORD_CLERK  # given ENTRIES_MANAGE for these tests (no role grants it by default)


@pytest.fixture(autouse=True)
def _grant(monkeypatch):
    monkeypatch.setitem(ROLE_PERMISSIONS, ROLE, ROLE_PERMISSIONS[ROLE] | {Perm.ENTRIES_MANAGE})
    with clock.frozen_at(DURING):
        yield


def staff(office, roles=(ROLE,)) -> Actor:
    user = StaffFactory(office=office)
    for role in roles:
        StaffRole.objects.create(user=user, role=role, granted_at=DURING)
    return Actor.staff(user)


def rooms(area, *seats, active=True, centre_active=True, code="01"):
    centre = Centre.objects.create(
        area=area, code=code, name=f"考点{code}", address="地址", active=centre_active
    )
    for number, n in enumerate(seats, start=1):
        Room.objects.create(centre=centre, number=f"{number:03d}", seats=n, active=active)
    return centre


def counters(world: EntryWorld) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (c.area.name, c.slot.code): (c.capacity, c.taken)
        for c in AreaSlotCapacity.objects.filter(sitting=world.sitting).select_related("area", "slot")
    }


def snapshot():
    return sorted(AreaSlotCapacity.objects.values_list("pk", "capacity", "taken")), AuditEvent.objects.count()


def test_rebuild_from_active_rooms(world: EntryWorld):
    rooms(world.county, 30, 30, 25)
    rooms(world.county, 30, active=False, code="02")  # inactive room
    rooms(world.county, 30, centre_active=False, code="03")  # inactive centre
    rooms(world.sibling, 20)
    changes = capacity.capacity_rebuild(actor=staff(world.province), sitting=world.sitting)
    table = counters(world)
    assert {slot: table[("玄武区", slot)] for slot in world.slots} == dict.fromkeys(world.slots, (85, 0))
    assert {slot: table[("秦淮区", slot)] for slot in world.slots} == dict.fromkeys(world.slots, (20, 0))
    # 姑苏区 had counters but no rooms: 0 seats.
    assert {slot: table[("姑苏区", slot)] for slot in world.slots} == dict.fromkeys(world.slots, (0, 0))
    assert len(changes) == 12
    event = AuditEvent.objects.get(event_type="capacity.rebuilt")
    assert len(event.after["changes"]) == 12


def test_rebuild_creates_counters_for_a_new_sitting(world: EntryWorld):
    rooms(world.county, 30, 12)
    new = SittingFactory(label="202701", first_day=world.sitting.first_day.replace(year=2027, month=1, day=9))
    from tests.factories import SHANGHAI
    from zikao.catalog.models import Slot
    from zikao.catalog.rules import default_slots

    for code, start, end in default_slots(new.first_day, SHANGHAI):
        Slot.objects.create(sitting=new, code=code, starts_at=start, ends_at=end)
    capacity.capacity_rebuild(actor=staff(world.province), sitting=new)
    rows = AreaSlotCapacity.objects.filter(sitting=new)
    assert sorted((r.area.name, r.capacity) for r in rows) == [("玄武区", 42)] * 4


def test_rebuild_never_below_taken(world: EntryWorld):
    rooms(world.county, 10)
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SAT_AM").pk).update(taken=11)
    before = snapshot()
    with pytest.raises(capacity.CapacityBelowTaken) as info:
        capacity.capacity_rebuild(actor=staff(world.province), sitting=world.sitting)
    assert info.value.code == capacity.CAPACITY_BELOW_TAKEN
    assert info.value.status == 409
    assert {"area": world.county.pk, "slot": "SAT_AM", "capacity": 10, "taken": 11} in info.value.fields[
        "counters"
    ]
    assert snapshot() == before


def test_rebuild_one_area(world: EntryWorld):
    rooms(world.county, 10)
    rooms(world.sibling, 10)
    capacity.capacity_rebuild(actor=staff(world.city), sitting=world.sitting, area=world.county)
    table = counters(world)
    assert table[("玄武区", "SAT_AM")] == (10, 0)
    assert table[("秦淮区", "SAT_AM")] == (30, 0)


def test_rebuild_stays_in_the_users_scope(world: EntryWorld):
    rooms(world.county, 10)
    rooms(world.other_county, 7)
    capacity.capacity_rebuild(actor=staff(world.city), sitting=world.sitting)
    table = counters(world)
    assert table[("玄武区", "SAT_AM")] == (10, 0)
    assert table[("姑苏区", "SAT_AM")] == (5, 0)  # another city: untouched


def test_rebuild_permissions(world: EntryWorld):
    rooms(world.county, 10)
    before = snapshot()
    with pytest.raises(PermissionDenied):  # no role
        capacity.capacity_rebuild(actor=staff(world.province, roles=()), sitting=world.sitting)
    with pytest.raises(PermissionDenied):  # county level
        capacity.capacity_rebuild(actor=staff(world.county), sitting=world.sitting)
    with pytest.raises(PermissionDenied):  # a candidate or the system is not staff
        capacity.capacity_rebuild(actor=Actor.system(), sitting=world.sitting)
    with pytest.raises(NotFound):  # out of scope, like a missing area
        capacity.capacity_rebuild(actor=staff(world.other_city), sitting=world.sitting, area=world.county)
    with pytest.raises(NotFound):  # not a county
        capacity.capacity_rebuild(actor=staff(world.province), sitting=world.sitting, area=world.city)
    assert snapshot() == before


def test_rebuild_needs_slots(world: EntryWorld):
    empty = SittingFactory(
        label="202707", first_day=world.sitting.first_day.replace(year=2027, month=7, day=10)
    )
    with pytest.raises(ValidationFailed) as info:
        capacity.capacity_rebuild(actor=staff(world.province), sitting=empty)
    assert info.value.code == capacity.CAPACITY_NO_SLOTS


def set_(world, actor, value, slot="SAT_AM", area=None):
    return capacity.capacity_set(
        actor=actor, sitting=world.sitting, area=area or world.county, slot=world.slots[slot], capacity=value
    )


def test_set_holds_seats_back(world: EntryWorld):
    rooms(world.county, 30, 30)
    row = set_(world, staff(world.city), 40)
    assert (row.capacity, row.taken) == (40, 0)
    event = AuditEvent.objects.get(event_type="capacity.set")
    assert (event.before, event.after) == ({"capacity": 30, "taken": 0}, {"capacity": 40, "taken": 0})


def test_set_refusals(world: EntryWorld):
    rooms(world.county, 30)
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SAT_AM").pk).update(taken=12)
    actor = staff(world.city)
    before = snapshot()
    with pytest.raises(ValidationFailed) as info:
        set_(world, actor, 31)
    assert info.value.code == capacity.CAPACITY_ABOVE_ROOMS
    with pytest.raises(capacity.CapacityBelowTaken):
        set_(world, actor, 11)
    for bad in (-1, "5", 2.5, True):
        with pytest.raises(ValidationFailed) as info:
            set_(world, actor, bad)
        assert info.value.code == capacity.CAPACITY_INVALID
    with pytest.raises(NotFound):
        set_(world, staff(world.other_city), 20)
    with pytest.raises(PermissionDenied):
        set_(world, staff(world.county), 20)
    assert snapshot() == before
    assert set_(world, actor, 12).capacity == 12


def test_set_creates_a_missing_counter(world: EntryWorld):
    AreaSlotCapacity.objects.filter(area=world.sibling).delete()
    rooms(world.sibling, 9)
    row = set_(world, staff(world.city), 9, area=world.sibling)
    assert (row.capacity, row.taken) == (9, 0)


def test_sitting_capacity_is_scoped(world: EntryWorld):
    user = staff(world.city).user
    rows = capacity.sitting_capacity(user, world.sitting)
    assert {r.area.name for r in rows} == {"玄武区", "秦淮区"}
    with pytest.raises(PermissionDenied):
        capacity.sitting_capacity(staff(world.city, roles=()).user, world.sitting)
