"""Timetable checks without the database: clash detection (catalog.rules.timetable_clashes) and
reading / judging a spreadsheet (catalog.timetablefile)."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from zikao.catalog.rules import Clash, PlanCourses, default_slots, timetable_clashes
from zikao.catalog.timetablefile import (
    RowReport,
    SheetRow,
    SlotTime,
    TimetableFileError,
    check_rows,
    read_timetable,
)

TZ = ZoneInfo("Asia/Shanghai")
CS = PlanCourses(
    "080901 计算机科学与技术(本科) 2024版",
    frozenset({"13000", "00023", "13013", "13014", "02324"}),
    frozenset({("13013", "13014")}),
)
ACC = PlanCourses("120203K 会计学(本科) 2024版", frozenset({"13000", "00067", "00023"}))
LAW = PlanCourses("030101K 法学(本科) 2024版", frozenset({"00230", "00233"}))


# --- clashes -------------------------------------------------------------------------------------


def test_two_courses_of_one_plan_in_one_slot_clash():
    assignment = {"13000": "SAT_AM", "00023": "SAT_AM", "02324": "SAT_PM", "00230": "SAT_AM"}
    assert timetable_clashes(assignment, [CS, ACC, LAW]) == [
        Clash(
            "SAT_AM",
            ("00023", "13000"),
            ("080901 计算机科学与技术(本科) 2024版", "120203K 会计学(本科) 2024版"),
            "plan",
        )
    ]


def test_courses_of_different_plans_do_not_clash():
    assert timetable_clashes({"00067": "SUN_AM", "00230": "SUN_AM", "02324": "SUN_AM"}, [CS, ACC, LAW]) == []


def test_theory_and_its_practice_part_in_one_slot_is_a_pair_clash():
    assignment = {"13013": "SUN_PM", "13014": "SUN_PM"}
    assert timetable_clashes(assignment, [CS]) == [
        Clash("SUN_PM", ("13013", "13014"), ("080901 计算机科学与技术(本科) 2024版",), "pair")
    ]


def test_clashes_are_sorted_by_slot_then_courses_and_filtered_by_involving():
    assignment = {
        "13013": "SUN_PM",
        "13014": "SUN_PM",
        "13000": "SAT_PM",
        "02324": "SAT_PM",
        "00023": "SAT_PM",
    }
    result = timetable_clashes(assignment, [CS])
    assert [(c.slot, c.courses) for c in result] == [
        ("SAT_PM", ("00023", "02324")),
        ("SAT_PM", ("00023", "13000")),
        ("SAT_PM", ("02324", "13000")),
        ("SUN_PM", ("13013", "13014")),
    ]
    assert [(c.slot, c.courses) for c in timetable_clashes(assignment, [CS], involving={"02324"})] == [
        ("SAT_PM", ("00023", "02324")),
        ("SAT_PM", ("02324", "13000")),
    ]


# --- reading files -------------------------------------------------------------------------------


def xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_csv_with_header_in_utf8_with_bom():
    sheet = read_timetable(
        "\ufeff课程代码,课程名称,时段\n13000,英语(专升本),SAT_AM\n\n00023,,周日下午\n".encode()
    )
    assert sheet.source == "utf-8"
    assert sheet.header is True
    assert sheet.rows == (
        SheetRow(2, "13000", name="英语(专升本)", slot="SAT_AM"),
        SheetRow(4, "00023", slot="周日下午"),
    )


def test_gbk_csv_as_excel_writes_it_is_read():
    content = "课程代码,日期,上下午\n13000,2027/4/10,下午\n".encode("gbk")
    sheet = read_timetable(content)
    assert sheet.source == "gb18030"
    assert sheet.rows == (SheetRow(2, "13000", day=date(2027, 4, 10), day_text="2027/4/10", half="下午"),)


def test_xlsx_with_dates_and_numeric_codes():
    content = xlsx(
        [("课程代码", "日期", "上下午"), (15, datetime(2027, 4, 11), "上午"), ("13000", "2027-04-10", "PM")]
    )
    sheet = read_timetable(content)
    assert sheet.source == "xlsx"
    assert sheet.rows == (
        SheetRow(2, "00015", day=date(2027, 4, 11), day_text="2027-04-11 00:00:00", half="上午"),
        SheetRow(3, "13000", day=date(2027, 4, 10), day_text="2027-04-10", half="PM"),
    )


def test_file_without_header_is_read_by_position():
    sheet = read_timetable(b"13000,SAT_AM\n00023,2027-04-10,\xe4\xb8\x8b\xe5\x8d\x88\n")
    assert sheet.header is False
    assert sheet.rows == (
        SheetRow(1, "13000", slot="SAT_AM"),
        SheetRow(2, "00023", day=date(2027, 4, 10), day_text="2027-04-10", half="下午"),
    )


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"", "TIMETABLE_EMPTY", "文件是空的。"),
        (b"  \n\r\n", "TIMETABLE_EMPTY", "文件是空的。"),
        ("课程代码,时段\n".encode(), "TIMETABLE_EMPTY", "文件中没有任何数据行。"),
        (b",,\n,,\n", "TIMETABLE_EMPTY", "文件中没有任何数据行。"),
        (
            b"PK\x03\x04not really a zip",
            "TIMETABLE_BAD_FILE",
            "无法读取该 Excel 文件(文件已损坏或不是 .xlsx 格式)。",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
            "TIMETABLE_XLS_UNSUPPORTED",
            "不支持旧版 .xls 文件,请在 Excel 中另存为 .xlsx 或 CSV 后上传。",
        ),
        (b"\x00\x01\x02code\x00", "TIMETABLE_BAD_FILE", "文件不是 CSV 或 .xlsx 格式。"),
        (
            b"\xff\xfe\xfd\x81\x30",
            "TIMETABLE_ENCODING",
            "无法识别文件编码: CSV 文件应为 UTF-8 或 GBK(GB18030)编码。",
        ),
        (
            "课程代码,备注\n13000,x\n".encode(),
            "TIMETABLE_BAD_HEADER",
            "表头须包含“课程代码”列,以及“时段”列或“日期”与“上下午”两列。",
        ),
    ],
)
def test_unreadable_files_give_one_clear_problem(content, code, message):
    with pytest.raises(TimetableFileError) as caught:
        read_timetable(content)
    assert caught.value.code == code
    assert [(p.line, p.code, p.message) for p in caught.value.problems] == [(0, code, message)]


def test_xlsx_without_any_rows_is_empty():
    with pytest.raises(TimetableFileError) as caught:
        read_timetable(xlsx([]))
    assert caught.value.code == "TIMETABLE_EMPTY"


def test_too_many_rows_are_refused():
    content = ("课程代码,时段\n" + "13000,SAT_AM\n" * 5001).encode()
    with pytest.raises(TimetableFileError) as caught:
        read_timetable(content)
    assert caught.value.code == "TIMETABLE_TOO_MANY_ROWS"


# --- judging rows --------------------------------------------------------------------------------

SLOTS = [SlotTime(code, start, end) for code, start, end in default_slots(date(2027, 4, 10), TZ)]
COURSES = {
    "13000": "英语(专升本)",
    "00023": "高等数学(工本)",
    "02324": "离散数学",
    "13013": "高级语言程序设计",
}


def test_each_row_gets_exactly_one_verdict():
    rows = [
        SheetRow(2, "13000", slot="SAT_AM"),
        SheetRow(3, "1300", slot="SAT_AM"),
        SheetRow(4, "99999", slot="SAT_AM"),
        SheetRow(5, "00023", slot="MON_AM"),
        SheetRow(6, "00023", day=date(2027, 4, 12), day_text="2027-04-12", half="上午"),
        SheetRow(7, "00023", day=None, day_text="明天", half="上午"),
        SheetRow(8, "00023", day=date(2027, 4, 10), day_text="2027-04-10", half="晚上"),
        SheetRow(9, "00023"),
        SheetRow(10, "00023", day=date(2027, 4, 11), day_text="2027-04-11", half="下午"),
        SheetRow(11, "00023", slot="SUN_PM"),
        SheetRow(12, "00023", slot="SAT_PM"),
        SheetRow(13, "02324", slot="sun_am"),
        SheetRow(14, "13013", name="程序设计", slot="SAT_PM"),
    ]
    reports = check_rows(
        rows, courses=COURSES, slots=SLOTS, existing={"13000": "SAT_AM", "02324": "SAT_PM"}, tz=TZ
    )
    assert reports == [
        RowReport(2, "13000", "英语(专升本)", "SAT_AM", "unchanged"),
        RowReport(3, "1300", "", "", "error", "TIMETABLE_BAD_COURSE_CODE", "课程代码“1300”应为5位数字。"),
        RowReport(4, "99999", "", "", "error", "TIMETABLE_UNKNOWN_COURSE", "课程代码 99999 不在课程目录中。"),
        RowReport(
            5,
            "00023",
            "高等数学(工本)",
            "",
            "error",
            "TIMETABLE_UNKNOWN_SLOT",
            "时段“MON_AM”不存在(应为 SAT_AM、SAT_PM、SUN_AM、SUN_PM)。",
        ),
        RowReport(
            6,
            "00023",
            "高等数学(工本)",
            "",
            "error",
            "TIMETABLE_UNKNOWN_SLOT",
            "本考次在 2027-04-12 上午 没有考试时段。",
        ),
        RowReport(
            7,
            "00023",
            "高等数学(工本)",
            "",
            "error",
            "TIMETABLE_UNKNOWN_SLOT",
            "日期“明天”无法识别(应如 2026-04-11)。",
        ),
        RowReport(
            8, "00023", "高等数学(工本)", "", "error", "TIMETABLE_UNKNOWN_SLOT", "“晚上”应为“上午”或“下午”。"
        ),
        RowReport(9, "00023", "高等数学(工本)", "", "error", "TIMETABLE_UNKNOWN_SLOT", "缺少时段。"),
        RowReport(10, "00023", "高等数学(工本)", "SUN_PM", "add"),
        RowReport(
            11, "00023", "高等数学(工本)", "SUN_PM", "error", "TIMETABLE_DUPLICATE_ROW", "与第10行重复。"
        ),
        RowReport(
            12,
            "00023",
            "高等数学(工本)",
            "SAT_PM",
            "error",
            "TIMETABLE_COURSE_TWICE",
            "课程 00023 已在第10行安排在 周日下午。",
        ),
        RowReport(
            13,
            "02324",
            "离散数学",
            "SUN_AM",
            "error",
            "TIMETABLE_COURSE_IN_OTHER_SLOT",
            "课程 02324 已安排在 周六下午;如需调整,请在时间表页面修改该行。",
        ),
        RowReport(
            14,
            "13013",
            "高级语言程序设计",
            "SAT_PM",
            "add",
            warning="表中课程名称“程序设计”与课程目录“高级语言程序设计”不一致。",
        ),
    ]
