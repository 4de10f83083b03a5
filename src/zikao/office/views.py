"""Office landing page: what this staff user can do, by area."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from zikao.accounts.permissions import ROLE_LABELS, roles_of
from zikao.office.access import office_view


@office_view()
def home(request: HttpRequest) -> HttpResponse:
    roles = [ROLE_LABELS.get(code, code) for code in sorted(roles_of(request.user))]
    return render(request, "office/home.html", {"roles": roles})
