"""Set-based checking and writing of a score file: a staging table and a few SQL statements.

The rows of the file go into a private staging table (`zk_imp_stage`: line number plus the
file's columns as text) — on PostgreSQL with `COPY` straight from the file's bytes, elsewhere
with `executemany` in chunks. One statement then classifies every row (`zk_imp_check`): the
first reason it cannot be imported (a stable code, in the fixed order of `ROW_CODES`), or what
importing it does (`new`, `unchanged`, `replace`), with the ids it resolves to. Reports read
that table; committing inserts from it with `INSERT ... SELECT`. Nothing is done row by row in
Python, so PostgreSQL runs at the speed of its joins and index writes.

The temporary tables belong to the database session and are dropped at the end of each run.
The same SQL runs on PostgreSQL and SQLite; the few dialect differences are in `Dialect`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from zikao.scores.import_files import Layout

STAGE = "zk_imp_stage"
CHECK = "zk_imp_check"
MESSAGES = "zk_imp_msg"
RESULTS = "zk_imp_result"
DUPLICATES = "zk_imp_dup"

# Row refusals, in the order they are tested (a row reports the first that applies).
ROW_CODES: dict[str, object] = {
    "ROW_FIELD_COUNT": _("列数与表头不一致（应为{expected}列，实为{ref}列）。"),
    "CANDIDATE_NO_INVALID": _("准考证号应为12位数字。"),
    "COURSE_CODE_INVALID": _("课程代码应为5位数字。"),
    "SITTING_MISMATCH": _("考次与本次导入的考次（{sitting}）不一致。"),
    "STATUS_INVALID": _("状态无效，应为“有效”“缺考”或“违规”（或 valid、absent、void）。"),
    "SCORE_INVALID": _("成绩应为0到100的整数，或等级“优秀”“良好”“中等”“合格”“不合格”。"),
    "SCORE_OUT_OF_RANGE": _("分数应在0到100之间。"),
    "SCORE_GRADE_INVALID": _("笔试课程只能记分数，不能记等级。"),
    "SCORE_ABSENT_HAS_VALUE": _("缺考不能有成绩。"),
    "SCORE_MISSING": _("有效成绩须有分数或等级。"),
    "CANDIDATE_NOT_LOCAL": _("准考证号不属于本省（前两位不是本省的地市代码）。"),
    "CANDIDATE_UNKNOWN": _("准考证号不存在。"),
    "COURSE_UNKNOWN": _("课程代码不存在。"),
    "COURSE_NOT_IN_SITTING": _("本考次未开考该课程。"),
    "SCORE_NOT_ENTERED": _("该考生本考次未报考该课程。"),
    "DUPLICATE_IN_FILE": _("同一考生同一课程在文件中出现多次（首次在第{ref}行），均未导入。"),
    "SCORE_PUBLISHED": _("本考次成绩已发布，与已有成绩不同：须通过成绩更正修改。"),
    "SCORE_CONFLICT": _("与已有的不同成绩冲突；如确需替换未发布的成绩，请选择“替换未发布的不同成绩”。"),
}

# What a valid row does when committed.
ACTION_NEW = "new"
ACTION_UNCHANGED = "unchanged"
ACTION_REPLACE = "replace"

GRADES = {
    "优秀": "优秀",
    "良好": "良好",
    "中等": "中等",
    "合格": "合格",
    "及格": "合格",
    "不合格": "不合格",
    "不及格": "不合格",
}
STATUSES = {
    "": "valid",
    "有效": "valid",
    "正常": "valid",
    "valid": "valid",
    "缺考": "absent",
    "absent": "absent",
    "违规": "void",
    "违纪": "void",
    "违规作废": "void",
    "作废": "void",
    "void": "void",
}
GRADED_KINDS = ("practice", "thesis")


@dataclass(frozen=True)
class Dialect:
    vendor: str

    @property
    def postgres(self) -> bool:
        return self.vendor == "postgresql"

    def matches(self, expr: str, pattern: str) -> str:
        # Both engines understand \A and \Z; Django registers REGEXP (Python re.search) on SQLite.
        return f"({expr} ~ '{pattern}')" if self.postgres else f"({expr} REGEXP '{pattern}')"

    def to_int(self, expr: str) -> str:
        return f"CAST(CAST({expr} AS numeric) AS integer)" if self.postgres else f"CAST({expr} AS INTEGER)"

    def same(self, left: str, right: str) -> str:
        return f"({left} IS NOT DISTINCT FROM {right})" if self.postgres else f"({left} IS {right})"

    def temp(self) -> str:
        return "TEMPORARY"


def work_mem() -> str:
    return str(getattr(settings, "ZIKAO_SCORE_IMPORT_WORK_MEM", "256MB"))


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _case_map(expr: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in mapping.items())
    return f"CASE {expr} {whens} END"


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class Staging:
    """The staging and check tables of one run, on the current connection."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.dialect = Dialect(connection.vendor)
        self.columns = [f"c{i + 1}" for i in range(layout.ncols)]

    # --- tables -------------------------------------------------------------------------------

    def create(self) -> None:
        self.drop()
        cols = ", ".join(f"{c} text" for c in self.columns)
        with connection.cursor() as cursor:
            if self.dialect.postgres:
                # Each temporary table read in a big join lives in local buffers: give them room
                # (allowed only before the session's first temporary table; ignored after).
                try:
                    with transaction.atomic():
                        cursor.execute("SET temp_buffers = '256MB'")
                except Exception:  # noqa: S110 - best effort tuning
                    pass
                cursor.execute(f"CREATE TEMPORARY SEQUENCE {STAGE}_line START 2")
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {STAGE} (line bigint NOT NULL DEFAULT nextval('{STAGE}_line'), "
                    f"nf integer, {cols})"
                )
            else:
                cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} (line integer NOT NULL, nf integer, {cols})")

    def drop(self) -> None:
        with connection.cursor() as cursor:
            for table in (CHECK, MESSAGES, RESULTS, DUPLICATES, STAGE):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
            if self.dialect.postgres:
                cursor.execute(f"DROP SEQUENCE IF EXISTS {STAGE}_line")

    # --- loading ------------------------------------------------------------------------------

    def copy_csv(self, blocks: Iterable[bytes], on_block: Callable[[bytes], None]) -> None:
        """PostgreSQL: COPY the file's data bytes (CSV) straight into the staging table.

        Raises psycopg's BadCopyFileFormat when a record does not have the header's column count
        (the caller then loads the file with `load_records`, which reports such rows one by one).
        """
        delimiter = self.layout.delimiter.replace("\t", "\\t")
        sql = (
            f"COPY {STAGE} ({', '.join(self.columns)}) FROM STDIN "
            f"WITH (FORMAT csv, DELIMITER E'{delimiter}', NULL '', ENCODING 'UTF8')"
        )
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for block in blocks:
                copy.write(block)
                on_block(block)

    def load_records(
        self, records: Iterator[tuple[int, list[str]]], on_rows: Callable[[int, int], None], chunk: int = 5000
    ) -> int:
        """Load (line, fields) records; a record with the wrong field count keeps its count in `nf`."""
        ncols = self.layout.ncols
        count = 0

        def shaped(line: int, fields: list[str]) -> tuple:
            nf = None if len(fields) == ncols else len(fields)
            cells = (fields + [""] * ncols)[:ncols]
            return (line, nf, *[cell if cell != "" else None for cell in cells])

        if self.dialect.postgres:
            columns = ", ".join(["line", "nf", *self.columns])
            sql = f"COPY {STAGE} ({columns}) FROM STDIN"
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                last_line = 1
                for line, fields in records:
                    copy.write_row(shaped(line, fields))
                    count += 1
                    last_line = line
                    if count % chunk == 0:
                        on_rows(count, last_line)
            on_rows(count, last_line)
            return count
        placeholders = ", ".join(["%s"] * (ncols + 2))
        sql = f"INSERT INTO {STAGE} (line, nf, {', '.join(self.columns)}) VALUES ({placeholders})"  # noqa: S608
        batch: list[tuple] = []
        last_line = 1
        for line, fields in records:
            batch.append(shaped(line, fields))
            last_line = line
            if len(batch) >= chunk:
                count += self._insert_batch(sql, batch)
                batch = []
                on_rows(count, last_line)
        if batch:
            count += self._insert_batch(sql, batch)
        on_rows(count, last_line)
        return count

    @staticmethod
    def _insert_batch(sql: str, batch: list[tuple]) -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)
        return len(batch)

    def analyze(self) -> int:
        """Refresh the planner's statistics of the staging table; return its row count."""
        with connection.cursor() as cursor:
            if self.dialect.postgres:
                cursor.execute(f"ANALYZE {STAGE}")
            cursor.execute(f"SELECT count(*) FROM {STAGE}")  # noqa: S608
            return int(cursor.fetchone()[0])

    # --- checking -----------------------------------------------------------------------------

    def _field(self, name: str) -> str:
        index = self.layout.fields.get(name)
        if index is None:
            return "''"
        return f"trim(coalesce(s.{self.columns[index]}, ''))"

    def check(
        self,
        *,
        sitting_id: int,
        sitting_label: str,
        released: bool,
        replace_unpublished: bool,
        city_codes: list[str],
    ) -> None:
        """Classify every staged row into the check table: one pass over the file's rows.

        Built for speed on millions of rows: every join is a hash join against a table read
        once; the common results ("0".."100" and the grades) are recognised through a small
        lookup table, so the regular expressions only ever run on the rare rows that are not
        (and on the numbers and codes of rows that matched nothing). Duplicates are marked
        afterwards from the entries the rows resolved to (rows of one candidate and course share
        their entry; a row without an entry is refused anyway).
        """
        d = self.dialect
        known = [self.columns[i] for i in self.layout.fields.values()]
        not_blank = " OR ".join(f"trim(coalesce(s.{c}, '')) <> ''" for c in known)
        cities = ", ".join(_lit(c) for c in city_codes) or "NULL"
        graded = ", ".join(_lit(k) for k in GRADED_KINDS)
        # Results not in the lookup table: an integer, optionally with a zero fraction (085,
        # 85.0); more than six digits is out of range whatever it says (and would overflow).
        is_int = d.matches("n.result", r"\A-?[0-9]+(\.0+)?\Z")
        small_int = d.matches("n.result", r"\A-?[0-9]{1,6}(\.0+)?\Z")
        parsed = d.to_int("n.result")
        num = f"(CASE WHEN n.known THEN n.rvalue WHEN n.result <> '' AND {small_int} THEN {parsed} END)"
        cno_ok = d.matches("n.cno", r"\A[0-9]{12}\Z")
        course_ok = d.matches("n.course", r"\A[0-9]{5}\Z")
        same_result = (
            f"({d.same('sc.value', num)} AND sc.grade = coalesce(n.grade, '') AND sc.status = n.status)"
        )
        released_sql = "TRUE" if released else "FALSE"
        refuse_sql = "FALSE" if replace_unpublished else "TRUE"
        code = f"""
            CASE
              WHEN n.nf IS NOT NULL THEN 'ROW_FIELD_COUNT'
              WHEN c.id IS NULL AND NOT {cno_ok} THEN 'CANDIDATE_NO_INVALID'
              WHEN co.id IS NULL AND NOT {course_ok} THEN 'COURSE_CODE_INVALID'
              WHEN n.sitting <> {_lit(sitting_label)} THEN 'SITTING_MISMATCH'
              WHEN n.status IS NULL THEN 'STATUS_INVALID'
              WHEN NOT n.known AND n.result <> '' AND NOT {is_int} THEN 'SCORE_INVALID'
              WHEN NOT n.known AND n.result <> '' AND ({num} IS NULL OR {num} < 0 OR {num} > 100)
                THEN 'SCORE_OUT_OF_RANGE'
              WHEN n.grade IS NOT NULL AND co.kind NOT IN ({graded}) THEN 'SCORE_GRADE_INVALID'
              WHEN n.status = 'absent' AND n.result <> '' THEN 'SCORE_ABSENT_HAS_VALUE'
              WHEN n.status = 'valid' AND n.result = '' THEN 'SCORE_MISSING'
              WHEN c.id IS NULL AND substr(n.cno, 1, 2) NOT IN ({cities}) THEN 'CANDIDATE_NOT_LOCAL'
              WHEN c.id IS NULL THEN 'CANDIDATE_UNKNOWN'
              WHEN co.id IS NULL THEN 'COURSE_UNKNOWN'
              WHEN t.id IS NULL THEN 'COURSE_NOT_IN_SITTING'
              WHEN e.id IS NULL THEN 'SCORE_NOT_ENTERED'
              WHEN sc.id IS NOT NULL AND {released_sql} AND NOT {same_result} THEN 'SCORE_PUBLISHED'
              WHEN sc.id IS NOT NULL AND {refuse_sql} AND NOT {same_result} THEN 'SCORE_CONFLICT'
            END"""
        status = _case_map("v.status_raw", STATUSES)
        # PostgreSQL would otherwise inline `n` and evaluate its expressions again at every use.
        fence = "OFFSET 0" if d.postgres else ""
        sql = f"""
            CREATE {d.temp()} TABLE {CHECK} AS
            SELECT k.*,
                   CASE WHEN k.code IS NULL THEN
                     CASE WHEN k.existing_id IS NULL THEN '{ACTION_NEW}'
                          WHEN k.same_result THEN '{ACTION_UNCHANGED}'
                          ELSE '{ACTION_REPLACE}' END
                   END AS action
            FROM (
              SELECT n.line,
                     {code} AS code,
                     n.nf AS ref,
                     c.id AS candidate_id, co.id AS course_id, e.id AS entry_id, sc.id AS existing_id,
                     {num} AS value, coalesce(n.grade, '') AS grade, n.status,
                     CASE WHEN sc.id IS NULL THEN FALSE ELSE {same_result} END AS same_result
              FROM (
                SELECT v.line, v.nf, v.cno, v.course, v.sitting, v.result, {status} AS status,
                       r.value AS rvalue, r.grade AS grade, r.raw IS NOT NULL AS known
                FROM (
                  SELECT s.line, s.nf,
                         {self._field("candidate_no")} AS cno,
                         {self._field("course_code")} AS course,
                         {self._field("sitting")} AS sitting,
                         {self._field("result")} AS result,
                         lower({self._field("status")}) AS status_raw
                  FROM {STAGE} s
                  WHERE {not_blank}
                ) v
                LEFT JOIN {RESULTS} r ON r.raw = v.result
                {fence}
              ) n
              LEFT JOIN candidates_candidate c ON c.candidate_no = n.cno
              LEFT JOIN catalog_course co ON co.code = n.course
              LEFT JOIN catalog_timetableentry t ON t.sitting_id = {int(sitting_id)} AND t.course_id = co.id
              LEFT JOIN entries_entry e
                     ON e.candidate_id = c.id AND e.sitting_id = {int(sitting_id)} AND e.course_id = co.id
                    AND NOT (e.status = 'cancelled')
              LEFT JOIN scores_score sc
                     ON sc.candidate_id = c.id AND sc.course_id = co.id AND sc.sitting_id = {int(sitting_id)}
                    AND sc.is_current AND sc.sitting_id IS NOT NULL
            ) k
        """  # noqa: S608 - only constants and validated integers are interpolated
        duplicates = f"""
            UPDATE {CHECK} SET code = 'DUPLICATE_IN_FILE', action = NULL,
                   ref = (SELECT d.first_line FROM {DUPLICATES} d WHERE d.entry_id = {CHECK}.entry_id)
            WHERE entry_id IN (SELECT entry_id FROM {DUPLICATES})
              AND (code IS NULL OR code IN ('SCORE_PUBLISHED', 'SCORE_CONFLICT'))
        """  # noqa: S608
        with transaction.atomic(), connection.cursor() as cursor:
            if d.postgres:
                # Room for the hash joins over the whole file, and no JIT compilation (seconds
                # of it for one statement): this transaction only.
                cursor.execute(
                    "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)", [work_mem()]
                )
            for table in (RESULTS, DUPLICATES):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {RESULTS} (raw text PRIMARY KEY, value integer, grade text)"
            )
            cursor.executemany(
                f"INSERT INTO {RESULTS} (raw, value, grade) VALUES (%s, %s, %s)",  # noqa: S608
                [(str(v), v, None) for v in range(101)] + [(k, None, g) for k, g in GRADES.items()],
            )
            cursor.execute(sql)
            cursor.execute(
                f"CREATE TEMPORARY TABLE {DUPLICATES} AS "  # noqa: S608
                f"SELECT entry_id, min(line) AS first_line FROM {CHECK} WHERE entry_id IS NOT NULL "
                f"GROUP BY entry_id HAVING count(*) > 1"
            )
            cursor.execute(f"SELECT count(*) FROM {DUPLICATES}")  # noqa: S608
            if cursor.fetchone()[0]:
                cursor.execute(f"CREATE UNIQUE INDEX {DUPLICATES}_entry ON {DUPLICATES} (entry_id)")
                cursor.execute(duplicates)
            if d.postgres:
                cursor.execute(f"ANALYZE {CHECK}")

    # --- reading the outcome ------------------------------------------------------------------

    def counts(self) -> dict[tuple[str | None, str | None], int]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT code, action, count(*) FROM {CHECK} GROUP BY code, action")  # noqa: S608
            return {(code, action): int(n) for code, action, n in cursor.fetchall()}

    def _messages(self, *, sitting_label: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {MESSAGES}")
            cursor.execute(f"CREATE TEMPORARY TABLE {MESSAGES} (code varchar(40) PRIMARY KEY, message text)")
            cursor.executemany(
                f"INSERT INTO {MESSAGES} (code, message) VALUES (%s, %s)",  # noqa: S608
                [
                    (
                        code,
                        str(message)
                        .replace("{expected}", str(self.layout.ncols))
                        .replace("{sitting}", sitting_label),
                    )
                    for code, message in ROW_CODES.items()
                ],
            )

    def _failed_select(self, *, spreadsheet: bool = False) -> str:
        """`spreadsheet`: a cell that a spreadsheet would run as a formula (=, +, -, @ first, not a
        plain number) gets a leading apostrophe, so opening the report in Excel runs nothing."""
        if spreadsheet:
            formula = self.dialect.matches("s.{c}", r"\A[-=+@\t\r]")
            number = self.dialect.matches("s.{c}", r"\A-?[0-9]+(\.[0-9]+)?\Z")
            apostrophe = "''''"  # the SQL literal of one apostrophe
            cell = f"CASE WHEN {formula} AND NOT {number} THEN {apostrophe} || s.{{c}} ELSE s.{{c}} END"
            fields = ", ".join(cell.replace("{c}", c) for c in self.columns)
        else:
            fields = ", ".join(f"s.{c}" for c in self.columns)
        message = "replace(m.message, '{ref}', coalesce(CAST(k.ref AS text), ''))"
        return (
            f"SELECT {fields}, k.line, k.code, {message} "  # noqa: S608
            f"FROM {CHECK} k JOIN {STAGE} s ON s.line = k.line JOIN {MESSAGES} m ON m.code = k.code "
            f"WHERE k.code IS NOT NULL ORDER BY k.line"
        )

    def failed_rows(
        self, *, sitting_label: str, limit: int | None = None, spreadsheet: bool = False
    ) -> Iterator[list]:
        """The failed rows: the file's columns, then line, code and message, by line."""
        self._messages(sitting_label=sitting_label)
        sql = self._failed_select(spreadsheet=spreadsheet) + (f" LIMIT {int(limit)}" if limit else "")
        with connection.cursor() as cursor:
            cursor.execute(sql)
            while batch := cursor.fetchmany(2000):
                yield from (list(row) for row in batch)

    def write_failed_csv(self, out, *, sitting_label: str, header: list[str]) -> None:
        """Stream the failed rows as CSV into the binary file `out` (the header already written)."""
        if self.dialect.postgres:
            self._messages(sitting_label=sitting_label)
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(
                    f"COPY ({self._failed_select(spreadsheet=True)}) TO STDOUT WITH (FORMAT csv)"
                ) as copy,
            ):
                for block in copy:
                    out.write(block)
            return
        import csv
        import io

        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text)
        for row in self.failed_rows(sitting_label=sitting_label, spreadsheet=True):
            writer.writerow(["" if v is None else v for v in row])
        text.flush()
        text.detach()

    # --- writing --------------------------------------------------------------------------------

    def apply(
        self,
        *,
        sitting_id: int,
        created_at,
        created_by_id: int | None,
        source: str,
        replace_reason: str,
        on_rows: Callable[[int], None],
        batch_rows: int = 500_000,
    ) -> tuple[int, int]:
        """Write the `new` and `replace` rows (inside the caller's transaction); (inserted, replaced).

        A replaced score stays as history: it stops being current and the new row supersedes it.
        On PostgreSQL the rows to write are exported from the check table with COPY TO (into a
        private temporary file, streamed) and loaded into the scores table with COPY FROM in
        batches of `batch_rows`: COPY's batched heap inserts instead of one insert per row,
        progress after every block, and the foreign-key checks run at the end of each batch so
        their queue stays one batch long.
        """
        columns = [
            "candidate_id",
            "course_id",
            "sitting_id",
            "entry_id",
            "value",
            "grade",
            "method",
            "status",
            "is_current",
            "supersedes_id",
            "correction_reason",
            "source",
            "created_at",
            "created_by_id",
        ]
        select = f"""
            SELECT k.candidate_id, k.course_id, {int(sitting_id)}, k.entry_id, k.value, k.grade, 'exam',
                   k.status, %s,
                   CASE WHEN k.action = '{ACTION_REPLACE}' THEN k.existing_id END,
                   CASE WHEN k.action = '{ACTION_REPLACE}' THEN %s ELSE '' END,
                   %s, %s, %s
            FROM {CHECK} k WHERE k.action IN ('{ACTION_NEW}', '{ACTION_REPLACE}')"""  # noqa: S608
        params = [True, replace_reason, source, created_at, created_by_id]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE scores_score SET is_current = %s WHERE id IN "  # noqa: S608
                f"(SELECT existing_id FROM {CHECK} WHERE action = '{ACTION_REPLACE}')",
                [False],
            )
            replaced = cursor.rowcount
            if not self.dialect.postgres:
                cursor.execute(f"INSERT INTO scores_score ({', '.join(columns)}) {select}", params)
                inserted = cursor.rowcount
                on_rows(inserted)
                return inserted, replaced
            inserted = self._copy_through_file(cursor, select, params, columns, on_rows, batch_rows)
        return inserted, replaced

    @staticmethod
    def _copy_through_file(
        cursor, select: str, params: list, columns: list[str], on_rows, batch_rows: int
    ) -> int:
        import tempfile

        raw = cursor.cursor
        target = f"COPY scores_score ({', '.join(columns)}) FROM STDIN"
        block_bytes = max(4096, min(1 << 20, batch_rows * 64))
        inserted = 0
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with tempfile.TemporaryFile(prefix="zikao-import-") as spool:
            with raw.copy(f"COPY ({select}) TO STDOUT", params) as out:
                for block in out:
                    spool.write(block)
            spool.seek(0)
            block = b""
            while True:
                with raw.copy(target) as copy:
                    in_batch = 0
                    while in_batch < batch_rows:
                        block = spool.read(block_bytes)
                        if not block:
                            break
                        block += spool.readline()  # end every block at a row's end
                        copy.write(block)
                        rows = block.count(b"\n")
                        in_batch += rows
                        inserted += rows
                        on_rows(inserted)
                if not block:
                    break
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return inserted


def copy_error_line(exc: Exception) -> int | None:
    """The file line of a COPY data error (PostgreSQL reports the data row; the header is line 1)."""
    context = getattr(getattr(exc, "diag", None), "context", None) or ""
    match = re.search(r"line (\d+)", context)
    return int(match.group(1)) + 1 if match else None
