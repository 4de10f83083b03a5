"""Conduct test fixtures (imported by tests/conduct/conftest.py and tests/office/test_conduct*.py).

A candidate with one sitting of results, staff at every level, a frozen clock after release.

`world`: candidate of 玄武区 (offices.county) entered in sitting 202604 (first day 2026-04-11)
for A (75), B (58), C (absent), W (withheld 81) and D (entered, no result yet), and with a
pass E (88) in the earlier sitting 202510. The clock is frozen at 2026-05-20 10:00 (released).
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from tests.factories import (
    SHANGHAI,
    CandidateFactory,
    CourseFactory,
    EntryFactory,
    ScoreFactory,
    SittingFactory,
)
from zikao.accounts.permissions import Role
from zikao.conduct.models import Violation, ViolationAppeal, ViolationEvent, ViolationScore
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.models import AuditEvent
from zikao.scores.models import Score

NOW = dt.datetime(2026, 5, 20, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def frozen():
    with clock.frozen_at(NOW):
        yield NOW


@pytest.fixture
def world(offices, make_staff, frozen):
    sitting = SittingFactory(
        label="202604",
        first_day=dt.date(2026, 4, 11),
        release_at=dt.datetime(2026, 5, 10, 15, tzinfo=SHANGHAI),
    )
    earlier = SittingFactory(
        label="202510",
        first_day=dt.date(2025, 10, 18),
        release_at=dt.datetime(2025, 11, 20, 15, tzinfo=SHANGHAI),
    )
    candidate = CandidateFactory(county_office=offices.county)
    courses = SimpleNamespace(
        **{
            k: CourseFactory(code=code, name=name)
            for k, code, name in [
                ("A", "00015", "英语(二)"),
                ("B", "00023", "高等数学(工本)"),
                ("C", "02197", "概率论与数理统计(二)"),
                ("W", "02331", "数据结构"),
                ("D", "02326", "操作系统"),
                ("E", "03708", "中国近现代史纲要"),
                ("X", "04747", "Java语言程序设计(一)"),
            ]
        }
    )
    scores = SimpleNamespace(
        A=ScoreFactory(entry=EntryFactory(candidate=candidate, sitting=sitting, course=courses.A), value=75),
        B=ScoreFactory(entry=EntryFactory(candidate=candidate, sitting=sitting, course=courses.B), value=58),
        C=ScoreFactory(
            entry=EntryFactory(candidate=candidate, sitting=sitting, course=courses.C),
            value=None,
            status="absent",
        ),
        W=ScoreFactory(
            entry=EntryFactory(candidate=candidate, sitting=sitting, course=courses.W),
            value=81,
            status="withheld",
        ),
        E=ScoreFactory(entry=EntryFactory(candidate=candidate, sitting=earlier, course=courses.E), value=88),
    )
    EntryFactory(candidate=candidate, sitting=sitting, course=courses.D)
    officer = make_staff(roles=(Role.CONDUCT_OFFICER,), office=offices.county)
    return SimpleNamespace(
        offices=offices,
        sitting=sitting,
        earlier=earlier,
        candidate=candidate,
        courses=courses,
        scores=scores,
        officer=officer,
        actor=Actor.staff(officer),
        city_officer=make_staff(roles=(Role.CONDUCT_OFFICER,), office=offices.city),
        province_officer=make_staff(roles=(Role.CONDUCT_OFFICER,), office=offices.province),
        make_staff=make_staff,
    )


def current(candidate, course, sitting) -> Score:
    return Score.objects.get(candidate=candidate, course=course, sitting=sitting, is_current=True)


def counts() -> dict:
    """Row counts of everything a conduct service may write."""
    return {
        "violations": Violation.objects.count(),
        "appeals": ViolationAppeal.objects.count(),
        "events": ViolationEvent.objects.count(),
        "links": ViolationScore.objects.count(),
        "scores": Score.objects.count(),
        "current_scores": Score.objects.filter(is_current=True).count(),
        "audit": AuditEvent.objects.count(),
    }


def state() -> dict:
    """Counts plus every violation's and appeal's mutable fields (for 'nothing changed')."""
    return {
        **counts(),
        "violation_rows": list(Violation.objects.order_by("pk").values()),
        "appeal_rows": list(ViolationAppeal.objects.order_by("pk").values()),
        "link_rows": list(ViolationScore.objects.order_by("pk").values()),
        "score_rows": list(Score.objects.order_by("pk").values("pk", "is_current", "status", "value")),
    }
