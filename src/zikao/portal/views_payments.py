"""Paying the entry fee (缴费) in the portal, and the two provider-facing endpoints.

Candidate pages (signed in; an order number that is not the candidate's gets exactly the page
a missing one gets, 404):

* 缴费 (`/me/payments/`): what is to be paid per sitting, with a 去支付 button (one order for
  all unpaid entries of the sitting, an idempotency key per rendered form), and my orders;
* an order (`/me/payments/<order_no>/`): its entries, refunds, status; 去支付 while payable;
* the return page (`/me/payments/<order_no>/return/`), where the provider sends the browser
  back: it only SHOWS what the provider's signed notification has told us — "支付结果确认中"
  (refreshing itself) until then. Nothing the browser brings back is believed.

Provider side:

* the simulated provider's cashier (`/pay/sim/<order_no>/?t=…`, 模拟支付), only when the
  simulated provider is configured and enabled; it never writes our data, it only makes the
  provider send its notification;
* the notify endpoint (`/pay/notify/<provider>/`): the only CSRF-exempt view, rate-limited per
  client address, signature-verified by the provider class; answers what the provider expects.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, NotFound
from zikao.core.ratelimit import RateLimited, hit
from zikao.entries import payments, selectors
from zikao.entries.models import PaymentOrder
from zikao.entries.providers import get_provider
from zikao.entries.providers.simulated import SimulatedProvider
from zikao.portal.auth import candidate_required, client_ip

NOTIFY_CHOICES = {"normal": (0, None), "duplicate": (2, None), "delayed": (0, 10.0)}


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def _actor(request: HttpRequest) -> Actor:
    return Actor.candidate(request.candidate, ip=client_ip(request))  # type: ignore[attr-defined]


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


def _not_found(request: HttpRequest) -> HttpResponse:
    error = NotFound()
    return _private(
        render(
            request,
            "portal/payments/not_found.html",
            {"code": error.code, "message": error.message},
            status=404,
        )
    )


def _return_url(order_no: str) -> str:
    return reverse("portal:payments_return", args=[order_no])


def _order_row(order: PaymentOrder, now) -> dict[str, Any]:
    status = payments.effective_status(order, now)
    return {
        "order": order,
        "status": status,
        "status_label": payments.status_label(status),
        "amount_yuan": yuan(order.amount_fen),
        "refunded_yuan": yuan(order.refunded_fen),
        "payable": payments.is_payable(order, now),
    }


def _index(request: HttpRequest, *, error: DomainError | None = None, status: int = 200) -> HttpResponse:
    candidate = request.candidate  # type: ignore[attr-defined]
    now = clock.now()
    payables = [
        {
            "payable": p,
            "amount_yuan": yuan(p.amount_fen),
            "entries": [{"entry": e, "fee_yuan": yuan(e.fee_fen)} for e in p.entries],
            "key": secrets.token_urlsafe(24),
        }
        for p in payments.candidate_payables(candidate, at=now)
    ]
    context = {
        "payables": payables,
        "orders": [_order_row(o, now) for o in payments.candidate_orders(candidate)],
        "error": error,
    }
    return _private(render(request, "portal/payments/index.html", context, status=status))


@require_http_methods(["GET"])
@candidate_required
def payments_index(request: HttpRequest) -> HttpResponse:
    """缴费: unpaid entries per sitting (pay them in one order) and my orders."""
    return _index(request)


@require_POST
@candidate_required
def payments_pay(request: HttpRequest) -> HttpResponse:
    """Make (or find again) the order for the sitting's unpaid entries and go to the cashier."""
    candidate = request.candidate  # type: ignore[attr-defined]
    try:
        window = selectors.entry_sitting_get(str(request.POST.get("sitting", ""))[:10])
    except NotFound:
        return _not_found(request)
    try:
        result = payments.order_create_for_pending(
            actor=_actor(request),
            candidate=candidate,
            sitting=window.sitting,
            idempotency_key=str(request.POST.get("idempotency_key", ""))[:200] or None,
        )
        url = payments.order_checkout(
            actor=_actor(request),
            candidate=candidate,
            order_no=result.order.order_no,
            return_url=_return_url(result.order.order_no),
        )
    except NotFound:
        return _not_found(request)
    except DomainError as error:
        return _index(request, error=error, status=error.status)
    return HttpResponseRedirect(url)


def _order_context(order: PaymentOrder) -> dict[str, Any]:
    now = clock.now()
    return {
        **_order_row(order, now),
        "entries": [{"entry": e, "fee_yuan": yuan(e.fee_fen)} for e in payments.order_entries(order)],
        "refunds": [{"refund": r, "amount_yuan": yuan(r.amount_fen)} for r in payments.order_refunds(order)],
    }


@require_http_methods(["GET"])
@candidate_required
def payments_order(request: HttpRequest, order_no: str) -> HttpResponse:
    """One order: entries, refunds, status; 去支付 while it can be paid."""
    try:
        order = payments.candidate_order_get(request.candidate, order_no)  # type: ignore[attr-defined]
    except NotFound:
        return _not_found(request)
    return _private(render(request, "portal/payments/order.html", _order_context(order)))


@require_POST
@candidate_required
def payments_checkout(request: HttpRequest, order_no: str) -> HttpResponse:
    """Go (again) to the provider's cashier for an order that can still be paid."""
    try:
        url = payments.order_checkout(
            actor=_actor(request),
            candidate=request.candidate,  # type: ignore[attr-defined]
            order_no=order_no,
            return_url=_return_url(order_no),
        )
    except NotFound:
        return _not_found(request)
    except DomainError as error:
        messages.error(request, str(error.message))
        return HttpResponseRedirect(reverse("portal:payments_order", args=[order_no]))
    return HttpResponseRedirect(url)


@require_http_methods(["GET"])
@candidate_required
def payments_return(request: HttpRequest, order_no: str) -> HttpResponse:
    """Where the provider sends the browser back. Shows the order as the provider's signed
    notification left it; while none has arrived: 支付结果确认中, refreshing every 3 seconds.
    Whatever the query string says (e.g. ?result=cancelled) is only a hint for the wording."""
    try:
        order = payments.candidate_order_get(request.candidate, order_no)  # type: ignore[attr-defined]
    except NotFound:
        return _not_found(request)
    context = _order_context(order)
    context["confirming"] = context["payable"]
    context["cancelled_at_cashier"] = request.GET.get("result") == "cancelled"
    response = _private(render(request, "portal/payments/return.html", context))
    if context["confirming"] and not context["cancelled_at_cashier"]:
        response["Refresh"] = "3"
    return response


# --- provider side ------------------------------------------------------------------------------


def _simulated() -> SimulatedProvider | None:
    provider = get_provider()
    if isinstance(provider, SimulatedProvider) and provider.enabled():
        return provider
    return None


@require_http_methods(["GET", "POST"])
def payments_sim_cashier(request: HttpRequest, order_no: str) -> HttpResponse:
    """模拟支付's cashier: shows what the merchant registered (from the provider-signed token),
    then pays (the provider sends its signed notification asynchronously) or cancels, and sends
    the browser back to the merchant's return page. 404 when the provider is not the simulated
    one, or the link is not the provider's own for this order."""
    provider = _simulated()
    token = str(request.POST.get("t") or request.GET.get("t") or "")
    checkout = provider.read_checkout(order_no, token) if provider is not None else None
    if provider is None or checkout is None:
        response = render(request, "portal/payments/cashier_missing.html", status=404)
        return _private(response)
    state = provider.cashier_state(checkout)
    if request.method == "POST":
        back = checkout.return_url or reverse("portal:payments")
        if request.POST.get("action") == "cancel":
            return HttpResponseRedirect(f"{back}?{urlencode({'result': 'cancelled'})}")
        if request.POST.get("action") == "pay" and state.payable:
            duplicates, delay = NOTIFY_CHOICES.get(str(request.POST.get("notify", "")), (0, None))
            provider.pay(checkout, duplicates=duplicates, delay=delay)
            return HttpResponseRedirect(back)
        state = provider.cashier_state(checkout)
    context = {"checkout": checkout, "state": state, "title": provider.title}
    status = 409 if request.method == "POST" else 200  # a POST that got here could not pay
    return _private(render(request, "portal/payments/cashier.html", context, status=status))


@csrf_exempt  # the provider's server posts here; the signature is the authentication
@require_POST
def payments_notify(request: HttpRequest, provider: str) -> HttpResponse:
    """The provider's asynchronous notification (支付结果通知). Rate-limited per client address;
    the provider class verifies the signature; the answer is the one the provider expects."""
    try:
        hit(payments.NOTIFY_PER_IP, client_ip(request) or "-")
    except RateLimited as exc:
        limited = JsonResponse({"code": "FAIL", "message": "rate_limited"}, status=429)
        limited["Retry-After"] = str(exc.retry_after)
        return limited
    try:
        result = payments.payment_notification_receive(
            provider=provider[:32], headers=dict(request.headers), body=request.body, ip=client_ip(request)
        )
    except NotFound:
        return JsonResponse({"code": "FAIL", "message": "unknown_provider"}, status=404)
    response = HttpResponse(
        result.reply.body, status=result.reply.status, content_type=result.reply.content_type
    )
    response["Cache-Control"] = "no-store"
    return response
