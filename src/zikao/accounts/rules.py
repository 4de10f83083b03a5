"""Pure rules of candidate sign-in: password policy, identifiers, the failure lock.

No database, no settings, no clock: callers pass plain values and get a decision back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 64
# A password may not contain this many consecutive characters of the ID or candidate number.
NUMBER_RUN = 6


@dataclass(frozen=True)
class Problem:
    code: str
    message: str | Promise


def _runs(value: str, length: int) -> set[str]:
    return {value[i : i + length] for i in range(len(value) - length + 1)}


def password_problems(
    password: str, *, birth_date: date | None, id_number: str, candidate_no: str
) -> list[Problem]:
    """Every rule the new password breaks, in the order a person should fix them (empty = fine).

    Rules: 8–64 characters; at least one letter and one digit (ASCII); no spaces; not containing
    the birth date (YYYYMMDD, or YYMMDD); not a part of the ID number and not containing 6 or more
    consecutive characters of it; the same for the candidate number.
    """
    problems: list[Problem] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(Problem("PASSWORD_TOO_SHORT", _("密码至少需要8个字符。")))
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(Problem("PASSWORD_TOO_LONG", _("密码不能超过64个字符。")))
    if re.search(r"\s", password):
        problems.append(Problem("PASSWORD_HAS_SPACE", _("密码不能包含空格。")))
    if not (re.search(r"[A-Za-z]", password) and re.search(r"[0-9]", password)):
        problems.append(Problem("PASSWORD_NEEDS_LETTER_AND_DIGIT", _("密码须同时包含英文字母和数字。")))
    upper = password.upper()
    if birth_date is not None and (f"{birth_date:%Y%m%d}" in upper or f"{birth_date:%y%m%d}" in upper):
        problems.append(Problem("PASSWORD_CONTAINS_BIRTH_DATE", _("密码不能包含出生日期。")))
    elif _contains_number(upper, (id_number or "").upper()):
        problems.append(
            Problem(
                "PASSWORD_CONTAINS_ID_NUMBER",
                _("密码不能是证件号码的一部分，也不能包含证件号码中连续6位以上的字符。"),
            )
        )
    if _contains_number(upper, candidate_no or ""):
        problems.append(
            Problem("PASSWORD_CONTAINS_CANDIDATE_NO", _("密码不能包含准考证号，也不能是准考证号的一部分。"))
        )
    return problems


def _contains_number(password: str, number: str) -> bool:
    if not number or not password:
        return False
    if password in number:
        return True
    return any(run in password for run in _runs(number, NUMBER_RUN))


@dataclass(frozen=True)
class Identifier:
    """What a person typed to sign in: a 12-digit candidate number, or a document number."""

    kind: str  # "candidate_no" | "id_number"
    value: str


def parse_identifier(raw: str) -> Identifier | None:
    """Normalise (spaces and hyphens dropped, upper case); None when nothing usable was typed."""
    cleaned = re.sub(r"[\s-]", "", raw or "").upper()
    if not cleaned or len(cleaned) > 32:
        return None
    if re.fullmatch(r"\d{12}", cleaned):
        return Identifier("candidate_no", cleaned)
    return Identifier("id_number", cleaned)


def first_password(birth_date: date) -> str:
    """The first password of every candidate: the birth date as YYYYMMDD."""
    return f"{birth_date:%Y%m%d}"


@dataclass(frozen=True)
class FailureOutcome:
    failed_count: int  # the counter to store after this failure
    locked_until: datetime | None  # set when this failure locks the account


def after_failure(
    failed_count: int, *, now: datetime, max_failures: int, lock_minutes: int
) -> FailureOutcome:
    """One more failed attempt: lock for `lock_minutes` at the `max_failures`-th, counter restarts."""
    count = failed_count + 1
    if count >= max_failures:
        return FailureOutcome(0, now + timedelta(minutes=lock_minutes))
    return FailureOutcome(count, None)


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def phone_problem(phone: str) -> Problem | None:
    """A mainland mobile number (11 digits starting 13–19) or a problem."""
    if not PHONE_RE.match(phone or ""):
        return Problem("PHONE_INVALID", _("请填写11位手机号码。"))
    return None
