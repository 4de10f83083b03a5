"""Portal admission tickets: list, PDF download only when open, own only (others → 404)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.entries.seating import AFTER_CLOSE, TICKETS_OPEN, centre, grant_entries_manage, open_tickets, paid
from tests.entries.world import build_entry_world
from tests.factories import CandidateFactory, StaffFactory
from tests.portal.helpers import log_in
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import Role
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.entries import allocation
from zikao.entries.models import AdmissionTicket

__all__ = ["grant_entries_manage"]


@pytest.fixture
def placed(db, grant_entries_manage):
    world = build_entry_world()
    centre(world.county, "01", 30)
    who = CandidateFactory(county_office=world.county, name="韩梅梅")
    paid(world, who, "10001")
    user = StaffFactory(office=world.province)
    StaffRole.objects.create(user=user, role=Role.RECORD_CLERK, granted_at=AFTER_CLOSE)
    with clock.frozen_at(AFTER_CLOSE):
        allocation.allocation_run(actor=Actor.staff(user), sitting=world.sitting)
    return world, who


def test_tickets_page_requires_sign_in(client, placed):
    response = client.get(reverse("portal:tickets"))
    assert response.status_code == 302 and reverse("portal:login") in response["Location"]
    pdf = reverse("portal:ticket_pdf", args=["202610"])
    assert client.get(pdf).status_code == 302
    assert AdmissionTicket.objects.count() == 0


def test_ticket_before_open_shows_the_time_and_refuses_the_pdf(client, placed):
    world, who = placed
    open_tickets(world)
    log_in(client, who)
    with clock.frozen_at(AFTER_CLOSE):
        page = client.get(reverse("portal:tickets")).content.decode()
        assert 'data-code="TICKET_NOT_OPEN"' in page and "10001" in page
        response = client.get(reverse("portal:ticket_pdf", args=["202610"]))
    assert response.status_code == 403 and 'data-code="TICKET_NOT_OPEN"' in response.content.decode()
    assert AdmissionTicket.objects.count() == 0


def test_ticket_pdf_download(client, placed):
    world, who = placed
    open_tickets(world)
    log_in(client, who)
    with clock.frozen_at(TICKETS_OPEN):
        page = client.get(reverse("portal:tickets")).content.decode()
        assert reverse("portal:ticket_pdf", args=["202610"]) in page
        assert "<td>10001 " in page  # the course row (the other-candidate test looks for its absence)
        response = client.get(reverse("portal:ticket_pdf", args=["202610"]))
        again = client.get(reverse("portal:ticket_pdf", args=["202610"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert "no-store" in response["Cache-Control"]
    assert again.status_code == 200
    ticket = AdmissionTicket.objects.get()
    assert ticket.candidate == who


def test_another_candidate_or_unknown_sitting_is_404(client, placed):
    world, _who = placed
    open_tickets(world)
    stranger = CandidateFactory(county_office=world.county)
    log_in(client, stranger)
    with clock.frozen_at(TICKETS_OPEN):
        assert client.get(reverse("portal:ticket_pdf", args=["202610"])).status_code == 404
        assert client.get(reverse("portal:ticket_pdf", args=["209912"])).status_code == 404
        assert client.get(reverse("portal:ticket_pdf", args=["x"])).status_code == 404
        page = client.get(reverse("portal:tickets"))
    body = page.content.decode()
    # Neither the other candidate's name nor their course row (a candidate number may contain "10001").
    assert page.status_code == 200 and "韩梅梅" not in body and "<td>10001 " not in body
    assert AdmissionTicket.objects.count() == 0
