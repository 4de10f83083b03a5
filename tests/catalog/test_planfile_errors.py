"""Malformed plan files are refused with stable codes and the line of each problem."""

from __future__ import annotations

import pytest

from tests.catalog.conftest import CATALOG
from zikao.catalog.planfile import (
    PlanFileError,
    detect_kind,
    parse_plan,
    parse_politics_rules,
    parse_substitution_table,
)

BASE = """\
format = 1

[plan]
major_code = "120203K"
major_name = "会计学"
level = "benke"
version = 2030
school = "南京财经大学"
min_total_credits = 15

[[item]]
course = "13752"
name = "会计信息系统"
credits = 4
kind = "theory"

[[item]]
course = "13753"
name = "会计信息系统(实践)"
credits = 2
kind = "practice"
practice_for = "13752"

[[item]]
course = "08119"
name = "管理会计"
credits = 5
kind = "theory"

[[item]]
course = "00160"
name = "审计学"
credits = 4
kind = "theory"

[[item]]
course = "13141"
name = "财务报表分析"
credits = 5
kind = "theory"

[[item]]
course = "14848"
name = "会计学(本科)毕业论文"
credits = 0
kind = "thesis"

[[group]]
id = "electives"
title = "选考"
courses = ["08119", "00160", "13141"]
min_courses = 2
"""


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    lines = text.splitlines()
    hits = [n for n, line in enumerate(lines, start=1) if line.strip().startswith(fragment)]
    return hits[occurrence - 1]


def refuse(text: str) -> PlanFileError:
    with pytest.raises(PlanFileError) as excinfo:
        parse_plan(text, courses=CATALOG, source_name="bad.toml")
    return excinfo.value


def test_base_is_valid():
    spec = parse_plan(BASE, courses=CATALOG)
    assert [i.code for i in spec.items if i.required] == ["13752", "13753", "14848"]
    assert spec.paths[0].groups == ("electives",)


def test_syntax_error_gives_tomllib_line():
    text = BASE.replace(
        'credits = 5\nkind = "theory"\n\n[[item]]\ncourse = "00160"', 'credits = \nkind = "theory"'
    )
    error = refuse(text)
    assert error.code == "PLAN_SYNTAX"
    assert error.problems[0].line == text.splitlines().index("credits = ") + 1 == 27
    assert f"第{error.problems[0].line}行" in str(error.message)
    assert str(error.message).startswith("bad.toml: ")


def test_unknown_course():
    text = BASE.replace('course = "13141"', 'course = "99999"').replace('"13141"]', '"99999"]')
    error = refuse(text)
    assert error.codes[0] == "PLAN_UNKNOWN_COURSE"
    assert error.problems[0].line == line_of(text, 'course = "99999"')
    assert "99999" in str(error.message)


def test_credits_disagreeing_with_catalog():
    text = BASE.replace(
        'credits = 4\nkind = "theory"\n\n[[item]]\ncourse = "13753"',
        'credits = 5\nkind = "theory"\n\n[[item]]\ncourse = "13753"',
    )
    error = refuse(text)
    assert error.codes == ["PLAN_COURSE_MISMATCH"]
    assert error.problems[0].line == line_of(text, "credits = 5")


def test_practice_pointing_to_missing_theory():
    text = BASE.replace('practice_for = "13752"', 'practice_for = "13140"')
    error = refuse(text)
    assert error.codes == ["PLAN_PRACTICE_WITHOUT_THEORY"]
    assert error.problems[0].line == line_of(text, 'practice_for = "13140"')


def test_min_total_unreachable():
    text = BASE.replace("min_total_credits = 15", "min_total_credits = 40")
    error = refuse(text)
    assert error.code == "PLAN_TOTAL_UNREACHABLE"
    assert "40" in str(error.message) and "20" in str(error.message)


def test_min_total_inconsistent_with_items():
    text = BASE.replace("min_total_credits = 15", "min_total_credits = 10")
    error = refuse(text)
    assert error.code == "PLAN_TOTAL_INCONSISTENT"
    assert error.problems[0].line == line_of(text, "min_total_credits = 10")


def test_group_needing_more_courses_than_it_holds():
    text = BASE.replace("min_courses = 2", "min_courses = 4")
    error = refuse(text)
    assert error.code == "PLAN_GROUP_UNSATISFIABLE"
    assert error.problems[0].line == line_of(text, "[[group]]")


def test_group_needing_more_credits_than_it_holds():
    text = BASE.replace("min_courses = 2", "min_courses = 1\nmax_courses = 2\nmin_credits = 11")
    error = refuse(text)
    assert error.code == "PLAN_GROUP_UNSATISFIABLE"


def test_duplicate_course():
    text = BASE.replace(
        'course = "00160"\nname = "审计学"\ncredits = 4', 'course = "08119"\nname = "管理会计"\ncredits = 5'
    )
    error = refuse(text)
    assert "PLAN_DUPLICATE_COURSE" in error.codes
    assert error.problems[0].line == line_of(text, 'course = "08119"', 2)


def test_thesis_with_credits():
    text = BASE.replace('credits = 0\nkind = "thesis"', 'credits = 2\nkind = "thesis"')
    error = refuse(text)
    assert set(error.codes) == {"PLAN_THESIS_CREDITS", "PLAN_COURSE_MISMATCH"}
    assert {p.line for p in error.problems} == {line_of(text, "credits = 2", 2)}


def test_unknown_key():
    text = BASE.replace('kind = "thesis"', 'kind = "thesis"\ncolour = "red"')
    error = refuse(text)
    assert error.codes == ["PLAN_UNKNOWN_KEY"]
    assert error.problems[0].line == line_of(text, "colour")


def test_unknown_group_in_path_and_unused_group():
    text = BASE + '\n[[path]]\nid = "only"\ntitle = "x"\ngroups = ["nope"]\n'
    error = refuse(text)
    assert error.codes == ["PLAN_GROUP_UNUSED", "PLAN_UNKNOWN_GROUP"]
    assert {p.code: p.line for p in error.problems} == {
        "PLAN_GROUP_UNUSED": line_of(text, "[[group]]"),
        "PLAN_UNKNOWN_GROUP": line_of(text, 'groups = ["nope"]'),
    }
    assert line_of(text, "[[group]]") < line_of(text, 'groups = ["nope"]')


def test_precondition_that_can_never_hold():
    text = BASE.replace('practice_for = "13752"', 'practice_for = "13752"\nmin_passed_courses = 9')
    error = refuse(text)
    assert error.codes == ["PLAN_PRECONDITION"]


def test_all_problems_reported_together_with_lines():
    text = (
        BASE.replace('course = "13141"', 'course = "99999"')
        .replace('"13141"]', '"99999"]')
        .replace('kind = "thesis"', 'kind = "thesis"\ncolour = "red"')
    )
    error = refuse(text)
    assert error.code == "PLAN_INVALID"
    assert [(p.line, p.code) for p in error.problems] == [
        (line_of(text, 'course = "99999"'), "PLAN_UNKNOWN_COURSE"),
        (line_of(text, "colour"), "PLAN_UNKNOWN_KEY"),
    ]
    assert len(str(error.message).splitlines()) == 2
    assert error.as_dict()["fields"]["problems"][0]["code"] == "PLAN_UNKNOWN_COURSE"


def test_missing_and_wrongly_typed_keys():
    text = BASE.replace('school = "南京财经大学"\n', "").replace("version = 2030", 'version = "2030"')
    error = refuse(text)
    assert set(error.codes) == {"PLAN_MISSING_KEY", "PLAN_BAD_VALUE"}
    assert {p.code: p.line for p in error.problems} == {
        "PLAN_MISSING_KEY": line_of(text, "[plan]"),
        "PLAN_BAD_VALUE": line_of(text, "version ="),
    }


def test_detect_kind_refuses_unknown_documents():
    with pytest.raises(PlanFileError) as excinfo:
        detect_kind("[other]\nx = 1\n")
    assert excinfo.value.code == "PLAN_UNKNOWN_KIND"


TABLE = """\
[table]
id = "t"
major_code = "080901"
level = "benke"
from_version = 2021
to_version = 2024

[[row]]
old_row = "1"
new_row = "2"
old = ["00054", "00321", "27108"]
old_min = 2
new = ["13000"]
"""


def test_table_target_side_needs_all_or_one():
    with pytest.raises(PlanFileError) as excinfo:
        parse_substitution_table(TABLE, courses=CATALOG)
    assert excinfo.value.code == "SUBST_MIN"
    assert excinfo.value.problems[0].line == line_of(TABLE, "old_min")
    table = parse_substitution_table(
        TABLE.replace('new = ["13000"]', 'new = ["13000"]\nreversible = false'), courses=CATALOG
    )
    assert table.rows[0].old.min == 2


def test_table_unknown_course_and_two_practice_parts():
    text = TABLE.replace(
        'old = ["00054", "00321", "27108"]\nold_min = 2', 'old = ["04737", "04738", "02332"]'
    ).replace('new = ["13000"]', 'new = ["13013", "99999"]')
    with pytest.raises(PlanFileError) as excinfo:
        parse_substitution_table(text, courses=CATALOG)
    assert {(p.code, p.line) for p in excinfo.value.problems} == {
        ("SUBST_PRACTICE", line_of(text, "old = ")),
        ("PLAN_UNKNOWN_COURSE", line_of(text, "new = ")),
    }


POLITICS = """\
[politics]
id = "p"
never_replaced = ["15040"]

[[old_course]]
level = "benke"
seq = 1
codes = ["03708"]
name = "中国近现代史纲要"

[[rule]]
level = "benke"
id = "R"
seqs = [1]
min_passed = 1
replaces = ["15040", "15043"]
"""


def test_politics_rule_may_not_replace_15040():
    with pytest.raises(PlanFileError) as excinfo:
        parse_politics_rules(POLITICS, courses=CATALOG)
    assert excinfo.value.codes == ["POLITICS_PROTECTED"]
    assert excinfo.value.problems[0].line == line_of(POLITICS, "replaces")
    with pytest.raises(PlanFileError) as excinfo:
        parse_politics_rules(
            POLITICS.replace("seqs = [1]", "seqs = [1, 7]").replace('"15040", ', ""), courses=CATALOG
        )
    assert excinfo.value.codes == ["POLITICS_UNKNOWN_SEQ"]
