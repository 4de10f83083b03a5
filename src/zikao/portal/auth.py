"""Candidate sessions of the portal (个人空间).

A portal session holds the candidate's id and the account's session epoch. The epoch moves on
when the password changes or the account locks, which ends every other session at its next
request. Candidates are not Django users: staff sign-in (django.contrib.auth) is separate.

    @candidate_required
    def scores(request):            # request.candidate is the signed-in Candidate
        ...

    @candidate_required(allow_password_change=True)   # only the forced-change page itself
    def password_change(request): ...
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, overload
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from zikao.accounts.selectors import account_of
from zikao.accounts.session_cache import session_candidate_for
from zikao.candidates.models import Candidate

SESSION_KEY = "zikao_candidate"

View = Callable[..., HttpResponse]


def login_session(request: HttpRequest, candidate: Candidate) -> None:
    """Start a portal session for `candidate` (after `accounts.services.candidate_login`).

    Rotates the session key (no fixation) and stores the candidate id with the account's
    current session epoch. Call it again after a password change to keep this browser signed in.
    """
    account = account_of(candidate)
    if account is None:
        raise ValueError("candidate has no account row: sign in through accounts.services.candidate_login")
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"id": candidate.pk, "epoch": account.session_epoch}
    request.candidate = candidate  # type: ignore[attr-defined]
    request._zikao_session_candidate = candidate  # type: ignore[attr-defined]


def logout_session(request: HttpRequest) -> None:
    """End the portal session: all session data is dropped and the key is rotated."""
    request.session.flush()
    if hasattr(request, "candidate"):
        del request.candidate
    request._zikao_session_candidate = None  # type: ignore[attr-defined]


def session_candidate(request: HttpRequest) -> Candidate | None:
    """The signed-in candidate of this request if the session is still valid, else None.

    Cached on the request. A session that no longer matches (password changed elsewhere, account
    locked, record merged) is flushed.
    """
    if hasattr(request, "_zikao_session_candidate"):
        cached: Candidate | None = request._zikao_session_candidate
        return cached
    data = request.session.get(SESSION_KEY)
    candidate = None
    if isinstance(data, dict):
        # No query on a hit: the check's fields come from the versioned cache (session_cache).
        candidate = session_candidate_for(data.get("id"), data.get("epoch"))
        if candidate is None:
            request.session.flush()
    request._zikao_session_candidate = candidate  # type: ignore[attr-defined]
    return candidate


def must_change_password(candidate: Candidate) -> bool:
    account = account_of(candidate)
    return account is None or account.must_change_password


def safe_next(request: HttpRequest, target: str | None) -> str | None:
    """`target` if it is a local path of this site, else None (no open redirects)."""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _redirect_to_login(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(f"{reverse('portal:login')}?{urlencode({'next': request.get_full_path()})}")


@overload
def candidate_required(view: View) -> View: ...
@overload
def candidate_required(*, allow_password_change: bool = False) -> Callable[[View], View]: ...


def candidate_required(view: View | None = None, *, allow_password_change: bool = False) -> Any:
    """Only for a signed-in candidate with a valid session; sets `request.candidate`.

    Anonymous (or an ended session) → redirect to the login page with `?next=`. A candidate who
    must still change the first password → redirect to the password-change page, except for
    views declared with `allow_password_change=True` (that page itself).
    """

    def decorate(func: View) -> View:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            candidate = session_candidate(request)
            if candidate is None:
                return _redirect_to_login(request)
            if not allow_password_change and must_change_password(candidate):
                return HttpResponseRedirect(reverse("portal:password_change"))
            request.candidate = candidate  # type: ignore[attr-defined]
            response = func(request, *args, **kwargs)
            # Personal pages are never stored by shared caches or the browser's back button.
            response.headers.setdefault("Cache-Control", "private, no-store")
            return response

        return wrapper

    if view is not None:
        return decorate(view)
    return decorate


def client_ip(request: HttpRequest) -> str | None:
    """The client address for audit and rate limits (REMOTE_ADDR; a proxy in front must set it)."""
    return request.META.get("REMOTE_ADDR") or None
