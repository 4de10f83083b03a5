"""Score import files: storing an upload, recognising what it is, reading its header and rows.

Everything here streams: a file is read in blocks or row by row, never whole, so memory stays
constant whatever the file size. Two formats are accepted:

* **CSV** in UTF-8 (with or without BOM), comma-, tab- or semicolon-separated, with a header
  row. Other encodings are refused with a precise reason (GBK/GB18030 and UTF-16 are
  recognised and named, so the office knows to save the file as "CSV UTF-8").
* **XLSX** (the first worksheet, header in the first row), read with openpyxl in read-only
  mode. Numeric cells in the candidate-number and course-code columns are zero-padded back to
  12 and 5 digits (Excel drops the leading zeros of numbers typed into a cell).

Columns are found by their header name (Chinese or English aliases, any order); other columns
(姓名, 课程名称...) are kept in the failed-rows report but otherwise ignored. A refusal of the
whole file is a `FileRejected` (a `ValidationFailed` with an `IMPORT_FILE_*` code).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import os
import uuid
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from zikao.core import clock
from zikao.core.errors import ValidationFailed

IMPORT_DIR = "imports"
HEAD_BYTES = 64 * 1024
BLOCK_BYTES = 1 << 20

FIELD_LABELS = {
    "candidate_no": _("准考证号"),
    "course_code": _("课程代码"),
    "sitting": _("考次"),
    "result": _("成绩"),
    "status": _("状态"),
}
REQUIRED_FIELDS = ("candidate_no", "course_code", "sitting", "result")
# Header names accepted for each field, compared after `normalise_header`.
ALIASES: dict[str, tuple[str, ...]] = {
    "candidate_no": ("准考证号", "准考证号码", "考籍号", "candidate_no", "candidateno", "candidate"),
    "course_code": ("课程代码", "课程代号", "课程编号", "课程号", "course_code", "coursecode", "course"),
    "sitting": ("考次", "考试年月", "考期", "sitting", "exam_sitting"),
    "result": ("成绩", "分数", "成绩或等级", "分数或等级", "等级", "score", "grade", "result"),
    "status": ("状态", "成绩状态", "考试状态", "status"),
}
_ALIAS_TO_FIELD = {alias: field for field, names in ALIASES.items() for alias in names}
EXPECTED_HEADER = "准考证号,课程代码,考次,成绩,状态"


class FileRejected(ValidationFailed):
    """The whole file cannot be read as a score file (nothing of it is imported)."""


@dataclass(frozen=True)
class StoredFile:
    name: str  # relative to MEDIA_ROOT
    sha256: str
    size: int
    file_format: str  # "csv" or "xlsx"


@dataclass(frozen=True)
class Layout:
    """The header of a file: its columns as written, and where each known field is."""

    columns: tuple[str, ...]
    fields: dict[str, int]  # field name -> 0-based column index
    delimiter: str = ","

    @property
    def ncols(self) -> int:
        return len(self.columns)


@dataclass(frozen=True)
class CsvStart:
    """What the first bytes of a CSV file told: its header and where the data begins."""

    layout: Layout
    data_offset: int  # byte offset of the first data row


def media_path(name: str) -> Path:
    return Path(settings.MEDIA_ROOT) / name


def max_bytes() -> int:
    return int(getattr(settings, "ZIKAO_SCORE_IMPORT_MAX_BYTES", 1 << 30))


def _rejected(code: str, message, **fields) -> FileRejected:
    return FileRejected(code, message, fields)


def sniff(head: bytes) -> str:
    """'csv' or 'xlsx' from the first bytes, or FileRejected (empty, old .xls, binary)."""
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise _rejected("IMPORT_FILE_EMPTY", _("文件是空的。"))
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise _rejected(
            "IMPORT_FILE_XLS", _("不支持旧版Excel（.xls）文件，请另存为 .xlsx 或 CSV UTF-8 后再上传。")
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _rejected(
            "IMPORT_FILE_ENCODING",
            _("文件编码为UTF-16，请在Excel中另存为“CSV UTF-8（逗号分隔）”后再上传。"),
            encoding="utf-16",
        )
    if any(b in head for b in (b"\x00", b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x06", b"\x07")):
        raise _rejected("IMPORT_FILE_BINARY", _("文件不是文本格式的CSV或XLSX表格，无法读取。"))
    return "csv"


def store(chunks: Iterable[bytes], *, suffix_hint: str = "") -> StoredFile:
    """Write the bytes under MEDIA_ROOT/imports/<year>/ with a random name, hashing as they go.

    The stored name never carries the uploader's file name (it may hold personal data). Refuses
    IMPORT_FILE_TOO_LARGE beyond ZIKAO_SCORE_IMPORT_MAX_BYTES and the `sniff` refusals; nothing
    stays on disk after a refusal.
    """
    folder = Path(IMPORT_DIR) / str(clock.today().year)
    (media_path(str(folder))).mkdir(parents=True, exist_ok=True)
    name = str(folder / f"{uuid.uuid4().hex}.upload")
    target = media_path(name)
    digest = hashlib.sha256()
    size = 0
    head = b""
    limit = max_bytes()
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > limit:
                    raise _rejected(
                        "IMPORT_FILE_TOO_LARGE",
                        _("文件超过允许的大小（%(limit)s MB）。") % {"limit": limit // (1 << 20)},
                        limit=limit,
                    )
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                digest.update(chunk)
                out.write(chunk)
        file_format = sniff(head)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    final = name.removesuffix(".upload") + "." + file_format
    os.replace(target, media_path(final))
    return StoredFile(name=final, sha256=digest.hexdigest(), size=size, file_format=file_format)


def file_chunks(path: Path, block: int = BLOCK_BYTES) -> Iterator[bytes]:
    with open(path, "rb") as source:
        while data := source.read(block):
            yield data


def normalise_header(name: str) -> str:
    cleaned = name.replace("\ufeff", "").strip().strip('"').strip().lower()
    for ch in (" ", "\u3000", "*", "＊"):
        cleaned = cleaned.replace(ch, "")
    return cleaned


def layout_from_header(columns: list[str], delimiter: str = ",") -> Layout:
    """Map header names to fields; FileRejected(IMPORT_FILE_HEADER) when a field is missing or twice."""
    if not any(c.strip() for c in columns):
        raise _rejected("IMPORT_FILE_HEADER", _("第一行应为表头：%(header)s。") % {"header": EXPECTED_HEADER})
    fields: dict[str, int] = {}
    for index, column in enumerate(columns):
        field = _ALIAS_TO_FIELD.get(normalise_header(column))
        if field is None:
            continue
        if field in fields:
            raise _rejected(
                "IMPORT_FILE_HEADER",
                _("表头中“%(label)s”列出现了两次（第%(first)s列和第%(second)s列）。")
                % {"label": FIELD_LABELS[field], "first": fields[field] + 1, "second": index + 1},
                field=field,
            )
        fields[field] = index
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        names = "、".join(str(FIELD_LABELS[f]) for f in missing)
        raise _rejected(
            "IMPORT_FILE_HEADER",
            _("表头缺少列：%(missing)s。第一行应为表头，例如：%(header)s。")
            % {"missing": names, "header": EXPECTED_HEADER},
            missing=missing,
        )
    shown = tuple(c.replace("\ufeff", "").strip() for c in columns)
    return Layout(columns=shown, fields=fields, delimiter=delimiter)


def _encoding_problem(data: bytes) -> FileRejected:
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return _rejected(
            "IMPORT_FILE_ENCODING",
            _("文件不是UTF-8编码的文本，请在Excel中另存为“CSV UTF-8（逗号分隔）”后再上传。"),
            encoding="unknown",
        )
    return _rejected(
        "IMPORT_FILE_ENCODING",
        _("文件编码为GBK/GB18030，请在Excel中另存为“CSV UTF-8（逗号分隔）”后再上传。"),
        encoding="gbk",
    )


def csv_start(path: Path) -> CsvStart:
    """Read the header of a CSV file (BOM skipped, delimiter detected) and where data starts."""
    with open(path, "rb") as source:
        head = source.read(HEAD_BYTES)
    sniff(head)
    start = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head[start:], final=len(head) < HEAD_BYTES)
    except UnicodeDecodeError as exc:
        raise _encoding_problem(head[start : start + exc.end + 64]) from exc
    end = head.find(b"\n", start)
    if end < 0:
        if len(head) == HEAD_BYTES:
            raise _rejected("IMPORT_FILE_HEADER", _("第一行过长，不是有效的表头。"))
        end = len(head)
    line = head[start:end].rstrip(b"\r").decode("utf-8")
    delimiter = ","
    if "," not in line:
        delimiter = "\t" if "\t" in line else (";" if ";" in line else ",")
    columns = next(csv.reader([line], delimiter=delimiter), [])
    layout = layout_from_header(columns, delimiter)
    return CsvStart(layout=layout, data_offset=end + 1 if end < len(head) else end)


def csv_data_blocks(path: Path, offset: int, block: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The data rows' bytes from `offset`, in blocks, without the blank lines at the file's end.

    A run of line ends is held back until more data follows it (a trailing empty line would be
    an empty record to COPY); everything else passes through unchanged.
    """
    pending = b""
    with open(path, "rb") as source:
        source.seek(offset)
        while data := source.read(block):
            if pending:
                data = pending + data
            body = data.rstrip(b"\r\n")
            pending = data[len(body) :]
            if body:
                yield body


def csv_records(path: Path, start: CsvStart) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of every data record, line numbered from the header (line 1).

    Blank records are skipped (their numbers are still counted). Tolerant of a wrong field
    count (the caller reports it); FileRejected(IMPORT_FILE_ENCODING) on bytes that are not
    UTF-8, with the line where they are.
    """
    raw = open(path, "rb")  # noqa: SIM115 - closed by the TextIOWrapper below
    raw.seek(start.data_offset)
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
    line = 1
    try:
        reader = csv.reader(text, delimiter=start.layout.delimiter)
        for row in reader:
            line += 1
            if not row or not any(field.strip() for field in row):
                continue
            yield line, row
    except UnicodeDecodeError as exc:
        bad = first_non_utf8_line(path, start.data_offset) or line + 1
        raise _rejected(
            "IMPORT_FILE_ENCODING",
            _("第%(line)s行的内容不是UTF-8编码，请将文件另存为“CSV UTF-8（逗号分隔）”后再上传。")
            % {"line": bad},
            line=bad,
        ) from exc
    except csv.Error as exc:
        raise _rejected(
            "IMPORT_FILE_CSV", _("第%(line)s行不是有效的CSV格式。") % {"line": line + 1}, line=line + 1
        ) from exc
    finally:
        text.close()


def first_non_utf8_line(path: Path, offset: int) -> int | None:
    """The file line (header = 1) holding the first bytes from `offset` that are not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 2
    with open(path, "rb") as source:
        source.seek(offset)
        while data := source.read(BLOCK_BYTES):
            try:
                decoder.decode(data)
            except UnicodeDecodeError as exc:
                return line + data[: exc.start].count(b"\n")
            line += data.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return line
    return None


_PAD = {"candidate_no": 12, "course_code": 5}


def _cell_text(value, pad: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        text = str(value)
        return text.zfill(pad) if pad and value >= 0 else text
    if isinstance(value, float):
        if value.is_integer():
            number = int(value)
            text = str(number)
            return text.zfill(pad) if pad and number >= 0 else text
        return repr(value)
    if isinstance(value, dt.date):  # a sitting typed as a date: its year and month
        return value.strftime("%Y%m")
    return str(value)


def xlsx_layout(path: Path) -> Layout:
    """The layout of an .xlsx file's first worksheet (its first row); the file is closed after."""
    layout, records = xlsx_open(path)
    try:
        next(records, None)  # start the reader so that closing it closes the workbook
    finally:
        records.close()
    return layout


def xlsx_open(path: Path) -> tuple[Layout, Generator[tuple[int, list[str]], None, None]]:
    """The layout and the (line, fields) records of the first worksheet of an .xlsx file."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
    except Exception as exc:  # openpyxl raises many types for a broken or foreign zip
        raise _rejected("IMPORT_FILE_XLSX_INVALID", _("不是有效的 .xlsx 文件，无法读取。")) from exc
    if header is None:
        workbook.close()
        raise _rejected("IMPORT_FILE_EMPTY", _("文件是空的。"))
    layout = layout_from_header([_cell_text(v, None) for v in header])
    pads = {index: _PAD[field] for field, index in layout.fields.items() if field in _PAD}

    def records() -> Generator[tuple[int, list[str]], None, None]:
        line = 1
        try:
            for row in rows:
                line += 1
                fields = [_cell_text(v, pads.get(i)).strip() for i, v in enumerate(row)]
                while fields and fields[-1] == "" and len(fields) > layout.ncols:
                    fields.pop()
                if not any(fields):
                    continue
                yield line, fields
        except Exception as exc:
            raise _rejected(
                "IMPORT_FILE_XLSX_INVALID", _("第%(line)s行无法读取。") % {"line": line}, line=line
            ) from exc
        finally:
            workbook.close()

    return layout, records()
