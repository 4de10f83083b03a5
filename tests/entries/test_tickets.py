"""entries.tickets and entries.pdf: issue only when open and placed, revoke/re-issue, door check,
the PDFs (valid A4 PDF, candidate number, QR with the check URL)."""

from __future__ import annotations

import re

import pytest

from tests.entries.seating import (
    AFTER_CLOSE,
    TICKETS_OPEN,
    candidate,
    centre,
    grant_entries_manage,
    open_tickets,
    paid,
    staff_actor,
)
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.codes import UNAMBIGUOUS_ALPHABET
from zikao.core.errors import NotFound, ValidationFailed
from zikao.core.models import AuditEvent
from zikao.entries import allocation, pdf, tickets
from zikao.entries.models import AdmissionTicket

__all__ = ["grant_entries_manage"]


@pytest.fixture
def placed(world, grant_entries_manage):
    """玄武区 centre 01 with one room; alice-like candidate placed in 10001 and 10002."""
    centre(world.county, "01", 30)
    who = candidate(world, name="李雷")
    paid(world, who, "10001", "10002")
    with clock.frozen_at(AFTER_CLOSE):
        allocation.allocation_run(actor=staff_actor(world.province), sitting=world.sitting)
    return who


def me(who):
    return Actor.candidate(who, ip="203.0.113.9")


def test_ticket_not_before_tickets_open_at(world, placed):
    open_tickets(world)
    with clock.frozen_at(TICKETS_OPEN - clock.now().resolution), pytest.raises(tickets.TicketRefused) as exc:
        tickets.ticket_issue(actor=me(placed), candidate=placed, sitting=world.sitting)
    assert exc.value.code == "TICKET_NOT_OPEN"
    assert AdmissionTicket.objects.count() == 0
    assert not AuditEvent.objects.filter(event_type="entries.ticket_issue").exists()


def test_ticket_not_open_when_no_time_is_set(world, placed):
    with clock.frozen_at(TICKETS_OPEN), pytest.raises(tickets.TicketRefused) as exc:
        tickets.ticket_issue(actor=me(placed), candidate=placed, sitting=world.sitting)
    assert exc.value.code == "TICKET_NOT_OPEN"
    assert AdmissionTicket.objects.count() == 0


def test_ticket_issued_once_and_returned_again(world, placed):
    open_tickets(world)
    with clock.frozen_at(TICKETS_OPEN):
        first = tickets.ticket_issue(actor=me(placed), candidate=placed, sitting=world.sitting)
        again = tickets.ticket_issue(actor=me(placed), candidate=placed, sitting=world.sitting)
    assert first.pk == again.pk
    assert re.fullmatch(f"[{UNAMBIGUOUS_ALPHABET}]{{12}}", first.code)
    assert placed.candidate_no not in first.code
    assert AuditEvent.objects.filter(event_type="entries.ticket_issue").count() == 1


def test_ticket_needs_seats_and_is_only_the_candidates_own(world, placed):
    open_tickets(world)
    other = candidate(world)
    with clock.frozen_at(TICKETS_OPEN):
        with pytest.raises(tickets.TicketRefused) as exc:
            tickets.ticket_issue(actor=me(other), candidate=other, sitting=world.sitting)
        assert exc.value.code == "TICKET_NO_SEATS"
        with pytest.raises(NotFound):
            tickets.ticket_issue(actor=me(other), candidate=placed, sitting=world.sitting)
    assert AdmissionTicket.objects.count() == 0


def test_revoke_and_reissue_and_the_door_check(world, placed):
    open_tickets(world)
    manager = staff_actor(world.city)
    door = staff_actor(world.other_county, roles=(Role.READ_ONLY,))
    with clock.frozen_at(TICKETS_OPEN):
        ticket = tickets.ticket_issue(actor=me(placed), candidate=placed, sitting=world.sitting)
        check = tickets.ticket_check(actor=door, code=ticket.code.lower())
        assert check.status == "VALID"
        assert (check.name, check.candidate_no) == ("李雷", placed.candidate_no)
        assert check.id_masked == placed.id_number[:6] + "********" + placed.id_number[-4:]
        assert [(s.course_code, s.room, s.seat_no) for s in check.seats] == [
            ("10001", "1", 1),
            ("10002", "1", 1),
        ]

        with pytest.raises(ValidationFailed):
            tickets.ticket_revoke(actor=manager, ticket=ticket, reason="  ")
        tickets.ticket_revoke(actor=manager, ticket=ticket, reason="身份存疑")
        assert tickets.ticket_check(actor=door, code=ticket.code).status == "REVOKED"
        with pytest.raises(tickets.TicketRefused) as exc:
            tickets.ticket_issue(actor=me(placed), candidate=placed, sitting=world.sitting)
        assert exc.value.code == "TICKET_REVOKED"
        with pytest.raises(tickets.TicketRefused) as exc:
            tickets.ticket_revoke(actor=manager, ticket=ticket, reason="again")
        assert exc.value.code == "TICKET_ALREADY_REVOKED"

        new = tickets.ticket_reissue(actor=manager, ticket=ticket, reason="核实无误，补发")
        ticket.refresh_from_db()
        assert ticket.superseded_by_id == new.pk and new.code != ticket.code
        assert tickets.ticket_check(actor=door, code=ticket.code).status == "SUPERSEDED"
        assert tickets.ticket_check(actor=door, code=new.code).status == "VALID"
        assert tickets.ticket_issue(actor=me(placed), candidate=placed, sitting=world.sitting).pk == new.pk
        with pytest.raises(tickets.TicketRefused):
            tickets.ticket_reissue(actor=manager, ticket=ticket, reason="x")
    events = list(
        AuditEvent.objects.filter(event_type__in=["entries.ticket_revoke", "entries.ticket_reissue"])
        .order_by("pk")
        .values_list("event_type", flat=True)
    )
    assert events == ["entries.ticket_revoke", "entries.ticket_reissue"]


@pytest.mark.parametrize("code", ["", "ABC", "0000OOOO1111", "<script>", "AAAAAAAAAAAA"])
def test_unknown_and_malformed_codes_look_the_same(world, placed, code):
    door = staff_actor(world.county, roles=(Role.READ_ONLY,))
    result = tickets.ticket_check(actor=door, code=code)
    assert result == tickets.TicketCheck(status="UNKNOWN")


def test_revoke_and_reissue_refused_without_permission_or_out_of_scope(world, placed):
    open_tickets(world)
    with clock.frozen_at(TICKETS_OPEN):
        ticket = tickets.ticket_issue(actor=me(placed), candidate=placed, sitting=world.sitting)
        with pytest.raises(NotFound):
            tickets.ticket_revoke(actor=staff_actor(world.other_city), ticket=ticket, reason="x")
        with pytest.raises(PermissionDenied):
            tickets.ticket_revoke(actor=staff_actor(world.county), ticket=ticket, reason="x")  # county level
        with pytest.raises(PermissionDenied):
            tickets.ticket_reissue(
                actor=staff_actor(world.city, roles=(Role.READ_ONLY,)), ticket=ticket, reason="x"
            )
        with pytest.raises(PermissionDenied):
            tickets.ticket_check(actor=staff_actor(world.city, roles=(Role.STAFF_ADMIN,)), code=ticket.code)
    ticket.refresh_from_db()
    assert ticket.revoked_at is None and AdmissionTicket.objects.count() == 1


# --- PDFs -------------------------------------------------------------------------------------


def _page_count(body: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", body))


def test_admission_ticket_pdf(world, placed, monkeypatch):
    open_tickets(world)
    with clock.frozen_at(TICKETS_OPEN):
        ticket = tickets.ticket_issue(actor=me(placed), candidate=placed, sitting=world.sitting)
    url = f"https://office.example.cn/office/entries/check/{ticket.code}/"
    payloads = []
    real_make = pdf.segno.make
    monkeypatch.setattr(pdf.segno, "make", lambda data, **kw: payloads.append(data) or real_make(data, **kw))
    body = pdf.admission_ticket_pdf(tickets.ticket_print_data(ticket), check_url=url, compress=False)
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    assert _page_count(body) == 1
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in body  # A4
    assert b"STSong-Light" in body
    assert f"({placed.candidate_no}) Tj".encode() in body
    assert f"({ticket.code}) Tj".encode() in body
    assert f"({url}) Tj".encode() in body
    assert placed.id_number.encode() not in body
    assert payloads == [url]
    compressed = pdf.admission_ticket_pdf(tickets.ticket_print_data(ticket), check_url=url)
    assert compressed.startswith(b"%PDF-") and len(compressed) < len(body)


def test_check_url_uses_the_configured_base(settings):
    settings.ZIKAO_TICKET_CHECK_BASE_URL = "https://office.example.cn/"
    assert tickets.check_url("ACDE34679KMN") == "https://office.example.cn/office/entries/check/ACDE34679KMN/"


def test_room_list_pdf_has_a_page_per_room_and_slot(world, placed, grant_entries_manage):
    user = staff_actor(world.city).user
    (home,) = list(world.county.centres.all())
    sheets = allocation.room_sheets(user, world.sitting, home)
    assert [(s.room, s.slot_code, [x.candidate_no for x in s.seats]) for s in sheets] == [
        ("1", "SAT_AM", [placed.candidate_no]),
        ("1", "SAT_PM", [placed.candidate_no]),
    ]
    body = pdf.room_list_pdf(sheets, compress=False)
    assert body.startswith(b"%PDF-") and _page_count(body) == 2
    assert f"({placed.candidate_no}) Tj".encode() in body
    with pytest.raises(NotFound):
        allocation.room_sheets(staff_actor(world.other_city).user, world.sitting, home)
