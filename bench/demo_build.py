"""Demo-province build speed on PostgreSQL: `manage.py demo --candidates N` (default 1,000,000).

Prints the build time, rows written per second (all tables), and, as the reference measured in
the same run on the same server, a bare `COPY` of the built scores table into an UNLOGGED table
without indexes (the physical ceiling for loading rows here). Uses a scratch database it
creates and drops. Skips (exit 0) when PostgreSQL is not reachable.

Environment: BENCH_PG_URL (server, default postgres://postgres@127.0.0.1:5432/postgres),
BENCH_DEMO_CANDIDATES (default 1000000).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
CANDIDATES = int(os.environ.get("BENCH_DEMO_CANDIDATES", "1000000"))
DB = "zikao_bench_demo"
TABLES = [
    "candidates_candidate",
    "candidates_candidatemajor",
    "entries_entry",
    "scores_score",
    "conduct_violation",
    "credits_exemption",
    "credits_transferin",
    "credits_transferincourse",
    "credits_transferout",
    "graduation_graduation",
]


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def main() -> int:
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"skipped: PostgreSQL not reachable at {SERVER} ({exc.__class__.__name__})")
        return 0
    admin.execute(f"DROP DATABASE IF EXISTS {DB}")
    admin.execute(f"CREATE DATABASE {DB}")
    url = with_db(SERVER, DB)
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    py = sys.executable
    try:
        subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        started = time.perf_counter()
        subprocess.run(
            [py, "manage.py", "demo", "--candidates", str(CANDIDATES)],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        build = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as conn:
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            rows = sum(counts.values())
            with tempfile.TemporaryFile() as dump:
                with conn.cursor().copy("COPY scores_score TO STDOUT") as copy:
                    for block in copy:
                        dump.write(block)
                conn.execute("CREATE UNLOGGED TABLE bench_copy (LIKE scores_score INCLUDING DEFAULTS)")
                dump.seek(0)
                started = time.perf_counter()
                with conn.cursor().copy("COPY bench_copy FROM STDIN") as copy:
                    while block := dump.read(1 << 20):
                        copy.write(block)
                ceiling = time.perf_counter() - started
        scores = counts["scores_score"]
        print(f"candidates                 {counts['candidates_candidate']:>12,}")
        print(f"scores                     {scores:>12,}")
        print(f"rows in all tables         {rows:>12,}")
        print(f"demo build                 {build:>12.1f} s   ({build / 60:.1f} min)")
        print(f"demo rows/s                {rows / build:>12,.0f}")
        print(f"bare COPY rows/s (ceiling) {scores / ceiling:>12,.0f}   (scores, unlogged table, no indexes)")
        print(f"ratio demo / ceiling       {rows / build / (scores / ceiling):>12.3f}")
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
