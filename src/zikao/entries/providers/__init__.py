"""Payment providers (支付渠道): the one interface `entries.payments` talks to.

A provider is a class named by the setting `ZIKAO_PAYMENT_PROVIDER` (dotted path). It does four
things, each the way real Chinese payment channels (UnionPay, Alipay, WeChat Pay) do them:

* `create_checkout(order, return_url=...)` — register the order with the provider and return the
  URL of its cashier page, to which the candidate's browser is redirected;
* `verify_notification(headers, body)` — check the signature of an asynchronous callback and
  parse it into a `Notification` (raise `NotificationRejected` otherwise). Only a notification
  that passes here can mark anything paid: the browser coming back from the cashier proves
  nothing;
* `request_refund(refund)` — ask for money back (idempotent on `refund.refund_no`); the result
  arrives later as a "refund" notification;
* `close_checkout(order)` — tell the provider that an order may no longer be paid (expired,
  superseded, cancelled); a payment that still slips through is refunded on arrival;
* `reply(outcome)` — the HTTP answer the provider expects to a callback (success stops its
  retries; a failure makes it deliver again later).

`SimulatedProvider` (providers.simulated) is the demo's provider; a real deployment adds its own
class beside it and points the setting at it.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from zikao.entries.models import PaymentOrder, Refund

# Kinds of notification the domain understands.
KIND_PAID = "paid"
KIND_REFUND = "refund"

REFUND_SUCCEEDED = "succeeded"
REFUND_FAILED = "failed"


@dataclass(frozen=True)
class Notification:
    """A verified callback. `event_id` is the provider's id of the event (the same on every
    redelivery); `occurred_at` is when it happened at the provider (for "paid": the payment
    time, which decides whether the entry's hold was still running)."""

    event_id: str
    kind: str  # KIND_PAID / KIND_REFUND / anything else (stored, ignored)
    order_no: str
    amount_fen: int
    occurred_at: datetime
    trade_no: str = ""
    refund_no: str = ""
    refund_status: str = ""  # REFUND_SUCCEEDED / REFUND_FAILED for KIND_REFUND
    payload: dict[str, Any] = field(default_factory=dict)


class NotificationRejected(Exception):
    """A callback that fails verification: `reason` is "invalid_signature" or "malformed"."""

    def __init__(self, reason: str, payload: dict[str, Any] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.payload = payload or {}


class ProviderUnavailable(Exception):
    """The provider cannot take the request now (switched off, network down)."""


@dataclass(frozen=True)
class ProviderReply:
    """What the notify endpoint answers the provider."""

    status: int
    content_type: str
    body: bytes


class PaymentProvider(abc.ABC):
    """The interface. Subclasses set `name` (≤ 32 chars, stored on orders) and `title` (shown)."""

    name: str = ""
    title: str = ""

    @abc.abstractmethod
    def create_checkout(self, order: PaymentOrder, *, return_url: str = "") -> str:
        """The cashier URL the browser is sent to for paying `order` (raises ProviderUnavailable)."""

    @abc.abstractmethod
    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """The verified callback, or NotificationRejected. `headers` keys are lower-case."""

    @abc.abstractmethod
    def request_refund(self, refund: Refund) -> None:
        """Ask for `refund.amount_fen` back on `refund.order` (idempotent on refund_no)."""

    def available(self) -> bool:
        """Whether orders can be taken now (checked before an order is made). Default: yes."""
        return True

    def close_checkout(self, order: PaymentOrder) -> None:  # noqa: B027 (optional hook)
        """The order can no longer be paid. Default: nothing (the provider's own expiry applies)."""

    @abc.abstractmethod
    def reply(self, outcome: str, *, accepted: bool, retry: bool) -> ProviderReply:
        """The answer to a callback: `accepted` (stop delivering) or not; `retry` when a later
        delivery may succeed (our state has not caught up yet)."""


@lru_cache(maxsize=4)
def _load(path: str) -> PaymentProvider:
    cls = import_string(path)
    provider = cls()
    if not isinstance(provider, PaymentProvider):
        raise TypeError(f"{path} is not a PaymentProvider")
    return provider


def get_provider() -> PaymentProvider:
    """The configured provider (`ZIKAO_PAYMENT_PROVIDER`), one instance per path."""
    return _load(settings.ZIKAO_PAYMENT_PROVIDER)
