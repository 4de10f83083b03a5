"""模拟支付: a payment provider for the demo and the tests that behaves like a real one.

It plays both sides of a real channel:

* **the provider's cashier** (`/pay/sim/<order_no>/`, clearly labelled 模拟支付): the browser
  arrives with a checkout token signed by the provider's key (as a real cashier only knows the
  amount the merchant registered, never what the browser claims), chooses 支付 or 取消, and is
  sent back to our return page. Paying never touches our database: it only makes the provider
  send a notification;
* **the provider's callbacks**: asynchronous, signed (HMAC-SHA256 over ``"<timestamp>.<body>"``
  with `ZIKAO_PAYMENT_SIM_SECRET`, headers `X-Sim-Timestamp` / `X-Sim-Signature`), redelivered
  with back-off while our endpoint answers a failure, and — on request — duplicated, delayed or
  delivered out of order. Refunds requested through `request_refund` are answered the same way.

How callbacks travel (`ZIKAO_PAYMENT_SIM_DELIVERY`): "celery" (a task with a countdown; the
default when a broker is configured), "thread" (a timer thread in the web process; the default
without a broker), "inline" (at once, in the caller), "manual" (kept in `OUTBOX` until a test
calls `outbox_deliver`: deterministic). They go to `ZIKAO_PAYMENT_SIM_NOTIFY_URL` over HTTP when
that is set, else straight into `payments.payment_notification_receive` in this process (the
very function the notify endpoint calls).

The provider's own books (which orders were paid with which trade number, which were closed)
live in the cache, as a real provider keeps them on its side. The cashier refuses to take money
after the order's deadline or once the merchant closed the order.

Off unless `ZIKAO_PAYMENT_SIM_ENABLED` (default: DEBUG): a production site with no real provider
configured cannot be "paid" for free.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from zikao.core import clock
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
)

if TYPE_CHECKING:
    from zikao.entries.models import PaymentOrder, Refund

log = logging.getLogger(__name__)

NAME = "sim"
SIGNATURE_HEADER = "x-sim-signature"
TIMESTAMP_HEADER = "x-sim-timestamp"
CHECKOUT_SALT = "zikao.entries.providers.simulated.checkout"
MAX_ATTEMPTS = 6  # first delivery + 5 redeliveries (each delay × 4), as real channels retry
LEDGER_SECONDS = 30 * 24 * 3600

TYPE_PAID = "trade.success"
TYPE_REFUND_SUCCEEDED = "refund.success"
TYPE_REFUND_FAILED = "refund.fail"


def _secret() -> bytes:
    return str(settings.ZIKAO_PAYMENT_SIM_SECRET).encode()


def signature(timestamp: int | str, body: bytes, *, secret: bytes | None = None) -> str:
    """HMAC-SHA256 (hex) of ``"<timestamp>.<body>"``."""
    key = _secret() if secret is None else secret
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, *, at: datetime | None = None, secret: bytes | None = None) -> dict[str, str]:
    """The headers a callback carries, signed now (or at `at`)."""
    timestamp = int((at or clock.now()).timestamp())
    return {
        "content-type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(timestamp, body, secret=secret),
    }


def event_body(
    event_type: str,
    *,
    event_id: str,
    order_no: str,
    amount_fen: int,
    occurred_at: datetime,
    trade_no: str = "",
    refund_no: str = "",
) -> bytes:
    """A callback body as the simulated channel sends it."""
    data: dict[str, Any] = {"out_trade_no": order_no, "amount_fen": amount_fen, "trade_no": trade_no}
    if refund_no:
        data["out_refund_no"] = refund_no
    payload = {"id": event_id, "type": event_type, "created": occurred_at.isoformat(), "data": data}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()


# --- the wire: how callbacks reach us -------------------------------------------------------


@dataclass
class Delivery:
    """One callback on its way: the body (signed when sent) and how often it was tried."""

    body: bytes
    event_id: str
    attempt: int = 1


OUTBOX: list[Delivery] = []  # "manual" mode: deliveries waiting for `outbox_deliver`
_outbox_lock = threading.Lock()


def delivery_mode() -> str:
    configured = getattr(settings, "ZIKAO_PAYMENT_SIM_DELIVERY", "")
    if configured:
        return str(configured)
    return "celery" if getattr(settings, "CELERY_BROKER_URL", "") else "thread"


def send(delivery: Delivery) -> int:
    """Deliver one callback now (signed now) and return the HTTP status our side answered."""
    headers = signed_headers(delivery.body)
    url = getattr(settings, "ZIKAO_PAYMENT_SIM_NOTIFY_URL", "")
    if url:
        request = urllib.request.Request(url, data=delivery.body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (configured URL)
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            log.warning("simulated payment callback %s could not reach %s", delivery.event_id, url)
            return 599
    from zikao.entries.payments import payment_notification_receive

    result = payment_notification_receive(provider=NAME, headers=headers, body=delivery.body)
    return result.reply.status


def deliver_now(delivery: Delivery) -> int:
    """Send one callback now; on a retryable answer (5xx, or no answer) schedule the next
    attempt with back-off, as real channels do. Returns the status answered."""
    status = send(delivery)
    if status >= 500 and delivery.attempt < MAX_ATTEMPTS:
        delay = float(settings.ZIKAO_PAYMENT_SIM_DELAY_SECONDS) * (4**delivery.attempt)
        schedule(Delivery(delivery.body, delivery.event_id, delivery.attempt + 1), delay=delay)
    return status


def _run_in_thread(delivery: Delivery) -> None:
    try:
        deliver_now(delivery)
    except Exception:
        log.exception("simulated payment callback %s failed", delivery.event_id)
    finally:
        connections.close_all()


def schedule(delivery: Delivery, *, delay: float | None = None) -> None:
    """Send `delivery` asynchronously, the configured way (see the module docstring)."""
    wait = float(settings.ZIKAO_PAYMENT_SIM_DELAY_SECONDS) if delay is None else delay
    mode = delivery_mode()
    if mode == "manual":
        with _outbox_lock:
            OUTBOX.append(delivery)
        return
    if mode == "inline":
        deliver_now(delivery)
        return
    if mode == "celery":
        from zikao.entries.tasks import deliver_simulated_callback

        deliver_simulated_callback.apply_async(
            args=[delivery.body.decode(), delivery.event_id, delivery.attempt], countdown=wait
        )
        return
    timer = threading.Timer(wait, _run_in_thread, args=[delivery])
    timer.daemon = True
    timer.start()


def outbox_deliver(*, reverse: bool = False, repeat: int = 1) -> list[int]:
    """Tests ("manual" mode): send every waiting callback — in order, or `reverse`d (out of
    order), each `repeat` times in a row (duplicates) — and return the answers' statuses.
    A callback our side answers with a retryable failure goes back into the outbox."""
    with _outbox_lock:
        waiting = list(OUTBOX)
        OUTBOX.clear()
    if reverse:
        waiting.reverse()
    statuses = []
    for delivery in waiting:
        for _ in range(repeat):
            statuses.append(deliver_now(delivery))
    return statuses


def outbox_clear() -> None:
    with _outbox_lock:
        OUTBOX.clear()


# --- the provider's books -------------------------------------------------------------------


def _trade_key(order_no: str) -> str:
    return f"paysim:trade:{order_no}"


def _closed_key(order_no: str) -> str:
    return f"paysim:closed:{order_no}"


@dataclass(frozen=True)
class Checkout:
    """What the merchant registered for one order (read from the signed checkout token)."""

    order_no: str
    amount_fen: int
    expires_at: datetime
    return_url: str
    subject: str
    token: str

    @property
    def amount_yuan(self) -> str:
        return f"{self.amount_fen / 100:.2f}"


@dataclass(frozen=True)
class CashierState:
    checkout: Checkout
    paid: bool
    closed: bool
    expired: bool

    @property
    def payable(self) -> bool:
        return not (self.paid or self.closed or self.expired)


class SimulatedProvider(PaymentProvider):
    name = NAME
    title = "模拟支付"

    @staticmethod
    def enabled() -> bool:
        return bool(getattr(settings, "ZIKAO_PAYMENT_SIM_ENABLED", False))

    # -- merchant side (called by entries.payments) --

    def available(self) -> bool:
        return self.enabled()

    def create_checkout(self, order: PaymentOrder, *, return_url: str = "") -> str:
        from django.urls import reverse

        if not self.enabled():
            raise ProviderUnavailable("the simulated payment provider is switched off")
        token = signing.dumps(
            {
                "o": order.order_no,
                "a": order.amount_fen,
                "e": int(order.expires_at.timestamp()),
                "r": return_url if return_url.startswith("/") and not return_url.startswith("//") else "",
                "s": f"{order.sitting.label} 报考费",
            },
            key=str(settings.ZIKAO_PAYMENT_SIM_SECRET),
            salt=CHECKOUT_SALT,
            compress=True,
        )
        return f"{reverse('portal:payments_sim_cashier', args=[order.order_no])}?t={token}"

    def close_checkout(self, order: PaymentOrder) -> None:
        cache.set(_closed_key(order.order_no), True, LEDGER_SECONDS)

    def request_refund(self, refund: Refund) -> None:
        order = refund.order
        body = event_body(
            TYPE_REFUND_SUCCEEDED,
            event_id=f"evt_refund_{refund.refund_no}",
            order_no=order.order_no,
            amount_fen=refund.amount_fen,
            occurred_at=clock.now(),
            trade_no=order.provider_trade_no,
            refund_no=refund.refund_no,
        )
        schedule(Delivery(body, f"evt_refund_{refund.refund_no}"))

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        given = headers.get(SIGNATURE_HEADER, "")
        stamp = headers.get(TIMESTAMP_HEADER, "")
        payload = _json_or_none(body)
        shown = payload if isinstance(payload, dict) else {}
        if not given or not stamp.isdigit() or len(stamp) > 12:
            raise NotificationRejected("invalid_signature", shown)
        if not hmac.compare_digest(given.encode(), signature(stamp, body).encode()):
            raise NotificationRejected("invalid_signature", shown)
        tolerance = int(settings.ZIKAO_PAYMENT_SIM_TOLERANCE_SECONDS)
        if abs(clock.now().timestamp() - int(stamp)) > tolerance:
            raise NotificationRejected("stale", shown)
        return _parse(payload)

    def reply(self, outcome: str, *, accepted: bool, retry: bool) -> ProviderReply:
        if accepted:
            return ProviderReply(200, "application/json", b'{"code": "SUCCESS"}')
        status = 503 if retry else (401 if outcome in ("invalid_signature", "stale") else 400)
        body = json.dumps({"code": "FAIL", "message": outcome}).encode()
        return ProviderReply(status, "application/json", body)

    # -- provider side: the cashier page --

    def read_checkout(self, order_no: str, token: str) -> Checkout | None:
        """The checkout behind a cashier link, or None when the token is not the provider's
        own for this order (tampered, made up, or for another order)."""
        if not token or len(token) > 2000:
            return None
        try:
            data = signing.loads(token, key=str(settings.ZIKAO_PAYMENT_SIM_SECRET), salt=CHECKOUT_SALT)
        except signing.BadSignature:
            return None
        if not isinstance(data, dict) or data.get("o") != order_no:
            return None
        return Checkout(
            order_no=order_no,
            amount_fen=int(data["a"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), tz=timezone.get_current_timezone()),
            return_url=str(data.get("r") or ""),
            subject=str(data.get("s") or ""),
            token=token,
        )

    def cashier_state(self, checkout: Checkout) -> CashierState:
        return CashierState(
            checkout=checkout,
            paid=cache.get(_trade_key(checkout.order_no)) is not None,
            closed=bool(cache.get(_closed_key(checkout.order_no))),
            expired=clock.now() >= checkout.expires_at,
        )

    def pay(self, checkout: Checkout, *, duplicates: int = 0, delay: float | None = None) -> CashierState:
        """The candidate pays at the cashier: the provider books one trade for the order (a
        second click pays nothing more: the same trade's notification is sent again) and sends
        the signed notification asynchronously — `duplicates` extra copies, after `delay`
        seconds. Refused (returns the state, nothing sent) after the deadline or once closed."""
        state = self.cashier_state(checkout)
        if state.closed or state.expired:
            return state
        now = clock.now()
        trade = {"trade_no": f"SIM{timezone.localtime(now):%Y%m%d}{secrets.randbelow(10**12):012d}"}
        trade["paid_at"] = now.isoformat()
        cache.add(_trade_key(checkout.order_no), trade, LEDGER_SECONDS)
        booked = cache.get(_trade_key(checkout.order_no)) or trade
        paid_at = parse_datetime(booked["paid_at"]) or now
        event_id = f"evt_pay_{booked['trade_no']}"
        body = event_body(
            TYPE_PAID,
            event_id=event_id,
            order_no=checkout.order_no,
            amount_fen=checkout.amount_fen,
            occurred_at=paid_at,
            trade_no=booked["trade_no"],
        )
        for _ in range(1 + max(0, min(duplicates, 5))):
            schedule(Delivery(body, event_id), delay=delay)
        return CashierState(checkout=checkout, paid=True, closed=False, expired=False)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _parse(payload: Any) -> Notification:
    """A signed body → Notification; a signed body we cannot read is "malformed"."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise NotificationRejected("malformed", payload if isinstance(payload, dict) else {})
    data = payload["data"]
    event_id = payload.get("id")
    event_type = payload.get("type")
    order_no = data.get("out_trade_no")
    amount = data.get("amount_fen")
    created = parse_datetime(str(payload.get("created", ""))) if payload.get("created") else None
    if (
        not isinstance(event_id, str)
        or not 0 < len(event_id) <= 64
        or not isinstance(event_type, str)
        or not isinstance(order_no, str)
        or not 0 < len(order_no) <= 32
        or not isinstance(amount, int)
        or isinstance(amount, bool)
        or amount < 0
        or created is None
        or timezone.is_naive(created)
    ):
        raise NotificationRejected("malformed", payload)
    kind, refund_status = {
        TYPE_PAID: (KIND_PAID, ""),
        TYPE_REFUND_SUCCEEDED: (KIND_REFUND, REFUND_SUCCEEDED),
        TYPE_REFUND_FAILED: (KIND_REFUND, REFUND_FAILED),
    }.get(event_type, (event_type[:16], ""))
    refund_no = data.get("out_refund_no") or ""
    trade_no = data.get("trade_no") or ""
    if (
        not isinstance(refund_no, str)
        or not isinstance(trade_no, str)
        or len(refund_no) > 32
        or len(trade_no) > 64
    ):
        raise NotificationRejected("malformed", payload)
    if kind == KIND_REFUND and not refund_no:
        raise NotificationRejected("malformed", payload)
    return Notification(
        event_id=event_id,
        kind=kind,
        order_no=order_no,
        amount_fen=amount,
        occurred_at=created,
        trade_no=trade_no,
        refund_no=refund_no,
        refund_status=refund_status,
        payload=payload,
    )
