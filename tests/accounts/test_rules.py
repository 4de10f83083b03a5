"""Password policy, identifiers and the failure lock: pure rules."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zikao.accounts import rules

BIRTH = dt.date(1995, 3, 14)
ID_NUMBER = "32010219950314001X"
CANDIDATE_NO = "010224100001"


def codes(password: str) -> list[str]:
    return [
        p.code
        for p in rules.password_problems(
            password, birth_date=BIRTH, id_number=ID_NUMBER, candidate_no=CANDIDATE_NO
        )
    ]


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Kaoshi2026ok", []),
        ("abc123", ["PASSWORD_TOO_SHORT"]),
        ("a1" * 33, ["PASSWORD_TOO_LONG"]),
        ("abcdefgh", ["PASSWORD_NEEDS_LETTER_AND_DIGIT"]),
        ("12345678", ["PASSWORD_NEEDS_LETTER_AND_DIGIT"]),
        ("19950314", ["PASSWORD_NEEDS_LETTER_AND_DIGIT", "PASSWORD_CONTAINS_BIRTH_DATE"]),
        ("ab19950314", ["PASSWORD_CONTAINS_BIRTH_DATE"]),
        ("ab950314x", ["PASSWORD_CONTAINS_BIRTH_DATE"]),
        ("0314001x", ["PASSWORD_CONTAINS_ID_NUMBER"]),
        ("zz320102yy", ["PASSWORD_CONTAINS_ID_NUMBER"]),
        ("ab0102241q", ["PASSWORD_CONTAINS_CANDIDATE_NO"]),
        ("abc 12345", ["PASSWORD_HAS_SPACE"]),
        ("", ["PASSWORD_TOO_SHORT", "PASSWORD_NEEDS_LETTER_AND_DIGIT"]),
    ],
)
def test_password_rules(password: str, expected: list[str]) -> None:
    assert codes(password) == expected


def test_every_rule_has_its_own_message() -> None:
    problems = rules.password_problems(
        "19950314", birth_date=BIRTH, id_number=ID_NUMBER, candidate_no=CANDIDATE_NO
    )
    assert [str(p.message) for p in problems] == ["密码须同时包含英文字母和数字。", "密码不能包含出生日期。"]


@given(st.text(max_size=80))
def test_policy_never_crashes_and_first_password_is_always_refused(password: str) -> None:
    codes(password)
    assert codes(rules.first_password(BIRTH)) != []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("010224100001", rules.Identifier("candidate_no", "010224100001")),
        (" 0102 2410-0001 ", rules.Identifier("candidate_no", "010224100001")),
        ("32010219950314001x", rules.Identifier("id_number", "32010219950314001X")),
        ("", None),
        ("   ", None),
        ("1" * 33, None),
    ],
)
def test_parse_identifier(raw: str, expected: rules.Identifier | None) -> None:
    assert rules.parse_identifier(raw) == expected


def test_first_password_is_birth_date() -> None:
    assert rules.first_password(BIRTH) == "19950314"


def test_lock_after_max_failures_and_counter_restarts() -> None:
    now = dt.datetime(2026, 5, 10, 15, 0, tzinfo=dt.UTC)
    assert rules.after_failure(0, now=now, max_failures=3, lock_minutes=15) == rules.FailureOutcome(1, None)
    assert rules.after_failure(1, now=now, max_failures=3, lock_minutes=15) == rules.FailureOutcome(2, None)
    assert rules.after_failure(2, now=now, max_failures=3, lock_minutes=15) == rules.FailureOutcome(
        0, now + dt.timedelta(minutes=15)
    )
    assert rules.is_locked(now + dt.timedelta(seconds=1), now) is True
    assert rules.is_locked(now, now) is False
    assert rules.is_locked(None, now) is False


@pytest.mark.parametrize(
    ("phone", "ok"), [("13812345678", True), ("12812345678", False), ("1381234567", False), ("", False)]
)
def test_phone_rule(phone: str, ok: bool) -> None:
    assert (rules.phone_problem(phone) is None) is ok
