"""Sign-in services: lookup, login, lock, password change and reset, tokens."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

import pytest
from django.contrib.auth.hashers import check_password
from django.test import override_settings

from tests.factories import CandidateFactory
from zikao.accounts import services, sms
from zikao.accounts.errors import AccountLocked, LoginFailed, LookupNoMatch, PasswordPolicyError
from zikao.accounts.models import ApiToken, CandidateAccount, VerificationCode
from zikao.accounts.selectors import token_lookup
from zikao.candidates.models import Candidate
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError
from zikao.core.models import AuditEvent
from zikao.core.ratelimit import RateLimited

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 5, 10, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
PUBLIC = Actor.public(ip="203.0.113.5")
NEW_PASSWORD = "Kaoshi2026ok"


@pytest.fixture(autouse=True)
def _clear_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def login(identifier: str, password: str, **kw):
    return services.candidate_login(actor=PUBLIC, identifier=identifier, password=password, **kw)


def change(candidate: Candidate, current: str = "19950314", new: str = NEW_PASSWORD, **kw):
    return services.candidate_password_change(
        actor=Actor.candidate(candidate),
        candidate=candidate,
        current_password=current,
        new_password=new,
        **kw,
    )


# --- login ------------------------------------------------------------------------------------


def test_first_login_with_birth_date_creates_account_that_must_change() -> None:
    candidate = CandidateFactory()
    assert not CandidateAccount.objects.exists()
    result = login(candidate.candidate_no, "19950314")
    assert result.candidate == candidate
    assert result.must_change_password is True
    account = CandidateAccount.objects.get(candidate=candidate)
    assert (account.password_hash, account.must_change_password, account.failed_count) == ("", True, 0)
    assert account.last_login_at is not None
    event = AuditEvent.objects.get(event_type="account.login")
    assert (event.actor_kind, event.candidate, event.ip) == ("candidate", candidate, "203.0.113.5")
    assert event.after == {"identifier": candidate.candidate_no, "outcome": "success", "channel": "web"}


def test_login_by_id_number_lowercase_x_and_spaces() -> None:
    candidate = CandidateFactory(id_number="32010219950314001X")
    assert login(" 32010219950314001x ", "19950314").candidate == candidate


def test_merged_record_cannot_log_in() -> None:
    survivor = CandidateFactory()
    merged = CandidateFactory(status=Candidate.Status.MERGED, merged_into=survivor)
    with pytest.raises(LoginFailed):
        login(merged.candidate_no, "19950314")


def test_after_change_only_new_password_works() -> None:
    candidate = CandidateFactory()
    login(candidate.candidate_no, "19950314")
    account = change(candidate)
    assert account.must_change_password is False
    assert check_password(NEW_PASSWORD, account.password_hash)
    assert account.password_hash.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    with pytest.raises(LoginFailed):
        login(candidate.candidate_no, "19950314")
    assert login(candidate.candidate_no, NEW_PASSWORD).must_change_password is False


def test_wrong_password_counts_and_says_attempts_left() -> None:
    candidate = CandidateFactory()
    with pytest.raises(LoginFailed) as info:
        login(candidate.candidate_no, "wrong")
    assert info.value.code == "LOGIN_FAILED"
    assert info.value.status == 401
    assert info.value.fields == {"attempts_left": 4}
    assert str(info.value.message) == "账号或密码错误，还可尝试 4 次。"
    assert CandidateAccount.objects.get(candidate=candidate).failed_count == 1


def _attempts(identifier: str, password: str, n: int) -> list[tuple[str, int, str, dict]]:
    seen = []
    for _ in range(n):
        try:
            login(identifier, password)
            seen.append(("OK", 200, "", {}))
        except DomainError as exc:
            seen.append((exc.code, exc.status, str(exc.message), exc.fields))
    return seen


def test_lock_after_five_failures_says_until_when_and_refuses_right_password() -> None:
    candidate = CandidateFactory()
    with clock.frozen_at(T0):
        seen = _attempts(candidate.candidate_no, "wrong", 5)
        assert [s[0] for s in seen] == ["LOGIN_FAILED"] * 4 + ["ACCOUNT_LOCKED"]
        assert seen[4][1] == 423
        assert (
            seen[4][2]
            == "登录失败次数过多，账户已锁定至 2026-05-10 15:15，请届时再试或通过“找回密码”重设密码。"
        )
        with pytest.raises(AccountLocked):
            login(candidate.candidate_no, "19950314")
    assert CandidateAccount.objects.get(candidate=candidate).last_login_at is None
    with clock.frozen_at(T0 + dt.timedelta(minutes=15, seconds=1)):
        assert login(candidate.candidate_no, "19950314").candidate == candidate


@override_settings(ZIKAO_LOGIN_MAX_FAILURES=3, ZIKAO_LOGIN_LOCK_MINUTES=60)
def test_lock_settings_are_used() -> None:
    candidate = CandidateFactory()
    with clock.frozen_at(T0):
        seen = _attempts(candidate.candidate_no, "wrong", 3)
    assert [s[0] for s in seen] == ["LOGIN_FAILED", "LOGIN_FAILED", "ACCOUNT_LOCKED"]
    assert seen[2][3] == {"locked_until": "2026-05-10T16:00:00+08:00"}


def test_unknown_identifier_behaves_exactly_like_a_real_one() -> None:
    real = CandidateFactory()
    with clock.frozen_at(T0):
        real_seen = _attempts(real.candidate_no, "wrong", 7)
        fake_seen = _attempts("019999100001", "wrong", 7)
        fake_id_seen = _attempts("11010119800101001X", "wrong", 7)
    assert real_seen == fake_seen == fake_id_seen
    assert [s[0] for s in real_seen] == ["LOGIN_FAILED"] * 4 + ["ACCOUNT_LOCKED"] * 3


def test_successful_login_resets_failures() -> None:
    candidate = CandidateFactory()
    _attempts(candidate.candidate_no, "wrong", 3)
    login(candidate.candidate_no, "19950314")
    assert CandidateAccount.objects.get(candidate=candidate).failed_count == 0


def test_every_path_spends_one_argon2_verification(monkeypatch) -> None:
    calls: list[str] = []
    real_check = services.check_password

    def counting(password, encoded, *a, **kw):
        calls.append(encoded.split("$")[0])
        return real_check(password, encoded, *a, **kw)

    monkeypatch.setattr(services, "check_password", counting)
    services._dummy_hash()
    fresh, changed = CandidateFactory(), CandidateFactory()
    login(changed.candidate_no, "19950314")
    change(changed)
    for identifier, password in [
        ("019999100001", "x"),
        (fresh.candidate_no, "19950314"),
        (fresh.candidate_no, "bad"),
        (changed.candidate_no, NEW_PASSWORD),
        (changed.candidate_no, "bad"),
    ]:
        calls.clear()
        with contextlib.suppress(DomainError):
            login(identifier, password)
        assert calls == ["argon2"], identifier


def test_login_rate_limited_per_ip(monkeypatch) -> None:
    monkeypatch.setattr(services, "LOGIN_PER_IP", services.Limit("login-ip", 2, 600))
    candidate = CandidateFactory()
    login(candidate.candidate_no, "19950314")
    login(candidate.candidate_no, "19950314")
    with pytest.raises(RateLimited):
        login(candidate.candidate_no, "19950314")


# --- password change ----------------------------------------------------------------------------


def test_policy_refusal_changes_nothing() -> None:
    candidate = CandidateFactory()
    login(candidate.candidate_no, "19950314")
    before = CandidateAccount.objects.get(candidate=candidate)
    with pytest.raises(PasswordPolicyError) as info:
        change(candidate, new="ab19950314")
    assert info.value.code == "PASSWORD_CONTAINS_BIRTH_DATE"
    assert info.value.fields == {"new_password": ["PASSWORD_CONTAINS_BIRTH_DATE"]}
    after = CandidateAccount.objects.get(candidate=candidate)
    assert (after.password_hash, after.must_change_password, after.session_epoch) == (
        before.password_hash,
        True,
        before.session_epoch,
    )
    assert not AuditEvent.objects.filter(event_type="account.password_changed").exists()


def test_wrong_current_password_refused_and_counted() -> None:
    candidate = CandidateFactory()
    login(candidate.candidate_no, "19950314")
    with pytest.raises(DomainError) as info:
        change(candidate, current="nope")
    assert info.value.code == "PASSWORD_WRONG"
    account = CandidateAccount.objects.get(candidate=candidate)
    assert (account.failed_count, account.must_change_password, account.password_hash) == (1, True, "")


def test_same_password_refused() -> None:
    candidate = CandidateFactory()
    login(candidate.candidate_no, "19950314")
    change(candidate)
    with pytest.raises(DomainError) as info:
        change(candidate, current=NEW_PASSWORD, new=NEW_PASSWORD)
    assert info.value.code == "PASSWORD_UNCHANGED"


def test_change_moves_epoch_and_revokes_other_tokens_but_keeps_own() -> None:
    candidate = CandidateFactory()
    first = login(candidate.candidate_no, "19950314", channel="api")
    second = login(candidate.candidate_no, "19950314", channel="api")
    keep = token_lookup(first.token)
    epoch = CandidateAccount.objects.get(candidate=candidate).session_epoch
    change(candidate, keep_token=keep)
    assert CandidateAccount.objects.get(candidate=candidate).session_epoch == epoch + 1
    assert token_lookup(first.token) is not None
    assert token_lookup(second.token) is None
    assert ApiToken.objects.get(pk=token_lookup(first.token).pk).revoked_at is None


# --- tokens -------------------------------------------------------------------------------------


def test_token_stored_hashed_and_expires() -> None:
    candidate = CandidateFactory()
    with clock.frozen_at(T0):
        result = login(candidate.candidate_no, "19950314", channel="api")
    assert result.token_expires_at == T0 + dt.timedelta(hours=12)
    token = ApiToken.objects.get()
    assert result.token not in token.key_digest and len(token.key_digest) == 64
    with clock.frozen_at(T0 + dt.timedelta(hours=11, minutes=59)):
        assert token_lookup(result.token) == token
    with clock.frozen_at(T0 + dt.timedelta(hours=12)):
        assert token_lookup(result.token) is None


def test_lock_kills_tokens() -> None:
    candidate = CandidateFactory()
    result = login(candidate.candidate_no, "19950314", channel="api")
    _attempts(candidate.candidate_no, "wrong", 5)
    assert token_lookup(result.token) is None


# --- number lookup ------------------------------------------------------------------------------


def lookup(id_number: str, name: str, pre: bool = False):
    return services.candidate_number_lookup(
        actor=PUBLIC, id_number=id_number, name=name, pre_registration=pre
    )


def test_lookup_finds_number_and_audits_masked() -> None:
    candidate = CandidateFactory(id_number="32010219950314001X", name="李雷")
    assert lookup("32010219950314001x", "李雷") == services.LookupResult(
        "candidate_no", candidate.candidate_no
    )
    event = AuditEvent.objects.get(event_type="candidate.number_lookup")
    assert (event.actor_kind, event.ip, event.candidate) == ("public", "203.0.113.5", candidate)
    assert event.after == {
        "id_number": "320102********001X",
        "name": "李*",
        "pre_registration": False,
        "outcome": "found",
    }


@pytest.mark.parametrize(
    ("id_number", "name", "pre"),
    [
        ("32010219950314001X", "韩梅梅", False),  # right ID, wrong name
        ("110101198001010011", "李雷", False),  # unknown ID
        ("garbage", "李雷", False),
        ("32010219950314001X", "李雷", True),  # no 报名号 on record
    ],
)
def test_lookup_mismatches_are_one_generic_answer(id_number: str, name: str, pre: bool) -> None:
    CandidateFactory(id_number="32010219950314001X", name="李雷")
    with pytest.raises(LookupNoMatch) as info:
        lookup(id_number, name, pre)
    assert (info.value.code, info.value.status, str(info.value.message), info.value.fields) == (
        "LOOKUP_NO_MATCH",
        404,
        "未查询到匹配的记录，请核对证件号码和姓名。",
        {},
    )
    event = AuditEvent.objects.get(event_type="candidate.number_lookup")
    assert (event.candidate, event.after["outcome"]) == (None, "no_match")


def test_lookup_pre_registration_number() -> None:
    CandidateFactory(id_number="32010219950314001X", name="李雷", pre_registration_no="BM2026000123")
    assert lookup("32010219950314001X", "李雷", True) == services.LookupResult(
        "pre_registration_no", "BM2026000123"
    )


def test_lookup_rate_limited_per_id_number_and_audited() -> None:
    CandidateFactory(id_number="32010219950314001X", name="李雷")
    for _ in range(5):
        lookup("32010219950314001X", "李雷")
    with pytest.raises(RateLimited):
        lookup("32010219950314001X", "李雷")
    last = AuditEvent.objects.filter(event_type="candidate.number_lookup").first()
    assert last.after["outcome"] == "rate_limited"
    assert AuditEvent.objects.filter(event_type="candidate.number_lookup").count() == 6


def test_lookup_rate_limited_per_ip() -> None:
    for n in range(30):
        with pytest.raises(LookupNoMatch):
            lookup(f"1101011980010{n:04d}X", "某某")
    with pytest.raises(RateLimited):
        lookup("110101198001019999", "某某")


# --- forgotten password -------------------------------------------------------------------------


def start(candidate: Candidate, **kw):
    values = {
        "candidate_no": candidate.candidate_no,
        "id_number": candidate.id_number,
        "name": candidate.name,
    } | kw
    return services.password_reset_start(actor=PUBLIC, **values)


def sent_code() -> str:
    return re.search(r"验证码 (\d{6})", sms.outbox[-1].text).group(1)


def test_reset_full_flow(django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    _attempts(candidate.candidate_no, "wrong", 5)  # locked
    with django_capture_on_commit_callbacks(execute=True):
        challenge = start(candidate)
    assert challenge.phone_masked == "138****5678"
    assert [m.phone for m in sms.outbox] == ["13812345678"]
    code = sent_code()
    assert code not in VerificationCode.objects.get().code_hash
    services.password_reset_verify(actor=PUBLIC, challenge=challenge.challenge, code=code)
    services.password_reset_complete(actor=PUBLIC, challenge=challenge.challenge, new_password=NEW_PASSWORD)
    account = CandidateAccount.objects.get(candidate=candidate)
    assert (account.must_change_password, account.locked_until, account.failed_count) == (False, None, 0)
    assert login(candidate.candidate_no, NEW_PASSWORD).candidate == candidate
    with pytest.raises(DomainError) as info:  # used once
        services.password_reset_complete(
            actor=PUBLIC, challenge=challenge.challenge, new_password="Other2026ok"
        )
    assert info.value.code == "CODE_CHALLENGE_INVALID"


@pytest.mark.parametrize(
    "override",
    [{"candidate_no": "019999100001"}, {"id_number": "110101198001010011"}, {"name": "别人"}],
)
def test_reset_mismatch_is_generic_and_sends_nothing(override, django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError) as info:
        start(candidate, **override)
    assert (info.value.code, str(info.value.message)) == (
        "RESET_NO_MATCH",
        "信息不匹配，请核对准考证号、证件号码和姓名。",
    )
    assert sms.outbox == []
    assert not VerificationCode.objects.exists()


def test_reset_without_phone() -> None:
    candidate = CandidateFactory(phone="")
    with pytest.raises(DomainError) as info:
        start(candidate)
    assert info.value.code == "RESET_NO_PHONE"


def test_reset_wrong_code_attempts_then_exhausted(django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    with django_capture_on_commit_callbacks(execute=True):
        challenge = start(candidate)
    code = sent_code()
    wrong = "000000" if code != "000000" else "111111"
    seen = []
    for _ in range(5):
        with pytest.raises(DomainError) as info:
            services.password_reset_verify(actor=PUBLIC, challenge=challenge.challenge, code=wrong)
        seen.append((info.value.code, info.value.fields.get("attempts_left")))
    assert seen == [
        ("CODE_WRONG", 4),
        ("CODE_WRONG", 3),
        ("CODE_WRONG", 2),
        ("CODE_WRONG", 1),
        ("CODE_ATTEMPTS_EXCEEDED", None),
    ]
    with pytest.raises(DomainError) as info:  # even the right code is refused now
        services.password_reset_verify(actor=PUBLIC, challenge=challenge.challenge, code=code)
    assert info.value.code == "CODE_ATTEMPTS_EXCEEDED"
    with pytest.raises(DomainError) as info:
        services.password_reset_complete(
            actor=PUBLIC, challenge=challenge.challenge, new_password=NEW_PASSWORD
        )
    assert info.value.code == "CODE_NOT_VERIFIED"
    assert not CandidateAccount.objects.filter(candidate=candidate).exists()


def test_reset_code_expires_after_ten_minutes(django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    with clock.frozen_at(T0), django_capture_on_commit_callbacks(execute=True):
        challenge = start(candidate)
    assert challenge.expires_at == T0 + dt.timedelta(minutes=10)
    with clock.frozen_at(T0 + dt.timedelta(minutes=10)), pytest.raises(DomainError) as info:
        services.password_reset_verify(actor=PUBLIC, challenge=challenge.challenge, code=sent_code())
    assert info.value.code == "CODE_EXPIRED"


def test_new_code_replaces_old(django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    with django_capture_on_commit_callbacks(execute=True):
        first = start(candidate)
    first_code = sent_code()
    with django_capture_on_commit_callbacks(execute=True):
        start(candidate)
    with pytest.raises(DomainError) as info:
        services.password_reset_verify(actor=PUBLIC, challenge=first.challenge, code=first_code)
    assert info.value.code == "CODE_EXPIRED"


def test_complete_requires_verification_and_policy(django_capture_on_commit_callbacks) -> None:
    candidate = CandidateFactory(phone="13812345678")
    with django_capture_on_commit_callbacks(execute=True):
        challenge = start(candidate)
    with pytest.raises(DomainError) as info:
        services.password_reset_complete(
            actor=PUBLIC, challenge=challenge.challenge, new_password=NEW_PASSWORD
        )
    assert info.value.code == "CODE_NOT_VERIFIED"
    services.password_reset_verify(actor=PUBLIC, challenge=challenge.challenge, code=sent_code())
    with pytest.raises(PasswordPolicyError):
        services.password_reset_complete(actor=PUBLIC, challenge=challenge.challenge, new_password="short")
    assert VerificationCode.objects.get().used_at is None


def test_sms_backend_setting_is_used(django_capture_on_commit_callbacks) -> None:
    sent: list[tuple[str, str]] = []

    class Recording:
        def send(self, phone: str, text: str) -> None:
            sent.append((phone, text))

    candidate = CandidateFactory(phone="13812345678")
    with (
        override_settings(ZIKAO_SMS_BACKEND="tests.accounts.test_services.RecordingBackend"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        RecordingBackend.sent = sent
        start(candidate)
    assert [p for p, _ in sent] == ["13812345678"]
    assert sms.outbox == []


class RecordingBackend:
    sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))


def test_demo_backend_logs_masked_phone(caplog) -> None:
    with caplog.at_level("INFO", logger="zikao.sms"):
        sms.LogSmsBackend().send("13812345678", "验证码 123456")
    assert "138****5678" in caplog.text and "13812345678" not in caplog.text
    assert sms.outbox[-1] == sms.SmsMessage("13812345678", "验证码 123456")
