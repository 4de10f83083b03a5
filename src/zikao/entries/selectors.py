"""Reads for entering courses (报考): windows, what a candidate may enter, free seats, my entries.

Every front door (portal pages, API) reads through these; the services read the same context
(`entry_context`) under the candidate's lock before deciding. Passed courses come only from
`scores.selectors.candidate_passed_courses` (so an unreleased or withheld score never counts),
eligibility only from the plan engine (`catalog.planstore`), suspensions only from
`conduct.selectors.suspension_blocks`. An entry that is not the candidate's raises the same
`NotFound` as a missing one.

What the office changes rarely (timetable, slots, policy, payment hold, the plans' engine
inputs) is kept per process and dropped by the services that change it (`entries.cache`); the
candidate's own record and the seat counters are read on every decision.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from zikao.accounts.models import Office
from zikao.candidates.models import Candidate, CandidateMajor
from zikao.catalog.models import Course, Plan, ProvincePolicy, Sitting, Slot, TimetableEntry
from zikao.catalog.planstore import PlanContext, plan_context
from zikao.catalog.rules import SLOT_LABELS, PassedCourse
from zikao.conduct.models import Violation
from zikao.conduct.selectors import suspension_blocks
from zikao.core import clock
from zikao.core.errors import NotFound
from zikao.entries import cache as entry_cache
from zikao.entries import rules
from zikao.entries.models import AreaSlotCapacity, Entry, EntrySettings, EntrySubmission
from zikao.scores.models import Score
from zikao.scores.selectors import candidate_passed_courses

DEFAULT_HOLD_MINUTES = 30
LIVE = ~Q(status=Entry.Status.CANCELLED)


def slot_label(code: str) -> str:
    return str(SLOT_LABELS.get(code, code))


# --- sittings and windows ---------------------------------------------------------------------


@dataclass(frozen=True)
class SittingWindow:
    """A sitting with an entry window, and where `at` lies in it (rules.window_state)."""

    sitting: Sitting
    label: str
    opens_at: datetime
    closes_at: datetime
    state: str

    @property
    def is_open(self) -> bool:
        return self.state == rules.WINDOW_OPEN


def _window(sitting: Sitting, instant: datetime) -> SittingWindow:
    assert sitting.entry_opens_at is not None and sitting.entry_closes_at is not None
    return SittingWindow(
        sitting=sitting,
        label=sitting.label,
        opens_at=sitting.entry_opens_at,
        closes_at=sitting.entry_closes_at,
        state=rules.window_state(sitting.entry_opens_at, sitting.entry_closes_at, instant),
    )


def entry_sittings(*, at: datetime | None = None) -> list[SittingWindow]:
    """Sittings a candidate can look at for entering: with a window, and not yet examined (first
    day today or later) or with the window still open. Open ones first (closing soonest), then
    upcoming, then closed; by label within each."""
    instant = at or clock.now()
    today = timezone.localdate(instant)
    rows = Sitting.objects.filter(entry_opens_at__isnull=False, entry_closes_at__isnull=False).filter(
        Q(first_day__gte=today) | Q(entry_closes_at__gt=instant)
    )
    order = {rules.WINDOW_OPEN: 0, rules.WINDOW_NOT_OPEN: 1, rules.WINDOW_CLOSED: 2}
    windows = [_window(s, instant) for s in rows]
    return sorted(windows, key=lambda w: (order.get(w.state, 3), w.closes_at, w.label))


def sittings_open_for_entry(*, at: datetime | None = None) -> list[SittingWindow]:
    """Sittings whose entry window is open at `at` (default now), closing soonest first."""
    return [w for w in entry_sittings(at=at) if w.is_open]


def entry_sitting_get(label: str, *, at: datetime | None = None) -> SittingWindow:
    """The sitting `label` with its window; NotFound if there is no such sitting or it has no
    entry window (nothing to enter)."""
    sitting = Sitting.objects.filter(label=(label or "").strip()).first() if label else None
    if sitting is None or sitting.entry_opens_at is None or sitting.entry_closes_at is None:
        raise NotFound()
    return _window(sitting, at or clock.now())


def entry_sitting_default(*, at: datetime | None = None) -> SittingWindow | None:
    """The sitting the entry page shows first: an open one, else the next to open, else the last
    closed one whose exams are still to come; None when there is none."""
    windows = entry_sittings(at=at)
    return windows[0] if windows else None


# --- what rarely changes: the sitting's reference data and the plans (entries.cache) ----------


@dataclass(frozen=True)
class SittingReference:
    """What every decision of a sitting reads that the office changes rarely (kept per process,
    `entries.cache`): the timetable, slots, offered courses, province policy and payment hold.
    Shared between requests: read only."""

    offered: dict[str, str]  # course code → slot code
    slots: dict[str, Slot]  # slot code → Slot
    courses: dict[str, Course]  # offered course code → Course
    names: dict[str, str]  # offered course code → name
    slot_labels: dict[str, str]
    max_courses: int
    fee_fen: int
    hold_minutes: int


def _build_sitting_reference(sitting_id: int) -> SittingReference:
    rows = TimetableEntry.objects.filter(sitting_id=sitting_id).select_related("course", "slot")
    offered = {t.course.code: t.slot.code for t in rows}
    courses = {t.course.code: t.course for t in rows}
    slots = {s.code: s for s in Slot.objects.filter(sitting_id=sitting_id)}
    policy = ProvincePolicy.current()
    settings_row = EntrySettings.objects.filter(sitting_id=sitting_id).only("payment_hold_minutes").first()
    return SittingReference(
        offered=offered,
        slots=slots,
        courses=courses,
        names={code: course.name for code, course in courses.items()},
        slot_labels={code: slot_label(code) for code in slots},
        max_courses=policy.max_courses_per_sitting,
        fee_fen=policy.fee_per_course_fen,
        hold_minutes=settings_row.payment_hold_minutes if settings_row is not None else DEFAULT_HOLD_MINUTES,
    )


def sitting_reference(sitting: Sitting, tokens: entry_cache.Tokens | None = None) -> SittingReference:
    """The sitting's reference data, from this process's memo while the tokens stand."""
    tokens = (
        tokens if tokens is not None and tokens.sitting is not None else entry_cache.read_tokens(sitting.pk)
    )
    return entry_cache.sitting_value(tokens, sitting.pk, lambda: _build_sitting_reference(sitting.pk))


def _build_plan_contexts(plan_ids: list[int]) -> dict[int, PlanContext]:
    return {
        plan.pk: plan_context(plan) for plan in Plan.objects.filter(pk__in=plan_ids).select_related("major")
    }


def plan_contexts(plan_ids: Sequence[int], tokens: entry_cache.Tokens | None = None) -> list[PlanContext]:
    """The plan engine's inputs of each plan (in order), from this process's memo while the
    catalog token stands."""
    tokens = tokens or entry_cache.read_tokens()
    return entry_cache.plan_values(tokens, plan_ids, _build_plan_contexts)


def sitting_timetable(sitting: Sitting) -> tuple[dict[str, str], dict[str, Slot], dict[str, Course]]:
    """(course code → slot code, slot code → Slot, course code → Course) of the sitting."""
    ref = sitting_reference(sitting)
    return dict(ref.offered), dict(ref.slots), dict(ref.courses)


def hold_minutes(sitting: Sitting) -> int:
    """How long an unpaid entry keeps its seat (EntrySettings of the sitting; default 30)."""
    return sitting_reference(sitting).hold_minutes


# --- what a candidate may enter ---------------------------------------------------------------


def candidate_plan_ids(candidate: Candidate) -> list[int]:
    """The plans of the candidate's active majors, first registered first."""
    return list(
        CandidateMajor.objects.filter(candidate=candidate, active=True)
        .order_by("registered_on", "pk")
        .values_list("plan_id", flat=True)
    )


def candidate_eligibility(
    candidate: Candidate,
    *,
    at: datetime | None = None,
    plan_ids: Sequence[int] | None = None,
    tokens: entry_cache.Tokens | None = None,
    has_scores: bool = True,
) -> dict[str, str | None]:
    """The plan engine's entry eligibility over the candidate's active plans: plan course code →
    None (may enter) or the engine's reason. A course that any active plan allows is allowed;
    otherwise the first plan's reason stands. Passes come only from `candidate_passed_courses`
    (read now; `has_scores=False`: the caller saw that the record has no score row at all, so
    there is no pass to read — credit is recorded as Score rows too); the plans' engine inputs
    from the process memo. `plan_ids`: the active plans when the caller already read them."""
    instant = at or clock.now()
    passed = [
        PassedCourse(
            code=p.course_code,
            name=p.course_name,
            credits=p.credits,
            kind=p.course_kind,
            method=p.method,
            sitting=p.sitting,
        )
        for p in (candidate_passed_courses(candidate, at=instant) if has_scores else [])
    ]
    merged: dict[str, str | None] = {}
    ids = candidate_plan_ids(candidate) if plan_ids is None else plan_ids
    for context in plan_contexts(ids, tokens):
        for code, reason in context.eligibility(passed).items():
            if code not in merged or reason is None:
                merged[code] = reason
    return merged


class AreaSeatsMap(MutableMapping[int, rules.AreaSeats]):
    """The sitting's exam areas (those with seat counters) → free seats per slot code, read from
    the counters when first asked: asking for one area (`in`, `[]`, `get`) reads only its
    counters; iterating reads them all. A decision about one area so reads one area, and the
    list of the others only when it refuses ENTRY_AREA_FULL. Counters read once are not read
    again (`forget` drops them after seats moved)."""

    def __init__(self, sitting: Sitting):
        self.sitting = sitting
        self._areas: dict[int, rules.AreaSeats | None] = {}
        self._offices: dict[int, Office] = {}
        self._counters: dict[int, dict[int, int]] = {}  # area → slot id → counter id
        self._complete = False

    def _read(self, area: int | None) -> None:
        sql, params = _counters_sql(area is not None), [self.sitting.pk]
        if area is not None:
            params.append(area)
        names: dict[int, str] = {}
        free: dict[int, dict[str, int]] = {}
        for office in Office.objects.raw(sql, params):
            row = vars(office)  # the counter's columns ride along on the Office row
            names[office.pk] = office.name
            self._offices.setdefault(office.pk, office)
            free.setdefault(office.pk, {})[row["counter_slot_code"]] = max(
                row["counter_capacity"] - row["counter_taken"], 0
            )
            self._counters.setdefault(office.pk, {})[row["counter_slot_id"]] = row["counter_id"]
        for pk in names:
            self._areas.setdefault(pk, rules.AreaSeats(pk, names[pk], free[pk]))
        if area is None:
            self._complete = True
        else:
            self._areas.setdefault(area, None)

    def _known(self, area: object) -> rules.AreaSeats | None:
        if not isinstance(area, int) or isinstance(area, bool) or not 0 < area < 2**63:
            return None
        if area not in self._areas and not self._complete:
            self._read(area)
        return self._areas.get(area)

    def __getitem__(self, area: int) -> rules.AreaSeats:
        found = self._known(area)
        if found is None:
            raise KeyError(area)
        return found

    def __contains__(self, area: object) -> bool:
        return self._known(area) is not None

    def __setitem__(self, area: int, seats: rules.AreaSeats) -> None:
        self._known(area)
        self._areas[area] = seats

    def __delitem__(self, area: int) -> None:
        self._known(area)
        self._areas[area] = None

    def __iter__(self) -> Iterator[int]:
        if not self._complete:
            self._read(None)
        return iter([pk for pk, seats in self._areas.items() if seats is not None])

    def __len__(self) -> int:
        return sum(1 for _pk in self)

    def forget(self) -> None:
        """Seats moved (lapsed holds released): read the counters again when next asked."""
        self._areas.clear()
        self._complete = False

    def office(self, area: int) -> Office | None:
        """The area's Office row, if its counters were read."""
        return self._offices.get(area)

    def counters(self, area: int) -> dict[int, int]:
        """slot id → counter id of the area, if its counters were read."""
        return dict(self._counters.get(area, {}))


@functools.cache
def _counters_sql(one_area: bool) -> str:
    """The sitting's seat counters (or one area's) with their area and slot, written out: each
    decision reads them, and Django builds this join at several times the cost of running it.
    One row per counter: the area's Office columns, then counter id, slot id, slot code,
    capacity, taken."""
    q = connection.ops.quote_name

    def c(field: str) -> str:
        return f"c.{_column(AreaSlotCapacity, field)}"

    where = f"{c('sitting')} = %s" + (f" AND {c('area')} = %s" if one_area else "")
    # Identifiers come from the models' _meta, every value is a parameter (hence the noqa).
    return (
        f"SELECT o.*, {c('id')} AS counter_id, {c('slot')} AS counter_slot_id,"  # noqa: S608
        f" s.{_column(Slot, 'code')} AS counter_slot_code,"
        f" {c('capacity')} AS counter_capacity, {c('taken')} AS counter_taken"
        f" FROM {q(AreaSlotCapacity._meta.db_table)} c"
        f" JOIN {q(Office._meta.db_table)} o ON o.{_column(Office, 'id')} = {c('area')}"
        f" JOIN {q(Slot._meta.db_table)} s ON s.{_column(Slot, 'id')} = {c('slot')}"
        f" WHERE {where}"
        f" ORDER BY o.{_column(Office, 'region_code')}, s.{_column(Slot, 'starts_at')}, {c('id')}"
    )


def _column(model: Any, name: str) -> str:
    """The quoted column of `model`'s field `name` (for the statements written out here)."""
    return connection.ops.quote_name(model._meta.get_field(name).column)


def sitting_area_seats(sitting: Sitting) -> AreaSeatsMap:
    """The sitting's exam areas (those with seat counters) with free seats per slot code, read
    lazily (`AreaSeatsMap`)."""
    return AreaSeatsMap(sitting)


def live_entries(candidate: Candidate, sitting: Sitting, *, lock: bool = False) -> list[Entry]:
    """The candidate's current (not cancelled) entries in the sitting, by slot then course.

    `lock` (inside a transaction): the rows are locked FOR UPDATE on PostgreSQL, so a
    concurrent cancel (the lapsed-hold sweeper) waits for the caller and then sees its result."""
    qs = Entry.objects.filter(LIVE, candidate=candidate, sitting=sitting)
    if lock:
        qs = qs.select_for_update(of=("self",))
    return list(
        qs.select_related("course", "slot", "area").order_by(
            F("slot__starts_at").asc(nulls_last=True), "course__code", "pk"
        )
    )


def held_entries(entries: list[Entry]) -> list[rules.HeldEntry]:
    return [rules.HeldEntry(e.course.code, e.slot.code if e.slot else None, e.area_id) for e in entries]


@dataclass(frozen=True)
class DecisionProbe:
    """One query a service runs after taking the candidate's lock: the sitting as it is now, and
    which of the candidate's reads can be left out because there is nothing to read (no current
    entry in the sitting, no earlier submission under the idempotency key, no violation at all,
    no score row at all) or because the answer is already here (one active plan). Reads that
    are not left out still go through their owners' selectors."""

    sitting: Sitting
    has_live_entries: bool
    submission_id: int | None
    plan_ids: list[int] | None  # None: more than one active plan (read them)
    has_violations: bool = True
    has_scores: bool = True


@functools.cache
def _probe_sql() -> str:
    """The probe's SQL, written out: Django compiles six annotated subqueries on every call at
    several times the cost of running them, and this runs on every entry request."""

    def table(model: Any) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    col = _column

    entry, major, submission = Entry, CandidateMajor, EntrySubmission
    # Identifiers come from the models' _meta, every value is a parameter (hence the noqa).
    plans = (
        f"SELECT m.{col(major, 'plan')} FROM {table(major)} m WHERE m.{col(major, 'candidate')} = %(c)s"  # noqa: S608
        f" AND m.{col(major, 'active')} ORDER BY m.{col(major, 'registered_on')}, m.{col(major, 'id')}"
    )
    return (
        f"SELECT s.*,"  # noqa: S608
        f" EXISTS (SELECT 1 FROM {table(entry)} e WHERE e.{col(entry, 'candidate')} = %(c)s"
        f" AND e.{col(entry, 'sitting')} = s.{col(Sitting, 'id')}"
        f" AND e.{col(entry, 'status')} <> %(cancelled)s) AS probe_live,"
        f" EXISTS (SELECT 1 FROM {table(Violation)} v WHERE v.{col(Violation, 'candidate')} = %(c)s)"
        f" AS probe_violations,"
        f" EXISTS (SELECT 1 FROM {table(Score)} x WHERE x.{col(Score, 'candidate')} = %(c)s) AS probe_scores,"
        f" ({plans} LIMIT 1) AS probe_plan_1,"
        f" ({plans} LIMIT 1 OFFSET 1) AS probe_plan_2,"
        f" (SELECT u.{col(submission, 'id')} FROM {table(submission)} u"
        f" WHERE u.{col(submission, 'candidate')} = %(c)s"
        f" AND u.{col(submission, 'idempotency_key')} = %(key)s) AS probe_submission"
        f" FROM {table(Sitting)} s WHERE s.{col(Sitting, 'id')} = %(s)s"
    )


def decision_probe(
    candidate: Candidate, sitting: Sitting, *, idempotency_key: str | None = None
) -> DecisionProbe:
    """Read the probe (NotFound when the sitting is gone). Run it after the candidate's lock:
    it is a new statement, so it sees what the lock holder before us committed."""
    params = {
        "c": candidate.pk,
        "s": sitting.pk,
        "cancelled": Entry.Status.CANCELLED.value,
        "key": idempotency_key or "",  # "" is never a stored key (1–64 characters)
    }
    sitting_row = next(iter(Sitting.objects.raw(_probe_sql(), params)), None)
    if sitting_row is None:
        raise NotFound()
    row = vars(sitting_row)  # the probe's columns ride along on the Sitting row
    plan_ids: list[int] | None
    if row["probe_plan_2"] is not None:
        plan_ids = None
    else:
        plan_ids = [row["probe_plan_1"]] if row["probe_plan_1"] is not None else []
    return DecisionProbe(
        sitting=sitting_row,
        has_live_entries=bool(row["probe_live"]),
        submission_id=row["probe_submission"],
        plan_ids=plan_ids,
        has_violations=bool(row["probe_violations"]),
        has_scores=bool(row["probe_scores"]),
    )


@dataclass
class EntryContext:
    """Everything `rules.entry_refusals` needs for one candidate and sitting, read at `now`."""

    sitting: Sitting
    now: datetime
    offered: dict[str, str]
    slots: dict[str, Slot]
    courses: dict[str, Course]
    eligibility: dict[str, str | None]
    entries: list[Entry]
    areas: MutableMapping[int, rules.AreaSeats]
    max_courses: int
    fee_fen: int
    hold_minutes: int
    suspended_until: date | None
    slot_labels: dict[str, str] = field(default_factory=dict)
    course_names: dict[str, str] | None = None

    @property
    def names(self) -> dict[str, str]:
        if self.course_names is not None:
            return self.course_names
        return {code: course.name for code, course in self.courses.items()}

    @property
    def held(self) -> list[rules.HeldEntry]:
        return held_entries(self.entries)

    @property
    def window_state(self) -> str:
        return rules.window_state(self.sitting.entry_opens_at, self.sitting.entry_closes_at, self.now)


def entry_context(
    candidate: Candidate,
    sitting: Sitting,
    *,
    at: datetime | None = None,
    lock: bool = False,
    probe: DecisionProbe | None = None,
) -> EntryContext:
    """Read the context of a decision (the services call it under the candidate's lock, with
    `lock`: the candidate's current entries of the sitting are then locked too; and with the
    `probe` they read after the lock, which spares the reads it shows to be empty).

    Read now: the candidate's entries, passes and suspension; the seat counters lazily
    (`AreaSeatsMap`). From the process memo (`entries.cache`): the timetable, slots, policy,
    payment hold and the plans' engine inputs."""
    instant = at or clock.now()
    tokens = entry_cache.read_tokens(sitting.pk)
    ref = sitting_reference(sitting, tokens)
    # No violation row at all: conduct's selector decides from the (empty) list of rows.
    violations: Candidate | list[Violation] = candidate if probe is None or probe.has_violations else []
    period = suspension_blocks(violations, "entry", on=timezone.localdate(instant))
    has_entries = probe is None or probe.has_live_entries
    return EntryContext(
        sitting=sitting,
        now=instant,
        offered=ref.offered,
        slots=ref.slots,
        courses=ref.courses,
        eligibility=candidate_eligibility(
            candidate,
            at=instant,
            plan_ids=probe.plan_ids if probe is not None else None,
            tokens=tokens,
            has_scores=probe is None or probe.has_scores,
        ),
        entries=live_entries(candidate, sitting, lock=lock) if has_entries else [],
        areas=sitting_area_seats(sitting),
        max_courses=ref.max_courses,
        fee_fen=ref.fee_fen,
        hold_minutes=ref.hold_minutes,
        suspended_until=period.ends if period is not None else None,
        slot_labels=ref.slot_labels,
        course_names=ref.names,
    )


# --- the entry page / API overview ------------------------------------------------------------


@dataclass(frozen=True)
class CourseOption:
    """An offered course of the candidate's plan: its slot and whether it can be added now."""

    code: str
    name: str
    kind: str
    slot: str
    slot_label: str
    starts_at: datetime | None
    ends_at: datetime | None
    entry: Entry | None
    refusal: rules.EntryRefusal | None

    @property
    def enterable(self) -> bool:
        return self.entry is None and self.refusal is None


@dataclass(frozen=True)
class SlotSeats:
    slot: str
    slot_label: str
    free: int


@dataclass(frozen=True)
class AreaOption:
    id: int
    name: str
    seats: tuple[SlotSeats, ...]
    has_free_seats: bool


@dataclass(frozen=True)
class EntryOverview:
    """What the entry page shows for one candidate and sitting."""

    window: SittingWindow
    max_courses: int
    fee_fen: int
    hold_minutes: int
    suspended_until: date | None
    blocked: rules.EntryRefusal | None  # window closed or suspension: nothing can be entered
    courses: tuple[CourseOption, ...]
    areas: tuple[AreaOption, ...]
    entries: tuple[Entry, ...]
    area: int | None  # the area of the current entries, else the candidate's county if an exam area
    slots: tuple[tuple[str, str], ...]  # (code, label) of the sitting's slots in time order


def candidate_entry_overview(
    candidate: Candidate, window: SittingWindow, *, at: datetime | None = None
) -> EntryOverview:
    """The offered courses of the candidate's plan(s) with their slot and why each can or cannot
    be added (`rules.course_standing`), the exam areas with free seats per slot, the current
    entries and the area to preselect."""
    ctx = entry_context(candidate, window.sitting, at=at)
    held = ctx.held
    by_course = {e.course.code: e for e in ctx.entries}
    codes = [c for c in ctx.eligibility if c in ctx.offered]
    slot_keys = {code: rules.slot_order(code) for code in ctx.slots}
    codes.sort(key=lambda c: (slot_keys.get(ctx.offered[c], (99, "")), c))
    options = []
    for code in codes:
        slot = ctx.slots.get(ctx.offered[code])
        course = ctx.courses[code]
        options.append(
            CourseOption(
                code=code,
                name=course.name,
                kind=course.kind,
                slot=ctx.offered[code],
                slot_label=slot_label(ctx.offered[code]),
                starts_at=slot.starts_at if slot else None,
                ends_at=slot.ends_at if slot else None,
                entry=by_course.get(code),
                refusal=None
                if code in by_course
                else rules.course_standing(
                    code,
                    offered=ctx.offered,
                    eligibility=ctx.eligibility,
                    existing=held,
                    max_courses=ctx.max_courses,
                    slot_labels=ctx.slot_labels,
                    names=ctx.names,
                ),
            )
        )
    slot_codes = sorted(ctx.slots, key=rules.slot_order)
    areas = tuple(
        AreaOption(
            id=a.area,
            name=a.name,
            seats=tuple(SlotSeats(s, slot_label(s), a.free_in(s)) for s in slot_codes),
            has_free_seats=any(a.free_in(s) > 0 for s in slot_codes),
        )
        for a in sorted(ctx.areas.values(), key=lambda a: (a.name, a.area))
    )
    if ctx.entries:
        chosen: int | None = ctx.entries[0].area_id
    elif candidate.county_office_id in ctx.areas:
        chosen = candidate.county_office_id
    else:
        chosen = None
    blocked = rules.window_refusal(
        window.sitting.entry_opens_at,
        window.sitting.entry_closes_at,
        ctx.now,
        tz=timezone.get_current_timezone(),
    ) or rules.suspension_refusal(ctx.suspended_until)
    return EntryOverview(
        window=window,
        max_courses=ctx.max_courses,
        fee_fen=ctx.fee_fen,
        hold_minutes=ctx.hold_minutes,
        suspended_until=ctx.suspended_until,
        blocked=blocked,
        courses=tuple(options),
        areas=areas,
        entries=tuple(ctx.entries),
        area=chosen,
        slots=tuple((s, slot_label(s)) for s in slot_codes),
    )


# --- my entries -------------------------------------------------------------------------------


def candidate_entries(
    candidate: Candidate, *, sitting: Sitting | None = None, live_only: bool = False
) -> list[Entry]:
    """The candidate's entries (newest sitting first, then by slot and course); with `sitting`,
    only that sitting's; with `live_only`, cancelled ones left out."""
    qs = Entry.objects.filter(candidate=candidate)
    if sitting is not None:
        qs = qs.filter(sitting=sitting)
    if live_only:
        qs = qs.filter(LIVE)
    return list(
        qs.select_related("course", "slot", "area", "sitting").order_by(
            "-sitting__label", F("slot__starts_at").asc(nulls_last=True), "course__code", "-created_at", "-pk"
        )
    )


def candidate_entry_get(candidate: Candidate, entry_id) -> Entry:
    """One of the candidate's entries; NotFound when missing, malformed or someone else's."""
    try:
        pk = int(entry_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 0 < pk < 2**63:
        raise NotFound()
    entry = (
        Entry.objects.filter(pk=pk, candidate=candidate)
        .select_related("course", "slot", "area", "sitting")
        .first()
    )
    if entry is None:
        raise NotFound()
    return entry
