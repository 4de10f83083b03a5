"""Online registration pages (新生报名): the form, the result with the 报名号, the status page.

Thin: the form checks input shape and the captcha; `candidates.registration` decides. A refusal
lands next to its field with the refusal's HTTP status. Pages hold personal data: never cached.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from zikao.candidates.registration import (
    PLEDGE_TEXT,
    PLEDGE_TITLE,
    registration_submit,
    registration_withdraw,
)
from zikao.candidates.registration_selectors import registration_for_applicant
from zikao.core.audit import Actor
from zikao.core.errors import DomainError
from zikao.portal.auth import client_ip
from zikao.portal.forms_registration import RegistrationForm, StatusForm

DONE_KEY = "zikao_registration_done"
STATUS_KEY = "zikao_registration_status"


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, f"portal/registration/{template}", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


def _add_error(form, exc: DomainError) -> None:
    field = next((key for key in (exc.fields or {}) if key in form.fields), None)
    form.add_error(field, f"{exc.message}")


def _context(form) -> dict[str, Any]:
    return {"form": form, "pledge_title": PLEDGE_TITLE, "pledge_text": PLEDGE_TEXT}


@never_cache
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render(request, "form.html", _context(RegistrationForm()))
    form = RegistrationForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, "form.html", _context(form), status=400)
    data = form.cleaned_data
    try:
        registration = registration_submit(
            actor=Actor.public(ip=client_ip(request)),
            id_type=data["id_type"],
            id_number=data["id_number"],
            name=data["name"],
            gender=data["gender"],
            birth_date=data["birth_date"],
            phone=data["phone"],
            address=data["address"],
            household_region=data["household_region"],
            residence_basis=data["residence_basis"],
            prior_education=data["prior_education"],
            prior_diploma_no=data["prior_diploma_no"],
            work_unit=data["work_unit"],
            major_id=data["major"].pk,
            exam_area_id=data["exam_area"].pk,
            pledge_accepted=data["pledge"],
            photo=data["photo"],
            residence_proof=data.get("residence_proof"),
            work_proof=data.get("work_proof"),
        )
    except DomainError as exc:
        _add_error(form, exc)
        return _render(request, "form.html", _context(form), status=exc.status)
    request.session[DONE_KEY] = {
        "no": registration.pre_registration_no,
        "area": registration.exam_area.area_label,
        "major": f"{registration.major.code} {registration.major.name}",
        "restricted": registration.major.restricted,
    }
    return HttpResponseRedirect(reverse("portal:registration_done"))


@never_cache
@require_http_methods(["GET"])
def done(request: HttpRequest) -> HttpResponse:
    result = request.session.get(DONE_KEY)
    if not result:
        return HttpResponseRedirect(reverse("portal:registration_new"))
    return _render(request, "done.html", {"result": result})


@never_cache
@require_http_methods(["GET", "POST"])
def status(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render(request, "status.html", {"form": StatusForm(), "registration": None})
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _render(request, "status.html", {"form": form, "registration": None}, status=400)
    try:
        registration = registration_for_applicant(
            actor=Actor.public(ip=client_ip(request)),
            pre_registration_no=form.cleaned_data["pre_registration_no"],
            id_number=form.cleaned_data["id_number"],
        )
    except DomainError as exc:
        message = (
            _("未查询到匹配的报名，请核对报名号和证件号码。") if exc.code == "NOT_FOUND" else exc.message
        )
        form.add_error(None, str(message))
        return _render(request, "status.html", {"form": form, "registration": None}, status=exc.status)
    request.session[STATUS_KEY] = {
        "no": registration.pre_registration_no,
        "id": form.cleaned_data["id_number"],
    }
    return _render(request, "status.html", {"form": StatusForm(), "registration": registration})


@require_POST
def withdraw(request: HttpRequest) -> HttpResponse:
    """Withdraw the pending registration last shown on the status page in this browser session."""
    shown = request.session.get(STATUS_KEY)
    if not shown:
        return HttpResponseRedirect(reverse("portal:registration_status"))
    try:
        registration_withdraw(
            actor=Actor.public(ip=client_ip(request)), pre_registration_no=shown["no"], id_number=shown["id"]
        )
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        request.session.pop(STATUS_KEY, None)
        messages.success(request, _("报名已撤回。"))
    return HttpResponseRedirect(reverse("portal:registration_status"))
