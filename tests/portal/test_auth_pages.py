"""Portal sign-in pages: lookup, login, forced change, lock, logout, expiry, forgotten password."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.urls import NoReverseMatch, reverse

from tests.factories import CandidateFactory
from tests.portal.helpers import TEST_PASSWORD, captcha_passes, log_in  # noqa: F401
from zikao.accounts import sms
from zikao.accounts.models import CandidateAccount
from zikao.core import clock
from zikao.core.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captcha_passes")]

T0 = dt.datetime(2026, 5, 10, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CAPTCHA = {"captcha_0": "k", "captcha_1": "PASSED"}


def _resolvable(*names: str) -> list[str]:
    urls = []
    for name in names:
        with contextlib.suppress(NoReverseMatch):
            urls.append(reverse(name))
    return urls


# Every page behind candidate_required (records pages included when they exist).
PRIVATE_PAGES = _resolvable(
    "portal:profile",
    "portal:dashboard",
    "portal:scores",
    "portal:scores_all",
    "portal:passed",
    "portal:record",
    "portal:progress",
)


def login_post(client: Client, identifier: str, password: str, **extra):
    return client.post(
        reverse("portal:login"), {"identifier": identifier, "password": password, **CAPTCHA, **extra}
    )


def errors_of(response) -> list[str]:
    html = response.content.decode()
    return (
        re.findall(r"<li>([^<]+)</li>", html.split('class="errors"', 1)[-1])
        if 'class="errors"' in html
        else re.findall(r'<div class="form-errors" role="alert"[^>]*><p>([^<]+)</p>', html)
    )


# --- lookup -------------------------------------------------------------------------------------


def test_lookup_page_shows_number(client: Client) -> None:
    candidate = CandidateFactory(id_number="32010219950314001X", name="李雷")
    response = client.post(
        reverse("portal:lookup"), {"id_number": "32010219950314001X", "name": "李雷", **CAPTCHA}
    )
    assert response.status_code == 200
    assert f'<strong class="number">{candidate.candidate_no}</strong>' in response.content.decode()
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_lookup_page_no_match_is_generic(client: Client) -> None:
    CandidateFactory(id_number="32010219950314001X", name="李雷")
    wrong_name = client.post(
        reverse("portal:lookup"), {"id_number": "32010219950314001X", "name": "韩梅梅", **CAPTCHA}
    )
    unknown = client.post(
        reverse("portal:lookup"), {"id_number": "110101198001010011", "name": "李雷", **CAPTCHA}
    )
    assert wrong_name.status_code == unknown.status_code == 404
    assert "未查询到匹配的记录，请核对证件号码和姓名。" in wrong_name.content.decode()
    assert errors_of(wrong_name) == errors_of(unknown)
    assert 'class="number"' not in wrong_name.content.decode()


def test_lookup_with_pre_registration_box(client: Client) -> None:
    CandidateFactory(id_number="32010219950314001X", name="李雷", pre_registration_no="BM2026000123")
    response = client.post(
        reverse("portal:lookup"),
        {"id_number": "32010219950314001X", "name": "李雷", "pre_registration": "on", **CAPTCHA},
    )
    assert '<strong class="number">BM2026000123</strong>' in response.content.decode()


def test_lookup_wrong_captcha_refused_before_the_lookup(client: Client) -> None:
    CandidateFactory(id_number="32010219950314001X", name="李雷")
    response = client.post(
        reverse("portal:lookup"),
        {"id_number": "32010219950314001X", "name": "李雷", "captcha_0": "k", "captcha_1": "WRONG"},
    )
    assert response.status_code == 400
    assert "验证码不正确，请重新输入。" in response.content.decode()
    assert not AuditEvent.objects.filter(event_type="candidate.number_lookup").exists()


def test_lookup_rate_limit_on_page(client: Client) -> None:
    for _ in range(5):
        client.post(reverse("portal:lookup"), {"id_number": "110101198001010011", "name": "某", **CAPTCHA})
    response = client.post(
        reverse("portal:lookup"), {"id_number": "110101198001010011", "name": "某", **CAPTCHA}
    )
    assert response.status_code == 429
    assert "操作过于频繁，请稍后再试。" in response.content.decode()


@pytest.mark.parametrize("url_name", ["portal:lookup", "portal:login", "portal:password_reset"])
def test_csrf_enforced_on_public_forms(url_name: str) -> None:
    candidate = CandidateFactory(id_number="32010219950314001X", name="李雷")
    client = Client(enforce_csrf_checks=True)
    data = {
        "id_number": candidate.id_number,
        "name": candidate.name,
        "identifier": candidate.candidate_no,
        "password": "19950314",
        "candidate_no": candidate.candidate_no,
        **CAPTCHA,
    }
    refused = client.post(reverse(url_name), data)
    assert refused.status_code == 403
    assert not AuditEvent.objects.exists()
    client.get(reverse(url_name))
    accepted = client.post(
        reverse(url_name), {**data, "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    )
    assert accepted.status_code in (200, 302, 400)  # 400: that candidate has no phone bound
    assert AuditEvent.objects.exists()


def test_csrf_enforced_on_signed_in_forms() -> None:
    candidate = CandidateFactory()
    client = Client(enforce_csrf_checks=True)
    log_in(client, candidate)
    for name in [
        "portal:logout",
        "portal:profile",
        "portal:password_change",
        "portal:phone_change",
        "portal:profile_request",
    ]:
        assert client.post(reverse(name), {}).status_code == 403, name
    assert client.get(reverse("portal:profile")).status_code == 200


# --- login -------------------------------------------------------------------------------------


def test_first_login_by_number_forces_change(client: Client) -> None:
    candidate = CandidateFactory()
    response = login_post(client, candidate.candidate_no, "19950314")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:password_change")
    page = client.get(reverse("portal:password_change"))
    assert page.status_code == 200
    assert "您正在使用初始密码，须先设置新密码才能使用个人空间。" in page.content.decode()


def test_login_by_id_number(client: Client) -> None:
    candidate = CandidateFactory(id_number="32010219950314001X")
    log_in(Client(), candidate)  # password changed
    response = login_post(client, "32010219950314001x", TEST_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == _resolvable("portal:dashboard", "portal:profile")[0]


def test_login_rotates_session_key(client: Client) -> None:
    candidate = CandidateFactory()
    client.get(reverse("portal:login"))
    client.session.save()
    before = client.cookies[settings.SESSION_COOKIE_NAME].value
    login_post(client, candidate.candidate_no, "19950314")
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before


@pytest.mark.parametrize("url", PRIVATE_PAGES)
def test_forced_change_blocks_every_page(client: Client, url: str) -> None:
    candidate = CandidateFactory()
    log_in(client, candidate, change_password=False)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:password_change")


def test_forced_change_then_every_page_opens_and_next_is_kept(client: Client) -> None:
    candidate = CandidateFactory()
    target = PRIVATE_PAGES[-1]
    response = login_post(client, candidate.candidate_no, "19950314", next=target)
    assert response["Location"] == reverse("portal:password_change")
    response = client.post(
        reverse("portal:password_change"),
        {"current_password": "19950314", "new_password": TEST_PASSWORD, "new_password2": TEST_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == target
    assert CandidateAccount.objects.get(candidate=candidate).must_change_password is False
    for url in PRIVATE_PAGES:
        assert client.get(url).status_code == 200, url


def test_password_change_page_shows_each_rule_broken(client: Client) -> None:
    candidate = CandidateFactory()
    log_in(client, candidate, change_password=False)
    response = client.post(
        reverse("portal:password_change"),
        {"current_password": "19950314", "new_password": "19950314", "new_password2": "19950314"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "密码须同时包含英文字母和数字。" in html and "密码不能包含出生日期。" in html
    assert CandidateAccount.objects.get(candidate=candidate).must_change_password is True


def test_password_change_mismatched_confirmation(client: Client) -> None:
    candidate = CandidateFactory()
    log_in(client, candidate, change_password=False)
    response = client.post(
        reverse("portal:password_change"),
        {"current_password": "19950314", "new_password": TEST_PASSWORD, "new_password2": TEST_PASSWORD + "x"},
    )
    assert response.status_code == 400
    assert "两次输入的新密码不一致。" in response.content.decode()


def test_open_redirect_refused(client: Client) -> None:
    candidate = CandidateFactory()
    log_in(Client(), candidate)
    response = login_post(client, candidate.candidate_no, TEST_PASSWORD, next="https://evil.example/")
    assert response["Location"] == _resolvable("portal:dashboard", "portal:profile")[0]


def test_anonymous_redirected_to_login_with_next(client: Client) -> None:
    for url in [*PRIVATE_PAGES, reverse("portal:password_change")]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('portal:login')}?next={url.replace('/', '%2F')}"


def test_lockout_message_and_unknown_identifier_identical(client: Client) -> None:
    real = CandidateFactory()
    with clock.frozen_at(T0):
        real_pages = [login_post(Client(), real.candidate_no, "wrong") for _ in range(6)]
        fake_pages = [login_post(Client(), "019999100001", "wrong") for _ in range(6)]
    assert [p.status_code for p in real_pages] == [401] * 4 + [423] * 2
    assert [errors_of(p) for p in real_pages] == [errors_of(p) for p in fake_pages]
    assert errors_of(real_pages[5]) == [
        "登录失败次数过多，账户已锁定至 2026-05-10 15:15，请届时再试或通过“找回密码”重设密码。"
    ]
    assert errors_of(real_pages[0]) == ["账号或密码错误，还可尝试 4 次。"]


def test_lock_ends_open_sessions(client: Client) -> None:
    candidate = CandidateFactory()
    log_in(client, candidate)
    for _ in range(5):
        login_post(Client(), candidate.candidate_no, "wrong")
    response = client.get(reverse("portal:profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_password_change_ends_other_sessions_not_this_one() -> None:
    candidate = CandidateFactory()
    here, elsewhere = Client(), Client()
    log_in(here, candidate)
    log_in(elsewhere, candidate)
    response = here.post(
        reverse("portal:password_change"),
        {"current_password": TEST_PASSWORD, "new_password": "Another2026x", "new_password2": "Another2026x"},
    )
    assert response.status_code == 302
    assert here.get(reverse("portal:profile")).status_code == 200
    assert elsewhere.get(reverse("portal:profile")).status_code == 302


def test_logout_is_post_only_and_ends_session(client: Client) -> None:
    candidate = CandidateFactory()
    log_in(client, candidate)
    assert client.get(reverse("portal:logout")).status_code == 405
    assert client.get(reverse("portal:profile")).status_code == 200
    response = client.post(reverse("portal:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("portal:login")
    assert client.get(reverse("portal:profile")).status_code == 302
    assert AuditEvent.objects.filter(event_type="account.logout", candidate=candidate).count() == 1


def test_session_expires(client: Client) -> None:
    candidate = CandidateFactory()
    log_in(client, candidate)
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE == 30 * 60
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        pytest.skip("expiry is checked against stored sessions of the db backend")
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    assert client.get(reverse("portal:profile")).status_code == 302


def test_login_page_in_english(client: Client) -> None:
    response = client.get(reverse("portal:login"), headers={"accept-language": "en"})
    assert '<html lang="en">' in response.content.decode()


# --- forgotten password -------------------------------------------------------------------------


@pytest.fixture
def outbox():
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def test_forgot_password_three_steps(client: Client, outbox, django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    assert client.get(reverse("portal:password_reset_code"))["Location"] == reverse("portal:password_reset")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:password_reset"),
            {
                "candidate_no": candidate.candidate_no,
                "id_number": candidate.id_number,
                "name": candidate.name,
                **CAPTCHA,
            },
        )
    assert response["Location"] == reverse("portal:password_reset_code")
    assert "138****5678" in client.get(reverse("portal:password_reset_code")).content.decode()
    code = re.search(r"验证码 (\d{6})", outbox[-1].text).group(1)
    assert client.get(reverse("portal:password_reset_new"))["Location"] == reverse("portal:password_reset")
    wrong = client.post(
        reverse("portal:password_reset_code"), {"code": "000000" if code != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and "验证码不正确，还可尝试 4 次。" in wrong.content.decode()
    response = client.post(reverse("portal:password_reset_code"), {"code": code})
    assert response["Location"] == reverse("portal:password_reset_new")
    response = client.post(
        reverse("portal:password_reset_new"), {"new_password": "Reset2026ok", "new_password2": "Reset2026ok"}
    )
    assert response["Location"] == reverse("portal:login")
    assert login_post(Client(), candidate.candidate_no, "Reset2026ok").status_code == 302


def test_forgot_password_mismatch(client: Client, outbox, django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:password_reset"),
            {
                "candidate_no": candidate.candidate_no,
                "id_number": candidate.id_number,
                "name": "别人",
                **CAPTCHA,
            },
        )
    assert response.status_code == 400
    assert "信息不匹配，请核对准考证号、证件号码和姓名。" in response.content.decode()
    assert outbox == []


@override_settings(SESSION_COOKIE_AGE=60)
def test_session_cookie_age_setting_applies(client: Client) -> None:
    log_in(client, CandidateFactory())
    assert client.session.get_expiry_age() == 60
