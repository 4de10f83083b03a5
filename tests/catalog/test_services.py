"""Services, the plan store and the management commands, against the database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from tests.catalog.conftest import PLANS, passes
from zikao.catalog.models import Course, Major, Plan, PlanItem, PlanSubstitution, PoliticsRuleSet, School
from zikao.catalog.planfile import PlanFileError
from zikao.catalog.planstore import plan_context
from zikao.catalog.services import (
    catalog_load_reference_data,
    courses_load,
    plan_import,
    politics_rules_import,
    substitution_import,
)
from zikao.core.audit import Actor
from zikao.core.models import AuditEvent

ACTOR = Actor.system("test")
CS24_TEXT = (PLANS / "080901_benke_2024.toml").read_text(encoding="utf-8")


@pytest.fixture
def courses(db):
    courses_load(actor=ACTOR)


@pytest.fixture
def keep_connection(monkeypatch):
    """run_from_argv closes every connection when it ends; inside a test that would drop the
    test transaction's connection (PostgreSQL), so keep it open."""
    from django.core.management import base

    monkeypatch.setattr(base.connections, "close_all", lambda: None)


@pytest.fixture
def reference(db):
    catalog_load_reference_data(actor=Actor.system("demo"))


def test_courses_load_is_idempotent(db):
    result = courses_load(actor=ACTOR)
    assert (result.created, result.updated, result.unchanged) == (1212, 0, 0)
    assert result.skipped == ()
    assert Course.objects.get(code="02277").credits == Decimal("3.5")
    assert Course.objects.get(code="13000").credits == 7
    again = courses_load(actor=ACTOR)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1212)
    assert AuditEvent.objects.filter(event_type="courses.loaded").count() == 1


def test_courses_load_refreshes_changed_rows(db, tmp_path):
    courses_load(actor=ACTOR)
    csv = tmp_path / "courses.csv"
    csv.write_text(
        "code,name,credits,kind\n13000,英语(专升本),8,theory\n99998,新课程,3,theory\n", encoding="utf-8"
    )
    result = courses_load(actor=ACTOR, path=csv)
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert Course.objects.get(code="13000").credits == 8
    assert Course.objects.count() == 1213


def test_reference_data_loads_everything_idempotently(reference):
    assert Course.objects.count() == 1212
    assert Plan.objects.count() == 6
    assert Major.objects.count() == 5
    assert PlanItem.objects.count() == 23 + 27 + 18 + 17 + 22 + 17
    assert PlanSubstitution.objects.count() == 1
    assert PoliticsRuleSet.objects.count() == 1
    assert sorted(School.objects.values_list("name", flat=True)) == sorted(
        ["南京航空航天大学", "南京师范大学", "南京财经大学", "江苏第二师范学院"]
    )
    events = AuditEvent.objects.count()
    assert events == 1 + 6 + 1 + 1
    catalog_load_reference_data(actor=Actor.system("demo"))
    assert AuditEvent.objects.count() == events
    assert Plan.objects.count() == 6


def test_plan_rows_mirror_the_spec(reference):
    plan = Plan.objects.get(major__code="080901", version=2024)
    assert plan.min_total_credits == 73
    assert plan.title == "计算机科学与技术 2024版"
    item = plan.items.get(course__code="13014")
    assert (item.row, item.credits, item.required, item.practice_for.code) == (8, 2, True, "13013")
    choice = plan.items.get(course__code="04751")
    assert (choice.required, choice.group) == (False, "network")
    assert list(plan.items.filter(degree_course=True).values_list("course__code", flat=True)) == [
        "13000",
        "13003",
        "13015",
        "13180",
    ]
    old = Plan.objects.get(major__code="080901", version=2021)
    assert (str(old.old_candidates_registered_before), str(old.graduate_until)) == (
        "2024-07-01",
        "2026-06-30",
    )
    assert old.major_id == plan.major_id
    assert plan.major.province_code == "X2080901"


def test_plan_import_is_idempotent_and_audited(courses):
    plan = plan_import(actor=ACTOR, text=CS24_TEXT, source_name="080901_benke_2024.toml")
    event = AuditEvent.objects.get(event_type="plan.imported")
    assert event.before is None and event.after["checksum"] == plan.checksum
    again = plan_import(actor=ACTOR, text=CS24_TEXT, source_name="080901_benke_2024.toml")
    assert again.pk == plan.pk and again.imported_at == plan.imported_at
    assert AuditEvent.objects.filter(event_type="plan.imported").count() == 1

    changed = CS24_TEXT.replace('title = "网络课程任选一门(15)"', 'title = "网络课程任选一门"')
    updated = plan_import(actor=ACTOR, text=changed, source_name="080901_benke_2024.toml")
    assert updated.pk == plan.pk and updated.spec["groups"][0]["title"] == "网络课程任选一门"
    last = AuditEvent.objects.filter(event_type="plan.imported").order_by("-id").first()
    assert last.before == {"checksum": plan.checksum}
    assert last.after["checksum"] == updated.checksum != plan.checksum
    assert PlanItem.objects.filter(plan=plan).count() == 23


def test_plan_import_update_removes_dropped_items(courses):
    plan = plan_import(actor=ACTOR, text=CS24_TEXT, source_name="a.toml")
    without_04751 = CS24_TEXT.replace('courses = ["13017", "04751"]', 'courses = ["13017"]').replace(
        "min_total_credits = 73", "min_total_credits = 76"
    )
    start = without_04751.index('[[item]]\ncourse = "04751"')
    end = without_04751.index("[[item]]", start + 5)
    plan = plan_import(actor=ACTOR, text=without_04751[:start] + without_04751[end:], source_name="a.toml")
    assert plan.items.count() == 22 and plan.min_total_credits == 76
    assert not plan.items.filter(course__code="04751").exists()


def test_refused_plan_writes_nothing(courses):
    bad = CS24_TEXT.replace('course = "02324"', 'course = "99999"').replace(
        "min_total_credits = 73", "min_total_credits = 700"
    )
    events = AuditEvent.objects.count()
    with pytest.raises(PlanFileError) as excinfo:
        plan_import(actor=ACTOR, text=bad, source_name="bad.toml")
    assert excinfo.value.codes == ["PLAN_UNKNOWN_COURSE"]
    assert "bad.toml: 第" in str(excinfo.value.message)
    assert (
        Plan.objects.count(),
        Major.objects.count(),
        School.objects.count(),
        PlanItem.objects.count(),
    ) == (0, 0, 0, 0)
    assert AuditEvent.objects.count() == events


def test_plan_import_needs_courses_in_the_database(db):
    with pytest.raises(PlanFileError) as excinfo:
        plan_import(actor=ACTOR, text=CS24_TEXT, source_name="x.toml")
    assert set(excinfo.value.codes) == {"PLAN_UNKNOWN_COURSE"}
    assert Plan.objects.count() == 0


def test_table_and_politics_import_idempotent(courses):
    table_text = (PLANS / "080901_benke_substitution_2021_2024.toml").read_text(encoding="utf-8")
    politics_text = (PLANS / "jiangsu_politics.toml").read_text(encoding="utf-8")
    table = substitution_import(actor=ACTOR, text=table_text, source_name="t.toml")
    rules = politics_rules_import(actor=ACTOR, text=politics_text, source_name="p.toml")
    assert substitution_import(actor=ACTOR, text=table_text, source_name="t.toml").pk == table.pk
    assert politics_rules_import(actor=ACTOR, text=politics_text, source_name="p.toml").pk == rules.pk
    assert (
        AuditEvent.objects.filter(
            event_type__in=["plan.substitution_imported", "plan.politics_imported"]
        ).count()
        == 2
    )
    assert (table.from_version, table.to_version, len(table.spec["rows"])) == (2021, 2024, 16)
    with pytest.raises(PlanFileError):
        politics_rules_import(
            actor=ACTOR,
            text=politics_text.replace('replaces = ["15043", "15044"]', 'replaces = ["15040"]'),
            source_name="p",
        )
    assert PoliticsRuleSet.objects.get().checksum == rules.checksum


def test_plan_context_feeds_the_engine(reference):
    plan = Plan.objects.get(major__code="080901", version=2024)
    spec, substitutions, politics = plan_context(plan)
    assert spec.key == "080901_benke_2024"
    assert [t.id for t in substitutions] == ["080901_benke_2021_2024"]
    assert len(substitutions[0].from_plan_courses) == 27 and len(substitutions[0].to_plan_courses) == 23
    assert politics is not None and politics.never_replaced == ("15040",)
    old = [
        c
        for c in plan_context(Plan.objects.get(major__code="080901", version=2021)).spec.codes
        if c not in ("27016", "27017", "27018", "00054", "00321", "27108", "04741")
    ]
    evaluation = plan_context(plan).evaluate(passes(*old, "15040", "04751", "00054"))
    assert (evaluation.complete, evaluation.credits_earned, [e.code for e in evaluation.extras]) == (
        True,
        76,
        ["00054"],
    )
    assert plan_context(plan).eligibility(passes("13013"))["13014"] is None
    # the 2021 plan sees the same table in reverse; other majors see no table
    assert [
        t.id for t in plan_context(Plan.objects.get(major__code="080901", version=2021)).substitutions
    ] == ["080901_benke_2021_2024"]
    assert plan_context(Plan.objects.get(major__code="050101")).substitutions == []


def test_import_plan_command_success(courses, tmp_path, capsys, keep_connection):
    path = tmp_path / "cs.toml"
    path.write_text(CS24_TEXT, encoding="utf-8")
    execute_from_command_line(["manage.py", "import_plan", str(path)])
    out = capsys.readouterr().out
    assert out.strip() == "cs.toml: plan 080901 计算机科学与技术 (本科) 2024版, 23 items, min 73 credits"
    assert Plan.objects.count() == 1


def test_import_plan_command_failure_exit_code(courses, tmp_path, capsys, keep_connection):
    path = tmp_path / "bad.toml"
    path.write_text(CS24_TEXT.replace('kind = "thesis"', 'kind = "thesis"\ncolour = 1'), encoding="utf-8")
    with pytest.raises(SystemExit) as excinfo:
        execute_from_command_line(["manage.py", "import_plan", str(path)])
    assert excinfo.value.code == 1
    err = capsys.readouterr().err
    line = (
        CS24_TEXT.replace('kind = "thesis"', 'kind = "thesis"\ncolour = 1').splitlines().index("colour = 1")
        + 1
    )
    assert f"bad.toml: 第{line}行: [PLAN_UNKNOWN_KEY]" in err
    assert Plan.objects.count() == 0
    with pytest.raises(CommandError) as excinfo:
        call_command("import_plan", str(path))
    assert excinfo.value.returncode == 1


def test_import_plan_command_syntax_error(courses, tmp_path, capsys, keep_connection):
    path = tmp_path / "broken.toml"
    path.write_text("[plan\nmajor_code = 1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as excinfo:
        execute_from_command_line(["manage.py", "import_plan", str(path)])
    assert excinfo.value.code == 1
    assert "broken.toml: 第1行: [PLAN_SYNTAX]" in capsys.readouterr().err


def test_load_catalog_command(db, capsys):
    call_command("load_catalog")
    assert capsys.readouterr().out.strip() == (
        "courses: 1212, plans: 6, substitution tables: 1, politics rule sets: 1"
    )
    call_command("load_catalog")
    assert Plan.objects.count() == 6
