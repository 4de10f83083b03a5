"""The demo's open entry window: the next sitting, its exam centres and seats, so entering works.

The demo calendar ends with a released sitting; a province running `make run` should also show
报考 working. After the history is built, `entry_setup` adds (unless a sitting after today already
exists) the next quarterly sitting after the latest one whose exam weekend is at least three
weeks away, with the four slots and its timetable (the same course availability and slot
assignment as the historical sittings), an entry window open now (from yesterday 09:00 to 17:00
fourteen days after the build, on the one clock), `EntrySettings` (30-minute payment hold,
admission tickets printable a week after the window closes), two exam centres of two rooms
(≤ 30 seats) in every demo county, and the seat counters built by `capacity_rebuild` as the
province's exam-affairs user.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta

from zikao.accounts.models import Office, User
from zikao.catalog.models import Sitting, Slot, TimetableEntry
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.demo import people
from zikao.demo.plans import PlanView, course_availability, offered_in, slot_assignment
from zikao.demo.schedule import (
    MAIN_MONTHS,
    RELEASE_AFTER_DAYS,
    RELEASE_TIME,
    SHANGHAI,
    SLOTS,
    at,
    exam_saturday,
)
from zikao.entries.capacity import capacity_rebuild
from zikao.entries.models import Centre, EntrySettings, Room

HOLD_MINUTES = 30
WINDOW_DAYS = 14
# Two centres per county, two rooms each: (centre suffix, school, street, room seats).
CENTRES = (
    ("01", "第一中学", "学府路1号", (30, 30)),
    ("02", "职业技术学校", "文昌路18号", (30, 24)),
)


def _next_label(year: int, month: int) -> tuple[int, int]:
    month += 3
    return (year + 1, month - 12) if month > 12 else (year, month)


def _ensure_centres(offices: dict[str, Office]) -> int:
    """Two centres with two rooms in every demo county (kept if they exist). Returns rooms made."""
    made = 0
    for county in people.counties():
        area = offices[county.code]
        for suffix, school, street, seats in CENTRES:
            centre, _created = Centre.objects.get_or_create(
                area=area,
                code=f"{county.exam_code}{suffix}"[:8],
                defaults={
                    "name": f"{county.name}{school}",
                    "address": f"{county.city_name}{county.name}{street}",
                },
            )
            for n, size in enumerate(seats, start=1):
                _room, created = Room.objects.get_or_create(
                    centre=centre, number=f"{n:03d}", defaults={"seats": size}
                )
                made += created
    return made


def entry_setup(
    *,
    plans: list[PlanView],
    offices: dict[str, Office],
    staff_username: str,
    log: Callable[[str], None],
) -> Sitting:
    """Make sure a future sitting with an open entry window and seats exists; return it."""
    now = clock.now()
    today = now.astimezone(SHANGHAI).date()
    sitting = Sitting.objects.filter(first_day__gt=today).order_by("first_day").first()
    if sitting is None:
        latest = Sitting.objects.order_by("-label").first()
        year, month = (int(latest.label[:4]), int(latest.label[4:])) if latest else (today.year, 1)
        year, month = _next_label(year, month)
        closes = at(today + timedelta(days=WINDOW_DAYS), time(17, 0))
        while exam_saturday(year, month) < closes.date() + timedelta(days=7):
            year, month = _next_label(year, month)
        saturday = exam_saturday(year, month)
        release = at(saturday + timedelta(days=RELEASE_AFTER_DAYS), RELEASE_TIME)
        sitting = Sitting.objects.create(
            label=f"{year}{month:02d}",
            first_day=saturday,
            entry_opens_at=at(today - timedelta(days=1), time(9, 0)),
            entry_closes_at=closes,
            release_at=release,
            review_closes_at=None,
        )
        slots = {
            code: Slot.objects.create(
                sitting=sitting,
                code=code,
                starts_at=at(saturday + timedelta(days=day), start),
                ends_at=at(saturday + timedelta(days=day), end),
            )
            for code, day, start, end in SLOTS
        }
        slot_codes = [code for code, _d, _s, _e in SLOTS]
        codes = {it.course_id: it.code for p in plans for it in p.items}
        slot_of = slot_assignment(plans, len(slot_codes))
        offered = offered_in(
            course_availability(plans),
            codes,
            label=sitting.label,
            first_day=saturday,
            main=month in MAIN_MONTHS,
        )
        TimetableEntry.objects.bulk_create(
            [
                TimetableEntry(sitting=sitting, slot=slots[slot_codes[slot_of[cid]]], course_id=cid)
                for cid in sorted(offered, key=lambda c: codes[c])
            ]
        )
        log(
            f"  entry window of {sitting.label}: {sitting.entry_opens_at:%Y-%m-%d %H:%M} – "
            f"{sitting.entry_closes_at:%Y-%m-%d %H:%M}, {len(offered)} courses on the timetable"
        )
    closes_at = sitting.entry_closes_at or now
    EntrySettings.objects.update_or_create(
        sitting=sitting,
        defaults={"payment_hold_minutes": HOLD_MINUTES, "tickets_open_at": closes_at + timedelta(days=7)},
    )
    rooms = _ensure_centres(offices)
    user = User.objects.get(username=staff_username)
    changes = capacity_rebuild(actor=Actor.staff(user), sitting=sitting)
    log(f"  {rooms} exam rooms made, {len(changes)} seat counters set for {sitting.label}")
    return sitting
