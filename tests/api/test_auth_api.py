"""/api/auth/… and /api/me/{password,profile,phone,profile-requests}: flows, errors, permission matrix."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
from captcha.models import CaptchaStore
from django.test import Client

from tests.api.helpers import bearer, token_for
from tests.factories import CandidateFactory
from tests.portal.helpers import TEST_PASSWORD, captcha_passes  # noqa: F401
from zikao.accounts import sms
from zikao.accounts.models import ApiToken, CandidateAccount
from zikao.candidates.models import ProfileChangeRequest
from zikao.core import clock
from zikao.core.models import AuditEvent

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 5, 10, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CAPTCHA = {"captcha_key": "k", "captcha_value": "PASSED"}


@pytest.fixture(autouse=True)
def _outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def post(client: Client, path: str, body: dict, token: str | None = None):
    return client.post(path, body, content_type="application/json", headers=bearer(token) if token else {})


# --- captcha ------------------------------------------------------------------------------------


def test_captcha_endpoint_gives_key_and_png(client: Client) -> None:
    response = client.get("/api/auth/captcha")
    assert response.status_code == 200
    body = response.json()
    assert CaptchaStore.objects.filter(hashkey=body["key"]).exists()
    assert body["image"].startswith("data:image/png;base64,")
    assert base64.b64decode(body["image"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_real_captcha_answer_required_and_single_use(client: Client) -> None:
    candidate = CandidateFactory(id_number="32010219950314001X", name="李雷")
    key = client.get("/api/auth/captcha").json()["key"]
    answer = CaptchaStore.objects.get(hashkey=key).response
    body = {"id_number": candidate.id_number, "name": "李雷", "captcha_key": key}
    wrong = post(client, "/api/auth/lookup", {**body, "captcha_value": answer + "x"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "CAPTCHA_INVALID"
    again = post(client, "/api/auth/lookup", {**body, "captcha_value": answer})  # burnt by the wrong try
    assert again.json()["code"] == "CAPTCHA_INVALID"
    key = client.get("/api/auth/captcha").json()["key"]
    answer = CaptchaStore.objects.get(hashkey=key).response
    ok = post(client, "/api/auth/lookup", {**body, "captcha_key": key, "captcha_value": answer.upper()})
    assert ok.status_code == 200 and ok.json() == {"kind": "candidate_no", "number": candidate.candidate_no}
    assert AuditEvent.objects.filter(event_type="candidate.number_lookup").count() == 1


# --- lookup -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("captcha_passes")
def test_lookup_no_match_is_generic(client: Client) -> None:
    CandidateFactory(id_number="32010219950314001X", name="李雷")
    a = post(client, "/api/auth/lookup", {"id_number": "32010219950314001X", "name": "韩梅梅", **CAPTCHA})
    b = post(client, "/api/auth/lookup", {"id_number": "110101198001010011", "name": "李雷", **CAPTCHA})
    assert a.status_code == b.status_code == 404
    assert (
        a.json()
        == b.json()
        == {
            "code": "LOOKUP_NO_MATCH",
            "message": "未查询到匹配的记录，请核对证件号码和姓名。",
            "fields": {},
        }
    )


@pytest.mark.usefixtures("captcha_passes")
def test_lookup_rate_limited_with_retry_after(client: Client) -> None:
    for _ in range(5):
        post(client, "/api/auth/lookup", {"id_number": "110101198001010011", "name": "某", **CAPTCHA})
    response = post(client, "/api/auth/lookup", {"id_number": "110101198001010011", "name": "某", **CAPTCHA})
    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMITED"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize(
    "body",
    [{}, {"id_number": "\x00", "name": "x", **CAPTCHA}, {"id_number": "1" * 33, "name": "x", **CAPTCHA}],
)
def test_lookup_bad_input_is_422(client: Client, body: dict) -> None:
    response = post(client, "/api/auth/lookup", body)
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_INPUT"


# --- login / logout / tokens --------------------------------------------------------------------


@pytest.mark.usefixtures("captcha_passes")
def test_login_first_password_then_forced_change(client: Client) -> None:
    candidate = CandidateFactory()
    with clock.frozen_at(T0):
        response = post(
            client,
            "/api/auth/login",
            {"identifier": candidate.candidate_no, "password": "19950314", **CAPTCHA},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["must_change_password"] is True and body["token_type"] == "Bearer"
    assert dt.datetime.fromisoformat(body["expires_at"]) == T0 + dt.timedelta(hours=12)
    token = token_for(candidate, change_password=False)
    blocked = client.get("/api/me/profile", headers=bearer(token))
    assert blocked.status_code == 403 and blocked.json()["code"] == "PASSWORD_CHANGE_REQUIRED"
    weak = post(client, "/api/me/password", {"current_password": "19950314", "new_password": "abc"}, token)
    assert weak.status_code == 422
    assert weak.json()["fields"] == {
        "new_password": ["PASSWORD_TOO_SHORT", "PASSWORD_NEEDS_LETTER_AND_DIGIT"]
    }
    assert CandidateAccount.objects.get(candidate=candidate).must_change_password is True
    changed = post(
        client, "/api/me/password", {"current_password": "19950314", "new_password": TEST_PASSWORD}, token
    )
    assert changed.status_code == 200 and changed.json() == {"must_change_password": False}
    assert client.get("/api/me/profile", headers=bearer(token)).status_code == 200


@pytest.mark.usefixtures("captcha_passes")
def test_login_by_id_number_and_lock_identical_for_unknown(client: Client) -> None:
    candidate = CandidateFactory(id_number="32010219950314001X")
    assert (
        post(
            client, "/api/auth/login", {"identifier": "32010219950314001X", "password": "19950314", **CAPTCHA}
        ).status_code
        == 200
    )
    with clock.frozen_at(T0):
        real = [
            post(
                client, "/api/auth/login", {"identifier": candidate.candidate_no, "password": "x", **CAPTCHA}
            )
            for _ in range(6)
        ]
        fake = [
            post(client, "/api/auth/login", {"identifier": "019999100001", "password": "x", **CAPTCHA})
            for _ in range(6)
        ]
    assert [r.status_code for r in real] == [r.status_code for r in fake] == [401] * 4 + [423] * 2
    assert [r.json() for r in real] == [r.json() for r in fake]
    assert real[-1].json()["fields"] == {"locked_until": "2026-05-10T15:15:00+08:00"}


def test_token_expiry_and_revocation(client: Client) -> None:
    candidate = CandidateFactory()
    with clock.frozen_at(T0):
        token = token_for(candidate)
        assert client.get("/api/me/profile", headers=bearer(token)).status_code == 200
    with clock.frozen_at(T0 + dt.timedelta(hours=12)):
        expired = client.get("/api/me/profile", headers=bearer(token))
    assert expired.status_code == 401 and expired.json()["code"] == "TOKEN_INVALID"
    other = token_for(candidate)
    assert client.post("/api/auth/logout", headers=bearer(other)).status_code == 204
    revoked = client.get("/api/me/profile", headers=bearer(other))
    assert revoked.status_code == 401 and revoked.json()["code"] == "TOKEN_INVALID"
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 1


def test_password_change_revokes_other_tokens(client: Client) -> None:
    candidate = CandidateFactory()
    mine, elsewhere = token_for(candidate), token_for(candidate)
    response = post(
        client, "/api/me/password", {"current_password": TEST_PASSWORD, "new_password": "Another2026x"}, mine
    )
    assert response.status_code == 200
    assert client.get("/api/me/profile", headers=bearer(mine)).status_code == 200
    assert client.get("/api/me/profile", headers=bearer(elsewhere)).status_code == 401


def test_missing_or_garbage_token(client: Client) -> None:
    assert client.get("/api/me/profile").json()["code"] == "NOT_AUTHENTICATED"
    garbage = client.get("/api/me/profile", headers={"authorization": "Bearer nonsense"})
    assert garbage.status_code == 401 and garbage.json()["code"] == "TOKEN_INVALID"


# --- forgotten password -------------------------------------------------------------------------


@pytest.mark.usefixtures("captcha_passes")
def test_forgot_password_flow(client: Client, django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    with django_capture_on_commit_callbacks(execute=True):
        start = post(
            client,
            "/api/auth/password-reset",
            {
                "candidate_no": candidate.candidate_no,
                "id_number": candidate.id_number,
                "name": candidate.name,
                **CAPTCHA,
            },
        )
    assert start.status_code == 200
    challenge = start.json()["challenge"]
    assert start.json()["phone_masked"] == "138****5678"
    code = re.search(r"验证码 (\d{6})", sms.outbox[-1].text).group(1)
    early = post(
        client, "/api/auth/password-reset/complete", {"challenge": challenge, "new_password": "Reset2026ok"}
    )
    assert early.status_code == 400 and early.json()["code"] == "CODE_NOT_VERIFIED"
    wrong = post(
        client,
        "/api/auth/password-reset/verify",
        {"challenge": challenge, "code": "000000" if code != "000000" else "111111"},
    )
    assert wrong.status_code == 400 and wrong.json()["fields"] == {"attempts_left": 4}
    assert (
        post(client, "/api/auth/password-reset/verify", {"challenge": challenge, "code": code}).status_code
        == 204
    )
    done = post(
        client, "/api/auth/password-reset/complete", {"challenge": challenge, "new_password": "Reset2026ok"}
    )
    assert done.status_code == 204
    login = post(
        client,
        "/api/auth/login",
        {"identifier": candidate.candidate_no, "password": "Reset2026ok", **CAPTCHA},
    )
    assert login.status_code == 200 and login.json()["must_change_password"] is False


def test_unknown_challenge(client: Client) -> None:
    response = post(client, "/api/auth/password-reset/verify", {"challenge": "nope", "code": "123456"})
    assert response.status_code == 400 and response.json()["code"] == "CODE_CHALLENGE_INVALID"


# --- profile ------------------------------------------------------------------------------------


def test_profile_get_and_patch(client: Client) -> None:
    candidate = CandidateFactory(id_number="32010219950314001X", phone="13812345678", address="旧")
    token = token_for(candidate)
    body = client.get("/api/me/profile", headers=bearer(token)).json()
    assert body == {
        "candidate_no": candidate.candidate_no,
        "name": "王小明",
        "id_type": "resident_id",
        "id_number_masked": "320102********001X",
        "birth_date": "1995-03-14",
        "phone_masked": "138****5678",
        "address": "旧",
        "work_unit": "",
    }
    response = client.patch(
        "/api/me/profile", {"address": "新地址"}, content_type="application/json", headers=bearer(token)
    )
    assert response.status_code == 200 and response.json()["address"] == "新地址"
    candidate.refresh_from_db()
    assert (candidate.address, candidate.work_unit) == ("新地址", "")


def test_phone_change_via_api(client: Client, django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    token = token_for(candidate)
    with django_capture_on_commit_callbacks(execute=True):
        start = post(client, "/api/me/phone", {"new_phone": "13987654321"}, token)
    assert start.status_code == 200 and start.json()["phone_masked"] == "139****4321"
    code = re.search(r"验证码 (\d{6})", sms.outbox[-1].text).group(1)
    done = post(
        client, "/api/me/phone/confirm", {"challenge": start.json()["challenge"], "code": code}, token
    )
    assert done.status_code == 200 and done.json()["phone_masked"] == "139****4321"


def test_profile_change_request_via_api(client: Client) -> None:
    candidate = CandidateFactory(name="王小明")
    token = token_for(candidate)
    response = post(
        client,
        "/api/me/profile-requests",
        {"field": "name", "new_value": "王晓明", "reason": "户口本更名"},
        token,
    )
    assert response.status_code == 201
    assert response.json()["old_value"] == "王**" and response.json()["status"] == "requested"
    listed = client.get("/api/me/profile-requests", headers=bearer(token)).json()
    assert [r["field"] for r in listed] == ["name"]
    dup = post(
        client, "/api/me/profile-requests", {"field": "name", "new_value": "王晓明", "reason": "x"}, token
    )
    assert dup.status_code == 400 and dup.json()["code"] == "PROFILE_REQUEST_PENDING"
    bad = post(
        client, "/api/me/profile-requests", {"field": "gender", "new_value": "M", "reason": "x"}, token
    )
    assert bad.status_code == 422
    assert ProfileChangeRequest.objects.count() == 1


# --- permission matrix --------------------------------------------------------------------------

ME_ENDPOINTS = [
    ("get", "/api/me/profile", None),
    ("patch", "/api/me/profile", {"address": "x"}),
    ("post", "/api/me/phone", {"new_phone": "13900000000"}),
    ("post", "/api/me/phone/confirm", {"challenge": "c", "code": "123456"}),
    ("get", "/api/me/profile-requests", None),
    ("post", "/api/me/profile-requests", {"field": "name", "new_value": "x", "reason": "y"}),
    ("post", "/api/me/password", {"current_password": "a", "new_password": "b"}),
    ("post", "/api/auth/logout", None),
]


def call(client: Client, method: str, path: str, body, token: str | None):
    headers = bearer(token) if token else {}
    if method == "get":
        return client.get(path, headers=headers)
    return getattr(client, method)(path, body or {}, content_type="application/json", headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ME_ENDPOINTS)
def test_matrix_anonymous(client: Client, method: str, path: str, body) -> None:
    candidate = CandidateFactory(address="旧")
    response = call(client, method, path, body, None)
    assert response.status_code == 401 and response.json()["code"] == "NOT_AUTHENTICATED"
    candidate.refresh_from_db()
    assert candidate.address == "旧" and not ProfileChangeRequest.objects.exists()


@pytest.mark.parametrize(("method", "path", "body"), ME_ENDPOINTS)
def test_matrix_must_change_token(client: Client, method: str, path: str, body) -> None:
    candidate = CandidateFactory(address="旧")
    token = token_for(candidate, change_password=False)
    response = call(client, method, path, body, token)
    if path in ("/api/me/password", "/api/auth/logout"):
        assert response.status_code in (204, 400, 422)  # allowed through to the endpoint
    else:
        assert response.status_code == 403 and response.json()["code"] == "PASSWORD_CHANGE_REQUIRED"
    candidate.refresh_from_db()
    assert candidate.address == "旧" and not ProfileChangeRequest.objects.exists()


@pytest.mark.parametrize(("method", "path", "body"), ME_ENDPOINTS)
def test_matrix_locked_account(client: Client, method: str, path: str, body) -> None:
    candidate = CandidateFactory(address="旧")
    token = token_for(candidate)
    for _ in range(5):
        post(
            client,
            "/api/auth/login",
            {
                "identifier": candidate.candidate_no,
                "password": "bad",
                "captcha_key": "k",
                "captcha_value": "x",
            },
        )
    from zikao.accounts.services import candidate_login
    from zikao.core.audit import Actor
    from zikao.core.errors import DomainError

    for _ in range(5):
        with pytest.raises(DomainError):
            candidate_login(
                actor=Actor.public(ip="192.0.2.1"), identifier=candidate.candidate_no, password="bad"
            )
    response = call(client, method, path, body, token)
    assert response.status_code == 401 and response.json()["code"] == "TOKEN_INVALID"
    candidate.refresh_from_db()
    assert candidate.address == "旧"


def test_matrix_other_candidates_token_sees_only_self(client: Client) -> None:
    alice = CandidateFactory(candidate_no="010224100101", address="A")
    bob = CandidateFactory(candidate_no="010224100102", address="B")
    bob_token = token_for(bob)
    assert client.get("/api/me/profile", headers=bearer(bob_token)).json()["candidate_no"] == "010224100102"
    client.patch(
        "/api/me/profile", {"address": "bob"}, content_type="application/json", headers=bearer(bob_token)
    )
    alice.refresh_from_db()
    assert alice.address == "A"
    assert CandidateAccount.objects.filter(candidate=alice).count() == 0


@pytest.mark.parametrize("bad", ['"\\ud800"', '"a\\u0000b"'])
def test_unencodable_strings_are_422_not_500(client: Client, bad: str) -> None:
    raw = f'{{"identifier": {bad}, "password": "x", "captcha_key": "k", "captcha_value": "v"}}'
    response = client.post("/api/auth/login", raw, content_type="application/json")
    assert response.status_code == 422 and response.json()["code"] == "INVALID_INPUT"
