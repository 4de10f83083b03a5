"""/api/me/payments/…: paying the entry fee (缴费) from the mobile app.

Same services and reads as the portal (`entries.payments`), same error codes. The app creates
an order for a sitting's unpaid entries, opens `checkout_url` (the provider's cashier), and then
polls `GET /orders/{order_no}` until `status` is "paid": only the provider's signed
notification makes an order paid, never anything the app says.

Status codes:

* 200 read, or an order found again (same Idempotency-Key, or an open order that already covers
  exactly the unpaid entries); 201 a new order;
* 401 NOT_AUTHENTICATED / TOKEN_INVALID; 403 PASSWORD_CHANGE_REQUIRED;
* 404 NOT_FOUND: an unknown sitting, an order that is missing or not the candidate's (the same
  answer);
* 409 PAYMENT_NOTHING_TO_PAY, PAYMENT_ORDER_NOT_PAYABLE;
* 422 INVALID_INPUT, PAYMENT_IDEMPOTENCY_KEY_REQUIRED / _INVALID / _REUSED;
* 429 PAYMENT_RATE_LIMITED (with Retry-After); 503 PAYMENT_PROVIDER_UNAVAILABLE.

Responses carry `Cache-Control: private, no-store`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Header, Router, Schema
from ninja.responses import Status

from zikao.api.auth import CandidateTokenAuth
from zikao.candidates.models import Candidate
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import NotFound, ValidationFailed
from zikao.entries import payments, selectors
from zikao.entries.models import PaymentOrder
from zikao.portal.auth import client_ip

router = Router(auth=CandidateTokenAuth(), tags=["payments (缴费)"])

Label = Annotated[str, Field(min_length=1, max_length=6, pattern=r"^\d{6}$")]
OrderStatus = Literal["pending", "paid", "expired", "cancelled", "refunded"]
RefundStatus = Literal["requested", "succeeded", "failed"]
EntryStatus = Literal["pending_payment", "confirmed", "cancelled"]


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict


_ERRORS = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    429: ErrorOut,
    503: ErrorOut,
}


class OrderEntryOut(Schema):
    id: int
    course_code: str
    course_name: str
    fee_fen: int
    status: EntryStatus
    status_label: str


class RefundOut(Schema):
    refund_no: str
    entry_id: int | None
    amount_fen: int
    status: RefundStatus
    status_label: str
    created_at: datetime
    completed_at: datetime | None


class OrderOut(Schema):
    order_no: str
    sitting: str
    amount_fen: int
    refunded_fen: int
    status: OrderStatus
    status_label: str
    payable: bool
    provider: str
    created_at: datetime
    expires_at: datetime
    paid_at: datetime | None


class OrderDetailOut(OrderOut):
    entries: list[OrderEntryOut]
    refunds: list[RefundOut]


class CreatedOut(Schema):
    order: OrderDetailOut
    created: bool
    checkout_url: str


class CheckoutOut(Schema):
    order_no: str
    checkout_url: str


class CreateIn(Schema):
    sitting: Label


def _me(request: HttpRequest) -> Candidate:
    return request.auth  # type: ignore[attr-defined]


def _actor(request: HttpRequest) -> Actor:
    return Actor.candidate(_me(request), ip=client_ip(request))


def _private(response: HttpResponse) -> None:
    response["Cache-Control"] = "private, no-store"


def _local(instant: datetime | None) -> datetime | None:
    return timezone.localtime(instant) if instant is not None else None


def _order(order: PaymentOrder, *, detail: bool = True) -> dict:
    now = clock.now()
    status = payments.effective_status(order, now)
    body: dict = {
        "order_no": order.order_no,
        "sitting": order.sitting.label,
        "amount_fen": order.amount_fen,
        "refunded_fen": order.refunded_fen,
        "status": status,
        "status_label": payments.status_label(status),
        "payable": payments.is_payable(order, now),
        "provider": order.provider,
        "created_at": _local(order.created_at),
        "expires_at": _local(order.expires_at),
        "paid_at": _local(order.paid_at),
    }
    if detail:
        body["entries"] = [
            {
                "id": e.pk,
                "course_code": e.course.code,
                "course_name": e.course.name,
                "fee_fen": e.fee_fen,
                "status": e.status,
                "status_label": str(e.get_status_display()),
            }
            for e in payments.order_entries(order)
        ]
        body["refunds"] = [
            {
                "refund_no": r.refund_no,
                "entry_id": r.entry_id,
                "amount_fen": r.amount_fen,
                "status": r.status,
                "status_label": str(r.get_status_display()),
                "created_at": _local(r.created_at),
                "completed_at": _local(r.completed_at),
            }
            for r in payments.order_refunds(order)
        ]
    return body


def _key(value: str | None) -> str:
    if value is None or value == "":
        raise ValidationFailed(
            "PAYMENT_IDEMPOTENCY_KEY_REQUIRED",
            _("请在 Idempotency-Key 请求头中提供幂等键。"),
            {"idempotency_key": "required"},
        )
    return value


def _return_url(order_no: str) -> str:
    return reverse("portal:payments_return", args=[order_no])


@router.get("/orders", response={200: list[OrderOut], **_ERRORS}, summary="我的缴费订单")
def list_orders(request: HttpRequest, response: HttpResponse):
    """The candidate's orders, newest first. `status` is as shown to the candidate: a pending
    order past its deadline is "expired"; `payable` says whether it can still be paid."""
    _private(response)
    return [_order(o, detail=False) for o in payments.candidate_orders(_me(request))]


@router.post("/orders", response={200: CreatedOut, 201: CreatedOut, **_ERRORS}, summary="发起缴费")
def create_order(
    request: HttpRequest,
    response: HttpResponse,
    payload: CreateIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
):
    """One order for every unpaid entry of the sitting whose hold is still running; open
    `checkout_url` to pay. 201 new; 200 the same order again (same key, or nothing changed)."""
    _private(response)
    key = _key(idempotency_key)
    window = selectors.entry_sitting_get(payload.sitting)
    result = payments.order_create_for_pending(
        actor=_actor(request), candidate=_me(request), sitting=window.sitting, idempotency_key=key
    )
    order = result.order
    url = ""
    if payments.is_payable(order):
        url = payments.order_checkout(
            actor=_actor(request),
            candidate=_me(request),
            order_no=order.order_no,
            return_url=_return_url(order.order_no),
        )
    body = {"order": _order(order), "created": result.created, "checkout_url": url}
    return Status(201 if result.created else 200, body)


@router.get("/orders/{order_no}", response={200: OrderDetailOut, **_ERRORS}, summary="订单支付状态")
def get_order(request: HttpRequest, response: HttpResponse, order_no: str):
    """One order with its entries and refunds. 404 for an order missing or not the candidate's."""
    _private(response)
    return _order(payments.candidate_order_get(_me(request), order_no))


@router.post("/orders/{order_no}/checkout", response={200: CheckoutOut, **_ERRORS}, summary="去支付")
def checkout(request: HttpRequest, response: HttpResponse, order_no: str):
    """The provider's cashier URL for an order that can still be paid (409 otherwise)."""
    _private(response)
    if not isinstance(order_no, str) or len(order_no) > 32:
        raise NotFound()
    url = payments.order_checkout(
        actor=_actor(request), candidate=_me(request), order_no=order_no, return_url=_return_url(order_no)
    )
    return {"order_no": order_no, "checkout_url": url}
