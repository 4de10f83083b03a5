"""Writes of staff accounts: sign-in (password, then TOTP), second-factor enrolment, and the
staff administration of an office (create, roles, unlock, second-factor reset, (de)activation,
password reset).

Sign-in. `staff_login_password` checks the first factor; the front door keeps the user id as
"password passed" and only signs the user in (django.contrib.auth + django_otp) after
`staff_login_totp` or `staff_totp_enrol_confirm` accepts a TOTP code. Wrong passwords and wrong
codes count towards one lock (ZIKAO_STAFF_LOGIN_MAX_FAILURES failures lock the account for
ZIKAO_STAFF_LOCK_MINUTES). A username naming no account is counted and locked the same way in
the cache, and spends the same Argon2 verification, so the answers never tell whether it exists.
Failures that must be remembered are written in their own transaction, then refused.

Administration. Every change takes the acting staff user (`actor.user`), checks
`Perm.STAFF_MANAGE` and that the target lies in the actor's office subtree (an out-of-scope or
missing user is the same NOT_FOUND), refuses changes to the actor's own account and to
superusers (technical accounts are kept in the system admin), and writes one audit event with
before/after.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from zikao.accounts import rules
from zikao.accounts.models import Office, StaffRole, User
from zikao.accounts.permissions import (
    ROLE_LABELS,
    Perm,
    PermissionDenied,
    office_in_scope,
    require_perm,
)
from zikao.accounts.selectors_staff import (
    confirmed_totp_device,
    staff_in_scope,
    totp_status,
    user_for_sign_in,
)
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.core.ratelimit import Limit, hit

# Guessing budgets (fixed windows). An office behind one NAT address signs in together at 8:30,
# so the per-address budget is generous; the per-username budget is far above the lock.
STAFF_LOGIN_PER_IP = Limit("staff-login-ip", 100, 600)
STAFF_LOGIN_PER_USER = Limit("staff-login-user", 20, 600)

# A failure counter of a username naming no account lives this long in the cache.
UNKNOWN_FAILURE_TTL = 30 * 24 * 3600

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,31}$")
NAME_MAX_LENGTH = 30


def staff_max_failures() -> int:
    return int(getattr(settings, "ZIKAO_STAFF_LOGIN_MAX_FAILURES", 5))


def staff_lock_minutes() -> int:
    return int(getattr(settings, "ZIKAO_STAFF_LOCK_MINUTES", 30))


# --- refusals -------------------------------------------------------------------------------------


class StaffLoginFailed(DomainError):
    """Wrong username or password, or a wrong TOTP code (attempts left in `fields`)."""

    status = 401


class StaffLocked(DomainError):
    status = 423


class StaffSignInRefused(DomainError):
    """The account may not sign in (inactive, no office) or the half-finished sign-in is gone."""

    status = 403


class StaffTotpThrottled(DomainError):
    status = 429


class StaffChangeRefused(DomainError):
    """An administration change the rules forbid (own account, superuser, nothing to change)."""

    status = 409


def _local(instant: datetime) -> str:
    return timezone.localtime(instant).strftime("%Y-%m-%d %H:%M")


def _locked_error(until: datetime) -> StaffLocked:
    return StaffLocked(
        "STAFF_LOCKED",
        _("登录失败次数过多，账户已锁定至 %(until)s，请届时再试或联系本单位用户管理员解锁。")
        % {"until": _local(until)},
        {"locked_until": timezone.localtime(until).isoformat()},
    )


def _login_failed_error(left: int) -> StaffLoginFailed:
    return StaffLoginFailed(
        "STAFF_LOGIN_FAILED",
        _("用户名或密码错误，还可尝试 %(left)d 次。") % {"left": left},
        {"attempts_left": left},
    )


def _totp_wrong_error(left: int) -> StaffLoginFailed:
    return StaffLoginFailed(
        "STAFF_TOTP_WRONG",
        _("动态验证码不正确，还可尝试 %(left)d 次。") % {"left": left},
        {"attempts_left": left},
    )


def _disabled_error() -> StaffSignInRefused:
    return StaffSignInRefused(
        "STAFF_ACCOUNT_DISABLED", _("该账户已停用或未分配所属考办，不能登录。请联系本单位用户管理员。")
    )


def _expired_error() -> StaffSignInRefused:
    return StaffSignInRefused("STAFF_LOGIN_EXPIRED", _("登录已超时，请重新输入用户名和密码。"))


# --- sign-in ----------------------------------------------------------------------------------------


def _subject_hash(value: str) -> str:
    """Keyed hash of a username, so cache and rate-limit keys hold no typed text."""
    return salted_hmac("zikao.accounts.staff", value).hexdigest()[:32]


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash with the production hasher that no password matches: spent on every refusal path."""
    return make_password(secrets.token_urlsafe(24))


def _check_password(user: User | None, password: str) -> bool:
    """Exactly one hasher run whatever the case (unknown user, unusable password, real check)."""
    if user is None or not user.has_usable_password():
        check_password(password, _dummy_hash())
        return False
    return user.check_password(password)


def _can_sign_in(user: User) -> bool:
    return user.is_active and user.office_id is not None


def _audit_failure(actor: Actor, user: User | None, username: str, outcome: str, **extra) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            event_type="staff.locked" if outcome == "locked_now" else "staff.login_failed",
            subject_type="accounts.user",
            subject_id=user.pk if user is not None else "",
            after={"username": username[:64], "outcome": outcome, **extra},
        )


def _unknown_key(username: str) -> str:
    return f"staff-login-fail:{_subject_hash(username.lower())}"


def _fail_unknown(actor: Actor, username: str) -> DomainError:
    """Count a failure of a username naming no account, exactly as for a real one."""
    now = clock.now()
    key = _unknown_key(username)
    state = cache.get(key) or {"count": 0, "locked_until": None}
    outcome = rules.after_failure(
        state["count"], now=now, max_failures=staff_max_failures(), lock_minutes=staff_lock_minutes()
    )
    cache.set(
        key,
        {
            "count": outcome.failed_count,
            "locked_until": outcome.locked_until.isoformat() if outcome.locked_until else None,
        },
        UNKNOWN_FAILURE_TTL,
    )
    if outcome.locked_until is not None:
        _audit_failure(actor, None, username, "locked_now", stage="password")
        return _locked_error(outcome.locked_until)
    left = staff_max_failures() - outcome.failed_count
    _audit_failure(actor, None, username, "wrong_password", attempts_left=left)
    return _login_failed_error(left)


def _unknown_locked_until(username: str, now: datetime) -> datetime | None:
    state = cache.get(_unknown_key(username))
    if not state or not state.get("locked_until"):
        return None
    until = datetime.fromisoformat(state["locked_until"])
    return until if rules.is_locked(until, now) else None


def _fail_known(actor: Actor, user_pk: int, username: str, stage: str) -> DomainError:
    """Count one failure (wrong password or TOTP code) on the account; lock at the limit."""
    now = clock.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_pk)
        if rules.is_locked(user.locked_until, now):  # locked by a concurrent attempt
            assert user.locked_until is not None
            locked_until = user.locked_until
            audit_record(
                actor=actor,
                event_type="staff.login_failed",
                subject=user,
                after={"username": username[:64], "outcome": "locked", "stage": stage},
            )
            return _locked_error(locked_until)
        before = user.failed_login_count
        outcome = rules.after_failure(
            before, now=now, max_failures=staff_max_failures(), lock_minutes=staff_lock_minutes()
        )
        user.failed_login_count = outcome.failed_count
        update = ["failed_login_count"]
        if outcome.locked_until is not None:
            user.locked_until = outcome.locked_until
            update.append("locked_until")
        user.save(update_fields=update)
        if outcome.locked_until is not None:
            audit_record(
                actor=actor,
                event_type="staff.locked",
                subject=user,
                before={"failed_login_count": before},
                after={
                    "username": username[:64],
                    "outcome": "locked_now",
                    "stage": stage,
                    "locked_until": outcome.locked_until,
                },
            )
            return _locked_error(outcome.locked_until)
        left = staff_max_failures() - outcome.failed_count
        audit_record(
            actor=actor,
            event_type="staff.login_failed",
            subject=user,
            after={
                "username": username[:64],
                "outcome": "wrong_password" if stage == "password" else "wrong_totp",
                "stage": stage,
                "attempts_left": left,
            },
        )
    return _login_failed_error(left) if stage == "password" else _totp_wrong_error(left)


def staff_login_password(*, actor: Actor, username: str, password: str) -> User:
    """First factor: username + password → the user, who must still pass the TOTP step.

    Refuses RATE_LIMITED (429) per IP and per username, STAFF_LOCKED (423, until when) while the
    account is locked (the right password included) or when this failure reaches the limit,
    STAFF_LOGIN_FAILED (401, attempts left) for an unknown username or a wrong password (one
    answer for both), STAFF_ACCOUNT_DISABLED (403) for the right password of an inactive account
    or one without an office. Writes staff.login_failed / staff.locked on refusals; success is
    audited when the second factor passes.
    """
    username = User.normalize_username((username or "").strip())[:150]
    password = password or ""
    hit(STAFF_LOGIN_PER_IP, actor.ip or "-")
    hit(STAFF_LOGIN_PER_USER, _subject_hash(username.lower()))
    now = clock.now()
    user = user_for_sign_in(username) if username else None
    if user is None:
        locked_until = _unknown_locked_until(username, now)
        if locked_until is not None:
            _audit_failure(actor, None, username, "locked", stage="password")
            raise _locked_error(locked_until)
        _check_password(None, password)
        raise _fail_unknown(actor, username)
    if rules.is_locked(user.locked_until, now):
        assert user.locked_until is not None
        _audit_failure(actor, user, username, "locked", stage="password")
        raise _locked_error(user.locked_until)
    if not _check_password(user, password):
        raise _fail_known(actor, user.pk, username, "password")
    if not _can_sign_in(user):
        _audit_failure(actor, user, username, "disabled", stage="password")
        raise _disabled_error()
    return user


def _user_for_second_step(actor: Actor, user_id: int) -> User:
    """The user of a half-finished sign-in, re-checked: still allowed in, not locked meanwhile."""
    user = User.objects.select_related("office").filter(pk=user_id).first()
    if user is None:
        raise _expired_error()
    hit(STAFF_LOGIN_PER_IP, actor.ip or "-")
    hit(STAFF_LOGIN_PER_USER, _subject_hash(user.get_username().lower()))
    if rules.is_locked(user.locked_until, clock.now()):
        assert user.locked_until is not None
        _audit_failure(actor, user, user.get_username(), "locked", stage="totp")
        raise _locked_error(user.locked_until)
    if not _can_sign_in(user):
        raise _disabled_error()
    return user


def _verify(device_pk: int, token: str) -> tuple[TOTPDevice | None, bool, datetime | None]:
    """Verify `token` on the device under a row lock (django-otp's replay and throttle rules).

    Returns (device, accepted, throttled_until); a throttled device is not asked at all.
    """
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device_pk).first()
        if device is None:
            return None, False, None
        allowed, info = device.verify_is_allowed()
        if not allowed:
            return device, False, (info or {}).get("locked_until") or timezone.now()
        return device, bool(device.verify_token(token)), None


def _throttled_error(until: datetime) -> StaffTotpThrottled:
    seconds = max(1, int((until - timezone.now()).total_seconds() + 0.999))
    return StaffTotpThrottled(
        "STAFF_TOTP_THROTTLED",
        _("动态验证码错误过于频繁，请 %(seconds)d 秒后再试。") % {"seconds": seconds},
        {"retry_after": seconds},
    )


def _signed_in(actor: Actor, user: User, device: TOTPDevice, *, enrolled: bool) -> None:
    """Both factors passed: clear the failure counter and write staff.login (and the enrolment)."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_login_count=0, locked_until=None)
        user.failed_login_count, user.locked_until = 0, None
        staff = Actor.staff(user, ip=actor.ip)
        if enrolled:
            audit_record(
                actor=staff,
                event_type="staff.totp_enrolled",
                subject=user,
                before={"totp": "none"},
                after={"totp": "confirmed", "device": device.pk},
            )
        audit_record(
            actor=staff,
            event_type="staff.login",
            subject=user,
            after={"username": user.get_username(), "device": device.pk, "enrolled": enrolled},
        )


def staff_login_totp(*, actor: Actor, user_id: int, token: str) -> tuple[User, TOTPDevice]:
    """Second factor: a TOTP code from the user's confirmed device → signed in.

    Refuses STAFF_LOGIN_EXPIRED (user gone), STAFF_LOCKED, STAFF_ACCOUNT_DISABLED,
    STAFF_TOTP_NOT_ENROLLED (no confirmed device: enrol first), STAFF_TOTP_THROTTLED (429,
    django-otp's back-off after a wrong code; not counted), RATE_LIMITED, and STAFF_TOTP_WRONG
    (401, attempts left; counts towards the same lock as wrong passwords). Writes staff.login.
    """
    user = _user_for_second_step(actor, user_id)
    device = confirmed_totp_device(user)
    if device is None:
        raise StaffSignInRefused("STAFF_TOTP_NOT_ENROLLED", _("尚未绑定动态口令，请先完成绑定。"))
    checked, ok, throttled_until = _verify(device.pk, (token or "").strip())
    if checked is None:
        raise _expired_error()
    if throttled_until is not None:
        raise _throttled_error(throttled_until)
    if not ok:
        raise _fail_known(actor, user.pk, user.get_username(), "totp")
    _signed_in(actor, user, checked, enrolled=False)
    return user, checked


def staff_totp_enrol_begin(*, user: User) -> TOTPDevice:
    """A fresh unconfirmed TOTP device (new random key) for a user who has no confirmed one.

    Earlier unconfirmed devices are dropped, so a key shown to someone else before is useless.
    Not audited: nothing is in force until `staff_totp_enrol_confirm`. Refuses
    STAFF_TOTP_ALREADY_ENROLLED.
    """
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if confirmed_totp_device(user) is not None:
            raise StaffSignInRefused("STAFF_TOTP_ALREADY_ENROLLED", _("该账户已绑定动态口令。"))
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="default", confirmed=False)


def staff_totp_enrol_confirm(
    *, actor: Actor, user_id: int, device_id: int, token: str
) -> tuple[User, TOTPDevice]:
    """Confirm the device of `staff_totp_enrol_begin` with a first code → enrolled and signed in.

    Refuses like `staff_login_totp` (a wrong code counts towards the lock), plus
    STAFF_TOTP_ALREADY_ENROLLED and STAFF_LOGIN_EXPIRED (the device is gone: start again).
    Writes staff.totp_enrolled and staff.login.
    """
    user = _user_for_second_step(actor, user_id)
    if confirmed_totp_device(user) is not None:
        raise StaffSignInRefused("STAFF_TOTP_ALREADY_ENROLLED", _("该账户已绑定动态口令。"))
    if not TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).exists():
        raise _expired_error()
    checked, ok, throttled_until = _verify(device_id, (token or "").strip())
    if checked is None:
        raise _expired_error()
    if throttled_until is not None:
        raise _throttled_error(throttled_until)
    if not ok:
        raise _fail_known(actor, user.pk, user.get_username(), "enrol")
    with transaction.atomic():
        checked.confirmed = True
        checked.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        _signed_in(actor, user, checked, enrolled=True)
    return user, checked


def staff_logout(*, actor: Actor, user: User) -> None:
    """Record a sign-out (staff.logout). Never refuses."""
    with transaction.atomic():
        audit_record(actor=actor, event_type="staff.logout", subject=user, after={})


# --- administration -------------------------------------------------------------------------------


def _manager(actor: Actor) -> User:
    """The acting staff user, who must hold STAFF_MANAGE (PermissionDenied otherwise)."""
    user = actor.user if actor.kind == "staff" else None
    if user is None:
        raise PermissionDenied(Perm.STAFF_MANAGE)
    require_perm(user, Perm.STAFF_MANAGE)
    return user


def _target(manager: User, user_id: object) -> User:
    """The staff user `user_id` in the manager's subtree, row-locked; NOT_FOUND otherwise.

    Refuses STAFF_SELF_CHANGE (own account) and STAFF_SUPERUSER_PROTECTED.
    """
    try:
        pk = int(str(user_id))
    except (TypeError, ValueError):
        raise NotFound() from None
    target = staff_in_scope(manager).select_for_update().filter(pk=pk).first()
    if target is None:
        raise NotFound()
    if target.pk == manager.pk:
        raise StaffChangeRefused("STAFF_SELF_CHANGE", _("不能修改自己的账户或角色，请联系其他用户管理员。"))
    if target.is_superuser:
        raise StaffChangeRefused(
            "STAFF_SUPERUSER_PROTECTED", _("系统管理员账户只能由技术人员在系统管理后台维护。")
        )
    return target


def _roles(user: User) -> list[str]:
    return sorted(StaffRole.objects.filter(user=user).values_list("role", flat=True))


def _clean_roles(roles: Iterable[str]) -> list[str]:
    wanted = sorted({str(r) for r in roles or ()})
    unknown = [r for r in wanted if r not in ROLE_LABELS]
    if unknown:
        raise ValidationFailed("STAFF_ROLE_UNKNOWN", _("角色不存在。"), {"roles": unknown})
    return wanted


def _check_password_strength(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        messages = [str(m) for m in exc.messages]
        raise ValidationFailed("STAFF_PASSWORD_WEAK", messages[0], {"password": messages}) from None


def _snapshot(user: User) -> dict:
    return {
        "username": user.get_username(),
        "name": user.first_name,
        "email": user.email,
        "office": user.office_id,
        "is_active": user.is_active,
    }


@transaction.atomic
def staff_create(
    *,
    actor: Actor,
    username: str,
    name: str,
    office_id: object,
    password: str,
    roles: Iterable[str] = (),
    email: str = "",
) -> User:
    """Create a staff user in an office of the actor's subtree, with an initial password and roles.

    The user enrols the second factor at the first sign-in. Refuses PERMISSION_DENIED,
    STAFF_USERNAME_INVALID, STAFF_USERNAME_TAKEN (any case), STAFF_NAME_REQUIRED,
    STAFF_OFFICE_OUT_OF_SCOPE, STAFF_ROLE_UNKNOWN and STAFF_PASSWORD_WEAK (Django's password
    validators, every message in `fields["password"]`). Writes staff.created.
    """
    manager = _manager(actor)
    username = (username or "").strip()
    name = (name or "").strip()
    email = (email or "").strip()
    if not USERNAME_RE.fullmatch(username):
        raise ValidationFailed(
            "STAFF_USERNAME_INVALID",
            _("用户名须为3至32位英文字母、数字或 . _ -，以字母或数字开头。"),
            {"username": username},
        )
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValidationFailed("STAFF_NAME_REQUIRED", _("请填写姓名（不超过30个字）。"), {"name": name})
    try:
        office = Office.objects.get(pk=int(str(office_id)))
    except (Office.DoesNotExist, TypeError, ValueError):
        office = None
    if office is None or not office_in_scope(manager, office):
        raise ValidationFailed(
            "STAFF_OFFICE_OUT_OF_SCOPE", _("只能在本单位及下级考办中创建用户。"), {"office": office_id}
        )
    wanted = _clean_roles(roles)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed("STAFF_USERNAME_TAKEN", _("该用户名已被使用。"), {"username": username})
    user = User(username=username, first_name=name, email=email, office=office, is_active=True)
    _check_password_strength(password or "", user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ValidationFailed(
            "STAFF_USERNAME_TAKEN", _("该用户名已被使用。"), {"username": username}
        ) from None
    now = clock.now()
    StaffRole.objects.bulk_create(
        [StaffRole(user=user, role=role, granted_at=now, granted_by=manager) for role in wanted]
    )
    audit_record(
        actor=actor,
        event_type="staff.created",
        subject=user,
        before=None,
        after={**_snapshot(user), "roles": wanted},
    )
    return user


@transaction.atomic
def staff_roles_set(*, actor: Actor, user_id: object, roles: Iterable[str]) -> User:
    """Make the user's roles exactly `roles` (grants and revocations in one change).

    Refuses PERMISSION_DENIED, NOT_FOUND (missing or outside the subtree), STAFF_SELF_CHANGE,
    STAFF_SUPERUSER_PROTECTED, STAFF_ROLE_UNKNOWN, STAFF_ROLES_UNCHANGED. Writes
    staff.roles_changed with the roles before and after.
    """
    manager = _manager(actor)
    target = _target(manager, user_id)
    wanted = _clean_roles(roles)
    before = _roles(target)
    if wanted == before:
        raise StaffChangeRefused("STAFF_ROLES_UNCHANGED", _("角色没有变化。"))
    revoked = [r for r in before if r not in wanted]
    granted = [r for r in wanted if r not in before]
    StaffRole.objects.filter(user=target, role__in=revoked).delete()
    now = clock.now()
    StaffRole.objects.bulk_create(
        [StaffRole(user=target, role=role, granted_at=now, granted_by=manager) for role in granted]
    )
    audit_record(
        actor=actor,
        event_type="staff.roles_changed",
        subject=target,
        before={"roles": before},
        after={"roles": wanted, "granted": granted, "revoked": revoked},
    )
    return target


@transaction.atomic
def staff_unlock(*, actor: Actor, user_id: object) -> User:
    """Lift a sign-in lock and clear the failure counter.

    Refuses PERMISSION_DENIED, NOT_FOUND, STAFF_SELF_CHANGE, STAFF_SUPERUSER_PROTECTED,
    STAFF_NOT_LOCKED (no lock and no failures to clear). Writes staff.unlocked.
    """
    manager = _manager(actor)
    target = _target(manager, user_id)
    locked = rules.is_locked(target.locked_until, clock.now())
    if not locked and target.failed_login_count == 0:
        raise StaffChangeRefused("STAFF_NOT_LOCKED", _("该账户没有被锁定。"))
    before = {"locked_until": target.locked_until, "failed_login_count": target.failed_login_count}
    target.locked_until = None
    target.failed_login_count = 0
    target.save(update_fields=["locked_until", "failed_login_count"])
    audit_record(
        actor=actor,
        event_type="staff.unlocked",
        subject=target,
        before=before,
        after={"locked_until": None, "failed_login_count": 0},
    )
    return target


@transaction.atomic
def staff_totp_reset(*, actor: Actor, user_id: object) -> User:
    """Remove the user's TOTP devices: the next sign-in goes through enrolment again, and a
    session verified with the old device stops being verified.

    Refuses PERMISSION_DENIED, NOT_FOUND, STAFF_SELF_CHANGE, STAFF_SUPERUSER_PROTECTED,
    STAFF_TOTP_NOT_ENROLLED (no device to remove). Writes staff.totp_reset.
    """
    manager = _manager(actor)
    target = _target(manager, user_id)
    before = totp_status(target)
    devices = TOTPDevice.objects.filter(user=target)
    if not devices.exists():
        raise StaffChangeRefused("STAFF_TOTP_NOT_ENROLLED", _("该账户尚未绑定动态口令。"))
    devices.delete()
    audit_record(
        actor=actor,
        event_type="staff.totp_reset",
        subject=target,
        before={"totp": before},
        after={"totp": "none"},
    )
    return target


@transaction.atomic
def staff_deactivate(*, actor: Actor, user_id: object) -> User:
    """Stop the user from signing in; open sessions end at their next request.

    Roles stay on record (reactivation restores them). Refuses PERMISSION_DENIED, NOT_FOUND,
    STAFF_SELF_CHANGE, STAFF_SUPERUSER_PROTECTED, STAFF_ALREADY_INACTIVE. Writes staff.deactivated.
    """
    manager = _manager(actor)
    target = _target(manager, user_id)
    if not target.is_active:
        raise StaffChangeRefused("STAFF_ALREADY_INACTIVE", _("该账户已停用。"))
    target.is_active = False
    target.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        event_type="staff.deactivated",
        subject=target,
        before={"is_active": True},
        after={"is_active": False},
    )
    return target


@transaction.atomic
def staff_reactivate(*, actor: Actor, user_id: object) -> User:
    """Let a deactivated user sign in again (with a cleared failure counter).

    Refuses PERMISSION_DENIED, NOT_FOUND, STAFF_SELF_CHANGE, STAFF_SUPERUSER_PROTECTED,
    STAFF_ALREADY_ACTIVE. Writes staff.reactivated.
    """
    manager = _manager(actor)
    target = _target(manager, user_id)
    if target.is_active:
        raise StaffChangeRefused("STAFF_ALREADY_ACTIVE", _("该账户处于启用状态。"))
    target.is_active = True
    target.failed_login_count = 0
    target.locked_until = None
    target.save(update_fields=["is_active", "failed_login_count", "locked_until"])
    audit_record(
        actor=actor,
        event_type="staff.reactivated",
        subject=target,
        before={"is_active": False},
        after={"is_active": True},
    )
    return target


@transaction.atomic
def staff_password_set(*, actor: Actor, user_id: object, password: str) -> User:
    """Give the user a new password (forgotten password); also lifts a sign-in lock.

    Refuses PERMISSION_DENIED, NOT_FOUND, STAFF_SELF_CHANGE, STAFF_SUPERUSER_PROTECTED,
    STAFF_PASSWORD_WEAK. Writes staff.password_reset (never the password or its hash).
    """
    manager = _manager(actor)
    target = _target(manager, user_id)
    _check_password_strength(password or "", target)
    was_locked = rules.is_locked(target.locked_until, clock.now())
    target.set_password(password)
    target.failed_login_count = 0
    target.locked_until = None
    target.save(update_fields=["password", "failed_login_count", "locked_until"])
    audit_record(
        actor=actor,
        event_type="staff.password_reset",
        subject=target,
        before={"locked": was_locked},
        after={"locked": False},
    )
    return target


@transaction.atomic
def staff_bootstrap(
    *,
    actor: Actor,
    username: str,
    name: str,
    office_region_code: str,
    password: str,
    technical: bool = False,
) -> User:
    """Create (or recover) a staff administrator from the command line (`manage.py staff_bootstrap`):
    the first account of a new deployment, or a way back in when every staff admin is locked out.

    The user gets the office, the STAFF_ADMIN role (kept roles stay), a new password (Django's
    validators), no lock, and no TOTP device, so the next sign-in enrols a new authenticator.
    `technical` also makes the account a superuser with access to /admin/. Only the system actor
    (a command run on the server) may call it. Refuses PERMISSION_DENIED, STAFF_USERNAME_INVALID,
    STAFF_OFFICE_UNKNOWN, STAFF_PASSWORD_WEAK. Writes staff.bootstrapped.
    """
    if actor.kind != "system":
        raise PermissionDenied(Perm.STAFF_MANAGE)
    username = (username or "").strip()
    if not USERNAME_RE.fullmatch(username):
        raise ValidationFailed(
            "STAFF_USERNAME_INVALID",
            _("用户名须为3至32位英文字母、数字或 . _ -，以字母或数字开头。"),
            {"username": username},
        )
    office = Office.objects.filter(region_code=(office_region_code or "").strip()).first()
    if office is None:
        raise ValidationFailed(
            "STAFF_OFFICE_UNKNOWN",
            _("考办不存在，请使用考办的6位行政区划代码。"),
            {"office": office_region_code},
        )
    user = User.objects.select_for_update().filter(username=username).first()
    before = None if user is None else {**_snapshot(user), "roles": _roles(user), "totp": totp_status(user)}
    if user is None:
        user = User(username=username)
    user.first_name = (name or "").strip()[:NAME_MAX_LENGTH] or user.first_name
    user.office = office
    user.is_active = True
    if technical:
        user.is_staff = user.is_superuser = True
    _check_password_strength(password or "", user)
    user.set_password(password)
    user.failed_login_count = 0
    user.locked_until = None
    user.save()
    if not StaffRole.objects.filter(user=user, role="staff_admin").exists():
        StaffRole.objects.create(user=user, role="staff_admin", granted_at=clock.now())
    TOTPDevice.objects.filter(user=user).delete()
    audit_record(
        actor=actor,
        event_type="staff.bootstrapped",
        subject=user,
        before=before,
        after={**_snapshot(user), "roles": _roles(user), "totp": "none", "technical": technical},
    )
    return user
