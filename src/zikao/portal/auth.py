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

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, overload
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from zikao.accounts.selectors import account_of
from zikao.accounts.session_cache import SESSION_KEY, Prefetch, portal_session
from zikao.candidates.models import Candidate

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
    request.zikao_session_state = None  # type: ignore[attr-defined]


def logout_session(request: HttpRequest) -> None:
    """End the portal session: all session data is dropped and the key is rotated."""
    request.session.flush()
    if hasattr(request, "candidate"):
        del request.candidate
    request._zikao_session_candidate = None  # type: ignore[attr-defined]
    request.zikao_session_state = None  # type: ignore[attr-defined]


def session_candidate(request: HttpRequest, prefetch: Prefetch | None = None) -> Candidate | None:
    """The signed-in candidate of this request if the session is still valid, else None.

    Cached on the request. A session that no longer matches (password changed elsewhere, account
    locked, record merged) is flushed. No query on a hit: the check's fields come from the
    versioned cache (`accounts.session_cache`), read in the same round trip as the session and
    `prefetch`'s keys, whose values are left in `request.zikao_prefetched` (None if not read).
    """
    if hasattr(request, "_zikao_session_candidate"):
        cached: Candidate | None = request._zikao_session_candidate
        return cached
    state, prefetched = portal_session(request.session, prefetch)
    candidate = None
    if state is None:
        if isinstance(request.session.get(SESSION_KEY), dict):
            request.session.flush()
    else:
        # A view that asked for a prefetch (a page served whole from the cache) may never need
        # the model instance: it is built on first use.
        candidate = state.lazy_candidate() if prefetch is not None else state.candidate()
    request._zikao_session_candidate = candidate  # type: ignore[attr-defined]
    request.zikao_session_state = state  # type: ignore[attr-defined]
    request.zikao_prefetched = prefetched  # type: ignore[attr-defined]
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
def candidate_required(
    *, allow_password_change: bool = False, prefetch: Callable[[HttpRequest], Prefetch] | None = None
) -> Callable[[View], View]: ...


def candidate_required(
    view: View | None = None,
    *,
    allow_password_change: bool = False,
    prefetch: Callable[[HttpRequest], Prefetch] | None = None,
) -> Any:
    """Only for a signed-in candidate with a valid session; sets `request.candidate`.

    Anonymous (or an ended session) → redirect to the login page with `?next=`. A candidate who
    must still change the first password → redirect to the password-change page, except for
    views declared with `allow_password_change=True` (that page itself). `prefetch(request)`
    names cache keys the view reads (its cached page): they are read with the sign-in check,
    in one round trip, into `request.zikao_prefetched`.
    """

    def decorate(func: View) -> View:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            candidate = session_candidate(request, prefetch(request) if prefetch is not None else None)
            if candidate is None:
                return _redirect_to_login(request)
            state = getattr(request, "zikao_session_state", None)
            must_change = state.must_change_password if state is not None else must_change_password(candidate)
            if not allow_password_change and must_change:
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


_CSRF_INDEX = {char: i for i, char in enumerate(CSRF_ALLOWED_CHARS)}
_CSRF_BASE = len(CSRF_ALLOWED_CHARS)
_CSRF_LIMIT = 256 - 256 % _CSRF_BASE  # bytes below it map uniformly onto the alphabet


def masked_csrf_token(request: HttpRequest) -> str:
    """A CSRF token for this response, exactly of the kind `django.middleware.csrf.get_token`
    gives: the request's CSRF secret masked with a fresh uniformly random mask (BREACH), which
    `CsrfViewMiddleware` unmasks and checks on the POST.

    For pages served from the cache on every request (the dashboard): the mask comes from one
    `secrets.token_bytes` call instead of 32 `secrets.choice` calls (a fifth of a trivial
    request's cost here), and the CSRF cookie the browser already holds is not sent again.
    Without a valid CSRF cookie yet, Django's `get_token` makes the secret and sets the cookie.
    """
    secret = request.META.get("CSRF_COOKIE")
    if (
        not isinstance(secret, str)
        or len(secret) != CSRF_SECRET_LENGTH
        or not set(secret) <= _CSRF_INDEX.keys()
    ):
        return get_token(request)
    mask: list[int] = []
    while len(mask) < CSRF_SECRET_LENGTH:
        mask += [b % _CSRF_BASE for b in secrets.token_bytes(48) if b < _CSRF_LIMIT]
    mask = mask[:CSRF_SECRET_LENGTH]
    chars = CSRF_ALLOWED_CHARS
    cipher = "".join([chars[(_CSRF_INDEX[c] + m) % _CSRF_BASE] for c, m in zip(secret, mask, strict=True)])
    return "".join([chars[m] for m in mask]) + cipher


def client_ip(request: HttpRequest) -> str | None:
    """The client address for audit and rate limits (REMOTE_ADDR; a proxy in front must set it)."""
    return request.META.get("REMOTE_ADDR") or None
