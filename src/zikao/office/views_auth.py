"""Staff sign-in (password, then a TOTP code; enrolment of the authenticator on first sign-in),
sign-out, and the staff administration pages (/office/staff/).

Sign-in keeps a half-finished state in the session (`PENDING_KEY`: user id, time, the password
hash's session hash, where to go next, the enrolment device). The user is signed in with
django.contrib.auth and django_otp only when the second factor passes, so no page ever sees an
authenticated user who has only given a password. The services in `accounts.services_staff`
decide; these views only parse the forms, keep the session state and render.
"""

from __future__ import annotations

import time
from base64 import b32encode
from typing import Any, cast

import segno
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from zikao.accounts import services_staff as services
from zikao.accounts.models import User
from zikao.accounts.permissions import ROLE_LABELS, Perm, PermissionDenied
from zikao.accounts.selectors_staff import (
    confirmed_totp_device,
    offices_for_staff,
    staff_get,
    staff_list,
    staff_recent_events,
    staff_state,
    unconfirmed_totp_device,
)
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, NotFound
from zikao.office import forms_auth as forms
from zikao.office.access import is_office_user, office_view

PENDING_KEY = "zikao_office_pending"
# A password accepted this long ago still lets the person give the TOTP code (or enrol).
PENDING_SECONDS = 10 * 60
BACKEND = "django.contrib.auth.backends.ModelBackend"
# Refusals of the second step after which the password has to be given again.
RESTART_CODES = {"STAFF_LOCKED", "STAFF_ACCOUNT_DISABLED", "STAFF_LOGIN_EXPIRED"}
PAGE_SIZE = 50


def _ip(request: HttpRequest) -> str | None:
    return getattr(request, "client_ip", None) or request.META.get("REMOTE_ADDR") or None


def _me(request: HttpRequest) -> User:
    """The signed-in staff user (office_view has let only such a user in)."""
    return cast(User, request.user)


def _actor(request: HttpRequest) -> Actor:
    return Actor.staff(request.user, ip=_ip(request))


def _safe_next(request: HttpRequest, target: str | None) -> str | None:
    """`target` if it is a URL of this site (no open redirects), else None."""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, f"office/auth/{template}", context, status=status)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- sign-in ------------------------------------------------------------------------------------------


def _pending(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    """The user who passed the password step in this session, if that is recent and still valid
    (same password; a change meanwhile ends it). Drops a stale state."""
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("user"), int):
        return None
    age = time.time() - float(data.get("at", 0))
    user = User.objects.select_related("office").filter(pk=data["user"]).first()
    if (
        user is None
        or not 0 <= age <= PENDING_SECONDS
        or not constant_time_compare(str(data.get("hash", "")), user.get_session_auth_hash())
    ):
        request.session.pop(PENDING_KEY, None)
        return None
    return user, data


def _login_page(
    request: HttpRequest,
    form: forms.StaffLoginForm,
    next_url: str | None,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    return _render(request, "login.html", {"form": form, "next": next_url or "", "error": error}, status)


def _restart(request: HttpRequest, exc: DomainError, next_url: str | None) -> HttpResponse:
    """Back to the password step with the refusal shown (lock, disabled account, timeout)."""
    request.session.pop(PENDING_KEY, None)
    return _login_page(request, forms.StaffLoginForm(), next_url, exc.status, str(exc.message))


def _expired(request: HttpRequest, had_pending: bool) -> HttpResponse:
    if had_pending:
        messages.error(request, _("登录已超时，请重新输入用户名和密码。"))
    return HttpResponseRedirect(reverse("office:login"))


def _signed_in(request: HttpRequest, user: User, device: TOTPDevice, next_url: str | None) -> HttpResponse:
    """Both factors passed: a new session key, the user signed in, the device marked verified."""
    request.session.pop(PENDING_KEY, None)
    auth_login(request, user, backend=BACKEND)
    otp_login(request, device)
    return HttpResponseRedirect(_safe_next(request, next_url) or reverse("office:home"))


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Step 1: username and password. Then the TOTP step, or enrolment without a device."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if is_office_user(request.user):
        return HttpResponseRedirect(next_url or reverse("office:home"))
    form = forms.StaffLoginForm(request.POST or None)
    if request.method == "GET":
        request.session.pop(PENDING_KEY, None)  # a fresh start
        return _login_page(request, form, next_url)
    if not form.is_valid():
        return _login_page(request, form, next_url, 400)
    try:
        user = services.staff_login_password(
            actor=Actor.public(ip=_ip(request)),
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
    except DomainError as exc:
        form.add_error(None, str(exc.message))
        return _login_page(request, form, next_url, exc.status)
    if request.user.is_authenticated:
        auth_logout(request)  # whoever this browser was signed in as before
    request.session.cycle_key()  # no session fixation between the two steps
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "at": time.time(),
        "hash": user.get_session_auth_hash(),
        "next": next_url or "",
        "device": None,
    }
    if confirmed_totp_device(user) is None:
        return HttpResponseRedirect(reverse("office:auth_enrol"))
    return HttpResponseRedirect(reverse("office:auth_totp"))


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def totp(request: HttpRequest) -> HttpResponse:
    """Step 2: the 6-digit code of the user's authenticator app."""
    had_pending = PENDING_KEY in request.session
    pending = _pending(request)
    if pending is None:
        return _expired(request, had_pending)
    user, data = pending
    if confirmed_totp_device(user) is None:
        return HttpResponseRedirect(reverse("office:auth_enrol"))
    form = forms.TotpForm(request.POST or None)
    context = {"form": form, "username": user.get_username()}
    if request.method == "GET":
        return _render(request, "totp.html", context)
    if not form.is_valid():
        return _render(request, "totp.html", context, 400)
    try:
        user, device = services.staff_login_totp(
            actor=Actor.public(ip=_ip(request)), user_id=user.pk, token=form.cleaned_data["token"]
        )
    except DomainError as exc:
        if exc.code in RESTART_CODES:
            return _restart(request, exc, data.get("next"))
        if exc.code == "STAFF_TOTP_NOT_ENROLLED":
            return HttpResponseRedirect(reverse("office:auth_enrol"))
        form.add_error("token", str(exc.message))
        return _render(request, "totp.html", context, exc.status)
    return _signed_in(request, user, device, data.get("next"))


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in (or after a reset): scan the QR code, confirm with the first code."""
    had_pending = PENDING_KEY in request.session
    pending = _pending(request)
    if pending is None:
        return _expired(request, had_pending)
    user, data = pending
    if confirmed_totp_device(user) is not None:
        return HttpResponseRedirect(reverse("office:auth_totp"))
    form = forms.TotpForm(request.POST or None)
    device = unconfirmed_totp_device(user, data.get("device"))
    error = ""
    if device is None:
        try:
            device = services.staff_totp_enrol_begin(user=user)
        except DomainError as exc:
            return _restart(request, exc, data.get("next"))
        data["device"] = device.pk
        request.session[PENDING_KEY] = data
        if request.method == "POST":  # the code was for a key that no longer exists
            form = forms.TotpForm()
            error = _("绑定已超时，请用身份验证器重新扫描下方二维码。")
    uri = device.config_url
    secret = b32encode(device.bin_key).decode("ascii")
    context = {
        "form": form,
        "username": user.get_username(),
        "qr": segno.make(uri, error="m").svg_data_uri(scale=5, border=2),
        "secret": _grouped(secret),
        "uri": uri,
        "error": error,
    }
    if request.method == "GET" or error:
        return _render(request, "enrol.html", context, 400 if error else 200)
    if not form.is_valid():
        return _render(request, "enrol.html", context, 400)
    try:
        user, device = services.staff_totp_enrol_confirm(
            actor=Actor.public(ip=_ip(request)),
            user_id=user.pk,
            device_id=device.pk,
            token=form.cleaned_data["token"],
        )
    except DomainError as exc:
        if exc.code in RESTART_CODES:
            return _restart(request, exc, data.get("next"))
        if exc.code == "STAFF_TOTP_ALREADY_ENROLLED":
            return HttpResponseRedirect(reverse("office:auth_totp"))
        form.add_error("token", str(exc.message))
        return _render(request, "enrol.html", context, exc.status)
    messages.success(request, _("动态口令已绑定。以后登录时请输入身份验证器中的6位动态验证码。"))
    return _signed_in(request, user, device, data.get("next"))


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out (POST only): the session ends entirely."""
    if request.user.is_authenticated:
        services.staff_logout(actor=_actor(request), user=request.user)
    auth_logout(request)
    messages.info(request, _("您已安全退出。"))
    return HttpResponseRedirect(reverse("office:login"))


# --- staff administration -----------------------------------------------------------------------------

# Which form field a refusal of staff_create belongs to (others go to the top of the form).
CREATE_ERROR_FIELDS = {
    "STAFF_USERNAME_INVALID": "username",
    "STAFF_USERNAME_TAKEN": "username",
    "STAFF_NAME_REQUIRED": "name",
    "STAFF_OFFICE_OUT_OF_SCOPE": "office",
    "STAFF_ROLE_UNKNOWN": "roles",
}


def _add_error(form, exc: DomainError, fields: dict[str, str]) -> None:
    if exc.code == "STAFF_PASSWORD_WEAK":
        for message in exc.fields.get("password", [exc.message]):
            form.add_error("password1", str(message))
        return
    form.add_error(fields.get(exc.code), str(exc.message))


@office_view(Perm.STAFF_MANAGE)
@require_http_methods(["GET"])
def staff_list_view(request: HttpRequest) -> HttpResponse:
    offices = list(offices_for_staff(_me(request)))
    filters = forms.StaffFilterForm(request.GET or None, offices=offices)
    criteria: dict[str, Any] = {}
    if filters.is_bound and filters.is_valid():
        criteria = {
            "query": filters.cleaned_data["q"],
            "office_id": filters.cleaned_data["office"],
            "status": filters.cleaned_data["status"],
        }
    page = Paginator(staff_list(_me(request), **criteria), PAGE_SIZE).get_page(request.GET.get("page"))
    now = clock.now()
    for row in page.object_list:
        row.role_names = [ROLE_LABELS.get(r.role, r.role) for r in row.staff_roles.all()]
        row.is_locked_now = row.locked_until is not None and row.locked_until > now
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "staff_list.html",
        {"filters": filters, "page": page, "query": query.urlencode()},
    )


@office_view(Perm.STAFF_MANAGE)
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def staff_create_view(request: HttpRequest) -> HttpResponse:
    offices = list(offices_for_staff(_me(request)))
    form = forms.StaffCreateForm(request.POST or None, offices=offices)
    if request.method == "GET":
        return _render(request, "staff_create.html", {"form": form})
    if not form.is_valid():
        return _render(request, "staff_create.html", {"form": form}, 400)
    data = form.cleaned_data
    try:
        user = services.staff_create(
            actor=_actor(request),
            username=data["username"],
            name=data["name"],
            email=data["email"],
            office_id=data["office"],
            password=data["password1"],
            roles=data["roles"],
        )
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        _add_error(form, exc, CREATE_ERROR_FIELDS)
        return _render(request, "staff_create.html", {"form": form}, exc.status)
    messages.success(
        request,
        _("已创建用户 %(username)s。请将初始密码当面交给本人；首次登录时须绑定动态口令。")
        % {"username": user.get_username()},
    )
    return HttpResponseRedirect(reverse("office:auth_staff_detail", args=[user.pk]))


EVENT_LABELS = {
    "staff.login": _lazy("登录"),
    "staff.login_failed": _lazy("登录失败"),
    "staff.locked": _lazy("登录锁定"),
    "staff.logout": _lazy("退出登录"),
    "staff.totp_enrolled": _lazy("绑定动态口令"),
    "staff.created": _lazy("创建账户"),
    "staff.roles_changed": _lazy("修改角色"),
    "staff.unlocked": _lazy("解除锁定"),
    "staff.totp_reset": _lazy("重置动态口令"),
    "staff.deactivated": _lazy("停用账户"),
    "staff.reactivated": _lazy("重新启用"),
    "staff.password_reset": _lazy("重置密码"),
    "staff.admin_changed": _lazy("系统管理后台修改"),
}


def _detail(
    request: HttpRequest,
    pk: int,
    *,
    roles_form: forms.StaffRolesForm | None = None,
    password_form: forms.StaffPasswordForm | None = None,
    error: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    target = staff_get(_me(request), pk)
    state = staff_state(target)
    editable = target.pk != request.user.pk and not target.is_superuser
    events = staff_recent_events(target)
    for event in events:
        event.label = EVENT_LABELS.get(event.event_type, event.event_type)
    return _render(
        request,
        "staff_detail.html",
        {
            "target": target,
            "state": state,
            "role_names": [ROLE_LABELS.get(r, r) for r in state.roles],
            "roles_form": roles_form or forms.StaffRolesForm(initial={"roles": state.roles}),
            "password_form": password_form or forms.StaffPasswordForm(),
            "editable": editable,
            "is_self": target.pk == request.user.pk,
            "events": events,
            "error": error,
        },
        status,
    )


@office_view(Perm.STAFF_MANAGE)
@require_http_methods(["GET"])
def staff_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk)


def _run(request: HttpRequest, pk: int, call, done: str) -> HttpResponse:
    """Run one administration service; a refusal is shown on the page with its own status."""
    try:
        call()
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        return _detail(request, pk, error=exc, status=exc.status)
    messages.success(request, done)
    return HttpResponseRedirect(reverse("office:auth_staff_detail", args=[pk]))


@office_view(Perm.STAFF_MANAGE)
@require_POST
def staff_roles_view(request: HttpRequest, pk: int) -> HttpResponse:
    form = forms.StaffRolesForm(request.POST)
    if not form.is_valid():
        staff_get(_me(request), pk)  # out of scope: the same not-found as a missing user
        return _detail(request, pk, roles_form=form, status=400)
    return _run(
        request,
        pk,
        lambda: services.staff_roles_set(actor=_actor(request), user_id=pk, roles=form.cleaned_data["roles"]),
        _("角色已更新。"),
    )


@office_view(Perm.STAFF_MANAGE)
@require_POST
def staff_unlock_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _run(request, pk, lambda: services.staff_unlock(actor=_actor(request), user_id=pk), _("已解锁。"))


@office_view(Perm.STAFF_MANAGE)
@require_POST
def staff_totp_reset_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _run(
        request,
        pk,
        lambda: services.staff_totp_reset(actor=_actor(request), user_id=pk),
        _("动态口令已重置，该用户下次登录时须重新绑定。"),
    )


@office_view(Perm.STAFF_MANAGE)
@require_POST
def staff_deactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _run(
        request, pk, lambda: services.staff_deactivate(actor=_actor(request), user_id=pk), _("账户已停用。")
    )


@office_view(Perm.STAFF_MANAGE)
@require_POST
def staff_reactivate_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _run(
        request, pk, lambda: services.staff_reactivate(actor=_actor(request), user_id=pk), _("账户已启用。")
    )


@office_view(Perm.STAFF_MANAGE)
@sensitive_post_parameters("password1", "password2")
@require_POST
def staff_password_view(request: HttpRequest, pk: int) -> HttpResponse:
    form = forms.StaffPasswordForm(request.POST)
    if not form.is_valid():
        staff_get(_me(request), pk)
        return _detail(request, pk, password_form=form, status=400)
    try:
        services.staff_password_set(
            actor=_actor(request), user_id=pk, password=form.cleaned_data["password1"]
        )
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        if exc.code == "STAFF_PASSWORD_WEAK":
            _add_error(form, exc, {})
            return _detail(request, pk, password_form=form, status=exc.status)
        return _detail(request, pk, error=exc, status=exc.status)
    messages.success(request, _("密码已重置。请将新密码当面交给本人。"))
    return HttpResponseRedirect(reverse("office:auth_staff_detail", args=[pk]))
