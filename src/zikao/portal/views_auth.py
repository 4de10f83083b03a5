"""Sign-in pages of the portal: number lookup, login, logout, password change and reset, profile.

Thin: the form checks input shape and the captcha, a service decides, the page renders the
service's message next to the field. Domain refusals keep the HTTP status of their error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from zikao.accounts import services as account_services
from zikao.accounts.errors import PasswordPolicyError
from zikao.candidates import services as candidate_services
from zikao.candidates.models import ProfileChangeRequest
from zikao.core.audit import Actor
from zikao.core.errors import DomainError
from zikao.core.masking import mask_id_number, mask_phone
from zikao.portal import forms
from zikao.portal.auth import (
    candidate_required,
    client_ip,
    login_session,
    logout_session,
    must_change_password,
    safe_next,
    session_candidate,
)

RESET_KEY = "zikao_password_reset"
PHONE_KEY = "zikao_phone_change"

# Which form field a refusal belongs to (others go to the top of the form).
ERROR_FIELDS = {
    "PASSWORD_WRONG": "current_password",
    "PASSWORD_UNCHANGED": "new_password",
    "CODE_WRONG": "code",
    "CODE_EXPIRED": "code",
    "CODE_ATTEMPTS_EXCEEDED": "code",
    "PHONE_INVALID": "new_phone",
    "PHONE_UNCHANGED": "new_phone",
    "PROFILE_REQUEST_VALUE_INVALID": "new_value",
    "PROFILE_REQUEST_UNCHANGED": "new_value",
    "ID_NUMBER_INVALID": "new_value",
    "PROFILE_REQUEST_REASON_REQUIRED": "reason",
}


def after_login_url() -> str:
    """The dashboard when the records pages define one, else the profile page."""
    try:
        return reverse("portal:dashboard")
    except NoReverseMatch:
        return reverse("portal:profile")


def _add_error(form, exc: DomainError) -> None:
    if isinstance(exc, PasswordPolicyError):
        for message in exc.messages:
            form.add_error(exc.field if exc.field in form.fields else None, str(message))
        return
    field = ERROR_FIELDS.get(exc.code)
    form.add_error(field if field in form.fields else None, str(exc.message))


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, f"portal/auth/{template}", context, status=status)
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    value: Any = None
    status: int = 200
    error: DomainError | None = None


def _submit(form, call: Callable[[dict[str, Any]], Any]) -> _Outcome:
    """Validate the bound form, then run the service on its cleaned data. An invalid form gives
    400; a refusal lands on the form (next to its field) with the refusal's own status."""
    if not form.is_valid():
        return _Outcome(False, status=400)
    try:
        return _Outcome(True, call(form.cleaned_data))
    except DomainError as exc:
        _add_error(form, exc)
        return _Outcome(False, status=exc.status, error=exc)


# --- number lookup ---------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def lookup(request: HttpRequest) -> HttpResponse:
    form = forms.LookupForm(request.POST or None)
    if request.method == "GET":
        return _render(request, "lookup.html", {"form": form, "result": None})
    outcome = _submit(
        form,
        lambda data: account_services.candidate_number_lookup(
            actor=Actor.public(ip=client_ip(request)),
            id_number=data["id_number"],
            name=data["name"],
            pre_registration=data["pre_registration"],
        ),
    )
    if outcome.ok:
        form = forms.LookupForm()
    return _render(request, "lookup.html", {"form": form, "result": outcome.value}, outcome.status)


# --- login / logout --------------------------------------------------------------------------------


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "GET" and session_candidate(request) is not None:
        return HttpResponseRedirect(next_url or after_login_url())
    form = forms.LoginForm(request.POST or None)
    if request.method == "GET":
        return _render(request, "login.html", {"form": form, "next": next_url or ""})
    outcome = _submit(
        form,
        lambda data: account_services.candidate_login(
            actor=Actor.public(ip=client_ip(request)),
            identifier=data["identifier"],
            password=data["password"],
        ),
    )
    if not outcome.ok:
        return _render(request, "login.html", {"form": form, "next": next_url or ""}, outcome.status)
    login_session(request, outcome.value.candidate)
    if outcome.value.must_change_password:
        if next_url:
            request.session["zikao_after_password_change"] = next_url
        return HttpResponseRedirect(reverse("portal:password_change"))
    return HttpResponseRedirect(next_url or after_login_url())


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    candidate = session_candidate(request)
    if candidate is not None:
        account_services.candidate_logout(
            actor=Actor.candidate(candidate, ip=client_ip(request)), candidate=candidate
        )
    logout_session(request)
    messages.info(request, _("您已安全退出。"))
    return HttpResponseRedirect(reverse("portal:login"))


# --- password change (forced after the first login, or voluntary) ----------------------------------


@never_cache
@sensitive_post_parameters("current_password", "new_password", "new_password2")
@require_http_methods(["GET", "POST"])
@candidate_required(allow_password_change=True)
def password_change(request: HttpRequest) -> HttpResponse:
    candidate = request.candidate  # type: ignore[attr-defined]
    forced = must_change_password(candidate)
    form = forms.PasswordChangeForm(request.POST or None)
    context = {"form": form, "forced": forced, "candidate": candidate}
    if request.method == "GET":
        return _render(request, "password_change.html", context)
    outcome = _submit(
        form,
        lambda data: account_services.candidate_password_change(
            actor=Actor.candidate(candidate, ip=client_ip(request)),
            candidate=candidate,
            current_password=data["current_password"],
            new_password=data["new_password"],
        ),
    )
    if outcome.ok:
        next_url = safe_next(request, request.session.pop("zikao_after_password_change", None))
        login_session(request, candidate)  # this browser stays in; every other session ends
        messages.success(request, _("密码已修改。其他设备上的登录已失效。"))
        return HttpResponseRedirect(next_url or after_login_url())
    if outcome.error is not None and session_candidate_after_refusal(request) is None:
        logout_session(request)  # the refusal locked the account
        messages.error(request, str(outcome.error.message))
        return HttpResponseRedirect(reverse("portal:login"))
    return _render(request, "password_change.html", context, outcome.status)


def session_candidate_after_refusal(request: HttpRequest):
    """Re-check the session after a refusal (a lock moves the epoch and ends it)."""
    if hasattr(request, "_zikao_session_candidate"):
        del request._zikao_session_candidate
    return session_candidate(request)


# --- forgotten password (3 steps) ------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    form = forms.ResetStartForm(request.POST or None)
    if request.method == "GET":
        return _render(request, "password_reset.html", {"form": form, "step": 1})
    outcome = _submit(
        form,
        lambda data: account_services.password_reset_start(
            actor=Actor.public(ip=client_ip(request)),
            candidate_no=data["candidate_no"],
            id_number=data["id_number"],
            name=data["name"],
        ),
    )
    if not outcome.ok:
        return _render(request, "password_reset.html", {"form": form, "step": 1}, outcome.status)
    request.session[RESET_KEY] = {"challenge": outcome.value.challenge, "phone": outcome.value.phone_masked}
    return HttpResponseRedirect(reverse("portal:password_reset_code"))


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_code(request: HttpRequest) -> HttpResponse:
    state = request.session.get(RESET_KEY)
    if not isinstance(state, dict):
        return HttpResponseRedirect(reverse("portal:password_reset"))
    form = forms.CodeForm(request.POST or None)
    context = {"form": form, "step": 2, "phone": state.get("phone")}
    if request.method == "GET":
        return _render(request, "password_reset.html", context)
    outcome = _submit(
        form,
        lambda data: account_services.password_reset_verify(
            actor=Actor.public(ip=client_ip(request)),
            challenge=state["challenge"],
            code=data["code"].strip(),
        ),
    )
    if not outcome.ok:
        return _render(request, "password_reset.html", context, outcome.status)
    request.session[RESET_KEY] = {**state, "verified": True}
    return HttpResponseRedirect(reverse("portal:password_reset_new"))


@never_cache
@sensitive_post_parameters("new_password", "new_password2")
@require_http_methods(["GET", "POST"])
def password_reset_new(request: HttpRequest) -> HttpResponse:
    state = request.session.get(RESET_KEY)
    if not isinstance(state, dict) or not state.get("verified"):
        return HttpResponseRedirect(reverse("portal:password_reset"))
    form = forms.NewPasswordForm(request.POST or None)
    if request.method == "GET":
        return _render(request, "password_reset.html", {"form": form, "step": 3})
    outcome = _submit(
        form,
        lambda data: account_services.password_reset_complete(
            actor=Actor.public(ip=client_ip(request)),
            challenge=state["challenge"],
            new_password=data["new_password"],
        ),
    )
    if not outcome.ok:
        return _render(request, "password_reset.html", {"form": form, "step": 3}, outcome.status)
    request.session.pop(RESET_KEY, None)
    messages.success(request, _("密码已重设，请用新密码登录。"))
    return HttpResponseRedirect(reverse("portal:login"))


# --- profile -----------------------------------------------------------------------------------------


def _profile_context(request: HttpRequest, **forms_: Any) -> dict[str, Any]:
    candidate = request.candidate  # type: ignore[attr-defined]
    phone_state = request.session.get(PHONE_KEY)
    return {
        "candidate": candidate,
        "id_number_masked": mask_id_number(candidate.id_number),
        "phone_masked": mask_phone(candidate.phone),
        "contact_form": forms_.get("contact_form")
        or forms.ContactForm(initial={"address": candidate.address, "work_unit": candidate.work_unit}),
        "phone_form": forms_.get("phone_form") or forms.PhoneForm(),
        "code_form": forms_.get("code_form") or forms.CodeForm(),
        "request_form": forms_.get("request_form") or forms.ProfileRequestForm(),
        "phone_pending": phone_state.get("phone") if isinstance(phone_state, dict) else None,
        "requests": list(ProfileChangeRequest.objects.filter(candidate=candidate)[:20]),
    }


def _profile_refused(request: HttpRequest, outcome: _Outcome, **forms_: Any) -> HttpResponse:
    return _render(request, "profile.html", _profile_context(request, **forms_), outcome.status)


@never_cache
@require_http_methods(["GET", "POST"])
@candidate_required
def profile(request: HttpRequest) -> HttpResponse:
    candidate = request.candidate  # type: ignore[attr-defined]
    if request.method == "GET":
        return _render(request, "profile.html", _profile_context(request))
    form = forms.ContactForm(request.POST)
    outcome = _submit(
        form,
        lambda data: candidate_services.profile_update(
            actor=Actor.candidate(candidate, ip=client_ip(request)),
            candidate=candidate,
            changes={"address": data["address"], "work_unit": data["work_unit"]},
        ),
    )
    if not outcome.ok:
        return _profile_refused(request, outcome, contact_form=form)
    messages.success(request, _("联系信息已保存。"))
    return HttpResponseRedirect(reverse("portal:profile"))


@require_POST
@candidate_required
def phone_change(request: HttpRequest) -> HttpResponse:
    candidate = request.candidate  # type: ignore[attr-defined]
    form = forms.PhoneForm(request.POST)
    outcome = _submit(
        form,
        lambda data: candidate_services.phone_change_start(
            actor=Actor.candidate(candidate, ip=client_ip(request)),
            candidate=candidate,
            new_phone=data["new_phone"],
        ),
    )
    if not outcome.ok:
        return _profile_refused(request, outcome, phone_form=form)
    challenge = outcome.value
    request.session[PHONE_KEY] = {"challenge": challenge.challenge, "phone": challenge.phone_masked}
    messages.info(request, _("验证码已发送至 %(phone)s。") % {"phone": challenge.phone_masked})
    return HttpResponseRedirect(reverse("portal:profile") + "#phone")


@require_POST
@candidate_required
def phone_confirm(request: HttpRequest) -> HttpResponse:
    candidate = request.candidate  # type: ignore[attr-defined]
    state = request.session.get(PHONE_KEY)
    if not isinstance(state, dict):
        return HttpResponseRedirect(reverse("portal:profile") + "#phone")
    form = forms.CodeForm(request.POST)
    outcome = _submit(
        form,
        lambda data: candidate_services.phone_change_confirm(
            actor=Actor.candidate(candidate, ip=client_ip(request)),
            candidate=candidate,
            challenge=state["challenge"],
            code=data["code"].strip(),
        ),
    )
    if not outcome.ok:
        return _profile_refused(request, outcome, code_form=form)
    request.session.pop(PHONE_KEY, None)
    messages.success(request, _("手机号码已更换。"))
    return HttpResponseRedirect(reverse("portal:profile") + "#phone")


@require_POST
@candidate_required
def profile_request(request: HttpRequest) -> HttpResponse:
    candidate = request.candidate  # type: ignore[attr-defined]
    form = forms.ProfileRequestForm(request.POST)
    outcome = _submit(
        form,
        lambda data: candidate_services.profile_change_request_create(
            actor=Actor.candidate(candidate, ip=client_ip(request)),
            candidate=candidate,
            field=data["field"],
            new_value=data["new_value"],
            reason=data["reason"],
        ),
    )
    if not outcome.ok:
        return _profile_refused(request, outcome, request_form=form)
    messages.success(request, _("更正申请已提交，请等待考办审核。"))
    return HttpResponseRedirect(reverse("portal:profile") + "#requests")
