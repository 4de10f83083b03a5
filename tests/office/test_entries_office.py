"""Office pages of centres, rooms, allocation, room lists, tickets and the door check."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.entries.seating import AFTER_CLOSE, TICKETS_OPEN, centre, grant_entries_manage, open_tickets, paid
from tests.entries.world import DURING, build_entry_world
from tests.factories import CandidateFactory
from zikao.accounts.permissions import Role
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.models import AuditEvent
from zikao.entries import tickets
from zikao.entries.models import AllocationRun, Centre, Room, SeatAssignment

__all__ = ["grant_entries_manage"]
MANAGER = (Role.RECORD_CLERK,)


@pytest.fixture
def world(db, offices, grant_entries_manage):
    return build_entry_world()


@pytest.fixture(autouse=True)
def _clear_limits():
    cache.clear()
    yield
    cache.clear()


def test_centre_list_permission_matrix(world, offices, make_staff, staff_client, client):
    mine = centre(offices.county, "01", 30)
    centre(offices.other_county, "77", 30)
    url = reverse("office:entries_centres")
    assert client.get(url).status_code == 302
    assert staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.city)).get(url).status_code == 403
    assert staff_client(make_staff(roles=MANAGER, office=offices.county)).get(url).status_code == 403  # level
    page = staff_client(make_staff(roles=MANAGER, office=offices.city)).get(url)
    assert page.status_code == 200
    assert mine.name in page.content.decode() and "考点77" not in page.content.decode()
    detail = reverse("office:entries_centre", args=[Centre.objects.get(code="77").pk])
    manager = staff_client(make_staff(roles=MANAGER, office=offices.city))
    assert manager.get(detail).status_code == 404
    assert manager.get(reverse("office:entries_centre", args=[999999])).status_code == 404


def test_centre_create_and_room_seats_validated(world, offices, make_staff, staff_client):
    manager = staff_client(make_staff(roles=MANAGER, office=offices.city))
    response = manager.post(
        reverse("office:entries_centre_create"),
        {"area": offices.county.pk, "code": "05", "name": "玄武中学", "address": "玄武大道1号"},
    )
    made = Centre.objects.get(code="05")
    assert response.status_code == 302 and made.area == offices.county
    # another city's area is not a choice
    before = Centre.objects.count()
    response = manager.post(
        reverse("office:entries_centre_create"),
        {"area": offices.other_county.pk, "code": "06", "name": "x", "address": "y"},
    )
    assert response.status_code == 200 and Centre.objects.count() == before
    room_url = reverse("office:entries_centre", args=[made.pk])
    assert manager.post(room_url, {"number": "1", "seats": "31"}).status_code == 422
    assert not Room.objects.exists()
    assert manager.post(room_url, {"number": "1", "seats": "30"}).status_code == 302
    assert manager.post(room_url, {"number": "1", "seats": "20"}).status_code == 422  # number taken
    assert list(Room.objects.values_list("number", "seats")) == [("1", 30)]
    room = Room.objects.get()
    edit = reverse("office:entries_room_edit", args=[room.pk])
    assert manager.post(edit, {"number": "1", "seats": "0", "active": "on"}).status_code == 200
    assert manager.post(edit, {"number": "1", "seats": "25", "active": "on"}).status_code == 302
    assert Room.objects.get().seats == 25
    other = staff_client(make_staff(roles=MANAGER, office=offices.other_city))
    assert other.post(edit, {"number": "1", "seats": "10", "active": "on"}).status_code == 404
    assert Room.objects.get().seats == 25
    types = list(
        AuditEvent.objects.filter(event_type__startswith="entries.").values_list("event_type", flat=True)
    )
    assert sorted(types) == ["entries.centre_create", "entries.room_create", "entries.room_update"]


def test_allocation_run_report_and_room_list(world, offices, make_staff, staff_client):
    home = centre(offices.county, "01", 30)
    who = CandidateFactory(county_office=offices.county, name="韩梅梅")
    paid(world, who, "10001")
    manager = staff_client(make_staff(roles=MANAGER, office=offices.city))
    run_url = reverse("office:entries_allocation_run", args=[world.sitting.label])
    # during the window: refused, nothing written
    with clock.frozen_at(DURING):
        response = manager.post(run_url)
    assert response.status_code == 302 and AllocationRun.objects.count() == 0
    with clock.frozen_at(AFTER_CLOSE):
        assert (
            staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.city)).post(run_url).status_code
            == 403
        )
        assert AllocationRun.objects.count() == 0
        response = manager.post(run_url)
    run = AllocationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "office:entries_allocation_report", args=[run.pk]
    )
    assert SeatAssignment.objects.count() == 1
    report = manager.get(response["Location"])
    assert report.status_code == 200 and "全部报考均已编排" in report.content.decode()
    html = report.content.decode()
    # Areas by place and slots by label and time, never the stored codes.
    assert '<tr><th scope="row">南京市 玄武区</th><td class="num">1</td><td class="num">1</td>' in html
    assert f'<h2 id="area-{offices.county.pk}">南京市 玄武区</h2>' in html
    assert (
        '<li>周六上午 <span class="muted">10-17 09:00–11:30</span>：<span class="n">1 人</span></li>' in html
    )
    assert "SAT_AM" not in html and "招生考试办公室" not in html
    other = staff_client(make_staff(roles=MANAGER, office=offices.other_city))
    assert other.get(response["Location"]).status_code == 404
    pdf_url = reverse("office:entries_room_list_pdf", args=[world.sitting.label, home.pk])
    body = manager.get(pdf_url)
    assert body.status_code == 200 and body["Content-Type"] == "application/pdf"
    assert body.content.startswith(b"%PDF-")
    assert other.get(pdf_url).status_code == 404
    assert manager.get(reverse("office:entries_allocation_sitting", args=["209901"])).status_code == 404


def test_door_check_page(world, offices, make_staff, staff_client, client, grant_entries_manage):
    centre(offices.county, "01", 30)
    who = CandidateFactory(county_office=offices.county, name="韩梅梅")
    paid(world, who, "10001")
    open_tickets(world)
    from zikao.entries import allocation

    with clock.frozen_at(AFTER_CLOSE):
        allocation.allocation_run(
            actor=Actor.staff(make_staff(roles=MANAGER, office=offices.province)), sitting=world.sitting
        )
    with clock.frozen_at(TICKETS_OPEN):
        ticket = tickets.ticket_issue(actor=Actor.candidate(who), candidate=who, sitting=world.sitting)
    url = reverse("office:entries_check", args=[ticket.code])
    assert client.get(url).status_code == 302
    assert (
        staff_client(make_staff(roles=(Role.STAFF_ADMIN,), office=offices.county)).get(url).status_code == 403
    )
    door = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.other_county))
    page = door.get(url).content.decode()
    assert 'data-status="VALID"' in page and "韩梅梅" in page and who.candidate_no in page
    assert who.id_number not in page
    # The verdict in words as well as in colour (the page is read at arm's length at the door).
    assert '<p class="ticket-status ticket-valid" data-status="VALID" role="status">' in page
    assert (
        '<strong class="verdict">有效</strong>' in page and "核对照片、身份证件与本人一致后准予入场。" in page
    )
    unknown = door.get(reverse("office:entries_check", args=["AAAAAAAAAAAA"])).content.decode()
    malformed = door.get(reverse("office:entries_check", args=["not-a-code"])).content.decode()
    assert 'data-status="UNKNOWN"' in unknown and 'data-status="UNKNOWN"' in malformed
    assert (
        'class="ticket-status ticket-unknown"' in unknown
        and '<strong class="verdict">无此准考证</strong>' in unknown
    )
    form = door.get(reverse("office:entries_check_form") + f"?code={ticket.code}")
    assert form.status_code == 302 and form["Location"] == url
    with clock.frozen_at(TICKETS_OPEN):
        tickets.ticket_revoke(
            actor=Actor.staff(make_staff(roles=MANAGER, office=offices.city)),
            ticket=ticket,
            reason="证件不符",
        )
    revoked = door.get(url).content.decode()
    assert 'data-status="REVOKED"' in revoked and '<strong class="verdict">已注销</strong>' in revoked
    assert "不得凭此证入场" in revoked


def test_door_check_is_rate_limited(world, offices, make_staff, staff_client):
    door = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    url = reverse("office:entries_check", args=["AAAAAAAAAAAA"])
    with clock.frozen_at(TICKETS_OPEN):
        codes = [door.get(url).status_code for _ in range(121)]
    assert codes[:120] == [200] * 120 and codes[120] == 429


def test_ticket_admin_page_scoped(world, offices, make_staff, staff_client):
    who = CandidateFactory(county_office=offices.county)
    url = reverse("office:entries_tickets") + f"?candidate_no={who.candidate_no}"
    mine = staff_client(make_staff(roles=MANAGER, office=offices.city)).get(url).content.decode()
    theirs = staff_client(make_staff(roles=MANAGER, office=offices.other_city)).get(url).content.decode()
    assert "该考生还没有准考证" in mine
    assert "该考生还没有准考证" not in theirs and "记录不存在" in theirs
