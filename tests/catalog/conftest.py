"""Fixtures for the plan engine: the shipped files parsed against the shipped course list."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from zikao.catalog.planfile import (
    PlanSpec,
    PoliticsRules,
    SubstitutionTable,
    parse_plan,
    parse_politics_rules,
    parse_substitution_table,
    read_course_csv,
)
from zikao.catalog.rules import PassedCourse

DATA = Path(__file__).resolve().parents[2] / "src" / "zikao" / "catalog" / "data"
PLANS = DATA / "plans"
HANDBOOK = DATA / "handbook"

CATALOG, SKIPPED = read_course_csv((DATA / "courses.csv").read_text(encoding="utf-8"))


def load_spec(name: str) -> PlanSpec:
    return parse_plan((PLANS / f"{name}.toml").read_text(encoding="utf-8"), courses=CATALOG, source_name=name)


SPECS = {
    name: load_spec(name)
    for name in (
        "080901_benke_2024",
        "080901_benke_2021",
        "050101_benke_2024",
        "120203K_benke_2024",
        "570102K_zhuanke_2024",
        "590202_zhuanke_2024",
    )
}


def _table() -> SubstitutionTable:
    text = (PLANS / "080901_benke_substitution_2021_2024.toml").read_text(encoding="utf-8")
    table = parse_substitution_table(text, courses=CATALOG)
    return dataclasses.replace(
        table,
        from_plan_courses=tuple((i.code, i.credits) for i in SPECS["080901_benke_2021"].items),
        to_plan_courses=tuple((i.code, i.credits) for i in SPECS["080901_benke_2024"].items),
    )


TABLE = _table()
POLITICS: PoliticsRules = parse_politics_rules(
    (PLANS / "jiangsu_politics.toml").read_text(encoding="utf-8"), courses=CATALOG
)


def passes(*codes: str, method: str = "exam") -> list[PassedCourse]:
    """PassedCourse rows for codes; historical politics codes not in the catalog get placeholders."""
    result = []
    for code in codes:
        course = CATALOG.get(code)
        if course is None:
            result.append(PassedCourse(code, f"old {code}", 2, "theory", method, "201004"))
        else:
            result.append(PassedCourse(code, course.name, course.credits, course.kind, method, "202404"))
    return result


def all_codes(spec: PlanSpec, *, skip: tuple[str, ...] = ()) -> list[str]:
    return [i.code for i in spec.items if i.code not in skip]


@pytest.fixture
def specs() -> dict[str, PlanSpec]:
    return SPECS
