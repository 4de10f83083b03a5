"""Timetable spreadsheets: read an uploaded XLSX or CSV into rows, and check each row.

Pure (no database): `read_timetable` turns bytes into `SheetRow`s or raises `TimetableFileError`
with a file-level problem; `check_rows` judges each row against the course catalog, the
sitting's slots and its current timetable, and returns one `RowReport` per row. Clash detection
(which needs the plans) is `catalog.rules.timetable_clashes`; `catalog.services` puts it all
together.

Accepted layouts (first worksheet of an .xlsx, or a CSV in UTF-8 — with or without BOM — or
GBK/GB18030 as Excel writes it on Chinese Windows):

* a header row naming the columns, in any order: course code (课程代码 / course_code / …), and
  either the slot code (时段: SAT_AM, SAT_PM, SUN_AM, SUN_PM, or 周六上午 …) or the exam date
  (日期) with the half day (上下午: 上午 / 下午, AM / PM); an optional course name column
  (课程名称) is compared with the catalog;
* no header: column A the course code, column B a slot code, or B a date and C 上午/下午.

Course codes that Excel turned into numbers (15 for 00015) are padded back to five digits.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from django.utils.translation import gettext_lazy as _

from zikao.catalog.planfile import Problem
from zikao.catalog.rules import SLOT_CODES, SLOT_LABELS
from zikao.core.errors import ValidationFailed

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 30

HEADER_ALIASES = {
    "course": ("课程代码", "课程代号", "课程编号", "课程号", "course", "course_code", "coursecode", "code"),
    "name": ("课程名称", "课程名", "name", "course_name", "coursename"),
    "slot": ("时段", "时段代码", "考试时段", "slot", "slot_code", "slotcode"),
    "date": ("日期", "考试日期", "date", "exam_date"),
    "half": ("上下午", "上午/下午", "午别", "半天", "half", "ampm", "am/pm"),
}
SLOT_ALIASES = {
    **{code: code for code in SLOT_CODES},
    "周六上午": "SAT_AM",
    "周六下午": "SAT_PM",
    "周日上午": "SUN_AM",
    "周日下午": "SUN_PM",
    "星期六上午": "SAT_AM",
    "星期六下午": "SAT_PM",
    "星期日上午": "SUN_AM",
    "星期日下午": "SUN_PM",
    "星期天上午": "SUN_AM",
    "星期天下午": "SUN_PM",
}
HALF_ALIASES = {"上午": "AM", "下午": "PM", "AM": "AM", "PM": "PM"}
_COURSE_RE = re.compile(r"^\d{5}$")
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")

# Row statuses of the report.
ROW_ADD = "add"
ROW_UNCHANGED = "unchanged"
ROW_ERROR = "error"


class TimetableFileError(ValidationFailed):
    """The file as a whole cannot be read; `problems` (line 0) says why."""

    def __init__(self, code: str, message: Any):
        self.problems = [Problem(0, code, str(message))]
        super().__init__(code, message, {"problems": [{"line": 0, "code": code, "message": str(message)}]})


@dataclass(frozen=True)
class SheetRow:
    """One data row as read: its row number in the sheet (1-based, header included) and the
    cells that matter, as text (dates as `date`)."""

    number: int
    course: str
    name: str = ""
    slot: str = ""
    day: date | None = None
    day_text: str = ""
    half: str = ""


@dataclass(frozen=True)
class Sheet:
    rows: tuple[SheetRow, ...]
    source: str  # "xlsx", "utf-8" or "gb18030": how the file was read
    header: bool


@dataclass(frozen=True)
class SlotTime:
    """A slot of the sitting: code and local start/end."""

    code: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class RowReport:
    """The verdict on one row: ROW_ADD (a new timetable entry), ROW_UNCHANGED (already so in
    the timetable) or ROW_ERROR with `code` and `message`; `warning` is advisory only."""

    number: int
    course: str
    course_name: str
    slot: str
    status: str
    code: str = ""
    message: str = ""
    warning: str = ""


# --- reading -----------------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\u3000", " ").strip()


def _course_text(value: Any) -> str:
    """Course code cell → text; a number Excel made of a code (15 → "00015") is padded back."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 < value < 100000:
        return f"{value:05d}"
    return _cell_text(value)


def _key(text: str) -> str:
    return re.sub(r"[\s_]", "", text).lower()


_ALIAS_KEYS = {_key(alias): field for field, aliases in HEADER_ALIASES.items() for alias in aliases}


def _header(cells: Sequence[Any]) -> dict[str, int] | None:
    """Column positions by field when `cells` is a header row, else None."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        field = _ALIAS_KEYS.get(_key(_cell_text(cell)))
        if field is not None and field not in columns:
            columns[field] = index
    return columns or None


def _cells_of_xlsx(content: bytes) -> list[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # any malformed upload (zip, XML, missing parts) is the same answer
        raise TimetableFileError(
            "TIMETABLE_BAD_FILE", _("无法读取该 Excel 文件(文件已损坏或不是 .xlsx 格式)。")
        ) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise TimetableFileError("TIMETABLE_EMPTY", _("文件中没有工作表。"))
        rows: list[tuple[Any, ...]] = []
        for cells in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
            rows.append(tuple(cells))
            if len(rows) > MAX_ROWS + 1:
                raise TimetableFileError(
                    "TIMETABLE_TOO_MANY_ROWS", _("文件超过 %(max)d 行,请分批导入。") % {"max": MAX_ROWS}
                )
        return rows
    except TimetableFileError:
        raise
    except Exception:
        raise TimetableFileError(
            "TIMETABLE_BAD_FILE", _("无法读取该 Excel 文件(文件已损坏或不是 .xlsx 格式)。")
        ) from None
    finally:
        workbook.close()


def _decode(content: bytes) -> tuple[str, str]:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return content.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise TimetableFileError(
        "TIMETABLE_ENCODING", _("无法识别文件编码: CSV 文件应为 UTF-8 或 GBK(GB18030)编码。")
    )


def _cells_of_csv(content: bytes) -> tuple[list[tuple[Any, ...]], str]:
    text, encoding = _decode(content)
    if "\x00" in text:
        raise TimetableFileError("TIMETABLE_BAD_FILE", _("文件不是 CSV 或 .xlsx 格式。"))
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows: list[tuple[Any, ...]] = []
    try:
        for cells in csv.reader(io.StringIO(text), dialect):
            rows.append(tuple(cells[:MAX_COLUMNS]))
            if len(rows) > MAX_ROWS + 1:
                raise TimetableFileError(
                    "TIMETABLE_TOO_MANY_ROWS", _("文件超过 %(max)d 行,请分批导入。") % {"max": MAX_ROWS}
                )
    except csv.Error:
        raise TimetableFileError("TIMETABLE_BAD_FILE", _("CSV 文件格式有误,无法读取。")) from None
    return rows, encoding


def read_timetable(content: bytes) -> Sheet:
    """Read an uploaded timetable (XLSX or CSV, recognised by content) into rows.

    Raises TimetableFileError: TIMETABLE_EMPTY (no bytes, or no data rows), TIMETABLE_TOO_LARGE,
    TIMETABLE_XLS_UNSUPPORTED (the old binary .xls), TIMETABLE_BAD_FILE (a damaged workbook,
    not a CSV), TIMETABLE_ENCODING (a CSV neither UTF-8 nor GB18030), TIMETABLE_TOO_MANY_ROWS,
    TIMETABLE_BAD_HEADER (a header without the course column, or without a slot or date + half
    day column).
    """
    if not content or not content.strip():
        raise TimetableFileError("TIMETABLE_EMPTY", _("文件是空的。"))
    if len(content) > MAX_BYTES:
        raise TimetableFileError(
            "TIMETABLE_TOO_LARGE", _("文件超过 %(max)d MB。") % {"max": MAX_BYTES // (1024 * 1024)}
        )
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise TimetableFileError(
            "TIMETABLE_XLS_UNSUPPORTED", _("不支持旧版 .xls 文件,请在 Excel 中另存为 .xlsx 或 CSV 后上传。")
        )
    if content.startswith(b"PK\x03\x04"):
        cells, source = _cells_of_xlsx(content), "xlsx"
    else:
        cells, source = _cells_of_csv(content)
    first = next((index for index, row in enumerate(cells) if any(_cell_text(v) for v in row)), None)
    if first is None:
        raise TimetableFileError("TIMETABLE_EMPTY", _("文件中没有任何数据行。"))
    columns = _header(cells[first])
    header = columns is not None and not _COURSE_RE.match(_course_text(cells[first][0]))
    if header:
        assert columns is not None
        if "course" not in columns or not ("slot" in columns or {"date", "half"} <= set(columns)):
            raise TimetableFileError(
                "TIMETABLE_BAD_HEADER",
                _("表头须包含“课程代码”列,以及“时段”列或“日期”与“上下午”两列。"),
            )
        start = first + 1
    else:
        columns, start = {}, first
    rows: list[SheetRow] = []
    for index in range(start, len(cells)):
        row = cells[index]
        if not any(_cell_text(value) for value in row):
            continue

        def cell(position: int | None, row: tuple[Any, ...] = row) -> Any:
            return row[position] if position is not None and position < len(row) else None

        if header:
            day_value = cell(columns.get("date"))
            rows.append(
                SheetRow(
                    number=index + 1,
                    course=_course_text(cell(columns["course"])),
                    name=_cell_text(cell(columns.get("name"))),
                    slot=_cell_text(cell(columns.get("slot"))),
                    day=_as_date(day_value),
                    day_text=_cell_text(day_value),
                    half=_cell_text(cell(columns.get("half"))),
                )
            )
        else:
            second = cell(1)
            is_slot = _slot_code(_cell_text(second)) is not None
            rows.append(
                SheetRow(
                    number=index + 1,
                    course=_course_text(cell(0)),
                    slot=_cell_text(second) if is_slot else "",
                    day=None if is_slot else _as_date(second),
                    day_text="" if is_slot else _cell_text(second),
                    half="" if is_slot else _cell_text(cell(2)),
                )
            )
    if not rows:
        raise TimetableFileError("TIMETABLE_EMPTY", _("文件中没有任何数据行。"))
    return Sheet(tuple(rows), source, header)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = _DATE_RE.match(_cell_text(value))
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _slot_code(text: str) -> str | None:
    return SLOT_ALIASES.get(text.strip().upper().replace(" ", "")) or SLOT_ALIASES.get(text.strip())


# --- checking ----------------------------------------------------------------------------------


def _resolve_slot(row: SheetRow, slots: Sequence[SlotTime], tz: tzinfo) -> tuple[str | None, str]:
    """(slot code, "") or (None, why not)."""
    known = {slot.code for slot in slots}
    if row.slot:
        code = _slot_code(row.slot)
        if code is None or code not in known:
            return None, str(_("时段“%(slot)s”不存在(应为 %(codes)s)。")) % {
                "slot": row.slot,
                "codes": "、".join(slot.code for slot in slots),
            }
        return code, ""
    if not row.day_text and not row.half:
        return None, str(_("缺少时段。"))
    if row.day is None:
        return None, str(_("日期“%(day)s”无法识别(应如 2026-04-11)。")) % {"day": row.day_text}
    half = HALF_ALIASES.get(row.half.strip().upper()) or HALF_ALIASES.get(row.half.strip())
    if half is None:
        return None, str(_("“%(half)s”应为“上午”或“下午”。")) % {"half": row.half}
    for slot in slots:
        local = slot.starts_at.astimezone(tz)
        if local.date() == row.day and (local.hour < 12) == (half == "AM"):
            return slot.code, ""
    return None, str(_("本考次在 %(day)s %(half)s 没有考试时段。")) % {
        "day": row.day.isoformat(),
        "half": row.half,
    }


def check_rows(
    rows: Sequence[SheetRow],
    *,
    courses: Mapping[str, str],
    slots: Sequence[SlotTime],
    existing: Mapping[str, str],
    tz: tzinfo,
) -> list[RowReport]:
    """One report per row, in file order. `courses`: code → name of the catalog; `existing`:
    the sitting's current timetable (course code → slot code).

    Error codes (the first that applies): TIMETABLE_BAD_COURSE_CODE (not five digits),
    TIMETABLE_UNKNOWN_COURSE, TIMETABLE_UNKNOWN_SLOT (unknown slot code, unreadable date or half
    day, or no slot of the sitting at that date and half day), TIMETABLE_DUPLICATE_ROW (same
    course and slot as an earlier row), TIMETABLE_COURSE_TWICE (same course, another slot, in an
    earlier row), TIMETABLE_COURSE_IN_OTHER_SLOT (the timetable already has the course in
    another slot: move it on the timetable page). A course name column that differs from the
    catalog gives a warning (the row is still accepted).
    """
    seen: dict[str, tuple[int, str]] = {}
    return [_check_row(row, courses, slots, existing, tz, seen) for row in rows]


def _slot_label(code: str) -> str:
    return str(SLOT_LABELS.get(code, code))


def _check_row(
    row: SheetRow,
    courses: Mapping[str, str],
    slots: Sequence[SlotTime],
    existing: Mapping[str, str],
    tz: tzinfo,
    seen: dict[str, tuple[int, str]],
) -> RowReport:
    name = courses.get(row.course, "")

    def error(code: str, message: str, slot: str = "") -> RowReport:
        return RowReport(row.number, row.course, name, slot, ROW_ERROR, code, message)

    if not _COURSE_RE.match(row.course):
        return error(
            "TIMETABLE_BAD_COURSE_CODE", str(_("课程代码“%(code)s”应为5位数字。")) % {"code": row.course}
        )
    if row.course not in courses:
        return error(
            "TIMETABLE_UNKNOWN_COURSE", str(_("课程代码 %(code)s 不在课程目录中。")) % {"code": row.course}
        )
    slot, why = _resolve_slot(row, slots, tz)
    if slot is None:
        return error("TIMETABLE_UNKNOWN_SLOT", why)
    earlier = seen.get(row.course)
    if earlier is not None and earlier[1] == slot:
        return error("TIMETABLE_DUPLICATE_ROW", str(_("与第%(row)d行重复。")) % {"row": earlier[0]}, slot)
    if earlier is not None:
        message = str(_("课程 %(code)s 已在第%(row)d行安排在 %(slot)s。")) % {
            "code": row.course,
            "row": earlier[0],
            "slot": _slot_label(earlier[1]),
        }
        return error("TIMETABLE_COURSE_TWICE", message, slot)
    seen[row.course] = (row.number, slot)
    current = existing.get(row.course)
    if current is not None and current != slot:
        message = str(_("课程 %(code)s 已安排在 %(slot)s;如需调整,请在时间表页面修改该行。")) % {
            "code": row.course,
            "slot": _slot_label(current),
        }
        return error("TIMETABLE_COURSE_IN_OTHER_SLOT", message, slot)
    warning = ""
    if row.name and row.name != name:
        warning = str(_("表中课程名称“%(given)s”与课程目录“%(name)s”不一致。")) % {
            "given": row.name,
            "name": name,
        }
    status = ROW_UNCHANGED if current == slot else ROW_ADD
    return RowReport(row.number, row.course, name, slot, status, warning=warning)
