"""Spreadsheet downloads in constant memory: CSV streamed row by row, XLSX via a temporary file.

CSV: a `StreamingHttpResponse` over a generator; a UTF-8 byte-order mark first so Excel opens
Chinese text correctly. XLSX: openpyxl in `write_only` mode (rows go straight to disk, never
held as cells in memory), saved into an anonymous temporary file that `FileResponse` then
streams in chunks and that disappears when the response is closed. A sheet holds at most
1,048,576 rows, so a longer table continues on a sheet named "… (2)".

Cells are neutralised against formula injection (CWE-1236): text starting with = + - @ or a
control character gets a leading apostrophe, in both formats, because exported data contains
what candidates and staff typed.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAX_ROWS = 1_048_576
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> Any:
    """A cell value that no spreadsheet will run: numbers stay numbers, risky text is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _content_disposition(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "ignore").decode() or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


class _Echo:
    """A write-only file object that hands back what is written (csv.writer → generator)."""

    def write(self, value: str) -> str:
        return value


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The encoded lines of a CSV file, BOM first, one row at a time."""
    writer = csv.writer(_Echo())
    yield "\ufeff".encode()
    yield writer.writerow([safe_cell(h) for h in header]).encode()
    for row in rows:
        yield writer.writerow([safe_cell(v) for v in row]).encode()


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A streamed CSV download (never cached)."""
    response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = _content_disposition(filename)
    response["Cache-Control"] = "no-store"
    return response


Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]]]


def xlsx_write(target, sheets: Iterable[Sheet]) -> None:
    """Write `sheets` (title, header, rows) into `target` (a path or binary file) as .xlsx."""
    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        part = 1
        sheet = workbook.create_sheet(title=title[:31])
        sheet.append([safe_cell(h) for h in header])
        used = 1
        for row in rows:
            if used >= XLSX_MAX_ROWS:
                part += 1
                suffix = f" ({part})"
                sheet = workbook.create_sheet(title=title[: 31 - len(suffix)] + suffix)
                sheet.append([safe_cell(h) for h in header])
                used = 1
            sheet.append([safe_cell(v) for v in row])
            used += 1
    if not workbook.worksheets:
        workbook.create_sheet(title="Sheet1")
    workbook.save(target)


def xlsx_response(filename: str, sheets: Iterable[Sheet]) -> FileResponse:
    """An .xlsx download built in a temporary file and streamed from it (never cached)."""
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
    try:
        xlsx_write(handle, sheets)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    response = FileResponse(handle, content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = _content_disposition(filename)
    response["Cache-Control"] = "no-store"
    return response
