"""Exam centres (考点) and their rooms (考场): reads and writes for the office.

Centres belong to an exam area (a county office); a city manages its counties' centres, the
province all of them. Every service needs ENTRIES_MANAGE (city level or above) and the area in
the user's scope; an out-of-scope centre or room raises NOT_FOUND exactly like a missing one.
A room has 1..30 seats (`ROOM_SEATS_INVALID`); codes are unique inside their area / centre
(`CENTRE_CODE_TAKEN`, `ROOM_NUMBER_TAKEN`). Capacity counters are derived from rooms by
`entries.capacity.capacity_rebuild` (run it after changing rooms).
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.accounts.permissions import Perm, office_in_scope, office_scope_q, require_perm
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import NotFound, ValidationFailed
from zikao.entries.models import ROOM_MAX_SEATS, Centre, Room

CENTRE_INVALID = "CENTRE_INVALID"
CENTRE_CODE_TAKEN = "CENTRE_CODE_TAKEN"
ROOM_INVALID = "ROOM_INVALID"
ROOM_SEATS_INVALID = "ROOM_SEATS_INVALID"
ROOM_NUMBER_TAKEN = "ROOM_NUMBER_TAKEN"

_CODE_RE = re.compile(r"^[0-9A-Za-z]{1,8}$")


# --- reads ------------------------------------------------------------------------------------


def areas_for_staff(user) -> QuerySet[Office]:
    """Exam areas (county offices) the user may manage centres in."""
    return Office.objects.filter(office_scope_q(user), level=Office.Level.COUNTY).order_by(
        "exam_code", "name"
    )


def centres_for_staff(user, *, area: Office | None = None) -> QuerySet[Centre]:
    """Centres of areas in the user's scope (optionally one area), with room and seat totals."""
    qs = Centre.objects.filter(office_scope_q(user, "area")).select_related("area")
    if area is not None:
        qs = qs.filter(area=area)
    return qs.annotate(
        room_count=Count("rooms", filter=Q(rooms__active=True)),
        seat_total=Sum("rooms__seats", filter=Q(rooms__active=True)),
    ).order_by("area__exam_code", "area__name", "code")


def centre_for_staff(user, pk: int | str) -> Centre:
    """One centre in the user's scope, else NOT_FOUND (missing and out of scope look the same)."""
    try:
        centre = Centre.objects.select_related("area").get(pk=int(pk))
    except (Centre.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    if not office_in_scope(user, centre.area):
        raise NotFound()
    return centre


def room_for_staff(user, pk: int | str) -> Room:
    try:
        room = Room.objects.select_related("centre__area").get(pk=int(pk))
    except (Room.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    if not office_in_scope(user, room.centre.area):
        raise NotFound()
    return room


def room_sort_key(number: str) -> tuple[int, int, str]:
    """Rooms in natural order: 1, 2, …, 10 (numeric first), then other labels alphabetically."""
    return (0, int(number), number) if number.isdigit() else (1, 0, number)


def rooms_of(centre: Centre, *, active_only: bool = False) -> list[Room]:
    qs = centre.rooms.all()
    if active_only:
        qs = qs.filter(active=True)
    return sorted(qs, key=lambda r: room_sort_key(r.number))


# --- writes -----------------------------------------------------------------------------------


def _staff(actor: Actor):
    user = actor.user
    require_perm(user, Perm.ENTRIES_MANAGE)
    return user


def _clean_centre(code: str, name: str, address: str) -> tuple[str, str, str]:
    code, name, address = (code or "").strip(), (name or "").strip(), (address or "").strip()
    problems = {}
    if not _CODE_RE.match(code):
        problems["code"] = "format"
    if not name or len(name) > 100:
        problems["name"] = "required"
    if not address or len(address) > 200:
        problems["address"] = "required"
    if problems:
        raise ValidationFailed(CENTRE_INVALID, _("考点代码(1-8位字母或数字)、名称和地址均须填写。"), problems)
    return code.upper(), name, address


def _clean_room(number: str, seats: int | str | None) -> tuple[str, int]:
    number = (number or "").strip()
    if not _CODE_RE.match(number):
        raise ValidationFailed(ROOM_INVALID, _("考场号应为1-8位字母或数字。"), {"number": "format"})
    try:
        count = int(seats)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        count = 0
    if not 1 <= count <= ROOM_MAX_SEATS:
        raise ValidationFailed(
            ROOM_SEATS_INVALID, _("每个考场座位数应为1至30。"), {"seats": count, "max": ROOM_MAX_SEATS}
        )
    return number, count


def _centre_snapshot(centre: Centre) -> dict:
    return {
        "area": centre.area_id,
        "code": centre.code,
        "name": centre.name,
        "address": centre.address,
        "active": centre.active,
    }


def _room_snapshot(room: Room) -> dict:
    return {"centre": room.centre_id, "number": room.number, "seats": room.seats, "active": room.active}


@transaction.atomic
def centre_create(*, actor: Actor, area: Office, code: str, name: str, address: str) -> Centre:
    """Add a centre to an exam area. Refuses: PERMISSION_DENIED, NOT_FOUND (area out of scope or
    not a county), CENTRE_INVALID, CENTRE_CODE_TAKEN."""
    user = _staff(actor)
    if area is None or area.level != Office.Level.COUNTY or not office_in_scope(user, area):
        raise NotFound()
    code, name, address = _clean_centre(code, name, address)
    if Centre.objects.filter(area=area, code=code).exists():
        raise ValidationFailed(CENTRE_CODE_TAKEN, _("本考区已有该考点代码。"), {"code": code})
    centre = Centre.objects.create(area=area, code=code, name=name, address=address)
    audit_record(
        actor=actor, event_type="entries.centre_create", subject=centre, after=_centre_snapshot(centre)
    )
    return centre


@transaction.atomic
def centre_update(
    *, actor: Actor, centre: Centre, code: str, name: str, address: str, active: bool
) -> Centre:
    """Change a centre's code, name, address or active flag. Same refusals as `centre_create`."""
    user = _staff(actor)
    centre = Centre.objects.select_for_update().select_related("area").get(pk=centre.pk)
    if not office_in_scope(user, centre.area):
        raise NotFound()
    code, name, address = _clean_centre(code, name, address)
    if Centre.objects.filter(area=centre.area, code=code).exclude(pk=centre.pk).exists():
        raise ValidationFailed(CENTRE_CODE_TAKEN, _("本考区已有该考点代码。"), {"code": code})
    before = _centre_snapshot(centre)
    centre.code, centre.name, centre.address, centre.active = code, name, address, bool(active)
    centre.save(update_fields=["code", "name", "address", "active"])
    audit_record(
        actor=actor,
        event_type="entries.centre_update",
        subject=centre,
        before=before,
        after=_centre_snapshot(centre),
    )
    return centre


@transaction.atomic
def room_create(*, actor: Actor, centre: Centre, number: str, seats: int | str) -> Room:
    """Add a room (1..30 seats). Refuses: PERMISSION_DENIED, NOT_FOUND, ROOM_INVALID,
    ROOM_SEATS_INVALID, ROOM_NUMBER_TAKEN."""
    user = _staff(actor)
    centre = Centre.objects.select_for_update().select_related("area").get(pk=centre.pk)
    if not office_in_scope(user, centre.area):
        raise NotFound()
    number, count = _clean_room(number, seats)
    if Room.objects.filter(centre=centre, number=number).exists():
        raise ValidationFailed(ROOM_NUMBER_TAKEN, _("本考点已有该考场号。"), {"number": number})
    room = Room.objects.create(centre=centre, number=number, seats=count)
    audit_record(actor=actor, event_type="entries.room_create", subject=room, after=_room_snapshot(room))
    return room


@transaction.atomic
def room_update(*, actor: Actor, room: Room, number: str, seats: int | str, active: bool) -> Room:
    """Change a room's number, seats (1..30) or active flag. Same refusals as `room_create`.

    Seats already assigned stay until the next allocation run re-places them."""
    user = _staff(actor)
    room = Room.objects.select_for_update().select_related("centre__area").get(pk=room.pk)
    if not office_in_scope(user, room.centre.area):
        raise NotFound()
    number, count = _clean_room(number, seats)
    if Room.objects.filter(centre=room.centre, number=number).exclude(pk=room.pk).exists():
        raise ValidationFailed(ROOM_NUMBER_TAKEN, _("本考点已有该考场号。"), {"number": number})
    before = _room_snapshot(room)
    room.number, room.seats, room.active = number, count, bool(active)
    room.save(update_fields=["number", "seats", "active"])
    audit_record(
        actor=actor, event_type="entries.room_update", subject=room, before=before, after=_room_snapshot(room)
    )
    return room
