"""Portal payment pages: 缴费, an order, the return page (never believes the browser), the
simulated provider's cashier and the notify endpoint — with the permission matrix."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.urls import reverse

from tests.entries.world import DURING, EntryWorld, build_entry_world
from tests.portal.helpers import log_in
from zikao.core import clock
from zikao.core.models import AuditEvent
from zikao.core.ratelimit import Limit
from zikao.entries import payments, services
from zikao.entries.models import Entry, PaymentNotification, PaymentOrder
from zikao.entries.providers import simulated as sim

HOLD = dt.timedelta(minutes=30)
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')
NEXT = re.compile(rb'name="next" type="hidden" value="[^"]*"')  # the language form: this very URL


@pytest.fixture(autouse=True)
def _manual_provider(settings):
    settings.ZIKAO_PAYMENT_SIM_DELIVERY = "manual"
    settings.ZIKAO_PAYMENT_SIM_ENABLED = True
    sim.outbox_clear()
    with clock.frozen_at(DURING):
        yield
    sim.outbox_clear()


@pytest.fixture
def world(db) -> EntryWorld:
    return build_entry_world()


@pytest.fixture
def alice_client(world: EntryWorld) -> Client:
    client = Client()
    log_in(client, world.alice)
    return client


def enter(world: EntryWorld, candidate, codes) -> list[Entry]:
    return services.entries_create(
        actor=world.actor(candidate),
        candidate=candidate,
        sitting=world.sitting,
        course_codes=codes,
        area=world.county,
    ).entries


def make_order(world: EntryWorld, candidate, codes=("10001", "10002")) -> PaymentOrder:
    enter(world, candidate, list(codes))
    return payments.order_create_for_pending(
        actor=world.actor(candidate), candidate=candidate, sitting=world.sitting
    ).order


def fresh(obj):
    obj.refresh_from_db()
    return obj


def text(response) -> str:
    return response.content.decode()


def without_csrf(response) -> bytes:
    """The page without what differs between any two requests (token, the requested URL)."""
    return NEXT.sub(b"", CSRF.sub(b"", response.content))


# --- anonymous --------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(world: EntryWorld):
    order = make_order(world, world.alice)
    client = Client()
    for url in (
        reverse("portal:payments"),
        reverse("portal:payments_order", args=[order.order_no]),
        reverse("portal:payments_return", args=[order.order_no]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login"))
    for url in (reverse("portal:payments_pay"), reverse("portal:payments_checkout", args=[order.order_no])):
        response = client.post(url, {"sitting": "202610"})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login"))
    assert PaymentOrder.objects.count() == 1


def test_posts_need_the_csrf_token(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    client = Client(enforce_csrf_checks=True)
    log_in(client, world.alice)
    response = client.post(reverse("portal:payments_pay"), {"sitting": "202610", "idempotency_key": "k"})
    assert response.status_code == 403
    assert PaymentOrder.objects.count() == 0


# --- the 缴费 page and paying ---------------------------------------------------------------------


def test_payments_page_lists_what_is_to_be_paid(world: EntryWorld, alice_client: Client):
    enter(world, world.alice, ["10001", "10002"])
    response = alice_client.get(reverse("portal:payments"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    body = text(response)
    assert 'data-sitting="202610"' in body
    assert 'data-amount="9000">90.00<' in body
    assert "去支付 90.00 元" in body
    assert "请在 2026-08-25 10:30 前完成缴费" in body
    assert "暂无缴费订单。" in body


def test_paying_goes_to_the_cashier_once_per_key(world: EntryWorld, alice_client: Client):
    enter(world, world.alice, ["10001", "10002"])
    data = {"sitting": "202610", "idempotency_key": "form-key-1"}
    first = alice_client.post(reverse("portal:payments_pay"), data)
    second = alice_client.post(reverse("portal:payments_pay"), data)
    order = PaymentOrder.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"].startswith(f"/pay/sim/{order.order_no}/?t=")
    assert (order.amount_fen, order.status, order.idempotency_key) == (9000, "pending", "form-key-1")
    assert AuditEvent.objects.filter(event_type="payment.order_created").count() == 1


def test_paying_with_nothing_to_pay_shows_the_reason(world: EntryWorld, alice_client: Client):
    response = alice_client.post(
        reverse("portal:payments_pay"), {"sitting": "202610", "idempotency_key": "k"}
    )
    assert response.status_code == 409
    assert 'data-code="PAYMENT_NOTHING_TO_PAY"' in text(response)
    assert PaymentOrder.objects.count() == 0


def test_paying_for_an_unknown_sitting_is_not_found(world: EntryWorld, alice_client: Client):
    enter(world, world.alice, ["10001"])
    response = alice_client.post(
        reverse("portal:payments_pay"), {"sitting": "209904", "idempotency_key": "k"}
    )
    assert response.status_code == 404
    assert PaymentOrder.objects.count() == 0


def test_the_whole_journey_never_trusts_the_browser(world: EntryWorld, alice_client: Client):
    entries = enter(world, world.alice, ["10001", "10002"])
    cashier_url = alice_client.post(
        reverse("portal:payments_pay"), {"sitting": "202610", "idempotency_key": "k1"}
    )["Location"]
    order = PaymentOrder.objects.get()
    # The provider's cashier (no sign-in needed there: it is the provider's site).
    cashier = Client().get(cashier_url)
    assert cashier.status_code == 200
    body = text(cashier)
    assert "模拟支付" in body and 'data-simulated="1"' in body
    assert 'data-amount="9000"' in body and "90.00 元" in body
    token = parse_qs(urlparse(cashier_url).query)["t"][0]
    paid = Client().post(cashier_url.split("?")[0], {"t": token, "action": "pay", "notify": "normal"})
    return_url = reverse("portal:payments_return", args=[order.order_no])
    assert paid.status_code == 302 and paid["Location"] == return_url
    # Back from the cashier, before the provider's notification: still pending, says so.
    page = alice_client.get(return_url)
    assert page.status_code == 200
    assert page["Refresh"] == "3"
    assert 'data-result="confirming"' in text(page) and "支付结果确认中" in text(page)
    assert fresh(order).status == PaymentOrder.Status.PENDING
    assert {fresh(e).status for e in entries} == {Entry.Status.PENDING_PAYMENT}
    # A browser claiming success changes nothing either.
    faked = alice_client.get(return_url + "?result=success&trade_status=TRADE_SUCCESS&paid=1")
    assert 'data-result="confirming"' in text(faked)
    assert fresh(order).status == PaymentOrder.Status.PENDING
    # The signed notification arrives: now it is paid.
    assert sim.outbox_deliver() == [200]
    done = alice_client.get(return_url)
    assert 'data-result="paid"' in text(done) and "支付成功" in text(done)
    assert "Refresh" not in done
    assert {fresh(e).status for e in entries} == {Entry.Status.CONFIRMED}


def test_cancelling_at_the_cashier(world: EntryWorld, alice_client: Client):
    order = make_order(world, world.alice)
    url = payments.order_checkout(
        actor=world.actor(world.alice),
        candidate=world.alice,
        order_no=order.order_no,
        return_url=reverse("portal:payments_return", args=[order.order_no]),
    )
    token = parse_qs(urlparse(url).query)["t"][0]
    response = Client().post(url.split("?")[0], {"t": token, "action": "cancel"})
    assert response.status_code == 302
    assert (
        response["Location"] == reverse("portal:payments_return", args=[order.order_no]) + "?result=cancelled"
    )
    page = alice_client.get(response["Location"])
    assert 'data-result="not_paid"' in text(page)
    assert "重新支付" in text(page)
    assert fresh(order).status == PaymentOrder.Status.PENDING
    assert sim.OUTBOX == []


def test_cashier_refuses_bad_links(world: EntryWorld, settings):
    order = make_order(world, world.alice)
    other = make_order(world, world.bob, ("10001",))
    url = payments.order_checkout(
        actor=world.actor(world.alice), candidate=world.alice, order_no=order.order_no
    )
    token = parse_qs(urlparse(url).query)["t"][0]
    client = Client()
    assert client.get(f"/pay/sim/{order.order_no}/").status_code == 404
    assert client.get(f"/pay/sim/{order.order_no}/?t={token}x").status_code == 404
    assert client.get(f"/pay/sim/{other.order_no}/?t={token}").status_code == 404  # another order's link
    response = client.post(f"/pay/sim/{other.order_no}/", {"t": token, "action": "pay"})
    assert response.status_code == 404
    assert sim.OUTBOX == []
    settings.ZIKAO_PAYMENT_SIM_ENABLED = False
    assert client.get(url).status_code == 404


def test_cashier_refuses_to_take_money_after_the_deadline(world: EntryWorld):
    order = make_order(world, world.alice)
    url = payments.order_checkout(
        actor=world.actor(world.alice), candidate=world.alice, order_no=order.order_no
    )
    token = parse_qs(urlparse(url).query)["t"][0]
    with clock.frozen_at(DURING + HOLD):
        page = Client().get(url)
        assert 'data-state="expired"' in text(page)
        response = Client().post(url.split("?")[0], {"t": token, "action": "pay"})
    assert response.status_code == 409
    assert sim.OUTBOX == []


def test_cashier_duplicate_option_sends_three_callbacks(world: EntryWorld):
    order = make_order(world, world.alice)
    url = payments.order_checkout(
        actor=world.actor(world.alice), candidate=world.alice, order_no=order.order_no
    )
    token = parse_qs(urlparse(url).query)["t"][0]
    Client().post(url.split("?")[0], {"t": token, "action": "pay", "notify": "duplicate"})
    assert sim.outbox_deliver() == [200, 200, 200]
    assert sorted(PaymentNotification.objects.values_list("outcome", flat=True)) == [
        "applied",
        "duplicate",
        "duplicate",
    ]
    assert AuditEvent.objects.filter(event_type="payment.paid").count() == 1


# --- an order's pages: mine only ---------------------------------------------------------------


def test_order_page(world: EntryWorld, alice_client: Client):
    order = make_order(world, world.alice)
    response = alice_client.get(reverse("portal:payments_order", args=[order.order_no]))
    assert response.status_code == 200
    body = text(response)
    assert order.order_no in body
    assert 'data-status="pending"' in body
    assert "去支付 90.00 元" in body
    assert body.count("data-entry=") == 2
    checkout = alice_client.post(reverse("portal:payments_checkout", args=[order.order_no]))
    assert checkout.status_code == 302 and checkout["Location"].startswith(f"/pay/sim/{order.order_no}/?t=")


def test_expired_order_cannot_be_checked_out(world: EntryWorld, alice_client: Client):
    order = make_order(world, world.alice)
    with clock.frozen_at(DURING + HOLD):
        page = alice_client.get(reverse("portal:payments_order", args=[order.order_no]))
        assert 'data-status="expired"' in text(page) and "去支付" not in text(page)
        response = alice_client.post(reverse("portal:payments_checkout", args=[order.order_no]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:payments_order", args=[order.order_no])
    assert "该订单当前不能支付" in text(response)


@pytest.mark.parametrize("name", ["payments_order", "payments_return"])
def test_another_candidates_order_is_exactly_a_missing_one(world: EntryWorld, alice_client: Client, name):
    bobs = make_order(world, world.bob, ("10001",))
    theirs = alice_client.get(reverse(f"portal:{name}", args=[bobs.order_no]))
    missing = alice_client.get(reverse(f"portal:{name}", args=["ZK20260825AAAAAAAAAAAA"]))
    assert theirs.status_code == missing.status_code == 404
    assert without_csrf(theirs) == without_csrf(missing)
    assert bobs.order_no.encode() not in without_csrf(theirs)


def test_another_candidates_checkout_is_not_found(world: EntryWorld, alice_client: Client):
    bobs = make_order(world, world.bob, ("10001",))
    response = alice_client.post(reverse("portal:payments_checkout", args=[bobs.order_no]))
    assert response.status_code == 404
    assert sim.OUTBOX == []


def test_orders_list_shows_only_mine(world: EntryWorld, alice_client: Client):
    mine = make_order(world, world.alice)
    bobs = make_order(world, world.bob, ("10001",))
    body = text(alice_client.get(reverse("portal:payments")))
    assert f'data-order="{mine.order_no}"' in body
    assert bobs.order_no not in body


# --- the notify endpoint ----------------------------------------------------------------------


def notify_body(order: PaymentOrder, amount: int | None = None) -> bytes:
    return sim.event_body(
        sim.TYPE_PAID,
        event_id="evt_http_1",
        order_no=order.order_no,
        amount_fen=order.amount_fen if amount is None else amount,
        occurred_at=DURING,
        trade_no="SIMHTTP1",
    )


def post_notify(client: Client, body: bytes, headers: dict, provider: str = "sim"):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "content-type"}
    return client.post(
        reverse("portal:payments_notify", args=[provider]),
        data=body,
        content_type="application/json",
        **extra,
    )


def test_notify_endpoint_applies_a_signed_callback_without_csrf(world: EntryWorld):
    order = make_order(world, world.alice)
    body = notify_body(order)
    client = Client(enforce_csrf_checks=True)
    response = post_notify(client, body, sim.signed_headers(body))
    assert response.status_code == 200
    assert response.json() == {"code": "SUCCESS"}
    assert fresh(order).status == PaymentOrder.Status.PAID
    again = post_notify(client, body, sim.signed_headers(body))
    assert (again.status_code, again.json()) == (200, {"code": "SUCCESS"})
    assert AuditEvent.objects.filter(event_type="payment.paid").count() == 1


def test_notify_endpoint_refuses_a_bad_signature(world: EntryWorld):
    order = make_order(world, world.alice)
    body = notify_body(order)
    audit = AuditEvent.objects.count()
    response = post_notify(Client(), body, sim.signed_headers(body, secret=b"forged"))
    assert response.status_code == 401
    assert json.loads(response.content) == {"code": "FAIL", "message": "invalid_signature"}
    assert fresh(order).status == PaymentOrder.Status.PENDING
    assert AuditEvent.objects.count() == audit
    assert PaymentNotification.objects.get().signature_valid is False


def test_notify_endpoint_other_methods_and_providers(world: EntryWorld):
    client = Client()
    assert client.get(reverse("portal:payments_notify", args=["sim"])).status_code == 405
    response = post_notify(client, b"{}", {}, provider="alipay")
    assert response.status_code == 404
    assert PaymentNotification.objects.count() == 0


def test_notify_endpoint_is_rate_limited(world: EntryWorld, monkeypatch):
    monkeypatch.setattr(payments, "NOTIFY_PER_IP", Limit("payment-notify-ip-test", 2, 60))
    client = Client()
    statuses = [post_notify(client, b"{}", {}).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert PaymentNotification.objects.count() == 2
