"""Shared builders for the record-administration tests (no tests here).

Three sittings around a fixed "now" (2026-12-01): 202604 and 202610 released, 202704 not yet.
"""

from __future__ import annotations

import datetime as dt

from tests.factories import (
    CandidateFactory,
    CandidateMajorFactory,
    CourseFactory,
    EntryFactory,
    ScoreFactory,
    SittingFactory,
)
from zikao.core.identity import make_resident_id
from zikao.core.models import AuditEvent

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
BIRTH = dt.date(1995, 3, 14)


def sittings():
    return (
        SittingFactory(label="202604"),
        SittingFactory(
            label="202610",
            first_day=dt.date(2026, 10, 17),
            release_at=dt.datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI),
        ),
        SittingFactory(
            label="202704",
            first_day=dt.date(2027, 4, 10),
            release_at=dt.datetime(2027, 5, 10, 15, 0, tzinfo=SHANGHAI),
        ),
    )


def person(county, *, seq: int, name: str = "王小明", birth: dt.date = BIRTH, **kwargs):
    """A candidate of `county` with a valid 身份证 number built from `seq` (same birth date)."""
    number = kwargs.pop("id_number", None) or make_resident_id("320102", birth, seq)
    odd = len(number) >= 17 and number[16].isdigit() and int(number[16]) % 2
    gender = kwargs.pop("gender", None) or ("M" if odd else "F")
    return CandidateFactory(
        county_office=county, name=name, birth_date=birth, id_number=number, gender=gender, **kwargs
    )


def score(candidate, sitting, course=None, value=75, **kwargs):
    course = course or CourseFactory()
    entry = EntryFactory(candidate=candidate, sitting=sitting, course=course, area=candidate.county_office)
    return ScoreFactory(
        entry=entry, candidate=candidate, course=course, sitting=sitting, value=value, **kwargs
    )


def major(candidate, **kwargs):
    return CandidateMajorFactory(candidate=candidate, **kwargs)


def events(event_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("pk"))
