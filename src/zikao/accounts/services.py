"""Writes of candidate sign-in: number lookup, login, password change and reset, API tokens.

Front doors check the captcha, then call these. Failures that must be remembered (a wrong
password counts towards the lock, a wrong code uses up an attempt, every lookup is audited)
are written in their own transaction and then refused; nothing else is written on a refusal.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from zikao.accounts import rules
from zikao.accounts.errors import AccountLocked, LoginFailed, LookupNoMatch, PasswordPolicyError
from zikao.accounts.models import ApiToken, CandidateAccount, VerificationCode
from zikao.accounts.selectors import (
    account_of,
    candidate_for_sign_in,
    candidates_by_id_number,
    token_digest,
)
from zikao.accounts.session_cache import account_changed
from zikao.accounts.sms import send_sms
from zikao.candidates.models import Candidate
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, ValidationFailed
from zikao.core.masking import mask_id_number, mask_name, mask_phone
from zikao.core.ratelimit import Limit, RateLimited, hit

# Guessing budgets (per fixed window). Generous for people, tight for scripts.
LOOKUP_PER_IP = Limit("lookup-ip", 30, 3600)
LOOKUP_PER_ID = Limit("lookup-id", 5, 3600)
LOGIN_PER_IP = Limit("login-ip", 120, 600)
RESET_PER_IP = Limit("reset-ip", 10, 3600)
RESET_PER_CANDIDATE = Limit("reset-no", 5, 3600)
PHONE_CODE_PER_CANDIDATE = Limit("phone-code", 5, 3600)

# A failure counter of an identifier that names no record lives this long in the cache.
UNKNOWN_FAILURE_TTL = 30 * 24 * 3600


def login_max_failures() -> int:
    return int(getattr(settings, "ZIKAO_LOGIN_MAX_FAILURES", 5))


def login_lock_minutes() -> int:
    return int(getattr(settings, "ZIKAO_LOGIN_LOCK_MINUTES", 15))


def api_token_hours() -> int:
    return int(getattr(settings, "ZIKAO_API_TOKEN_HOURS", 12))


def sms_code_minutes() -> int:
    return int(getattr(settings, "ZIKAO_SMS_CODE_MINUTES", 10))


def sms_code_max_attempts() -> int:
    return int(getattr(settings, "ZIKAO_SMS_CODE_MAX_ATTEMPTS", 5))


def _subject_hash(value: str) -> str:
    """Keyed hash of an identifier, so cache keys and rate-limit keys hold no personal data."""
    return salted_hmac("zikao.accounts.subject", value).hexdigest()[:32]


def _local(instant: datetime) -> str:
    return timezone.localtime(instant).strftime("%Y-%m-%d %H:%M")


def _locked_error(until: datetime) -> AccountLocked:
    return AccountLocked(
        "ACCOUNT_LOCKED",
        _("登录失败次数过多，账户已锁定至 %(until)s，请届时再试或通过“找回密码”重设密码。")
        % {"until": _local(until)},
        {"locked_until": timezone.localtime(until).isoformat()},
    )


def _login_failed_error(attempts_left: int) -> LoginFailed:
    return LoginFailed(
        "LOGIN_FAILED",
        _("账号或密码错误，还可尝试 %(left)d 次。") % {"left": attempts_left},
        {"attempts_left": attempts_left},
    )


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash with the production hasher that no password matches: spent on every path."""
    return make_password(secrets.token_urlsafe(24))


def _verify(candidate: Candidate | None, account: CandidateAccount | None, password: str) -> bool:
    """Exactly one Argon2 verification whatever the case, so timing does not tell them apart."""
    if candidate is not None and account is not None and account.password_hash:
        return check_password(password, account.password_hash)
    check_password(password, _dummy_hash())
    if candidate is None:
        return False
    return constant_time_compare(password, rules.first_password(candidate.birth_date))


def _get_or_create_account(candidate: Candidate) -> CandidateAccount:
    """The account row, locked for update (created with the first password in force)."""
    # Nearly every sign-in has the row already: lock it in one query (release-hour logins).
    account = CandidateAccount.objects.select_for_update().filter(candidate=candidate).first()
    if account is not None:
        candidate.account = account
        return account
    try:
        with transaction.atomic():
            CandidateAccount.objects.get_or_create(candidate=candidate, defaults={"created_at": clock.now()})
    except IntegrityError:  # created concurrently
        pass
    account = CandidateAccount.objects.select_for_update().get(candidate=candidate)
    candidate.account = account  # the caller's instance sees the fresh row
    return account


def _fresh_account(candidate: Candidate) -> CandidateAccount | None:
    return CandidateAccount.objects.filter(candidate=candidate).first()


def _revoke_tokens(candidate: Candidate, *, keep: ApiToken | None = None) -> int:
    qs = ApiToken.objects.filter(candidate=candidate, revoked_at__isnull=True)
    if keep is not None:
        qs = qs.exclude(pk=keep.pk)
    revoked = qs.update(revoked_at=clock.now())
    account_changed(candidate.pk)  # update() sends no signal: drop the cached token rows
    return revoked


# --- number lookup (考籍号查询) ------------------------------------------------------------------


@dataclass(frozen=True)
class LookupResult:
    kind: str  # "candidate_no" | "pre_registration_no"
    number: str


def candidate_number_lookup(
    *, actor: Actor, id_number: str, name: str, pre_registration: bool
) -> LookupResult:
    """ID number + name → the candidate number (or, with `pre_registration`, the 报名号).

    Any mismatch — unknown ID, other name, no 报名号 on record — is the one LOOKUP_NO_MATCH (404),
    which says nothing about whether the ID exists. RATE_LIMITED (429) per IP and per ID number.
    Every attempt, refused or not, is one `candidate.number_lookup` audit event (ID masked).
    """
    number = (id_number or "").replace(" ", "").replace("-", "").upper()[:32]
    name = (name or "").strip()[:50]
    outcome = "no_match"
    found: Candidate | None = None
    try:
        hit(LOOKUP_PER_IP, actor.ip or "-")
        hit(LOOKUP_PER_ID, _subject_hash(number))
        if number and name:
            found = next((c for c in candidates_by_id_number(number) if c.name == name), None)
        result: LookupResult | None = None
        if found is not None:
            if pre_registration and found.pre_registration_no:
                result = LookupResult("pre_registration_no", found.pre_registration_no)
            elif not pre_registration:
                result = LookupResult("candidate_no", found.candidate_no)
        elif pre_registration and number and name:  # a pending online registration (新生报名)
            from zikao.candidates.registration_selectors import pending_pre_registration_no

            pending = pending_pre_registration_no(number, name)
            result = LookupResult("pre_registration_no", pending) if pending else None
        outcome = "found" if result is not None else "no_match"
    except RateLimited:
        outcome = "rate_limited"
        raise
    finally:
        with transaction.atomic():
            audit_record(
                actor=actor,
                event_type="candidate.number_lookup",
                subject_type="candidates.candidate",
                subject_id=found.pk if (found is not None and outcome == "found") else "",
                candidate=found if outcome == "found" else None,
                after={
                    "id_number": mask_id_number(number),
                    "name": mask_name(name),
                    "pre_registration": bool(pre_registration),
                    "outcome": outcome,
                },
            )
    if result is None:
        raise LookupNoMatch("LOOKUP_NO_MATCH", _("未查询到匹配的记录，请核对证件号码和姓名。"))
    return result


# --- login ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    candidate: Candidate
    account: CandidateAccount
    must_change_password: bool
    token: str | None = None  # the raw bearer token (API channel only; shown once)
    token_expires_at: datetime | None = None


def _unknown_key(identifier: rules.Identifier) -> str:
    return f"login-fail:{_subject_hash(identifier.kind + ':' + identifier.value)}"


def candidate_login(*, actor: Actor, identifier: str, password: str, channel: str = "web") -> LoginResult:
    """Sign a candidate in with candidate number or document number + password.

    Without an account row the password is the birth date (YYYYMMDD); the row is created on the
    first success with `must_change_password`. Refuses LOGIN_FAILED (401, attempts left) for any
    wrong identifier or password, ACCOUNT_LOCKED (423, until when) after
    ZIKAO_LOGIN_MAX_FAILURES failures for ZIKAO_LOGIN_LOCK_MINUTES, RATE_LIMITED (429) per IP.
    An identifier naming no record is counted and locked the same way (in the cache), so the
    answers never tell whether it exists. `channel="api"` also issues a bearer token.
    """
    hit(LOGIN_PER_IP, actor.ip or "-")
    now = clock.now()
    parsed = rules.parse_identifier(identifier)
    candidate = candidate_for_sign_in(parsed) if parsed is not None else None
    account = account_of(candidate) if candidate is not None else None
    max_failures, lock_minutes = login_max_failures(), login_lock_minutes()
    masked = (
        ""
        if parsed is None
        else parsed.value
        if parsed.kind == "candidate_no"
        else mask_id_number(parsed.value)
    )

    if candidate is None:
        key = _unknown_key(parsed) if parsed else "login-fail:-"
        state = cache.get(key) or {"count": 0, "locked_until": None}
        locked_until = datetime.fromisoformat(state["locked_until"]) if state["locked_until"] else None
        if rules.is_locked(locked_until, now):
            assert locked_until is not None
            _audit_login(actor, None, "locked", masked, channel)
            raise _locked_error(locked_until)
        _verify(None, None, password or "")
        outcome = rules.after_failure(
            state["count"], now=now, max_failures=max_failures, lock_minutes=lock_minutes
        )
        cache.set(
            key,
            {
                "count": outcome.failed_count,
                "locked_until": outcome.locked_until.isoformat() if outcome.locked_until else None,
            },
            UNKNOWN_FAILURE_TTL,
        )
        _audit_login(actor, None, "locked_now" if outcome.locked_until else "failed", masked, channel)
        if outcome.locked_until is not None:
            raise _locked_error(outcome.locked_until)
        raise _login_failed_error(max_failures - outcome.failed_count)

    if account is not None and rules.is_locked(account.locked_until, now):
        assert account.locked_until is not None
        _audit_login(actor, candidate, "locked", masked, channel)
        raise _locked_error(account.locked_until)

    ok = _verify(candidate, account, password or "")
    if ok and account is not None:
        done = _succeed_fast(actor, candidate, account, now, masked, channel)
        if done is not None:
            return done
    with transaction.atomic():
        account = _get_or_create_account(candidate)
        if rules.is_locked(account.locked_until, now):  # locked by a concurrent attempt
            assert account.locked_until is not None
            locked_error = _locked_error(account.locked_until)
            ok = False
        else:
            locked_error = None
        if ok:
            account.failed_count = 0
            account.locked_until = None
            account.last_login_at = now
            account.save(update_fields=["failed_count", "locked_until", "last_login_at"])
            raw_token, expires_at = (None, None)
            if channel == "api":
                raw_token, expires_at = _issue_token(candidate, account)
            _audit_login(actor, candidate, "success", masked, channel)
            return LoginResult(candidate, account, account.must_change_password, raw_token, expires_at)
        if locked_error is None:
            outcome = rules.after_failure(
                account.failed_count, now=now, max_failures=max_failures, lock_minutes=lock_minutes
            )
            account.failed_count = outcome.failed_count
            update = ["failed_count"]
            if outcome.locked_until is not None:
                account.locked_until = outcome.locked_until
                account.session_epoch += 1  # a lock ends every open session and token
                update += ["locked_until", "session_epoch"]
            account.save(update_fields=update)
            _audit_login(
                actor, candidate, "locked_now" if outcome.locked_until else "failed", masked, channel
            )
            if outcome.locked_until is not None:
                locked_error = _locked_error(outcome.locked_until)
    if locked_error is not None:
        raise locked_error
    raise _login_failed_error(max_failures - outcome.failed_count)


def _succeed_fast(
    actor: Actor, candidate: Candidate, account: CandidateAccount, now: datetime, masked: str, channel: str
) -> LoginResult | None:
    """The usual sign-in (the row exists, not locked, right password) in one conditional UPDATE
    instead of locking the row and then writing it: release-hour logins are sized by their CPU.

    The UPDATE matches only while the row is not locked at `now`, so a lock set concurrently wins
    exactly as under the row lock (None: the caller takes the locking path). `session_epoch` and
    `must_change_password` come from the row read before; if a password change or lock moved
    the epoch in between, the token issued here carries the old epoch and is refused on first
    use (fails closed)."""
    with transaction.atomic():
        updated = (
            CandidateAccount.objects.filter(candidate_id=candidate.pk)
            .exclude(locked_until__gt=now)
            .update(failed_count=0, locked_until=None, last_login_at=now)
        )
        if updated != 1:
            return None
        account.failed_count, account.locked_until, account.last_login_at = 0, None, now
        raw_token, expires_at = (None, None)
        if channel == "api":
            raw_token, expires_at = _issue_token(candidate, account)
        _audit_login(actor, candidate, "success", masked, channel)
    return LoginResult(candidate, account, account.must_change_password, raw_token, expires_at)


def _audit_login(actor: Actor, candidate: Candidate | None, outcome: str, masked: str, channel: str) -> None:
    # Inside the sign-in's transaction no savepoint is needed: a failed insert fails it all.
    with transaction.atomic(savepoint=False):
        audit_record(
            actor=Actor.candidate(candidate, ip=actor.ip) if candidate and outcome == "success" else actor,
            event_type="account.login" if outcome == "success" else "account.login_failed",
            subject_type="accounts.candidateaccount",
            subject_id=candidate.pk if candidate else "",
            candidate=candidate,
            after={"identifier": masked, "outcome": outcome, "channel": channel},
        )


def _issue_token(candidate: Candidate, account: CandidateAccount) -> tuple[str, datetime]:
    raw = secrets.token_urlsafe(32)
    now = clock.now()
    expires_at = now + timedelta(hours=api_token_hours())
    ApiToken.objects.create(
        candidate=candidate,
        key_digest=token_digest(raw),
        session_epoch=account.session_epoch,
        created_at=now,
        expires_at=expires_at,
    )
    return raw, expires_at


@transaction.atomic
def candidate_logout(*, actor: Actor, candidate: Candidate, token: ApiToken | None = None) -> None:
    """Record a sign-out; with `token` (API), revoke that token. Never refuses."""
    if token is not None and token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        event_type="account.logout",
        subject_type="accounts.candidateaccount",
        subject_id=candidate.pk,
        candidate=candidate,
        after={"channel": "api" if token is not None else "web"},
    )


# --- password change ---------------------------------------------------------------------------


def check_new_password(candidate: Candidate, new_password: str) -> None:
    """Refuse a new password that breaks the policy (PasswordPolicyError, one message per rule)."""
    problems = rules.password_problems(
        new_password or "",
        birth_date=candidate.birth_date,
        id_number=candidate.id_number,
        candidate_no=candidate.candidate_no,
    )
    if problems:
        raise PasswordPolicyError(problems)


def _set_password(account: CandidateAccount, new_password: str, *, keep: ApiToken | None) -> None:
    now = clock.now()
    account.password_hash = make_password(new_password)
    account.must_change_password = False
    account.password_changed_at = now
    account.failed_count = 0
    account.locked_until = None
    account.session_epoch += 1
    account.save(
        update_fields=[
            "password_hash",
            "must_change_password",
            "password_changed_at",
            "failed_count",
            "locked_until",
            "session_epoch",
        ]
    )
    _revoke_tokens(account.candidate, keep=keep)
    if keep is not None:
        keep.session_epoch = account.session_epoch
        keep.save(update_fields=["session_epoch"])


def candidate_password_change(
    *,
    actor: Actor,
    candidate: Candidate,
    current_password: str,
    new_password: str,
    keep_token: ApiToken | None = None,
) -> CandidateAccount:
    """Change the password (also the forced change after the first login).

    Refuses PASSWORD_WRONG (400) when the current password is wrong (it counts towards the lock,
    ACCOUNT_LOCKED), PASSWORD_UNCHANGED, and the policy codes (PASSWORD_TOO_SHORT, …). On success
    every other session and token ends (the epoch moves on; `keep_token` survives); the caller
    starts a new session for the current browser.
    """
    account = _fresh_account(candidate)
    if account is not None and rules.is_locked(account.locked_until, clock.now()):
        assert account.locked_until is not None
        raise _locked_error(account.locked_until)
    if not _verify(candidate, account, current_password or ""):
        locked_until = None
        with transaction.atomic():
            account = _get_or_create_account(candidate)
            outcome = rules.after_failure(
                account.failed_count,
                now=clock.now(),
                max_failures=login_max_failures(),
                lock_minutes=login_lock_minutes(),
            )
            account.failed_count = outcome.failed_count
            if outcome.locked_until is not None:
                account.locked_until = locked_until = outcome.locked_until
                account.session_epoch += 1
            account.save(update_fields=["failed_count", "locked_until", "session_epoch"])
            audit_record(
                actor=actor,
                event_type="account.password_change_failed",
                subject=account,
                candidate=candidate,
                after={"outcome": "locked_now" if locked_until else "wrong_password"},
            )
        if locked_until is not None:
            raise _locked_error(locked_until)
        raise ValidationFailed(
            "PASSWORD_WRONG",
            _("当前密码不正确。"),
            {
                "current_password": ["PASSWORD_WRONG"],
                "attempts_left": login_max_failures() - outcome.failed_count,
            },
        )
    check_new_password(candidate, new_password)
    if constant_time_compare(current_password, new_password or ""):
        raise ValidationFailed(
            "PASSWORD_UNCHANGED", _("新密码不能与当前密码相同。"), {"new_password": ["PASSWORD_UNCHANGED"]}
        )
    with transaction.atomic():
        account = _get_or_create_account(candidate)
        was_forced = account.must_change_password
        _set_password(account, new_password, keep=keep_token)
        audit_record(
            actor=actor,
            event_type="account.password_changed",
            subject=account,
            candidate=candidate,
            before={"must_change_password": was_forced},
            after={"must_change_password": False, "session_epoch": account.session_epoch},
        )
    return account


# --- verification codes by SMS -----------------------------------------------------------------


@dataclass(frozen=True)
class CodeChallenge:
    challenge: str  # random, handed to the browser session or the app; only its digest is stored
    phone_masked: str
    expires_at: datetime


def _code_hash(challenge_digest: str, code: str) -> str:
    return salted_hmac("zikao.accounts.code", f"{challenge_digest}:{code}").hexdigest()


def code_issue(
    *, candidate: Candidate, purpose: str, phone: str, text: str | Promise
) -> tuple[VerificationCode, CodeChallenge]:
    """Create a 6-digit code for `purpose` and send `text % {"code": …}` to `phone` after commit.

    Earlier open codes of the same purpose stop working. Call inside the caller's transaction.
    """
    now = clock.now()
    VerificationCode.objects.filter(
        candidate=candidate, purpose=purpose, used_at__isnull=True, expires_at__gt=now
    ).update(expires_at=now)
    raw = secrets.token_urlsafe(32)
    digest = token_digest(raw)
    code = f"{secrets.randbelow(10**6):06d}"
    record = VerificationCode.objects.create(
        candidate=candidate,
        purpose=purpose,
        challenge_digest=digest,
        code_hash=_code_hash(digest, code),
        phone=phone,
        created_at=now,
        expires_at=now + timedelta(minutes=sms_code_minutes()),
    )
    message = str(text) % {"code": code, "minutes": sms_code_minutes()}
    transaction.on_commit(lambda: send_sms(phone, message))
    return record, CodeChallenge(raw, mask_phone(phone), record.expires_at)


def _challenge_invalid() -> DomainError:
    return DomainError("CODE_CHALLENGE_INVALID", _("验证已失效，请重新获取验证码。"))


def code_check(
    *, purpose: str, challenge: str, code: str, candidate: Candidate | None = None
) -> VerificationCode:
    """Check a code against its challenge and mark it verified.

    Refuses CODE_CHALLENGE_INVALID (unknown, used, or another candidate's), CODE_EXPIRED,
    CODE_ATTEMPTS_EXCEEDED, and CODE_WRONG (attempts left; the attempt is recorded).
    """
    record = (
        VerificationCode.objects.filter(challenge_digest=token_digest(challenge or ""), purpose=purpose)
        .select_related("candidate")
        .first()
    )
    if (
        record is None
        or record.used_at is not None
        or (candidate is not None and record.candidate_id != candidate.pk)
    ):
        raise _challenge_invalid()
    if record.expires_at <= clock.now():
        raise DomainError("CODE_EXPIRED", _("验证码已过期，请重新获取。"))
    max_attempts = sms_code_max_attempts()
    if record.attempts >= max_attempts:
        raise DomainError("CODE_ATTEMPTS_EXCEEDED", _("验证码错误次数过多，请重新获取。"))
    normalized = (code or "").strip()
    if not hmac.compare_digest(_code_hash(record.challenge_digest, normalized), record.code_hash):
        with transaction.atomic():
            VerificationCode.objects.filter(pk=record.pk).update(attempts=record.attempts + 1)
        left = max_attempts - record.attempts - 1
        if left <= 0:
            raise DomainError("CODE_ATTEMPTS_EXCEEDED", _("验证码错误次数过多，请重新获取。"))
        raise DomainError(
            "CODE_WRONG", _("验证码不正确，还可尝试 %(left)d 次。") % {"left": left}, {"attempts_left": left}
        )
    if record.verified_at is None:
        record.verified_at = clock.now()
        record.save(update_fields=["verified_at"])
    return record


def _consume(record: VerificationCode) -> None:
    record.used_at = clock.now()
    record.save(update_fields=["used_at"])


# --- forgotten password --------------------------------------------------------------------------

RESET_SMS_TEXT = _(
    "【自考】您正在找回考生个人空间密码，验证码 %(code)s，%(minutes)s 分钟内有效。如非本人操作请忽略。"
)


def password_reset_start(*, actor: Actor, candidate_no: str, id_number: str, name: str) -> CodeChallenge:
    """Step 1 of 找回密码: candidate number + ID number + name → a code to the bound phone.

    Refuses RESET_NO_MATCH for any mismatch (one answer), RESET_NO_PHONE when no phone is bound
    (the office resets it), RATE_LIMITED per IP and per candidate number. Audited either way.
    """
    number = (candidate_no or "").strip()[:20]
    hit(RESET_PER_IP, actor.ip or "-")
    hit(RESET_PER_CANDIDATE, _subject_hash(number))
    doc = (id_number or "").replace(" ", "").upper()
    candidate = (
        Candidate.objects.filter(candidate_no=number).exclude(status=Candidate.Status.MERGED).first()
        if number
        else None
    )
    matches = (
        candidate is not None
        and constant_time_compare(candidate.id_number.upper(), doc)
        and candidate.name == (name or "").strip()
    )
    if not matches or candidate is None:
        with transaction.atomic():
            audit_record(
                actor=actor,
                event_type="account.password_reset_requested",
                subject_type="accounts.candidateaccount",
                subject_id="",
                after={"candidate_no": number, "id_number": mask_id_number(doc), "outcome": "no_match"},
            )
        raise DomainError("RESET_NO_MATCH", _("信息不匹配，请核对准考证号、证件号码和姓名。"))
    if not candidate.phone:
        with transaction.atomic():
            audit_record(
                actor=actor,
                event_type="account.password_reset_requested",
                subject_type="accounts.candidateaccount",
                subject_id=candidate.pk,
                candidate=candidate,
                after={"outcome": "no_phone"},
            )
        raise DomainError(
            "RESET_NO_PHONE", _("您的考籍未绑定手机号码，请携带身份证件到所在县(区)考办重置密码。")
        )
    with transaction.atomic():
        _record, challenge = code_issue(
            candidate=candidate,
            purpose=VerificationCode.Purpose.PASSWORD_RESET,
            phone=candidate.phone,
            text=RESET_SMS_TEXT,
        )
        audit_record(
            actor=actor,
            event_type="account.password_reset_requested",
            subject_type="accounts.candidateaccount",
            subject_id=candidate.pk,
            candidate=candidate,
            after={"outcome": "code_sent", "phone": challenge.phone_masked},
        )
    return challenge


def password_reset_verify(*, actor: Actor, challenge: str, code: str) -> None:
    """Step 2: the code from the SMS. Refuses the CODE_* codes of `code_check`."""
    record = code_check(purpose=VerificationCode.Purpose.PASSWORD_RESET, challenge=challenge, code=code)
    with transaction.atomic():
        audit_record(
            actor=actor,
            event_type="account.password_reset_verified",
            subject_type="accounts.candidateaccount",
            subject_id=record.candidate_id,
            candidate=record.candidate,
            after={"code": record.pk},
        )


def password_reset_complete(*, actor: Actor, challenge: str, new_password: str) -> Candidate:
    """Step 3: a new password (same policy) for a verified, unused, unexpired challenge.

    Refuses CODE_CHALLENGE_INVALID / CODE_EXPIRED / CODE_NOT_VERIFIED and the policy codes.
    Unlocks the account and ends every session and token.
    """
    record = (
        VerificationCode.objects.filter(
            challenge_digest=token_digest(challenge or ""), purpose=VerificationCode.Purpose.PASSWORD_RESET
        )
        .select_related("candidate")
        .first()
    )
    if record is None or record.used_at is not None:
        raise _challenge_invalid()
    if record.expires_at <= clock.now():
        raise DomainError("CODE_EXPIRED", _("验证码已过期，请重新获取。"))
    if record.verified_at is None:
        raise DomainError("CODE_NOT_VERIFIED", _("请先输入短信验证码。"))
    candidate = record.candidate
    check_new_password(candidate, new_password)
    with transaction.atomic():
        locked = VerificationCode.objects.select_for_update().get(pk=record.pk)
        if locked.used_at is not None:
            raise _challenge_invalid()
        _consume(locked)
        account = _get_or_create_account(candidate)
        was_locked = rules.is_locked(account.locked_until, clock.now())
        _set_password(account, new_password, keep=None)
        audit_record(
            actor=actor,
            event_type="account.password_reset",
            subject=account,
            candidate=candidate,
            before={"locked": was_locked},
            after={"must_change_password": False, "session_epoch": account.session_epoch},
        )
    return candidate


# --- office: password back to the first password (issue 4, record administration) ---------------


def candidate_password_reset_to_default(*, actor: Actor, candidate: Candidate) -> CandidateAccount:
    """The office puts the candidate's password back to the first password (birth date YYYYMMDD).

    For a candidate at the counter who cannot use the SMS reset (no phone bound, phone lost).
    The own password hash is cleared (empty = first password in force), the password must be
    changed at the next sign-in, the lock and failure counter are cleared, and every session and
    API token ends (the epoch moves on; tokens are revoked). Refuses PERMISSION_DENIED (403)
    without `records.change`, NOT_FOUND for a record outside the staff user's scope, and
    PASSWORD_RESET_RECORD_CLOSED (409) for a merged record (it can no longer sign in).
    One `account.password_reset_by_office` event.
    """
    from zikao.accounts.permissions import Perm, PermissionDenied, require_candidate_in_scope, require_perm

    if actor.kind != "staff" or actor.user is None:
        raise PermissionDenied(Perm.RECORDS_CHANGE)
    require_perm(actor.user, Perm.RECORDS_CHANGE)
    require_candidate_in_scope(actor.user, candidate)
    with transaction.atomic():
        current = Candidate.objects.select_for_update().get(pk=candidate.pk)
        if current.status == Candidate.Status.MERGED:
            error = DomainError(
                "PASSWORD_RESET_RECORD_CLOSED", _("该准考证号已合并撤销，不能登录，无需重置密码。")
            )
            error.status = 409
            raise error
        account = _get_or_create_account(current)
        now = clock.now()
        before = {
            "first_password_in_force": not account.password_hash,
            "must_change_password": account.must_change_password,
            "locked": rules.is_locked(account.locked_until, now),
            "session_epoch": account.session_epoch,
        }
        account.password_hash = ""
        account.must_change_password = True
        account.failed_count = 0
        account.locked_until = None
        account.password_changed_at = now
        account.session_epoch += 1
        account.save(
            update_fields=[
                "password_hash",
                "must_change_password",
                "failed_count",
                "locked_until",
                "password_changed_at",
                "session_epoch",
            ]
        )
        revoked = _revoke_tokens(current)
        audit_record(
            actor=actor,
            event_type="account.password_reset_by_office",
            subject=account,
            candidate=current,
            before=before,
            after={
                "first_password_in_force": True,
                "must_change_password": True,
                "locked": False,
                "session_epoch": account.session_epoch,
                "tokens_revoked": revoked,
            },
        )
    candidate.account = account
    return account
