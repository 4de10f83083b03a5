"""entries.payments: orders, the provider's signed callbacks (applied once, whatever the order
and however often they arrive), lapsed holds, refunds — with the simulated provider in
"manual" delivery, so every callback is sent exactly when the test says."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command

from tests.entries.world import DURING, EntryWorld
from tests.factories import StaffFactory
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import ROLE_PERMISSIONS, Perm, PermissionDenied, Role
from zikao.candidates.models import Candidate
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import NotFound, ValidationFailed
from zikao.core.models import AuditEvent
from zikao.entries import payments, services, tasks
from zikao.entries.models import AreaSlotCapacity, Entry, PaymentNotification, PaymentOrder, Refund
from zikao.entries.providers import get_provider
from zikao.entries.providers import simulated as sim

HOLD = dt.timedelta(minutes=30)


@pytest.fixture(autouse=True)
def _manual_provider(settings):
    settings.ZIKAO_PAYMENT_SIM_DELIVERY = "manual"
    settings.ZIKAO_PAYMENT_SIM_ENABLED = True
    sim.outbox_clear()
    with clock.frozen_at(DURING):
        yield
    sim.outbox_clear()


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what the services schedule after commit (refund requests, closing orders)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- helpers ----------------------------------------------------------------------------------


def enter(world: EntryWorld, candidate: Candidate, codes) -> list[Entry]:
    return services.entries_create(
        actor=world.actor(candidate),
        candidate=candidate,
        sitting=world.sitting,
        course_codes=codes,
        area=world.county,
    ).entries


def order_for(
    world: EntryWorld, candidate: Candidate, key: str | None = None, actor=None
) -> payments.OrderResult:
    return payments.order_create_for_pending(
        actor=actor or world.actor(candidate), candidate=candidate, sitting=world.sitting, idempotency_key=key
    )


def pay_at_cashier(order: PaymentOrder, **options) -> sim.CashierState:
    """The candidate pays at the simulated cashier: the provider queues its callback."""
    provider = get_provider()
    url = provider.create_checkout(order, return_url="/back/")
    token = parse_qs(urlparse(url).query)["t"][0]
    checkout = provider.read_checkout(order.order_no, token)
    assert checkout is not None
    return provider.pay(checkout, **options)


def callback(
    event_type: str,
    order: PaymentOrder,
    *,
    amount: int | None = None,
    event_id: str = "evt_test_1",
    trade_no: str = "SIMTRADE1",
    refund_no: str = "",
    occurred_at: dt.datetime | None = None,
    secret: bytes | None = None,
    headers: dict | None = None,
) -> payments.ReceiveResult:
    """A callback crafted as the provider would send it (signed with its key unless `secret`)."""
    body = sim.event_body(
        event_type,
        event_id=event_id,
        order_no=order.order_no,
        amount_fen=order.amount_fen if amount is None else amount,
        occurred_at=occurred_at or clock.now(),
        trade_no=trade_no,
        refund_no=refund_no,
    )
    signed = sim.signed_headers(body, secret=secret) if headers is None else headers
    return payments.payment_notification_receive(provider="sim", headers=signed, body=body, ip="192.0.2.10")


def fresh(obj):
    obj.refresh_from_db()
    return obj


def state(world: EntryWorld) -> tuple:
    """Everything a refused callback or request must leave as it was."""
    return (
        sorted(Entry.objects.values_list("pk", "status", "order_id")),
        sorted(PaymentOrder.objects.values_list("pk", "status", "amount_fen", "refunded_fen", "paid_at")),
        sorted(Refund.objects.values_list("pk", "status")),
        sorted(AreaSlotCapacity.objects.values_list("pk", "taken")),
        AuditEvent.objects.count(),
    )


def events(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=kind).order_by("pk"))


def _staff(office, roles=()):
    user = StaffFactory(office=office)
    for role in roles:
        StaffRole.objects.create(user=user, role=role, granted_at=DURING)
    return user


# --- orders -----------------------------------------------------------------------------------


def test_order_covers_every_unpaid_entry_of_the_sitting(world: EntryWorld):
    first = enter(world, world.alice, ["10001"])
    with clock.frozen_at(DURING + dt.timedelta(minutes=5)):
        second = enter(world, world.alice, ["10002"])
        result = order_for(world, world.alice)
    order = result.order
    assert result.created is True
    assert order.amount_fen == 9000
    assert order.status == PaymentOrder.Status.PENDING
    assert order.provider == "sim"
    assert order.expires_at == DURING + HOLD  # the earliest hold
    assert order.created_at == DURING + dt.timedelta(minutes=5)
    assert order.order_no.startswith("ZK20260825") and len(order.order_no) == 22
    assert sorted(Entry.objects.filter(order=order).values_list("pk", flat=True)) == sorted(
        [first[0].pk, second[0].pk]
    )
    event = AuditEvent.objects.get(event_type="payment.order_created")
    assert event.candidate_id == world.alice.pk
    assert event.actor_kind == "candidate"
    assert event.after["amount_fen"] == 9000
    assert [e["course"] for e in event.after["entries"]] == ["10001", "10002"]
    assert event.after["superseded"] == []


def test_order_creation_is_idempotent(world: EntryWorld):
    enter(world, world.alice, ["10001", "10002"])
    first = order_for(world, world.alice, key="k-1")
    again = order_for(world, world.alice, key="k-1")
    assert again.created is False and again.order.pk == first.order.pk
    without_key = order_for(world, world.alice)  # nothing changed: the open order again
    assert without_key.created is False and without_key.order.pk == first.order.pk
    assert PaymentOrder.objects.count() == 1
    assert len(events("payment.order_created")) == 1


def test_idempotency_key_reused_for_another_sitting_is_refused(world: EntryWorld):
    from tests.factories import SittingFactory

    enter(world, world.alice, ["10001"])
    order_for(world, world.alice, key="k-1")
    other = SittingFactory(label="202701", first_day=dt.date(2027, 1, 9))
    before = state(world)
    with pytest.raises(ValidationFailed) as info:
        payments.order_create_for_pending(
            actor=world.actor(world.alice), candidate=world.alice, sitting=other, idempotency_key="k-1"
        )
    assert info.value.code == payments.PAYMENT_IDEMPOTENCY_KEY_REUSED
    assert state(world) == before


@pytest.mark.parametrize("key", ["x" * 65, "with space", "键"])
def test_malformed_idempotency_key_is_refused(world: EntryWorld, key):
    enter(world, world.alice, ["10001"])
    before = state(world)
    with pytest.raises(ValidationFailed) as info:
        order_for(world, world.alice, key=key)
    assert info.value.code == payments.PAYMENT_IDEMPOTENCY_KEY_INVALID
    assert info.value.status == 422
    assert state(world) == before


def test_new_entries_supersede_the_open_order(world: EntryWorld, run_on_commit):
    enter(world, world.alice, ["10001"])
    old = order_for(world, world.alice).order
    enter(world, world.alice, ["10002"])
    with run_on_commit():
        result = order_for(world, world.alice)
    assert result.created is True
    assert result.superseded == [old.order_no]
    assert fresh(old).status == PaymentOrder.Status.CANCELLED
    assert result.order.amount_fen == 9000
    assert set(Entry.objects.filter(sitting=world.sitting).values_list("order_id", flat=True)) == {
        result.order.pk
    }
    # The provider was told: its cashier no longer takes money for the old order.
    state_at_cashier = pay_at_cashier(old)
    assert state_at_cashier.closed is True and state_at_cashier.paid is False
    assert sim.OUTBOX == []


def test_nothing_to_pay(world: EntryWorld):
    before = state(world)
    with pytest.raises(payments.PaymentRefused) as info:
        order_for(world, world.alice)
    assert info.value.code == payments.PAYMENT_NOTHING_TO_PAY
    assert info.value.status == 409
    assert state(world) == before


def test_order_creation_releases_own_lapsed_holds_first(world: EntryWorld):
    entries = enter(world, world.alice, ["10001"])
    with clock.frozen_at(DURING + HOLD), pytest.raises(payments.PaymentRefused) as info:
        order_for(world, world.alice)
    assert info.value.code == payments.PAYMENT_NOTHING_TO_PAY
    entry = fresh(entries[0])
    assert entry.status == Entry.Status.CANCELLED
    assert entry.cancel_reason == Entry.CancelReason.UNPAID
    assert world.taken()["SAT_AM"] == 0
    assert PaymentOrder.objects.count() == 0


def test_order_permissions(world: EntryWorld, monkeypatch):
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.RECORD_CLERK, ROLE_PERMISSIONS[Role.RECORD_CLERK] | {Perm.ENTRIES_MANAGE}
    )
    enter(world, world.alice, ["10001"])
    before = state(world)
    with pytest.raises(NotFound):  # another candidate acting
        order_for(world, world.alice, actor=world.actor(world.bob))
    with pytest.raises(NotFound):
        order_for(world, world.alice, actor=Actor.public("192.0.2.1"))
    with pytest.raises(PermissionDenied):  # staff without the permission
        order_for(world, world.alice, actor=Actor.staff(_staff(world.city)))
    with pytest.raises(PermissionDenied):  # the permission needs a city office
        order_for(world, world.alice, actor=Actor.staff(_staff(world.county, [Role.RECORD_CLERK])))
    with pytest.raises(NotFound):  # out of scope: like a missing candidate
        order_for(world, world.alice, actor=Actor.staff(_staff(world.other_city, [Role.RECORD_CLERK])))
    assert state(world) == before
    result = order_for(world, world.alice, actor=Actor.staff(_staff(world.city, [Role.RECORD_CLERK])))
    assert result.created is True
    assert AuditEvent.objects.get(event_type="payment.order_created").actor_kind == "staff"


def test_checkout_only_for_a_payable_order_of_the_candidate(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    url = payments.order_checkout(
        actor=world.actor(world.alice), candidate=world.alice, order_no=order.order_no
    )
    assert url.startswith(f"/pay/sim/{order.order_no}/?t=")
    with pytest.raises(NotFound):
        payments.order_checkout(actor=world.actor(world.bob), candidate=world.alice, order_no=order.order_no)
    with pytest.raises(NotFound):
        payments.order_checkout(actor=world.actor(world.bob), candidate=world.bob, order_no=order.order_no)
    with clock.frozen_at(DURING + HOLD), pytest.raises(payments.PaymentRefused) as info:
        payments.order_checkout(
            actor=world.actor(world.alice), candidate=world.alice, order_no=order.order_no
        )
    assert info.value.code == payments.PAYMENT_ORDER_NOT_PAYABLE


def test_checkout_with_the_simulated_provider_switched_off(world: EntryWorld, settings):
    enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    settings.ZIKAO_PAYMENT_SIM_ENABLED = False
    with pytest.raises(payments.PaymentProviderUnavailable) as info:
        payments.order_checkout(
            actor=world.actor(world.alice), candidate=world.alice, order_no=order.order_no
        )
    assert info.value.code == payments.PAYMENT_PROVIDER_UNAVAILABLE
    assert info.value.status == 503
    enter(world, world.alice, ["10002"])
    before = state(world)
    with pytest.raises(payments.PaymentProviderUnavailable):  # no order is made without a provider
        order_for(world, world.alice)
    assert state(world) == before


# --- paying -----------------------------------------------------------------------------------


def test_payment_confirms_the_entries_only_when_the_callback_arrives(world: EntryWorld):
    entries = enter(world, world.alice, ["10001", "10002"])
    order = order_for(world, world.alice).order
    with clock.frozen_at(DURING + dt.timedelta(minutes=3)):
        pay_at_cashier(order)
    # Paid at the cashier, callback not delivered yet: nothing is paid on our side.
    assert fresh(order).status == PaymentOrder.Status.PENDING
    assert {fresh(e).status for e in entries} == {Entry.Status.PENDING_PAYMENT}
    assert PaymentNotification.objects.count() == 0
    with clock.frozen_at(DURING + dt.timedelta(minutes=4)):
        assert sim.outbox_deliver() == [200]
    order = fresh(order)
    assert order.status == PaymentOrder.Status.PAID
    assert order.paid_at == DURING + dt.timedelta(minutes=3)  # the provider's payment time
    assert order.provider_trade_no.startswith("SIM20260825")
    assert {fresh(e).status for e in entries} == {Entry.Status.CONFIRMED}
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 1, "SUN_AM": 0, "SUN_PM": 0}
    note = PaymentNotification.objects.get()
    assert (note.outcome, note.signature_valid, note.order_id, note.kind) == (
        "applied",
        True,
        order.pk,
        "paid",
    )
    event = AuditEvent.objects.get(event_type="payment.paid")
    assert event.candidate_id == world.alice.pk
    assert event.before["status"] == "pending" and event.after["status"] == "paid"
    assert [e["course"] for e in event.after["confirmed"]] == ["10001", "10002"]
    assert event.after["refunds"] == []


def test_duplicate_callbacks_are_applied_once(world: EntryWorld):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    pay_at_cashier(order, duplicates=2)  # the provider sends the same event three times
    assert sim.outbox_deliver(repeat=2) == [200] * 6
    assert fresh(order).status == PaymentOrder.Status.PAID
    assert fresh(entries[0]).status == Entry.Status.CONFIRMED
    outcomes = sorted(PaymentNotification.objects.values_list("outcome", flat=True))
    assert outcomes == ["applied"] + ["duplicate"] * 5
    assert len(events("payment.paid")) == 1
    assert PaymentNotification.objects.filter(outcome="duplicate", order=order).count() == 5


def test_paying_twice_at_the_cashier_sends_the_same_event(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    pay_at_cashier(order)
    pay_at_cashier(order)
    assert sim.outbox_deliver() == [200, 200]
    assert sorted(PaymentNotification.objects.values_list("outcome", flat=True)) == ["applied", "duplicate"]
    assert len(events("payment.paid")) == 1


def test_another_event_saying_the_same_changes_nothing(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    assert callback(sim.TYPE_PAID, order, event_id="evt_a").outcome == "applied"
    before = state(world)
    result = callback(sim.TYPE_PAID, order, event_id="evt_b")
    assert (result.outcome, result.reply.status) == ("no_change", 200)
    assert state(world) == before


def test_a_second_trade_for_a_paid_order_is_flagged(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    callback(sim.TYPE_PAID, order, event_id="evt_a", trade_no="T1")
    before = state(world)
    result = callback(sim.TYPE_PAID, order, event_id="evt_b", trade_no="T2")
    assert (result.outcome, result.reply.status) == ("duplicate_payment", 200)
    assert state(world) == before


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong_key", "invalid_signature"),
        ("no_signature", "invalid_signature"),
        ("tampered", "invalid_signature"),
        ("stale", "stale"),
    ],
)
def test_invalid_signature_is_refused_and_nothing_changes(world: EntryWorld, case, expected):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    before = state(world)
    body = sim.event_body(
        sim.TYPE_PAID, event_id="evt_x", order_no=order.order_no, amount_fen=4500, occurred_at=DURING
    )
    headers = sim.signed_headers(body)
    if case == "wrong_key":
        headers = sim.signed_headers(body, secret=b"not-the-key")
    elif case == "no_signature":
        headers = {"content-type": "application/json"}
    elif case == "tampered":
        body = body.replace(b'"amount_fen": 4500', b'"amount_fen": 1')
    elif case == "stale":
        headers = sim.signed_headers(body, at=DURING - dt.timedelta(minutes=6))
    result = payments.payment_notification_receive(provider="sim", headers=headers, body=body)
    assert result.outcome == expected
    assert result.reply.status == 401
    assert json.loads(result.reply.body) == {"code": "FAIL", "message": expected}
    assert state(world) == before
    assert fresh(entries[0]).status == Entry.Status.PENDING_PAYMENT
    note = PaymentNotification.objects.get()
    assert (note.signature_valid, note.outcome, note.order_id) == (False, expected, None)
    assert note.event_id.startswith("rejected~")
    # The real event, signed properly, is still applied afterwards (the forgery blocked nothing).
    assert callback(sim.TYPE_PAID, order, event_id="evt_x").outcome == "applied"


def test_signed_but_unreadable_callback_is_malformed(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    before = state(world)
    for body in (b"not json", b'{"id": "e1", "type": "trade.success"}', b'{"id": 5, "data": {}}'):
        result = payments.payment_notification_receive(
            provider="sim", headers=sim.signed_headers(body), body=body
        )
        assert (result.outcome, result.reply.status) == ("malformed", 400)
    assert state(world) == before
    assert PaymentNotification.objects.filter(signature_valid=False, outcome="malformed").count() == 3


def test_unknown_provider_is_not_found(world: EntryWorld):
    with pytest.raises(NotFound):
        payments.payment_notification_receive(provider="alipay", headers={}, body=b"{}")
    assert PaymentNotification.objects.count() == 0


def test_amount_mismatch_is_refused_and_logged(world: EntryWorld, caplog):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    before = state(world)
    with caplog.at_level("ERROR", logger="zikao.entries.payments"):
        result = callback(sim.TYPE_PAID, order, amount=1)
    assert (result.outcome, result.reply.status) == ("amount_mismatch", 400)
    assert state(world) == before
    assert fresh(entries[0]).status == Entry.Status.PENDING_PAYMENT
    assert PaymentNotification.objects.get().outcome == "amount_mismatch"
    assert "amount 1 fen, the order is 4500 fen" in caplog.text
    # Its redelivery is refused the same way and recorded as a duplicate.
    again = callback(sim.TYPE_PAID, order, amount=1)
    assert (again.outcome, again.effect, again.reply.status) == ("duplicate", "amount_mismatch", 400)
    assert state(world) == before


def test_callback_for_an_unknown_order(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    order.order_no = "ZK20260825XXXXXXXXXXXX"  # not saved: a number we never issued
    before = state(world)
    result = callback(sim.TYPE_PAID, order)
    assert (result.outcome, result.reply.status) == ("unknown_order", 400)
    assert state(world) == before


# --- late and out-of-order payments -------------------------------------------------------------


def test_payment_after_the_hold_was_released_is_refunded(world: EntryWorld, run_on_commit):
    entries = enter(world, world.alice, ["10001", "10002"])
    order = order_for(world, world.alice).order
    pay_at_cashier(order)  # paid in time, but the callback is late
    later = DURING + HOLD + dt.timedelta(minutes=2)
    with clock.frozen_at(later):
        with run_on_commit():
            report = payments.holds_expire()
        assert (report.entries, report.orders) == (2, 1)
        assert world.taken() == {"SAT_AM": 0, "SAT_PM": 0, "SUN_AM": 0, "SUN_PM": 0}
        assert fresh(order).status == PaymentOrder.Status.EXPIRED
        with run_on_commit():
            assert sim.outbox_deliver() == [200]
    order = fresh(order)
    assert order.status == PaymentOrder.Status.PAID  # the money did arrive
    assert {fresh(e).status for e in entries} == {Entry.Status.CANCELLED}  # no seat was re-taken
    assert world.taken() == {"SAT_AM": 0, "SAT_PM": 0, "SUN_AM": 0, "SUN_PM": 0}
    refunds = list(Refund.objects.order_by("pk"))
    assert [(r.entry_id, r.amount_fen, r.status) for r in refunds] == [
        (entries[0].pk, 4500, "requested"),
        (entries[1].pk, 4500, "requested"),
    ]
    assert PaymentNotification.objects.get().outcome == "refunding"
    assert events("payment.paid")[0].after["outcome"] == "refunding"
    # The provider confirms both refunds: the order is fully refunded.
    with clock.frozen_at(later):
        assert sim.outbox_deliver() == [200, 200]
    order = fresh(order)
    assert (order.status, order.refunded_fen) == (PaymentOrder.Status.REFUNDED, 9000)
    assert {r.status for r in Refund.objects.all()} == {"succeeded"}
    assert len(events("payment.refunded")) == 2


def test_payment_after_the_deadline_while_the_seat_is_still_held_confirms(world: EntryWorld):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    pay_at_cashier(order)
    with clock.frozen_at(DURING + HOLD + dt.timedelta(minutes=1)):  # sweeper has not run yet
        assert sim.outbox_deliver() == [200]
        assert payments.holds_expire() == payments.ExpiryReport(entries=0, orders=0)
    assert fresh(entries[0]).status == Entry.Status.CONFIRMED
    assert fresh(order).status == PaymentOrder.Status.PAID
    assert world.taken()["SAT_AM"] == 1
    assert Refund.objects.count() == 0


def test_payment_of_an_order_whose_entry_was_cancelled_meanwhile(world: EntryWorld, run_on_commit):
    entries = enter(world, world.alice, ["10001", "10002"])
    order = order_for(world, world.alice).order
    pay_at_cashier(order)
    with run_on_commit():
        services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entries[0].pk)
    assert fresh(order).status == PaymentOrder.Status.CANCELLED  # the order no longer matched
    assert len(events("payment.order_cancelled")) == 1
    with run_on_commit():
        assert sim.outbox_deliver() == [200]
    assert fresh(order).status == PaymentOrder.Status.PAID
    assert fresh(entries[1]).status == Entry.Status.CONFIRMED
    assert fresh(entries[0]).status == Entry.Status.CANCELLED
    refund = Refund.objects.get()
    assert (refund.entry_id, refund.amount_fen) == (entries[0].pk, 4500)
    assert PaymentNotification.objects.get().outcome == "applied_refunding"
    assert world.taken() == {"SAT_AM": 0, "SAT_PM": 1, "SUN_AM": 0, "SUN_PM": 0}


def test_payment_of_a_superseded_order_is_refunded_in_full(world: EntryWorld, run_on_commit):
    enter(world, world.alice, ["10001"])
    old = order_for(world, world.alice).order
    pay_at_cashier(old)  # paid just before the new order closed it
    enter(world, world.alice, ["10002"])
    new = order_for(world, world.alice).order
    with run_on_commit():
        sim.outbox_deliver()
    old = fresh(old)
    assert old.status == PaymentOrder.Status.PAID
    refund = Refund.objects.get()
    assert (refund.order_id, refund.entry_id, refund.amount_fen) == (old.pk, None, 4500)
    assert set(Entry.objects.filter(sitting=world.sitting).values_list("status", flat=True)) == {
        "pending_payment"
    }
    pay_at_cashier(new)
    sim.outbox_deliver()
    assert set(Entry.objects.filter(sitting=world.sitting).values_list("status", flat=True)) == {"confirmed"}
    assert sim.OUTBOX == []


def test_refund_result_before_the_payment_is_deferred_then_applied(
    world: EntryWorld, monkeypatch, run_on_commit
):
    """Out of order: the provider's refund result arrives before we have even seen the payment
    (so before we asked for the refund). It is stored and answered with a retryable failure;
    its redelivery, once our state has caught up, is applied."""
    numbers = iter(["ZK20260825ORDER0000001", "RF20260825REFUND000001"])
    monkeypatch.setattr(payments, "_new_number", lambda prefix: next(numbers))
    entries = enter(world, world.alice, ["10001", "10002"])
    order = order_for(world, world.alice).order
    early = callback(
        sim.TYPE_REFUND_SUCCEEDED, order, amount=4500, event_id="evt_r1", refund_no="RF20260825REFUND000001"
    )
    assert (early.outcome, early.reply.status) == ("deferred", 503)
    assert Refund.objects.count() == 0 and fresh(order).status == PaymentOrder.Status.PENDING
    callback(sim.TYPE_PAID, order, event_id="evt_p1")
    with run_on_commit():
        services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entries[0].pk)
    sim.outbox_clear()  # the provider's own refund callback: not needed here
    refund = Refund.objects.get()
    assert refund.refund_no == "RF20260825REFUND000001"
    late = callback(
        sim.TYPE_REFUND_SUCCEEDED, order, amount=4500, event_id="evt_r1", refund_no=refund.refund_no
    )
    assert (late.outcome, late.effect, late.reply.status) == ("redelivery", "applied", 200)
    assert fresh(refund).status == Refund.Status.SUCCEEDED
    assert fresh(order).refunded_fen == 4500
    assert PaymentNotification.objects.get(event_id="evt_r1").outcome == "applied"
    again = callback(
        sim.TYPE_REFUND_SUCCEEDED, order, amount=4500, event_id="evt_r1", refund_no=refund.refund_no
    )
    assert (again.outcome, again.effect) == ("duplicate", "applied")
    assert len(events("payment.refunded")) == 1


def test_a_late_duplicate_payment_after_a_refund_never_reconfirms(world: EntryWorld, run_on_commit):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    pay_at_cashier(order)
    paid_callback = list(sim.OUTBOX)
    sim.outbox_deliver()
    with run_on_commit():
        services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entries[0].pk)
    sim.OUTBOX.extend(paid_callback)  # the provider redelivers the payment after the refund
    assert sim.outbox_deliver(reverse=True) == [200, 200]  # refund result first, then the payment
    assert fresh(entries[0]).status == Entry.Status.CANCELLED
    order = fresh(order)
    assert (order.status, order.refunded_fen) == (PaymentOrder.Status.REFUNDED, 4500)
    assert sorted(PaymentNotification.objects.values_list("outcome", flat=True)) == [
        "applied",
        "applied",
        "duplicate",
    ]
    assert len(events("payment.paid")) == 1


# --- refunds ----------------------------------------------------------------------------------


def test_cancelling_a_paid_entry_refunds_its_fee(world: EntryWorld, run_on_commit):
    entries = enter(world, world.alice, ["10001", "10002"])
    order = order_for(world, world.alice).order
    pay_at_cashier(order)
    sim.outbox_deliver()
    with run_on_commit():
        services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entries[0].pk)
    refund = Refund.objects.get()
    assert (refund.entry_id, refund.amount_fen, refund.status) == (entries[0].pk, 4500, "requested")
    assert refund.refund_no.startswith("RF20260825")
    requested = AuditEvent.objects.get(event_type="payment.refund_requested")
    assert requested.after == {
        "refund_no": refund.refund_no,
        "order_no": order.order_no,
        "entry": entries[0].pk,
        "amount_fen": 4500,
    }
    assert fresh(order).refunded_fen == 0  # not before the provider says so
    assert sim.outbox_deliver() == [200]
    refund = fresh(refund)
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.completed_at == DURING
    order = fresh(order)
    assert (order.status, order.refunded_fen) == (PaymentOrder.Status.PAID, 4500)
    with run_on_commit():
        services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entries[1].pk)
    sim.outbox_deliver()
    order = fresh(order)
    assert (order.status, order.refunded_fen) == (PaymentOrder.Status.REFUNDED, 9000)
    assert Refund.objects.filter(status="succeeded").count() == 2


def test_swapping_a_paid_course_refunds_it(world: EntryWorld, run_on_commit):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    pay_at_cashier(order)
    sim.outbox_deliver()
    with run_on_commit():
        services.entries_change(
            actor=world.actor(world.alice),
            candidate=world.alice,
            sitting=world.sitting,
            add=["10002"],
            remove=["10001"],
        )
    refund = Refund.objects.get()
    assert (refund.entry_id, refund.amount_fen) == (entries[0].pk, 4500)
    assert Entry.objects.get(course__code="10002", status=Entry.Status.PENDING_PAYMENT).order_id is None


def test_refund_only_once_per_entry(world: EntryWorld, run_on_commit):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    callback(sim.TYPE_PAID, order)
    with run_on_commit():
        services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entries[0].pk)
    assert payments.refund_for_cancelled_entry(fresh(entries[0])) is None
    assert Refund.objects.count() == 1


def test_failed_refund_is_recorded_for_staff(world: EntryWorld, run_on_commit, caplog):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    callback(sim.TYPE_PAID, order)
    with run_on_commit():
        services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entries[0].pk)
    sim.outbox_clear()
    refund = Refund.objects.get()
    with caplog.at_level("ERROR", logger="zikao.entries.payments"):
        result = callback(
            sim.TYPE_REFUND_FAILED, order, amount=4500, event_id="evt_rf", refund_no=refund.refund_no
        )
    assert result.outcome == "applied"
    assert fresh(refund).status == Refund.Status.FAILED
    assert fresh(order).refunded_fen == 0
    assert len(events("payment.refund_failed")) == 1
    assert "FAILED at the provider" in caplog.text


def test_refund_result_with_a_wrong_amount_is_refused(world: EntryWorld, run_on_commit):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    callback(sim.TYPE_PAID, order)
    with run_on_commit():
        services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entries[0].pk)
    sim.outbox_clear()
    refund = Refund.objects.get()
    before = state(world)
    result = callback(
        sim.TYPE_REFUND_SUCCEEDED, order, amount=9999, event_id="evt_rx", refund_no=refund.refund_no
    )
    assert (result.outcome, result.reply.status) == ("amount_mismatch", 400)
    assert state(world) == before


def test_unanswered_refunds_are_requested_again(world: EntryWorld, run_on_commit):
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    callback(sim.TYPE_PAID, order)
    with run_on_commit():
        services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=entries[0].pk)
    sim.outbox_clear()  # the provider's answer got lost
    assert payments.refunds_resend(now=DURING + dt.timedelta(minutes=9)) == 0
    with clock.frozen_at(DURING + dt.timedelta(minutes=10)):
        assert payments.refunds_resend() == 1
        assert sim.outbox_deliver() == [200]
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED


# --- holds that lapse ---------------------------------------------------------------------------


def test_hold_expiry_releases_exactly_the_expired_entries_seats(world: EntryWorld, run_on_commit):
    alice = enter(world, world.alice, ["10001", "10002"])
    alice_order = order_for(world, world.alice).order
    with clock.frozen_at(DURING + dt.timedelta(minutes=20)):
        bob = enter(world, world.bob, ["10001"])
    carol = world.candidate(name="张三")
    paid = enter(world, carol, ["10003"])
    callback(sim.TYPE_PAID, order_for(world, carol).order, event_id="evt_carol")
    assert world.taken() == {"SAT_AM": 2, "SAT_PM": 1, "SUN_AM": 1, "SUN_PM": 0}
    audit_before = AuditEvent.objects.count()
    with clock.frozen_at(DURING + HOLD), run_on_commit():
        report = payments.holds_expire()
    assert report == payments.ExpiryReport(entries=2, orders=1)
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 0, "SUN_AM": 1, "SUN_PM": 0}
    assert [(fresh(e).status, e.cancel_reason) for e in alice] == [("cancelled", "unpaid")] * 2
    assert fresh(bob[0]).status == Entry.Status.PENDING_PAYMENT
    assert fresh(paid[0]).status == Entry.Status.CONFIRMED
    assert fresh(alice_order).status == PaymentOrder.Status.EXPIRED
    expired = AuditEvent.objects.get(event_type="entries.holds_expired")
    assert expired.candidate_id == world.alice.pk
    assert [e["course"] for e in expired.after["entries"]] == ["10001", "10002"]
    assert AuditEvent.objects.get(event_type="payment.order_expired").subject_id == str(alice_order.pk)
    assert AuditEvent.objects.count() == audit_before + 2
    # Nothing lapsed twice: a second run changes nothing.
    with clock.frozen_at(DURING + HOLD + dt.timedelta(minutes=1)):
        assert payments.holds_expire() == payments.ExpiryReport(entries=0, orders=0)
    assert world.taken() == {"SAT_AM": 1, "SAT_PM": 0, "SUN_AM": 1, "SUN_PM": 0}
    # Bob's hold lapses later.
    with clock.frozen_at(DURING + dt.timedelta(minutes=50)):
        assert payments.holds_expire().entries == 1
    assert world.taken() == {"SAT_AM": 0, "SAT_PM": 0, "SUN_AM": 1, "SUN_PM": 0}


def test_hold_expiry_in_batches(world: EntryWorld):
    for candidate in [world.alice, world.bob, world.candidate(), world.candidate()]:
        enter(world, candidate, ["10001"])
    with clock.frozen_at(DURING + HOLD):
        assert payments.holds_expire(batch_size=3).entries == 4
    assert world.taken()["SAT_AM"] == 0
    assert AuditEvent.objects.filter(event_type="entries.holds_expired").count() == 4


def test_holds_expire_for_one_area_and_slot(world: EntryWorld):
    alice = enter(world, world.alice, ["10001", "10002"])
    services.entries_create(
        actor=world.actor(world.bob),
        candidate=world.bob,
        sitting=world.sitting,
        course_codes=["10001"],
        area=world.sibling,
    )
    with clock.frozen_at(DURING + HOLD):
        released = payments.holds_expire_for(
            sitting=world.sitting, area=world.county, slots=[world.slots["SAT_AM"]]
        )
    assert [e.pk for e in released] == [alice[0].pk]
    assert world.taken() == {"SAT_AM": 0, "SAT_PM": 1, "SUN_AM": 0, "SUN_PM": 0}
    assert world.taken(world.sibling)["SAT_AM"] == 1
    assert fresh(alice[1]).status == Entry.Status.PENDING_PAYMENT
    with clock.frozen_at(DURING + HOLD - dt.timedelta(seconds=1)):  # nothing lapsed yet
        assert payments.holds_expire_for(sitting=world.sitting.pk, area=world.sibling.pk) == []


def test_management_command_and_task(world: EntryWorld, capsys):
    enter(world, world.alice, ["10001"])
    with clock.frozen_at(DURING + HOLD):
        call_command("expire_entry_holds")
        assert (
            "released 1 lapsed hold(s), expired 0 order(s), re-sent 0 refund request(s)"
            in capsys.readouterr().out
        )
        assert tasks.expire_entry_holds.delay().get() == {"entries": 0, "orders": 0, "refunds_resent": 0}
    assert world.taken()["SAT_AM"] == 0


# --- reads ------------------------------------------------------------------------------------


def test_candidate_order_get_hides_other_candidates_orders(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    assert payments.candidate_order_get(world.alice, order.order_no).pk == order.pk
    for candidate, number in (
        (world.bob, order.order_no),
        (world.alice, "ZK0"),
        (world.alice, "../x"),
        (world.alice, None),
    ):
        with pytest.raises(NotFound):
            payments.candidate_order_get(candidate, number)


def test_effective_status_and_payables(world: EntryWorld):
    enter(world, world.alice, ["10001", "10002"])
    [payable] = payments.candidate_payables(world.alice)
    assert (payable.amount_fen, payable.deadline, payable.order) == (9000, DURING + HOLD, None)
    order = order_for(world, world.alice).order
    assert payments.candidate_payables(world.alice)[0].order.pk == order.pk
    assert payments.effective_status(order) == "pending"
    assert payments.effective_status(order, DURING + HOLD) == "expired"
    assert payments.candidate_payables(world.alice, at=DURING + HOLD) == []


# --- how the simulated provider's callbacks travel --------------------------------------------


def test_celery_delivery_runs_the_task(world: EntryWorld, settings):
    settings.ZIKAO_PAYMENT_SIM_DELIVERY = "celery"  # no broker in tests: Celery runs it eagerly
    entries = enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    pay_at_cashier(order)
    assert sim.OUTBOX == []
    assert fresh(order).status == PaymentOrder.Status.PAID
    assert fresh(entries[0]).status == Entry.Status.CONFIRMED


def test_http_delivery_posts_the_signed_callback(world: EntryWorld, settings, monkeypatch):
    settings.ZIKAO_PAYMENT_SIM_DELIVERY = "inline"
    settings.ZIKAO_PAYMENT_SIM_NOTIFY_URL = "http://127.0.0.1:8000/pay/notify/sim/"
    enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    sent = []

    class Answer:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(request, timeout):
        sent.append(request)
        return Answer()

    monkeypatch.setattr(sim.urllib.request, "urlopen", urlopen)
    pay_at_cashier(order)
    [request] = sent
    assert request.full_url == "http://127.0.0.1:8000/pay/notify/sim/"
    assert request.get_method() == "POST"
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers["x-sim-signature"] == sim.signature(headers["x-sim-timestamp"], request.data)
    assert json.loads(request.data)["data"]["out_trade_no"] == order.order_no
    assert fresh(order).status == PaymentOrder.Status.PENDING  # the (mocked) site got it, not us


def test_a_deferred_callback_is_delivered_again(world: EntryWorld):
    enter(world, world.alice, ["10001"])
    order = order_for(world, world.alice).order
    body = sim.event_body(
        sim.TYPE_REFUND_SUCCEEDED,
        event_id="evt_r9",
        order_no=order.order_no,
        amount_fen=4500,
        occurred_at=DURING,
        refund_no="RF20260825UNKNOWN00001",
    )
    sim.schedule(sim.Delivery(body, "evt_r9"))
    assert sim.outbox_deliver() == [503]
    assert [(d.event_id, d.attempt) for d in sim.OUTBOX] == [("evt_r9", 2)]  # queued for a retry
    assert sorted(PaymentNotification.objects.values_list("outcome", flat=True)) == ["deferred"]
