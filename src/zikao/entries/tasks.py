"""Celery tasks of the entries app (a worker when CELERY_BROKER_URL is set, eagerly otherwise)."""

from __future__ import annotations

from zikao.celery import app

# Bound to the project's Celery app (not `shared_task`): its configuration decides between the
# broker and eager execution, whether or not anything else imported the app first.


@app.task(name="zikao.entries.tasks.expire_entry_holds")
def expire_entry_holds() -> dict[str, int]:
    """Celery beat, every minute: cancel unpaid entries whose payment hold has passed (their
    seats go back), expire lapsed orders, and ask the provider again for refunds it has not
    answered. Safe to run concurrently and as often as wanted."""
    from zikao.entries.payments import holds_expire, refunds_resend

    report = holds_expire()
    resent = refunds_resend()
    return {"entries": report.entries, "orders": report.orders, "refunds_resent": resent}


@app.task(name="zikao.entries.tasks.deliver_simulated_callback", acks_late=True)
def deliver_simulated_callback(body: str, event_id: str, attempt: int = 1) -> int:
    """The simulated payment provider's asynchronous callback (providers.simulated, "celery"
    delivery): signed when sent, redelivered with back-off while our side answers a failure.
    Returns the HTTP status our notify endpoint answered."""
    from zikao.entries.providers.simulated import Delivery, deliver_now

    return deliver_now(Delivery(body.encode(), event_id, attempt))
