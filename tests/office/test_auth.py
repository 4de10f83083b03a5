"""Staff sign-in: password then TOTP, enrolment, lockout, rate limits, next URL, CSRF, sign-out,
and the Django admin behind the same second factor.

django-otp checks codes against real time (`time.time()`), not `core.clock`: codes are computed
from the device key at real time; the lock (a rule) follows `clock.frozen_at`.
"""

from __future__ import annotations

import datetime as dt
import re
from base64 import b32encode

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import StaffFactory
from tests.office.conftest import STAFF_PASSWORD
from zikao.accounts import services_staff
from zikao.accounts.models import StaffRole, User
from zikao.accounts.permissions import Role
from zikao.core import clock
from zikao.core.models import AuditEvent
from zikao.core.ratelimit import Limit
from zikao.office import views_auth

T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)  # 17:00 in Shanghai
LOGIN = "/office/login/"
CODE = "/office/login/code/"
ENROL = "/office/login/enrol/"


def code_for(device: TOTPDevice, ahead: int = 0) -> str:
    """The device's current code (or `ahead` steps later), from its key at real time."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + ahead):06d}"


def wrong_code(device: TOTPDevice) -> str:
    """A 6-digit code the device does not accept now (none of the tolerated steps)."""
    valid = {code_for(device, ahead) for ahead in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def password_step(client: Client, username: str, password: str = STAFF_PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def errors_of(response) -> str:
    return " ".join(re.findall(r'role="alert">(.*?)</div>', response.content.decode(), re.S))


def events(event_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("pk"))


@pytest.fixture
def clerk(offices, make_staff):
    return make_staff(roles=(Role.READ_ONLY,), office=offices.county)


@pytest.fixture
def no_otp_throttle(settings):
    """django-otp waits 1, 2, 4 … s after a wrong code; switched off where a test types many."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


# --- the full flow ------------------------------------------------------------------------------


def test_password_then_totp_then_home(clerk):
    client = Client()
    assert client.get(LOGIN).status_code == 200
    response = password_step(client, clerk.username)
    assert response.status_code == 302 and response["Location"] == CODE
    # The password alone signs nobody in.
    assert SESSION_KEY not in client.session
    assert client.get("/office/").status_code == 302
    page = client.get(CODE)
    assert page.status_code == 200 and clerk.username in page.content.decode()
    device = TOTPDevice.objects.get(user=clerk)
    response = client.post(CODE, {"token": code_for(device)})
    assert response.status_code == 302 and response["Location"] == "/office/"
    assert client.session[SESSION_KEY] == str(clerk.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    home = client.get("/office/")
    assert home.status_code == 200 and "只读查询" in home.content.decode()
    [login] = events("staff.login")
    assert (login.actor_kind, login.actor_user_id, login.ip) == ("staff", clerk.pk, "127.0.0.1")
    assert (login.subject_type, login.subject_id) == ("accounts.user", str(clerk.pk))
    assert login.after == {"username": clerk.username, "device": device.pk, "enrolled": False}
    assert events("staff.login_failed") == []


def test_code_with_a_space_is_accepted(clerk):
    client = Client()
    password_step(client, clerk.username)
    token = code_for(TOTPDevice.objects.get(user=clerk))
    response = client.post(CODE, {"token": f"{token[:3]} {token[3:]}"})
    assert response.status_code == 302 and response["Location"] == "/office/"


def test_session_key_changes_at_each_step(clerk):
    client = Client()
    client.get(LOGIN)
    client.session.save()
    first = client.session.session_key
    password_step(client, clerk.username)
    second = client.session.session_key
    client.post(CODE, {"token": code_for(TOTPDevice.objects.get(user=clerk))})
    third = client.session.session_key
    assert len({first, second, third}) == 3


def test_code_step_without_password_step_goes_back_to_login(clerk):
    client = Client()
    response = client.post(CODE, {"token": "123456"})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert client.get(ENROL)["Location"] == LOGIN
    assert "登录已超时" not in client.get(LOGIN).content.decode()  # nothing had timed out
    assert SESSION_KEY not in client.session
    assert AuditEvent.objects.count() == 0


def test_password_step_expires(clerk, monkeypatch):
    client = Client()
    password_step(client, clerk.username)
    started = client.session[views_auth.PENDING_KEY]["at"]
    monkeypatch.setattr(views_auth.time, "time", lambda: started + views_auth.PENDING_SECONDS + 1)
    response = client.post(CODE, {"token": code_for(TOTPDevice.objects.get(user=clerk))})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert "登录已超时" in client.get(LOGIN).content.decode()
    assert SESSION_KEY not in client.session and events("staff.login") == []


def test_password_changed_between_the_steps_ends_the_sign_in(clerk):
    client = Client()
    password_step(client, clerk.username)
    clerk.set_password("Another-Pass-2026")
    clerk.save()
    response = client.post(CODE, {"token": code_for(TOTPDevice.objects.get(user=clerk))})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert SESSION_KEY not in client.session


def test_signed_in_user_is_sent_on_from_the_login_page(clerk, staff_client):
    client = staff_client(clerk)
    response = client.get(LOGIN + "?next=/office/staff/")
    assert response.status_code == 302 and response["Location"] == "/office/staff/"


# --- enrolment ---------------------------------------------------------------------------------


@pytest.fixture
def new_user(offices):
    user = StaffFactory(office=offices.county, username="newclerk")
    user.set_password(STAFF_PASSWORD)
    user.save()
    StaffRole.objects.create(user=user, role=Role.READ_ONLY, granted_at=clock.now())
    return user


def test_first_sign_in_enrols_the_authenticator(new_user):
    client = Client()
    response = password_step(client, "newclerk")
    assert response.status_code == 302 and response["Location"] == ENROL
    # The code step sends a user without a confirmed device to enrolment.
    assert client.get(CODE)["Location"] == ENROL
    page = client.get(ENROL)
    body = page.content.decode()
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=new_user)
    assert device.confirmed is False
    secret = b32encode(device.bin_key).decode()
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in body
    assert f"secret={secret}" in body  # the otpauth URI is shown as text too
    assert 'src="data:image/svg+xml' in body  # the QR code, inline (CSP: img-src data:)
    # Reloading the page keeps the same key.
    client.get(ENROL)
    assert TOTPDevice.objects.get(user=new_user).pk == device.pk

    response = client.post(ENROL, {"token": wrong_code(device)})
    assert response.status_code == 401
    assert "动态验证码不正确，还可尝试 4 次。" in response.content.decode()
    assert User.objects.get(pk=new_user.pk).failed_login_count == 1
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)

    response = client.post(ENROL, {"token": code_for(device)})
    assert response.status_code == 302 and response["Location"] == "/office/"
    device.refresh_from_db()
    assert device.confirmed is True
    assert User.objects.get(pk=new_user.pk).failed_login_count == 0
    assert client.get("/office/").status_code == 200
    [enrolled] = events("staff.totp_enrolled")
    assert (enrolled.actor_user_id, enrolled.subject_id) == (new_user.pk, str(new_user.pk))
    assert enrolled.after == {"totp": "confirmed", "device": device.pk}
    assert events("staff.login")[0].after["enrolled"] is True

    # Next time: the code step, with the enrolled device.
    other = Client()
    assert password_step(other, "newclerk")["Location"] == CODE
    assert other.get(ENROL)["Location"] == CODE
    assert other.post(CODE, {"token": code_for(device, ahead=1)})["Location"] == "/office/"


def test_each_enrolment_attempt_gets_a_fresh_key(new_user):
    first, second = Client(), Client()
    password_step(first, "newclerk")
    first.get(ENROL)
    old = TOTPDevice.objects.get(user=new_user)
    old_token = code_for(old)
    password_step(second, "newclerk")
    second.get(ENROL)
    new = TOTPDevice.objects.get(user=new_user)  # the earlier unconfirmed key is gone
    assert new.pk != old.pk and new.key != old.key
    # A code for the dropped key does not enrol; the page shows the new key instead.
    response = first.post(ENROL, {"token": old_token})
    assert response.status_code == 400
    assert TOTPDevice.objects.filter(user=new_user, confirmed=True).count() == 0


def test_enrolment_page_without_password_step_is_refused(new_user):
    client = Client()
    assert client.get(ENROL)["Location"] == LOGIN
    assert TOTPDevice.objects.filter(user=new_user).count() == 0


# --- refusals and the lock -----------------------------------------------------------------------


def test_wrong_password_says_attempts_left(clerk):
    client = Client()
    response = password_step(client, clerk.username, "Wrong-Pass-1")
    assert response.status_code == 401
    assert errors_of(response).strip() == "<p>用户名或密码错误，还可尝试 4 次。</p>"
    assert User.objects.get(pk=clerk.pk).failed_login_count == 1
    [failed] = events("staff.login_failed")
    assert (failed.actor_kind, failed.actor_user_id, failed.subject_id) == ("public", None, str(clerk.pk))
    assert failed.after == {
        "username": clerk.username,
        "outcome": "wrong_password",
        "stage": "password",
        "attempts_left": 4,
    }
    assert views_auth.PENDING_KEY not in client.session


def test_unknown_username_gets_the_same_answers(clerk):
    known, unknown = Client(), Client()
    for left in (4, 3, 2, 1):
        a = password_step(known, clerk.username, "Wrong-Pass-1")
        b = password_step(unknown, "nobody-here", "Wrong-Pass-1")
        assert a.status_code == b.status_code == 401
        assert errors_of(a) == errors_of(b) == f"<p>用户名或密码错误，还可尝试 {left} 次。</p>"
    with clock.frozen_at(T0):
        a = password_step(known, clerk.username, "Wrong-Pass-1")
        b = password_step(unknown, "nobody-here", "Wrong-Pass-1")
    assert a.status_code == b.status_code == 423
    assert errors_of(a) == errors_of(b)
    assert "2026-04-01 17:30" in errors_of(a)
    assert [e.after["outcome"] for e in events("staff.locked")] == ["locked_now", "locked_now"]


def test_every_refusal_path_spends_one_argon2_verification(clerk, offices, monkeypatch):
    calls: list[int] = []
    real_verify = Argon2PasswordHasher.verify

    def counting(self, password, encoded):
        calls.append(1)
        return real_verify(self, password, encoded)

    monkeypatch.setattr(Argon2PasswordHasher, "verify", counting)
    services_staff._dummy_hash.cache_clear()
    services_staff._dummy_hash()
    inactive = StaffFactory(office=offices.county, is_active=False)
    inactive.set_password(STAFF_PASSWORD)
    inactive.save()
    unusable = StaffFactory(office=offices.county)
    unusable.set_unusable_password()
    unusable.save()
    for username, password in [
        ("nobody-here", "x"),
        (clerk.username, "wrong"),
        (clerk.username, STAFF_PASSWORD),
        (inactive.username, STAFF_PASSWORD),
        (unusable.username, "anything"),
    ]:
        calls.clear()
        password_step(Client(), username, password)
        assert calls == [1], username


def test_lock_after_five_failures_until_when_then_expires(clerk):
    client = Client()
    with clock.frozen_at(T0):
        for _ in range(4):
            assert password_step(client, clerk.username, "Wrong-Pass-1").status_code == 401
        response = password_step(client, clerk.username, "Wrong-Pass-1")
        assert response.status_code == 423
        assert (
            "登录失败次数过多，账户已锁定至 2026-04-01 17:30，请届时再试或联系本单位用户管理员解锁。"
            in errors_of(response)
        )
        user = User.objects.get(pk=clerk.pk)
        assert user.locked_until == T0 + dt.timedelta(minutes=30)
        # The right password is refused too while locked, and counts nothing.
        response = password_step(client, clerk.username)
        assert response.status_code == 423
        assert views_auth.PENDING_KEY not in client.session
    [locked] = events("staff.locked")
    assert locked.before == {"failed_login_count": 4}
    assert locked.after["locked_until"] == "2026-04-01T09:30:00Z"
    assert events("staff.login_failed")[-1].after["outcome"] == "locked"
    with clock.frozen_at(T0 + dt.timedelta(minutes=29, seconds=59)):
        assert password_step(client, clerk.username).status_code == 423
    with clock.frozen_at(T0 + dt.timedelta(minutes=30, seconds=1)):
        response = password_step(client, clerk.username)
    assert response.status_code == 302 and response["Location"] == CODE
    client.post(CODE, {"token": code_for(TOTPDevice.objects.get(user=clerk))})
    user = User.objects.get(pk=clerk.pk)
    assert (user.failed_login_count, user.locked_until) == (0, None)


def test_lock_settings_are_used(clerk, settings):
    settings.ZIKAO_STAFF_LOGIN_MAX_FAILURES = 2
    settings.ZIKAO_STAFF_LOCK_MINUTES = 5
    client = Client()
    with clock.frozen_at(T0):
        assert "还可尝试 1 次" in errors_of(password_step(client, clerk.username, "bad-one"))
        response = password_step(client, clerk.username, "bad-one")
    assert response.status_code == 423 and "2026-04-01 17:05" in errors_of(response)


def test_wrong_codes_count_towards_the_same_lock(clerk, no_otp_throttle):
    client = Client()
    device = TOTPDevice.objects.get(user=clerk)
    with clock.frozen_at(T0):
        for _ in range(3):
            password_step(client, clerk.username, "Wrong-Pass-1")
        assert password_step(client, clerk.username).status_code == 302
        response = client.post(CODE, {"token": wrong_code(device)})
        assert response.status_code == 401
        assert "动态验证码不正确，还可尝试 1 次。" in response.content.decode()
        response = client.post(CODE, {"token": wrong_code(device)})
    # The lock sends the person back to the password step, with the lock message.
    assert response.status_code == 423
    assert "账户已锁定至 2026-04-01 17:30" in errors_of(response)
    assert views_auth.PENDING_KEY not in client.session
    assert User.objects.get(pk=clerk.pk).locked_until == T0 + dt.timedelta(minutes=30)
    [locked] = events("staff.locked")
    assert locked.after["stage"] == "totp"
    assert SESSION_KEY not in client.session


def test_code_step_refused_when_locked_meanwhile(clerk):
    client = Client()
    password_step(client, clerk.username)
    User.objects.filter(pk=clerk.pk).update(locked_until=clock.now() + dt.timedelta(minutes=10))
    response = client.post(CODE, {"token": code_for(TOTPDevice.objects.get(user=clerk))})
    assert response.status_code == 423
    assert SESSION_KEY not in client.session and events("staff.login") == []


def test_right_code_during_otp_back_off_is_refused_and_not_counted(clerk):
    client = Client()
    device = TOTPDevice.objects.get(user=clerk)
    password_step(client, clerk.username)
    assert client.post(CODE, {"token": wrong_code(device)}).status_code == 401
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    # After the 4th wrong code in a row django-otp waits 8 s (1, 2, 4, 8 …); set that state up
    # with a fresh timestamp so the test does not depend on how fast this machine is.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=4, throttling_failure_timestamp=timezone.now()
    )
    response = client.post(CODE, {"token": code_for(device)})
    assert response.status_code == 429
    assert re.search(r"动态验证码错误过于频繁，请 [1-8] 秒后再试。", response.content.decode())
    assert User.objects.get(pk=clerk.pk).failed_login_count == 1  # the back-off is not a failure
    assert SESSION_KEY not in client.session
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - dt.timedelta(seconds=9)
    )
    assert client.post(CODE, {"token": code_for(device)})["Location"] == "/office/"


def test_a_code_is_accepted_only_once(clerk, offices):
    device = TOTPDevice.objects.get(user=clerk)
    token = code_for(device)
    first, second = Client(), Client()
    password_step(first, clerk.username)
    password_step(second, clerk.username)
    assert first.post(CODE, {"token": token})["Location"] == "/office/"
    assert second.post(CODE, {"token": token}).status_code == 401


def test_malformed_code_is_a_form_error_not_a_failure(clerk):
    client = Client()
    password_step(client, clerk.username)
    response = client.post(CODE, {"token": "12ab"})
    assert response.status_code == 400
    assert "请输入身份验证器中显示的6位数字。" in response.content.decode()
    assert User.objects.get(pk=clerk.pk).failed_login_count == 0


@pytest.mark.parametrize("kind", ["inactive", "no_office"])
def test_inactive_user_or_user_without_office_cannot_sign_in(offices, kind):
    user = StaffFactory(office=None if kind == "no_office" else offices.county, is_active=kind != "inactive")
    user.set_password(STAFF_PASSWORD)
    user.save()
    TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    client = Client()
    response = password_step(client, user.username)
    assert response.status_code == 403
    assert "该账户已停用或未分配所属考办，不能登录。" in errors_of(response)
    assert views_auth.PENDING_KEY not in client.session and SESSION_KEY not in client.session
    assert events("staff.login_failed")[0].after["outcome"] == "disabled"
    # A wrong password gets the ordinary answer (nothing told about the account).
    response = password_step(client, user.username, "Wrong-Pass-1")
    assert response.status_code == 401 and "还可尝试 4 次" in errors_of(response)


def test_deactivated_between_the_steps_is_refused(clerk):
    client = Client()
    password_step(client, clerk.username)
    User.objects.filter(pk=clerk.pk).update(is_active=False)
    response = client.post(CODE, {"token": code_for(TOTPDevice.objects.get(user=clerk))})
    assert response.status_code == 403
    assert SESSION_KEY not in client.session


def test_password_step_rate_limited_per_ip(clerk, monkeypatch):
    monkeypatch.setattr(services_staff, "STAFF_LOGIN_PER_IP", Limit("staff-login-ip", 2, 600))
    client = Client()
    password_step(client, "someone-a", "x")
    password_step(client, "someone-b", "x")
    response = password_step(client, clerk.username)
    assert response.status_code == 429
    assert "操作过于频繁，请稍后再试。" in errors_of(response)
    assert views_auth.PENDING_KEY not in client.session
    # Another address is not affected.
    other = Client(REMOTE_ADDR="192.0.2.7")
    assert password_step(other, clerk.username).status_code == 302


def test_password_step_rate_limited_per_username(clerk, monkeypatch):
    monkeypatch.setattr(services_staff, "STAFF_LOGIN_PER_USER", Limit("staff-login-user", 2, 600))
    for address in ("192.0.2.1", "192.0.2.2"):
        password_step(Client(REMOTE_ADDR=address), clerk.username.upper(), "x")
    response = password_step(Client(REMOTE_ADDR="192.0.2.3"), clerk.username)
    assert response.status_code == 429
    # Case variants share the budget; the upper-case name is no account, so nothing is counted on it.
    assert User.objects.get(pk=clerk.pk).failed_login_count == 0


def test_code_step_rate_limited(clerk, monkeypatch):
    client = Client()
    password_step(client, clerk.username)
    monkeypatch.setattr(services_staff, "STAFF_LOGIN_PER_IP", Limit("staff-login-ip", 0, 600))
    response = client.post(CODE, {"token": code_for(TOTPDevice.objects.get(user=clerk))})
    assert response.status_code == 429
    assert SESSION_KEY not in client.session


# --- next URL --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/office/staff/?page=2", "/office/staff/?page=2"),
        ("/admin/", "/admin/"),
        ("https://evil.example.org/", "/office/"),
        ("//evil.example.org/office/", "/office/"),
        ("http://testserver.evil.example.org/", "/office/"),
        ("javascript:alert(1)", "/office/"),
        ("/\\evil.example.org", "/office/"),
    ],
)
def test_next_only_to_this_site(clerk, next_url, expected):
    client = Client()
    page = client.get(LOGIN, {"next": next_url}).content.decode()
    shown = expected if expected != "/office/" else ""
    assert f'name="next" value="{shown}"' in page
    password_step(client, clerk.username, next=next_url)
    response = client.post(CODE, {"token": code_for(TOTPDevice.objects.get(user=clerk))})
    assert response.status_code == 302 and response["Location"] == expected


def test_office_page_sends_anonymous_to_login_and_back(clerk):
    client = Client()
    response = client.get("/office/staff/")
    assert response.status_code == 302 and response["Location"] == "/office/login/?next=/office/staff/"


# --- CSRF and sign-out -------------------------------------------------------------------------------


def _csrf_token(page) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def test_login_forms_enforce_csrf(clerk):
    client = Client(enforce_csrf_checks=True)
    response = client.post(LOGIN, {"username": clerk.username, "password": STAFF_PASSWORD})
    assert response.status_code == 403
    assert views_auth.PENDING_KEY not in client.session and AuditEvent.objects.count() == 0
    token = _csrf_token(client.get(LOGIN))
    response = client.post(
        LOGIN, {"username": clerk.username, "password": STAFF_PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and response["Location"] == CODE
    code = code_for(TOTPDevice.objects.get(user=clerk))
    assert client.post(CODE, {"token": code}).status_code == 403
    token = _csrf_token(client.get(CODE))
    response = client.post(CODE, {"token": code, "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/office/"
    assert client.post("/office/logout/").status_code == 403


def test_logout_is_post_only_and_ends_the_session(clerk, staff_client):
    client = staff_client(clerk)
    assert client.get("/office/logout/").status_code == 405
    assert client.get("/office/").status_code == 200
    response = client.post("/office/logout/")
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert SESSION_KEY not in client.session and DEVICE_ID_SESSION_KEY not in client.session
    assert client.get("/office/").status_code == 302
    assert "您已安全退出。" in client.get(LOGIN).content.decode()
    [logout] = events("staff.logout")
    assert (logout.actor_user_id, logout.subject_id) == (clerk.pk, str(clerk.pk))


def test_logout_when_not_signed_in_writes_nothing(db):
    client = Client()
    assert client.post("/office/logout/")["Location"] == LOGIN
    assert AuditEvent.objects.count() == 0


# --- Django admin ---------------------------------------------------------------------------------------


@pytest.fixture
def superuser(offices, make_staff):
    return make_staff(roles=(), office=offices.province, is_staff=True, is_superuser=True)


def test_admin_anonymous_goes_to_the_office_login(db):
    client = Client()
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == ("/office/login/?next=/admin/", 302)
    assert response.status_code == 200


def test_admin_needs_the_second_factor(superuser, staff_client):
    unverified = Client()
    unverified.force_login(superuser)  # password only
    assert unverified.get("/admin/").status_code == 302
    assert staff_client(superuser).get("/admin/").status_code == 200


def test_admin_refuses_verified_non_technical_staff(clerk, staff_client):
    client = staff_client(clerk)
    assert client.get("/admin/").status_code == 302
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 403


def test_admin_reached_through_the_office_sign_in(superuser):
    client = Client()
    password_step(client, superuser.username, next="/admin/")
    response = client.post(CODE, {"token": code_for(TOTPDevice.objects.get(user=superuser))})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_never_shows_password_hash_or_totp_key(superuser, clerk, staff_client):
    client = staff_client(superuser)
    device = TOTPDevice.objects.get(user=clerk)
    for url in (
        f"/admin/accounts/user/{clerk.pk}/change/",
        "/admin/accounts/user/",
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "argon2" not in body and clerk.password.split("$")[-1] not in body, url
        assert device.key not in body and b32encode(device.bin_key).decode() not in body, url
    assert client.get(f"/admin/accounts/user/{clerk.pk}/password/").status_code == 403
    assert client.get("/admin/accounts/user/add/").status_code == 403
    config = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/", follow=True)
    assert device.key not in config.content.decode()
    assert b32encode(device.bin_key).decode() not in config.content.decode()


def test_admin_user_change_is_audited_and_roles_are_read_only(superuser, clerk, staff_client):
    client = staff_client(superuser)
    url = f"/admin/accounts/user/{clerk.pk}/change/"
    response = client.post(
        url,
        {
            "first_name": "王小明",
            "last_name": "",
            "email": "",
            "is_staff": "",
            # Attempts to write fields the admin does not offer are ignored.
            "is_active": "",
            "password": "plain-text",
            "staff_roles-TOTAL_FORMS": "1",
            "staff_roles-INITIAL_FORMS": "1",
            "staff_roles-MIN_NUM_FORMS": "0",
            "staff_roles-MAX_NUM_FORMS": "1000",
            "staff_roles-0-id": str(StaffRole.objects.get(user=clerk).pk),
            "staff_roles-0-role": "staff_admin",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(pk=clerk.pk)
    assert user.first_name == "王小明" and user.is_active is True and user.check_password(STAFF_PASSWORD)
    assert list(StaffRole.objects.filter(user=clerk).values_list("role", flat=True)) == [Role.READ_ONLY]
    [event] = events("staff.admin_changed")
    assert (event.actor_user_id, event.subject_id) == (superuser.pk, str(clerk.pk))
    assert event.before == {"first_name": ""} and event.after == {"first_name": "王小明"}


def test_admin_logout_ends_the_session(superuser, staff_client):
    client = staff_client(superuser)
    response = client.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert client.get("/admin/").status_code == 302
    assert len(events("staff.logout")) == 1
