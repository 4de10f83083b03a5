"""Score import (`manage.py import_scores`): a marking centre's file of millions of rows.

PostgreSQL (skipped when not reachable): a slim province of BENCH_IMPORT_CANDIDATES candidates
(default 1,000,000) each entered for BENCH_IMPORT_COURSES courses (5) of sitting 202610, so one
file of 5,000,000 rows (about 0.1 % of them from another province, 2 % absent); the database
`zikao_bench_import` is built once and reused while it has that shape (BENCH_IMPORT_DROP=1
drops it at the end). In the same run, on the same server:

  reference A   bare COPY of the file into an UNLOGGED table without indexes (physical ceiling)
  reference B   bare COPY of the same rows, resolved to ids, into a logged copy of the scores
                table with the same indexes, checks and foreign keys
  reference B'  the same without the foreign keys (for comparison only)
  dry run       manage.py import_scores FILE --sitting 202610 --dry-run
  commit        manage.py import_scores FILE --sitting 202610
  again         the same command once more (the same file: recognised, nothing changes)

Prints rows/s of each, the ratios of dry run and commit to A and B, dry run / commit, and the
peak memory (max RSS) of each import process. Targets: commit >= 0.6 x B, dry run >= 3 x commit,
peak memory < 300 MB. The rates of the import are its own measured run time (storing the file
and Django's start are shown separately as wall time).

SQLite: BENCH_IMPORT_SQLITE_ROWS rows (1,000,000; 0 skips it) in a scratch database, dry run
and commit, rows/s and peak memory.

Environment: BENCH_PG_URL (server, default postgres://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
CANDIDATES = int(os.environ.get("BENCH_IMPORT_CANDIDATES", "1000000"))
COURSES = int(os.environ.get("BENCH_IMPORT_COURSES", "5"))
SQLITE_ROWS = int(os.environ.get("BENCH_IMPORT_SQLITE_ROWS", "1000000"))
DROP = os.environ.get("BENCH_IMPORT_DROP", "") == "1"
DB = "zikao_bench_import"
SHAPE = f"v1 {CANDIDATES} x {COURSES}"  # bump v when the builder changes
HEADER = ("准考证号", "课程代码", "考次", "成绩", "状态")
MB = 1024 * 1024
B_NO_FK = "B'"

# The file's rows: every entry of the sitting, by course then candidate (as a marking centre
# sends them); every 1000th row carries a number of another province, every 50th is absent.
ROWS_SQL = """
    SELECT CASE WHEN e.id % 1000 = 0 THEN '99' || substr(c.candidate_no, 3) ELSE c.candidate_no END,
           co.code, '202610',
           CASE WHEN e.id % 50 = 7 THEN ''
                WHEN co.kind = 'practice'
                  THEN CASE e.id % 3 WHEN 0 THEN '优秀' WHEN 1 THEN '良好' ELSE '合格' END
                ELSE CAST((e.id * 7919) % 101 AS text) END,
           CASE WHEN e.id % 50 = 7 THEN '缺考' ELSE '有效' END
    FROM entries_entry e
    JOIN candidates_candidate c ON c.id = e.candidate_id
    JOIN catalog_course co ON co.id = e.course_id
    ORDER BY co.code, c.candidate_no
"""


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@dataclass
class Run:
    seconds: float  # the import's own run time, as the command measured it
    wall: float  # the whole process: Django start, storing the file, the run
    rows: int
    max_rss_mb: float
    output: str

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def manage(env: dict[str, str], *args: str, quiet: bool = True) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )


def import_run(env: dict[str, str], path: Path, *extra: str) -> Run:
    """Run manage.py import_scores in a child process; its own timing and its peak memory."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "import_scores",
                str(path),
                "--sitting",
                "202610",
                "--quiet-progress",
                "--skip-checks",
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise SystemExit(f"import_scores failed ({process.returncode}):\n{text}")
    match = re.search(r": ([\d,]+) rows in ([\d.]+) s", text)
    rows, seconds = (int(match.group(1).replace(",", "")), float(match.group(2))) if match else (0, 0.0)
    return Run(seconds=seconds, wall=wall, rows=rows, max_rss_mb=usage.ru_maxrss / 1024, output=text)


def line(label: str, value: str, note: str = "") -> None:
    print(f"{label:<44}{value:>16}   {note}".rstrip(), flush=True)


# --- PostgreSQL -----------------------------------------------------------------------------------


def pg_prepare(admin: psycopg.Connection, url: str, env: dict[str, str]) -> None:
    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone()
    if exists:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                shape = conn.execute("SELECT shape FROM bench_score_import_meta").fetchone()
        except psycopg.Error:
            shape = None
        if shape and shape[0] == SHAPE:
            manage(env, "migrate", "-v0")
            print(f"reusing database {DB} ({SHAPE})", flush=True)
            return
        admin.execute(f"DROP DATABASE {DB} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {DB}")
    started = time.perf_counter()
    manage(env, "migrate", "-v0")
    subprocess.run(
        [sys.executable, "bench/scoreimport/build.py", str(CANDIDATES), str(COURSES)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_score_import_meta (shape text)")
        conn.execute("INSERT INTO bench_score_import_meta VALUES (%s)", [SHAPE])
    print(f"built database {DB} ({SHAPE}) in {time.perf_counter() - started:.0f} s", flush=True)


def pg_reset(conn: psycopg.Connection, var: Path) -> None:
    conn.execute("TRUNCATE scores_score, scores_scoreimport, core_auditevent RESTART IDENTITY CASCADE")
    conn.execute("DROP TABLE IF EXISTS bench_ref_raw, bench_ref_scores, bench_ref_scores_nofk")
    shutil.rmtree(var, ignore_errors=True)


def pg_write_file(conn: psycopg.Connection, path: Path) -> None:
    header = ", ".join(f'"{h}"' for h in HEADER)
    sql = f"COPY (SELECT * FROM ({ROWS_SQL}) AS r({header})) TO STDOUT WITH (FORMAT csv, HEADER true)"
    with open(path, "wb") as out, conn.cursor().copy(sql) as copy:
        for block in copy:
            out.write(block)


def copy_file(conn: psycopg.Connection, sql: str, path: Path) -> float:
    conn.execute("CHECKPOINT")
    started = time.perf_counter()
    with conn.transaction(), conn.cursor().copy(sql) as copy, open(path, "rb") as source:
        while block := source.read(1 << 20):
            copy.write(block)
    return time.perf_counter() - started


SCORE_COLUMNS = (
    "candidate_id, course_id, sitting_id, entry_id, value, grade, method, status, is_current, "
    "correction_reason, source, created_at"
)


def pg_references(conn: psycopg.Connection, path: Path, tmp: Path) -> dict[str, tuple[int, float]]:
    """Reference A, B and B' in rows and seconds."""
    found: dict[str, tuple[int, float]] = {}
    conn.execute(
        "CREATE UNLOGGED TABLE bench_ref_raw (cno text, course text, sitting text, result text, status text)"
    )
    seconds = copy_file(conn, "COPY bench_ref_raw FROM STDIN WITH (FORMAT csv, HEADER true)", path)
    rows = conn.execute("SELECT count(*) FROM bench_ref_raw").fetchone()[0]
    found["A"] = (rows, seconds)
    # The same rows resolved to the scores table's columns (what the import writes), untimed.
    resolved = tmp / "resolved.copy"
    sql = """
        COPY (SELECT c.id, co.id, e.sitting_id, e.id,
                     CASE WHEN r.result ~ '^[0-9]+$' THEN r.result::int END,
                     CASE WHEN r.result ~ '^[0-9]+$' OR r.result = '' THEN '' ELSE r.result END,
                     'exam', CASE r.status WHEN '缺考' THEN 'absent' ELSE 'valid' END, true, '',
                     '成绩导入#0', now()
              FROM bench_ref_raw r
              JOIN candidates_candidate c ON c.candidate_no = r.cno
              JOIN catalog_course co ON co.code = r.course
              JOIN entries_entry e ON e.candidate_id = c.id AND e.course_id = co.id) TO STDOUT"""
    with open(resolved, "wb") as out, conn.cursor().copy(sql) as copy:
        for block in copy:
            out.write(block)
    conn.execute("DROP TABLE bench_ref_raw")
    keys = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'scores_score'::regclass AND contype = 'f' ORDER BY conname"
    ).fetchall()
    for name, with_fks in (("B", True), (B_NO_FK, False)):
        table = "bench_ref_scores" if with_fks else "bench_ref_scores_nofk"
        conn.execute(f"CREATE TABLE {table} (LIKE scores_score INCLUDING ALL)")
        if with_fks:
            for key, definition in keys:
                definition = definition.replace("REFERENCES scores_score(id)", f"REFERENCES {table}(id)")
                conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{key}_ref" {definition}')
        seconds = copy_file(conn, f"COPY {table} ({SCORE_COLUMNS}) FROM STDIN", resolved)
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        found[name] = (rows, seconds)
        conn.execute(f"DROP TABLE {table}")
    resolved.unlink()
    return found


def postgres() -> None:
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL: skipped, not reachable at {SERVER} ({exc.__class__.__name__})")
        return
    url = with_db(SERVER, DB)
    var = ROOT / "var" / "bench-import"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))},
        "DATABASE_URL": url,
        "ZIKAO_VAR_DIR": str(var),
        "DEBUG": "1",
    }
    try:
        pg_prepare(admin, url, env)
        with (
            tempfile.TemporaryDirectory(prefix="bench-import-") as folder,
            psycopg.connect(url, autocommit=True) as conn,
        ):
            tmp = Path(folder)
            pg_reset(conn, var)
            path = tmp / "scores-202610.csv"
            started = time.perf_counter()
            pg_write_file(conn, path)
            size = path.stat().st_size
            print(f"file: {size / MB:,.1f} MB written in {time.perf_counter() - started:.0f} s", flush=True)
            refs = pg_references(conn, path, tmp)
            conn.execute("CHECKPOINT")
            dry = import_run(env, path, "--dry-run")
            conn.execute("CHECKPOINT")
            commit = import_run(env, path)
            again = import_run(env, path)
            written = conn.execute("SELECT count(*) FROM scores_score").fetchone()[0]
            failed = conn.execute("SELECT rows_failed FROM scores_scoreimport").fetchone()[0]
            pg_reset(conn, var)
        report_postgres(refs, dry, commit, again, written, failed, size)
    finally:
        if DROP:
            admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.close()


def report_postgres(refs, dry: Run, commit: Run, again: Run, written: int, failed: int, size: int) -> None:
    rate = {k: rows / seconds for k, (rows, seconds) in refs.items()}
    print(f"\nPostgreSQL: {dry.rows:,} rows for one sitting, {CANDIDATES:,} candidates ({size / MB:,.0f} MB)")
    line("reference A  COPY, unlogged, no indexes", f"{rate['A']:,.0f} rows/s", "(physical ceiling)")
    line("reference B  COPY into scores' twin (logged,", f"{rate['B']:,.0f} rows/s", "indexes, checks, FKs)")
    line("reference B' the same without foreign keys", f"{rate[B_NO_FK]:,.0f} rows/s", "(comparison)")
    for label, run in (("dry run", dry), ("commit", commit)):
        line(
            f"import {label}",
            f"{run.rate:,.0f} rows/s",
            f"{run.seconds:.1f} s (process {run.wall:.1f} s); x{run.rate / rate['A']:.3f} of A, "
            f"x{run.rate / rate['B']:.2f} of B, x{run.rate / rate[B_NO_FK]:.2f} of B'; "
            f"peak memory {run.max_rss_mb:,.0f} MB",
        )
    line("import again (the same file)", f"{again.wall:.1f} s", "recognised by its SHA-256, nothing changed")
    line("dry run / commit", f"{dry.rate / commit.rate:.2f}", "(target >= 3)")
    line("commit / reference B", f"{commit.rate / rate['B']:.2f}", "(target >= 0.6)")
    peak = max(dry.max_rss_mb, commit.max_rss_mb, again.max_rss_mb)
    line("peak memory of an import process", f"{peak:,.0f} MB", "(target < 300 MB)")
    line("scores written / rows failed", f"{written:,} / {failed:,}", "(failed: numbers of another province)")
    if "nothing changed" not in again.output or written + failed != dry.rows:
        raise SystemExit("the import did not do what it should: see the output above\n" + again.output)


# --- SQLite ------------------------------------------------------------------------------------------


def sqlite() -> None:
    if SQLITE_ROWS <= 0:
        return
    candidates = max(1, SQLITE_ROWS // 5)
    with tempfile.TemporaryDirectory(prefix="bench-import-sqlite-") as folder:
        tmp = Path(folder)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))},
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
            "ZIKAO_VAR_DIR": str(tmp / "var"),
            "DEBUG": "1",
        }
        started = time.perf_counter()
        manage(env, "migrate", "-v0")
        subprocess.run(
            [sys.executable, "bench/scoreimport/build.py", str(candidates), "5"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        path = tmp / "scores-202610.csv"
        conn = sqlite3.connect(tmp / "bench.sqlite3")
        import csv

        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(HEADER)
            writer.writerows(conn.execute(ROWS_SQL))
        conn.close()
        took = time.perf_counter() - started
        print(f"\nSQLite: built {candidates * 5:,} entries and the file in {took:.0f} s")
        dry = import_run(env, path, "--dry-run")
        commit = import_run(env, path)
        conn = sqlite3.connect(tmp / "bench.sqlite3")
        written = conn.execute("SELECT count(*) FROM scores_score").fetchone()[0]
        conn.close()
        print(f"SQLite: {dry.rows:,} rows for one sitting, {candidates:,} candidates")
        for label, run in (("dry run", dry), ("commit", commit)):
            line(
                f"import {label}",
                f"{run.rate:,.0f} rows/s",
                f"{run.seconds:.1f} s (process {run.wall:.1f} s); peak memory {run.max_rss_mb:,.0f} MB",
            )
        line("scores written", f"{written:,}")


def main() -> int:
    started = time.perf_counter()
    postgres()
    sqlite()
    print(f"\n(bench/score_import.py took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
