"""Payment races on PostgreSQL: the same callback delivered by several workers at once, the
sweeper against a late payment, sweepers against each other.

Each thread has its own connection and commits for real; a barrier releases them together.
Skipped on SQLite (one writer at a time serialises everything; test_payments.py covers it).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from tests.entries.world import DURING, EntryWorld, build_entry_world
from zikao.core import clock
from zikao.core.models import AuditEvent
from zikao.entries import payments, services
from zikao.entries.models import Entry, PaymentNotification, PaymentOrder, Refund
from zikao.entries.providers import simulated as sim

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LATER = DURING + dt.timedelta(minutes=31)


@pytest.fixture
def pg_world(is_postgres, settings) -> EntryWorld:
    if not is_postgres:
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://…)")
    settings.ZIKAO_PAYMENT_SIM_DELIVERY = "manual"
    settings.ZIKAO_PAYMENT_SIM_ENABLED = True
    sim.outbox_clear()
    yield build_entry_world()
    sim.outbox_clear()


def race(calls, at) -> list:
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            with clock.frozen_at(at):
                barrier.wait(timeout=60)
                outcomes[index] = ("ok", call())
        except Exception as error:  # reported by the assertions
            outcomes[index] = ("crash", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert all(not t.is_alive() for t in threads)
    return outcomes


def setup_order(world: EntryWorld, candidate, codes) -> tuple[list[Entry], PaymentOrder]:
    with clock.frozen_at(DURING):
        entries = services.entries_create(
            actor=world.actor(candidate),
            candidate=candidate,
            sitting=world.sitting,
            course_codes=codes,
            area=world.county,
        ).entries
        order = payments.order_create_for_pending(
            actor=world.actor(candidate), candidate=candidate, sitting=world.sitting
        ).order
    return entries, order


def paid_callback(order: PaymentOrder, paid_at):
    body = sim.event_body(
        sim.TYPE_PAID,
        event_id=f"evt_pay_{order.order_no}",
        order_no=order.order_no,
        amount_fen=order.amount_fen,
        occurred_at=paid_at,
        trade_no="SIMRACE1",
    )

    def call():
        return payments.payment_notification_receive(
            provider="sim", headers=sim.signed_headers(body), body=body
        )

    return call


def test_the_same_callback_from_six_workers_is_applied_once(pg_world: EntryWorld):
    world = pg_world
    _entries, order = setup_order(world, world.alice, ["10001", "10002"])
    outcomes = race([paid_callback(order, DURING)] * 6, DURING + dt.timedelta(minutes=1))
    assert [o[0] for o in outcomes] == ["ok"] * 6
    assert sorted(o[1].outcome for o in outcomes) == ["applied"] + ["duplicate"] * 5
    assert {o[1].reply.status for o in outcomes} == {200}
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.PAID
    assert set(Entry.objects.filter(order=order).values_list("status", flat=True)) == {"confirmed"}
    assert AuditEvent.objects.filter(event_type="payment.paid").count() == 1
    assert PaymentNotification.objects.count() == 6
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 1, "SUN_AM": 0, "SUN_PM": 0}


def test_late_payment_against_the_sweeper_keeps_seats_and_money_consistent(pg_world: EntryWorld):
    """Ten candidates' payments arrive just as the sweeper releases their lapsed holds: each
    entry ends either confirmed (its seat kept) or cancelled and refunded (its seat back)."""
    world = pg_world
    orders = []
    for _ in range(10):
        candidate = world.candidate()
        orders.append(setup_order(world, candidate, ["10001"])[1])
    calls = [paid_callback(order, DURING + dt.timedelta(minutes=29)) for order in orders]
    calls += [payments.holds_expire, payments.holds_expire]
    outcomes = race(calls, LATER)
    assert [o[0] for o in outcomes] == ["ok"] * 12, outcomes
    confirmed = Entry.objects.filter(sitting=world.sitting, status=Entry.Status.CONFIRMED).count()
    cancelled = Entry.objects.filter(sitting=world.sitting, status=Entry.Status.CANCELLED).count()
    assert confirmed + cancelled == 10
    assert world.taken()["SAT_AM"] == confirmed
    assert Refund.objects.count() == cancelled
    assert set(Refund.objects.values_list("amount_fen", flat=True)) <= {4500}
    assert set(PaymentOrder.objects.values_list("status", flat=True)) == {"paid"}
    for order in PaymentOrder.objects.all():
        kept = sum(e.fee_fen for e in Entry.objects.filter(order=order, status=Entry.Status.CONFIRMED))
        refunded = sum(r.amount_fen for r in Refund.objects.filter(order=order))
        assert kept + refunded == order.amount_fen


def test_sweepers_racing_release_each_seat_once(pg_world: EntryWorld):
    world = pg_world
    for _ in range(12):
        setup_order(world, world.candidate(), ["10001", "10003"])
    assert world.taken()["SAT_AM"] == 12
    outcomes = race([payments.holds_expire] * 4, LATER)
    assert [o[0] for o in outcomes] == ["ok"] * 4
    # A sweeper never waits for a candidate another one holds; whatever all of them skipped
    # (a candidate busy in each of them) is done by the next run.
    final = payments.holds_expire(now=LATER)
    assert sum(o[1].entries for o in outcomes) + final.entries == 24
    assert sum(o[1].orders for o in outcomes) + final.orders == 12
    assert world.taken() == {"SAT_AM": 0, "SAT_PM": 0, "SUN_AM": 0, "SUN_PM": 0}
    assert AuditEvent.objects.filter(event_type="entries.holds_expired").count() == 12
    assert AuditEvent.objects.filter(event_type="payment.order_expired").count() == 12


def test_thread_delivery_arrives_asynchronously(pg_world: EntryWorld, settings):
    """The demo's default without a broker: the callback comes from another thread, later."""
    import time

    world = pg_world
    settings.ZIKAO_PAYMENT_SIM_DELIVERY = "thread"
    settings.ZIKAO_PAYMENT_SIM_DELAY_SECONDS = 0.3
    entries, order = setup_order(world, world.alice, ["10001"])
    from urllib.parse import parse_qs, urlparse

    from zikao.entries.providers import get_provider

    provider = get_provider()
    with clock.frozen_at(DURING):
        url = provider.create_checkout(order)
        checkout = provider.read_checkout(order.order_no, parse_qs(urlparse(url).query)["t"][0])
        provider.pay(checkout)
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.PENDING  # not yet: the callback is asynchronous
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        order.refresh_from_db()
        if order.status == PaymentOrder.Status.PAID:
            break
        time.sleep(0.1)
    assert order.status == PaymentOrder.Status.PAID
    assert Entry.objects.get(pk=entries[0].pk).status == Entry.Status.CONFIRMED
    assert PaymentNotification.objects.get().outcome == "applied"
