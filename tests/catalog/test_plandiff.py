"""The plan diff of the upload preview (catalog.plandiff): pure, on parsed plan files."""

from __future__ import annotations

import dataclasses
from datetime import date

from tests.catalog.conftest import CATALOG, SPECS
from tests.catalog.office_support import CS24_TEXT, modified_cs24
from zikao.catalog.plandiff import CourseChange, CourseLine, FieldChange, PartChange, PlanDiff, plan_diff
from zikao.catalog.planfile import PathSpec, parse_plan


def test_same_plan_has_no_differences():
    spec = SPECS["080901_benke_2024"]
    assert plan_diff(spec, spec).is_empty


def test_courses_added_removed_changed_and_group_rules():
    old = parse_plan(CS24_TEXT, courses=CATALOG)
    new = parse_plan(modified_cs24(), courses=CATALOG)
    assert plan_diff(old, new) == PlanDiff(
        plan=(),
        added=(
            CourseLine("00024", "普通逻辑", "4", "笔试", "必考"),
            CourseLine("04741", "计算机网络原理", "4", "笔试", "选考(network)"),
        ),
        removed=(
            CourseLine("04747", "Java语言程序设计(一)", "3", "笔试", "必考"),
            CourseLine("04748", "Java语言程序设计(一)(实践)", "1", "实践", "必考"),
        ),
        changed=(CourseChange("02333", "软件工程", (FieldChange("degree", "学位课程", "否", "是"),)),),
        groups=(
            PartChange(
                "network",
                "网络课程任选一门(15)",
                "changed",
                (
                    FieldChange("courses", "课程", "13017、04751", "13017、04751、04741"),
                    FieldChange("min_credits", "至少学分", "0", "3"),
                ),
            ),
        ),
        paths=(),
    )


def test_plan_facts_credits_placement_and_paths():
    old = SPECS["080901_benke_2024"]
    items = list(old.items)
    index = next(i for i, item in enumerate(items) if item.code == "00023")
    items[index] = dataclasses.replace(items[index], credits=9, groups=("network",), practice_for=None)
    new = dataclasses.replace(
        old,
        major_name="计算机科学与技术(新)",
        min_total_credits=74,
        graduate_until=date(2029, 6, 30),
        items=tuple(items),
        groups=(),
        paths=(PathSpec("default", "唯一路径", (), 74), PathSpec("alt", "另一路径", (), 80)),
    )
    diff = plan_diff(old, new)
    assert diff.plan == (
        FieldChange("major_name", "专业名称", "计算机科学与技术", "计算机科学与技术(新)"),
        FieldChange("min_total_credits", "最低总学分", "73", "74"),
        FieldChange("graduate_until", "过渡期毕业截止", "—", "2029-06-30"),
    )
    assert diff.changed == (
        CourseChange(
            "00023",
            "高等数学(工本)",
            (
                FieldChange("credits", "学分", "10", "9"),
                FieldChange("placement", "必考/选考", "必考", "选考(network)"),
            ),
        ),
    )
    assert diff.groups == (PartChange("network", "网络课程任选一门(15)", "removed"),)
    assert diff.paths == (
        PartChange(
            "default",
            "唯一路径",
            "changed",
            (
                FieldChange("groups", "适用课程组", "network", "—"),
                FieldChange("min_total_credits", "最低总学分", "73", "74"),
            ),
        ),
        PartChange("alt", "另一路径", "added"),
    )
