"""Races on PostgreSQL: one person never gets two numbers, nor two open registrations.

Each thread has its own connection and commits for real; a barrier releases them together.
Skipped on SQLite, whose single writer serialises everything (covered by test_registration.py).
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from tests.candidates import registration_support
from tests.candidates.registration_support import ID_NUMBER, make_world, submit
from tests.factories import StaffFactory
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import Role
from zikao.candidates.models import Candidate, Registration
from zikao.candidates.registration import registration_confirm
from zikao.candidates.services import candidate_create
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError

private_media = registration_support.private_media  # the fixture, used by name below

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("private_media"),
]

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def world(is_postgres):
    if not is_postgres:
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://…)")
    return make_world()


def race(calls) -> list:
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            with clock.frozen_at(NOW):
                barrier.wait(timeout=60)
                outcomes[index] = ("ok", call())
        except DomainError as error:
            outcomes[index] = (error.code, None)
        except Exception as error:  # pragma: no cover - reported by the assertion
            outcomes[index] = ("crash", repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(not t.is_alive() for t in threads)
    return outcomes


def clerk(office):
    user = StaffFactory(office=office)
    StaffRole.objects.create(user=user, role=Role.REGISTRATION_CLERK, granted_at=clock.now())
    return Actor.staff(user)


def test_two_clerks_confirm_at_once_one_number(world):
    with clock.frozen_at(NOW):
        registration = submit(world)
    actors = [clerk(world.county), clerk(world.county.parent), clerk(world.county)]
    outcomes = race(
        [
            lambda a=a: registration_confirm(
                actor=a, registration=Registration.objects.get(pk=registration.pk)
            )
            for a in actors
        ]
    )
    codes = sorted(o[0] for o in outcomes)
    assert codes == ["REGISTRATION_NOT_PENDING", "REGISTRATION_NOT_PENDING", "ok"]
    assert Candidate.objects.filter(id_number=ID_NUMBER).count() == 1
    registration.refresh_from_db()
    assert registration.status == "confirmed"


def test_confirm_races_a_direct_record_creation(world):
    with clock.frozen_at(NOW):
        registration = submit(world)
    actor = clerk(world.county)
    outcomes = race(
        [
            lambda: registration_confirm(
                actor=actor, registration=Registration.objects.get(pk=registration.pk)
            ),
            lambda: candidate_create(
                actor=Actor.system("import"),
                id_type="resident_id",
                id_number=ID_NUMBER,
                name="李华",
                county_office=world.other_county,
                plan=world.plan,
            ),
        ]
    )
    oks = [o for o in outcomes if o[0] == "ok"]
    assert len(oks) == 1, outcomes
    assert {o[0] for o in outcomes} - {"ok"} <= {"REGISTRATION_ALREADY_CANDIDATE", "CANDIDATE_EXISTS"}
    assert Candidate.objects.filter(id_number=ID_NUMBER).count() == 1


def test_two_submissions_at_once_one_registration(world):
    outcomes = race([lambda: submit(world), lambda: submit(world)])
    assert sorted(o[0] for o in outcomes) == ["REGISTRATION_ALREADY_SUBMITTED", "ok"]
    assert Registration.objects.filter(id_number=ID_NUMBER).count() == 1
