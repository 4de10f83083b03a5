"""Build the slim province the score-import bench needs, inside Django (run as a script).

    DATABASE_URL=... python bench/scoreimport/build.py CANDIDATES COURSES_PER_CANDIDATE

Only what an import reads: offices (a province, one city, one county), 20 courses offered in
sitting 202610 (18 theory, 2 practice), N candidates and N × K confirmed entries. Candidates and
entries are made by set-based INSERT ... SELECT (generate_series on PostgreSQL, a recursive CTE
on SQLite); every column not named here gets its model default, so the bench keeps working when
a field with a default is added. On PostgreSQL the two big inserts run with foreign-key
triggers off (session_replication_role, bench set-up only: the parents are created just
before, in the same transaction).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zikao.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, models, transaction  # noqa: E402

from zikao.accounts.models import Office  # noqa: E402
from zikao.candidates.models import Candidate  # noqa: E402
from zikao.catalog.models import Course, Sitting, Slot, TimetableEntry  # noqa: E402
from zikao.entries.models import Entry  # noqa: E402

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
SITTING = "202610"
COURSES = 20
PRACTICE_FROM = 19  # courses 19 and 20 are practice (graded)


def course_code(i: int) -> str:
    return f"{10000 + i:05d}"


def insert_select(model: type[models.Model], given: dict[str, str], tail_sql: str) -> int:
    """INSERT INTO model (given..., others...) SELECT given exprs..., defaults... <tail_sql>."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = {f.attname: f for f in fields}
    unknown = set(given) - set(names)
    if unknown:
        raise SystemExit(f"{model.__name__} has no fields {sorted(unknown)}")
    columns, exprs, params = [], [], []
    for attname, field in names.items():
        columns.append(connection.ops.quote_name(field.column))
        if attname in given:
            exprs.append(given[attname].replace("%", "%%"))  # literal SQL: no parameters in it
        else:
            exprs.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(exprs)} {tail_sql.replace('%', '%%')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def build(candidates: int, per_candidate: int) -> None:
    postgres = connection.vendor == "postgresql"
    now = dt.datetime(2026, 9, 1, 9, 0, tzinfo=SHANGHAI)
    with transaction.atomic():
        province = Office.objects.create(
            name="省考试院", level="province", region_code="320000", exam_code="00"
        )
        city = Office.objects.create(
            name="南京市", level="city", region_code="320100", exam_code="01", parent=province
        )
        county = Office.objects.create(
            name="玄武区", level="county", region_code="320102", exam_code="02", parent=city
        )
        sitting = Sitting.objects.create(
            label=SITTING,
            first_day=dt.date(2026, 10, 24),
            release_at=dt.datetime(2099, 11, 28, 15, 0, tzinfo=SHANGHAI),
        )
        slots = [
            Slot.objects.create(
                sitting=sitting,
                code=code,
                starts_at=dt.datetime(2026, 10, day, hour, 0, tzinfo=SHANGHAI),
                ends_at=dt.datetime(2026, 10, day, hour + 2, 30, tzinfo=SHANGHAI),
            )
            for code, day, hour in (
                ("SAT_AM", 24, 9),
                ("SAT_PM", 24, 14),
                ("SUN_AM", 25, 9),
                ("SUN_PM", 25, 14),
            )
        ]
        courses = [
            Course.objects.create(
                code=course_code(i),
                name=f"课程{i}",
                credits=4,
                kind="practice" if i >= PRACTICE_FROM else "theory",
            )
            for i in range(1, COURSES + 1)
        ]
        for i, course in enumerate(courses):
            TimetableEntry.objects.create(sitting=sitting, slot=slots[i % 4], course=course)
        first_course = courses[0].pk
        with connection.cursor() as cursor:
            if postgres:
                cursor.execute("SET LOCAL session_replication_role = replica")
                series = f"FROM generate_series(0, {candidates - 1}) AS g(n)"
                number = "'0102' || lpad(g.n::text, 8, '0')"
                id_number = "'B' || lpad(g.n::text, 17, '0')"
            else:
                last = candidates - 1
                series = (
                    f"FROM (WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < {last}) "
                    "SELECT n FROM g) AS g"
                )
                number = "printf('0102%08d', g.n)"
                id_number = "printf('B%017d', g.n)"
        started = time.perf_counter()
        created_at = connection.ops.adapt_datetimefield_value(now)
        created_sql = "'" + str(created_at) + "'"
        insert_select(
            Candidate,
            {
                "candidate_no": number,
                "id_number": id_number,
                "name": "'考生'",
                "gender": "'M'",
                "birth_date": "'1995-01-01'",
                "county_office_id": str(county.pk),
                "registered_on": "'2024-03-01'",
                "created_at": created_sql,
            },
            series,
        )
        print(f"  candidates {candidates:,} in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        # Candidate c takes K distinct courses: (c + 4k) mod 20 for k < K (K <= 5).
        insert_select(
            Entry,
            {
                "candidate_id": "c.id",
                "sitting_id": str(sitting.pk),
                "course_id": f"{first_course} + ((c.id + k.k * 4) % {COURSES})",
                "area_id": str(county.pk),
                "status": "'confirmed'",
                "created_at": created_sql,
            },
            f"FROM {Candidate._meta.db_table} c, ({_ks(per_candidate)}) AS k",
        )
        print(
            f"  entries {candidates * per_candidate:,} in {time.perf_counter() - started:.1f} s", flush=True
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _ks(per_candidate: int) -> str:
    return " UNION ALL ".join(f"SELECT {k} AS k" for k in range(per_candidate))


if __name__ == "__main__":
    build(int(sys.argv[1]), int(sys.argv[2]))
