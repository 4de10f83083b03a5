"""Entering courses for a sitting (报考): enter, swap, change area, cancel — and the seats.

Every write here follows one pattern, so no seat is ever sold twice and no rule is skipped
whatever the concurrency (PostgreSQL or SQLite):

1. the candidate is locked first (`SELECT … FOR UPDATE` on PostgreSQL; on SQLite the database
   write lock is taken before anything is read), so two requests of one candidate run one after
   the other and both see each other's entries when checking the maximum, slots and area;
2. the decision is `rules.entry_refusals` over `selectors.entry_context` (plan engine, visible
   passes, timetable, suspension, free seats) — every refusal has a stable code;
3. seats are taken with a conditional UPDATE of each (area, slot) counter,
   ``UPDATE … SET taken = taken + 1 WHERE id = ? AND taken < capacity``, the counters locked in
   counter-id order (no deadlocks between candidates; on PostgreSQL one statement for all the
   request's counters); a counter that does not move means the area is full and the
   whole request rolls back (ENTRY_AREA_FULL with the areas that still have seats). Entering
   courses takes the seats as its last write (entries, submission and audit are written first),
   so the counters, which every candidate of an area updates, stay locked only until the commit;
4. the unique constraints on Entry (once per course and sitting, one course per slot) are the
   backstop: an IntegrityError becomes ENTRY_DUPLICATE / ENTRY_SLOT_CLASH, never a 500.

Entries start PENDING_PAYMENT with the province's fee and a hold until `now + payment hold`
(CONFIRMED at once when the fee is 0). Paying is `entries.payments`' work; it gives seats back
through `release_seats` (an unpaid hold that lapsed) and learns about cancellations through the
`on_entry_cancelled` hooks (a paid entry cancelled → refund).

Rate limits (per candidate and per client address) → ENTRY_RATE_LIMITED (429, retry_after).
An idempotency key makes a repeated submit return the same entries and write nothing.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.accounts.permissions import Perm, require_candidate_in_scope, require_perm
from zikao.candidates.models import Candidate
from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.core.ratelimit import Limit, RateLimited, hit_many
from zikao.entries import rules
from zikao.entries.models import AreaSlotCapacity, Entry, EntrySubmission
from zikao.entries.selectors import (
    AreaSeatsMap,
    EntryContext,
    decision_probe,
    entry_context,
    live_entries,
    sitting_area_seats,
)

logger = logging.getLogger(__name__)

# Fixed windows: enough for a person (and a few retries), not for a script hoarding seats.
CREATE_PER_CANDIDATE = Limit("entry-write-candidate", 20, 60)
CREATE_PER_IP = Limit("entry-write-ip", 300, 60)
CANCEL_PER_CANDIDATE = Limit("entry-cancel-candidate", 20, 60)

MAX_REQUESTED_COURSES = 20
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,64}$")
_CODE_RE = re.compile(r"^\d{5}$")
_CLOSED_RECORDS = (Candidate.Status.TRANSFERRED_OUT, Candidate.Status.MERGED)


# --- errors -------------------------------------------------------------------------------------


class EntryRefused(DomainError):
    """A rule said no. `code`/`message` are the first refusal's; `fields` carries its field,
    course and details plus every refusal (`refusals`), for forms that show each next to its
    course. HTTP status per `rules.http_status` (409 conflicts, 422 rules)."""

    def __init__(self, refusals: Sequence[rules.EntryRefusal]):
        first = refusals[0]
        fields = {
            "field": first.field,
            "course": first.course,
            **dict(first.details),
            "refusals": [r.as_dict() for r in refusals],
        }
        super().__init__(first.code, first.message, fields)
        self.status = rules.http_status(first.code)
        self.refusals = list(refusals)


class EntryRateLimited(DomainError):
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(
            rules.ENTRY_RATE_LIMITED, _("报考操作过于频繁，请稍后再试。"), {"retry_after": retry_after}
        )
        self.retry_after = retry_after


# --- cancellation hooks (payments registers here) -------------------------------------------------

CancelHook = Callable[..., None]
_cancel_hooks: list[CancelHook] = []
_HOOK_MODULES = ("zikao.entries.payments",)
_hook_modules_loaded = False


def on_entry_cancelled(func: CancelHook) -> CancelHook:
    """Register `func(entry, *, previous_status, reason)`, called inside the cancelling
    transaction for every entry that a call of `release_seats` actually cancelled (so once per
    entry): e.g. `entries.payments` requests the refund of a paid (previously CONFIRMED) entry.
    Do external work (provider calls) in `transaction.on_commit`. Usable as a decorator."""
    if func not in _cancel_hooks:
        _cancel_hooks.append(func)
    return func


def _load_hook_modules() -> None:
    """Import the modules that register hooks (if they exist) before the first dispatch."""
    global _hook_modules_loaded
    if _hook_modules_loaded:
        return
    for name in _HOOK_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    _hook_modules_loaded = True


def _dispatch_cancelled(entry: Entry, previous_status: str, reason: str) -> None:
    _load_hook_modules()
    for hook in list(_cancel_hooks):
        hook(entry, previous_status=previous_status, reason=reason)


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntriesResult:
    """What a create or swap did: the entries it made (or, `replayed`, made earlier under the
    same idempotency key), the entries it gave up, and lapsed unpaid holds it released."""

    entries: list[Entry]
    replayed: bool = False
    released: list[Entry] = field(default_factory=list)
    expired: list[Entry] = field(default_factory=list)


# --- helpers ----------------------------------------------------------------------------------


def _authorise(actor: Actor, candidate: Candidate) -> None:
    """The candidate themself, the system, or staff with ENTRIES_MANAGE over the candidate."""
    if actor.kind == "candidate":
        if actor.label != candidate.candidate_no:
            raise NotFound()
        return
    if actor.kind == "system":
        return
    if actor.kind == "staff":
        require_perm(actor.user, Perm.ENTRIES_MANAGE)
        require_candidate_in_scope(actor.user, candidate)
        return
    raise NotFound()


def _rate_limit(actor: Actor, candidate: Candidate, per_candidate: Limit, per_ip: Limit | None) -> None:
    hits = [(per_candidate, str(candidate.pk))]
    if per_ip is not None and actor.ip:
        hits.append((per_ip, actor.ip))
    try:
        hit_many(hits)  # one cache round trip, in this order (the address is not counted past the first)
    except RateLimited as exc:
        raise EntryRateLimited(exc.retry_after) from None


def clean_idempotency_key(key: str | None) -> str | None:
    """None / "" → None; else 1–64 visible ASCII characters (ENTRY_IDEMPOTENCY_KEY_INVALID)."""
    if key is None or key == "":
        return None
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ValidationFailed(
            rules.ENTRY_IDEMPOTENCY_KEY_INVALID,
            _("幂等键须为1至64个可见ASCII字符。"),
            {"idempotency_key": "invalid"},
        )
    return key


def _clean_codes(codes: Iterable[str] | None, name: str) -> list[str]:
    """Course codes as given (trimmed, repeats dropped); malformed or too many → ValidationFailed."""
    cleaned: list[str] = []
    for raw in codes or ():
        code = str(raw).strip()
        if not _CODE_RE.match(code):
            raise ValidationFailed(
                "ENTRY_COURSE_CODE_INVALID",
                _("课程代码应为5位数字：%(code)s。") % {"code": code[:20]},
                {name: code[:20]},
            )
        if code not in cleaned:
            cleaned.append(code)
    if len(cleaned) > MAX_REQUESTED_COURSES:
        raise ValidationFailed("ENTRY_COURSE_CODE_INVALID", _("一次选择的课程过多。"), {name: len(cleaned)})
    return cleaned


def _area_id(area: Office | int | str | None) -> int | None:
    if area is None or area == "":
        return None
    if isinstance(area, Office):
        return area.pk
    try:
        value = int(area)
    except (TypeError, ValueError):
        return -1  # not an area: ENTRY_AREA_INVALID
    return value if 0 < value < 2**63 else -1


def _lock_candidate(candidate: Candidate) -> Candidate:
    """Serialise this candidate's entry writes and return the fresh row.

    PostgreSQL: a row lock on the candidate. SQLite has no row locks: a no-op UPDATE takes the
    database write lock before anything is read, so the reads that follow cannot be overtaken
    by another writer (and a deferred transaction never has to upgrade a read lock)."""
    table = Candidate._meta.db_table
    pk = Candidate._meta.pk.column
    # Written out (the row as the ORM would load it): this runs on every entry request.
    select = f'SELECT * FROM "{table}" WHERE "{pk}" = %s'  # noqa: S608
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f'UPDATE "{table}" SET "{pk}" = "{pk}" WHERE "{pk}" = %s', [candidate.pk])  # noqa: S608
    else:
        select += " FOR UPDATE"
    row = next(iter(Candidate.objects.raw(select, [candidate.pk])), None)
    if row is None:
        raise NotFound()
    if row.status in _CLOSED_RECORDS:
        raise EntryRefused(
            [rules.EntryRefusal(rules.ENTRY_RECORD_CLOSED, str(_("您的考籍已转出或已合并，不能报考。")))]
        )
    return row


def _fresh_sitting(sitting: Sitting) -> Sitting:
    row = Sitting.objects.filter(pk=sitting.pk).first()
    if row is None:
        raise NotFound()
    return row


def _entry_snapshot(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "course": entry.course.code,
        "slot": entry.slot.code if entry.slot else None,
        "area": entry.area_id,
        "status": entry.status,
        "fee_fen": entry.fee_fen,
        "hold_expires_at": entry.hold_expires_at,
    }


def _take_seats(
    sitting: Sitting,
    area_id: int,
    slot_ids: Iterable[int],
    known: dict[int, int] | None = None,
    *,
    lapsed_at: datetime | None = None,
) -> int | None:
    """Take one seat per slot in `area_id`: a conditional UPDATE (`taken < capacity`) of each
    counter, locked in counter-id order — on PostgreSQL all in one statement (`_take_many`),
    elsewhere one UPDATE per counter. Returns the id of the first slot (in counter-id order)
    whose counter did not move (full or no counter), or None when every seat was taken. The
    caller rolls back on a full slot.

    `known`: slot id → counter id as already read (else read here). `lapsed_at`: when a counter
    does not move, first release the lapsed unpaid holds of that area and slot (`now`), then
    try it once more — the decision did not release them when the area seemed to have room."""
    wanted = set(slot_ids)
    counters = {slot: pk for slot, pk in (known or {}).items() if slot in wanted}
    if set(counters) != wanted:
        counters = dict(
            AreaSlotCapacity.objects.filter(sitting=sitting, area_id=area_id, slot_id__in=wanted).values_list(
                "slot_id", "pk"
            )
        )
    missing = sorted(wanted - set(counters))
    if missing:
        return missing[0]
    ordered = sorted(counters.items(), key=lambda item: item[1])
    batch = len(ordered) > 1 and connection.vendor == "postgresql"
    moved = _take_many([counter for _slot, counter in ordered]) if batch else set()
    for slot_id, counter in ordered:
        if counter in moved or (not batch and _take_one(counter)):
            continue
        if lapsed_at is None:
            return slot_id
        from zikao.entries.payments import holds_expire_for  # payments imports this module

        if not (holds_expire_for(sitting=sitting, area=area_id, slots=[slot_id], now=lapsed_at)):
            return slot_id
        if not _take_one(counter):
            return slot_id
    return None


def _take_one(counter: int) -> bool:
    moved = AreaSlotCapacity.objects.filter(pk=counter, taken__lt=F("capacity")).update(taken=F("taken") + 1)
    return moved == 1


@functools.cache
def _take_many_sql() -> str:
    meta = AreaSlotCapacity._meta
    q = connection.ops.quote_name
    table, pk = q(meta.db_table), q(meta.pk.column)
    taken, capacity = q(meta.get_field("taken").column), q(meta.get_field("capacity").column)
    # The CTE locks the counters in id order (as `_take_one` one by one would), so two requests
    # never wait for each other crosswise; the UPDATE is the same conditional one.
    return (
        f"WITH locked AS MATERIALIZED (SELECT {pk} FROM {table} WHERE {pk} = ANY(%s)"  # noqa: S608
        f" ORDER BY {pk} FOR UPDATE)"
        f" UPDATE {table} SET {taken} = {table}.{taken} + 1 FROM locked"
        f" WHERE {table}.{pk} = locked.{pk} AND {table}.{taken} < {table}.{capacity}"
        f" RETURNING {table}.{pk}"
    )


def _take_many(counters: list[int]) -> set[int]:
    """PostgreSQL: one conditional UPDATE of several counters; the ids of those that moved."""
    with connection.cursor() as cursor:
        cursor.execute(_take_many_sql(), [counters])
        return {row[0] for row in cursor.fetchall()}


def _give_back(counts: dict[tuple[int, int, int], int]) -> None:
    """Return seats: (sitting id, area id, slot id) → how many, in counter-id order. Never below 0."""
    if not counts:
        return
    match = Q(pk__in=[])
    for sitting_id, area_id, slot_id in counts:
        match |= Q(sitting_id=sitting_id, area_id=area_id, slot_id=slot_id)
    counters = AreaSlotCapacity.objects.filter(match).values_list("pk", "sitting_id", "area_id", "slot_id")
    for pk, sitting_id, area_id, slot_id in sorted(counters):
        n = counts[(sitting_id, area_id, slot_id)]
        AreaSlotCapacity.objects.filter(pk=pk).update(taken=Greatest(F("taken") - n, 0))


def _area_full(sitting: Sitting, area_id: int, slot_code: str) -> EntryRefused:
    areas = sitting_area_seats(sitting)  # read again: the counters just moved
    from zikao.entries.selectors import slot_label

    return EntryRefused(
        [
            rules.area_full_refusal(
                slot_code, areas.get(area_id), areas.values(), slot_label=slot_label(slot_code)
            )
        ]
    )


def _scores_changed(candidate_id: int) -> None:
    """A confirmed entry is part of the candidate's sittings list (scores.cache): refresh it."""
    from zikao.scores.cache import candidate_scores_changed

    candidate_scores_changed(candidate_id)


# --- seats given back (also for entries.payments) --------------------------------------------


def release_seats(entries: Iterable[Entry], *, reason: str, at: datetime | None = None) -> list[Entry]:
    """Cancel `entries` (with `reason`, an `Entry.CancelReason`) and give their seats back.

    For internal callers that audit themselves (the entry services; `entries.payments` when an
    unpaid hold lapses or the office cancels an order). No window or permission check. Safe
    against races: each entry is cancelled by a conditional UPDATE on its current status, so an
    entry cancelled meanwhile by another call is skipped and its seat is never given back twice.
    Runs the `on_entry_cancelled` hooks for each entry it cancelled; returns those entries
    (refreshed: status CANCELLED)."""
    if reason not in Entry.CancelReason.values:
        raise ValueError(f"unknown cancel reason {reason!r}")
    instant = at or clock.now()
    done: list[tuple[Entry, str]] = []
    with transaction.atomic():
        for entry in sorted(entries, key=lambda e: e.pk):
            for current in (Entry.Status.PENDING_PAYMENT.value, Entry.Status.CONFIRMED.value):
                moved = Entry.objects.filter(pk=entry.pk, status=current).update(
                    status=Entry.Status.CANCELLED, cancelled_at=instant, cancel_reason=reason
                )
                if moved:
                    done.append((entry, current))
                    break
        # Where each seat was is read after the UPDATE (the row is ours now): the caller's copy
        # may predate an area change.
        counts: dict[tuple[int, int, int], int] = {}
        where = Entry.objects.filter(pk__in=[e.pk for e, _previous in done]).values_list(
            "sitting_id", "area_id", "slot_id"
        )
        for sitting_id, area_id, slot_id in where:
            if slot_id is not None:
                key = (sitting_id, area_id, slot_id)
                counts[key] = counts.get(key, 0) + 1
        _give_back(counts)
        released: list[Entry] = []
        for entry, previous in done:
            entry.status = Entry.Status.CANCELLED
            entry.cancelled_at = instant
            entry.cancel_reason = reason
            released.append(entry)
            if previous == Entry.Status.CONFIRMED:
                _scores_changed(entry.candidate_id)
            _dispatch_cancelled(entry, previous, reason)
    return released


def _expire_lapsed(ctx: EntryContext, candidate: Candidate, area_id: int | None = None) -> list[Entry]:
    """Give back the seats of the candidate's own unpaid holds in this sitting that lapsed, then,
    with `area_id`, the lapsed holds of everyone else in that area, so a hold that ran out never
    makes an area look full (the payments sweeper does the same every minute; whichever comes
    first does it, once). Returns the candidate's own entries released. (Entering courses
    releases the others' holds only where they matter: `_free_lapsed_where_short`.)"""
    lapsed = [
        e
        for e in ctx.entries
        if e.status == Entry.Status.PENDING_PAYMENT
        and e.hold_expires_at is not None
        and e.hold_expires_at <= ctx.now
    ]
    expired = release_seats(lapsed, reason=Entry.CancelReason.UNPAID, at=ctx.now) if lapsed else []
    if expired:
        ctx.entries = live_entries(candidate, ctx.sitting, lock=True)
    others: list[Entry] = []
    if area_id is not None:
        from zikao.entries.payments import holds_expire_for  # payments imports this module

        others = holds_expire_for(sitting=ctx.sitting, area=area_id, now=ctx.now)
    if expired or others:
        ctx.areas = sitting_area_seats(ctx.sitting)
    return expired


def _free_lapsed_where_short(ctx: EntryContext, codes: Sequence[str], area_id: int | None) -> list[Entry]:
    """Before deciding: where the chosen area seems to lack a seat for a requested course, give
    back the lapsed unpaid holds of everyone in that area and slot (so a hold that ran out never
    makes an area look full), and read its counters again. Where it has room nothing is done:
    the sweeper frees those within the minute, and `_take_seats` frees them if a counter does
    not move after all. Returns the entries released."""
    if area_id is None or area_id not in ctx.areas:
        return []
    needed: dict[str, int] = {}
    for code in codes:
        if code in ctx.offered:
            needed[ctx.offered[code]] = needed.get(ctx.offered[code], 0) + 1
    seats = ctx.areas[area_id]
    short = [slot for slot, n in needed.items() if seats.free_in(slot) < n and slot in ctx.slots]
    if not short:
        return []
    from zikao.entries.payments import holds_expire_for  # payments imports this module

    released = holds_expire_for(
        sitting=ctx.sitting, area=area_id, slots=[ctx.slots[slot] for slot in short], now=ctx.now
    )
    if released:
        ctx.areas = sitting_area_seats(ctx.sitting)
    return released


def _enter(ctx: EntryContext, candidate: Candidate, codes: Sequence[str], area_id: int) -> list[Entry]:
    """Create the entries in one INSERT (rules already passed); their seats are taken last, by
    `_seat`, just before the commit."""
    ordered = sorted(codes, key=lambda c: (rules.slot_order(ctx.offered[c]), c))
    pending = ctx.fee_fen > 0
    hold = ctx.now + timedelta(minutes=ctx.hold_minutes) if pending else None
    office = ctx.areas.office(area_id) if isinstance(ctx.areas, AreaSeatsMap) else None
    where: dict[str, Any] = {"area": office} if office is not None else {"area_id": area_id}
    created = Entry.objects.bulk_create(
        [
            Entry(
                candidate=candidate,
                sitting=ctx.sitting,
                course=ctx.courses[code],
                slot=ctx.slots[ctx.offered[code]],
                status=Entry.Status.PENDING_PAYMENT if pending else Entry.Status.CONFIRMED,
                fee_fen=ctx.fee_fen,
                hold_expires_at=hold,
                created_at=ctx.now,
                **where,
            )
            for code in ordered
        ]
    )
    if not pending:
        _scores_changed(candidate.pk)
    return created


def _seat(ctx: EntryContext, area_id: int, entries: Sequence[Entry]) -> None:
    """Take a seat in `area_id` for each new entry's slot: the service's last write, so the
    seat counters (the rows every candidate of the area updates) stay locked only until the
    commit that follows. A counter that does not move → ENTRY_AREA_FULL, and the whole
    transaction (entries, submission, audit) rolls back."""
    slots = {e.slot.pk: e.slot for e in entries if e.slot is not None}
    known = ctx.areas.counters(area_id) if isinstance(ctx.areas, AreaSeatsMap) else None
    full = _take_seats(ctx.sitting, area_id, list(slots), known, lapsed_at=ctx.now)
    if full is not None:
        raise _area_full(ctx.sitting, area_id, slots[full].code)


def _check(
    ctx: EntryContext, *, requested: Sequence[str], area_id: int | None, removing: Sequence[str] = ()
) -> None:
    refusals = rules.entry_refusals(
        now=ctx.now,
        opens_at=ctx.sitting.entry_opens_at,
        closes_at=ctx.sitting.entry_closes_at,
        offered=ctx.offered,
        eligibility=ctx.eligibility,
        existing=ctx.held,
        requested=requested,
        area=area_id,
        max_courses=ctx.max_courses,
        suspended_until=ctx.suspended_until,
        areas=ctx.areas,
        removing=removing,
        slot_labels=ctx.slot_labels,
        names=ctx.names,
        tz=timezone.get_current_timezone(),
    )
    if refusals:
        raise EntryRefused(refusals)


def _find_submission(candidate: Candidate, key: str | None, request: dict) -> EntriesResult | None:
    """The earlier result under `key`, or None. A key used for another request is refused."""
    if key is None:
        return None
    submission = EntrySubmission.objects.filter(candidate=candidate, idempotency_key=key).first()
    if submission is None:
        return None
    if submission.request != request:
        raise ValidationFailed(
            rules.ENTRY_IDEMPOTENCY_KEY_REUSED,
            _("该幂等键已用于另一次不同的报考请求，请为新请求使用新的幂等键。"),
            {"idempotency_key": key},
        )
    entries = list(
        submission.entries.select_related("course", "slot", "area", "sitting").order_by(
            F("slot__starts_at").asc(nulls_last=True), "course__code"
        )
    )
    return EntriesResult(entries=entries, replayed=True)


def _record_submission(
    candidate: Candidate,
    sitting: Sitting,
    kind: str,
    key: str | None,
    request: dict,
    entries: list[Entry],
    now,
) -> None:
    if key is None:
        return
    submission = EntrySubmission.objects.create(
        candidate=candidate, sitting=sitting, kind=kind, idempotency_key=key, request=request, created_at=now
    )
    link = EntrySubmission.entries.through
    link.objects.bulk_create([link(entrysubmission_id=submission.pk, entry_id=e.pk) for e in entries])


def _integrity_refusals(
    candidate: Candidate, sitting: Sitting, codes: Sequence[str]
) -> list[rules.EntryRefusal]:
    """After a unique-constraint violation (a write that bypassed the lock): which rule it was."""
    live = Entry.objects.filter(~Q(status=Entry.Status.CANCELLED), candidate=candidate, sitting=sitting)
    entered = set(live.values_list("course__code", flat=True))
    refusals = [
        rules.EntryRefusal(
            rules.ENTRY_DUPLICATE, str(_("课程 %(course)s 本考次已报考。")) % {"course": c}, "courses", c
        )
        for c in codes
        if c in entered
    ]
    if refusals:
        return refusals
    return [
        rules.EntryRefusal(
            rules.ENTRY_SLOT_CLASH,
            str(_("所选课程与已报考课程的考试时段冲突，同一时段只能报考一门。")),
            "courses",
        )
    ]


def _guarded(
    run: Callable[[], EntriesResult],
    candidate: Candidate,
    sitting: Sitting,
    key: str | None,
    request: dict,
    codes,
) -> EntriesResult:
    """Run a create/swap; a unique-constraint violation becomes a replay (same key raced) or a
    clean ENTRY_DUPLICATE / ENTRY_SLOT_CLASH — never a 500, never a half write."""
    try:
        return run()
    except IntegrityError:
        logger.info(
            "entry write hit a unique constraint (candidate %s, sitting %s)", candidate.pk, sitting.pk
        )
    with transaction.atomic():
        replay = _find_submission(candidate, key, request)
        if replay is not None:
            return replay
        raise EntryRefused(_integrity_refusals(candidate, sitting, codes))


# --- services ---------------------------------------------------------------------------------


def entries_create(
    *,
    actor: Actor,
    candidate: Candidate,
    sitting: Sitting,
    course_codes: Iterable[str],
    area: Office | int | str | None,
    idempotency_key: str | None = None,
) -> EntriesResult:
    """Enter the candidate for `course_codes` of `sitting` in exam `area` — all or nothing.

    Refuses (EntryRefused, code per `rules`): ENTRY_WINDOW_CLOSED, ENTRY_SUSPENDED,
    ENTRY_RECORD_CLOSED, ENTRY_NO_COURSES, ENTRY_DUPLICATE, ENTRY_COURSE_NOT_IN_PLAN,
    ENTRY_COURSE_NOT_OFFERED, ENTRY_ALREADY_PASSED / _CREDITED, ENTRY_NOT_REQUIRED,
    ENTRY_THEORY_NOT_PASSED, ENTRY_THESIS_NOT_YET, ENTRY_PRECONDITION_NOT_MET, ENTRY_SLOT_CLASH,
    ENTRY_MAX_COURSES, ENTRY_AREA_INVALID, ENTRY_AREA_MISMATCH, ENTRY_AREA_FULL (409, the areas
    with free seats in `fields["areas"]`); ENTRY_RATE_LIMITED (429); malformed input:
    ENTRY_COURSE_CODE_INVALID, ENTRY_IDEMPOTENCY_KEY_INVALID; a key already used for another
    request: ENTRY_IDEMPOTENCY_KEY_REUSED. The same key and request again returns the first
    result (`replayed=True`) and writes nothing. Audit: `entries.entered`.
    """
    _authorise(actor, candidate)
    key = clean_idempotency_key(idempotency_key)
    codes = _clean_codes(course_codes, "courses")
    area_id = _area_id(area)
    _rate_limit(actor, candidate, CREATE_PER_CANDIDATE, CREATE_PER_IP)
    request = {"kind": "create", "sitting": sitting.label, "courses": sorted(codes), "area": area_id}

    @transaction.atomic
    def run() -> EntriesResult:
        locked = _lock_candidate(candidate)
        probe = decision_probe(locked, sitting, idempotency_key=key)
        replay = _find_submission(locked, key, request) if probe.submission_id is not None else None
        if replay is not None:
            return replay
        ctx = entry_context(locked, probe.sitting, lock=True, probe=probe)
        expired = _expire_lapsed(ctx, locked)
        _free_lapsed_where_short(ctx, codes, area_id)
        _check(ctx, requested=codes, area_id=area_id)
        assert area_id is not None  # the rules refuse a missing area
        created = _enter(ctx, locked, codes, area_id)
        _record_submission(locked, ctx.sitting, EntrySubmission.Kind.CREATE, key, request, created, ctx.now)
        audit_record(
            actor=actor,
            event_type="entries.entered",
            subject=ctx.sitting,
            candidate=locked,
            after={
                "area": area_id,
                "entries": [_entry_snapshot(e) for e in created],
                "expired": [e.pk for e in expired],
                "idempotency_key": key,
            },
        )
        _seat(ctx, area_id, created)
        return EntriesResult(entries=created, expired=expired)

    return _guarded(run, candidate, sitting, key, request, codes)


def entries_change(
    *,
    actor: Actor,
    candidate: Candidate,
    sitting: Sitting,
    add: Iterable[str],
    remove: Iterable[str],
    idempotency_key: str | None = None,
) -> EntriesResult:
    """改报: give up the entered courses `remove` and enter `add` instead, in one transaction and
    the same exam area. The seats of the given-up courses are released only if the new entries
    succeed (a full area rolls everything back). Given-up entries are cancelled with reason
    CHANGED (a paid one is refunded through the `on_entry_cancelled` hooks); the new ones start
    unpaid. Refusals as `entries_create`, plus ENTRY_NOT_ENTERED (a course to give up is not
    entered) and ENTRY_NO_COURSES (nothing to add). Audit: `entries.changed`.
    """
    _authorise(actor, candidate)
    key = clean_idempotency_key(idempotency_key)
    adding = _clean_codes(add, "add")
    removing = _clean_codes(remove, "remove")
    _rate_limit(actor, candidate, CREATE_PER_CANDIDATE, CREATE_PER_IP)
    request = {"kind": "change", "sitting": sitting.label, "add": sorted(adding), "remove": sorted(removing)}

    @transaction.atomic
    def run() -> EntriesResult:
        locked = _lock_candidate(candidate)
        probe = decision_probe(locked, sitting, idempotency_key=key)
        replay = _find_submission(locked, key, request) if probe.submission_id is not None else None
        if replay is not None:
            return replay
        ctx = entry_context(locked, probe.sitting, lock=True, probe=probe)
        expired = _expire_lapsed(ctx, locked)
        area_id = ctx.entries[0].area_id if ctx.entries else None
        if not removing:
            raise EntryRefused(
                [rules.EntryRefusal(rules.ENTRY_NOT_ENTERED, str(_("请选择要改报的已报考课程。")), "remove")]
            )
        _check(ctx, requested=adding, area_id=area_id, removing=removing)
        assert area_id is not None
        given_up = [e for e in ctx.entries if e.course.code in removing]
        released = release_seats(given_up, reason=Entry.CancelReason.CHANGED, at=ctx.now)
        created = _enter(ctx, locked, adding, area_id)
        _record_submission(locked, ctx.sitting, EntrySubmission.Kind.CHANGE, key, request, created, ctx.now)
        audit_record(
            actor=actor,
            event_type="entries.changed",
            subject=ctx.sitting,
            candidate=locked,
            before={"entries": [_entry_snapshot(e) for e in given_up]},
            after={
                "area": area_id,
                "entries": [_entry_snapshot(e) for e in created],
                "expired": [e.pk for e in expired],
                "idempotency_key": key,
            },
        )
        _seat(ctx, area_id, created)
        return EntriesResult(entries=created, released=released, expired=expired)

    return _guarded(run, candidate, sitting, key, request, adding)


def entries_change_area(
    *, actor: Actor, candidate: Candidate, sitting: Sitting, area: Office | int | str | None
) -> list[Entry]:
    """Move all the candidate's current entries of `sitting` to another exam area (one area per
    sitting): a seat is taken in the new area for each slot (ENTRY_AREA_FULL rolls back, with
    the areas that still have seats), then the old seats are given back. Refuses
    ENTRY_WINDOW_CLOSED, ENTRY_SUSPENDED, ENTRY_AREA_INVALID, ENTRY_NOTHING_ENTERED,
    ENTRY_AREA_UNCHANGED, ENTRY_RATE_LIMITED. Returns the moved entries. Audit:
    `entries.area_changed`."""
    _authorise(actor, candidate)  # before the transaction: nothing is locked for a stranger
    area_id = _area_id(area)
    _rate_limit(actor, candidate, CREATE_PER_CANDIDATE, CREATE_PER_IP)
    return _change_area(actor, candidate, sitting, area_id)


@transaction.atomic
def _change_area(actor: Actor, candidate: Candidate, sitting: Sitting, area_id: int | None) -> list[Entry]:
    locked = _lock_candidate(candidate)
    ctx = entry_context(locked, _fresh_sitting(sitting), lock=True)
    tz = timezone.get_current_timezone()
    blocked = rules.window_refusal(ctx.sitting.entry_opens_at, ctx.sitting.entry_closes_at, ctx.now, tz=tz)
    blocked = blocked or rules.suspension_refusal(ctx.suspended_until)
    if blocked is not None:
        raise EntryRefused([blocked])
    expired = _expire_lapsed(ctx, locked, area_id)
    if area_id is None or area_id not in ctx.areas:
        raise EntryRefused(
            [rules.EntryRefusal(rules.ENTRY_AREA_INVALID, str(_("请选择本考次设有考场的考区。")), "area")]
        )
    if not ctx.entries:
        raise EntryRefused(
            [rules.EntryRefusal(rules.ENTRY_NOTHING_ENTERED, str(_("您本考次尚未报考任何课程。")), "area")]
        )
    old_area = ctx.entries[0].area_id
    if all(e.area_id == area_id for e in ctx.entries):
        raise EntryRefused(
            [rules.EntryRefusal(rules.ENTRY_AREA_UNCHANGED, str(_("您已在该考区报考，无需更改。")), "area")]
        )
    with_slot = [e for e in ctx.entries if e.slot_id is not None]
    full = _take_seats(ctx.sitting, area_id, [e.slot_id for e in with_slot])  # type: ignore[misc]
    if full is not None:
        slot_code = next(e.slot.code for e in with_slot if e.slot_id == full)  # type: ignore[union-attr]
        raise _area_full(ctx.sitting, area_id, slot_code)
    counts: dict[tuple[int, int, int], int] = {}
    for e in with_slot:
        assert e.slot_id is not None
        key = (ctx.sitting.pk, e.area_id, e.slot_id)
        counts[key] = counts.get(key, 0) + 1
    _give_back(counts)
    Entry.objects.filter(pk__in=[e.pk for e in ctx.entries]).update(area_id=area_id)
    moved = live_entries(locked, ctx.sitting)
    audit_record(
        actor=actor,
        event_type="entries.area_changed",
        subject=ctx.sitting,
        candidate=locked,
        before={"area": old_area, "entries": [e.pk for e in ctx.entries]},
        after={"area": area_id, "expired": [e.pk for e in expired]},
    )
    return moved


def entry_cancel(*, actor: Actor, candidate: Candidate, entry: Entry | int | str) -> Entry:
    """Cancel one of the candidate's entries while the sitting's window is open; its seat is
    given back at once and, if it was paid, the `on_entry_cancelled` hooks request the refund.

    Refuses: NOT_FOUND (missing or someone else's: the same answer), ENTRY_WINDOW_CLOSED,
    ENTRY_ALREADY_CANCELLED (409), ENTRY_RATE_LIMITED. Audit: `entry.cancelled`."""
    _authorise(actor, candidate)
    _rate_limit(actor, candidate, CANCEL_PER_CANDIDATE, None)
    return _cancel(actor, candidate, entry)


@transaction.atomic
def _cancel(actor: Actor, candidate: Candidate, entry: Entry | int | str) -> Entry:
    locked = _lock_candidate(candidate)
    pk = _area_id(entry.pk if isinstance(entry, Entry) else entry)
    row = (
        Entry.objects.filter(pk=pk, candidate=locked).select_related("course", "slot", "sitting").first()
        if pk and pk > 0
        else None
    )
    if row is None:
        raise NotFound()
    if row.status == Entry.Status.CANCELLED:
        raise EntryRefused(
            [rules.EntryRefusal(rules.ENTRY_ALREADY_CANCELLED, str(_("该报考已取消。")), "", row.course.code)]
        )
    now = clock.now()
    closed = rules.window_refusal(
        row.sitting.entry_opens_at, row.sitting.entry_closes_at, now, tz=timezone.get_current_timezone()
    )
    if closed is not None:
        raise EntryRefused([closed])
    before = _entry_snapshot(row)
    reason = Entry.CancelReason.OFFICE if actor.kind == "staff" else Entry.CancelReason.CANDIDATE
    released = release_seats([row], reason=reason, at=now)
    if not released:  # cancelled meanwhile by another call (the lapsed-hold sweeper)
        raise EntryRefused(
            [rules.EntryRefusal(rules.ENTRY_ALREADY_CANCELLED, str(_("该报考已取消。")), "", row.course.code)]
        )
    audit_record(
        actor=actor,
        event_type="entry.cancelled",
        subject=row,
        candidate=locked,
        before=before,
        after={"status": row.status, "cancel_reason": row.cancel_reason},
    )
    return row
