"""A small entry world shared by the entries, portal and API tests (imported, not a conftest).

Offices: 江苏 › 南京 › 玄武区 (county) and 秦淮区 (sibling); 苏州 › 姑苏区 (other_county).
Sitting 202610 (first day Sat 2026-10-17), entry window 2026-08-20 09:00 – 2026-08-30 17:00
(+08:00); DURING is inside it. Sitting 202604 is released (alice passed 10012 there).

Plan 990001 (test, 本科 2024) and the 202610 timetable:

    code   kind      plan  slot     note
    10001  theory    yes   SAT_AM
    10002  theory    yes   SAT_PM
    10003  theory    yes   SUN_AM
    10004  practice  yes   SUN_PM   practice part of 10001 (THEORY_NOT_PASSED until 10001 passes)
    10005  theory    yes   SAT_AM   clashes with 10001
    10006  theory    yes   SUN_PM
    10008  theory    no    SUN_AM   offered, not in the plan
    10009  theory    yes   —        in the plan, not offered
    10010  thesis    yes   SUN_AM   THESIS_NOT_YET
    10011  theory    yes   SAT_PM   precondition: ≥ 3 plan courses met
    10012  theory    yes   SAT_PM   alice passed it in 202604

Seat counters of 202610: 玄武区 and 秦淮区 `capacity` seats in every slot, 姑苏区 5; none for
the city itself. Fee 4500 fen, max 4 courses (ProvincePolicy row).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tests.factories import (
    SHANGHAI,
    CandidateFactory,
    CandidateMajorFactory,
    CityFactory,
    CountyFactory,
    CourseFactory,
    EntryFactory,
    MajorFactory,
    PlanFactory,
    ProvinceFactory,
    ScoreFactory,
    SittingFactory,
)
from zikao.accounts.models import Office
from zikao.candidates.models import Candidate
from zikao.catalog.models import Course, Plan, ProvincePolicy, Sitting, Slot, TimetableEntry
from zikao.catalog.rules import default_slots
from zikao.conduct.models import Violation
from zikao.core.audit import Actor
from zikao.entries.models import AreaSlotCapacity

OPENS = dt.datetime(2026, 8, 20, 9, 0, tzinfo=SHANGHAI)
CLOSES = dt.datetime(2026, 8, 30, 17, 0, tzinfo=SHANGHAI)
DURING = dt.datetime(2026, 8, 25, 10, 0, tzinfo=SHANGHAI)
BEFORE_OPEN = OPENS - dt.timedelta(microseconds=1)
SLOT_CODES = ("SAT_AM", "SAT_PM", "SUN_AM", "SUN_PM")

COURSES = {
    "10001": ("理论课程甲", "theory", "SAT_AM"),
    "10002": ("理论课程乙", "theory", "SAT_PM"),
    "10003": ("理论课程丙", "theory", "SUN_AM"),
    "10004": ("理论课程甲(实践)", "practice", "SUN_PM"),
    "10005": ("理论课程丁", "theory", "SAT_AM"),
    "10006": ("理论课程戊", "theory", "SUN_PM"),
    "10008": ("计划外课程", "theory", "SUN_AM"),
    "10009": ("本次不开考课程", "theory", None),
    "10010": ("毕业论文", "thesis", "SUN_AM"),
    "10011": ("有前置条件的课程", "theory", "SAT_PM"),
    "10012": ("已合格课程", "theory", "SAT_PM"),
}
PLAN_CODES = ("10001", "10002", "10003", "10004", "10005", "10006", "10009", "10010", "10011", "10012")


def plan_spec() -> dict:
    items = []
    for row, code in enumerate(PLAN_CODES, start=1):
        name, kind, _slot = COURSES[code]
        items.append(
            {
                "row": row,
                "code": code,
                "name": name,
                "credits": 4 if kind != "practice" else 2,
                "kind": kind,
                "practice_for": "10001" if code == "10004" else None,
                "min_passed_courses": 3 if code == "10011" else None,
            }
        )
    return {
        "major_code": "990001",
        "major_name": "测试专业",
        "level": "benke",
        "version": 2024,
        "school": "测试大学",
        "min_total_credits": 38,
        "items": items,
        "groups": [],
        "paths": [{"id": "default", "title": "", "groups": [], "min_total_credits": 38}],
    }


@dataclass
class EntryWorld:
    province: Office
    city: Office
    county: Office
    sibling: Office
    other_city: Office
    other_county: Office
    sitting: Sitting
    earlier: Sitting
    slots: dict[str, Slot]
    courses: dict[str, Course]
    plan: Plan
    alice: Candidate
    bob: Candidate

    def counter(self, area: Office, slot: str) -> AreaSlotCapacity:
        return AreaSlotCapacity.objects.get(sitting=self.sitting, area=area, slot=self.slots[slot])

    def taken(self, area: Office | None = None) -> dict[str, int]:
        """slot code → taken seats of `area` (default the county)."""
        area = area or self.county
        return {
            c.slot.code: c.taken
            for c in AreaSlotCapacity.objects.filter(sitting=self.sitting, area=area).select_related("slot")
        }

    def actor(self, candidate: Candidate, ip: str | None = "203.0.113.5") -> Actor:
        return Actor.candidate(candidate, ip=ip)

    def candidate(self, **kwargs) -> Candidate:
        """Another candidate of the plan in the county."""
        kwargs.setdefault("county_office", self.county)
        candidate = CandidateFactory(**kwargs)
        CandidateMajorFactory(candidate=candidate, plan=self.plan, registered_on=dt.date(2024, 9, 1))
        return candidate

    def pass_course(self, candidate: Candidate, code: str, value: int = 80) -> None:
        """A released exam pass of `code` in 202604."""
        entry = EntryFactory(candidate=candidate, sitting=self.earlier, course=self.courses[code])
        ScoreFactory(entry=entry, value=value)

    def suspend(self, candidate: Candidate, *, starts: dt.date, ends: dt.date) -> Violation:
        return Violation.objects.create(
            candidate=candidate,
            sitting=self.earlier,
            kind=Violation.Kind.SERIOUS_CHEATING,
            penalty=Violation.Penalty.VOID_SITTING,
            suspension=Violation.Suspension.ZIKAO,
            suspension_years=1,
            suspension_starts=starts,
            suspension_ends=ends,
            decided_at=dt.datetime(2026, 5, 1, 9, 0, tzinfo=SHANGHAI),
        )


def build_entry_world(*, capacity: int = 30) -> EntryWorld:
    province = ProvinceFactory()
    city = CityFactory(parent=province)
    county = CountyFactory(parent=city, name="玄武区", region_code="320102", exam_code="02")
    sibling = CountyFactory(parent=city, name="秦淮区", region_code="320104", exam_code="04")
    other_city = CityFactory(parent=province, name="苏州市", region_code="320500", exam_code="05")
    other_county = CountyFactory(parent=other_city, name="姑苏区", region_code="320508", exam_code="08")
    ProvincePolicy.objects.create(max_courses_per_sitting=4, fee_per_course_fen=4500)

    earlier = SittingFactory(
        label="202604",
        first_day=dt.date(2026, 4, 11),
        release_at=dt.datetime(2026, 5, 10, 15, 0, tzinfo=SHANGHAI),
    )
    sitting = SittingFactory(
        label="202610",
        first_day=dt.date(2026, 10, 17),
        entry_opens_at=OPENS,
        entry_closes_at=CLOSES,
        release_at=dt.datetime(2026, 11, 28, 15, 0, tzinfo=SHANGHAI),
    )
    slots = {
        code: Slot.objects.create(sitting=sitting, code=code, starts_at=start, ends_at=end)
        for code, start, end in default_slots(sitting.first_day, SHANGHAI)
    }
    courses = {
        code: CourseFactory(code=code, name=name, kind=kind) for code, (name, kind, _s) in COURSES.items()
    }
    for code, (_name, _kind, slot) in COURSES.items():
        if slot is not None:
            TimetableEntry.objects.create(sitting=sitting, slot=slots[slot], course=courses[code])

    major = MajorFactory(code="990001", name="测试专业", level="benke")
    plan = PlanFactory(major=major, version=2024, spec=plan_spec(), min_total_credits=38)

    for area, seats in ((county, capacity), (sibling, capacity), (other_county, 5)):
        for slot in slots.values():
            AreaSlotCapacity.objects.create(sitting=sitting, area=area, slot=slot, capacity=seats, taken=0)

    world = EntryWorld(
        province=province,
        city=city,
        county=county,
        sibling=sibling,
        other_city=other_city,
        other_county=other_county,
        sitting=sitting,
        earlier=earlier,
        slots=slots,
        courses=courses,
        plan=plan,
        alice=None,  # type: ignore[arg-type]
        bob=None,  # type: ignore[arg-type]
    )
    world.alice = world.candidate(name="李明远")
    world.bob = world.candidate(name="王芳")
    world.pass_course(world.alice, "10012")
    return world
