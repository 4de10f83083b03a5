"""Plumbing shared by the benchmarks that run the real server (release_hour.py, entry_window.py).

Prerequisites and skipping, bench databases (create, drop, migrate, `manage.py demo`), the
production environment the server runs with, granian on loopback (started in its own process
group, stopped TERM then KILL), wrk with a Lua script that prints one `BENCHJSON {…}` line, and
Django set up in the bench process with the server's settings. Bench only: never imported by
the product.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HOST = "127.0.0.1"
CORES = os.cpu_count() or 1


def with_db(url: str, name: str) -> str:
    """`url` (a PostgreSQL server URL) pointing at database `name`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def load() -> str:
    """The 1-minute load average as printed next to each figure (other work depresses them)."""
    return f"load {os.getloadavg()[0]:.1f}"


# --- prerequisites -----------------------------------------------------------------------------


def missing_prerequisite(pg_url: str, redis_url: str) -> str | None:
    """Why the bench cannot run here (it then prints "skipped: …" and exits 0), or None."""
    import psycopg

    try:
        psycopg.connect(pg_url, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL not reachable at {pg_url} ({exc.__class__.__name__})"
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis not reachable at {redis_url} ({exc.__class__.__name__})"
    if shutil.which("wrk") is None:
        return "wrk not installed (apt-get install -y wrk)"
    if not (Path(sys.executable).parent / "granian").exists():
        return "granian not installed in this environment (pip install -e '.[prod]')"
    return None


def flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


# --- databases ---------------------------------------------------------------------------------


def database_exists(pg_url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def drop_database(pg_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def create_database(pg_url: str, name: str) -> None:
    """Drop `name` if it exists and create it empty."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")


def manage_environment(database_url: str) -> dict[str, str]:
    """What `manage.py` runs with while a bench database is built: no Redis (local cache)."""
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1", "PYTHONPATH": str(ROOT / "src")}
    env.pop("REDIS_URL", None)
    return env


def manage(database_url: str, *args: str, quiet: bool = False) -> None:
    """`python manage.py *args` against `database_url` (check=True)."""
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=manage_environment(database_url),
        check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )


# --- the server --------------------------------------------------------------------------------


def production_environment(database_url: str, redis_url: str, settings_module: str) -> dict[str, str]:
    """DEBUG=0 production settings; `settings_module` (bench/<name>bench/settings.py) is the
    production settings with a URLconf that adds the bench's yardstick views."""
    return {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": f"{HOST},localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": settings_module,
        # wrk and the probes play the TLS-terminating load balancer on loopback: they send
        # X-Forwarded-Proto and X-Forwarded-For, believed only from this address.
        "ZIKAO_TRUSTED_PROXIES": HOST,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(BENCH)]),
    }


def django_setup(env: dict[str, str]) -> None:
    """Django in this process with the server's environment (settings, database, Redis)."""
    os.environ.update(env)
    for part in reversed(env["PYTHONPATH"].split(os.pathsep)):
        sys.path.insert(0, part)
    import django

    django.setup()


def http_get(port: int, path: str, *, timeout: float = 10) -> tuple[int, str]:
    """One GET on a fresh connection, as through the TLS load balancer."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": f"{HOST}:{port}", "X-Forwarded-Proto": "https"})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def granian_argv(port: int, workers: int, threads: int) -> list[str]:
    """granian in WSGI mode on loopback, as deployed (docs/decisions/0003)."""
    return [
        str(Path(sys.executable).parent / "granian"),
        "--interface", "wsgi", "--host", HOST, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(threads),
        "--backlog", "2048", "--no-access-log", "--log-level", "warning",
        "zikao.wsgi:application",
    ]  # fmt: skip


class Server:
    """A WSGI server process group on loopback, ready once /healthz answers 200 (60 s at most);
    stopped (TERM, then KILL after 15 s) by `stop`. Its output goes to `log_dir/<name>.log`."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], port: int, log_dir: Path):
        self.name, self.port = name, port
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=dict(env), stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited: see {self.log.name}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = http_get(port, "/healthz", timeout=2)
                if status == 200:
                    return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{name} did not answer /healthz in 60 s: see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def start_granian(env: Mapping[str, str], *, workers: int, threads: int, log_dir: Path) -> Server:
    port = free_port()
    return Server("granian", granian_argv(port, workers, threads), {**os.environ, **env}, port, log_dir)


# --- CPU accounting (what each request costs, whatever else the machine is doing) -------------

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[2]) == pgid:
                        pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    return pids


def cpu_snapshot(web_pgid: int | None, redis_url: str, pg_url: str, db: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of the web server's processes (process group `web_pgid`), Redis and
    database `db`'s PostgreSQL backends (PostgreSQL and Redis run on this machine too; in
    production they have their own)."""
    import psycopg
    import redis

    snap: dict[str, dict[int, float]] = {"web": {}, "redis": {}, "pg": {}}
    if web_pgid is not None:
        snap["web"] = {pid: proc_cpu(pid) for pid in group_pids(web_pgid)}
    with contextlib.suppress(Exception):
        pid = int(redis.Redis.from_url(redis_url).info("server")["process_id"])
        snap["redis"] = {pid: proc_cpu(pid)}
    with contextlib.suppress(Exception), psycopg.connect(pg_url, autocommit=True) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [db]).fetchall()
        snap["pg"] = {pid: proc_cpu(pid) for (pid,) in rows}
    return snap


class CpuSampler:
    """`cpu_snapshot` every `every` seconds while a run lasts, keeping each process's last
    reading: processes that end during the run (a PostgreSQL connection closed at its maximum
    age) still count, up to their last sample. `with CpuSampler(...) as sampler:` …
    `sampler.used()`: CPU seconds per kind since the start."""

    def __init__(self, web_pgid: int | None, redis_url: str, pg_url: str, db: str, every: float = 0.5):
        self.args, self.every = (web_pgid, redis_url, pg_url, db), every
        self.before = cpu_snapshot(*self.args)
        self.seen: dict[str, dict[int, float]] = {kind: dict(v) for kind, v in self.before.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for kind, readings in cpu_snapshot(*self.args).items():
            self.seen[kind].update(readings)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def used(self) -> dict[str, float]:
        return cpu_used(self.before, self.seen)


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds used between two snapshots, per kind (processes started meanwhile count whole)."""
    return {
        kind: sum(max(0.0, cpu - before[kind].get(pid, 0.0)) for pid, cpu in after[kind].items())
        for kind in after
    }


# --- wrk ---------------------------------------------------------------------------------------


def wrk_argv(script: Path, url: str, *, seconds: int, connections: int, threads: int = 2) -> list[str]:
    return [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
        "-s", str(script), url,
    ]  # fmt: skip


def parse_benchjson(stdout: str, stderr: str = "") -> dict:
    """The summary the Lua script's done() printed as one `BENCHJSON {…}` line."""
    found = re.search(r"^BENCHJSON (.*)$", stdout, re.M)
    if found is None:
        raise RuntimeError(f"wrk printed no summary:\n{stdout}\n{stderr}")
    return json.loads(found.group(1))


def run_wrk(
    script: Path, url: str, *, seconds: int, connections: int, env: Mapping[str, str], threads: int = 2
) -> dict:
    """Run wrk once (environment `env` on top of ours, BENCH_THREADS = `threads`) and return its
    BENCHJSON summary."""
    result = subprocess.run(
        wrk_argv(script, url, seconds=seconds, connections=connections, threads=threads),
        env={**os.environ, "BENCH_THREADS": str(threads), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_benchjson(result.stdout, result.stderr)
