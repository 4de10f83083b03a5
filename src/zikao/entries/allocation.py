"""Seat allocation (编排考场): place every paid entry of a sitting in a centre, room and seat.

Run by the office after the entry window has closed, per exam area in the user's scope (a city
places its counties, the province every area). Within an area:

1. candidates in candidate-number order each get a *home centre*: the first centre (by code)
   that still has a seat in every slot the candidate sits, so a candidate stays at one centre
   for the whole sitting whenever capacity allows; when no centre can take the whole sitting,
   each slot goes to the first centre with a free seat in that slot (the report counts these
   "split" candidates);
2. per centre and slot, the candidates (in candidate-number order) fill the active rooms in
   natural number order, seats 1..room.seats (≤ 30);
3. entries that find no seat (or have no slot) are listed in the report, never dropped.

The same input gives the same seats. Re-running replaces the previous assignments of those
areas in one transaction. Refuses: PERMISSION_DENIED, ALLOCATION_WINDOW_OPEN.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.accounts.permissions import Perm, office_in_scope, office_scope_q, require_perm
from zikao.catalog.models import Sitting, Slot
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, NotFound
from zikao.entries.models import AllocationRun, Centre, Entry, Room, SeatAssignment
from zikao.entries.venues import room_sort_key

ALLOCATION_WINDOW_OPEN = "ALLOCATION_WINDOW_OPEN"
UNPLACED_NO_SEAT = "NO_SEAT"
UNPLACED_NO_SLOT = "NO_SLOT"


# --- the pure part ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Want:
    """One entry to place: its id, candidate number, slot id (None: no slot)."""

    entry_id: int
    candidate_no: str
    slot_id: int | None


@dataclass(frozen=True)
class RoomSpec:
    room_id: int
    centre_id: int
    seats: int


@dataclass
class Plan:
    """The outcome: entry id → (room id, seat no); unplaced entry ids with a reason."""

    seats: dict[int, tuple[int, int]] = field(default_factory=dict)
    unplaced: dict[int, str] = field(default_factory=dict)
    split_candidates: list[str] = field(default_factory=list)


def plan_area(wants: list[Want], centres: list[tuple[int, list[RoomSpec]]]) -> Plan:
    """Place one area's entries. `centres` are (centre id, its active rooms) in order.

    Pure and deterministic: the result depends only on the inputs' values, not their order.
    """
    plan = Plan()
    capacity = {cid: sum(r.seats for r in rooms) for cid, rooms in centres}
    order = [cid for cid, _rooms in centres]
    used: dict[tuple[int, int], int] = defaultdict(int)  # (centre, slot) → seats handed out
    by_candidate: dict[str, list[Want]] = defaultdict(list)
    for want in wants:
        if want.slot_id is None:
            plan.unplaced[want.entry_id] = UNPLACED_NO_SLOT
        else:
            by_candidate[want.candidate_no].append(want)
    # (centre, slot) → [(candidate_no, entry_id)] in the order seats will be given
    placed: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    for candidate_no in sorted(by_candidate):
        items = sorted(by_candidate[candidate_no], key=lambda w: (w.slot_id or 0, w.entry_id))
        slots = {w.slot_id for w in items}
        home = next(
            (cid for cid in order if all(used[(cid, s)] < capacity[cid] for s in slots)),  # type: ignore[index]
            None,
        )
        split = False
        for want in items:
            slot = want.slot_id
            assert slot is not None
            target = home
            if target is None or used[(target, slot)] >= capacity[target]:
                target = next((cid for cid in order if used[(cid, slot)] < capacity[cid]), None)
                split = True
            if target is None:
                plan.unplaced[want.entry_id] = UNPLACED_NO_SEAT
                continue
            used[(target, slot)] += 1
            placed[(target, slot)].append((candidate_no, want.entry_id))
        if split and len(slots) > 1:
            plan.split_candidates.append(candidate_no)
    rooms_of = dict(centres)
    for (cid, _slot), people in placed.items():
        seats = iter((room.room_id, no) for room in rooms_of[cid] for no in range(1, room.seats + 1))
        for _candidate_no, entry_id in sorted(people):
            plan.seats[entry_id] = next(seats)
    return plan


# --- the service ------------------------------------------------------------------------------


class AllocationRefused(DomainError):
    status = 409


def _areas(user, sitting: Sitting, area: Office | None) -> list[Office]:
    if area is not None:
        if area.level != Office.Level.COUNTY or not office_in_scope(user, area):
            raise NotFound()
        return [area]
    ids = set(Entry.objects.filter(sitting=sitting).values_list("area_id", flat=True))
    ids |= set(Centre.objects.values_list("area_id", flat=True))
    return list(
        Office.objects.filter(office_scope_q(user), level=Office.Level.COUNTY, pk__in=ids).order_by(
            "exam_code", "name", "pk"
        )
    )


def allocation_run(*, actor: Actor, sitting: Sitting, area: Office | None = None) -> AllocationRun:
    """Place every CONFIRMED entry of `sitting` in the areas in the actor's scope (or one area).

    Returns the run with its report: per area the entries, placed, unplaced, candidates, split
    candidates, per centre and room the seats used per slot, and the list of unplaced entries.
    Writes one audit event. Refuses: PERMISSION_DENIED, NOT_FOUND (area out of scope),
    ALLOCATION_WINDOW_OPEN (the entry window has not closed yet).
    """
    user = actor.user
    require_perm(user, Perm.ENTRIES_MANAGE)
    with transaction.atomic():
        sitting = Sitting.objects.select_for_update().get(pk=sitting.pk)  # one run per sitting at a time
        closes = sitting.entry_closes_at
        if closes is None or clock.now() < closes:
            raise AllocationRefused(
                ALLOCATION_WINDOW_OPEN,
                _("报考尚未截止，不能编排考场。"),
                {"sitting": sitting.label, "closes_at": closes.isoformat() if closes else None},
            )
        areas = _areas(user, sitting, area)
        started = clock.now()
        run = AllocationRun.objects.create(sitting=sitting, started_at=started, started_by=user)
        slots = {s.pk: s.code for s in Slot.objects.filter(sitting=sitting)}
        area_ids = [a.pk for a in areas]
        replaced = SeatAssignment.objects.filter(
            entry__sitting=sitting, entry__area_id__in=area_ids
        ).delete()[0]
        replaced += SeatAssignment.objects.filter(
            slot__sitting=sitting, room__centre__area_id__in=area_ids
        ).delete()[0]
        report_areas, unplaced_rows, rows = [], [], []
        totals = {"entries": 0, "placed": 0, "unplaced": 0, "candidates": 0, "split_candidates": 0}
        for office in areas:
            entries = list(
                Entry.objects.filter(sitting=sitting, area=office, status=Entry.Status.CONFIRMED)
                .select_related("candidate", "course")
                .order_by("candidate__candidate_no", "pk")
            )
            centres = list(Centre.objects.filter(area=office, active=True).order_by("code", "pk"))
            rooms: dict[int, list[Room]] = defaultdict(list)
            for room in Room.objects.filter(centre__in=centres, active=True):
                rooms[room.centre_id].append(room)
            specs = [
                (
                    c.pk,
                    [
                        RoomSpec(r.pk, c.pk, r.seats)
                        for r in sorted(rooms[c.pk], key=lambda r: (room_sort_key(r.number), r.pk))
                    ],
                )
                for c in centres
            ]
            wants = [Want(e.pk, e.candidate.candidate_no, e.slot_id) for e in entries]
            plan = plan_area(wants, specs)
            by_entry = {e.pk: e for e in entries}
            room_use: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for entry_id, (room_id, seat_no) in sorted(plan.seats.items()):
                entry = by_entry[entry_id]
                slot_id = entry.slot_id
                assert slot_id is not None  # placed entries always have a slot
                rows.append(
                    SeatAssignment(entry=entry, slot_id=slot_id, room_id=room_id, seat_no=seat_no, run=run)
                )
                room_use[room_id][slots.get(slot_id, "?")] += 1
            for entry_id, reason in sorted(plan.unplaced.items()):
                entry = by_entry[entry_id]
                unplaced_rows.append(
                    {
                        "entry": entry_id,
                        "area": office.pk,
                        "area_name": office.name,
                        "candidate_no": entry.candidate.candidate_no,
                        "course": entry.course.code,
                        "course_name": entry.course.name,
                        "slot": slots.get(entry.slot_id, "") if entry.slot_id else "",
                        "reason": reason,
                    }
                )
            area_report = {
                "area": office.pk,
                "area_name": office.name,
                "entries": len(entries),
                "placed": len(plan.seats),
                "unplaced": len(plan.unplaced),
                "candidates": len({e.candidate_id for e in entries}),
                "split_candidates": len(plan.split_candidates),
                "centres": [
                    {
                        "centre": c.pk,
                        "code": c.code,
                        "name": c.name,
                        "placed": sum(sum(room_use[r.room_id].values()) for r in spec),
                        "rooms": [
                            {
                                "room": r.room_id,
                                "number": next(x.number for x in rooms[c.pk] if x.pk == r.room_id),
                                "seats": r.seats,
                                "by_slot": dict(sorted(room_use[r.room_id].items())),
                            }
                            for r in spec
                        ],
                    }
                    for c, (_cid, spec) in zip(centres, specs, strict=True)
                ],
            }
            report_areas.append(area_report)
            for key in totals:
                totals[key] += area_report[key]  # type: ignore[operator]
        SeatAssignment.objects.bulk_create(rows, batch_size=2000)
        run.finished_at = clock.now()
        run.report = {
            "sitting": sitting.label,
            "areas": report_areas,
            "totals": totals,
            "unplaced": unplaced_rows,
            "replaced": replaced,
        }
        run.save(update_fields=["finished_at", "report"])
        audit_record(
            actor=actor,
            event_type="entries.allocation_run",
            subject=run,
            after={"sitting": sitting.label, "areas": area_ids, "totals": totals, "replaced": replaced},
        )
    return run


# --- reads ------------------------------------------------------------------------------------


def runs_for_staff(user, sitting: Sitting) -> list[AllocationRun]:
    """Runs of the sitting that touched at least one area in the user's scope, newest first."""
    scope = set(Office.objects.filter(office_scope_q(user)).values_list("pk", flat=True))
    runs = AllocationRun.objects.filter(sitting=sitting).select_related("started_by")
    return [r for r in runs if not r.report.get("areas") or ({a["area"] for a in r.report["areas"]} & scope)]


def run_for_staff(user, pk: int | str) -> tuple[AllocationRun, dict]:
    """One run with its report cut to the areas in the user's scope; NOT_FOUND if none is."""
    try:
        run = AllocationRun.objects.select_related("sitting", "started_by").get(pk=int(pk))
    except (AllocationRun.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    scope = set(Office.objects.filter(office_scope_q(user)).values_list("pk", flat=True))
    areas = [a for a in run.report.get("areas", []) if a["area"] in scope]
    if run.report.get("areas") and not areas:
        raise NotFound()
    report = dict(run.report)
    report["areas"] = areas
    report["unplaced"] = [u for u in run.report.get("unplaced", []) if u["area"] in scope]
    return run, report


def room_sheets(user, sitting: Sitting, centre: Centre):
    """The seating lists (考场座次表) of one centre in scope: one sheet per room and slot with
    seats, in room then time order. NOT_FOUND when the centre is out of the user's scope."""
    from zikao.entries.pdf import RoomSeat, RoomSheet

    if not office_in_scope(user, centre.area):
        raise NotFound()
    assignments = (
        SeatAssignment.objects.filter(room__centre=centre, slot__sitting=sitting)
        .select_related("entry__candidate", "entry__course", "slot", "room")
        .order_by("slot__starts_at", "seat_no")
    )
    grouped: dict[tuple[int, int], list[SeatAssignment]] = defaultdict(list)
    for a in assignments:
        grouped[(a.room_id, a.slot_id)].append(a)
    sheets = []
    for (_room_id, _slot_id), seats in grouped.items():
        first = seats[0]
        sheets.append(
            RoomSheet(
                sitting_label=sitting.label,
                centre_code=centre.code,
                centre_name=centre.name,
                centre_address=centre.address,
                room=first.room.number,
                seats_total=first.room.seats,
                slot_code=first.slot.code,
                starts_at=first.slot.starts_at,
                ends_at=first.slot.ends_at,
                seats=[
                    RoomSeat(
                        seat_no=a.seat_no,
                        candidate_no=a.entry.candidate.candidate_no,
                        name=a.entry.candidate.name,
                        course_code=a.entry.course.code,
                        course_name=a.entry.course.name,
                    )
                    for a in seats
                ],
            )
        )
    sheets.sort(key=lambda s: (room_sort_key(s.room), s.starts_at))
    return sheets
