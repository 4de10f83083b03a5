"""Shared world of the record pages' and /api/me tests (imported by test_records*.py).

Two candidates of 080901 (2024 plan) with real catalog courses. The clock is frozen around the
202604 release instant (2026-05-10 15:00 +08:00):

alice  202510 (released): 00023 高等数学(工本) 72 · 02324 离散数学 45 · 13013 高级语言程序设计 absent
       202604 (release 15:00): 13003 数据结构与算法 88 · 15040 习近平… 91 withheld
       exemption: 13000 英语(专升本) 60
bob    202510: 00023 95 · 202604: 02324 66
Sitting 202610 exists (entries open) and belongs to nobody.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from tests.factories import (
    SHANGHAI,
    CandidateFactory,
    CandidateMajorFactory,
    EntryFactory,
    SittingFactory,
)
from zikao.accounts.errors import AccountLocked, LoginFailed
from zikao.accounts.services import candidate_login, login_max_failures
from zikao.candidates.models import Candidate
from zikao.catalog.models import Course, Plan, Sitting
from zikao.catalog.services import catalog_load_reference_data
from zikao.core.audit import Actor
from zikao.scores.models import Method, Score
from zikao.scores.services import score_record

RELEASE = dt.datetime(2026, 5, 10, 15, 0, tzinfo=SHANGHAI)
BEFORE = RELEASE - dt.timedelta(microseconds=1)
EARLIER = dt.datetime(2026, 5, 10, 9, 0, tzinfo=SHANGHAI)
AFTER = RELEASE + dt.timedelta(minutes=5)
SYSTEM = Actor.system("test")


@dataclass
class World:
    alice: Candidate
    bob: Candidate
    s2510: Sitting
    s2604: Sitting
    s2610: Sitting
    withheld: Score
    unreleased: Score


def sit(candidate: Candidate, sitting: Sitting | None, code: str, *, value=None, grade="", status="valid"):
    """An entry and its result through the real service (exemption when `sitting` is None)."""
    course = Course.objects.get(code=code)
    if sitting is None:
        return score_record(
            actor=SYSTEM,
            candidate=candidate,
            course=course,
            sitting=None,
            value=value,
            method=Method.EXEMPTION,
        )
    EntryFactory(candidate=candidate, sitting=sitting, course=course)
    return score_record(
        actor=SYSTEM,
        candidate=candidate,
        course=course,
        sitting=sitting,
        value=value,
        grade=grade,
        status=status,
    )


def build_world() -> World:
    catalog_load_reference_data(actor=SYSTEM)
    plan = Plan.objects.get(major__code="080901", version=2024)
    alice = CandidateFactory(name="李明远", phone="13812345678")
    CandidateMajorFactory(candidate=alice, plan=plan, registered_on=dt.date(2024, 9, 1))
    bob = CandidateFactory(name="王芳")
    CandidateMajorFactory(candidate=bob, plan=plan, registered_on=dt.date(2024, 9, 1))
    s2510 = SittingFactory(
        label="202510",
        first_day=dt.date(2025, 10, 18),
        release_at=dt.datetime(2025, 11, 20, 15, tzinfo=SHANGHAI),
    )
    s2604 = SittingFactory(label="202604", first_day=dt.date(2026, 4, 11), release_at=RELEASE)
    s2610 = SittingFactory(
        label="202610",
        first_day=dt.date(2026, 10, 17),
        release_at=dt.datetime(2026, 11, 28, 15, tzinfo=SHANGHAI),
    )
    sit(alice, s2510, "00023", value=72)
    sit(alice, s2510, "02324", value=45)
    sit(alice, s2510, "13013", status="absent")
    unreleased = sit(alice, s2604, "13003", value=88)
    withheld = sit(alice, s2604, "15040", value=91, status="withheld")
    sit(alice, None, "13000", value=60)
    sit(bob, s2510, "00023", value=95)
    sit(bob, s2604, "02324", value=66)
    return World(alice, bob, s2510, s2604, s2610, withheld, unreleased)


def lock_account(candidate: Candidate) -> None:
    """Lock the candidate's account the real way: too many wrong passwords."""
    for _ in range(login_max_failures()):
        with contextlib.suppress(LoginFailed, AccountLocked):
            candidate_login(
                actor=Actor.public(ip="203.0.113.9"), identifier=candidate.candidate_no, password="Wrong1234x"
            )
