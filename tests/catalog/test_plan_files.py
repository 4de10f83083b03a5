"""The shipped plan files say exactly what the handbook CSVs say."""

from __future__ import annotations

import csv
import re
from decimal import Decimal

import pytest

from tests.catalog.conftest import CATALOG, HANDBOOK, POLITICS, SKIPPED, SPECS, TABLE, passes
from zikao.catalog.planfile import PlanSpec, PoliticsRules, SubstitutionTable
from zikao.catalog.rules import evaluate_plan

HANDBOOK_FILES = {
    "080901_benke_2024": "080901_benke.csv",
    "080901_benke_2021": "080901_benke_2021.csv",
    "050101_benke_2024": "050101_benke.csv",
    "120203K_benke_2024": "120203K_benke.csv",
    "570102K_zhuanke_2024": "570102K_zhuanke.csv",
    "590202_zhuanke_2024": "590202_zhuanke.csv",
}


def handbook_rows(name: str) -> list[dict[str, str]]:
    with (HANDBOOK / HANDBOOK_FILES[name]).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_course_list_loads_all_courses_half_credits_exactly():
    assert len(CATALOG) == 1212
    assert SKIPPED == []
    assert (CATALOG["02277"].credits, CATALOG["02278"].credits, CATALOG["13000"].credits) == (
        Decimal("3.5"),
        Decimal("0.5"),
        7,
    )
    assert type(CATALOG["13000"].credits) is int


@pytest.mark.parametrize("name", sorted(HANDBOOK_FILES))
def test_plan_matches_handbook_rows(name):
    spec = SPECS[name]
    rows = handbook_rows(name)
    assert [(i.code, i.name, i.credits, i.kind) for i in spec.items] == [
        (r["course_code"], r["course_name"], int(r["credits"]), r["kind"]) for r in rows
    ]
    assert [i.row for i in spec.items] == list(range(1, len(rows) + 1))
    for item, row in zip(spec.items, rows, strict=True):
        assert item.required == (row["required"] == "yes"), item.code
        assert item.degree == ("◆" in row["notes"]), item.code
        practice = re.search(r"practice for (\d{5})", row["notes"])
        assert item.practice_for == (practice.group(1) if practice else None), item.code
    # rows sharing a handbook group text share a plan group (and only those)
    by_text: dict[str, set[frozenset[str]]] = {}
    for item, row in zip(spec.items, rows, strict=True):
        if row["group"]:
            by_text.setdefault(row["group"], set()).add(frozenset(item.groups))
    assert all(len(v) == 1 for v in by_text.values())


def _cheapest_complete(spec: PlanSpec, path_id: str) -> int:
    """Credits of the cheapest complete way through a path, found by the engine itself."""
    path = next(p for p in spec.paths if p.id == path_id)
    required = [i.code for i in spec.items if i.required]
    best = None
    from itertools import combinations

    group_choices = []
    for gid in path.groups:
        group = spec.group(gid)
        options = [
            subset
            for size in range(1, len(group.courses) + 1)
            for subset in combinations(group.courses, size)
            if (group.max_courses is None or size <= group.max_courses)
        ]
        group_choices.append(options)
    from itertools import product

    for combo in product(*group_choices):
        codes = required + [c for subset in combo for c in subset]
        evaluation = evaluate_plan(spec, passes(*codes))
        if evaluation.complete and evaluation.path == path_id:
            best = evaluation.credits_earned if best is None else min(best, evaluation.credits_earned)
    assert best is not None
    return best


@pytest.mark.parametrize(
    ("name", "path", "plan_min", "path_min", "cheapest"),
    [
        ("080901_benke_2024", "default", 73, 73, 73),
        ("080901_benke_2021", "with_foreign_language", 73, 73, 73),
        ("080901_benke_2021", "without_foreign_language", 73, 75, 75),
        ("050101_benke_2024", "with_foreign_language", 76, 76, 76),
        ("050101_benke_2024", "without_foreign_language", 76, 79, 79),
        ("120203K_benke_2024", "default", 73, 73, 73),
        ("570102K_zhuanke_2024", "default", 82, 82, 82),
        ("590202_zhuanke_2024", "default", 73, 73, 73),
    ],
)
def test_totals_as_printed(name, path, plan_min, path_min, cheapest):
    spec = SPECS[name]
    assert spec.min_total_credits == plan_min
    assert next(p for p in spec.paths if p.id == path).min_total_credits == path_min
    assert _cheapest_complete(spec, path) == cheapest


def test_080901_with_13017_is_76_credits():
    spec = SPECS["080901_benke_2024"]
    evaluation = evaluate_plan(spec, passes(*(i.code for i in spec.items if i.code != "04751")))
    assert (evaluation.complete, evaluation.credits_earned, evaluation.min_total_credits) == (True, 76, 73)


def test_plan_metadata():
    spec = SPECS["080901_benke_2021"]
    assert (spec.major_code, spec.level, spec.version, spec.school, spec.province_code) == (
        "080901",
        "benke",
        2021,
        "南京航空航天大学",
        "X2080901",
    )
    assert (spec.old_candidates_registered_before.isoformat(), spec.graduate_until.isoformat()) == (
        "2024-07-01",
        "2026-06-30",
    )
    assert SPECS["590202_zhuanke_2024"].item("14105").min_passed_courses == 10
    assert [i.code for i in SPECS["080901_benke_2024"].items if i.degree] == [
        "13000",
        "13003",
        "13015",
        "13180",
    ]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_spec_json_round_trip(name):
    spec = SPECS[name]
    assert PlanSpec.from_json(spec.to_json()) == spec


def test_table_and_politics_json_round_trip():
    plain = SubstitutionTable.from_json(TABLE.to_json())
    assert plain.rows == TABLE.rows and plain.id == TABLE.id
    assert PoliticsRules.from_json(POLITICS.to_json()) == POLITICS


def test_substitution_table_matches_handbook():
    with (HANDBOOK / "080901_substitution_2021_to_2024.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["old_codes"]]
    assert len(TABLE.rows) == len(rows) == 16
    for row, hb in zip(TABLE.rows, rows, strict=True):
        assert (row.old_row, row.new_row) == (hb["old_row"], hb["new_row"])
        assert set(re.split(r"[|+]", hb["old_codes"])) == {*row.old.theory, *filter(None, [row.old.practice])}
        assert set(re.split(r"[|+]", hb["new_codes"])) == {*row.new.theory, *filter(None, [row.new.practice])}
        assert ("|" in hb["old_codes"]) == (row.old.min < len(row.old.theory))
        assert ("|" in hb["new_codes"]) == (row.new.min < len(row.new.theory))
    by_row = {r.old_row: r for r in TABLE.rows}
    assert by_row["15-17"].old.min == 2 and by_row["15-17"].reversible is False
    assert by_row["3"].old.min == 1


def test_politics_rules_match_handbook():
    with (HANDBOOK / "jiangsu_politics_course_rules.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for hb in rows:
        level = "benke" if hb["level"].startswith("本科") else "zhuanke"
        if hb["old_seq"].startswith("RULE"):
            rule = next(r for r in POLITICS.rules if r.level == level and r.id == hb["old_seq"])
            assert set(rule.requires) == set(hb["new_courses_required_if_rule_applies"].split(" + "))
        else:
            old = next(o for o in POLITICS.old_courses if o.level == level and o.seq == int(hb["old_seq"]))
            assert set(re.findall(r"\d{5}", hb["old_courses"])) == set(old.codes)
    assert POLITICS.never_replaced == ("15040",)
    assert all("15040" not in r.replaces for r in POLITICS.rules)
