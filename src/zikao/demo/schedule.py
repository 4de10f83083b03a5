"""The demo province's exam calendar: sittings 201904 … 202610 with their slots and windows.

Jiangsu examines in April and October (every course) and in January and July (a smaller set of
courses). The exam weekend used here: January and April, the second Saturday and Sunday of
the month; July, the first weekend; October, the third weekend (after the National Day holiday)
— as in recent Jiangsu calendars (2024-04-13/14, 2024-10-19/20). Slots: Sat 09:00–11:30,
Sat 14:30–17:00, Sun 09:00–11:30, Sun 14:30–17:00 (Asia/Shanghai). The entry window opens ten
weeks before the exam for a week; scores are released 35 days after the first exam day at
15:00; review requests close after the province's review working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST_SITTING = (2019, 4)
LAST_SITTING = (2026, 10)
MAIN_MONTHS = (4, 10)
SLOTS = (
    ("SAT_AM", 0, time(9, 0), time(11, 30)),
    ("SAT_PM", 0, time(14, 30), time(17, 0)),
    ("SUN_AM", 1, time(9, 0), time(11, 30)),
    ("SUN_PM", 1, time(14, 30), time(17, 0)),
)
RELEASE_AFTER_DAYS = 35
RELEASE_TIME = time(15, 0)


def at(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=SHANGHAI)


def exam_saturday(year: int, month: int) -> date:
    first = date(year, month, 1)
    first_saturday = first + timedelta(days=(5 - first.weekday()) % 7)
    weeks = {1: 1, 4: 1, 7: 0, 10: 2}[month]
    return first_saturday + timedelta(weeks=weeks)


def add_working_days(day: date, days: int) -> date:
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


@dataclass(frozen=True)
class SittingPlan:
    label: str
    year: int
    month: int
    first_day: date
    entry_opens_at: datetime
    entry_closes_at: datetime
    release_at: datetime
    slots: tuple[tuple[str, datetime, datetime], ...]

    @property
    def main(self) -> bool:
        """April and October sittings examine every course; January and July fewer."""
        return self.month in MAIN_MONTHS

    def review_closes_at(self, release_at: datetime, working_days: int) -> datetime:
        return at(add_working_days(release_at.astimezone(SHANGHAI).date(), working_days), time(17, 0))


def sitting_plans() -> list[SittingPlan]:
    out = []
    year, month = FIRST_SITTING
    while (year, month) <= LAST_SITTING:
        saturday = exam_saturday(year, month)
        opens = saturday - timedelta(days=70)
        slots = tuple(
            (code, at(saturday + timedelta(days=day), start), at(saturday + timedelta(days=day), end))
            for code, day, start, end in SLOTS
        )
        out.append(
            SittingPlan(
                label=f"{year}{month:02d}",
                year=year,
                month=month,
                first_day=saturday,
                entry_opens_at=at(opens, time(9, 0)),
                entry_closes_at=at(opens + timedelta(days=7), time(17, 0)),
                release_at=at(saturday + timedelta(days=RELEASE_AFTER_DAYS), RELEASE_TIME),
                slots=slots,
            )
        )
        month += 3
        if month > 12:
            year, month = year + 1, month - 12
    return out
