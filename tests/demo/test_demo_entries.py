"""The demo's open entry window (`zikao.demo.entry_setup`): showcase candidates can enter courses.

One small province is built per module inside an outer transaction rolled back at the end.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse

from zikao.accounts.models import Office, User
from zikao.accounts.permissions import Perm, Role, has_perm
from zikao.candidates.models import Candidate
from zikao.catalog.models import Sitting, Slot, TimetableEntry
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.models import AuditEvent
from zikao.demo.schedule import SHANGHAI
from zikao.demo.showcase import SHOWCASES
from zikao.entries import selectors
from zikao.entries.models import AreaSlotCapacity, Centre, Entry, EntrySettings, Room
from zikao.entries.services import entries_create

N = 60


@pytest.fixture(scope="module")
def province(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        out = io.StringIO()
        call_command("demo", "--candidates", str(N), "--release-in", "15", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


pytestmark = pytest.mark.django_db


def open_sitting() -> Sitting:
    return Sitting.objects.get(first_day__gt=clock.now().astimezone(SHANGHAI).date())


def showcases() -> list[Candidate]:
    return [Candidate.objects.get(name=s.name, birth_date=s.birth) for s in SHOWCASES]


def test_the_next_sitting_has_an_open_window(province):
    now = clock.now()
    sitting = open_sitting()
    history = Sitting.objects.exclude(pk=sitting.pk).order_by("-label").first()
    assert history.label == "202610"
    assert sitting.label > history.label and sitting.label[4:] in {"01", "04", "07", "10"}
    today = now.astimezone(SHANGHAI).date()
    assert sitting.entry_opens_at.astimezone(SHANGHAI).date() == today - timedelta(days=1)
    assert sitting.entry_closes_at.astimezone(SHANGHAI).date() == today + timedelta(days=14)
    assert sitting.entry_opens_at < now < sitting.entry_closes_at < sitting.release_at
    assert sitting.first_day >= sitting.entry_closes_at.astimezone(SHANGHAI).date() + timedelta(days=7)
    assert selectors.entry_sitting_get(sitting.label).state == "open"
    slots = list(Slot.objects.filter(sitting=sitting).order_by("starts_at"))
    assert [s.code for s in slots] == ["SAT_AM", "SAT_PM", "SUN_AM", "SUN_PM"]
    assert slots[0].starts_at.astimezone(SHANGHAI).date() == sitting.first_day
    timetable = TimetableEntry.objects.filter(sitting=sitting)
    assert timetable.count() > 20
    assert {t.slot_id for t in timetable} == {s.pk for s in slots}
    assert not timetable.exclude(course__kind="theory").exists()
    settings_row = EntrySettings.objects.get(sitting=sitting)
    assert settings_row.payment_hold_minutes == 30
    assert settings_row.tickets_open_at > sitting.entry_closes_at


def test_every_county_has_centres_rooms_and_seats(province):
    sitting = open_sitting()
    counties = list(Office.objects.filter(level=Office.Level.COUNTY))
    assert len(counties) == 95
    assert Centre.objects.filter(area__in=counties).count() == 2 * 95
    assert Room.objects.filter(seats__gt=30).count() == 0
    assert Room.objects.count() == 4 * 95
    counters = AreaSlotCapacity.objects.filter(sitting=sitting)
    assert counters.count() == 95 * 4
    assert set(counters.values_list("capacity", flat=True)) == {30 + 30 + 30 + 24}
    assert set(counters.values_list("taken", flat=True)) == {0}
    assert AuditEvent.objects.filter(event_type="capacity.rebuilt", actor_label="province").count() == 1


def test_province_user_manages_entries(province):
    user = User.objects.get(username="province")
    assert user.staff_roles.filter(role=Role.EXAM_AFFAIRS).exists()
    assert has_perm(user, Perm.ENTRIES_MANAGE)


def test_a_showcase_candidate_enters_a_course(province):
    sitting = open_sitting()
    window = selectors.entry_sitting_get(sitting.label)
    enterable = {}
    for candidate in showcases():
        overview = selectors.candidate_entry_overview(candidate, window)
        options = [c for c in overview.courses if c.enterable]
        if options and overview.area is not None:
            enterable[candidate.pk] = (candidate, options[0], overview.area)
    assert len(enterable) >= 3
    candidate, option, area = next(iter(enterable.values()))
    assert area == candidate.county_office_id
    counter = AreaSlotCapacity.objects.get(sitting=sitting, area_id=area, slot__code=option.slot)
    result = entries_create(
        actor=Actor.candidate(candidate, ip="198.51.100.7"),
        candidate=candidate,
        sitting=sitting,
        course_codes=[option.code],
        area=area,
        idempotency_key="demo-test-1",
    )
    assert [e.course.code for e in result.entries] == [option.code]
    entry = Entry.objects.get(candidate=candidate, sitting=sitting)
    assert entry.status == Entry.Status.PENDING_PAYMENT
    assert entry.area_id == area and entry.slot.code == option.slot
    assert entry.hold_expires_at == entry.created_at + timedelta(minutes=30)
    counter.refresh_from_db()
    assert counter.taken == 1


def test_the_entry_page_offers_courses_to_a_showcase_candidate(province, client: Client):
    from tests.portal.helpers import log_in

    sitting = open_sitting()
    candidate = showcases()[1]
    log_in(client, candidate)
    response = client.get(reverse("portal:entries"), {"sitting": sitting.label}, secure=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert sitting.label in page
    window = selectors.entry_sitting_get(sitting.label)
    options = [c for c in selectors.candidate_entry_overview(candidate, window).courses if c.enterable]
    assert options
    assert options[0].code in page
