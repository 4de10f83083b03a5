"""The timetable: dry run of an uploaded spreadsheet (per-row report, clashes), apply in one
transaction tied to what was checked, single-row edits, locks."""

from __future__ import annotations

import pytest

from tests.catalog.office_support import (
    ACC_LABEL,
    CS24_LABEL,
    HR_LABEL,
    NOW,
    PRE_LABEL,
    ZH_LABEL,
    at,
    events,
    load_reference,
    make_sitting,
    xlsx,
)
from tests.factories import CandidateFactory, EntryFactory
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.catalog.models import CatalogUpload, Course, TimetableEntry
from zikao.catalog.rules import Clash
from zikao.catalog.selectors import timetable_assignment, timetable_clash_report, timetable_report
from zikao.catalog.services import (
    timetable_entry_delete,
    timetable_entry_save,
    timetable_upload_apply,
    timetable_upload_create,
)
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, ValidationFailed
from zikao.core.models import AuditEvent


@pytest.fixture
def reference(db):
    load_reference()


@pytest.fixture
def frozen_now():
    with clock.frozen_at(NOW):
        yield NOW


@pytest.fixture
def manager(offices, make_staff):
    return Actor.staff(make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province))


@pytest.fixture
def sitting(reference, frozen_now):
    return make_sitting()


def upload(actor, sitting, content: bytes, name: str = "timetable.csv") -> CatalogUpload:
    return timetable_upload_create(actor=actor, sitting=sitting, content=content, source_name=name)


def test_clean_file_is_applied_in_one_go_with_one_event(manager, sitting):
    content = "课程代码,时段\n15040,SAT_AM\n13000,SAT_PM\n00023,SUN_AM\n".encode()
    item = upload(manager, sitting, content)
    report = timetable_report(item)
    assert (report.added, report.unchanged, report.errors, report.clashes, report.can_apply) == (
        3,
        0,
        0,
        [],
        True,
    )
    result = timetable_upload_apply(actor=manager, upload=item, base=report.base)
    assert result.added == (("15040", "SAT_AM"), ("13000", "SAT_PM"), ("00023", "SUN_AM"))
    assert timetable_assignment(sitting) == {"15040": "SAT_AM", "13000": "SAT_PM", "00023": "SUN_AM"}
    event = AuditEvent.objects.get(event_type="timetable.imported")
    assert (event.subject_type, event.subject_id, event.actor_user_id) == (
        "catalog.sitting",
        str(sitting.pk),
        manager.user.pk,
    )
    assert event.after == {
        "source": "timetable.csv",
        "checksum": item.checksum,
        "added": [["15040", "SAT_AM"], ["13000", "SAT_PM"], ["00023", "SUN_AM"]],
        "unchanged": 0,
    }
    # The same file again: every row is already so; nothing to add, nothing written.
    again = timetable_report(CatalogUpload.objects.get(pk=item.pk))
    assert (again.added, again.unchanged, again.can_apply) == (0, 3, False)
    count = events()
    with pytest.raises(DomainError) as caught:
        timetable_upload_apply(actor=manager, upload=item, base=again.base)
    assert caught.value.code == "TIMETABLE_NOTHING_TO_ADD"
    assert events() == count


def test_stale_dry_run_is_refused(manager, sitting):
    item = upload(manager, sitting, b"13000,SAT_PM\n")
    report = timetable_report(item)
    timetable_entry_save(actor=manager, sitting=sitting, course_code="15040", slot_code="SUN_PM")
    with pytest.raises(DomainError) as caught:
        timetable_upload_apply(actor=manager, upload=item, base=report.base)
    assert caught.value.code == "TIMETABLE_STALE"
    assert timetable_assignment(sitting) == {"15040": "SUN_PM"}


def test_any_row_error_blocks_the_whole_file(manager, sitting):
    item = upload(manager, sitting, "课程代码,时段\n15040,SAT_AM\n99999,SAT_PM\n13000,周八上午\n".encode())
    report = timetable_report(item)
    assert [(r.number, r.status, r.code) for r in report.rows] == [
        (2, "add", ""),
        (3, "error", "TIMETABLE_UNKNOWN_COURSE"),
        (4, "error", "TIMETABLE_UNKNOWN_SLOT"),
    ]
    assert report.can_apply is False
    count = events()
    with pytest.raises(DomainError) as caught:
        timetable_upload_apply(actor=manager, upload=item, base=report.base)
    assert (caught.value.code, str(caught.value.message)) == (
        "TIMETABLE_HAS_ERRORS",
        "文件有 2 处错误,未导入任何数据。",
    )
    assert TimetableEntry.objects.count() == 0
    assert events() == count


def test_clashes_are_reported_with_plans_and_courses(manager, sitting):
    content = xlsx(
        [
            ("课程代码", "课程名称", "日期", "上下午"),
            ("15040", "习近平新时代中国特色社会主义思想概论", "2027-04-10", "上午"),
            ("13000", "英语(专升本)", "2027-04-10", "上午"),
            ("13013", "高级语言程序设计", "2027-04-11", "下午"),
            ("13014", "高级语言程序设计(实践)", "2027-04-11", "下午"),
            ("00018", "计算机应用基础", "2027-04-11", "上午"),
        ]
    )
    item = upload(manager, sitting, content, "timetable.xlsx")
    report = timetable_report(item)
    assert report.source == "xlsx"
    assert (report.added, report.errors) == (5, 0)
    assert report.clashes == [
        Clash("SAT_AM", ("13000", "15040"), (ZH_LABEL, CS24_LABEL, ACC_LABEL), "plan"),
        Clash("SUN_PM", ("13013", "13014"), (CS24_LABEL,), "pair"),
    ]
    assert report.course_names == {
        "13000": "英语(专升本)",
        "15040": "习近平新时代中国特色社会主义思想概论",
        "13013": "高级语言程序设计",
        "13014": "高级语言程序设计(实践)",
    }
    assert report.can_apply is False
    with pytest.raises(DomainError) as caught:
        timetable_upload_apply(actor=manager, upload=item, base=report.base)
    assert caught.value.code == "TIMETABLE_CLASH"
    assert caught.value.fields == {
        "clashes": [
            {
                "slot": "SAT_AM",
                "courses": ["13000", "15040"],
                "plans": [ZH_LABEL, CS24_LABEL, ACC_LABEL],
                "kind": "plan",
            },
            {"slot": "SUN_PM", "courses": ["13013", "13014"], "plans": [CS24_LABEL], "kind": "pair"},
        ]
    }
    assert TimetableEntry.objects.count() == 0


def test_clash_with_an_existing_row_counts_and_old_plans_past_their_transition_do_not(manager, sitting):
    timetable_entry_save(actor=manager, sitting=sitting, course_code="15040", slot_code="SUN_AM")
    # 00015 and 02331 are courses of the 080901 2021 plan only, which ended on 2026-06-30.
    item = upload(manager, sitting, b"09277,SUN_AM\n00015,SAT_PM\n02331,SAT_PM\n")
    report = timetable_report(item)
    assert report.clashes == [Clash("SUN_AM", ("09277", "15040"), (PRE_LABEL,), "plan")]


def test_unreadable_files_give_a_report_not_an_error(manager, sitting):
    for content, code in [
        (b"PK\x03\x04broken", "TIMETABLE_BAD_FILE"),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "TIMETABLE_XLS_UNSUPPORTED"),
        ("课程代码,时段\n".encode("gbk"), "TIMETABLE_EMPTY"),
    ]:
        report = timetable_report(upload(manager, sitting, content))
        assert [p.code for p in report.file_problems] == [code]
        assert (report.rows, report.can_apply) == ([], False)


def test_gbk_csv_is_read(manager, sitting):
    report = timetable_report(upload(manager, sitting, "课程代码,时段\n15040,周六上午\n".encode("gbk")))
    assert (report.source, report.added, report.errors) == ("gb18030", 1, 0)


def test_empty_upload_is_refused_and_not_kept(manager, sitting):
    with pytest.raises(ValidationFailed) as caught:
        upload(manager, sitting, b"")
    assert caught.value.code == "TIMETABLE_EMPTY"
    with pytest.raises(ValidationFailed) as caught:
        upload(manager, sitting, b"1" * (5 * 1024 * 1024 + 1))
    assert caught.value.code == "TIMETABLE_TOO_LARGE"
    assert CatalogUpload.objects.count() == 0


def test_timetable_is_locked_once_the_exam_starts(manager, sitting):
    timetable_entry_save(actor=manager, sitting=sitting, course_code="15040", slot_code="SAT_AM")
    entry = TimetableEntry.objects.get()
    item = upload(manager, sitting, b"13000,SAT_PM\n")
    with clock.frozen_at(at(2027, 4, 10, 9)):
        report = timetable_report(item)
        assert (report.locked, report.can_apply) == (True, False)
        calls = [
            lambda: timetable_upload_apply(actor=manager, upload=item, base=report.base),
            lambda: timetable_entry_save(
                actor=manager, sitting=sitting, course_code="13000", slot_code="SAT_PM"
            ),
            lambda: timetable_entry_save(
                actor=manager, sitting=sitting, course_code="15040", slot_code="SUN_AM", entry=entry
            ),
            lambda: timetable_entry_delete(actor=manager, entry=entry),
        ]
        for call in calls:
            with pytest.raises(DomainError) as caught:
                call()
            assert caught.value.code == "TIMETABLE_LOCKED"
    assert timetable_assignment(sitting) == {"15040": "SAT_AM"}


# --- single rows ---------------------------------------------------------------------------------


def test_add_move_and_remove_a_row_with_audit(manager, sitting):
    added = timetable_entry_save(actor=manager, sitting=sitting, course_code="13000", slot_code="SAT_AM")
    moved = timetable_entry_save(
        actor=manager, sitting=sitting, course_code="13000", slot_code="SUN_PM", entry=added
    )
    assert moved.pk == added.pk and timetable_assignment(sitting) == {"13000": "SUN_PM"}
    count = events()
    timetable_entry_save(actor=manager, sitting=sitting, course_code="13000", slot_code="SUN_PM", entry=added)
    assert events() == count
    timetable_entry_delete(actor=manager, entry=moved)
    assert TimetableEntry.objects.count() == 0
    trail = [
        (e.event_type, e.before, e.after)
        for e in AuditEvent.objects.filter(event_type__startswith="timetable.").order_by("id")
    ]
    assert trail == [
        ("timetable.entry_added", None, {"course": "13000", "slot": "SAT_AM"}),
        (
            "timetable.entry_moved",
            {"course": "13000", "slot": "SAT_AM"},
            {"course": "13000", "slot": "SUN_PM"},
        ),
        ("timetable.entry_removed", {"course": "13000", "slot": "SUN_PM"}, None),
    ]


def test_single_row_refusals(manager, sitting):
    timetable_entry_save(actor=manager, sitting=sitting, course_code="13000", slot_code="SAT_AM")
    cases = [
        ({"course_code": "99999", "slot_code": "SAT_AM"}, "TIMETABLE_UNKNOWN_COURSE"),
        ({"course_code": "15040", "slot_code": "MON_AM"}, "TIMETABLE_UNKNOWN_SLOT"),
        ({"course_code": "13000", "slot_code": "SUN_AM"}, "TIMETABLE_COURSE_IN_OTHER_SLOT"),
        ({"course_code": "15040", "slot_code": "SAT_AM"}, "TIMETABLE_CLASH"),
    ]
    count = events()
    for kwargs, code in cases:
        with pytest.raises(DomainError) as caught:
            timetable_entry_save(actor=manager, sitting=sitting, **kwargs)
        assert caught.value.code == code
    assert timetable_assignment(sitting) == {"13000": "SAT_AM"}
    assert events() == count


def test_clash_message_names_slot_courses_and_plans(manager, sitting):
    timetable_entry_save(actor=manager, sitting=sitting, course_code="13013", slot_code="SUN_PM")
    with pytest.raises(DomainError) as caught:
        timetable_entry_save(actor=manager, sitting=sitting, course_code="13014", slot_code="SUN_PM")
    assert str(caught.value.message) == (
        f"同一专业计划的课程安排在同一时段: 周日下午: 13013 与 13014({CS24_LABEL})"
    )


def test_a_course_candidates_entered_cannot_move_or_leave(manager, sitting):
    row = timetable_entry_save(actor=manager, sitting=sitting, course_code="13000", slot_code="SAT_AM")
    EntryFactory(candidate=CandidateFactory(), sitting=sitting, course=Course.objects.get(code="13000"))
    for call in (
        lambda: timetable_entry_save(
            actor=manager, sitting=sitting, course_code="13000", slot_code="SUN_AM", entry=row
        ),
        lambda: timetable_entry_delete(actor=manager, entry=row),
    ):
        with pytest.raises(DomainError) as caught:
            call()
        assert caught.value.code == "TIMETABLE_COURSE_HAS_ENTRIES"
    assert timetable_assignment(sitting) == {"13000": "SAT_AM"}


def test_cancelled_entries_do_not_pin_a_course(manager, sitting):
    row = timetable_entry_save(actor=manager, sitting=sitting, course_code="13000", slot_code="SAT_AM")
    EntryFactory(sitting=sitting, course=Course.objects.get(code="13000"), status="cancelled")
    timetable_entry_delete(actor=manager, entry=row)
    assert TimetableEntry.objects.count() == 0


def test_clash_report_of_the_current_timetable(manager, sitting):
    TimetableEntry.objects.bulk_create(
        [
            TimetableEntry(
                sitting=sitting, slot=sitting.slots.get(code="SAT_AM"), course=Course.objects.get(code=c)
            )
            for c in ("15040", "15041")
        ]
    )
    assert timetable_clash_report(sitting) == [
        Clash("SAT_AM", ("15040", "15041"), (PRE_LABEL, HR_LABEL), "plan")
    ]


@pytest.mark.parametrize(
    ("roles", "level"), [((Role.CATALOG_MANAGER,), "city"), ((Role.READ_ONLY,), "province")]
)
def test_only_province_catalog_managers_change_the_timetable(
    offices, make_staff, manager, sitting, roles, level
):
    row = timetable_entry_save(actor=manager, sitting=sitting, course_code="13000", slot_code="SAT_AM")
    item = upload(manager, sitting, b"15040,SUN_AM\n")
    base = timetable_report(item).base
    other = Actor.staff(make_staff(roles=roles, office=getattr(offices, level)))
    count = events()
    calls = [
        lambda: upload(other, sitting, b"00023,SUN_PM\n"),
        lambda: timetable_upload_apply(actor=other, upload=item, base=base),
        lambda: timetable_entry_save(actor=other, sitting=sitting, course_code="00023", slot_code="SUN_PM"),
        lambda: timetable_entry_save(
            actor=other, sitting=sitting, course_code="13000", slot_code="SUN_PM", entry=row
        ),
        lambda: timetable_entry_delete(actor=other, entry=row),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert timetable_assignment(sitting) == {"13000": "SAT_AM"}
    assert CatalogUpload.objects.count() == 1
    assert events() == count
