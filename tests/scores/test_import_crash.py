"""Reliability: `manage.py import_scores` killed (SIGKILL) in the middle of its commit.

The command runs in a real subprocess against the test database (PostgreSQL: the test
database itself; SQLite: a file copy of it, since the in-memory test database is private to this
process). The test waits until the commit is under way — on PostgreSQL the import's progress
says it is writing and has written rows; on SQLite the database's write lock is held — kills
the process, and checks that the database holds all of the file's scores or none of them. Then
the same command is run again and must finish the job: every row exactly once.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from tests.factories import (
    SHANGHAI,
    CityFactory,
    CountyFactory,
    CourseFactory,
    ProvinceFactory,
    SittingFactory,
)
from zikao.candidates.models import Candidate
from zikao.catalog.models import Slot, TimetableEntry
from zikao.entries.models import Entry

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = 4000
COURSES = ["02324", "02325", "02326", "02327", "02328"]
ROWS = CANDIDATES * len(COURSES)


def _build() -> None:
    province = ProvinceFactory()
    county = CountyFactory(parent=CityFactory(parent=province))
    sitting = SittingFactory(
        label="202610",
        first_day=dt.date(2026, 10, 24),
        release_at=dt.datetime(2099, 1, 1, 15, 0, tzinfo=SHANGHAI),
    )
    slot = Slot.objects.create(
        sitting=sitting,
        code="SAT_AM",
        starts_at=dt.datetime(2026, 10, 24, 9, 0, tzinfo=SHANGHAI),
        ends_at=dt.datetime(2026, 10, 24, 11, 30, tzinfo=SHANGHAI),
    )
    courses = [CourseFactory(code=code) for code in COURSES]
    for course in courses:
        TimetableEntry.objects.create(sitting=sitting, slot=slot, course=course)
    now = timezone.now()
    candidates = Candidate.objects.bulk_create(
        Candidate(
            candidate_no=f"0102241{n:05d}",
            id_number=f"X{n:017d}",
            name="考生",
            gender="M",
            birth_date=dt.date(1995, 1, 1),
            county_office=county,
            registered_on=dt.date(2024, 3, 1),
            created_at=now,
        )
        for n in range(CANDIDATES)
    )
    Entry.objects.bulk_create(
        Entry(candidate=c, sitting=sitting, course=course, area=county, created_at=now)
        for c in candidates
        for course in courses
    )


def _file(tmp_path: Path) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["准考证号", "课程代码", "考次", "成绩", "状态"])
    for n in range(CANDIDATES):
        for i, code in enumerate(COURSES):
            writer.writerow([f"0102241{n:05d}", code, "202610", (n * 7 + i * 13) % 101, "有效"])
    path = tmp_path / "scores.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


class _Database:
    """The database the subprocess uses, and how this test reads it while the subprocess runs."""

    def __init__(self, tmp_path: Path) -> None:
        self.vendor = connection.vendor
        if self.vendor == "postgresql":
            s = connection.settings_dict
            auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
            self.url = f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        else:
            self.file = tmp_path / "crash.sqlite3"
            connection.ensure_connection()
            target = sqlite3.connect(self.file)
            connection.connection.backup(target)
            target.close()
            self.url = f"sqlite:///{self.file}"

    def query(self, sql: str, params=()):
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
        conn = sqlite3.connect(self.file, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def writer_busy(self) -> bool:
        """SQLite: another connection holds the write lock (the commit transaction has written)."""
        conn = sqlite3.connect(self.file, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        else:
            conn.execute("ROLLBACK")
            return False
        finally:
            conn.close()

    def import_state(self):
        rows = self.query("SELECT state, phase, rows_done FROM scores_scoreimport")
        return rows[0] if rows else None

    def score_counts(self) -> tuple[int, int]:
        (total, distinct) = self.query(
            "SELECT count(*), count(DISTINCT candidate_id * 100000 + course_id) FROM scores_score "
            "WHERE is_current"
        )[0]
        return int(total), int(distinct)


def _command(path: Path) -> list[str]:
    return [sys.executable, "manage.py", "import_scores", str(path), "--sitting", "202610", "--wait", "120"]


def _env(db: _Database, var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_"))}
    env.update(
        DATABASE_URL=db.url,
        ZIKAO_VAR_DIR=str(var),
        ZIKAO_SCORE_IMPORT_BATCH_ROWS="100",  # many small batches: the commit is long enough to hit
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_in_the_middle_of_a_commit_then_run_again(tmp_path):
    _build()
    db = _Database(tmp_path)
    path = _file(tmp_path)
    var = tmp_path / "var"
    env = _env(db, var)
    process = subprocess.Popen(
        _command(path), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    seen = None
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            state = db.import_state()
            if db.vendor == "postgresql":
                if state and state[0] == "running" and state[1] == "committing" and state[2] > 0:
                    seen = state
                    break
            elif state and state[0] == "running" and state[1] == "validating" and db.writer_busy():
                seen = state
                break
            time.sleep(0.005)
        assert process.poll() is None, process.communicate()
        assert seen is not None, "the commit was never seen under way"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    # All or nothing: killed before its commit, the transaction left no score at all.
    state = db.import_state()
    total, distinct = db.score_counts()
    if state[0] == "committed":  # only if the kill landed after the commit itself
        assert (total, distinct) == (ROWS, ROWS)
    else:
        assert (state[0], total) == ("running", 0)
    # Running the same command again finishes the job: every row exactly once.
    again = subprocess.run(_command(path), cwd=ROOT, env=env, capture_output=True, timeout=600)
    assert again.returncode == 0, again.stderr.decode()
    assert db.score_counts() == (ROWS, ROWS)
    assert db.import_state()[0] == "committed"
    (imports,) = db.query("SELECT count(*) FROM scores_scoreimport")[0]
    assert imports == 1
    # And once more: recognised, nothing changes.
    third = subprocess.run(_command(path), cwd=ROOT, env=env, capture_output=True, timeout=600)
    assert third.returncode == 0 and b"nothing changed" in third.stdout
    assert db.score_counts() == (ROWS, ROWS)
