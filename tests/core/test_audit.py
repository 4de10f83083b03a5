import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_audit_record_stamps_the_clock_and_actor():
    at = dt.datetime(2026, 5, 10, 7, 0, tzinfo=dt.UTC)
    with clock.frozen_at(at):
        event = audit_record(
            actor=Actor.system("test"),
            event_type="thing.done",
            subject_type="x",
            subject_id=7,
            after={"a": 1},
        )
    event.refresh_from_db()
    assert (event.at, event.actor_kind, event.actor_label, event.subject_id, event.after) == (
        at,
        "system",
        "test",
        "7",
        {"a": 1},
    )


def test_audit_events_cannot_be_changed_or_deleted_through_the_orm():
    event = audit_record(actor=Actor.system(), event_type="t", subject_type="x", subject_id=1)
    event.event_type = "changed"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(pk=event.pk).update(event_type="changed")
    with pytest.raises(TypeError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).event_type == "t"


def test_postgres_refuses_update_and_delete_in_sql():
    if connection.vendor != "postgresql":
        pytest.skip("database trigger exists on PostgreSQL only")
    event = audit_record(actor=Actor.system(), event_type="t", subject_type="x", subject_id=1)
    for sql in (
        "UPDATE core_auditevent SET event_type = 'x' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).event_type == "t"


def test_clock_freezes_and_restores():
    at = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    with clock.frozen_at(at):
        assert clock.now() == at
        assert clock.today() == dt.date(2030, 1, 1)
    assert clock.now() != at
