"""Office pages of the entry window: province entry policy, sitting entry settings, seat counters
per area × slot, the entry list and payment orders (views_entries_admin), with their services
(`catalog.services.province_policy_set`, `entries.settings_services.entry_settings_set`) and
selectors (`entries.office_selectors`)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from tests.entries.seating import centre
from tests.entries.world import CLOSES, DURING, build_entry_world
from tests.factories import SHANGHAI
from zikao.accounts.permissions import Perm, PermissionDenied, Role, has_perm
from zikao.catalog.models import ProvincePolicy
from zikao.catalog.services import CatalogRefused, province_policy_set
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import ValidationFailed
from zikao.core.masking import mask_id_number, mask_name
from zikao.core.models import AuditEvent
from zikao.entries import office_selectors as sel
from zikao.entries import payments, services
from zikao.entries.models import AreaSlotCapacity, Entry, EntrySettings, PaymentOrder, Refund
from zikao.entries.providers import simulated as sim
from zikao.entries.settings_services import entry_settings_set
from zikao.office import views_entries_admin

AFFAIRS = (Role.EXAM_AFFAIRS,)
READER = (Role.READ_ONLY,)
TICKETS_AT = dt.datetime(2026, 9, 20, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def world(db, offices):
    return build_entry_world()


@pytest.fixture(autouse=True)
def _clean(settings):
    settings.ZIKAO_PAYMENT_SIM_DELIVERY = "manual"
    settings.ZIKAO_PAYMENT_SIM_ENABLED = True
    sim.outbox_clear()
    cache.clear()
    with clock.frozen_at(DURING):
        yield
    cache.clear()
    sim.outbox_clear()


@pytest.fixture
def as_staff(make_staff, staff_client):
    """as_staff(roles, office) → (user, signed-in client)."""

    def make(roles, office):
        user = make_staff(roles=roles, office=office)
        return user, staff_client(user)

    return make


def events(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=kind).order_by("pk"))


def enter(world, who, *codes, area=None) -> list[Entry]:
    return services.entries_create(
        actor=world.actor(who),
        candidate=who,
        sitting=world.sitting,
        course_codes=list(codes),
        area=area or world.county,
    ).entries


def order_of(world, who) -> PaymentOrder:
    return payments.order_create_for_pending(
        actor=world.actor(who), candidate=who, sitting=world.sitting
    ).order


def pay(order: PaymentOrder, *, event_id: str = "evt_1", trade_no: str = "SIMTRADE1") -> None:
    body = sim.event_body(
        sim.TYPE_PAID,
        event_id=event_id,
        order_no=order.order_no,
        amount_fen=order.amount_fen,
        occurred_at=clock.now(),
        trade_no=trade_no,
    )
    result = payments.payment_notification_receive(
        provider="sim", headers=sim.signed_headers(body), body=body, ip="192.0.2.10"
    )
    assert result.outcome == "applied"


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def xlsx_rows(response) -> list[list]:
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


# --- province entry policy --------------------------------------------------------------------


def test_policy_set_service_validates_audits_and_needs_the_province(world, make_staff):
    province = Actor.staff(make_staff(roles=AFFAIRS, office=world.province))
    policy = province_policy_set(actor=province, max_courses_per_sitting=5, fee_per_course_fen=5250)
    assert (policy.max_courses_per_sitting, policy.fee_per_course_fen) == (5, 5250)
    assert ProvincePolicy.objects.count() == 1
    (event,) = events("province_policy.changed")
    assert event.before == {"max_courses_per_sitting": 4, "fee_per_course_fen": 4500}
    assert event.after == {"max_courses_per_sitting": 5, "fee_per_course_fen": 5250}
    # the same values again: nothing to record
    province_policy_set(actor=province, max_courses_per_sitting=5, fee_per_course_fen=5250)
    assert len(events("province_policy.changed")) == 1

    with pytest.raises(CatalogRefused) as refused:
        province_policy_set(actor=province, max_courses_per_sitting=0, fee_per_course_fen=100_001)
    assert refused.value.code == "POLICY_INVALID"
    assert [p["code"] for p in refused.value.fields["problems"]] == [
        "POLICY_MAX_COURSES_INVALID",
        "POLICY_FEE_INVALID",
    ]
    with pytest.raises(CatalogRefused) as refused:
        province_policy_set(actor=province, max_courses_per_sitting=True, fee_per_course_fen=4500)
    assert refused.value.code == "POLICY_MAX_COURSES_INVALID"
    for office in (world.city, world.county):
        with pytest.raises(PermissionDenied):
            province_policy_set(
                actor=Actor.staff(make_staff(roles=AFFAIRS, office=office)),
                max_courses_per_sitting=3,
                fee_per_course_fen=1,
            )
    with pytest.raises(PermissionDenied):
        province_policy_set(
            actor=Actor.staff(make_staff(roles=READER, office=world.province)),
            max_courses_per_sitting=3,
            fee_per_course_fen=1,
        )
    assert ProvincePolicy.objects.values_list("max_courses_per_sitting", "fee_per_course_fen").get() == (
        5,
        5250,
    )
    assert len(events("province_policy.changed")) == 1


def test_policy_page_takes_yuan_and_stores_fen(world, as_staff):
    _, client = as_staff(AFFAIRS, world.province)
    url = reverse("office:entries_policy")
    page = client.get(url)
    assert page.status_code == 200
    assert 'value="45.00"' in page.content.decode()

    response = client.post(url, {"max_courses_per_sitting": "4", "fee_yuan": "52.50"})
    assert response.status_code == 302 and response["Location"] == reverse("office:entries_setup")
    assert ProvincePolicy.objects.get().fee_per_course_fen == 5250
    index = client.get(reverse("office:entries_setup")).content.decode()
    assert "52.50 元" in index

    for bad in (
        {"max_courses_per_sitting": "4", "fee_yuan": "45.555"},
        {"max_courses_per_sitting": "0", "fee_yuan": "45"},
        {"max_courses_per_sitting": "4", "fee_yuan": "-1"},
        {"max_courses_per_sitting": "4", "fee_yuan": "abc"},
    ):
        refused = client.post(url, bad)
        assert refused.status_code == 422, bad
        assert "未保存" in refused.content.decode()
    assert ProvincePolicy.objects.values_list("max_courses_per_sitting", "fee_per_course_fen").get() == (
        4,
        5250,
    )
    assert len(events("province_policy.changed")) == 1


def test_policy_page_is_read_only_below_the_province(world, as_staff):
    url = reverse("office:entries_policy")
    _, city = as_staff(AFFAIRS, world.city)
    page = city.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "45.00 元" in body and '<form method="post" action="/office/entries/setup/policy/"' not in body
    refused = city.post(url, {"max_courses_per_sitting": "2", "fee_yuan": "1.00"})
    assert refused.status_code == 403
    _, reader = as_staff(READER, world.province)
    assert reader.get(url).status_code == 403
    assert reader.post(url, {"max_courses_per_sitting": "2", "fee_yuan": "1.00"}).status_code == 403
    assert ProvincePolicy.objects.values_list("max_courses_per_sitting", "fee_per_course_fen").get() == (
        4,
        4500,
    )
    assert events("province_policy.changed") == []


def test_policy_post_without_csrf_token_is_refused(world, make_staff):
    user = make_staff(roles=AFFAIRS, office=world.province)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()
    response = client.post(
        reverse("office:entries_policy"), {"max_courses_per_sitting": "2", "fee_yuan": "1"}
    )
    assert response.status_code == 403
    assert ProvincePolicy.objects.get().fee_per_course_fen == 4500


def test_fee_change_applies_to_new_entries_only(world, make_staff):
    """Entries keep the fee they were made with and an order the sum of its entries."""
    alice_entries = enter(world, world.alice, "10001", "10002")
    alice_order = order_of(world, world.alice)
    assert alice_order.amount_fen == 9000
    pay(alice_order)
    bob_first = enter(world, world.bob, "10001")
    bob_order = order_of(world, world.bob)
    assert bob_order.amount_fen == 4500

    # the entry services keep the policy per process: the change busts it (entries.cache)
    province_policy_set(
        actor=Actor.staff(make_staff(roles=AFFAIRS, office=world.province)),
        max_courses_per_sitting=4,
        fee_per_course_fen=5000,
    )

    later = enter(world, world.bob, "10002")
    assert [e.fee_fen for e in later] == [5000]
    assert sorted(
        Entry.objects.filter(pk__in=[e.pk for e in alice_entries]).values_list("fee_fen", flat=True)
    ) == [
        4500,
        4500,
    ]
    assert Entry.objects.get(pk=bob_first[0].pk).fee_fen == 4500
    alice_order.refresh_from_db()
    assert (alice_order.amount_fen, alice_order.status) == (9000, PaymentOrder.Status.PAID)
    # bob's new order covers both unpaid entries at the fees they were made with
    bob_new = order_of(world, world.bob)
    assert bob_new.amount_fen == 4500 + 5000
    assert PaymentOrder.objects.get(pk=bob_order.pk).amount_fen == 4500


# --- sitting entry settings -------------------------------------------------------------------


def test_entry_settings_service_validates_and_audits(world, make_staff):
    actor = Actor.staff(make_staff(roles=AFFAIRS, office=world.province))

    def refused(**kwargs) -> ValidationFailed:
        with pytest.raises(ValidationFailed) as caught:
            entry_settings_set(actor=actor, sitting=world.sitting, **kwargs)
        return caught.value

    assert refused(payment_hold_minutes=4, tickets_open_at=None).code == "ENTRY_SETTINGS_HOLD_INVALID"
    assert refused(payment_hold_minutes=1441, tickets_open_at=None).code == "ENTRY_SETTINGS_HOLD_INVALID"
    assert refused(payment_hold_minutes="30", tickets_open_at=None).code == "ENTRY_SETTINGS_HOLD_INVALID"
    first_day = dt.datetime(2026, 10, 17, 0, 0, tzinfo=SHANGHAI)
    assert (
        refused(payment_hold_minutes=30, tickets_open_at=first_day).code == "ENTRY_SETTINGS_TICKETS_TOO_LATE"
    )
    too_early = CLOSES - dt.timedelta(minutes=1)
    assert (
        refused(payment_hold_minutes=30, tickets_open_at=too_early).code == "ENTRY_SETTINGS_TICKETS_TOO_EARLY"
    )
    naive = dt.datetime(2026, 9, 20, 9, 0)
    assert refused(payment_hold_minutes=30, tickets_open_at=naive).code == "ENTRY_SETTINGS_BAD_TIME"
    both = refused(payment_hold_minutes=2, tickets_open_at=first_day)
    assert both.code == "ENTRY_SETTINGS_INVALID" and len(both.fields["problems"]) == 2
    assert not EntrySettings.objects.exists() and events("entry_settings.changed") == []

    last_moment = first_day - dt.timedelta(minutes=1)
    row = entry_settings_set(
        actor=actor, sitting=world.sitting, payment_hold_minutes=45, tickets_open_at=last_moment
    )
    assert (row.payment_hold_minutes, row.tickets_open_at) == (45, last_moment)
    (event,) = events("entry_settings.changed")
    assert event.subject_type == "catalog.sitting" and event.subject_id == str(world.sitting.pk)
    assert event.before == {"payment_hold_minutes": 30, "tickets_open_at": None}
    assert event.after == {"payment_hold_minutes": 45, "tickets_open_at": "2026-10-16T23:59:00+08:00"}
    entry_settings_set(
        actor=actor, sitting=world.sitting, payment_hold_minutes=45, tickets_open_at=last_moment
    )
    assert len(events("entry_settings.changed")) == 1
    entry_settings_set(actor=actor, sitting=world.sitting, payment_hold_minutes=45, tickets_open_at=None)
    assert events("entry_settings.changed")[-1].after == {"payment_hold_minutes": 45, "tickets_open_at": None}

    with pytest.raises(PermissionDenied):
        entry_settings_set(
            actor=Actor.staff(make_staff(roles=AFFAIRS, office=world.city)),
            sitting=world.sitting,
            payment_hold_minutes=60,
            tickets_open_at=None,
        )
    assert EntrySettings.objects.get().payment_hold_minutes == 45


def test_sitting_settings_page(world, as_staff):
    _, client = as_staff(AFFAIRS, world.province)
    url = reverse("office:entries_sitting_settings", args=["202610"])
    page = client.get(url).content.decode()
    assert "2026-08-20 09:00" in page and "2026-08-30 17:00" in page  # the entry window
    assert reverse("office:catalog_sitting", args=["202610"]) in page  # edited there (CATALOG_VIEW)

    bad = client.post(url, {"payment_hold_minutes": "30", "tickets_open_at": "2026-08-30T16:00"})
    assert bad.status_code == 422
    assert "ENTRY_SETTINGS_TICKETS_TOO_EARLY" in bad.content.decode()
    assert client.post(url, {"payment_hold_minutes": "3", "tickets_open_at": ""}).status_code == 422
    assert not EntrySettings.objects.exists()

    enter(world, world.bob, "10002")  # the sitting's reference data is now kept (entries.cache)
    response = client.post(url, {"payment_hold_minutes": "45", "tickets_open_at": "2026-09-20T09:00"})
    assert response.status_code == 302
    row = EntrySettings.objects.get(sitting=world.sitting)
    assert (row.payment_hold_minutes, row.tickets_open_at) == (45, TICKETS_AT)
    # a new entry holds its seat for the new time
    (entry,) = enter(world, world.alice, "10001")
    assert entry.hold_expires_at == DURING + dt.timedelta(minutes=45)
    index = client.get(reverse("office:entries_setup")).content.decode()
    assert "2026-09-20 09:00" in index

    _, city = as_staff(AFFAIRS, world.city)
    assert city.get(url).status_code == 200
    assert city.post(url, {"payment_hold_minutes": "60", "tickets_open_at": ""}).status_code == 403
    assert city.get(reverse("office:entries_sitting_settings", args=["209901"])).status_code == 404
    assert EntrySettings.objects.get().payment_hold_minutes == 45
    assert len(events("entry_settings.changed")) == 1


# --- seat counters ----------------------------------------------------------------------------


def test_capacity_rows_are_scoped(world, as_staff):
    enter(world, world.alice, "10001")
    url = reverse("office:entries_capacity", args=["202610"])
    for office, seen in (
        (world.county, {"玄武区"}),
        (world.city, {"玄武区", "秦淮区"}),
        (world.province, {"玄武区", "秦淮区", "姑苏区"}),
    ):
        user, client = as_staff(READER, office)
        rows = sel.capacity_rows(user, world.sitting)
        assert {r.area.name for r in rows} == seen
        assert len(rows) == 4 * len(seen)
        assert client.get(url).status_code == 200
    user, client = as_staff(READER, world.county)
    sat_am = next(r for r in sel.capacity_rows(user, world.sitting) if r.slot.code == "SAT_AM")
    assert (sat_am.capacity, sat_am.taken, sat_am.free, sat_am.percent_full) == (30, 1, 29, 3)
    page = client.get(url).content.decode()
    assert "秦淮区" not in page and "姑苏区" not in page
    assert "调整座位数" not in page  # read-only role: no forms
    # an area out of scope and a missing one give the same not-found page
    hidden = client.get(url + "?area=320104")
    missing = client.get(url + "?area=329999")
    assert hidden.status_code == missing.status_code == 404


def test_capacity_set_and_below_taken_message(world, as_staff):
    centre(world.county, "01", 30, 30)
    enter(world, world.alice, "10001")
    _, client = as_staff(AFFAIRS, world.city)
    url = reverse("office:entries_capacity_set", args=["202610"])
    response = client.post(url, {"area": world.county.pk, "slot": "SAT_AM", "capacity": "20"})
    assert response.status_code == 302
    assert world.counter(world.county, "SAT_AM").capacity == 20
    (event,) = events("capacity.set")
    assert event.before == {"capacity": 30, "taken": 1} and event.after == {"capacity": 20, "taken": 1}

    refused = client.post(url, {"area": world.county.pk, "slot": "SAT_AM", "capacity": "0"})
    assert refused.status_code == 409
    body = refused.content.decode()
    assert "座位数不能少于已占用的座位数" in body and "CAPACITY_BELOW_TAKEN" in body
    above = client.post(url, {"area": world.county.pk, "slot": "SAT_PM", "capacity": "61"})
    assert above.status_code == 422 and "CAPACITY_ABOVE_ROOMS" in above.content.decode()
    assert client.post(url, {"area": world.county.pk, "slot": "SAT_AM", "capacity": "-1"}).status_code == 422
    assert client.post(url, {"area": world.county.pk, "slot": "XX", "capacity": "5"}).status_code == 404
    # another city's area: the same not-found as a missing one
    assert (
        client.post(url, {"area": world.other_county.pk, "slot": "SAT_AM", "capacity": "5"}).status_code
        == 404
    )
    assert client.post(url, {"area": 999999, "slot": "SAT_AM", "capacity": "5"}).status_code == 404
    _, reader = as_staff(READER, world.province)
    assert reader.post(url, {"area": world.county.pk, "slot": "SAT_AM", "capacity": "25"}).status_code == 403
    _, county = as_staff(AFFAIRS, world.county)
    assert county.post(url, {"area": world.county.pk, "slot": "SAT_AM", "capacity": "25"}).status_code == 403
    assert sorted(AreaSlotCapacity.objects.values_list("area__name", "slot__code", "capacity"))[:2] == [
        ("姑苏区", "SAT_AM", 5),
        ("姑苏区", "SAT_PM", 5),
    ]
    assert world.counter(world.county, "SAT_AM").capacity == 20
    assert world.counter(world.county, "SAT_PM").capacity == 30
    assert len(events("capacity.set")) == 1


def test_capacity_rebuild_from_rooms(world, as_staff):
    centre(world.county, "01", 30, 25)
    _, client = as_staff(AFFAIRS, world.city)
    url = reverse("office:entries_capacity_rebuild", args=["202610"])
    enter(world, world.bob, "10002", area=world.sibling)  # 秦淮区 has no rooms but one seat taken
    refused = client.post(url, {})
    assert refused.status_code == 409
    assert "座位数不能少于已占用的座位数" in refused.content.decode()
    assert world.counter(world.county, "SAT_AM").capacity == 30
    assert events("capacity.rebuilt") == []

    response = client.post(url, {"area": world.county.pk, "shown_area": "320102"})
    assert response.status_code == 302 and response["Location"].endswith("?area=320102")
    assert {world.counter(world.county, s).capacity for s in ("SAT_AM", "SAT_PM", "SUN_AM", "SUN_PM")} == {55}
    assert world.counter(world.sibling, "SAT_PM").capacity == 30
    assert world.counter(world.other_county, "SAT_AM").capacity == 5
    assert len(events("capacity.rebuilt")) == 1
    assert client.post(url, {"area": world.other_county.pk}).status_code == 404
    assert world.counter(world.other_county, "SAT_AM").capacity == 5


def test_capacity_page_lists_areas_needing_rebuild(world, as_staff):
    from tests.factories import CountyFactory

    new_area = CountyFactory(parent=world.city, name="鼓楼区", region_code="320106", exam_code="06")
    centre(new_area, "01", 30)
    _, client = as_staff(AFFAIRS, world.city)
    page = client.get(reverse("office:entries_capacity", args=["202610"])).content.decode()
    assert "尚未建立座位数" in page and "鼓楼区(考场座位 30)" in page


def test_capacity_export_csv_and_xlsx(world, as_staff):
    centre(world.county, "01", 30)
    enter(world, world.alice, "10001")
    _, client = as_staff(READER, world.county)
    rows = csv_rows(client.get(reverse("office:entries_capacity_export_csv", args=["202610"])))
    assert rows == [
        ["考区代码", "考区", "时段", "座位数", "已占用", "剩余", "占用率(%)", "考场座位数"],
        ["320102", "玄武区", "周六上午", "30", "1", "29", "3", "30"],
        ["320102", "玄武区", "周六下午", "30", "0", "30", "0", "30"],
        ["320102", "玄武区", "周日上午", "30", "0", "30", "0", "30"],
        ["320102", "玄武区", "周日下午", "30", "0", "30", "0", "30"],
    ]
    sheet = xlsx_rows(client.get(reverse("office:entries_capacity_export_xlsx", args=["202610"])))
    assert sheet[0][0] == "考区代码" and sheet[1] == ["320102", "玄武区", "周六上午", 30, 1, 29, 3, 30]
    assert len(sheet) == 5


# --- entries ----------------------------------------------------------------------------------


def _mixed_entries(world):
    """alice: 10001 + 10002 paid; bob: 10001 held; carol (秦淮区): 10003 cancelled by herself;
    dave (姑苏区, other city): 10001 held."""
    enter(world, world.alice, "10001", "10002")
    pay(order_of(world, world.alice))
    enter(world, world.bob, "10001")
    carol = world.candidate(name="陈静", county_office=world.sibling, candidate_no="010426100003")
    (carol_entry,) = enter(world, carol, "10003", area=world.sibling)
    services.entry_cancel(actor=world.actor(carol), candidate=carol, entry=carol_entry)
    dave = world.candidate(name="欧阳慕远", county_office=world.other_county, candidate_no="050826100004")
    enter(world, dave, "10001", area=world.other_county)
    return carol, dave


def test_entries_list_scope_filters_summary_and_masking(world, as_staff):
    carol, dave = _mixed_entries(world)
    url = reverse("office:entries_list", args=["202610"])
    _, city = as_staff(READER, world.city)
    page = city.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert world.alice.candidate_no in body and carol.candidate_no in body
    assert dave.candidate_no not in body and "欧阳" not in body
    assert mask_id_number(world.alice.id_number) in body and world.alice.id_number not in body
    assert mask_name("李明远") in body and "李明远" not in body
    by_course = {c.code: (c.held, c.confirmed, c.expired, c.cancelled) for c in page.context["by_course"]}
    assert by_course == {"10001": (1, 1, 0, 0), "10002": (0, 1, 0, 0), "10003": (0, 0, 0, 1)}
    by_area = {a.name: (a.held, a.confirmed, a.expired, a.cancelled, a.live) for a in page.context["by_area"]}
    assert by_area == {"玄武区": (1, 2, 0, 0, 3), "秦淮区": (0, 0, 0, 1, 0)}

    def listed(query: dict) -> list[tuple[str, str, str]]:
        response = city.get(url, query)
        assert response.status_code == 200, query
        return [(r["candidate_no"], r["entry"].course.code, r["state"]) for r in response.context["rows"]]

    alice, bob = world.alice.candidate_no, world.bob.candidate_no
    assert listed({"status": "confirmed"}) == [(alice, "10001", "confirmed"), (alice, "10002", "confirmed")]
    assert listed({"status": "held"}) == [(bob, "10001", "held")]
    assert listed({"status": "cancelled"}) == [(carol.candidate_no, "10003", "cancelled")]
    assert listed({"course": "10001", "area": "320102"}) == [
        (alice, "10001", "confirmed"),
        (bob, "10001", "held"),
    ]
    assert listed({"slot": "SAT_PM"}) == [(alice, "10002", "confirmed")]
    assert listed({"candidate_no": bob}) == [(bob, "10001", "held")]
    assert listed({"candidate_no": dave.candidate_no}) == []

    # a lapsed hold shows as expired before and after the sweeper
    with clock.frozen_at(DURING + dt.timedelta(hours=2)):
        assert listed({"status": "expired"}) == [(bob, "10001", "expired")]
        payments.holds_expire()
        assert listed({"status": "expired"}) == [(bob, "10001", "expired")]
        assert listed({"status": "held"}) == []

    # bad filters: a message, no list; an area out of scope is refused exactly like a missing one
    assert city.get(url, {"candidate_no": "12ab"}).status_code == 400
    hidden = city.get(url, {"area": "320508"})
    missing = city.get(url, {"area": "329999"})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.context["form"].errors == missing.context["form"].errors

    _, county = as_staff(READER, world.county)
    assert "陈静" not in county.get(url).content.decode()
    assert carol.candidate_no not in county.get(url).content.decode()


def test_entries_list_is_paginated(world, as_staff, monkeypatch):
    monkeypatch.setattr(views_entries_admin, "PAGE_SIZE", 2)
    enter(world, world.alice, "10001", "10002", "10003")
    _, client = as_staff(READER, world.province)
    url = reverse("office:entries_list", args=["202610"])
    first = client.get(url, {"course": ""})
    assert [r["entry"].course.code for r in first.context["rows"]] == ["10001", "10002"]
    second = client.get(url, {"course": "", "page": "2"})
    assert [r["entry"].course.code for r in second.context["rows"]] == ["10003"]
    assert "page=2" in first.content.decode()


def test_entries_export_csv_xlsx_audited(world, as_staff):
    _mixed_entries(world)
    _, client = as_staff(READER, world.county)
    url = reverse("office:entries_list_export_csv", args=["202610"])
    assert client.get(url).status_code == 405
    rows = csv_rows(client.post(url, {"status": "confirmed"}))
    order = Entry.objects.filter(candidate=world.alice).first().order
    assert rows[0][:5] == ["考区代码", "考区", "准考证号", "姓名", "身份证件号"]
    assert [r[:10] for r in rows[1:]] == [
        [
            "320102",
            "玄武区",
            world.alice.candidate_no,
            "李**",
            mask_id_number(world.alice.id_number),
            code,
            name,
            slot,
            "已确认",
            "45.00",
        ]
        for code, name, slot in (("10001", "理论课程甲", "周六上午"), ("10002", "理论课程乙", "周六下午"))
    ]
    assert rows[1][10] == order.order_no
    (event,) = events("entries.exported")
    assert event.after == {
        "filter": {"area": None, "course": None, "slot": None, "status": "confirmed", "candidate_no": None},
        "format": "csv",
        "office": "320102",
    }
    sheet = xlsx_rows(client.post(reverse("office:entries_list_export_xlsx", args=["202610"]), {}))
    assert [r[2] for r in sheet[1:]] == [
        world.alice.candidate_no,
        world.alice.candidate_no,
        world.bob.candidate_no,
    ]
    assert len(events("entries.exported")) == 2

    # refused: bad filter (nothing recorded), no permission (nothing recorded)
    assert client.post(url, {"candidate_no": "x"}).status_code == 302
    _, clerk = as_staff((Role.RECORD_CLERK,), world.province)
    assert clerk.post(url, {}).status_code == 403
    assert len(events("entries.exported")) == 2


def test_entries_export_streams_in_batches(world, make_staff, monkeypatch):
    monkeypatch.setattr(sel, "EXPORT_BATCH", 2)
    enter(world, world.alice, "10001", "10002", "10003")
    user = make_staff(roles=READER, office=world.province)
    rows = sel.entries_export_start(
        actor=Actor.staff(user), sitting=world.sitting, flt=sel.EntryFilter(), fmt="csv"
    )
    assert [e.course.code for e in rows] == ["10001", "10002", "10003"]


# --- payments ---------------------------------------------------------------------------------


def test_payments_list_scope_summary_and_export(world, as_staff):
    _carol, dave = _mixed_entries(world)
    paid = PaymentOrder.objects.get(candidate=world.alice)
    pending = order_of(world, world.bob)
    order_of(world, dave)
    _, city = as_staff(READER, world.city)
    url = reverse("office:entries_payments", args=["202610"])
    page = city.get(url)
    assert page.status_code == 200
    assert [r["order"].order_no for r in page.context["rows"]] == [pending.order_no, paid.order_no]
    body = page.content.decode()
    assert "90.00" in body and "SIMTRADE1" in body and mask_name("李明远") in body
    summary = {s.state: (s.orders, s.amount_fen, s.refunded_fen) for s in page.context["summary"]}
    assert summary == {
        "pending": (1, 4500, 0),
        "paid": (1, 9000, 0),
        "expired": (0, 0, 0),
        "cancelled": (0, 0, 0),
        "refunded": (0, 0, 0),
    }
    assert [r["order"].pk for r in city.get(url, {"status": "paid"}).context["rows"]] == [paid.pk]
    assert [
        r["order"].pk for r in city.get(url, {"candidate_no": world.bob.candidate_no}).context["rows"]
    ] == [pending.pk]
    assert list(city.get(url, {"candidate_no": dave.candidate_no}).context["rows"]) == []
    with clock.frozen_at(DURING + dt.timedelta(hours=1)):
        expired = city.get(url, {"status": "expired"})
        assert [r["order"].pk for r in expired.context["rows"]] == [pending.pk]
        assert expired.context["rows"][0]["state_text"] == "已过期"

    rows = csv_rows(
        city.post(reverse("office:entries_payments_export_csv", args=["202610"]), {"status": "paid"})
    )
    assert rows[0][:5] == ["订单号", "准考证号", "姓名", "状态", "金额(元)"]
    assert rows[1][:8] == [
        paid.order_no,
        world.alice.candidate_no,
        "李**",
        "已支付",
        "90.00",
        "0.00",
        "sim",
        "SIMTRADE1",
    ]
    assert len(rows) == 2
    (event,) = events("payments.exported")
    assert event.after["filter"] == {"status": "paid", "candidate_no": None}


def test_order_detail_shows_notifications_and_refunds_not_secrets(world, as_staff):
    enter(world, world.alice, "10001", "10002")
    order = order_of(world, world.alice)
    pay(order, event_id="evt_secretish_1")
    # the same event again: stored as a duplicate
    body = sim.event_body(
        sim.TYPE_PAID,
        event_id="evt_secretish_1",
        order_no=order.order_no,
        amount_fen=order.amount_fen,
        occurred_at=clock.now(),
        trade_no="SIMTRADE1",
    )
    payments.payment_notification_receive(provider="sim", headers=sim.signed_headers(body), body=body)
    first = Entry.objects.get(candidate=world.alice, course__code="10001")
    services.entry_cancel(actor=world.actor(world.alice), candidate=world.alice, entry=first)
    refund = Refund.objects.get()
    assert refund.amount_fen == 4500

    _, county = as_staff(READER, world.county)
    url = reverse("office:entries_payment_order", args=[order.order_no])
    response = county.get(url)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert "已处理" in page and "重复通知" in page and "有效" in page and "支付结果" in page
    assert refund.refund_no in page and "45.00" in page and "退款中" in page
    assert "理论课程甲" in page and "已取消(考生取消)" in page
    assert "out_trade_no" not in page and "x-sim-signature" not in page  # the raw message is not shown
    assert world.alice.id_number not in page and "李明远" not in page

    # other city, a missing number and a malformed one: the same not-found page
    _, other = as_staff(READER, world.other_city)
    hidden = other.get(url)
    missing = other.get(reverse("office:entries_payment_order", args=["ZK20260825ABCDEFGHJKLM"]))
    malformed = other.get(reverse("office:entries_payment_order", args=["x"]))
    assert hidden.status_code == missing.status_code == malformed.status_code == 404
    assert order.order_no not in hidden.content.decode().replace(url, "")  # the path is echoed
    assert {t.name for t in hidden.templates} == {t.name for t in missing.templates}


def test_every_notification_outcome_has_a_label():
    assert set(payments.OUTCOMES) <= set(sel.NOTIFICATION_OUTCOME_LABELS)


# --- permissions --------------------------------------------------------------------------------


def test_entries_view_permission_by_role_and_level(world, make_staff):
    for role, level_ok in (
        (Role.EXAM_AFFAIRS, {"province", "city", "county"}),
        (Role.READ_ONLY, {"province", "city", "county"}),
        (Role.RECORD_CLERK, set()),
        (Role.SCORE_MANAGER, set()),
    ):
        for office in (world.province, world.city, world.county):
            user = make_staff(roles=(role,), office=office)
            assert has_perm(user, Perm.ENTRIES_VIEW) == (office.level in level_ok), (role, office.level)


@pytest.mark.parametrize(
    "name",
    ["entries_capacity", "entries_list", "entries_payments", "entries_sitting_settings"],
)
def test_sitting_pages_by_role_and_level(world, as_staff, name):
    url = reverse(f"office:{name}", args=["202610"])
    manage = name == "entries_sitting_settings"
    for roles in (AFFAIRS, READER, (Role.RECORD_CLERK,), ()):
        for office in (world.province, world.city, world.county):
            user, client = as_staff(roles, office)
            allowed = has_perm(user, Perm.ENTRIES_MANAGE if manage else Perm.ENTRIES_VIEW)
            response = client.get(url)
            assert response.status_code == (200 if allowed else 403), (roles, office.level)
            assert client.get(reverse(f"office:{name}", args=["209901"])).status_code == (
                404 if allowed else 403
            )


def test_nav_links(world, as_staff):
    _, reader = as_staff(READER, world.county)
    home = reader.get(reverse("office:home")).content.decode()
    assert reverse("office:entries_setup") in home
    _, clerk = as_staff((Role.RECORD_CLERK,), world.county)
    assert reverse("office:entries_setup") not in clerk.get(reverse("office:home")).content.decode()
    _, province = as_staff(AFFAIRS, world.province)
    index = province.get(reverse("office:entries_setup")).content.decode()
    for name in ("entries_capacity", "entries_list", "entries_payments", "entries_sitting_settings"):
        assert reverse(f"office:{name}", args=["202610"]) in index
    assert reverse("office:entries_policy") in index
