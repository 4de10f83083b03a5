"""Seats per exam area × slot (考区容量): derived from the area's rooms, overridable by the office.

An area's capacity in a slot is the sum of the seats of its active rooms (≤ 30 each) in its
active centres: every room can sit one course per slot. `capacity_rebuild` writes that into the
sitting's seat counters (`AreaSlotCapacity`); `capacity_set` lets the office hold seats back in
one area and slot (never above the rooms, never below what is taken). Neither ever drops a
counter below its `taken`: each change is a conditional UPDATE (`… WHERE taken <= new`), so a
seat taken at the same moment is never lost, and a refused change writes nothing.

Both need ENTRIES_MANAGE (city level or above) and the area in the user's scope (an area out of
scope is NOT_FOUND, like a missing one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.accounts.permissions import Perm, office_in_scope, office_scope_q, require_perm
from zikao.catalog.models import Sitting, Slot
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.entries.models import AreaSlotCapacity, Centre, Room

CAPACITY_BELOW_TAKEN = "CAPACITY_BELOW_TAKEN"
CAPACITY_ABOVE_ROOMS = "CAPACITY_ABOVE_ROOMS"
CAPACITY_INVALID = "CAPACITY_INVALID"
CAPACITY_NO_SLOTS = "CAPACITY_NO_SLOTS"


class CapacityBelowTaken(DomainError):
    status = 409


# --- pure -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityChange:
    area: int
    area_name: str
    slot: str
    before: int | None  # None: the counter is new
    after: int
    taken: int


def below_taken(changes: Iterable[CapacityChange]) -> list[CapacityChange]:
    """The changes that would leave fewer seats than are taken."""
    return [c for c in changes if c.after < c.taken]


# --- reads ------------------------------------------------------------------------------------


def room_seats_by_area(area_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Seats of the active rooms of active centres, per area (areas without any: absent)."""
    qs = Room.objects.filter(active=True, centre__active=True)
    if area_ids is not None:
        qs = qs.filter(centre__area_id__in=list(area_ids))
    return {
        row["centre__area_id"]: row["total"] or 0
        for row in qs.values("centre__area_id").annotate(total=Sum("seats")).order_by()
    }


def sitting_capacity(user, sitting: Sitting) -> list[AreaSlotCapacity]:
    """The seat counters of `sitting` in the user's scope (area, then slot). Needs ENTRIES_MANAGE."""
    require_perm(user, Perm.ENTRIES_MANAGE)
    return list(
        AreaSlotCapacity.objects.filter(office_scope_q(user, "area"), sitting=sitting)
        .select_related("area", "slot")
        .order_by("area__region_code", "slot__starts_at")
    )


# --- writes -----------------------------------------------------------------------------------


def _staff(actor: Actor):
    user = actor.user if actor.kind == "staff" else None
    require_perm(user, Perm.ENTRIES_MANAGE)
    return user


def _changes_refused(changes: list[CapacityChange]) -> CapacityBelowTaken:
    return CapacityBelowTaken(
        CAPACITY_BELOW_TAKEN,
        _("座位数不能少于已占用的座位数: %(which)s。")
        % {"which": "、".join(f"{c.area_name} {c.slot} ({c.after} < {c.taken})" for c in changes)},
        {
            "counters": [
                {"area": c.area, "slot": c.slot, "capacity": c.after, "taken": c.taken} for c in changes
            ]
        },
    )


def _apply(
    sitting: Sitting, area: Office, slot: Slot, capacity: int, counter: AreaSlotCapacity | None
) -> bool:
    """Create or set one counter; False when `taken` exceeds `capacity` at the moment of writing."""
    if counter is None:
        _obj, created = AreaSlotCapacity.objects.get_or_create(
            sitting=sitting, area=area, slot=slot, defaults={"capacity": capacity, "taken": 0}
        )
        if created:
            return True
    moved = AreaSlotCapacity.objects.filter(
        sitting=sitting, area=area, slot=slot, taken__lte=capacity
    ).update(capacity=capacity)
    return moved == 1


@transaction.atomic
def capacity_rebuild(*, actor: Actor, sitting: Sitting, area: Office | None = None) -> list[CapacityChange]:
    """Set every seat counter of `sitting` from the rooms: for each area in scope that has active
    rooms or already has counters (or only `area`), capacity = its room seats, in every slot.

    All or nothing: if any counter would fall below its taken seats, nothing changes
    (CAPACITY_BELOW_TAKEN, 409, the counters listed). An office override is replaced by the
    rooms' number. Refuses CAPACITY_NO_SLOTS (the sitting has no slots), PERMISSION_DENIED,
    NOT_FOUND (`area` not in scope or not a county). Returns the counters that changed.
    Audit: `capacity.rebuilt`."""
    user = _staff(actor)
    if area is not None and (area.level != Office.Level.COUNTY or not office_in_scope(user, area)):
        raise NotFound()
    slots = list(Slot.objects.filter(sitting=sitting).order_by("starts_at"))
    if not slots:
        raise ValidationFailed(CAPACITY_NO_SLOTS, _("该考次尚未设置考试时段。"), {"sitting": sitting.label})
    if area is not None:
        areas = [area]
    else:
        ids = set(Centre.objects.filter(active=True).values_list("area_id", flat=True))
        ids |= set(AreaSlotCapacity.objects.filter(sitting=sitting).values_list("area_id", flat=True))
        areas = list(
            Office.objects.filter(office_scope_q(user), level=Office.Level.COUNTY, pk__in=ids).order_by(
                "region_code"
            )
        )
    seats = room_seats_by_area(a.pk for a in areas)
    existing = {
        (c.area_id, c.slot_id): c
        for c in AreaSlotCapacity.objects.select_for_update().filter(sitting=sitting, area__in=areas)
    }
    changes: list[CapacityChange] = []
    for office in areas:
        for slot in slots:
            counter = existing.get((office.pk, slot.pk))
            target = seats.get(office.pk, 0)
            if counter is None and target == 0:
                continue
            if counter is not None and counter.capacity == target:
                continue
            changes.append(
                CapacityChange(
                    area=office.pk,
                    area_name=office.name,
                    slot=slot.code,
                    before=counter.capacity if counter else None,
                    after=target,
                    taken=counter.taken if counter else 0,
                )
            )
    short = below_taken(changes)
    if short:
        raise _changes_refused(short)
    by_id = {o.pk: o for o in areas}
    slot_by_code = {s.code: s for s in slots}
    for change in changes:
        counter = existing.get((change.area, slot_by_code[change.slot].pk))
        if not _apply(sitting, by_id[change.area], slot_by_code[change.slot], change.after, counter):
            raise _changes_refused([change])
    audit_record(
        actor=actor,
        event_type="capacity.rebuilt",
        subject=sitting,
        after={
            "area": area.pk if area else None,
            "changes": [
                {"area": c.area, "slot": c.slot, "before": c.before, "after": c.after} for c in changes
            ],
        },
    )
    return changes


@transaction.atomic
def capacity_set(
    *, actor: Actor, sitting: Sitting, area: Office, slot: Slot, capacity: int
) -> AreaSlotCapacity:
    """Office override of one counter (hold seats back): `taken` ≤ capacity ≤ the area's room
    seats. Refuses CAPACITY_INVALID (not a whole number ≥ 0, or the slot is not the sitting's),
    CAPACITY_ABOVE_ROOMS, CAPACITY_BELOW_TAKEN (409: also when seats were taken meanwhile),
    PERMISSION_DENIED, NOT_FOUND (area out of scope or not a county). Audit: `capacity.set`."""
    user = _staff(actor)
    if area.level != Office.Level.COUNTY or not office_in_scope(user, area):
        raise NotFound()
    if (
        slot.sitting_id != sitting.pk
        or not isinstance(capacity, int)
        or isinstance(capacity, bool)
        or capacity < 0
    ):
        raise ValidationFailed(CAPACITY_INVALID, _("座位数须为不小于0的整数。"), {"capacity": capacity})
    rooms = room_seats_by_area([area.pk]).get(area.pk, 0)
    if capacity > rooms:
        raise ValidationFailed(
            CAPACITY_ABOVE_ROOMS,
            _("座位数不能超过该考区启用考场的座位总数(%(rooms)s)。") % {"rooms": rooms},
            {"capacity": capacity, "rooms": rooms},
        )
    counter = (
        AreaSlotCapacity.objects.select_for_update().filter(sitting=sitting, area=area, slot=slot).first()
    )
    before = counter.capacity if counter else None
    taken = counter.taken if counter else 0
    change = CapacityChange(area.pk, area.name, slot.code, before, capacity, taken)
    if capacity < taken or not _apply(sitting, area, slot, capacity, counter):
        current = (
            AreaSlotCapacity.objects.filter(sitting=sitting, area=area, slot=slot)
            .values_list("taken", flat=True)
            .first()
        )
        raise _changes_refused(
            [CapacityChange(area.pk, area.name, slot.code, before, capacity, current or taken)]
        )
    row = AreaSlotCapacity.objects.get(sitting=sitting, area=area, slot=slot)
    audit_record(
        actor=actor,
        event_type="capacity.set",
        subject=row,
        before={"capacity": before, "taken": change.taken},
        after={"capacity": row.capacity, "taken": row.taken},
    )
    return row
