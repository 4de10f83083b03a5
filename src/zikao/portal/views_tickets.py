"""The candidate's admission tickets (准考证): which sittings have one, and the PDF download.

Only the signed-in candidate's own seats are ever read (the sitting is chosen by its label);
a sitting without the candidate's seats answers exactly like a missing one (404). Issuing goes
through `entries.tickets.ticket_issue`, which refuses before `tickets_open_at`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from zikao.catalog.models import Sitting
from zikao.core.audit import Actor
from zikao.core.errors import DomainError
from zikao.entries import tickets
from zikao.entries.pdf import admission_ticket_pdf
from zikao.portal.auth import candidate_required, client_ip


@candidate_required
@require_http_methods(["GET", "HEAD"])
def tickets_list(request: HttpRequest) -> HttpResponse:
    rows = tickets.ticket_sittings(request.candidate)  # type: ignore[attr-defined]
    return render(request, "portal/tickets/index.html", {"rows": rows})


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/tickets/not_found.html", status=404)


@candidate_required
@require_http_methods(["GET", "HEAD"])
def ticket_pdf(request: HttpRequest, label: str) -> HttpResponse:
    candidate = request.candidate  # type: ignore[attr-defined]
    sitting = Sitting.objects.filter(label=label).first()
    if sitting is None:
        return _not_found(request)
    try:
        ticket = tickets.ticket_issue(
            actor=Actor.candidate(candidate, ip=client_ip(request)), candidate=candidate, sitting=sitting
        )
    except DomainError as exc:
        if exc.code in ("NOT_FOUND", tickets.TICKET_NO_SEATS):
            return _not_found(request)
        return render(
            request,
            "portal/tickets/refused.html",
            {"code": exc.code, "message": exc.message, "sitting": sitting},
            status=403,
        )
    body = admission_ticket_pdf(
        tickets.ticket_print_data(ticket), check_url=tickets.check_url(ticket.code, request)
    )
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="zkz-{sitting.label}-{candidate.candidate_no}.pdf"'
    )
    return response
