"""Pure rules of exam misconduct (国家教育考试违规处理办法, 教育部令第33号), as applied to 自考.

No database here: every function takes plain values and returns a decision or raises a
`ValidationFailed` / `DomainError` with a stable code.

What each kind of violation implies (第五条, 第六条, 第七条, 第九条 of the order):

=====================  ===========================  =============================================
kind                   scores voided                suspension (停考)
=====================  ===========================  =============================================
rule_breach 违纪        that course of the sitting   none
cheating 作弊           every course of the sitting  none
serious_cheating 严重   every course of the sitting  from 自考, 1–3 years (default 1)
organised_cheating      every course of the sitting  from all national education exams, 1–3 years
  组织作弊/替考                                       (default 3)
=====================  ===========================  =============================================

Suspension period (our choice, documented in docs): it starts on the **first day of the sitting**
in which the misconduct happened and runs `years` whole years, the last suspended day being the
day before the same date `years` later (2025-04-12 + 3 years → 2025-04-12 … 2028-04-11, inclusive).
This is how provincial notices state it ("停考3年，2025年4月至2028年4月"), it does not depend on
how long the case took to decide, and it covers exactly 2 × years main sittings after the one
voided. A revoked violation never suspends; a reduced one suspends for its new term.

A running suspension blocks entry (报考), transfer (转考) and graduation (毕业) — domain.md. Both
scopes (自考 only, all national exams) block the same three activities inside this system.

Appeals (复核申请, as the order provides): the candidate may ask the exam authority one level above
the deciding office for a review within 15 days of receiving the decision; the reviewing office
upholds, revokes or reduces the penalty. A province-level decision is reviewed at province level.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.utils.translation import gettext_lazy as _

from zikao.core.errors import DomainError, ValidationFailed

# Kinds (values of conduct.models.Violation.Kind).
RULE_BREACH = "rule_breach"
CHEATING = "cheating"
SERIOUS_CHEATING = "serious_cheating"
ORGANISED_CHEATING = "organised_cheating"
KINDS = (RULE_BREACH, CHEATING, SERIOUS_CHEATING, ORGANISED_CHEATING)

# Penalties (values of Violation.Penalty).
VOID_COURSE = "void_course"
VOID_SITTING = "void_sitting"

# Suspension scopes (values of Violation.Suspension).
NO_SUSPENSION = ""
SUSPENSION_ZIKAO = "zikao"
SUSPENSION_ALL_NATIONAL = "all_national"

KIND_PENALTY = {
    RULE_BREACH: VOID_COURSE,
    CHEATING: VOID_SITTING,
    SERIOUS_CHEATING: VOID_SITTING,
    ORGANISED_CHEATING: VOID_SITTING,
}
KIND_SUSPENSION = {
    RULE_BREACH: NO_SUSPENSION,
    CHEATING: NO_SUSPENSION,
    SERIOUS_CHEATING: SUSPENSION_ZIKAO,
    ORGANISED_CHEATING: SUSPENSION_ALL_NATIONAL,
}
DEFAULT_SUSPENSION_YEARS = {SERIOUS_CHEATING: 1, ORGANISED_CHEATING: 3}
MIN_SUSPENSION_YEARS = 1
MAX_SUSPENSION_YEARS = 3
# Severity order, used to check that a reduction really reduces.
KIND_SEVERITY = {RULE_BREACH: 0, CHEATING: 1, SERIOUS_CHEATING: 2, ORGANISED_CHEATING: 3}

# Score statuses a violation voids: a result that exists. An absent result has nothing to void;
# a void one is already void (by another violation).
VOIDABLE_SCORE_STATUSES = frozenset({"valid", "withheld"})

# Activities a running suspension blocks (domain.md: "a suspension blocks entry, transfer and
# graduation while it runs").
ENTRY = "entry"
TRANSFER = "transfer"
GRADUATION = "graduation"
BLOCKED_BY_SUSPENSION = frozenset({ENTRY, TRANSFER, GRADUATION})

APPEAL_DAYS = 15  # 收到处理决定之日起15日内
APPEAL_UPHELD = "upheld"
APPEAL_REVOKED = "revoked"
APPEAL_REDUCED = "reduced"
APPEAL_OUTCOMES = (APPEAL_UPHELD, APPEAL_REVOKED, APPEAL_REDUCED)

OFFICE_LEVEL_RANK = {"county": 0, "city": 1, "province": 2}


@dataclass(frozen=True)
class Decision:
    """The penalty of one violation: what is voided and for how long the candidate is suspended."""

    kind: str
    penalty: str
    suspension: str
    suspension_years: int | None

    @property
    def voids_whole_sitting(self) -> bool:
        return self.penalty == VOID_SITTING


def decide_penalty(
    kind: str,
    *,
    penalty: str | None = None,
    suspension_years: int | None = None,
    has_course: bool,
) -> Decision:
    """The penalty `kind` implies, checked against what the officer chose.

    `penalty`, when given, must be the one the kind implies (VIOLATION_PENALTY_MISMATCH).
    `suspension_years` is allowed only for kinds that suspend, within 1–3
    (VIOLATION_SUSPENSION_NOT_ALLOWED, VIOLATION_SUSPENSION_YEARS_INVALID) and defaults per kind.
    A course is required for a one-course penalty (VIOLATION_COURSE_REQUIRED) and refused for a
    whole-sitting one, which names no course (VIOLATION_COURSE_NOT_APPLICABLE).
    Unknown kind: VIOLATION_KIND_INVALID.
    """
    if kind not in KIND_PENALTY:
        raise ValidationFailed("VIOLATION_KIND_INVALID", _("违规情形无效。"), {"kind": kind})
    implied = KIND_PENALTY[kind]
    if penalty not in (None, "") and penalty != implied:
        raise ValidationFailed(
            "VIOLATION_PENALTY_MISMATCH",
            _("处理方式与违规情形不符：违纪只能认定该科成绩无效，作弊类须认定当次全部科目成绩无效。"),
            {"penalty": penalty, "expected": implied},
        )
    if implied == VOID_COURSE and not has_course:
        raise ValidationFailed("VIOLATION_COURSE_REQUIRED", _("违纪须指定违纪的科目。"), {"course": None})
    if implied == VOID_SITTING and has_course:
        raise ValidationFailed(
            "VIOLATION_COURSE_NOT_APPLICABLE",
            _("作弊类违规认定当次全部科目成绩无效，不指定单科；发生科目请写在事实描述中。"),
            {"course": "given"},
        )
    scope = KIND_SUSPENSION[kind]
    if scope == NO_SUSPENSION:
        if suspension_years is not None:
            raise ValidationFailed(
                "VIOLATION_SUSPENSION_NOT_ALLOWED",
                _("该违规情形不能给予停考处理。"),
                {"suspension_years": suspension_years},
            )
        return Decision(kind, implied, NO_SUSPENSION, None)
    years = DEFAULT_SUSPENSION_YEARS[kind] if suspension_years is None else suspension_years
    if (
        isinstance(years, bool)
        or not isinstance(years, int)
        or not (MIN_SUSPENSION_YEARS <= years <= MAX_SUSPENSION_YEARS)
    ):
        raise ValidationFailed(
            "VIOLATION_SUSPENSION_YEARS_INVALID",
            _("停考年限应为1至3年。"),
            {"suspension_years": suspension_years},
        )
    return Decision(kind, implied, scope, years)


def add_years(day: date, years: int) -> date:
    """The same calendar date `years` later; 29 February moves to 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def suspension_dates(sitting_first_day: date, years: int) -> tuple[date, date]:
    """First and last suspended day (inclusive): from the sitting's first day, `years` whole years."""
    if not (MIN_SUSPENSION_YEARS <= years <= MAX_SUSPENSION_YEARS):
        raise ValueError(f"suspension years out of range: {years}")
    return sitting_first_day, add_years(sitting_first_day, years) - dt.timedelta(days=1)


def voided_course_codes(
    penalty: str, course_code: str | None, results: Iterable[tuple[str, str]]
) -> set[str]:
    """Which results of the sitting a penalty voids, from (course code, status) pairs.

    One-course penalty: that course only; whole-sitting penalty: every course. Only results
    that exist are voided (valid or withheld): absent and already-void results are left alone.
    """
    return {
        code
        for code, status in results
        if status in VOIDABLE_SCORE_STATUSES and (penalty == VOID_SITTING or code == course_code)
    }


def covers(penalty: str, violation_course_code: str | None, course_code: str) -> bool:
    """Does a violation with this penalty (and course) void `course_code` of its sitting?"""
    return penalty == VOID_SITTING or violation_course_code == course_code


def check_reduction(old: Decision, new: Decision, *, old_course: str | None, new_course: str | None) -> None:
    """A reduced penalty must be strictly lighter and void no more than before.

    Lighter: a less severe kind, or the same suspending kind with fewer years. The new scope must
    lie inside the old one (a one-course penalty stays on its course; a whole-sitting one may
    shrink to any course). Refuses VIOLATION_REDUCTION_NOT_LESS / VIOLATION_REDUCTION_SCOPE.
    """
    if old.penalty == VOID_COURSE and new_course != old_course:
        raise DomainError(
            "VIOLATION_REDUCTION_SCOPE",
            _("减轻处理不能改为其他科目。"),
            {"course": new_course},
        )
    old_rank, new_rank = KIND_SEVERITY[old.kind], KIND_SEVERITY[new.kind]
    lighter = new_rank < old_rank or (
        new_rank == old_rank
        and old.suspension_years is not None
        and new.suspension_years is not None
        and new.suspension_years < old.suspension_years
    )
    if not lighter:
        raise DomainError(
            "VIOLATION_REDUCTION_NOT_LESS",
            _("减轻后的处理须轻于原处理（较轻的违规情形，或更短的停考年限）。"),
            {"kind": new.kind, "suspension_years": new.suspension_years},
        )


@dataclass(frozen=True)
class SuspensionPeriod:
    """A suspension as the rules see it. `ends` is the last suspended day (inclusive)."""

    starts: date
    ends: date
    revoked_at: datetime | None = None
    scope: str = SUSPENSION_ZIKAO
    violation_id: int | None = None


def suspension_running(periods: Iterable[SuspensionPeriod], on: date) -> SuspensionPeriod | None:
    """The suspension in force on `on` (the one ending last), or None. Revoked ones never count."""
    running = [p for p in periods if p.revoked_at is None and p.starts <= on <= p.ends]
    return max(running, key=lambda p: p.ends) if running else None


def blocks(action: str, periods: Iterable[SuspensionPeriod], on: date) -> SuspensionPeriod | None:
    """The suspension that blocks `action` ("entry", "transfer", "graduation") on `on`, if any."""
    if action not in BLOCKED_BY_SUSPENSION:
        return None
    return suspension_running(periods, on)


def appeal_deadline(decision_received_on: date) -> date:
    """The last day an appeal (复核申请) may be submitted."""
    return decision_received_on + dt.timedelta(days=APPEAL_DAYS)


def check_appeal_dates(*, decided_on: date, received_on: date, submitted_on: date, today: date) -> None:
    """Dates of an appeal must be in order and within the 15-day window.

    decided_on ≤ received_on ≤ submitted_on ≤ today (VIOLATION_APPEAL_DATE_INVALID);
    submitted_on ≤ received_on + 15 days (VIOLATION_APPEAL_LATE).
    """
    if not (decided_on <= received_on <= submitted_on <= today):
        raise ValidationFailed(
            "VIOLATION_APPEAL_DATE_INVALID",
            _("日期有误：应为 处理决定日 ≤ 收到决定日 ≤ 申请日 ≤ 今天。"),
            {"received_on": received_on.isoformat(), "submitted_on": submitted_on.isoformat()},
        )
    if submitted_on > appeal_deadline(received_on):
        raise DomainError(
            "VIOLATION_APPEAL_LATE",
            _("复核申请须在收到处理决定之日起15日内提出。"),
            {"submitted_on": submitted_on.isoformat(), "deadline": appeal_deadline(received_on).isoformat()},
        )


def appeal_reviewer_level(deciding_office_level: str | None) -> str:
    """The lowest office level that may decide an appeal: one above the deciding office.

    A province decision (or one whose office is unknown, e.g. imported history) is reviewed at
    province level.
    """
    if deciding_office_level == "county":
        return "city"
    return "province"


def may_review(*, deciding_office_level: str | None, reviewer_level: str) -> bool:
    """True when an office at `reviewer_level` may decide an appeal against this decision."""
    needed = appeal_reviewer_level(deciding_office_level)
    return OFFICE_LEVEL_RANK.get(reviewer_level, -1) >= OFFICE_LEVEL_RANK[needed]
