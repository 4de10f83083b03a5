"""Reads of staff accounts: sign-in lookups, second-factor state, and the staff administration lists.

Every administration read is scoped to the reader's office subtree (`office_scope_q` on the
user's office); users without an office (technical accounts) never appear there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice

from zikao.accounts import rules
from zikao.accounts.models import Office, StaffRole, User
from zikao.accounts.permissions import Perm, office_scope_q, offices_in_scope, require_perm
from zikao.core import clock
from zikao.core.errors import NotFound


def user_for_sign_in(username: str) -> User | None:
    """The account a typed username names exactly (with its office), or None."""
    return User.objects.select_related("office").filter(username=username).first()


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    """The user's confirmed TOTP device (the oldest one if, exceptionally, there are several)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def unconfirmed_totp_device(user: User, device_id: object) -> TOTPDevice | None:
    """The enrolment device `device_id` if it still belongs to `user` and is not yet confirmed."""
    if not isinstance(device_id, int):
        return None
    return TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()


def totp_status(user: User) -> str:
    """ "confirmed" (second factor in force), "pending" (enrolment begun) or "none"."""
    states = set(TOTPDevice.objects.filter(user=user).values_list("confirmed", flat=True))
    if True in states:
        return "confirmed"
    return "pending" if states else "none"


def staff_in_scope(user: User) -> QuerySet[User]:
    """Staff users whose office lies in `user`'s subtree (never users without an office)."""
    return User.objects.filter(office__isnull=False).filter(office_scope_q(user, "office"))


STATUS_FILTERS = ("active", "inactive", "locked", "no_totp")


def staff_list(
    user: User, *, query: str = "", office_id: int | None = None, status: str = ""
) -> QuerySet[User]:
    """The staff administration list: users of the subtree with roles and TOTP state attached.

    `query` matches username or name (contains, any case); `office_id` narrows to one office of
    the subtree; `status` is one of STATUS_FILTERS. Refuses PERMISSION_DENIED without STAFF_MANAGE.
    Rows carry `has_totp` (a confirmed device) and `role_codes` via `staff_roles`.
    """
    require_perm(user, Perm.STAFF_MANAGE)
    qs = staff_in_scope(user).select_related("office")
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(username__icontains=query) | Q(first_name__icontains=query))
    if office_id is not None:
        qs = qs.filter(office_id=office_id)
    if status == "active":
        qs = qs.filter(is_active=True)
    elif status == "inactive":
        qs = qs.filter(is_active=False)
    elif status == "locked":
        qs = qs.filter(locked_until__gt=clock.now())
    qs = qs.annotate(
        has_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
    ).prefetch_related(Prefetch("staff_roles", queryset=StaffRole.objects.order_by("role")))
    if status == "no_totp":
        qs = qs.filter(has_totp=False)
    return qs.order_by("office__region_code", "username")


def staff_get(user: User, user_id: object) -> User:
    """One staff user of the subtree for the administration page; NOT_FOUND for missing or
    out-of-scope ids. Refuses PERMISSION_DENIED without STAFF_MANAGE."""
    require_perm(user, Perm.STAFF_MANAGE)
    try:
        pk = int(str(user_id))
    except (TypeError, ValueError):
        raise NotFound() from None
    found = staff_in_scope(user).select_related("office").filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def offices_for_staff(user: User) -> QuerySet[Office]:
    """Offices the user may create staff in (the subtree), province first, then by code."""
    return offices_in_scope(user).order_by("region_code")


@dataclass(frozen=True)
class StaffState:
    roles: list[str]
    totp: str  # confirmed | pending | none
    locked_until: datetime | None  # set only while the lock is in force
    failed_login_count: int


def staff_state(target: User) -> StaffState:
    """Roles, second-factor state and lock of one staff user (for the administration page)."""
    now = clock.now()
    locked = target.locked_until if rules.is_locked(target.locked_until, now) else None
    return StaffState(
        roles=sorted(StaffRole.objects.filter(user=target).values_list("role", flat=True)),
        totp=totp_status(target),
        locked_until=locked,
        failed_login_count=target.failed_login_count,
    )


def staff_recent_events(target: User, limit: int = 20) -> list:
    """The latest audit events about this staff account (sign-ins, locks, changes), newest first."""
    from zikao.core.models import AuditEvent

    return list(
        AuditEvent.objects.filter(subject_type="accounts.user", subject_id=str(target.pk))
        .select_related("actor_user")
        .order_by("-at", "-pk")[:limit]
    )
