"""The one gate in front of every office page: signed in, second factor verified, permission held.

Scope (which candidates and offices) is checked by the services and selectors the view calls,
through `zikao.accounts.permissions`; a denial from there arrives here as a `DomainError` and is
rendered as a 403 or a not-found page that looks the same as a missing record.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from zikao.accounts.permissions import PermissionDenied, has_perm, perms_of
from zikao.core.audit import Actor
from zikao.core.errors import NotFound


def is_office_user(user) -> bool:
    """An active staff user of an office who has passed the second factor in this session."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and getattr(user, "office_id", None) is not None
        and user.is_verified()
    )


def staff_actor(request: HttpRequest) -> Actor:
    """The audit actor for the signed-in staff user, with the client address."""
    return Actor.staff(request.user, ip=request.META.get("REMOTE_ADDR") or None)


def denied(request: HttpRequest, perm: str = "") -> HttpResponse:
    return render(request, "office/denied.html", {"permission": perm}, status=403)


def not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "office/not_found.html", status=404)


def office_view(perm: str | None = None) -> Callable:
    """Decorate an office view: anonymous or unverified → sign-in page; lacking `perm` → 403.

    Sets `request.office_perms` (for menus and buttons) before calling the view, and turns a
    `PermissionDenied` or `NotFound` raised by the domain into the 403 / 404 page.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not is_office_user(request.user):
                return redirect_to_login(request.get_full_path(), reverse("office:login"))
            if perm is not None and not has_perm(request.user, perm):
                return denied(request, perm)
            request.office_perms = perms_of(request.user)  # type: ignore[attr-defined]
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied as exc:
                return denied(request, str(exc.fields.get("permission", "")))
            except NotFound:
                return not_found(request)

        return wrapped

    return decorate
