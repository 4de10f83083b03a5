"""Fees and payments (缴费): orders, provider callbacks, unpaid holds, refunds.

An online entry starts PENDING_PAYMENT holding its seat until `hold_expires_at`
(`entries.services`). Paying works like every real channel:

1. `order_create_for_pending` puts the candidate's unpaid entries of one sitting in ONE
   `PaymentOrder` (amount = the sum of their `fee_fen`, deadline = the earliest hold). A repeated
   request (same idempotency key, or nothing changed) returns the same order; new entries
   supersede the open order (it is closed at the provider) with one covering them all.
2. `order_checkout` asks the provider (`providers.get_provider()`) for its cashier URL and the
   browser goes there. Coming back proves nothing: the return page only shows what we know.
3. The provider's signed, asynchronous callback reaches `payment_notification_receive` (the
   notify endpoint). Every callback is stored; a valid one is applied ONCE per event id, under
   the candidate's lock: a payment makes the order PAID and confirms its entries that still
   hold their seat; a refund result completes the `Refund`.
4. `holds_expire` (Celery beat every minute, `manage.py expire_entry_holds`) cancels unpaid
   entries whose hold has passed (reason "unpaid"), gives their seats back and expires their
   orders; `holds_expire_for` does the same for one area and slot, for the entry services to
   call before they declare an area full, so a lapsed hold never blocks a seat.
5. Cancelling a paid entry (candidate, office, 改报) refunds its fee through the provider
   (`refund_for_cancelled_entry`, run by the `on_entry_cancelled` hook of `entries.services`).

**Late and out-of-order payments.** The money is always kept consistent with the seats: a
payment that arrives for an order we expired or cancelled is still booked (the order becomes
PAID: the money did arrive) and each of its entries is settled by one rule — *still holding its
seat* (PENDING_PAYMENT: the hold lapsed but nobody has given the seat away yet) → CONFIRMED;
*seat already given back* (CANCELLED: swept, cancelled, swapped) → its fee is refunded
automatically. Whatever the payment covers beyond the confirmed entries is refunded, so no
candidate ever pays for a seat they do not have. A refund result for a refund we do not know
(yet) — e.g. delivered before the payment it belongs to — is stored and answered with a
retryable failure, so the provider delivers it again once we have caught up.

**Locking.** Every write that touches a candidate's entries locks the candidate first (as
`entries.services` does), then entries, then orders, then refunds; the sweepers never wait for
an entry another transaction holds (`SKIP LOCKED` on PostgreSQL; on SQLite one writer at a
time, the write lock taken before anything is read).

Error codes: PAYMENT_NOTHING_TO_PAY (409), PAYMENT_ORDER_NOT_PAYABLE (409),
PAYMENT_IDEMPOTENCY_KEY_INVALID / _REUSED (422), PAYMENT_RATE_LIMITED (429),
PAYMENT_PROVIDER_UNAVAILABLE (503), NOT_FOUND (404: missing or not the candidate's).
Notification outcomes: see `OUTCOMES`.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zikao.accounts.permissions import Perm, require_candidate_in_scope, require_perm
from zikao.candidates.models import Candidate
from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.codes import random_code
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.core.ratelimit import Limit, RateLimited, hit
from zikao.entries.models import Entry, PaymentNotification, PaymentOrder, Refund
from zikao.entries.providers import (
    KIND_PAID,
    KIND_REFUND,
    REFUND_FAILED,
    REFUND_SUCCEEDED,
    Notification,
    NotificationRejected,
    PaymentProvider,
    ProviderReply,
    ProviderUnavailable,
    get_provider,
)
from zikao.entries.services import on_entry_cancelled, release_seats

log = logging.getLogger(__name__)

# --- error codes --------------------------------------------------------------------------------

PAYMENT_NOTHING_TO_PAY = "PAYMENT_NOTHING_TO_PAY"
PAYMENT_ORDER_NOT_PAYABLE = "PAYMENT_ORDER_NOT_PAYABLE"
PAYMENT_IDEMPOTENCY_KEY_INVALID = "PAYMENT_IDEMPOTENCY_KEY_INVALID"
PAYMENT_IDEMPOTENCY_KEY_REUSED = "PAYMENT_IDEMPOTENCY_KEY_REUSED"
PAYMENT_RATE_LIMITED = "PAYMENT_RATE_LIMITED"
PAYMENT_PROVIDER_UNAVAILABLE = "PAYMENT_PROVIDER_UNAVAILABLE"

# --- notification outcomes (PaymentNotification.outcome) -------------------------------------

APPLIED = "applied"  # paid: order PAID, entries confirmed / refund result recorded
APPLIED_REFUNDING = "applied_refunding"  # paid: some entries confirmed, the rest refunded
REFUNDING = "refunding"  # paid too late: no entry holds a seat any more, all refunded
NO_CHANGE = "no_change"  # valid, already true (another event said the same)
DUPLICATE = "duplicate"  # the same event again (its first delivery is the applied one)
REDELIVERY = "redelivery"  # the same event again after a deferral; the first row has the result
DUPLICATE_PAYMENT = "duplicate_payment"  # a second, different trade for a paid order: for staff
AMOUNT_MISMATCH = "amount_mismatch"  # refused: the amount is not the order's / refund's
UNKNOWN_ORDER = "unknown_order"  # refused: no such order for this provider
DEFERRED = "deferred"  # refund result we do not know yet: the provider must deliver again
IGNORED = "ignored"  # an event kind we do not act on
INVALID_SIGNATURE = "invalid_signature"
STALE = "stale"  # signed, but too old (replayed)
MALFORMED = "malformed"
PROCESSING = "processing"

OUTCOMES = (
    APPLIED,
    APPLIED_REFUNDING,
    REFUNDING,
    NO_CHANGE,
    DUPLICATE,
    REDELIVERY,
    DUPLICATE_PAYMENT,
    AMOUNT_MISMATCH,
    UNKNOWN_ORDER,
    DEFERRED,
    IGNORED,
    INVALID_SIGNATURE,
    STALE,
    MALFORMED,
)
_ACCEPTED = frozenset({APPLIED, APPLIED_REFUNDING, REFUNDING, NO_CHANGE, DUPLICATE_PAYMENT, IGNORED})
_RETRY = frozenset({DEFERRED})

MAX_NOTIFICATION_BYTES = 64 * 1024
ORDER_PER_CANDIDATE = Limit("payment-order-candidate", 20, 60)
NOTIFY_PER_IP = Limit("payment-notify-ip", 600, 60)
REFUND_RESEND_AFTER = timedelta(minutes=10)
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,64}$")
_ORDER_NO_RE = re.compile(r"^[0-9A-Z]{1,32}$")
SYSTEM = Actor.system("payments")


class PaymentRefused(DomainError):
    status = 409


class PaymentRateLimited(DomainError):
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(
            PAYMENT_RATE_LIMITED, _("缴费操作过于频繁，请稍后再试。"), {"retry_after": retry_after}
        )
        self.retry_after = retry_after


class PaymentProviderUnavailable(DomainError):
    status = 503

    def __init__(self) -> None:
        super().__init__(PAYMENT_PROVIDER_UNAVAILABLE, _("支付渠道暂不可用，请稍后再试。"))


# --- helpers ----------------------------------------------------------------------------------


def _authorise(actor: Actor, candidate: Candidate) -> None:
    """The candidate themself, the system, or staff with ENTRIES_MANAGE over the candidate;
    anyone else gets NOT_FOUND (nothing about the candidate's orders leaks)."""
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


def clean_idempotency_key(key: str | None) -> str | None:
    """None / "" → None; else 1–64 visible ASCII characters (PAYMENT_IDEMPOTENCY_KEY_INVALID)."""
    if key is None or key == "":
        return None
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ValidationFailed(
            PAYMENT_IDEMPOTENCY_KEY_INVALID,
            _("幂等键须为1至64个可见ASCII字符。"),
            {"idempotency_key": "invalid"},
        )
    return key


def _lock_candidate(candidate_id: int) -> None:
    """Serialise with every other write on this candidate's entries (see entries.services).

    PostgreSQL: a row lock. SQLite: a no-op UPDATE takes the database write lock before
    anything is read."""
    if connection.vendor == "sqlite":
        table = Candidate._meta.db_table
        pk = Candidate._meta.pk.column
        with connection.cursor() as cursor:
            cursor.execute(f'UPDATE "{table}" SET "{pk}" = "{pk}" WHERE "{pk}" = %s', [candidate_id])  # noqa: S608
    else:
        list(Candidate.objects.select_for_update().filter(pk=candidate_id).values_list("pk"))


def _sqlite_write_lock() -> None:
    """SQLite: take the database write lock now (an UPDATE that matches nothing), so the reads
    that follow see the latest data and the transaction never has to upgrade a read lock."""
    if connection.vendor == "sqlite":
        table = Entry._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f'UPDATE "{table}" SET "id" = "id" WHERE 1 = 0')  # noqa: S608


def _new_number(prefix: str) -> str:
    """An unguessable order / refund number: prefix + local date + 12 random characters."""
    return f"{prefix}{timezone.localtime(clock.now()):%Y%m%d}{random_code(12)}"


def _scores_changed(candidate_id: int) -> None:
    """A confirmed entry is part of the candidate's sittings list (scores.cache)."""
    from zikao.scores.cache import candidate_scores_changed

    candidate_scores_changed(candidate_id)


def _close_later(order_no: str, provider_name: str) -> None:
    """Tell the provider, once committed, that the order may no longer be paid."""

    def close() -> None:
        provider = get_provider()
        if provider.name != provider_name:
            return
        order = PaymentOrder.objects.filter(order_no=order_no).first()
        if order is None:
            return
        try:
            provider.close_checkout(order)
        except Exception:  # the provider's own expiry still applies; a late payment is refunded
            log.exception("closing order %s at the provider failed", order_no)

    transaction.on_commit(close)


def is_payable(order: PaymentOrder, at: datetime | None = None) -> bool:
    """PENDING and before its deadline."""
    return order.status == PaymentOrder.Status.PENDING and order.expires_at > (at or clock.now())


def effective_status(order: PaymentOrder, at: datetime | None = None) -> str:
    """The status to show: a PENDING order past its deadline is EXPIRED even before the sweeper
    has written it."""
    if order.status == PaymentOrder.Status.PENDING and order.expires_at <= (at or clock.now()):
        return PaymentOrder.Status.EXPIRED
    return order.status


def status_label(status: str) -> str:
    return str(PaymentOrder.Status(status).label)


def _order_snapshot(order: PaymentOrder) -> dict[str, Any]:
    return {
        "order_no": order.order_no,
        "status": order.status,
        "amount_fen": order.amount_fen,
        "refunded_fen": order.refunded_fen,
        "expires_at": order.expires_at,
    }


# --- orders -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderResult:
    """The order to pay, and whether this call created it (False: the same order as before)."""

    order: PaymentOrder
    created: bool
    superseded: list[str] = field(default_factory=list)


def order_create_for_pending(
    *, actor: Actor, candidate: Candidate, sitting: Sitting, idempotency_key: str | None = None
) -> OrderResult:
    """One order for the candidate's unpaid entries of `sitting` whose hold is still running.

    Amount = the sum of their fees; deadline = the earliest hold. The same key again returns
    the order made under it; without a key, an open order that already covers exactly these
    entries is returned. Otherwise open orders of the sitting are closed (superseded) and a
    new one covers every unpaid entry. Lapsed holds of the candidate are released first.

    Refuses: NOT_FOUND (not the actor's candidate / out of scope), PERMISSION_DENIED (staff
    without ENTRIES_MANAGE), PAYMENT_IDEMPOTENCY_KEY_INVALID, PAYMENT_IDEMPOTENCY_KEY_REUSED (the
    key was used for another sitting), PAYMENT_NOTHING_TO_PAY (409), PAYMENT_RATE_LIMITED (429),
    PAYMENT_PROVIDER_UNAVAILABLE (503: nothing written).
    Audit: `payment.order_created`.
    """
    _authorise(actor, candidate)
    key = clean_idempotency_key(idempotency_key)
    try:
        hit(ORDER_PER_CANDIDATE, str(candidate.pk))
    except RateLimited as exc:
        raise PaymentRateLimited(exc.retry_after) from None
    provider = get_provider()
    if not provider.available():
        raise PaymentProviderUnavailable()
    if key is None or not PaymentOrder.objects.filter(candidate=candidate, idempotency_key=key).exists():
        holds_expire_for_candidate(candidate=candidate, sitting=sitting)

    with transaction.atomic():
        _lock_candidate(candidate.pk)
        now = clock.now()
        if key is not None:
            existing = PaymentOrder.objects.filter(candidate=candidate, idempotency_key=key).first()
            if existing is not None:
                if existing.sitting_id != sitting.pk:
                    raise ValidationFailed(
                        PAYMENT_IDEMPOTENCY_KEY_REUSED,
                        _("该幂等键已用于另一考次的缴费，请为新请求使用新的幂等键。"),
                        {"idempotency_key": key},
                    )
                return OrderResult(existing, created=False)
        pending = list(
            Entry.objects.filter(candidate=candidate, sitting=sitting, status=Entry.Status.PENDING_PAYMENT)
            .filter(Q(hold_expires_at__isnull=True) | Q(hold_expires_at__gt=now))
            .select_for_update(of=("self",))
            .select_related("course")
            .order_by("pk")
        )
        if not pending or sum(e.fee_fen for e in pending) <= 0:
            raise PaymentRefused(
                PAYMENT_NOTHING_TO_PAY, _("本考次没有待缴费的报考。"), {"sitting": sitting.label}
            )
        wanted = {e.pk for e in pending}
        amount = sum(e.fee_fen for e in pending)
        open_orders = list(
            PaymentOrder.objects.filter(
                candidate=candidate, sitting=sitting, status=PaymentOrder.Status.PENDING
            )
            .select_for_update()
            .order_by("pk")
        )
        for order in open_orders:
            covers = {e.pk for e in pending if e.order_id == order.pk}
            if (
                order.expires_at > now
                and covers == wanted
                and order.amount_fen == amount
                and order.provider == provider.name
            ):
                return OrderResult(order, created=False)
        superseded = []
        for order in open_orders:
            status = PaymentOrder.Status.EXPIRED if order.expires_at <= now else PaymentOrder.Status.CANCELLED
            if PaymentOrder.objects.filter(pk=order.pk, status=PaymentOrder.Status.PENDING).update(
                status=status
            ):
                superseded.append({"order_no": order.order_no, "status": status})
                _close_later(order.order_no, order.provider)
        holds = [e.hold_expires_at for e in pending if e.hold_expires_at is not None]
        order = PaymentOrder.objects.create(
            order_no=_new_number("ZK"),
            candidate=candidate,
            sitting=sitting,
            amount_fen=amount,
            provider=provider.name,
            idempotency_key=key,
            created_at=now,
            expires_at=min(holds) if holds else now + timedelta(minutes=30),
        )
        Entry.objects.filter(pk__in=wanted).update(order=order)
        audit_record(
            actor=actor,
            event_type="payment.order_created",
            subject=order,
            candidate=candidate,
            after={
                **_order_snapshot(order),
                "sitting": sitting.label,
                "entries": [{"id": e.pk, "course": e.course.code, "fee_fen": e.fee_fen} for e in pending],
                "superseded": superseded,
                "idempotency_key": key,
            },
        )
        return OrderResult(order, created=True, superseded=[s["order_no"] for s in superseded])


def order_checkout(*, actor: Actor, candidate: Candidate, order_no: str, return_url: str = "") -> str:
    """The provider's cashier URL for one of the candidate's orders (nothing is written).

    Refuses: NOT_FOUND (missing or not the candidate's), PAYMENT_ORDER_NOT_PAYABLE (409: paid,
    expired, cancelled or superseded), PAYMENT_PROVIDER_UNAVAILABLE (503)."""
    _authorise(actor, candidate)
    order = candidate_order_get(candidate, order_no)
    provider = get_provider()
    if not is_payable(order) or order.provider != provider.name:
        raise PaymentRefused(
            PAYMENT_ORDER_NOT_PAYABLE,
            _("该订单当前不能支付（已支付、已过期或已取消）。"),
            {"order_no": order.order_no, "status": effective_status(order)},
        )
    try:
        return provider.create_checkout(order, return_url=return_url)
    except ProviderUnavailable:
        log.warning("payment provider %s unavailable for order %s", provider.name, order.order_no)
        raise PaymentProviderUnavailable() from None


# --- holds that lapse ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiryReport:
    entries: int
    orders: int


def _lock_candidates_skipping_busy(ids: Iterable[int]) -> set[int]:
    """Lock the candidates `ids` that no other transaction holds, and return those.

    The sweepers lock a candidate before its entries and orders, as every other write does,
    but never WAIT for one: a busy candidate is left for the next run (or for the busy
    transaction itself, which releases its own lapsed holds). So a sweeper can never deadlock
    with a payment or an entry request. SQLite: the write lock is already held; all of them."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    if connection.vendor == "sqlite":
        return set(wanted)
    return set(
        Candidate.objects.select_for_update(skip_locked=True)
        .filter(pk__in=wanted)
        .values_list("pk", flat=True)
    )


def _release_lapsed(
    qs: QuerySet[Entry], *, now: datetime, limit: int | None = None
) -> tuple[list[int], list[Entry]]:
    """Cancel the unpaid entries of `qs` whose hold has passed (reason "unpaid") and give their
    seats back — only of candidates this transaction could lock without waiting; one audit
    event per candidate and sitting. Returns (ids of the lapsed entries looked at, in order;
    entries cancelled)."""
    due = qs.filter(status=Entry.Status.PENDING_PAYMENT, hold_expires_at__lte=now).order_by("pk")
    looked = list((due[:limit] if limit else due).values_list("pk", "candidate_id"))
    if not looked:
        return [], []
    mine = _lock_candidates_skipping_busy(c for _pk, c in looked)
    rows = list(
        Entry.objects.filter(
            pk__in=[pk for pk, c in looked if c in mine],
            status=Entry.Status.PENDING_PAYMENT,
            hold_expires_at__lte=now,
        )
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("course", "sitting")
        .order_by("pk")
    )
    if not rows:
        return [pk for pk, _c in looked], []
    released = release_seats(rows, reason=Entry.CancelReason.UNPAID, at=now)
    groups: dict[tuple[int, int], list[Entry]] = {}
    for entry in released:
        groups.setdefault((entry.candidate_id, entry.sitting_id), []).append(entry)
    for (candidate_id, _sitting_id), entries in sorted(groups.items()):
        audit_record(
            actor=Actor.system("holds_expire"),
            event_type="entries.holds_expired",
            subject=entries[0].sitting,
            subject_id=entries[0].sitting_id,
            candidate=Candidate(pk=candidate_id),
            after={
                "entries": [
                    {"id": e.pk, "course": e.course.code, "hold_expires_at": e.hold_expires_at}
                    for e in entries
                ],
                "cancel_reason": Entry.CancelReason.UNPAID,
            },
        )
    return [pk for pk, _c in looked], released


def _expire_orders(
    qs: QuerySet[PaymentOrder], *, now: datetime, limit: int | None = None
) -> tuple[list[int], int]:
    """PENDING orders of `qs` past their deadline → EXPIRED (closed at the provider), for the
    candidates this transaction could lock without waiting. Returns (ids looked at, expired)."""
    due = qs.filter(status=PaymentOrder.Status.PENDING, expires_at__lte=now).order_by("pk")
    looked = list((due[:limit] if limit else due).values_list("pk", "candidate_id"))
    mine = _lock_candidates_skipping_busy(c for _pk, c in looked)
    rows = PaymentOrder.objects.filter(pk__in=[pk for pk, c in looked if c in mine]).order_by("pk")
    done = 0
    for order in rows:
        moved = PaymentOrder.objects.filter(
            pk=order.pk, status=PaymentOrder.Status.PENDING, expires_at__lte=now
        ).update(status=PaymentOrder.Status.EXPIRED)
        if not moved:
            continue
        done += 1
        _close_later(order.order_no, order.provider)
        audit_record(
            actor=Actor.system("holds_expire"),
            event_type="payment.order_expired",
            subject=order,
            candidate=Candidate(pk=order.candidate_id),
            before={"status": PaymentOrder.Status.PENDING},
            after={"status": PaymentOrder.Status.EXPIRED, "order_no": order.order_no},
        )
    return [pk for pk, _c in looked], done


def holds_expire(*, now: datetime | None = None, batch_size: int = 500) -> ExpiryReport:
    """Cancel every unpaid entry whose hold has passed (reason "unpaid"), give its seat back,
    and expire the orders past their deadline. In batches of `batch_size`, one transaction
    each; safe to run concurrently with itself and with everything else (each entry once).
    Run by Celery beat every minute and by `manage.py expire_entry_holds`. Audit:
    `entries.holds_expired` per candidate and sitting, `payment.order_expired` per order."""
    instant = now or clock.now()
    entries, after = 0, 0
    while True:  # by id, so rows of busy candidates (skipped) are never looked at twice
        with transaction.atomic():
            _sqlite_write_lock()
            looked, released = _release_lapsed(
                Entry.objects.filter(pk__gt=after), now=instant, limit=batch_size
            )
        entries += len(released)
        if len(looked) < batch_size:
            break
        after = looked[-1]
    orders, after = 0, 0
    while True:
        with transaction.atomic():
            _sqlite_write_lock()
            seen, done = _expire_orders(
                PaymentOrder.objects.filter(pk__gt=after), now=instant, limit=batch_size
            )
        orders += done
        if len(seen) < batch_size:
            break
        after = seen[-1]
    return ExpiryReport(entries=entries, orders=orders)


def holds_expire_for(
    *, sitting: Sitting | int, area: Any, slots: Iterable[Any] | None = None, now: datetime | None = None
) -> list[Entry]:
    """Release the lapsed unpaid holds of every candidate in one exam area (and `slots`, Slot
    objects or ids; all slots when None) of `sitting`, inside the caller's transaction.

    For the entry services to call before they take seats in (area, slot): a counter that
    looks full because of holds that have run out is freed first. Never waits for an entry
    another transaction holds (PostgreSQL SKIP LOCKED). Returns the entries cancelled."""
    sitting_id = sitting.pk if isinstance(sitting, Sitting) else int(sitting)
    area_id = getattr(area, "pk", area)
    qs = Entry.objects.filter(sitting_id=sitting_id, area_id=area_id)
    if slots is not None:
        qs = qs.filter(slot_id__in=[getattr(s, "pk", s) for s in slots])
    with transaction.atomic():
        _looked, released = _release_lapsed(qs, now=now or clock.now())
    return released


def holds_expire_for_candidate(
    *, candidate: Candidate, sitting: Sitting, now: datetime | None = None
) -> list[Entry]:
    """Release the candidate's own lapsed holds in `sitting` (and expire their orders), in a
    transaction of its own under the candidate's lock."""
    instant = now or clock.now()
    with transaction.atomic():
        _lock_candidate(candidate.pk)
        _looked, released = _release_lapsed(
            Entry.objects.filter(candidate=candidate, sitting=sitting), now=instant
        )
        _expire_orders(PaymentOrder.objects.filter(candidate=candidate, sitting=sitting), now=instant)
    return released


# --- refunds ----------------------------------------------------------------------------------


def _request_refund_later(refund_pk: int) -> None:
    def send() -> None:
        refund = Refund.objects.select_related("order", "order__sitting").filter(pk=refund_pk).first()
        if refund is None or refund.status != Refund.Status.REQUESTED:
            return
        provider = get_provider()
        if provider.name != refund.order.provider:
            log.error(
                "refund %s: order provider %s is not configured", refund.refund_no, refund.order.provider
            )
            return
        try:
            provider.request_refund(refund)
        except Exception:  # retried by refunds_resend
            log.exception("refund %s could not be requested", refund.refund_no)

    transaction.on_commit(send)


def _create_refund(order: PaymentOrder, entry: Entry | None, amount: int, now: datetime) -> Refund:
    refund = Refund.objects.create(
        order=order,
        entry=entry,
        refund_no=_new_number("RF"),
        amount_fen=amount,
        status=Refund.Status.REQUESTED,
        created_at=now,
    )
    _request_refund_later(refund.pk)
    return refund


def _committed_refunds(order: PaymentOrder) -> int:
    total = (
        Refund.objects.filter(order=order).exclude(status=Refund.Status.FAILED).aggregate(s=Sum("amount_fen"))
    )
    return int(total["s"] or 0)


def refund_for_cancelled_entry(entry: Entry, *, actor: Actor | None = None) -> Refund | None:
    """Request the refund of a cancelled paid entry's fee through the provider (once per entry;
    never more than what the order took in). Runs inside the cancelling transaction (the
    `on_entry_cancelled` hook); the provider is asked after commit and answers by notification.
    Returns the Refund, or None when there is nothing to refund (fee 0, not paid, already
    refunded). Audit: `payment.refund_requested`."""
    row = Entry.objects.filter(pk=entry.pk).values("order_id", "fee_fen", "candidate_id", "status").first()
    if (
        row is None
        or row["order_id"] is None
        or row["fee_fen"] <= 0
        or row["status"] != Entry.Status.CANCELLED
    ):
        return None
    order = PaymentOrder.objects.select_for_update().filter(pk=row["order_id"]).first()
    if order is None or order.status != PaymentOrder.Status.PAID:
        return None
    if Refund.objects.filter(entry_id=entry.pk).exclude(status=Refund.Status.FAILED).exists():
        return None
    amount = min(row["fee_fen"], order.amount_fen - _committed_refunds(order))
    if amount <= 0:
        log.error("refund for entry %s: order %s has nothing left to refund", entry.pk, order.order_no)
        return None
    refund = _create_refund(order, Entry(pk=entry.pk), amount, clock.now())
    audit_record(
        actor=actor or SYSTEM,
        event_type="payment.refund_requested",
        subject=refund,
        candidate=Candidate(pk=row["candidate_id"]),
        after={
            "refund_no": refund.refund_no,
            "order_no": order.order_no,
            "entry": entry.pk,
            "amount_fen": amount,
        },
    )
    return refund


def _cancel_open_order(entry: Entry, reason: str) -> None:
    """An unpaid entry of an open order was cancelled (by the candidate, the office, a swap):
    the order no longer matches its entries, so it is cancelled and closed at the provider; the
    entries still unpaid get a new order next time. A payment that slips through is settled by
    the late-payment rule."""
    order_id = Entry.objects.filter(pk=entry.pk).values_list("order_id", flat=True).first()
    if order_id is None:
        return
    order = PaymentOrder.objects.filter(pk=order_id).first()
    if order is None:
        return
    moved = PaymentOrder.objects.filter(pk=order_id, status=PaymentOrder.Status.PENDING).update(
        status=PaymentOrder.Status.CANCELLED
    )
    if not moved:
        return
    _close_later(order.order_no, order.provider)
    audit_record(
        actor=SYSTEM,
        event_type="payment.order_cancelled",
        subject=order,
        candidate=Candidate(pk=order.candidate_id),
        before={"status": PaymentOrder.Status.PENDING},
        after={"status": PaymentOrder.Status.CANCELLED, "entry": entry.pk, "cancel_reason": reason},
    )


@on_entry_cancelled
def _entry_cancelled(entry: Entry, *, previous_status: str, reason: str) -> None:
    """Hook of `entries.services.release_seats`: a paid entry cancelled → refund; an unpaid one
    of an open order cancelled for another reason than its lapsed hold → cancel that order.
    (A lapsed hold never touches its order here: the sweeper expires orders by their deadline,
    so it never waits for an order a payment is applying.)"""
    if previous_status == Entry.Status.CONFIRMED:
        refund_for_cancelled_entry(entry)
    elif previous_status == Entry.Status.PENDING_PAYMENT and reason != Entry.CancelReason.UNPAID:
        _cancel_open_order(entry, reason)


def refunds_resend(*, now: datetime | None = None, limit: int = 200) -> int:
    """Ask the provider again for refunds still REQUESTED after `REFUND_RESEND_AFTER` (the
    provider is idempotent on the refund number). Returns how many were re-sent."""
    instant = now or clock.now()
    provider = get_provider()
    stale = (
        Refund.objects.filter(status=Refund.Status.REQUESTED, created_at__lte=instant - REFUND_RESEND_AFTER)
        .filter(order__provider=provider.name)
        .select_related("order", "order__sitting")
        .order_by("pk")[:limit]
    )
    sent = 0
    for refund in stale:
        try:
            provider.request_refund(refund)
            sent += 1
        except Exception:
            log.exception("refund %s could not be re-sent", refund.refund_no)
    return sent


# --- provider callbacks -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiveResult:
    """What became of one callback: `outcome` of this delivery (its stored row's: e.g.
    "duplicate"), `effect` (the outcome of the event itself, which decides the reply: for a
    duplicate, what its first delivery did), the stored row, and the provider's answer."""

    outcome: str
    effect: str
    notification: PaymentNotification | None
    reply: ProviderReply


def _reply(provider: PaymentProvider, outcome: str) -> ProviderReply:
    return provider.reply(outcome, accepted=outcome in _ACCEPTED, retry=outcome in _RETRY)


def _copy_id(event_id: str) -> str:
    return f"{event_id[:40]}~{secrets.token_hex(6)}"


def payment_notification_receive(
    *, provider: str, headers: Mapping[str, str], body: bytes, ip: str | None = None
) -> ReceiveResult:
    """Verify, store and apply one provider callback (the notify endpoint and the simulated
    provider in-process call this).

    Every callback is stored as a `PaymentNotification`: a rejected one (bad or missing
    signature, stale, unreadable) with `signature_valid=False` and nothing else changes; a
    valid one under its event id, applied ONCE: further deliveries of the same event are
    stored as copies (event id + "~" + random) with outcome "duplicate" and change nothing.
    A payment → order PAID, entries still holding their seat CONFIRMED, the rest refunded
    (module docstring); a refund result → Refund SUCCEEDED / FAILED (order REFUNDED when all
    is back). Refused and logged: a wrong amount (AMOUNT_MISMATCH), an unknown order.
    Deferred (the provider must deliver again): a refund result we do not know yet.
    NOT_FOUND when `provider` is not the configured provider's name. Audit: `payment.paid`,
    `payment.refunded`, `payment.refund_failed` (one per applied event)."""
    impl = get_provider()
    if provider != impl.name:
        raise NotFound()
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    now = clock.now()
    try:
        if len(body) > MAX_NOTIFICATION_BYTES:
            raise NotificationRejected(MALFORMED, {})
        note = impl.verify_notification(lowered, body)
    except NotificationRejected as rejected:
        reason = rejected.reason if rejected.reason in (INVALID_SIGNATURE, STALE, MALFORMED) else MALFORMED
        payload = rejected.payload if isinstance(rejected.payload, dict) and rejected.payload else {}
        if not payload:
            payload = {"raw": body[:2048].decode("utf-8", errors="replace")}
        row = PaymentNotification.objects.create(
            provider=impl.name,
            event_id=f"rejected~{secrets.token_hex(12)}",
            order=None,
            kind=str(payload.get("type", ""))[:16],
            payload=payload,
            signature_valid=False,
            received_at=now,
            outcome=reason,
        )
        log.warning("payment callback refused (%s) from %s, stored as %s", reason, ip or "-", row.pk)
        return ReceiveResult(reason, reason, row, _reply(impl, reason))

    with transaction.atomic():
        effect, row = _receive_verified(impl, note, now)
    return ReceiveResult(row.outcome, effect, row, _reply(impl, effect))


def _receive_verified(
    provider: PaymentProvider, note: Notification, now: datetime
) -> tuple[str, PaymentNotification]:
    """Store and apply a verified callback once. Returns (outcome that decides the reply, row
    stored for this delivery)."""
    try:
        with transaction.atomic():
            first = PaymentNotification.objects.create(
                provider=provider.name,
                event_id=note.event_id,
                kind=note.kind[:16],
                payload=note.payload,
                signature_valid=True,
                received_at=now,
                outcome=PROCESSING,
            )
    except IntegrityError:
        first = None
    if first is None:
        # Waits (PostgreSQL) for a concurrent first delivery to finish.
        canonical = PaymentNotification.objects.select_for_update().get(
            provider=provider.name, event_id=note.event_id
        )
        if canonical.payload != note.payload:
            log.warning("payment event %s delivered again with a different body", note.event_id)
        if canonical.outcome not in _RETRY:
            copy = PaymentNotification.objects.create(
                provider=provider.name,
                event_id=_copy_id(note.event_id),
                order=canonical.order,
                kind=note.kind[:16],
                payload=note.payload,
                signature_valid=True,
                received_at=now,
                outcome=DUPLICATE,
            )
            return canonical.outcome, copy
        copy = PaymentNotification.objects.create(
            provider=provider.name,
            event_id=_copy_id(note.event_id),
            order=canonical.order,
            kind=note.kind[:16],
            payload=note.payload,
            signature_valid=True,
            received_at=now,
            outcome=REDELIVERY,
        )
        outcome, order = _apply(provider, note, now)
        PaymentNotification.objects.filter(pk=canonical.pk).update(outcome=outcome, order=order)
        return outcome, copy
    outcome, order = _apply(provider, note, now)
    first.outcome = outcome
    first.order = order
    first.save(update_fields=["outcome", "order"])
    return outcome, first


def _apply(provider: PaymentProvider, note: Notification, now: datetime) -> tuple[str, PaymentOrder | None]:
    found = (
        PaymentOrder.objects.filter(order_no=note.order_no).values("pk", "candidate_id", "provider").first()
    )
    if found is None or found["provider"] != provider.name:
        log.error("payment callback %s for unknown order %r", note.event_id, note.order_no[:32])
        return UNKNOWN_ORDER, None
    _lock_candidate(found["candidate_id"])
    if note.kind == KIND_PAID:
        return _apply_paid(provider, found["pk"], note, now)
    order = PaymentOrder.objects.select_for_update().get(pk=found["pk"])
    if note.kind == KIND_REFUND:
        return _apply_refund(order, note, now), order
    return IGNORED, order


def _apply_paid(
    provider: PaymentProvider, order_id: int, note: Notification, now: datetime
) -> tuple[str, PaymentOrder]:
    entries = list(
        Entry.objects.filter(order_id=order_id)
        .select_for_update(of=("self",))
        .select_related("course")
        .order_by("pk")
    )
    order = PaymentOrder.objects.select_for_update(of=("self",)).select_related("sitting").get(pk=order_id)
    if note.amount_fen != order.amount_fen:
        log.error(
            "payment callback %s for order %s: amount %s fen, the order is %s fen — refused",
            note.event_id,
            order.order_no,
            note.amount_fen,
            order.amount_fen,
        )
        return AMOUNT_MISMATCH, order
    if order.status in (PaymentOrder.Status.PAID, PaymentOrder.Status.REFUNDED):
        if note.trade_no and order.provider_trade_no and note.trade_no != order.provider_trade_no:
            log.error(
                "order %s paid again by trade %s (first trade %s): to be refunded by staff",
                order.order_no,
                note.trade_no,
                order.provider_trade_no,
            )
            return DUPLICATE_PAYMENT, order
        return NO_CHANGE, order
    before = _order_snapshot(order)
    confirmed: list[Entry] = []
    kept = 0
    for entry in entries:
        if entry.status == Entry.Status.PENDING_PAYMENT:
            moved = Entry.objects.filter(pk=entry.pk, status=Entry.Status.PENDING_PAYMENT).update(
                status=Entry.Status.CONFIRMED
            )
            if moved:
                confirmed.append(entry)
                kept += entry.fee_fen
        elif entry.status == Entry.Status.CONFIRMED:
            kept += entry.fee_fen
    order.status = PaymentOrder.Status.PAID
    order.paid_at = note.occurred_at
    order.provider_trade_no = note.trade_no[:64]
    order.save(update_fields=["status", "paid_at", "provider_trade_no"])
    refunds: list[Refund] = []
    surplus = order.amount_fen - kept
    for entry in entries:
        if surplus <= 0:
            break
        if entry.status == Entry.Status.CANCELLED and entry.fee_fen > 0:
            amount = min(entry.fee_fen, surplus)
            refunds.append(_create_refund(order, entry, amount, now))
            surplus -= amount
    if surplus > 0:  # entries that moved to another order meanwhile: their share goes back too
        refunds.append(_create_refund(order, None, surplus, now))
    if confirmed:
        _scores_changed(order.candidate_id)
    outcome = APPLIED if not refunds else (APPLIED_REFUNDING if confirmed else REFUNDING)
    audit_record(
        actor=Actor.system(f"payment:{provider.name}"),
        event_type="payment.paid",
        subject=order,
        candidate=Candidate(pk=order.candidate_id),
        before=before,
        after={
            **_order_snapshot(order),
            "event_id": note.event_id,
            "trade_no": order.provider_trade_no,
            "paid_at": order.paid_at,
            "confirmed": [{"id": e.pk, "course": e.course.code} for e in confirmed],
            "refunds": [
                {"refund_no": r.refund_no, "entry": r.entry_id, "amount_fen": r.amount_fen} for r in refunds
            ],
            "outcome": outcome,
        },
    )
    if refunds:
        log.info("order %s paid late: %s fen refunded automatically", order.order_no, order.amount_fen - kept)
    return outcome, order


def _apply_refund(order: PaymentOrder, note: Notification, now: datetime) -> str:
    refund = Refund.objects.select_for_update().filter(refund_no=note.refund_no, order=order).first()
    if refund is None:
        log.warning(
            "refund callback %s for refund %r not known (yet): deferred", note.event_id, note.refund_no
        )
        return DEFERRED
    if note.amount_fen != refund.amount_fen:
        log.error(
            "refund callback %s for %s: amount %s fen, the refund is %s fen — refused",
            note.event_id,
            refund.refund_no,
            note.amount_fen,
            refund.amount_fen,
        )
        return AMOUNT_MISMATCH
    if refund.status != Refund.Status.REQUESTED:
        return NO_CHANGE
    if note.refund_status == REFUND_SUCCEEDED:
        refund.status = Refund.Status.SUCCEEDED
        refund.completed_at = note.occurred_at
        refund.save(update_fields=["status", "completed_at"])
        before = _order_snapshot(order)
        PaymentOrder.objects.filter(pk=order.pk).update(refunded_fen=F("refunded_fen") + refund.amount_fen)
        order.refresh_from_db()
        if order.refunded_fen >= order.amount_fen and order.status == PaymentOrder.Status.PAID:
            order.status = PaymentOrder.Status.REFUNDED
            order.save(update_fields=["status"])
        audit_record(
            actor=Actor.system(f"payment:{order.provider}"),
            event_type="payment.refunded",
            subject=refund,
            candidate=Candidate(pk=order.candidate_id),
            before={"refund_status": Refund.Status.REQUESTED, **before},
            after={
                "refund_status": refund.status,
                "refund_no": refund.refund_no,
                "amount_fen": refund.amount_fen,
                "event_id": note.event_id,
                **_order_snapshot(order),
            },
        )
        return APPLIED
    if note.refund_status == REFUND_FAILED:
        refund.status = Refund.Status.FAILED
        refund.completed_at = note.occurred_at
        refund.save(update_fields=["status", "completed_at"])
        log.error(
            "refund %s of order %s FAILED at the provider: staff must act", refund.refund_no, order.order_no
        )
        audit_record(
            actor=Actor.system(f"payment:{order.provider}"),
            event_type="payment.refund_failed",
            subject=refund,
            candidate=Candidate(pk=order.candidate_id),
            before={"refund_status": Refund.Status.REQUESTED},
            after={"refund_status": refund.status, "refund_no": refund.refund_no, "event_id": note.event_id},
        )
        return APPLIED
    return IGNORED


# --- reads for the front doors -----------------------------------------------------------------


def candidate_order_get(candidate: Candidate, order_no: Any) -> PaymentOrder:
    """One of the candidate's orders; NOT_FOUND when malformed, missing or someone else's."""
    if not isinstance(order_no, str) or not _ORDER_NO_RE.match(order_no):
        raise NotFound()
    order = (
        PaymentOrder.objects.filter(order_no=order_no, candidate=candidate).select_related("sitting").first()
    )
    if order is None:
        raise NotFound()
    return order


def candidate_orders(candidate: Candidate) -> list[PaymentOrder]:
    """The candidate's orders, newest first."""
    return list(
        PaymentOrder.objects.filter(candidate=candidate)
        .select_related("sitting")
        .order_by("-created_at", "-pk")
    )


def order_entries(order: PaymentOrder) -> list[Entry]:
    return list(
        order.entries.select_related("course", "slot", "area").order_by("slot__starts_at", "course__code")
    )


def order_refunds(order: PaymentOrder) -> list[Refund]:
    return list(
        Refund.objects.filter(order=order).select_related("entry__course").order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class Payable:
    """A sitting in which the candidate has unpaid entries whose hold is still running."""

    sitting: Sitting
    entries: list[Entry]
    amount_fen: int
    deadline: datetime | None
    order: PaymentOrder | None  # the open order covering exactly these entries, if any


def candidate_payables(candidate: Candidate, *, at: datetime | None = None) -> list[Payable]:
    """Sittings with something to pay now, earliest deadline first."""
    now = at or clock.now()
    rows = (
        Entry.objects.filter(candidate=candidate, status=Entry.Status.PENDING_PAYMENT)
        .filter(Q(hold_expires_at__isnull=True) | Q(hold_expires_at__gt=now))
        .select_related("course", "sitting", "order")
        .order_by("sitting__label", "pk")
    )
    by_sitting: dict[int, list[Entry]] = {}
    for entry in rows:
        by_sitting.setdefault(entry.sitting_id, []).append(entry)
    payables = []
    for entries in by_sitting.values():
        orders = {e.order_id for e in entries}
        order = entries[0].order if len(orders) == 1 and entries[0].order is not None else None
        if order is not None and not is_payable(order, now):
            order = None
        holds = [e.hold_expires_at for e in entries if e.hold_expires_at is not None]
        payables.append(
            Payable(
                sitting=entries[0].sitting,
                entries=entries,
                amount_fen=sum(e.fee_fen for e in entries),
                deadline=min(holds) if holds else None,
                order=order,
            )
        )
    return sorted(payables, key=lambda p: (p.deadline is None, p.deadline, p.sitting.label))
