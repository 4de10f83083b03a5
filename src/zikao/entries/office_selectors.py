"""Reads for the exam office's entry pages: sittings with their entry settings, seat counters,
entry lists and payment orders, each scoped to the user's office.

Everything needs ENTRIES_VIEW (any office level). Entries and seat counters are scoped by
their exam area (a city sees its counties' areas, a county its own); payment orders by the
candidate's county office. An object outside the scope raises the same `NotFound` as a
missing one. Exports record an audit event before the first row is read and then yield rows in
primary-key batches (constant memory, no cursor held across the download).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.accounts.permissions import Perm, office_in_scope, office_scope_q, require_perm
from zikao.catalog.models import Course, ProvincePolicy, Sitting, Slot, TimetableEntry
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import NotFound
from zikao.entries.capacity import room_seats_by_area
from zikao.entries.models import (
    AreaSlotCapacity,
    Entry,
    EntrySettings,
    PaymentNotification,
    PaymentOrder,
    Refund,
)
from zikao.entries.settings_services import DEFAULT_HOLD_MINUTES

EXPORT_BATCH = 2000
_ORDER_NO_RE = re.compile(r"^[0-9A-Z]{1,32}$")
_LABEL_RE = re.compile(r"^\d{6}$")


def yuan(fen: int | None) -> str:
    """4500 → "45.00" (amounts are kept in fen; people read yuan)."""
    fen = int(fen or 0)
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def _require_view(user) -> None:
    require_perm(user, Perm.ENTRIES_VIEW)


# --- sittings, policy, settings ---------------------------------------------------------------


@dataclass(frozen=True)
class SittingSettings:
    """A sitting with the entry settings the entry services use (defaults when none stored)."""

    sitting: Sitting
    payment_hold_minutes: int
    tickets_open_at: datetime | None
    stored: bool


def _settings_of(sitting: Sitting, row: EntrySettings | None) -> SittingSettings:
    if row is None:
        return SittingSettings(sitting, DEFAULT_HOLD_MINUTES, None, stored=False)
    return SittingSettings(sitting, row.payment_hold_minutes, row.tickets_open_at, stored=True)


def office_sittings(user) -> list[SittingSettings]:
    """Every sitting, newest first, with its entry settings."""
    _require_view(user)
    sittings = list(Sitting.objects.order_by("-label"))
    rows = {r.sitting_id: r for r in EntrySettings.objects.filter(sitting__in=sittings)}
    return [_settings_of(s, rows.get(s.pk)) for s in sittings]


def office_sitting_get(user, label: Any) -> Sitting:
    """The sitting `label`; NOT_FOUND when malformed or missing."""
    _require_view(user)
    if not isinstance(label, str) or not _LABEL_RE.match(label):
        raise NotFound()
    sitting = Sitting.objects.filter(label=label).first()
    if sitting is None:
        raise NotFound()
    return sitting


def sitting_settings(sitting: Sitting) -> SittingSettings:
    return _settings_of(sitting, EntrySettings.objects.filter(sitting=sitting).first())


@dataclass(frozen=True)
class PolicyView:
    max_courses_per_sitting: int
    fee_per_course_fen: int
    stored: bool  # False: no policy row yet, the defaults apply

    @property
    def fee_yuan(self) -> str:
        return yuan(self.fee_per_course_fen)


def entry_policy() -> PolicyView:
    """The entry part of the province policy, as the entry services apply it."""
    row = ProvincePolicy.objects.order_by("pk").first()
    policy = row if row is not None else ProvincePolicy()
    return PolicyView(policy.max_courses_per_sitting, policy.fee_per_course_fen, stored=row is not None)


def areas_in_scope(user) -> QuerySet[Office]:
    """Exam areas (county offices) the user can see, by exam code."""
    return Office.objects.filter(office_scope_q(user), level=Office.Level.COUNTY).order_by(
        "parent__exam_code", "exam_code", "name"
    )


def sitting_courses(sitting: Sitting) -> QuerySet[Course]:
    """The courses the sitting offers (its timetable), by code."""
    return Course.objects.filter(
        pk__in=TimetableEntry.objects.filter(sitting=sitting).values("course_id")
    ).order_by("code")


def sitting_slots(sitting: Sitting) -> list[Slot]:
    return list(Slot.objects.filter(sitting=sitting).order_by("starts_at"))


# --- seat counters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityRow:
    """One seat counter: area × slot, seats offered and taken, and the seats of the area's rooms."""

    pk: int
    area: Office
    slot: Slot
    capacity: int
    taken: int
    room_seats: int

    @property
    def free(self) -> int:
        return max(self.capacity - self.taken, 0)

    @property
    def percent_full(self) -> int | None:
        """Rounded down, so 100 means really full (None: no seats offered)."""
        if self.capacity <= 0:
            return None
        return self.taken * 100 // self.capacity


@dataclass(frozen=True)
class CapacityTotal:
    slot: Slot
    capacity: int
    taken: int

    @property
    def free(self) -> int:
        return max(self.capacity - self.taken, 0)

    @property
    def percent_full(self) -> int | None:
        return None if self.capacity <= 0 else self.taken * 100 // self.capacity


def capacity_rows(user, sitting: Sitting, *, area: Office | None = None) -> list[CapacityRow]:
    """The sitting's seat counters in the user's scope (optionally one area), by area then slot."""
    _require_view(user)
    qs = AreaSlotCapacity.objects.filter(office_scope_q(user, "area"), sitting=sitting)
    if area is not None:
        qs = qs.filter(area=area)
    counters = list(
        qs.select_related("area", "slot").order_by(
            "area__parent__exam_code", "area__exam_code", "area__name", "slot__starts_at"
        )
    )
    seats = room_seats_by_area({c.area_id for c in counters})
    return [CapacityRow(c.pk, c.area, c.slot, c.capacity, c.taken, seats.get(c.area_id, 0)) for c in counters]


def capacity_totals(rows: list[CapacityRow]) -> list[CapacityTotal]:
    """Per slot: seats offered and taken over the rows."""
    by_slot: dict[int, list[CapacityRow]] = {}
    for row in rows:
        by_slot.setdefault(row.slot.pk, []).append(row)
    totals = [
        CapacityTotal(items[0].slot, sum(r.capacity for r in items), sum(r.taken for r in items))
        for items in by_slot.values()
    ]
    return sorted(totals, key=lambda t: t.slot.starts_at)


def areas_needing_rebuild(user, sitting: Sitting) -> list[tuple[Office, int]]:
    """Areas in scope with active rooms but no seat counter in this sitting: (area, room seats).
    Candidates cannot choose them until the counters are rebuilt."""
    _require_view(user)
    areas = list(areas_in_scope(user))
    seats = room_seats_by_area(a.pk for a in areas)
    counted = set(
        AreaSlotCapacity.objects.filter(sitting=sitting, area__in=areas).values_list("area_id", flat=True)
    )
    return [(a, seats[a.pk]) for a in areas if seats.get(a.pk) and a.pk not in counted]


# --- entries ----------------------------------------------------------------------------------

HELD = "held"
CONFIRMED = "confirmed"
EXPIRED = "expired"
CANCELLED = "cancelled"

ENTRY_STATE_LABELS = {
    HELD: _("待缴费(保留座位中)"),
    CONFIRMED: _("已确认"),
    EXPIRED: _("逾期未缴费"),
    CANCELLED: _("已取消"),
}
ENTRY_STATE_CHOICES = list(ENTRY_STATE_LABELS.items())


def entry_state_q(state: str, at: datetime) -> Q:
    """Entries in `state` at `at`: a pending entry whose hold has passed is EXPIRED even before
    the sweeper cancels it (reason "unpaid")."""
    pending = Q(status=Entry.Status.PENDING_PAYMENT)
    lapsed = pending & Q(hold_expires_at__lte=at)
    unpaid = Q(status=Entry.Status.CANCELLED, cancel_reason=Entry.CancelReason.UNPAID)
    if state == HELD:
        return pending & (Q(hold_expires_at__isnull=True) | Q(hold_expires_at__gt=at))
    if state == CONFIRMED:
        return Q(status=Entry.Status.CONFIRMED)
    if state == EXPIRED:
        return lapsed | unpaid
    if state == CANCELLED:
        return Q(status=Entry.Status.CANCELLED) & ~Q(cancel_reason=Entry.CancelReason.UNPAID)
    raise ValueError(state)


def entry_state(entry: Entry, at: datetime) -> str:
    if entry.status == Entry.Status.CONFIRMED:
        return CONFIRMED
    if entry.status == Entry.Status.PENDING_PAYMENT:
        if entry.hold_expires_at is not None and entry.hold_expires_at <= at:
            return EXPIRED
        return HELD
    if entry.cancel_reason == Entry.CancelReason.UNPAID:
        return EXPIRED
    return CANCELLED


def entry_state_text(entry: Entry, at: datetime) -> str:
    """The state for people; a cancelled entry says why."""
    state = entry_state(entry, at)
    text = str(ENTRY_STATE_LABELS[state])
    if state == CANCELLED and entry.cancel_reason:
        text = f"{text}({entry.get_cancel_reason_display()})"
    return text


@dataclass(frozen=True)
class EntryFilter:
    area: Office | None = None
    course: Course | None = None
    slot: Slot | None = None
    status: str = ""
    candidate_no: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "area": self.area.region_code if self.area else None,
            "course": self.course.code if self.course else None,
            "slot": self.slot.code if self.slot else None,
            "status": self.status or None,
            "candidate_no": self.candidate_no or None,
        }


def _entries_base(user, sitting: Sitting, flt: EntryFilter) -> QuerySet[Entry]:
    _require_view(user)
    qs = Entry.objects.filter(office_scope_q(user, "area"), sitting=sitting)
    if flt.area is not None:
        if not office_in_scope(user, flt.area):
            raise NotFound()
        qs = qs.filter(area=flt.area)
    if flt.course is not None:
        qs = qs.filter(course=flt.course)
    if flt.slot is not None:
        qs = qs.filter(slot=flt.slot)
    if flt.candidate_no:
        qs = qs.filter(candidate__candidate_no=flt.candidate_no)
    return qs


def entries_for_staff(
    user, sitting: Sitting, flt: EntryFilter, *, at: datetime | None = None
) -> QuerySet[Entry]:
    """The sitting's entries in scope matching `flt`, by area, candidate number, slot, course."""
    qs = _entries_base(user, sitting, flt)
    if flt.status:
        qs = qs.filter(entry_state_q(flt.status, at or clock.now()))
    return qs.select_related("candidate", "course", "slot", "area", "order").order_by(
        "area__parent__exam_code",
        "area__exam_code",
        "candidate__candidate_no",
        "slot__starts_at",
        "course__code",
    )


@dataclass(frozen=True)
class EntryCount:
    """Entries of one course (or area) by state."""

    code: str
    name: str
    held: int
    confirmed: int
    expired: int
    cancelled: int

    @property
    def live(self) -> int:
        """Holding a seat now: held or confirmed."""
        return self.held + self.confirmed


def _counts(qs: QuerySet[Entry], code: str, name: str, at: datetime) -> list[EntryCount]:
    rows = (
        qs.values(code, name)
        .annotate(
            held=Count("pk", filter=entry_state_q(HELD, at)),
            confirmed=Count("pk", filter=entry_state_q(CONFIRMED, at)),
            expired=Count("pk", filter=entry_state_q(EXPIRED, at)),
            cancelled=Count("pk", filter=entry_state_q(CANCELLED, at)),
        )
        .order_by(code)
    )
    return [
        EntryCount(r[code], r[name], r["held"], r["confirmed"], r["expired"], r["cancelled"]) for r in rows
    ]


def entries_summary(
    user, sitting: Sitting, flt: EntryFilter, *, at: datetime | None = None
) -> tuple[list[EntryCount], list[EntryCount]]:
    """(per course, per area) counts by state of the entries matching `flt` except its status."""
    instant = at or clock.now()
    qs = _entries_base(user, sitting, flt)
    return (
        _counts(qs, "course__code", "course__name", instant),
        _counts(qs, "area__region_code", "area__name", instant),
    )


def _batched(qs: QuerySet, batch: int = EXPORT_BATCH) -> Iterator[Any]:
    """Rows of `qs` in primary-key order, `batch` at a time (keyset: no OFFSET, no open cursor)."""
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).order_by("pk")[:batch])
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].pk


def entries_export_start(
    *, actor: Actor, sitting: Sitting, flt: EntryFilter, fmt: str, at: datetime | None = None
) -> Iterator[Entry]:
    """Record `entries.exported` (sitting, filter, format, office) and return the rows to write.
    PERMISSION_DENIED without ENTRIES_VIEW; NOT_FOUND for an area out of scope (nothing written)."""
    user = actor.user
    qs = entries_for_staff(user, sitting, flt, at=at)
    with transaction.atomic():
        audit_record(
            actor=actor,
            event_type="entries.exported",
            subject=sitting,
            after={"filter": flt.as_dict(), "format": fmt, "office": user.office.region_code},
        )
    return _batched(qs)


# --- payments ---------------------------------------------------------------------------------

ORDER_STATE_CHOICES = list(PaymentOrder.Status.choices)
ORDER_STATE_LABELS = dict(ORDER_STATE_CHOICES)

NOTIFICATION_KIND_LABELS = {"paid": _("支付结果"), "refund": _("退款结果")}
NOTIFICATION_OUTCOME_LABELS = {
    "applied": _("已处理"),
    "applied_refunding": _("已处理,部分退款"),
    "refunding": _("支付过晚,全额退款"),
    "no_change": _("无变化(已处理过)"),
    "duplicate": _("重复通知"),
    "redelivery": _("延后后重新送达"),
    "duplicate_payment": _("重复支付,待人工退款"),
    "amount_mismatch": _("金额不符,已拒绝"),
    "unknown_order": _("订单不存在,已拒绝"),
    "deferred": _("暂缓处理,等待重发"),
    "ignored": _("未处理的通知类型"),
    "invalid_signature": _("签名无效,已拒绝"),
    "stale": _("通知过期,已拒绝"),
    "malformed": _("格式错误,已拒绝"),
    "processing": _("处理中"),
}


def order_state_q(state: str, at: datetime) -> Q:
    """Orders in `state` at `at`: a pending order past its deadline counts as expired."""
    pending = Q(status=PaymentOrder.Status.PENDING)
    if state == PaymentOrder.Status.PENDING:
        return pending & Q(expires_at__gt=at)
    if state == PaymentOrder.Status.EXPIRED:
        return Q(status=PaymentOrder.Status.EXPIRED) | (pending & Q(expires_at__lte=at))
    if state in ORDER_STATE_LABELS:
        return Q(status=state)
    raise ValueError(state)


def order_state(order: PaymentOrder, at: datetime) -> str:
    if order.status == PaymentOrder.Status.PENDING and order.expires_at <= at:
        return PaymentOrder.Status.EXPIRED
    return order.status


@dataclass(frozen=True)
class OrderFilter:
    status: str = ""
    candidate_no: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status or None, "candidate_no": self.candidate_no or None}


def _orders_base(user, sitting: Sitting, flt: OrderFilter) -> QuerySet[PaymentOrder]:
    _require_view(user)
    qs = PaymentOrder.objects.filter(office_scope_q(user, "candidate__county_office"), sitting=sitting)
    if flt.candidate_no:
        qs = qs.filter(candidate__candidate_no=flt.candidate_no)
    return qs


def orders_for_staff(
    user, sitting: Sitting, flt: OrderFilter, *, at: datetime | None = None
) -> QuerySet[PaymentOrder]:
    """The sitting's payment orders of candidates in scope matching `flt`, newest first."""
    qs = _orders_base(user, sitting, flt)
    if flt.status:
        qs = qs.filter(order_state_q(flt.status, at or clock.now()))
    return qs.select_related("candidate").order_by("-created_at", "-pk")


@dataclass(frozen=True)
class OrderCount:
    state: str
    label: str
    orders: int
    amount_fen: int
    refunded_fen: int

    @property
    def amount_yuan(self) -> str:
        return yuan(self.amount_fen)

    @property
    def refunded_yuan(self) -> str:
        return yuan(self.refunded_fen)


def orders_summary(
    user, sitting: Sitting, flt: OrderFilter, *, at: datetime | None = None
) -> list[OrderCount]:
    """Per state: orders, their amount and what was refunded (matching `flt` except its status)."""
    instant = at or clock.now()
    qs = _orders_base(user, sitting, flt)
    out = []
    for state, label in ORDER_STATE_CHOICES:
        row = qs.filter(order_state_q(state, instant)).aggregate(
            n=Count("pk"), amount=Sum("amount_fen"), refunded=Sum("refunded_fen")
        )
        out.append(OrderCount(state, str(label), row["n"], row["amount"] or 0, row["refunded"] or 0))
    return out


def order_for_staff(user, order_no: Any) -> PaymentOrder:
    """One order of a candidate in the user's scope; NOT_FOUND when malformed, missing or out of
    scope (all look the same)."""
    _require_view(user)
    if not isinstance(order_no, str) or not _ORDER_NO_RE.match(order_no):
        raise NotFound()
    order = (
        PaymentOrder.objects.filter(order_no=order_no)
        .select_related("candidate", "candidate__county_office", "sitting")
        .first()
    )
    if order is None or not office_in_scope(user, order.candidate.county_office):
        raise NotFound()
    return order


def order_entries(order: PaymentOrder) -> list[Entry]:
    return list(
        order.entries.select_related("course", "slot", "area").order_by("slot__starts_at", "course__code")
    )


def order_notifications(order: PaymentOrder) -> list[PaymentNotification]:
    """The provider callbacks stored for the order, oldest first (payload not loaded: it is the
    provider's raw message and is not shown)."""
    return list(
        PaymentNotification.objects.filter(order=order).defer("payload").order_by("received_at", "pk")
    )


def order_refunds(order: PaymentOrder) -> list[Refund]:
    return list(
        Refund.objects.filter(order=order).select_related("entry__course").order_by("created_at", "pk")
    )


def orders_export_start(
    *, actor: Actor, sitting: Sitting, flt: OrderFilter, fmt: str, at: datetime | None = None
) -> Iterator[PaymentOrder]:
    """Record `payments.exported` and return the orders to write (PERMISSION_DENIED without
    ENTRIES_VIEW; nothing written then)."""
    user = actor.user
    qs = orders_for_staff(user, sitting, flt, at=at)
    with transaction.atomic():
        audit_record(
            actor=actor,
            event_type="payments.exported",
            subject=sitting,
            after={"filter": flt.as_dict(), "format": fmt, "office": user.office.region_code},
        )
    return _batched(qs)
