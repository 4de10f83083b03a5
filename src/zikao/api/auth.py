"""Bearer-token authentication of the mobile API.

    @router.get("/scores", auth=CandidateTokenAuth())
    def scores(request):            # request.auth is the signed-in Candidate
        ...

Tokens come from `POST /api/auth/login`, expire after ZIKAO_API_TOKEN_HOURS, and are stored as
SHA-256 digests. A revoked or expired token, or one issued before a password change or lock,
answers TOKEN_INVALID (401). A candidate who must still change the first password gets
PASSWORD_CHANGE_REQUIRED (403) everywhere except `POST /api/me/password`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _
from ninja.security import HttpBearer

from zikao.accounts.errors import PasswordChangeRequired, TokenInvalid
from zikao.accounts.session_cache import Prefetch, token_check
from zikao.candidates.models import Candidate


class CandidateTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>` → the Candidate (`request.auth`); the token is `request.api_token`.

    `prefetch(request)` names cache keys the endpoint reads (its cached JSON): they are read
    with the token check, in one round trip, into `request.zikao_prefetched`."""

    def __init__(
        self,
        *,
        allow_password_change: bool = False,
        prefetch: Callable[[HttpRequest], Prefetch] | None = None,
    ) -> None:
        super().__init__()
        self.allow_password_change = allow_password_change
        self.prefetch = prefetch

    def authenticate(self, request: HttpRequest, token: str) -> Candidate:
        spec = self.prefetch(request) if self.prefetch is not None else None
        checked = token_check(token.strip(), spec)
        request.zikao_prefetched = checked.prefetched if checked else None  # type: ignore[attr-defined]
        request.zikao_session_state = checked.state if checked else None  # type: ignore[attr-defined]
        if checked is None:
            raise TokenInvalid("TOKEN_INVALID", _("登录已失效，请重新登录。"))
        if not self.allow_password_change and checked.state.must_change_password:
            raise PasswordChangeRequired(
                "PASSWORD_CHANGE_REQUIRED", _("首次登录须先修改初始密码。"), {"endpoint": "/api/me/password"}
            )
        if spec is not None:
            # An endpoint served whole from the cache may never need the model instances.
            found = SimpleLazyObject(checked.token)
            request.api_token = found  # type: ignore[attr-defined]
            return checked.state.lazy_candidate()
        found = checked.token()
        request.api_token = found  # type: ignore[attr-defined]
        return found.candidate


candidate_auth = CandidateTokenAuth()
