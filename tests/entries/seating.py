"""Helpers of the allocation / ticket tests (imported, not a conftest): paid entries, centres,
staff with ENTRIES_MANAGE (no role grants it by default: the tests add it to RECORD_CLERK)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.entries.world import CLOSES, COURSES, EntryWorld
from tests.factories import CandidateFactory, EntryFactory, StaffFactory
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import ROLE_PERMISSIONS, Perm, Role
from zikao.core.audit import Actor
from zikao.entries.models import Centre, Entry, EntrySettings, Room

AFTER_CLOSE = CLOSES + dt.timedelta(hours=1)
TICKETS_OPEN = CLOSES + dt.timedelta(days=30)
MANAGER_ROLE = Role.RECORD_CLERK


@pytest.fixture
def grant_entries_manage(monkeypatch):
    monkeypatch.setitem(
        ROLE_PERMISSIONS, MANAGER_ROLE, ROLE_PERMISSIONS[MANAGER_ROLE] | {Perm.ENTRIES_MANAGE}
    )


def staff_actor(office, roles=(MANAGER_ROLE,)) -> Actor:
    user = StaffFactory(office=office)
    for role in roles:
        StaffRole.objects.create(user=user, role=role, granted_at=CLOSES)
    return Actor.staff(user)


def centre(area, code: str, *seats: int, active: bool = True) -> Centre:
    """A centre with rooms numbered 1, 2, … of the given seat counts."""
    made = Centre.objects.create(
        area=area, code=code, name=f"考点{code}", address=f"{code}号路1号", active=active
    )
    for number, n in enumerate(seats, start=1):
        Room.objects.create(centre=made, number=str(number), seats=n)
    return made


def candidate(world: EntryWorld, area=None, **kwargs):
    return CandidateFactory(county_office=area or world.county, **kwargs)


def paid(world: EntryWorld, who, *codes: str, area=None, status=Entry.Status.CONFIRMED) -> list[Entry]:
    """Confirmed entries of `who` for course codes in 202610, in the slot of the timetable."""
    return [
        EntryFactory(
            candidate=who,
            sitting=world.sitting,
            course=world.courses[code],
            area=area or who.county_office,
            slot=world.slots[COURSES[code][2]] if COURSES[code][2] else None,
            status=status,
            fee_fen=4500,
        )
        for code in codes
    ]


def open_tickets(world: EntryWorld, at=TICKETS_OPEN) -> EntrySettings:
    settings, _ = EntrySettings.objects.update_or_create(
        sitting=world.sitting, defaults={"tickets_open_at": at}
    )
    return settings
