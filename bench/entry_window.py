"""Entry window (报考) under load: many candidates entering courses through the real API at once.

A PostgreSQL database `zikao_bench_entry` (rebuilt every run): `manage.py demo` with a small
province (catalogue, offices, plans, and the next sitting with its entry window open now), then
--candidates (200,000) new candidates loaded with COPY — registered for the open sitting in a set
of --areas (5) exam areas, each in the current plan of a major, with no passes (so 1–4 courses
are enterable), each with an account that has changed its first password and an API token made
as `accounts.services` stores them (SHA-256 digests). The areas' rooms (≤ 30 seats) give
--seats (50,000) seats over the area × slot counters (`capacity_rebuild`, the real service),
split unevenly between the areas (1 : 2 : 4 : 8 : …) so the small areas run out during the run.

The real server: production settings (DEBUG=0, Redis cache and rate limits unchanged), granian in
WSGI mode. wrk posts `POST /api/me/entries` for --duration (60) seconds at --connections (32):
each request the next candidate (threads take alternate candidates), 1–4 offered courses of
different slots of the candidate's plan, the candidate's own area, a fresh Idempotency-Key. wrk
plays the load balancer: each request carries the candidate's own client address in
X-Forwarded-For and the bench server trusts loopback as that proxy (ZIKAO_TRUSTED_PROXIES), so
the per-address limit counts per candidate as in production (the limits themselves unchanged).
201 counts as accepted, 409 (area full, duplicate) and 422 (a rule) as refusals, 5xx and socket
errors as errors. The same server's trivial view is measured in the same run. By default each
request is the first use of its token (the sign-in cache misses: three more queries);
--tokens-used warms the sign-in cache first (`accounts.session_cache.warm_states`), as the app's
own GET of the sitting's courses would have before the candidate submits. CPU per request (web,
PostgreSQL, Redis) is printed for both runs, a figure independent of other load on the machine.

At the end the database is checked: per area × slot, `taken` == non-cancelled entries ≤
capacity; accepted submissions == 201 answers. Prints entries/s (Entry rows, domain.md: one course
of one sitting each, so also seats/s) and accepted requests/s, p50/p99, errors, the ratio of
entries/s to the trivial view (target ≥ 0.05) and of requests/s, PASS/FAIL. --quick: a smoke
run (4,000 candidates, 2,000 seats, 10 s). Skips (exit 0) when PostgreSQL, Redis, wrk or granian are missing.

Environment: BENCH_PG_URL, BENCH_ENTRY_REDIS_URL (redis://127.0.0.1:6379/14, flushed),
BENCH_GRANIAN_WORKERS (2), BENCH_GRANIAN_THREADS (4), BENCH_ENTRY_DROP=1 (drop the database).
Database, server, wrk and skip plumbing: bench/_support.py (shared with release_hour.py).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from _support import (
    BENCH,
    CORES,
    HOST,
    ROOT,
    CpuSampler,
    create_database,
    django_setup,
    drop_database,
    flush_redis,
    load,
    manage,
    missing_prerequisite,
    production_environment,
    run_wrk,
    start_granian,
    with_db,
)

VAR = ROOT / "var" / "bench-entry"
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_ENTRY_REDIS_URL", "redis://127.0.0.1:6379/14")
WORKERS = int(os.environ.get("BENCH_GRANIAN_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_GRANIAN_THREADS", "4"))
DROP = os.environ.get("BENCH_ENTRY_DROP", "") == "1"
DB = "zikao_bench_entry"
PATH = "/api/me/entries"
SEED = 20261201


# --- database, server, wrk (bench/_support.py) --------------------------------------------------


def build_database() -> str:
    """A fresh database with a small demo province (its next sitting's window open now)."""
    url = with_db(SERVER, DB)
    create_database(SERVER, DB)
    manage(url, "migrate", "-v0")
    manage(url, "demo", "--candidates", "50", quiet=True)
    return url


def wrk(port: int, path: str, script: str, seconds: int, connections: int, **env: str) -> dict:
    data = run_wrk(
        BENCH / "entrybench" / script,
        f"http://{HOST}:{port}{path}",
        seconds=seconds,
        connections=connections,
        env=env,
    )
    data["seconds"] = data["duration_us"] / 1e6
    data["rps"] = data["requests"] / data["seconds"]
    data["socket_errors"] = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return data


# --- the bench province ---------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number(region: str, birth: date, seq: int) -> str:
    """A valid 18-digit resident ID number (GB 11643 check digit)."""
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def open_sitting():
    from zikao.catalog.models import Sitting
    from zikao.core import clock

    now = clock.now()
    return Sitting.objects.get(entry_opens_at__lte=now, entry_closes_at__gt=now, first_day__gt=now.date())


def set_seats(sitting, areas: list, seats: int) -> dict[int, int]:
    """Only the bench areas have rooms: seats split 1 : 2 : 4 : … per area, a quarter per slot.
    Counters set by the real `capacity_rebuild`. Returns seats per slot by area id."""
    from zikao.accounts.models import User
    from zikao.core.audit import Actor
    from zikao.entries.capacity import capacity_rebuild
    from zikao.entries.models import AreaSlotCapacity, Centre, Room

    AreaSlotCapacity.objects.filter(sitting=sitting).delete()  # fresh database: nothing taken yet
    Room.objects.all().delete()
    Centre.objects.all().delete()
    weights = [2**k for k in range(len(areas))]
    per_slot = {
        a.pk: max(1, round(seats * w / sum(weights) / 4)) for a, w in zip(areas, weights, strict=True)
    }
    rooms = []
    for area in areas:
        left = per_slot[area.pk]
        n_rooms = math.ceil(left / 30)
        for c in range(math.ceil(n_rooms / 100)):
            centre = Centre.objects.create(
                area=area,
                code=f"B{c + 1:03d}",
                name=f"压测考点{c + 1}",
                address=f"{area.name}压测路{c + 1}号",
            )
            for r in range(min(100, n_rooms - 100 * c)):
                size = min(30, left)
                left -= size
                rooms.append(Room(centre=centre, number=f"{r + 1:03d}", seats=size))
    Room.objects.bulk_create(rooms, batch_size=2000)
    capacity_rebuild(actor=Actor.staff(User.objects.get(username="province")), sitting=sitting)
    return per_slot


def bench_plans() -> list:
    """The current plan of every unrestricted major."""
    from zikao.catalog.models import Plan

    latest: dict[int, object] = {}
    for plan in Plan.objects.select_related("major").filter(major__restricted=False).order_by("version"):
        latest[plan.major_id] = plan
    return sorted(latest.values(), key=lambda p: p.major.code)


def load_candidates(n: int, areas: list, plans: list) -> list[tuple[int, int, int]]:
    """n candidates (areas and plans round-robin, independently) with COPY; returns (id, area, plan) rows."""
    from zikao.candidates.models import Candidate, CandidateMajor, CandidateNumberSequence
    from zikao.core import clock
    from zikao.core.numbers import candidate_no_prefix
    from zikao.demo.bulk import IdBlock, TableWriter, reset_sequences

    now = clock.now()
    today = now.date()
    year = (today.year + 1) % 100
    candidates = TableWriter(
        Candidate,
        ["id", "candidate_no", "id_type", "id_number", "name", "gender", "birth_date", "household_region",
         "county_office_id", "prior_education", "status", "registered_on", "created_at"],
    )  # fmt: skip
    majors = TableWriter(
        CandidateMajor, ["id", "candidate_id", "major_id", "plan_id", "registered_on", "active"]
    )
    ids, major_ids = IdBlock(Candidate), IdBlock(CandidateMajor)
    prefixes = {
        a.pk: [
            candidate_no_prefix(a.parent.exam_code, a.exam_code, year + k // 2, (1, 7)[k % 2])
            for k in range(20)
        ]
        for a in areas
    }
    issued = dict(CandidateNumberSequence.objects.values_list("prefix", "last"))
    counters = dict.fromkeys(prefixes, 0)
    rows = []
    for i in range(n):
        area = areas[i % len(areas)]
        plan = plans[(i // len(areas)) % len(plans)]  # every plan in every area
        j = counters[area.pk]
        counters[area.pk] += 1
        prefix = prefixes[area.pk][j // 99_000]
        number = issued.get(prefix, 0) + 1
        issued[prefix] = number
        seq = i % 999 + 1
        birth = date(1980, 1, 1) + timedelta(days=i // 999)
        cid = ids.take()
        candidates.add(
            (cid, f"{prefix}{number:05d}", "resident_id", id_number(area.region_code, birth, seq),
             f"压测考生{i:07d}", "M" if seq % 2 else "F", birth, area.region_code, area.pk,
             "zhuanke" if plan.major.level == "benke" else "high_school", "active", today, now)
        )  # fmt: skip
        majors.add((major_ids.take(), cid, plan.major_id, plan.pk, today, True))
        rows.append((cid, area.pk, plan.pk))
        if len(candidates.rows) >= 20_000:
            candidates.flush()
            majors.flush()
    candidates.flush()
    majors.flush()
    reset_sequences([Candidate, CandidateMajor])
    for prefix, last in issued.items():
        CandidateNumberSequence.objects.update_or_create(prefix=prefix, defaults={"last": last})
    return rows


def load_accounts(rows: list[tuple[int, int, int]]) -> list[str]:
    """Accounts (first password changed) and API tokens as `accounts.services` stores them."""
    from django.contrib.auth.hashers import make_password

    from zikao.accounts.models import ApiToken, CandidateAccount
    from zikao.accounts.selectors import token_digest
    from zikao.accounts.services import api_token_hours
    from zikao.core import clock
    from zikao.demo.bulk import IdBlock, TableWriter, reset_sequences

    now = clock.now()
    encoded = make_password(secrets.token_urlsafe(12))  # nobody signs in with a password here
    accounts = TableWriter(
        CandidateAccount,
        ["candidate_id", "password_hash", "must_change_password", "failed_count", "session_epoch",
         "password_changed_at", "created_at"],
    )  # fmt: skip
    tokens = TableWriter(
        ApiToken, ["id", "candidate_id", "key_digest", "session_epoch", "created_at", "expires_at"]
    )
    token_ids = IdBlock(ApiToken)
    expires = now + timedelta(hours=api_token_hours())
    raw = []
    for cid, _area, _plan in rows:
        token = secrets.token_urlsafe(32)
        raw.append(token)
        accounts.add((cid, encoded, False, 0, 1, now, now))
        tokens.add((token_ids.take(), cid, token_digest(token), 1, now, expires))
        if len(tokens.rows) >= 20_000:
            accounts.flush()
            tokens.flush()
    accounts.flush()
    tokens.flush()
    reset_sequences([ApiToken])
    return raw


def plan_options(sitting, rows) -> dict[int, dict[str, list[str]]]:
    """Per plan: the courses a candidate without passes can enter, by slot (the real overview,
    for one candidate of the plan)."""
    from zikao.candidates.models import Candidate
    from zikao.entries import selectors

    window = selectors.entry_sitting_get(sitting.label)
    sample: dict[int, int] = {}
    for cid, _area, plan in rows:
        sample.setdefault(plan, cid)
    out: dict[int, dict[str, list[str]]] = {}
    for plan, cid in sample.items():
        overview = selectors.candidate_entry_overview(Candidate.objects.get(pk=cid), window)
        by_slot: dict[str, list[str]] = defaultdict(list)
        for option in overview.courses:
            if option.enterable:
                by_slot[option.slot].append(option.code)
        out[plan] = dict(by_slot)
    return out


def request_lines(sitting, rows, tokens, options, max_courses: int) -> tuple[Path, int]:
    rng = random.Random(SEED)  # bench data
    lines = []
    for i, ((_cid, area, plan), token) in enumerate(zip(rows, tokens, strict=True)):
        by_slot = options[plan]
        if not by_slot:
            continue
        k = rng.randint(1, min(max_courses, len(by_slot)))
        courses = [rng.choice(by_slot[s]) for s in rng.sample(sorted(by_slot), k)]
        body = json.dumps({"sitting": sitting.label, "courses": courses, "area": area}, separators=(",", ":"))
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        lines.append(f"{token}\t{ip}\tbench-{i}\t{body}")
    path = VAR / "entries.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path, len(lines)


def per_request(used: dict[str, float], run: dict) -> dict[str, float]:
    """CPU µs per request of each kind (web, pg, redis) over a wrk run."""
    n = max(1, run["requests"])
    return {kind: seconds / n * 1e6 for kind, seconds in used.items()}


def seat_check(sitting) -> tuple[list[tuple], bool]:
    from django.db.models import Count

    from zikao.entries.models import AreaSlotCapacity, Entry

    live = dict(
        ((a, s), n)
        for a, s, n in Entry.objects.filter(sitting=sitting)
        .exclude(status=Entry.Status.CANCELLED)
        .values_list("area_id", "slot_id")
        .annotate(n=Count("id"))
        .values_list("area_id", "slot_id", "n")
    )
    table, ok = [], True
    for c in (
        AreaSlotCapacity.objects.filter(sitting=sitting)
        .select_related("area", "slot")
        .order_by("area__region_code", "slot__starts_at")
    ):
        n = live.pop((c.area_id, c.slot_id), 0)
        good = c.taken == n and c.taken <= c.capacity
        ok = ok and good
        table.append((c.area.name, c.slot.code, c.capacity, c.taken, n, good))
    if live:  # entries with no counter at all
        ok = False
        table.extend(("?", str(k), 0, 0, n, False) for k, n in live.items())
    return table, ok


# --- main -------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--candidates", type=int, default=200_000)
    parser.add_argument("--seats", type=int, default=50_000, help="seats over all area × slot counters")
    parser.add_argument("--duration", type=int, default=60, help="seconds of entering")
    parser.add_argument("--areas", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="smoke run: 4,000 candidates, 2,000 seats, 10 s")
    parser.add_argument(
        "--tokens-used",
        action="store_true",
        help="each token was used once before (as the app's GET of the courses would): the "
        "sign-in cache is warmed with accounts.session_cache.warm_states; default: first use",
    )
    args = parser.parse_args()
    if args.quick:
        args.candidates, args.seats, args.duration = 4000, 2000, 10
    reason = missing_prerequisite(SERVER, REDIS_URL)
    if reason:
        print(f"skipped: {reason}")
        return 0
    VAR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(
        f"building {DB}: migrate, small demo province, {args.candidates:,} candidates … ({load()})",
        flush=True,
    )
    database_url = build_database()
    env = production_environment(database_url, REDIS_URL, "entrybench.settings")
    django_setup(env)

    from django.db import connection

    from zikao.accounts.models import Office
    from zikao.catalog.models import ProvincePolicy

    flush_redis(REDIS_URL)
    sitting = open_sitting()
    areas = list(
        Office.objects.filter(level=Office.Level.COUNTY).select_related("parent").order_by("region_code")
    )
    areas = areas[: args.areas]
    per_slot = set_seats(sitting, areas, args.seats)
    plans = bench_plans()
    rows = load_candidates(args.candidates, areas, plans)
    tokens = load_accounts(rows)
    if args.tokens_used:
        from zikao.accounts.session_cache import warm_states

        for start in range(0, len(rows), 5000):
            warm_states([cid for cid, _a, _p in rows[start : start + 5000]], timeout=3600)
    options = plan_options(sitting, rows)
    policy = ProvincePolicy.current()
    requests_file, n_lines = request_lines(sitting, rows, tokens, options, policy.max_courses_per_sitting)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    usable = sum(1 for p in options.values() if p)
    print(
        f"  built in {time.perf_counter() - started:.0f} s: sitting {sitting.label} (window open), "
        f"{len(areas)} areas × 4 slots, seats per slot "
        f"{', '.join(f'{a.name[:6]} {per_slot[a.pk]:,}' for a in areas)} "
        f"= {4 * sum(per_slot.values()):,} seats; "
        f"{len(rows):,} candidates in {len(plans)} plans ({usable} with enterable courses), "
        f"{n_lines:,} entry requests prepared; tokens "
        + ("used before (sign-in cache warmed)" if args.tokens_used else "used for the first time")
    )
    failures: list[str] = []
    server = None
    try:
        server = start_granian(env, workers=WORKERS, threads=THREADS, log_dir=VAR)
        port = server.port
        print(
            f"granian {WORKERS} workers × {THREADS} blocking threads; wrk -t2 -c{args.connections}; "
            f"{CORES} cores; per-address limit applies per candidate (X-Forwarded-For from wrk, "
            f"loopback trusted as the load balancer); production rate limits ({load()})",
            flush=True,
        )
        wrk(port, "/bench/trivial", "trivial.lua", 3, args.connections)
        trivial_seconds = min(args.duration, 20)
        with CpuSampler(server.process.pid, REDIS_URL, SERVER, DB) as sampler:
            trivial = wrk(port, "/bench/trivial", "trivial.lua", trivial_seconds, args.connections)
            time.sleep(0.3)  # requests still being answered when wrk stopped its clock
        trivial_cpu = per_request(sampler.used(), trivial)
        print(
            f"  trivial view       {trivial['rps']:>9,.0f} req/s   p50 {trivial['p50_us'] / 1000:6.1f} ms   "
            f"p99 {trivial['p99_us'] / 1000:6.1f} ms   "
            f"errors {trivial['status']['other'] + trivial['socket_errors']}   ({load()})",
            flush=True,
        )
        with CpuSampler(server.process.pid, REDIS_URL, SERVER, DB) as sampler:
            run = wrk(
                port, PATH, "entry.lua", args.duration, args.connections, BENCH_REQUESTS=str(requests_file)
            )
            time.sleep(0.3)
        entry_cpu = per_request(sampler.used(), run)
        s = run["status"]
        errors = s["5xx"] + run["socket_errors"]
        accepted_rps = s["201"] / run["seconds"]

        # Requests still in flight when wrk stopped finish (or not) before the check: stop the
        # server (graceful) first, so the counters and entries are read at rest.
        server.stop()
        server = None
        from zikao.entries.models import Entry, EntrySubmission

        entries = Entry.objects.filter(sitting=sitting).exclude(status=Entry.Status.CANCELLED).count()
        submissions = EntrySubmission.objects.filter(sitting=sitting).count()
        table, seats_ok = seat_check(sitting)
        full = sum(1 for row in table if row[3] == row[2])
        # An Entry (报考, domain.md) is one course entered for one sitting: the "entries/s"
        # are these (one seat each, the same count as "seats taken == entries accepted"). A
        # request may enter up to the province's maximum at once; its rate is printed as well.
        entries_rps = entries / run["seconds"]
        ratio = entries_rps / trivial["rps"]
        print(
            f"  POST {PATH}  {run['rps']:>9,.0f} req/s   p50 {run['p50_us'] / 1000:6.1f} ms   "
            f"p99 {run['p99_us'] / 1000:6.1f} ms   "
            f"({run['requests']:,} requests in {run['seconds']:.0f} s; {load()})"
        )
        print(
            f"  accepted entries   {entries_rps:>9,.0f} entries/s (= seats/s; {entries:,} entries) from "
            f"{accepted_rps:,.0f} accepted requests/s ({s['201']:,} answered 201, "
            f"{entries / max(s['201'], 1):.2f} courses each)"
        )
        print(
            f"  refused: 409 {s['409']:,} (area full / duplicate), 422 {s['422']:,}, 429 {s['429']:,}, "
            f"other 4xx {s['4xx']:,}; replayed 200 {s['200']:,}; errors {errors} "
            f"(5xx {s['5xx']}, socket {run['socket_errors']})"
        )
        print(
            f"  ratio accepted entries/s ÷ trivial view req/s: {ratio:.3f}   (target ≥ 0.05); "
            f"accepted requests/s ÷ trivial: {accepted_rps / trivial['rps']:.3f}"
        )
        print(
            f"  CPU per request (µs): trivial web {trivial_cpu['web']:,.0f}, "
            f"PostgreSQL {trivial_cpu['pg']:,.0f}, "
            f"Redis {trivial_cpu['redis']:,.0f}; POST web {entry_cpu['web']:,.0f}, PostgreSQL "
            f"{entry_cpu['pg']:,.0f}, Redis {entry_cpu['redis']:,.0f} (independent of the load beside the "
            f"bench; wrk shares the {CORES} cores too)"
        )
        print(f"seats per area × slot ({len(table)} counters, {full} full):")
        for name, slot, capacity, taken, n, good in table:
            print(f"  {name[:16]:<16} {slot:<7} capacity {capacity:>6,}  taken {taken:>6,}  entries {n:>6,}  "
                  f"{'ok' if good else 'WRONG'}")  # fmt: skip
        print(
            f"  taken == entries ≤ capacity everywhere: {'yes' if seats_ok else 'NO'}; "
            f"submissions {submissions:,} vs 201 answers {s['201']:,} (+ ≤ 1 in flight per connection)"
        )
        if not seats_ok:
            failures.append("overbooking or seat counters out of step with entries")
        # wrk drops the answers still in flight at the end (at most one per connection).
        if not s["201"] <= submissions <= s["201"] + args.connections:
            failures.append(f"{submissions} accepted submissions in the database but {s['201']} 201 answers")
        if errors:
            failures.append(f"{errors} errors (5xx or socket)")
        if s["4xx"] or s["429"]:
            failures.append(f"unexpected answers: 429 {s['429']}, other 4xx {s['4xx']}")
        if ratio < 0.05:
            failures.append(f"accepted entries/s {ratio:.3f} of the trivial view < 0.05")
        summary = {
            "candidates": len(rows),
            "seats": 4 * sum(per_slot.values()),
            "duration": args.duration,
            "connections": args.connections,
            "granian": {"workers": WORKERS, "blocking_threads": THREADS},
            "trivial": trivial,
            "entries": run,
            "accepted_per_s": accepted_rps,
            "ratio": ratio,
            "cpu_us_per_request": {"trivial": trivial_cpu, "entries": entry_cpu},
            "tokens_used": args.tokens_used,
            "seat_table": table,
            "load": os.getloadavg(),
        }
        (VAR / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    finally:
        if server is not None:
            server.stop()
        connection.close()
        if DROP:
            drop_database(SERVER, DB)
    print("PASS" if not failures else "FAIL: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
