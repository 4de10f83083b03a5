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

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja.security import HttpBearer

from zikao.accounts.errors import PasswordChangeRequired, TokenInvalid
from zikao.accounts.selectors import account_of
from zikao.accounts.session_cache import token_lookup
from zikao.candidates.models import Candidate


class CandidateTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>` → the Candidate (`request.auth`); the token is `request.api_token`."""

    def __init__(self, *, allow_password_change: bool = False) -> None:
        super().__init__()
        self.allow_password_change = allow_password_change

    def authenticate(self, request: HttpRequest, token: str) -> Candidate:
        found = token_lookup(token.strip())
        if found is None:
            raise TokenInvalid("TOKEN_INVALID", _("登录已失效，请重新登录。"))
        candidate = found.candidate
        account = account_of(candidate)
        if not self.allow_password_change and (account is None or account.must_change_password):
            raise PasswordChangeRequired(
                "PASSWORD_CHANGE_REQUIRED", _("首次登录须先修改初始密码。"), {"endpoint": "/api/me/password"}
            )
        request.api_token = found  # type: ignore[attr-defined]
        return candidate


candidate_auth = CandidateTokenAuth()
