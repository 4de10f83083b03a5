"""What entering courses costs, and that what it keeps per process is dropped when it changes.

The entry window is the busiest write of the year (bench/entry_window.py): an accepted request
reads the candidate's record and one area's seat counters and writes entries, submission, audit
and seats — a fixed number of queries whatever the size of the timetable, the number of areas,
the plan or (on PostgreSQL) the number of courses. What the office changes rarely (timetable,
slots, courses, plans, policy, payment hold) comes from `entries.cache`: each test below changes
one of them through its service and shows that the very next request sees it; the raw-change
tests show the cache really is in use, so the others would fail without the busting.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.helpers import bearer, token_for
from tests.entries.test_concurrency import enter_call, race
from tests.entries.world import DURING, EntryWorld, build_entry_world
from tests.factories import StaffFactory
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import Role
from zikao.catalog import services as catalog_services
from zikao.catalog.models import Plan, ProvincePolicy, TimetableEntry
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.entries import cache as entry_cache
from zikao.entries import rules, selectors, services
from zikao.entries.capacity import capacity_set
from zikao.entries.models import AreaSlotCapacity, Entry
from zikao.entries.settings_services import entry_settings_set

SYSTEM = Actor.system("test")
REFERENCE_TABLES = (
    "catalog_timetableentry",
    "catalog_slot",
    "catalog_provincepolicy",
    "entries_entrysettings",
    "catalog_plan",
    "catalog_plansubstitution",
    "catalog_politicsruleset",
)


@pytest.fixture(autouse=True)
def _during():
    with clock.frozen_at(DURING):
        yield


def enter(world: EntryWorld, candidate, codes, *, key="k-1"):
    return services.entries_create(
        actor=world.actor(candidate),
        candidate=candidate,
        sitting=world.sitting,
        course_codes=codes,
        area=world.county,
        idempotency_key=key,
    )


def refusal(call) -> services.EntryRefused:
    with pytest.raises(services.EntryRefused) as info:
        call()
    return info.value


def statements(call) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        call()
    return [q["sql"] for q in captured.captured_queries]


def reads_reference(sql) -> list[str]:
    """The reference tables (timetable, slots, policy, settings, plans) these statements read."""
    return [t for s in sql for t in REFERENCE_TABLES if f'FROM "{t}"' in s]


def per_course_updates() -> int:
    """Seat UPDATEs beyond the first: none on PostgreSQL (one statement), one per course else."""
    return 0 if connection.vendor == "postgresql" else 1


def warm(world: EntryWorld) -> None:
    enter(world, world.candidate(), ["10003"], key="warm")


# --- queries -----------------------------------------------------------------------------------


def test_entering_costs_a_fixed_number_of_queries(world: EntryWorld, django_assert_max_num_queries):
    """A new candidate, four courses: savepoint, lock (SQLite: 2), probe, the area's counters,
    four INSERTs, the seats, release — nothing of the timetable, policy or plan."""
    warm(world)
    carol = world.candidate()
    lock = 2 if connection.vendor == "sqlite" else 1
    with django_assert_max_num_queries(9 + lock + 3 * per_course_updates()) as captured:
        result = enter(world, carol, ["10001", "10002", "10003", "10006"])
    assert [e.course.code for e in result.entries] == ["10001", "10002", "10003", "10006"]
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 1, "SUN_AM": 2, "SUN_PM": 1}
    assert not reads_reference(q["sql"] for q in captured.captured_queries)
    # Only the chosen area's counters are read (the others only to refuse ENTRY_AREA_FULL).
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    counters = [s for s in reads if '"entries_areaslotcapacity"' in s]
    assert len(counters) == 1 and f'"area_id" = {world.county.pk}' in counters[0]


def test_a_candidate_with_a_record_adds_the_passes(world: EntryWorld, django_assert_max_num_queries):
    """Alice has a released pass: her passes (and the pass mark) are read too, and only they."""
    warm(world)
    lock = 2 if connection.vendor == "sqlite" else 1
    with django_assert_max_num_queries(11 + lock + per_course_updates()):
        result = enter(world, world.alice, ["10001", "10002"])
    assert len(result.entries) == 2
    error = refusal(lambda: enter(world, world.alice, ["10012"], key="k-2"))
    assert error.code == rules.ENTRY_ALREADY_PASSED


def test_the_reference_data_is_read_once_per_process(world: EntryWorld):
    first = statements(lambda: enter(world, world.candidate(), ["10001"], key="a"))
    second = statements(lambda: enter(world, world.candidate(), ["10001"], key="b"))
    assert set(reads_reference(first)) >= set(REFERENCE_TABLES[:5])
    assert reads_reference(second) == []
    assert len(second) == len(first) - 7


def test_the_bench_request_path(client, world: EntryWorld, django_assert_max_num_queries):
    """POST /api/me/entries as bench/entry_window.py sends it: token check (3), the sitting, the
    service — and no query per created entry for the answer."""
    warm(world)
    counts = []
    for n, codes in enumerate((["10001"], ["10001", "10002", "10003", "10006"])):
        token = token_for(world.candidate())
        lock = 2 if connection.vendor == "sqlite" else 1
        with django_assert_max_num_queries(13 + lock + (len(codes) - 1) * per_course_updates()) as captured:
            response = client.post(
                "/api/me/entries",
                {"sitting": "202610", "courses": codes, "area": world.county.pk},
                content_type="application/json",
                headers={**bearer(token), "Idempotency-Key": f"bench-{n}"},
            )
        assert response.status_code == 201
        body = response.json()["entries"]
        assert [(e["course_code"], e["area_name"]) for e in body] == [(c, "玄武区") for c in codes]
        assert body[0]["starts_at"] == "2026-10-17T09:00:00+08:00"
        counts.append(len(captured.captured_queries))
    assert counts[1] - counts[0] == 3 * per_course_updates()


# --- what is cached is dropped by the services that change it ----------------------------------


def test_a_raw_change_is_not_seen_until_the_sitting_is_busted(world: EntryWorld):
    """The control: the timetable really comes from the memo."""
    warm(world)
    TimetableEntry.objects.filter(sitting=world.sitting, course__code="10006").delete()  # behind its back
    assert len(enter(world, world.candidate(), ["10006"], key="a").entries) == 1
    entry_cache.bust_sitting(world.sitting.pk)
    error = refusal(lambda: enter(world, world.candidate(), ["10006"], key="b"))
    assert error.code == rules.ENTRY_COURSE_NOT_OFFERED


def test_timetable_change_is_seen_at_once(world: EntryWorld):
    warm(world)
    row = TimetableEntry.objects.get(sitting=world.sitting, course__code="10006")
    catalog_services.timetable_entry_delete(actor=SYSTEM, entry=row)
    error = refusal(lambda: enter(world, world.candidate(), ["10006"]))
    assert error.code == rules.ENTRY_COURSE_NOT_OFFERED
    assert not Entry.objects.filter(course__code="10006").exists()


def test_policy_maximum_is_seen_at_once(world: EntryWorld, django_capture_on_commit_callbacks):
    warm(world)
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.province_policy_set(actor=SYSTEM, max_courses_per_sitting=1, fee_per_course_fen=4500)
    error = refusal(lambda: enter(world, world.candidate(), ["10001", "10002"]))
    assert (error.code, error.fields["max"]) == (rules.ENTRY_MAX_COURSES, 1)


def test_policy_fee_is_seen_at_once(world: EntryWorld, django_capture_on_commit_callbacks):
    warm(world)
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.province_policy_set(actor=SYSTEM, max_courses_per_sitting=4, fee_per_course_fen=0)
    entry = enter(world, world.candidate(), ["10001"]).entries[0]
    assert (entry.status, entry.fee_fen, entry.hold_expires_at) == (Entry.Status.CONFIRMED, 0, None)


def test_payment_hold_is_seen_at_once(world: EntryWorld, django_capture_on_commit_callbacks):
    warm(world)
    with django_capture_on_commit_callbacks(execute=True):
        entry_settings_set(actor=SYSTEM, sitting=world.sitting, payment_hold_minutes=45, tickets_open_at=None)
    entry = enter(world, world.candidate(), ["10001"]).entries[0]
    assert entry.hold_expires_at == DURING + dt.timedelta(minutes=45)


def test_capacity_change_is_seen_at_once(world: EntryWorld):
    """Seat counters are never cached: the office closing an area shows at the next request."""
    warm(world)
    user = StaffFactory(office=world.city)
    StaffRole.objects.create(user=user, role=Role.EXAM_AFFAIRS, granted_at=DURING)
    slot = world.slots["SAT_AM"]
    capacity_set(actor=Actor.staff(user), sitting=world.sitting, area=world.county, slot=slot, capacity=0)
    error = refusal(lambda: enter(world, world.candidate(), ["10001"], key="a"))
    assert (error.code, error.fields["slot"]) == (rules.ENTRY_AREA_FULL, "SAT_AM")
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SAT_AM").pk).update(capacity=1)
    assert len(enter(world, world.candidate(), ["10001"], key="b").entries) == 1


def test_course_name_change_is_seen_at_once(world: EntryWorld, django_capture_on_commit_callbacks):
    """A rename moves the score cache's release token (names are shown with scores), which the
    entry cache reuses."""
    warm(world)
    course = world.courses["10001"]
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.course_save(
            actor=SYSTEM,
            code="10001",
            name="高等数学(新)",
            credits=course.credits,
            kind=course.kind,
            course=course,
        )
    entry = enter(world, world.candidate(), ["10001"]).entries[0]
    assert entry.course.name == "高等数学(新)"


def test_plan_change_is_seen_after_a_catalog_bust(world: EntryWorld):
    """A plan's engine inputs are kept per process until the catalog token moves (plan,
    substitution and politics imports bump it)."""
    warm(world)
    spec = world.plan.spec
    spec["items"] = [item for item in spec["items"] if item["code"] != "10006"]
    Plan.objects.filter(pk=world.plan.pk).update(spec=spec)  # behind its back: still the memo
    assert len(enter(world, world.candidate(), ["10006"], key="a").entries) == 1
    entry_cache.bust_catalog()
    error = refusal(lambda: enter(world, world.candidate(), ["10006"], key="b"))
    assert error.code == rules.ENTRY_COURSE_NOT_IN_PLAN


def test_a_raw_change_is_seen_after_the_maximum_age(world: EntryWorld, settings):
    warm(world)
    ProvincePolicy.objects.update(max_courses_per_sitting=1)
    settings.ZIKAO_ENTRY_CACHE_SECONDS = 0
    error = refusal(lambda: enter(world, world.candidate(), ["10001", "10002"]))
    assert error.code == rules.ENTRY_MAX_COURSES


def test_a_bust_moves_the_token_now_and_again_after_commit(
    world: EntryWorld, django_capture_on_commit_callbacks
):
    before = entry_cache.read_tokens(world.sitting.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        entry_cache.bust_sitting(world.sitting.pk)
        entry_cache.bust_policy()
    now = entry_cache.read_tokens(world.sitting.pk)
    assert now.sitting != before.sitting and now.catalog != before.catalog
    assert len(callbacks) == 2
    for callback in callbacks:
        callback()
    after = entry_cache.read_tokens(world.sitting.pk)
    assert after.sitting not in (before.sitting, now.sitting)
    assert after.catalog not in (before.catalog, now.catalog)
    other = entry_cache.read_tokens(world.earlier.pk)
    assert other.sitting == entry_cache.read_tokens(world.earlier.pk).sitting  # untouched


# --- lapsed holds are released only where they matter, but always when they do -----------------


def test_a_lapsed_hold_on_a_counter_that_looked_free_is_released(world: EntryWorld, monkeypatch):
    """The decision saw a free seat (so released nothing), but the counter is full when the seat
    is taken: Bob's lapsed hold is released then and Alice gets the seat."""
    held = enter(world, world.bob, ["10001"]).entries[0]
    AreaSlotCapacity.objects.filter(pk=world.counter(world.county, "SAT_AM").pk).update(capacity=1)
    real = selectors.sitting_area_seats

    def optimistic(sitting):
        seats = real(sitting)
        county = seats[world.county.pk]
        seats[world.county.pk] = rules.AreaSeats(county.area, county.name, dict.fromkeys(county.free, 1))
        return seats

    monkeypatch.setattr("zikao.entries.selectors.sitting_area_seats", optimistic)
    later = DURING + dt.timedelta(minutes=31)
    with clock.frozen_at(later):
        entered = enter(world, world.alice, ["10001"], key="a").entries
    held.refresh_from_db()
    assert (held.status, held.cancel_reason) == (Entry.Status.CANCELLED, "unpaid")
    assert [e.candidate_id for e in entered] == [world.alice.pk]
    assert world.counter(world.county, "SAT_AM").taken == 1


# --- PostgreSQL: several counters in one statement, no crosswise waits ---------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_slot_sets_race_without_deadlock_or_overbooking(is_postgres):
    """Twenty-four candidates enter overlapping pairs of slots (each pair's counters locked in
    one statement) with 5 seats per slot: no deadlock, no overbooking, all or nothing."""
    if not is_postgres:
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://…)")
    world = build_entry_world()
    AreaSlotCapacity.objects.filter(sitting=world.sitting, area=world.county).update(capacity=5)
    pairs = [["10001", "10002"], ["10002", "10003"], ["10003", "10006"], ["10006", "10001"]]
    candidates = [world.candidate() for _ in range(24)]
    outcomes = race([enter_call(world, c, pairs[i % 4]) for i, c in enumerate(candidates)])
    codes = Counter(o[0] for o in outcomes)
    assert set(codes) <= {"ok", rules.ENTRY_AREA_FULL}
    live = Entry.objects.filter(sitting=world.sitting).exclude(status=Entry.Status.CANCELLED)
    by_slot = Counter(live.values_list("slot__code", flat=True))
    assert world.taken() == {slot: by_slot.get(slot, 0) for slot in ("SAT_AM", "SAT_PM", "SUN_AM", "SUN_PM")}
    assert all(n <= 5 for n in by_slot.values())
    assert live.count() == 2 * codes["ok"]
    assert codes["ok"] >= 10  # 20 seats, 2 a candidate: most pairs fit before the slots fill
