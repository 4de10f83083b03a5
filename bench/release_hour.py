"""Score-release hour: score reads and logins on the production stack, in one run.

PostgreSQL with a demo province (BENCH_RELEASE_CANDIDATES, default 1,000,000 candidates), Redis
for cache and sessions, DEBUG=0 production settings, granian in WSGI mode, wrk at 256
connections for BENCH_RELEASE_SECONDS (30) against, on the same server:

  (a) a trivial view                       bench/releasebench (yardstick, not in the product)
  (b) a naive "my latest scores"           bench/releasebench (yardstick: no caching)
  (c) the real "my latest scores" page     portal:dashboard
  (d) its API endpoint                     /api/me/... (found in the OpenAPI document)

with BENCH_RELEASE_SESSIONS (20,000) distinct signed-in candidates rotated over the requests
(sessions made by the portal's own `login_session` into the Redis session store, each browser
also holding the CSRF cookie the login page gave it; API tokens as `accounts.services` issues
them). Prints req/s, p50, p99 and errors of each and the ratios c/a, d/a, c/b.

The design measured for (c) and (d) is the production one: before the release instant the
province runs `manage.py warm_release_snapshots` (here for the signed-in candidates, in
BENCH_WARM_PROCESSES processes, default = cores), so each candidate's first view after the
instant is a cache hit. For comparison the same two are also measured for candidates who were
not warmed (BENCH_RELEASE_COLD per channel, default 8,000: every request a first view that
computes from PostgreSQL). Also, with the same server:

  * release instant: the latest sitting's release is moved (through the real service) a few
    seconds ahead; page and API are hammered across the instant; no answer computed before it
    shows the new sitting, every request sent after it does;
  * reload: candidates signed in (sessions and tokens) before the instant see the new scores
    by reloading, without signing in again; one of them signed in through the real login API;
  * logins/s through the real login API (captcha solved from its store, as a person would) with
    the production hasher, and the bare Argon2 verification rate per core.

Skips (exit 0) when PostgreSQL, Redis, wrk or granian are missing. The database
`zikao_bench_release_<N>` is built with `manage.py demo` once and reused while it holds N
candidates (BENCH_RELEASE_DROP=1 drops it at the end). Every process it starts is stopped.

Environment: BENCH_PG_URL, BENCH_REDIS_URL (redis://127.0.0.1:6379/15, flushed), BENCH_RELEASE_*,
BENCH_GRANIAN_WORKERS (2), BENCH_GRANIAN_THREADS (blocking threads per worker, 4),
BENCH_GUNICORN=1 (also measure (a) and (c) under gunicorn, installed in var/bench-gunicorn only).
The load average is printed with each figure: other work on the machine depresses them.
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
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from _support import (
    BENCH,
    CORES,
    HOST,
    ROOT,
    Server,
    cpu_used,
    create_database,
    database_exists,
    django_setup,
    drop_database,
    flush_redis,
    free_port,
    granian_argv,
    manage,
    missing_prerequisite,
    parse_benchjson,
    production_environment,
    with_db,
    wrk_argv,
)
from _support import cpu_snapshot as cpu_snapshot_of

VAR = ROOT / "var" / "bench-release"
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
CANDIDATES = int(os.environ.get("BENCH_RELEASE_CANDIDATES", "1000000"))
SESSIONS = int(os.environ.get("BENCH_RELEASE_SESSIONS", "20000"))
SECONDS = int(os.environ.get("BENCH_RELEASE_SECONDS", "30"))
WARMUP = int(os.environ.get("BENCH_RELEASE_WARMUP", "5"))
CONNECTIONS = int(os.environ.get("BENCH_RELEASE_CONNECTIONS", "256"))
WORKERS = int(os.environ.get("BENCH_GRANIAN_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_GRANIAN_THREADS", "4"))
DROP = os.environ.get("BENCH_RELEASE_DROP", "") == "1"
GUNICORN = os.environ.get("BENCH_GUNICORN", "") == "1"
DB = f"zikao_bench_release_{CANDIDATES}"
PASSWORD = "Bench-Release-2026"  # the bench candidates' password
COLD = int(os.environ.get("BENCH_RELEASE_COLD", "8000"))
WARM_PROCESSES = int(os.environ.get("BENCH_WARM_PROCESSES", str(CORES)))
API_LATEST = "/api/me/scores/latest"


# --- prerequisites and database (bench/_support.py) -------------------------------------------------


def prepare_database() -> str:
    """The demo province of CANDIDATES candidates, built once and reused while it is intact."""
    import psycopg

    url = with_db(SERVER, DB)
    count = None
    if database_exists(SERVER, DB):
        try:
            with psycopg.connect(url) as conn:
                count = conn.execute("SELECT count(*) FROM candidates_candidate").fetchone()[0]
        except psycopg.Error:
            count = None
    if count == CANDIDATES:
        print(f"reusing database {DB} ({count:,} candidates)")
        manage(url, "migrate", "-v0")
        return url
    create_database(SERVER, DB)
    print(f"building database {DB}: manage.py demo --candidates {CANDIDATES} …", flush=True)
    started = time.perf_counter()
    manage(url, "migrate", "-v0")
    manage(url, "demo", "--candidates", str(CANDIDATES), "--release-in", "525600", quiet=True)
    print(f"  built in {time.perf_counter() - started:.0f} s")
    return url


# --- the server (bench/_support.py: Server, production settings; only the URLconf adds the two
# yardstick views) --------------------------------------------------------------------------------------


def argon2_native() -> Path | None:
    """What production web servers run (`make argon2-native`, docs/decisions/0012): the installed
    argon2-cffi-bindings rebuilt from source for AVX2 (ARGON2_MARCH, x86-64-v3), here into
    var/bench-argon2 (once), never into the project's environment. None when it cannot be built
    (no compiler; not x86-64) or BENCH_ARGON2_NATIVE=0: the bench then measures the wheel."""
    if os.environ.get("BENCH_ARGON2_NATIVE", "1") == "0":
        return None
    from importlib.metadata import version

    target = ROOT / "var" / "bench-argon2"
    wanted = version("argon2-cffi-bindings")
    stamp = target / ".built"
    if stamp.exists() and stamp.read_text() == wanted:
        return target
    shutil.rmtree(target, ignore_errors=True)
    march = os.environ.get("ARGON2_MARCH", "x86-64-v3")
    print(f"building argon2-cffi-bindings {wanted} for {march} into {target} …", flush=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    result = subprocess.run(
        [*pip, "--no-binary", "argon2-cffi-bindings", f"argon2-cffi-bindings=={wanted}"],
        env={**os.environ, "ARGON2_CFFI_USE_SSE2": "1", "CFLAGS": f"-O3 -march={march}"},
        check=False,
    )
    if result.returncode != 0:
        print("  could not be built; logins are measured with the wheel")
        return None
    stamp.write_text(wanted)
    return target


def argon2_pythonpath(env: dict[str, str]) -> str:
    native = argon2_native()
    return os.pathsep.join([str(native), env["PYTHONPATH"]]) if native else env["PYTHONPATH"]


def granian(env: dict[str, str]) -> Server:
    port = free_port()
    argv = granian_argv(port, WORKERS, THREADS)
    server = Server("granian", argv, {**os.environ, **env, "PYTHONPATH": argon2_pythonpath(env)}, port, VAR)
    global WEB_PGID
    WEB_PGID = server.process.pid  # started in its own session: pgid = pid
    return server


def gunicorn(env: dict[str, str]) -> Server | None:
    """gunicorn (gthread), installed only into var/bench-gunicorn, never into the project."""
    target = ROOT / "var" / "bench-gunicorn"
    if not (target / "gunicorn").exists():
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "gunicorn"],
            check=False,
        )
        if result.returncode != 0:
            print("gunicorn: could not be installed; skipped")
            return None
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", str(WORKERS),
        "--worker-class", "gthread", "--threads", str(THREADS), "--backlog", "2048",
        "--log-level", "warning", "zikao.wsgi:application",
    ]  # fmt: skip
    paths = os.pathsep.join([str(target), env["PYTHONPATH"]])
    server = Server("gunicorn", argv, {**os.environ, **env, "PYTHONPATH": paths}, port, VAR)
    global WEB_PGID
    WEB_PGID = server.process.pid
    return server


# --- HTTP probes ---------------------------------------------------------------------------------------

_local = threading.local()


def get(
    port: int, path: str, *, cookie: str = "", token: str = "", timeout: float = 10, client_ip: str = ""
) -> tuple[int, str]:
    """One GET over a kept-alive connection of this thread, as through the TLS load balancer."""
    conns = _local.__dict__.setdefault("conns", {})
    headers = {"Host": f"{HOST}:{port}", "X-Forwarded-Proto": "https"}
    if cookie:
        headers["Cookie"] = cookie
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if client_ip:
        headers["X-Forwarded-For"] = client_ip
    for attempt in (1, 2):
        conn = conns.get(port) or http.client.HTTPConnection(HOST, port, timeout=timeout)
        conns[port] = conn
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        except (http.client.HTTPException, OSError):
            conn.close()
            conns.pop(port, None)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def post_json(port: int, path: str, body: dict, *, client_ip: str = "") -> tuple[int, dict]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {
        "Host": f"{HOST}:{port}",
        "X-Forwarded-Proto": "https",
        "Content-Type": "application/json",
    }
    if client_ip:
        headers["X-Forwarded-For"] = client_ip
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        return response.status, (json.loads(text) if text else {})
    finally:
        conn.close()


# --- wrk -------------------------------------------------------------------------------------------------


# --- CPU accounting (what each request costs, whatever else the machine is doing) -------------

WEB_PGID: int | None = None  # the process group of the server being measured


def cpu_snapshot() -> dict[str, dict[int, float]]:
    """CPU seconds so far of the web server's processes, Redis and this database's PostgreSQL
    backends (bench/_support.py)."""
    return cpu_snapshot_of(WEB_PGID, REDIS_URL, SERVER, DB)


@dataclass
class Run:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    credentials: int
    web_cpu_us: float = 0.0  # CPU of the web server per request (µs)
    redis_cpu_us: float = 0.0
    pg_cpu_us: float = 0.0
    connections: int = CONNECTIONS

    @property
    def littles_bound_ms(self) -> float:
        """The mean latency a closed loop of `connections` clients must see at this rate (Little's
        law): no percentile above the median can be lower."""
        return self.connections / self.rps * 1000 if self.rps else float("inf")


def wrk(
    label: str,
    port: int,
    path: str,
    *,
    credentials: Path | None = None,
    header: str = "Cookie",
    seconds: int = SECONDS,
    connections: int = CONNECTIONS,
    script: str = "rotate.lua",
) -> Run:
    env = {
        **os.environ,
        "BENCH_CREDENTIALS": str(credentials or ""),
        "BENCH_HEADER": header,
        "BENCH_THREADS": "2",
    }
    argv = wrk_argv(
        BENCH / "releasebench" / script,
        f"http://{HOST}:{port}{path}",
        seconds=seconds,
        connections=connections,
    )
    before = cpu_snapshot()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    time.sleep(0.3)  # requests still being answered when wrk stopped its clock
    used = cpu_used(before, cpu_snapshot())
    data = parse_benchjson(result.stdout, result.stderr)
    errors = data["not_200"] + data["connect"] + data["read"] + data["write"] + data["timeout"]
    n = max(1, data["requests"])
    return Run(
        label=label,
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
        requests=data["requests"],
        credentials=data["credentials"],
        web_cpu_us=used["web"] / n * 1e6,
        redis_cpu_us=used["redis"] / n * 1e6,
        pg_cpu_us=used["pg"] / n * 1e6,
        connections=connections,
    )


def measure(label: str, port: int, path: str, **kwargs) -> Run:
    if WARMUP:
        wrk(label, port, path, seconds=WARMUP, **kwargs)
    run = wrk(label, port, path, **kwargs)
    print(
        f"  {label:<34}{run.rps:>9,.0f} req/s   p50 {run.p50_ms:6.1f} ms   p99 {run.p99_ms:6.1f} ms"
        f"   errors {run.errors}   ({run.requests:,} requests, {run.credentials:,} candidates;"
        f" load {os.getloadavg()[0]:.1f})\n"
        f"  {'':<34}CPU per request: web {run.web_cpu_us:,.0f} µs, Redis {run.redis_cpu_us:,.0f} µs,"
        f" PostgreSQL {run.pg_cpu_us:,.0f} µs",
        flush=True,
    )
    return run


# --- Django side (same settings as the server: bench/_support.py django_setup) --------------------------


def latest_sitting():
    """The latest sitting that has scores (the demo also holds a coming sitting in its entry window)."""
    from zikao.catalog.models import Sitting
    from zikao.scores.models import Score

    for sitting in Sitting.objects.exclude(release_at=None).order_by("-label"):
        if Score.objects.filter(sitting=sitting).exists():
            return sitting
    return None


def bench_candidates(label: str, n: int) -> list:
    """n candidates with a current, not withheld score in sitting `label` (deterministic pick)."""
    from django.db import connection

    from zikao.candidates.models import Candidate

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT s.candidate_id, md5(s.candidate_id::text) AS k
            FROM scores_score s JOIN catalog_sitting t ON t.id = s.sitting_id
            JOIN candidates_candidate c ON c.id = s.candidate_id
            WHERE t.label = %s AND s.is_current AND s.status <> 'withheld' AND c.status <> 'merged'
            ORDER BY k LIMIT %s
            """,
            [label, n],
        )
        ids = [row[0] for row in cursor.fetchall()]
    return list(Candidate.objects.filter(pk__in=ids).order_by("pk"))


def prepare_accounts(candidates: list) -> None:
    """These candidates have signed in before and changed their first password (one hash for all:
    the production hasher's cost is per verification, not per stored hash)."""
    from django.contrib.auth.hashers import make_password

    from zikao.accounts.models import ApiToken, CandidateAccount

    now = datetime.now().astimezone()
    encoded = make_password(PASSWORD)
    rows = [
        CandidateAccount(
            candidate=c,
            password_hash=encoded,
            must_change_password=False,
            failed_count=0,
            locked_until=None,
            session_epoch=1,
            password_changed_at=now,
            created_at=now,
        )
        for c in candidates
    ]
    ApiToken.objects.filter(candidate__in=candidates).delete()
    for start in range(0, len(rows), 5000):
        CandidateAccount.objects.bulk_create(
            rows[start : start + 5000],
            update_conflicts=True,
            unique_fields=["candidate"],
            update_fields=[
                "password_hash",
                "must_change_password",
                "failed_count",
                "locked_until",
                "session_epoch",
                "password_changed_at",
            ],
        )


def make_sessions(candidates: list) -> list[str]:
    """Portal sessions made by the portal's own `login_session`, saved in the session store."""
    from importlib import import_module

    from django.conf import settings
    from django.http import HttpRequest
    from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
    from django.utils.crypto import get_random_string

    from zikao.candidates.models import Candidate
    from zikao.portal.auth import login_session

    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    loaded = Candidate.objects.filter(pk__in=[c.pk for c in candidates]).select_related("account")
    for candidate in loaded:
        request = HttpRequest()
        request.session = store()
        login_session(request, candidate)
        request.session.save()
        # The browser also holds the CSRF cookie that the login page's form set.
        csrf = get_random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS)
        session = f"{settings.SESSION_COOKIE_NAME}={request.session.session_key}"
        keys.append(f"{session}; {settings.CSRF_COOKIE_NAME}={csrf}")
    return keys


def make_tokens(candidates: list) -> list[str]:
    """API tokens exactly as `accounts.services` issues them (random, stored as digests), in bulk."""
    from zikao.accounts.models import ApiToken
    from zikao.accounts.selectors import token_digest
    from zikao.accounts.services import api_token_hours
    from zikao.core import clock

    now = clock.now()
    raw = [secrets.token_urlsafe(32) for _ in candidates]
    ApiToken.objects.bulk_create(
        [
            ApiToken(
                candidate=c,
                key_digest=token_digest(r),
                session_epoch=1,
                created_at=now,
                expires_at=now + timedelta(hours=api_token_hours()),
            )
            for c, r in zip(candidates, raw, strict=True)
        ],
        batch_size=5000,
    )
    return raw


def reschedule_release(sitting, at: datetime) -> None:
    """Move the release through the real service; first un-release it the way a rebuilt bench
    database would be (a raw update, then the same cache invalidation the service does)."""
    from django.db import transaction

    from zikao.catalog.models import Sitting
    from zikao.core.audit import Actor
    from zikao.scores.cache import releases_changed
    from zikao.scores.publication import sitting_release_reschedule

    with transaction.atomic():
        Sitting.objects.filter(pk=sitting.pk).update(
            release_at=datetime.now().astimezone() + timedelta(days=365), published_at=None
        )
        releases_changed()
    sitting.refresh_from_db()
    sitting_release_reschedule(actor=Actor.system("bench.release_hour"), sitting=sitting, release_at=at)


def api_latest_path(port: int) -> str | None:
    """The API's "my latest scores" operation, from the OpenAPI document."""
    status, body = get(port, "/api/openapi.json")
    if status != 200:
        return None
    paths = [p for p in json.loads(body)["paths"] if p.startswith("/api/me") and "{" not in p]
    for word in ("latest", "dashboard"):
        for path in paths:
            if word in path:
                return path
    return None


def shows_sitting_page(body: str, label: str) -> bool:
    """The dashboard shows the sitting's scores (its table caption), not only its release notice."""
    return f"<caption>{label}考次成绩</caption>" in body


def shows_sitting_api(body: str, label: str) -> bool:
    data = json.loads(body)
    return json.dumps(data, ensure_ascii=False).count(f'"{label}"') > 0 and bool(_api_scores(data, label))


def _api_scores(data, label: str) -> list:
    """Score entries of `label` anywhere in the answer (the shape is the records API's)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("sitting") == label and ("value" in node or "grade" in node or "result" in node):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return found


# --- checks around the release instant ------------------------------------------------------------------


@dataclass
class Observation:
    sent: float
    received: float
    status: int
    shows_new: bool
    channel: str


def hammer_across(
    port: int, api_path: str, sessions: list[str], tokens: list[str], label: str, until: float
) -> list[Observation]:
    observations: list[Observation] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        i = n
        while time.time() < until:
            i += 16
            channel = "page" if i % 2 else "api"
            sent = time.time()
            if channel == "page":
                status, body = get(port, "/me/", cookie=sessions[i % len(sessions)])
                shows = status == 200 and shows_sitting_page(body, label)
            else:
                status, body = get(port, api_path, token=tokens[i % len(tokens)])
                shows = status == 200 and shows_sitting_api(body, label)
            received = time.time()
            with lock:
                observations.append(Observation(sent, received, status, shows, channel))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return observations


def api_login(port: int, candidate_no: str, password: str, *, client_ip: str) -> tuple[int, dict]:
    """The mobile app's login: fetch a captcha, read it (here: from its store), sign in."""
    from captcha.models import CaptchaStore

    status, body = get(port, "/api/auth/captcha", client_ip=client_ip)
    if status != 200:
        return status, {"captcha": body[:200]}
    challenge = json.loads(body)
    key = challenge.get("key") or challenge.get("captcha_key") or challenge.get("hashkey")
    answer = CaptchaStore.objects.get(hashkey=key).response
    return post_json(
        port,
        "/api/auth/login",
        {"identifier": candidate_no, "password": password, "captcha_key": key, "captcha_value": answer},
        client_ip=client_ip,
    )


def login_lines(candidates: list, n: int) -> Path:
    """n login bodies for wrk, each with its own fresh captcha (a captcha is used once)."""
    from captcha.models import CaptchaStore

    lines = []
    for i in range(n):
        key = CaptchaStore.generate_key()
        answer = CaptchaStore.objects.get(hashkey=key).response
        body = {
            "identifier": candidates[i % len(candidates)].candidate_no,
            "password": PASSWORD,
            "captcha_key": key,
            "captcha_value": answer,
        }
        lines.append(json.dumps(body))
    path = VAR / "logins.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


ARGON2_PROBE = """
import sys, time
from argon2 import PasswordHasher, Type
from importlib.metadata import distribution
import _argon2_cffi_bindings as b
m, t, p = (int(x) for x in sys.argv[1:4])
ph = PasswordHasher(time_cost=t, memory_cost=m, parallelism=p, type=Type.ID)
encoded = ph.hash("Bench-Release-2026")
ph.verify(encoded, "Bench-Release-2026")
best = 0.0
for _ in range(3):
    started = time.process_time()
    for _ in range(20):
        ph.verify(encoded, "Bench-Release-2026")
    best = max(best, 20 / (time.process_time() - started))
print(best, b.__file__)
"""


def argon2_rate(env: dict[str, str]) -> tuple[float, float, str]:
    """Verifications per second on one core of the production hasher's parameters, with PyPI's
    wheel and with the build the server runs (see `argon2_native`), each in a fresh process."""
    from django.contrib.auth.hashers import get_hasher, make_password

    params = make_password(PASSWORD).split("$")[3]  # argon2$argon2id$v=19$m=…,t=…,p=…$salt$hash
    numbers = [value.split("=")[1] for value in params.split(",")]

    def probe(pythonpath: str) -> tuple[float, str]:
        out = subprocess.run(
            [sys.executable, "-c", ARGON2_PROBE, *numbers],
            env={**os.environ, "PYTHONPATH": pythonpath},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return float(out[0]), out[1]

    wheel, _ = probe(env["PYTHONPATH"])
    served, where = probe(argon2_pythonpath(env))
    native = "bench-argon2" in where
    kind = "built here for AVX2 (var/bench-argon2)" if native else "PyPI wheel, portable SSE2"
    return wheel, served, f"{get_hasher().__class__.__name__} argon2id {params}, server: {kind}"


def warm_before_release(
    env: dict[str, str], label: str, candidates: list, deadline: float
) -> tuple[int, float]:
    """What a province does before the instant: `manage.py warm_release_snapshots` for the
    sitting (here only for the signed-in candidates), in WARM_PROCESSES shards at once. Stopped
    at `deadline` if not done. Returns (candidates warmed, seconds)."""
    ids = VAR / "warm-ids.txt"
    ids.write_text("\n".join(str(c.pk) for c in candidates) + "\n")
    started = time.monotonic()
    logs = [open(VAR / f"warm-{k}.log", "w") for k in range(WARM_PROCESSES)]  # noqa: SIM115
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "warm_release_snapshots",
                "--sitting",
                label,
                "--candidate-ids",
                str(ids),
                "--shard",
                f"{k}/{WARM_PROCESSES}",
                "--chunk-size",
                "250",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=logs[k],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for k in range(WARM_PROCESSES)
    ]
    try:
        for process in processes:
            process.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                process.wait()
        for log in logs:
            log.close()
    done = 0
    for k in range(WARM_PROCESSES):
        found = re.findall(r"^  ([\d,]+)/[\d,]+ candidates", (VAR / f"warm-{k}.log").read_text(), re.M)
        done += int(found[-1].replace(",", "")) if found else 0
    return done, time.monotonic() - started


# --- main ------------------------------------------------------------------------------------------


def main() -> int:
    reason = missing_prerequisite(SERVER, REDIS_URL)
    if reason:
        print(f"skipped: {reason}")
        return 0
    VAR.mkdir(parents=True, exist_ok=True)
    database_url = prepare_database()
    env = production_environment(database_url, REDIS_URL, "releasebench.settings")
    django_setup(env)

    from django.db import connection

    flush_redis(REDIS_URL)
    sitting = latest_sitting()
    label = sitting.label
    everybody = bench_candidates(label, SESSIONS + 2 * COLD)
    candidates = everybody[:SESSIONS]
    cold_pages, cold_api = everybody[SESSIONS : SESSIONS + COLD], everybody[SESSIONS + COLD :]
    print(
        f"{len(candidates):,} signed-in candidates with {label} scores "
        f"(+ {len(cold_pages):,} + {len(cold_api):,} not warmed); {CORES} cores; "
        f"granian {WORKERS} workers × {THREADS} blocking threads; "
        f"wrk -c{CONNECTIONS} -d{SECONDS}s; load average {os.getloadavg()[0]:.1f}"
    )
    prepare_accounts(everybody)

    # The release instant: far enough ahead for the server start, the sign-ins and the warming.
    lead = float(
        os.environ.get(
            "BENCH_RELEASE_LEAD",
            60 + len(everybody) / 1500 + len(candidates) * 0.04 / max(1, WARM_PROCESSES),
        )
    )
    release_at = datetime.now().astimezone() + timedelta(seconds=lead)
    reschedule_release(sitting, release_at)
    instant = release_at.timestamp()

    servers: list[Server] = []
    failures: list[str] = []
    try:
        server = granian(env)
        servers.append(server)
        port = server.port
        api_path = api_latest_path(port)
        if api_path is None:
            failures.append("no /api/me latest-scores operation in the OpenAPI document")

        sessions = make_sessions(candidates)
        tokens = make_tokens(candidates)
        (VAR / "sessions.txt").write_text("\n".join(sessions) + "\n")
        (VAR / "tokens.txt").write_text("\n".join(f"Bearer {t}" for t in tokens) + "\n")
        cold_sessions_file, cold_tokens_file = VAR / "sessions-cold.txt", VAR / "tokens-cold.txt"
        cold_sessions_file.write_text("\n".join(make_sessions(cold_pages)) + "\n")
        cold_tokens_file.write_text("\n".join(f"Bearer {t}" for t in make_tokens(cold_api)) + "\n")
        # One candidate signs in for real (login API with captcha) before the instant.
        status, answer = api_login(port, candidates[0].candidate_no, PASSWORD, client_ip="198.51.100.7")
        real_token = answer.get("token") if status == 200 else None
        if real_token is None:
            failures.append(f"real API login before the instant failed: {status} {answer}")

        # Before the instant, as a province would: warm the signed-in candidates' first views.
        print(
            f"release instant of {label}: {release_at:%H:%M:%S} (in {instant - time.time():.0f} s); "
            f"manage.py warm_release_snapshots in {WARM_PROCESSES} processes …",
            flush=True,
        )
        warmed, warm_seconds = warm_before_release(env, label, candidates, deadline=instant - 15)
        print(
            f"  warmed {warmed:,}/{len(candidates):,} candidates in {warm_seconds:.0f} s "
            f"({warmed / max(warm_seconds, 1e-6):,.0f}/s with {WARM_PROCESSES} processes; "
            f"load {os.getloadavg()[0]:.1f})"
        )
        if warmed < len(candidates):
            failures.append(f"warming unfinished before the instant ({warmed:,}/{len(candidates):,})")

        # Nothing of the sitting before the instant, for anybody; all of it from the instant on.
        if time.time() >= instant - 3:
            failures.append("setup took longer than the time left before the release instant")
        time.sleep(max(0.0, instant - 5 - time.time()))
        print("hammering page and API across the instant …", flush=True)
        observations = hammer_across(port, api_path or "/api/me/", sessions, tokens, label, until=instant + 4)
        early = [o for o in observations if o.shows_new and o.received < instant]
        late = [o for o in observations if not o.shows_new and o.sent >= instant]
        bad = [o for o in observations if o.status != 200]
        before = sum(1 for o in observations if o.received < instant)
        after = sum(1 for o in observations if o.sent >= instant)
        first = min((o.received - instant for o in observations if o.shows_new), default=float("nan"))
        print(
            f"  {before:,} answers before the instant, {after:,} requests after it; "
            f"new sitting shown early: {len(early)}, missing after: {len(late)}, non-200: {len(bad)}; "
            f"first answer with it {first * 1000:.0f} ms after the instant"
        )
        if early or late or bad or before == 0 or after == 0:
            failures.append("release instant check failed")

        # Signed in before the instant: a reload shows the new scores, no new sign-in.
        reload_ok = 0
        sample = list(range(0, len(sessions), max(1, len(sessions) // 200)))
        for i in sample:
            s_status, s_body = get(port, "/me/", cookie=sessions[i])
            t_status, t_body = get(port, api_path or "/api/me/", token=tokens[i])
            ok = s_status == 200 and shows_sitting_page(s_body, label)
            ok = ok and t_status == 200 and shows_sitting_api(t_body, label)
            reload_ok += ok
        real_ok = False
        if real_token:
            r_status, r_body = get(port, api_path or "/api/me/", token=real_token)
            real_ok = r_status == 200 and shows_sitting_api(r_body, label)
        print(
            f"  reload after the instant, signed in before it: {reload_ok}/{len(sample)} sessions+tokens "
            f"show {label}; real API login before the instant: {'shows it' if real_ok else 'FAILED'}"
        )
        if reload_ok != len(sample) or not real_ok:
            failures.append("reload after the instant check failed")

        # Read throughput after the release, same server.
        print(f"reads after the release (warm-up {WARMUP} s each, then {SECONDS} s):", flush=True)
        a = measure("(a) trivial view", port, "/bench/trivial")
        sessions_file = VAR / "sessions.txt"
        b = measure("(b) naive latest scores (bench)", port, "/bench/naive-latest", credentials=sessions_file)
        c = measure("(c) portal:dashboard", port, "/me/", credentials=sessions_file)
        tokens_file = VAR / "tokens.txt"
        d = None
        if api_path:
            d = measure(
                f"(d) API {api_path}", port, api_path, credentials=tokens_file, header="Authorization"
            )
        print(
            f"  ratios: c/a {c.rps / a.rps:.2f}   d/a {(d.rps / a.rps if d else float('nan')):.2f}   "
            f"c/b {c.rps / b.rps:.2f}   (targets: c/a, d/a ≥ 0.40; p99 ≤ 100 ms; 0 errors)"
        )
        web_ratio_c = a.web_cpu_us / c.web_cpu_us if c.web_cpu_us else float("nan")
        web_ratio_d = a.web_cpu_us / d.web_cpu_us if d and d.web_cpu_us else float("nan")
        print(
            f"  by web CPU per request (independent of the load beside the bench): c/a {web_ratio_c:.2f}   "
            f"d/a {web_ratio_d:.2f}"
        )
        for run in (a, c, d):
            if run is not None:
                print(
                    f"  {run.label}: {CONNECTIONS} connections at {run.rps:,.0f} req/s imply a mean "
                    f"latency of {run.littles_bound_ms:.0f} ms (Little's law), a floor for p99 "
                    f"({run.p99_ms:.0f} ms measured)"
                )
        print(
            "  design measured for (c), (d): first views after the instant served from what "
            "warm_release_snapshots prepared before it (one Redis round trip, no query, no rendering)"
        )
        # For comparison: candidates nobody warmed; every request a first view computed from PostgreSQL.
        cc = measure("(c) dashboard, not warmed", port, "/me/", credentials=cold_sessions_file)
        dc = None
        if api_path:
            dc = measure(
                "(d) API, not warmed", port, api_path, credentials=cold_tokens_file, header="Authorization"
            )
        print(
            f"  not warmed (cache misses): c/a {cc.rps / a.rps:.2f}   "
            f"d/a {(dc.rps / a.rps if dc else float('nan')):.2f}"
        )
        for run in (a, b, c, d, cc, dc):
            if run is not None and run.errors:
                failures.append(f"{run.label}: {run.errors} errors")
        for run in (c, d):
            if run is not None and run.p99_ms > 100:
                failures.append(f"{run.label}: p99 {run.p99_ms:.0f} ms > 100 ms")
        for run in (c, d):
            if run is not None and run.rps / a.rps < 0.40:
                failures.append(f"{run.label}: {run.rps / a.rps:.2f} of the trivial view < 0.40")

        # Logins through the real API: production hasher, one fresh captcha per login.
        wheel_rate, rate, params = argon2_rate(env)
        print(
            f"logins (hasher {params}): bare verification {rate:,.1f}/s per core"
            f" (PyPI wheel: {wheel_rate:,.1f}/s, ×{rate / wheel_rate:.2f})",
            flush=True,
        )
        lines = login_lines(candidates, int(os.environ.get("BENCH_RELEASE_LOGINS", "6000")))
        logins = wrk(
            "logins",
            port,
            "/api/auth/login",
            credentials=lines,
            seconds=SECONDS,
            connections=32,
            script="login.lua",
        )
        per_web_core = 1e6 / logins.web_cpu_us if logins.web_cpu_us else float("nan")
        print(
            f"  (e) POST /api/auth/login {logins.rps:>9,.1f} logins/s "
            f"({logins.rps / CORES:,.1f} per machine core)"
            f"   p50 {logins.p50_ms:6.1f} ms   p99 {logins.p99_ms:6.1f} ms   errors {logins.errors}\n"
            f"      CPU per login: web {logins.web_cpu_us / 1000:.1f} ms, "
            f"PostgreSQL {logins.pg_cpu_us / 1000:.1f} ms,"
            f" Redis {logins.redis_cpu_us / 1000:.2f} ms → {per_web_core:,.1f} logins/s per web core"
            f" (target ≥ 40 per core; PostgreSQL, Redis and wrk share this machine's {CORES} cores)"
        )
        if logins.errors:
            failures.append(f"logins: {logins.errors} errors")

        if GUNICORN:
            server.stop()
            servers.remove(server)
            other = gunicorn(env)
            if other is not None:
                servers.append(other)
                print(f"gunicorn gthread, {WORKERS} workers × {THREADS} threads, same settings:")
                ga = measure("(a) trivial view", other.port, "/bench/trivial")
                gc = measure("(c) portal:dashboard", other.port, "/me/", credentials=sessions_file)
                print(f"  granian/gunicorn: trivial {a.rps / ga.rps:.2f}×, dashboard {c.rps / gc.rps:.2f}×")

        summary = {
            "candidates": CANDIDATES,
            "signed_in": len(candidates),
            "cores": CORES,
            "granian": {"workers": WORKERS, "blocking_threads": THREADS},
            "warmed": {"candidates": warmed, "seconds": warm_seconds, "processes": WARM_PROCESSES},
            "runs": {r.label: r.__dict__ for r in (a, b, c, d, cc, dc, logins) if r is not None},
            "argon2_verifications_per_core": rate,
        }
        (VAR / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    finally:
        for server in servers:
            server.stop()
        with contextlib.suppress(Exception):
            from zikao.accounts.models import ApiToken

            ApiToken.objects.filter(candidate__in=candidates).delete()
        connection.close()
        if DROP:
            drop_database(SERVER, DB)
            print(f"dropped database {DB}")
        else:
            print(f"kept database {DB} for the next run (BENCH_RELEASE_DROP=1 drops it)")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
