"""Reads for entering courses (报考): windows, what a candidate may enter, free seats, my entries.

Every front door (portal pages, API) reads through these; the services read the same context
(`entry_context`) under the candidate's lock before deciding. Passed courses come only from
`scores.selectors.candidate_passed_courses` (so an unreleased or withheld score never counts),
eligibility only from the plan engine (`catalog.planstore`), suspensions only from
`conduct.selectors.suspension_blocks`. An entry that is not the candidate's raises the same
`NotFound` as a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import F, Q
from django.utils import timezone

from zikao.candidates.models import Candidate, CandidateMajor
from zikao.catalog.models import Course, ProvincePolicy, Sitting, Slot, TimetableEntry
from zikao.catalog.planstore import plan_context
from zikao.catalog.rules import SLOT_LABELS, PassedCourse
from zikao.conduct.selectors import suspension_blocks
from zikao.core import clock
from zikao.core.errors import NotFound
from zikao.entries import rules
from zikao.entries.models import AreaSlotCapacity, Entry, EntrySettings
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


# --- what a candidate may enter ---------------------------------------------------------------


def candidate_eligibility(candidate: Candidate, *, at: datetime | None = None) -> dict[str, str | None]:
    """The plan engine's entry eligibility over the candidate's active plans: plan course code →
    None (may enter) or the engine's reason. A course that any active plan allows is allowed;
    otherwise the first plan's reason stands. Passes come only from `candidate_passed_courses`."""
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
        for p in candidate_passed_courses(candidate, at=instant)
    ]
    merged: dict[str, str | None] = {}
    majors = (
        CandidateMajor.objects.filter(candidate=candidate, active=True)
        .select_related("plan", "plan__major")
        .order_by("registered_on", "pk")
    )
    for cm in majors:
        for code, reason in plan_context(cm.plan).eligibility(passed).items():
            if code not in merged or reason is None:
                merged[code] = reason
    return merged


def sitting_timetable(sitting: Sitting) -> tuple[dict[str, str], dict[str, Slot], dict[str, Course]]:
    """(course code → slot code, slot code → Slot, course code → Course) of the sitting."""
    rows = TimetableEntry.objects.filter(sitting=sitting).select_related("course", "slot")
    offered = {t.course.code: t.slot.code for t in rows}
    slots = {s.code: s for s in Slot.objects.filter(sitting=sitting)}
    courses = {t.course.code: t.course for t in rows}
    return offered, slots, courses


def sitting_area_seats(sitting: Sitting) -> dict[int, rules.AreaSeats]:
    """The sitting's exam areas (those with seat counters) with free seats per slot code."""
    rows = (
        AreaSlotCapacity.objects.filter(sitting=sitting)
        .select_related("area", "slot")
        .order_by("area__region_code", "slot__starts_at")
    )
    names: dict[int, str] = {}
    free: dict[int, dict[str, int]] = {}
    for row in rows:
        names[row.area_id] = row.area.name
        free.setdefault(row.area_id, {})[row.slot.code] = max(row.capacity - row.taken, 0)
    return {area: rules.AreaSeats(area, names[area], free[area]) for area in names}


def hold_minutes(sitting: Sitting) -> int:
    """How long an unpaid entry keeps its seat (EntrySettings of the sitting; default 30)."""
    settings_row = EntrySettings.objects.filter(sitting=sitting).only("payment_hold_minutes").first()
    return settings_row.payment_hold_minutes if settings_row is not None else DEFAULT_HOLD_MINUTES


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
    areas: dict[int, rules.AreaSeats]
    max_courses: int
    fee_fen: int
    hold_minutes: int
    suspended_until: date | None
    slot_labels: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> dict[str, str]:
        return {code: course.name for code, course in self.courses.items()}

    @property
    def held(self) -> list[rules.HeldEntry]:
        return held_entries(self.entries)

    @property
    def window_state(self) -> str:
        return rules.window_state(self.sitting.entry_opens_at, self.sitting.entry_closes_at, self.now)


def entry_context(
    candidate: Candidate, sitting: Sitting, *, at: datetime | None = None, lock: bool = False
) -> EntryContext:
    """Read the context of a decision (the services call it under the candidate's lock, with
    `lock`: the candidate's current entries of the sitting are then locked too)."""
    instant = at or clock.now()
    offered, slots, courses = sitting_timetable(sitting)
    policy = ProvincePolicy.current()
    period = suspension_blocks(candidate, "entry", on=timezone.localdate(instant))
    return EntryContext(
        sitting=sitting,
        now=instant,
        offered=offered,
        slots=slots,
        courses=courses,
        eligibility=candidate_eligibility(candidate, at=instant),
        entries=live_entries(candidate, sitting, lock=lock),
        areas=sitting_area_seats(sitting),
        max_courses=policy.max_courses_per_sitting,
        fee_fen=policy.fee_per_course_fen,
        hold_minutes=hold_minutes(sitting),
        suspended_until=period.ends if period is not None else None,
        slot_labels={code: slot_label(code) for code in slots},
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
