"""Staff roles, what each may do, and which candidates and offices a staff user can reach.

Two independent checks guard every office action, and both live here so no page or service
invents its own:

* **permission**: the user holds a role that grants the permission, at an office level high
  enough for it (catalog, score import and publication are provincial work: a county clerk
  never gets them whatever role is ticked);
* **scope**: the object belongs to the user's office subtree (province: everything; city: its
  counties; county: itself). Out-of-scope objects raise `NotFound`, exactly like missing ones,
  so a county clerk cannot probe which candidate numbers exist elsewhere.

Services take the acting user and call `require_perm` / `require_candidate_in_scope`; views only
decorate with `zikao.office.access.office_view(perm)` so a denied request never reaches them.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from zikao.core.errors import DomainError, NotFound


class Role:
    """Role codes stored in `StaffRole.role`. Names shown to people via `ROLE_LABELS`."""

    STAFF_ADMIN = "staff_admin"
    CATALOG_MANAGER = "catalog_manager"
    SCORE_MANAGER = "score_manager"
    RECORD_CLERK = "record_clerk"
    CONDUCT_OFFICER = "conduct_officer"
    REGISTRATION_CLERK = "registration_clerk"
    EXAM_AFFAIRS = "exam_affairs"
    AUDITOR = "auditor"
    READ_ONLY = "read_only"


ROLE_LABELS = {
    Role.STAFF_ADMIN: _("用户管理员"),
    Role.CATALOG_MANAGER: _("计划与考次管理员"),
    Role.SCORE_MANAGER: _("成绩管理员"),
    Role.RECORD_CLERK: _("考籍管理员"),
    Role.CONDUCT_OFFICER: _("违规处理员"),
    Role.REGISTRATION_CLERK: _("报名审核员"),
    Role.EXAM_AFFAIRS: _("考务管理员"),
    Role.AUDITOR: _("审计员"),
    Role.READ_ONLY: _("只读查询"),
}
ROLE_CHOICES = list(ROLE_LABELS.items())


class Perm:
    """Permission codes. Keep one per distinct action a role may or may not take."""

    STAFF_MANAGE = "staff.manage"
    CATALOG_VIEW = "catalog.view"
    CATALOG_CHANGE = "catalog.change"  # courses, schools, majors, plans, sittings, timetable
    SCORES_VIEW = "scores.view"
    SCORES_IMPORT = "scores.import"
    SCORES_PUBLISH = "scores.publish"  # move release time, publish early, preview
    SCORES_WITHHOLD = "scores.withhold"  # withhold / release individual candidates
    SCORES_CORRECT_REQUEST = "scores.correct_request"
    SCORES_CORRECT_APPROVE = "scores.correct_approve"  # never the requester (four-eyes)
    RECORDS_VIEW = "records.view"
    RECORDS_VIEW_FULL_ID = "records.view_full_id"  # each use is an audit event
    RECORDS_CHANGE = "records.change"  # profile-change decisions, password reset
    RECORDS_MERGE = "records.merge"
    CONDUCT_VIEW = "conduct.view"
    CONDUCT_RECORD = "conduct.record"  # record, appeal outcome, revoke
    REGISTRATION_CONFIRM = "registration.confirm"
    ENTRIES_MANAGE = "entries.manage"  # windows, areas, centres, rooms, allocation
    ENTRIES_VIEW = "entries.view"  # read entry settings, seat counters, entry lists, payments
    AUDIT_VIEW = "audit.view"
    AUDIT_EXPORT = "audit.export"
    REPORTS_VIEW = "reports.view"


ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.STAFF_ADMIN: frozenset({Perm.STAFF_MANAGE}),
    Role.CATALOG_MANAGER: frozenset({Perm.CATALOG_VIEW, Perm.CATALOG_CHANGE, Perm.REPORTS_VIEW}),
    Role.SCORE_MANAGER: frozenset(
        {
            Perm.CATALOG_VIEW,
            Perm.SCORES_VIEW,
            Perm.SCORES_IMPORT,
            Perm.SCORES_PUBLISH,
            Perm.SCORES_WITHHOLD,
            Perm.SCORES_CORRECT_REQUEST,
            Perm.SCORES_CORRECT_APPROVE,
            Perm.RECORDS_VIEW,
            Perm.REPORTS_VIEW,
        }
    ),
    Role.RECORD_CLERK: frozenset(
        {
            Perm.RECORDS_VIEW,
            Perm.RECORDS_VIEW_FULL_ID,
            Perm.RECORDS_CHANGE,
            Perm.RECORDS_MERGE,
            Perm.SCORES_VIEW,
            Perm.CONDUCT_VIEW,
            Perm.CATALOG_VIEW,
        }
    ),
    Role.CONDUCT_OFFICER: frozenset(
        {Perm.CONDUCT_VIEW, Perm.CONDUCT_RECORD, Perm.RECORDS_VIEW, Perm.SCORES_VIEW, Perm.CATALOG_VIEW}
    ),
    Role.REGISTRATION_CLERK: frozenset(
        {Perm.REGISTRATION_CONFIRM, Perm.RECORDS_VIEW, Perm.RECORDS_VIEW_FULL_ID, Perm.CATALOG_VIEW}
    ),
    Role.EXAM_AFFAIRS: frozenset(
        {Perm.ENTRIES_MANAGE, Perm.ENTRIES_VIEW, Perm.CATALOG_VIEW, Perm.RECORDS_VIEW, Perm.REPORTS_VIEW}
    ),
    Role.AUDITOR: frozenset({Perm.AUDIT_VIEW, Perm.AUDIT_EXPORT, Perm.RECORDS_VIEW, Perm.REPORTS_VIEW}),
    Role.READ_ONLY: frozenset(
        {
            Perm.CATALOG_VIEW,
            Perm.SCORES_VIEW,
            Perm.RECORDS_VIEW,
            Perm.CONDUCT_VIEW,
            Perm.REPORTS_VIEW,
            Perm.ENTRIES_VIEW,
        }
    ),
}

_LEVEL_RANK = {"county": 0, "city": 1, "province": 2}

# The lowest office level at which a permission can be exercised. Anything not listed works at
# every level (always within the office's scope).
PERM_MIN_LEVEL: dict[str, str] = {
    Perm.CATALOG_CHANGE: "province",
    Perm.SCORES_IMPORT: "province",
    Perm.SCORES_PUBLISH: "province",
    Perm.SCORES_CORRECT_REQUEST: "province",
    Perm.SCORES_CORRECT_APPROVE: "province",
    Perm.SCORES_WITHHOLD: "province",
    Perm.RECORDS_MERGE: "city",
    Perm.ENTRIES_MANAGE: "city",
    Perm.AUDIT_EXPORT: "city",
}


class PermissionDenied(DomainError):
    """The staff user lacks the permission (or the office level) for this action."""

    status = 403

    def __init__(self, perm: str):
        super().__init__("PERMISSION_DENIED", _("您没有执行此操作的权限。"), {"permission": perm})


def roles_of(user) -> frozenset[str]:
    """The user's role codes, read once per request object (cached on the instance)."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "pk", None):
        return frozenset()
    cached = getattr(user, "_zikao_roles", None)
    if cached is None:
        cached = frozenset(user.staff_roles.values_list("role", flat=True))
        user._zikao_roles = cached
    return cached


def has_perm(user, perm: str) -> bool:
    """True when an active staff user with an office holds a role granting `perm` at a fitting level."""
    if user is None or not getattr(user, "is_active", False) or getattr(user, "office_id", None) is None:
        return False
    if not any(perm in ROLE_PERMISSIONS.get(role, frozenset()) for role in roles_of(user)):
        return False
    minimum = PERM_MIN_LEVEL.get(perm)
    return minimum is None or _LEVEL_RANK[user.office.level] >= _LEVEL_RANK[minimum]


def require_perm(user, perm: str) -> None:
    """Raise `PermissionDenied` unless `has_perm(user, perm)`."""
    if not has_perm(user, perm):
        raise PermissionDenied(perm)


def require_province_perm(actor, perm: str) -> None:
    """Province-wide settings: staff holding `perm` at a province office, or the system actor;
    anyone else is refused (`PermissionDenied`)."""
    if actor.kind == "system":
        return
    if actor.kind != "staff":
        raise PermissionDenied(perm)
    require_perm(actor.user, perm)
    if actor.user.office.level != "province":
        raise PermissionDenied(perm)


def perms_of(user) -> frozenset[str]:
    """Every permission the user can exercise (for menus: show only what can be used)."""
    granted = {p for role in roles_of(user) for p in ROLE_PERMISSIONS.get(role, ())}
    return frozenset(p for p in granted if has_perm(user, p))


def office_scope_q(user, field: str = "") -> Q:
    """A Q selecting offices (or rows whose `field` points at an office) inside the user's subtree.

    `field` is the lookup path to an Office FK, e.g. "county_office" for candidates or
    "area" for entries. Everything below a county is the county itself (counties are leaves).
    A user without an office matches nothing.
    """
    prefix = f"{field}__" if field else ""
    office = getattr(user, "office", None)
    if office is None:
        return Q(pk__in=[])
    if office.level == "province":
        return Q()
    if office.level == "city":
        return Q(**{f"{prefix}parent_id": office.pk}) | Q(**{f"{prefix}pk": office.pk})
    return Q(**{f"{prefix}pk": office.pk})


def candidates_in_scope(user, queryset: QuerySet | None = None) -> QuerySet:
    """Candidates the user may see: the candidate's county office lies in the user's subtree."""
    from zikao.candidates.models import Candidate

    qs = queryset if queryset is not None else Candidate.objects.all()
    return qs.filter(office_scope_q(user, "county_office"))


def offices_in_scope(user) -> QuerySet:
    from zikao.accounts.models import Office

    return Office.objects.filter(office_scope_q(user))


def office_in_scope(user, office) -> bool:
    """True when `office` (an Office) lies in the user's subtree."""
    mine = getattr(user, "office", None)
    if mine is None or office is None:
        return False
    if mine.level == "province":
        return True
    if mine.level == "city":
        return office.pk == mine.pk or office.parent_id == mine.pk
    return office.pk == mine.pk


def require_candidate_in_scope(user, candidate) -> None:
    """Raise `NotFound` (not 403: no existence leak) when the candidate is outside the user's scope."""
    if candidate is None or not office_in_scope(user, candidate.county_office):
        raise NotFound()
