"""/api/me/payments: create an order, read its status (paid only by the provider's callback),
list orders, checkout — status codes, error bodies, and the permission matrix."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from tests.api.helpers import bearer, token_for
from tests.entries.world import DURING, EntryWorld, build_entry_world
from zikao.core import clock
from zikao.core.models import AuditEvent
from zikao.core.ratelimit import Limit
from zikao.entries import payments, services
from zikao.entries.models import Entry, PaymentOrder
from zikao.entries.providers import simulated as sim

HOLD = dt.timedelta(minutes=30)
BASE = "/api/me/payments"


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
def alice(world: EntryWorld) -> dict[str, str]:
    return bearer(token_for(world.alice))


def enter(world: EntryWorld, candidate, codes) -> list[Entry]:
    return services.entries_create(
        actor=world.actor(candidate),
        candidate=candidate,
        sitting=world.sitting,
        course_codes=codes,
        area=world.county,
    ).entries


def create(client: Client, headers: dict, sitting: str = "202610", key: str | None = "key-1"):
    extra = dict(headers)
    if key is not None:
        extra["Idempotency-Key"] = key
    return client.post(f"{BASE}/orders", {"sitting": sitting}, content_type="application/json", headers=extra)


def test_every_endpoint_needs_a_token(world: EntryWorld):
    client = Client()
    for response in (
        client.get(f"{BASE}/orders"),
        client.post(f"{BASE}/orders", {"sitting": "202610"}, content_type="application/json"),
        client.get(f"{BASE}/orders/ZK20260825AAAAAAAAAAAA"),
        client.post(f"{BASE}/orders/ZK20260825AAAAAAAAAAAA/checkout"),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "NOT_AUTHENTICATED"
    bad = client.get(f"{BASE}/orders", headers=bearer("not-a-token"))
    assert (bad.status_code, bad.json()["code"]) == (401, "TOKEN_INVALID")


def test_first_password_must_be_changed(world: EntryWorld):
    headers = bearer(token_for(world.alice, change_password=False))
    response = Client().get(f"{BASE}/orders", headers=headers)
    assert (response.status_code, response.json()["code"]) == (403, "PASSWORD_CHANGE_REQUIRED")


def test_create_order_then_poll_its_status(world: EntryWorld, alice: dict):
    entries = enter(world, world.alice, ["10001", "10002"])
    client = Client()
    response = create(client, alice)
    assert response.status_code == 201
    assert response["Cache-Control"] == "private, no-store"
    body = response.json()
    order = PaymentOrder.objects.get()
    assert body["created"] is True
    assert body["checkout_url"].startswith(f"/pay/sim/{order.order_no}/?t=")
    assert body["order"]["order_no"] == order.order_no
    assert body["order"]["amount_fen"] == 9000
    assert body["order"]["status"] == "pending" and body["order"]["payable"] is True
    assert body["order"]["expires_at"] == "2026-08-25T10:30:00+08:00"
    assert [(e["course_code"], e["fee_fen"], e["status"]) for e in body["order"]["entries"]] == [
        ("10001", 4500, "pending_payment"),
        ("10002", 4500, "pending_payment"),
    ]
    # The same key again: the same order, nothing new.
    again = create(client, alice)
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["order"]["order_no"] == order.order_no
    assert PaymentOrder.objects.count() == 1
    # The app says nothing about having paid; only the provider's callback does.
    status = client.get(f"{BASE}/orders/{order.order_no}", headers=alice)
    assert status.json()["status"] == "pending"
    payments.payment_notification_receive(
        provider="sim",
        headers=sim.signed_headers(
            body_bytes := sim.event_body(
                sim.TYPE_PAID,
                event_id="evt_api",
                order_no=order.order_no,
                amount_fen=9000,
                occurred_at=DURING,
                trade_no="T1",
            )
        ),
        body=body_bytes,
    )
    paid = client.get(f"{BASE}/orders/{order.order_no}", headers=alice).json()
    assert (paid["status"], paid["status_label"], paid["payable"]) == ("paid", "已支付", False)
    assert paid["paid_at"] == "2026-08-25T10:00:00+08:00"
    assert {e["status"] for e in paid["entries"]} == {"confirmed"}
    assert paid["refunds"] == []
    assert {e.status for e in Entry.objects.filter(pk__in=[e.pk for e in entries])} == {"confirmed"}


def test_create_needs_an_idempotency_key(world: EntryWorld, alice: dict):
    enter(world, world.alice, ["10001"])
    response = create(Client(), alice, key=None)
    assert response.status_code == 422
    assert response.json()["code"] == "PAYMENT_IDEMPOTENCY_KEY_REQUIRED"
    bad = create(Client(), alice, key="has space")
    assert (bad.status_code, bad.json()["code"]) == (422, "PAYMENT_IDEMPOTENCY_KEY_INVALID")
    assert PaymentOrder.objects.count() == 0


def test_create_refusals(world: EntryWorld, alice: dict):
    client = Client()
    nothing = create(client, alice)
    assert (nothing.status_code, nothing.json()["code"]) == (409, "PAYMENT_NOTHING_TO_PAY")
    assert set(nothing.json()) == {"code", "message", "fields"}
    unknown = create(client, alice, sitting="209904")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    malformed = create(client, alice, sitting="2026-10")
    assert (malformed.status_code, malformed.json()["code"]) == (422, "INVALID_INPUT")
    assert PaymentOrder.objects.count() == 0
    assert AuditEvent.objects.filter(event_type__startswith="payment.").count() == 0


def test_create_is_rate_limited(world: EntryWorld, alice: dict, monkeypatch):
    monkeypatch.setattr(payments, "ORDER_PER_CANDIDATE", Limit("payment-order-test", 1, 60))
    enter(world, world.alice, ["10001"])
    assert create(Client(), alice, key="a").status_code == 201
    limited = create(Client(), alice, key="b")
    assert (limited.status_code, limited.json()["code"]) == (429, "PAYMENT_RATE_LIMITED")
    assert int(limited["Retry-After"]) >= 1
    assert PaymentOrder.objects.count() == 1


def test_list_orders_is_mine_only(world: EntryWorld, alice: dict):
    enter(world, world.alice, ["10001"])
    enter(world, world.bob, ["10001"])
    client = Client()
    mine = create(client, alice).json()["order"]["order_no"]
    create(client, bearer(token_for(world.bob)))
    listed = client.get(f"{BASE}/orders", headers=alice)
    assert listed.status_code == 200
    assert [(o["order_no"], o["status"], o["amount_fen"]) for o in listed.json()] == [(mine, "pending", 4500)]
    assert "entries" not in listed.json()[0]


def test_another_candidates_order_is_exactly_a_missing_one(world: EntryWorld, alice: dict):
    enter(world, world.bob, ["10001"])
    client = Client()
    bobs = create(client, bearer(token_for(world.bob))).json()["order"]["order_no"]
    for path in (f"{BASE}/orders/{{}}", f"{BASE}/orders/{{}}/checkout"):
        method = client.post if path.endswith("checkout") else client.get
        theirs = method(path.format(bobs), headers=alice)
        missing = method(path.format("ZK20260825AAAAAAAAAAAA"), headers=alice)
        assert theirs.status_code == missing.status_code == 404
        assert (
            theirs.json() == missing.json() == {"code": "NOT_FOUND", "message": "记录不存在。", "fields": {}}
        )
    odd = client.get(f"{BASE}/orders/{'x' * 300}", headers=alice)
    assert odd.status_code == 404


def test_checkout_while_payable_only(world: EntryWorld, alice: dict):
    enter(world, world.alice, ["10001"])
    client = Client()
    order_no = create(client, alice).json()["order"]["order_no"]
    response = client.post(f"{BASE}/orders/{order_no}/checkout", headers=alice)
    assert response.status_code == 200
    assert response.json()["order_no"] == order_no
    assert response.json()["checkout_url"].startswith(f"/pay/sim/{order_no}/?t=")
    with clock.frozen_at(DURING + HOLD):
        late = client.post(f"{BASE}/orders/{order_no}/checkout", headers=alice)
        shown = client.get(f"{BASE}/orders/{order_no}", headers=alice).json()
    assert (late.status_code, late.json()["code"]) == (409, "PAYMENT_ORDER_NOT_PAYABLE")
    assert late.json()["fields"] == {"order_no": order_no, "status": "expired"}
    assert (shown["status"], shown["payable"]) == ("expired", False)


def test_provider_switched_off(world: EntryWorld, alice: dict, settings):
    enter(world, world.alice, ["10001"])
    settings.ZIKAO_PAYMENT_SIM_ENABLED = False
    response = create(Client(), alice)
    assert (response.status_code, response.json()["code"]) == (503, "PAYMENT_PROVIDER_UNAVAILABLE")
    assert PaymentOrder.objects.count() == 0
