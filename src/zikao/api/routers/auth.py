"""/api/auth/… (captcha, number lookup, login, logout, forgotten password) and /api/me/… (password,
profile, phone, change requests) for the mobile app.

Same services and error codes as the portal pages. Captcha: `GET /api/auth/captcha` gives a key
and a PNG data URL; the app sends `captcha_key` + `captcha_value` with lookup, login and reset.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Annotated, Literal

from captcha.models import CaptchaStore
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Router, Schema
from ninja.responses import Status
from pydantic import AfterValidator

from zikao.accounts import services as account_services
from zikao.accounts.models import ApiToken
from zikao.api.auth import CandidateTokenAuth
from zikao.candidates import services as candidate_services
from zikao.candidates.models import Candidate, ProfileChangeRequest
from zikao.core.audit import Actor
from zikao.core.errors import DomainError
from zikao.core.masking import mask_id_number, mask_phone
from zikao.core.ratelimit import Limit, hit
from zikao.portal.auth import client_ip

CAPTCHA_PER_IP = Limit("captcha-ip", 60, 60)
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it at the door (422), never 500


def _encodable(value: str) -> str:
    """Refuse lone surrogates (valid in a JSON string, not in UTF-8 or PostgreSQL): 422, never 500."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("invalid characters") from exc
    return value


CaptchaKey = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL), AfterValidator(_encodable)]
CaptchaAnswer = Annotated[str, Field(min_length=1, max_length=16, pattern=NO_NUL), AfterValidator(_encodable)]
DocumentNumber = Annotated[
    str, Field(min_length=1, max_length=32, pattern=NO_NUL), AfterValidator(_encodable)
]
Line50 = Annotated[str, Field(min_length=1, max_length=50, pattern=NO_NUL), AfterValidator(_encodable)]
Password = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL), AfterValidator(_encodable)]
Short20 = Annotated[str, Field(min_length=1, max_length=20, pattern=NO_NUL), AfterValidator(_encodable)]
Challenge = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL), AfterValidator(_encodable)]
SmsCode = Annotated[str, Field(min_length=6, max_length=6, pattern=r"^\d{6}$"), AfterValidator(_encodable)]
Optional200 = Annotated[str, Field(min_length=0, max_length=200, pattern=NO_NUL), AfterValidator(_encodable)]
Optional100 = Annotated[str, Field(min_length=0, max_length=100, pattern=NO_NUL), AfterValidator(_encodable)]
Reason = Annotated[str, Field(min_length=1, max_length=500, pattern=NO_NUL), AfterValidator(_encodable)]


router = Router(tags=["auth (登录与账户)"])
me_router = Router(auth=CandidateTokenAuth(), tags=["account (个人信息)"])


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict


ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ErrorOut,
    423: ErrorOut,
    429: ErrorOut,
}


def _actor(request: HttpRequest) -> Actor:
    return Actor.public(ip=client_ip(request))


def _me(request: HttpRequest) -> Candidate:
    """The signed-in candidate (set by CandidateTokenAuth)."""
    candidate = getattr(request, "auth", None)
    assert isinstance(candidate, Candidate)
    return candidate


def _candidate_actor(request: HttpRequest) -> Actor:
    return Actor.candidate(_me(request), ip=client_ip(request))


def check_captcha(key: str, value: str) -> None:
    """django-simple-captcha's check for the API: one attempt per captcha, expired ones refused.

    Refuses CAPTCHA_INVALID (400). Honours CAPTCHA_TEST_MODE exactly like the form field.
    """
    from captcha.conf import settings as captcha_settings

    answer = (value or "").strip().lower()
    if captcha_settings.CAPTCHA_TEST_MODE and answer == "passed":
        CaptchaStore.objects.filter(hashkey=key).delete()
        return
    # One statement on the usual path: the right answer to a live captcha deletes it.
    live = CaptchaStore.objects.filter(hashkey=key, expiration__gt=timezone.now(), response=answer)
    solved = live.delete()[0]
    if not solved:
        CaptchaStore.objects.filter(hashkey=key).delete()  # a wrong answer uses it up too
        raise DomainError(
            "CAPTCHA_INVALID", _("验证码不正确或已过期，请重新获取。"), {"captcha_value": ["CAPTCHA_INVALID"]}
        )


# --- captcha -------------------------------------------------------------------------------------


class CaptchaOut(Schema):
    key: str
    image: str = Field(description="PNG as a data URL (data:image/png;base64,…)")
    expires_at: datetime


@router.get("/captcha", response={200: CaptchaOut, 429: ErrorOut}, summary="New captcha")
def captcha_new(request: HttpRequest, response: HttpResponse):
    from captcha.views import _captcha_image

    hit(CAPTCHA_PER_IP, client_ip(request) or "-")
    key = CaptchaStore.generate_key()
    store = CaptchaStore.objects.get(hashkey=key)
    png = _captcha_image(store, 1).content
    response.headers["Cache-Control"] = "no-store"
    return Status(
        200,
        {
            "key": key,
            "image": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            "expires_at": store.expiration,
        },
    )


# --- lookup ----------------------------------------------------------------------------------------


class CaptchaIn(Schema):
    captcha_key: CaptchaKey
    captcha_value: CaptchaAnswer


class LookupIn(CaptchaIn):
    id_number: DocumentNumber
    name: Line50
    pre_registration: bool = Field(
        False, description="查询报名号: the 报名号 instead of the candidate number"
    )


class LookupOut(Schema):
    kind: Literal["candidate_no", "pre_registration_no"]
    number: str


@router.post("/lookup", response={200: LookupOut, **ERRORS}, summary="Find my candidate number (考籍号查询)")
def lookup(request: HttpRequest, payload: LookupIn):
    check_captcha(payload.captcha_key, payload.captcha_value)
    result = account_services.candidate_number_lookup(
        actor=_actor(request),
        id_number=payload.id_number,
        name=payload.name,
        pre_registration=payload.pre_registration,
    )
    return Status(200, {"kind": result.kind, "number": result.number})


# --- login / logout --------------------------------------------------------------------------------


class LoginIn(CaptchaIn):
    identifier: DocumentNumber = Field(description="准考证号 (12 digits) or ID document number")
    password: Password


class TokenOut(Schema):
    token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_at: datetime
    must_change_password: bool


@router.post("/login", response={200: TokenOut, **ERRORS}, summary="Log in (bearer token)")
def login(request: HttpRequest, payload: LoginIn):
    check_captcha(payload.captcha_key, payload.captcha_value)
    result = account_services.candidate_login(
        actor=_actor(request), identifier=payload.identifier, password=payload.password, channel="api"
    )
    return Status(
        200,
        {
            "token": result.token,
            "token_type": "Bearer",
            "expires_at": result.token_expires_at,
            "must_change_password": result.must_change_password,
        },
    )


@router.post(
    "/logout",
    auth=CandidateTokenAuth(allow_password_change=True),
    response={204: None, 401: ErrorOut},
    summary="Log out (revoke this token)",
)
def logout(request: HttpRequest):
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    account_services.candidate_logout(actor=_candidate_actor(request), candidate=_me(request), token=token)
    return Status(204, None)


# --- forgotten password ------------------------------------------------------------------------------


class ResetStartIn(CaptchaIn):
    candidate_no: Short20
    id_number: DocumentNumber
    name: Line50


class ChallengeOut(Schema):
    challenge: str = Field(description="send back with the code; valid until expires_at")
    phone_masked: str
    expires_at: datetime


class CodeIn(Schema):
    challenge: Challenge
    code: SmsCode


class ResetCompleteIn(Schema):
    challenge: Challenge
    new_password: Password


def _challenge_out(challenge: account_services.CodeChallenge) -> dict:
    return {
        "challenge": challenge.challenge,
        "phone_masked": challenge.phone_masked,
        "expires_at": challenge.expires_at,
    }


@router.post(
    "/password-reset", response={200: ChallengeOut, **ERRORS}, summary="Forgot password: send a code"
)
def password_reset_start(request: HttpRequest, payload: ResetStartIn):
    check_captcha(payload.captcha_key, payload.captcha_value)
    challenge = account_services.password_reset_start(
        actor=_actor(request),
        candidate_no=payload.candidate_no,
        id_number=payload.id_number,
        name=payload.name,
    )
    return Status(200, _challenge_out(challenge))


@router.post(
    "/password-reset/verify", response={204: None, **ERRORS}, summary="Forgot password: check the code"
)
def password_reset_verify(request: HttpRequest, payload: CodeIn):
    account_services.password_reset_verify(
        actor=_actor(request), challenge=payload.challenge, code=payload.code
    )
    return Status(204, None)


@router.post(
    "/password-reset/complete",
    response={204: None, **ERRORS},
    summary="Forgot password: set the new password",
)
def password_reset_complete(request: HttpRequest, payload: ResetCompleteIn):
    account_services.password_reset_complete(
        actor=_actor(request), challenge=payload.challenge, new_password=payload.new_password
    )
    return Status(204, None)


# --- /me: password, profile, phone, change requests ----------------------------------------------------


class PasswordChangeIn(Schema):
    current_password: Password
    new_password: Password


class PasswordChangedOut(Schema):
    must_change_password: bool


@me_router.post(
    "/password",
    auth=CandidateTokenAuth(allow_password_change=True),
    response={200: PasswordChangedOut, **ERRORS},
    summary="Change password (also the forced first change)",
)
def password_change(request: HttpRequest, payload: PasswordChangeIn):
    account = account_services.candidate_password_change(
        actor=_candidate_actor(request),
        candidate=_me(request),
        current_password=payload.current_password,
        new_password=payload.new_password,
        keep_token=request.api_token,  # type: ignore[attr-defined]
    )
    return Status(200, {"must_change_password": account.must_change_password})


class ProfileOut(Schema):
    candidate_no: str
    name: str
    id_type: str
    id_number_masked: str
    birth_date: date
    phone_masked: str
    address: str
    work_unit: str


class ProfilePatchIn(Schema):
    address: Optional200 | None = None
    work_unit: Optional100 | None = None


def _profile(candidate: Candidate) -> dict:
    return {
        "candidate_no": candidate.candidate_no,
        "name": candidate.name,
        "id_type": candidate.id_type,
        "id_number_masked": mask_id_number(candidate.id_number),
        "birth_date": candidate.birth_date,
        "phone_masked": mask_phone(candidate.phone),
        "address": candidate.address,
        "work_unit": candidate.work_unit,
    }


@me_router.get("/profile", response={200: ProfileOut, 401: ErrorOut, 403: ErrorOut}, summary="My profile")
def profile_get(request: HttpRequest, response: HttpResponse):
    response.headers["Cache-Control"] = "private, no-store"
    return Status(200, _profile(_me(request)))


@me_router.patch("/profile", response={200: ProfileOut, **ERRORS}, summary="Edit contact details")
def profile_patch(request: HttpRequest, payload: ProfilePatchIn):
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    candidate = candidate_services.profile_update(
        actor=_candidate_actor(request), candidate=_me(request), changes=changes
    )
    return Status(200, _profile(candidate))


class PhoneIn(Schema):
    new_phone: Short20


@me_router.post(
    "/phone", response={200: ChallengeOut, **ERRORS}, summary="Change phone: code to the new phone"
)
def phone_change(request: HttpRequest, payload: PhoneIn):
    challenge = candidate_services.phone_change_start(
        actor=_candidate_actor(request), candidate=_me(request), new_phone=payload.new_phone
    )
    return Status(200, _challenge_out(challenge))


@me_router.post(
    "/phone/confirm", response={200: ProfileOut, **ERRORS}, summary="Change phone: confirm the code"
)
def phone_confirm(request: HttpRequest, payload: CodeIn):
    candidate = candidate_services.phone_change_confirm(
        actor=_candidate_actor(request),
        candidate=_me(request),
        challenge=payload.challenge,
        code=payload.code,
    )
    return Status(200, _profile(candidate))


class ProfileRequestIn(Schema):
    field: Literal["name", "id_number", "birth_date"]
    new_value: Line50
    reason: Reason


class ProfileRequestOut(Schema):
    id: int
    field: Literal["name", "id_number", "birth_date"]
    old_value: str
    new_value_masked: str
    reason: str
    status: Literal["requested", "approved", "rejected"]
    requested_at: datetime
    decided_at: datetime | None


def _request_out(r: ProfileChangeRequest) -> dict:
    return {
        "id": r.pk,
        "field": r.field,
        "old_value": r.old_value,
        "new_value_masked": r.new_value_masked,
        "reason": r.reason,
        "status": r.status,
        "requested_at": r.requested_at,
        "decided_at": r.decided_at,
    }


@me_router.get(
    "/profile-requests",
    response={200: list[ProfileRequestOut], 401: ErrorOut, 403: ErrorOut},
    summary="My requests to correct name, ID number or birth date",
)
def profile_requests(request: HttpRequest):
    rows = ProfileChangeRequest.objects.filter(candidate=_me(request))[:100]
    return Status(200, [_request_out(r) for r in rows])


@me_router.post(
    "/profile-requests",
    response={201: ProfileRequestOut, **ERRORS},
    summary="Ask the office to correct name, ID number or birth date",
)
def profile_request_create(request: HttpRequest, payload: ProfileRequestIn):
    created = candidate_services.profile_change_request_create(
        actor=_candidate_actor(request),
        candidate=_me(request),
        field=payload.field,
        new_value=payload.new_value,
        reason=payload.reason,
    )
    return Status(201, _request_out(created))
