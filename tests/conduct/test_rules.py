import datetime as dt

import pytest

from tests.factories import CandidateFactory, SittingFactory
from zikao.conduct.models import Violation
from zikao.conduct.rules import SuspensionPeriod, blocks, suspension_running
from zikao.conduct.selectors import candidate_suspension

D = dt.date


def test_running_suspension_bounds_are_inclusive():
    period = SuspensionPeriod(D(2025, 11, 1), D(2027, 10, 31))
    assert suspension_running([period], D(2025, 10, 31)) is None
    assert suspension_running([period], D(2025, 11, 1)) == period
    assert suspension_running([period], D(2027, 10, 31)) == period
    assert suspension_running([period], D(2027, 11, 1)) is None


def test_revoked_suspension_never_blocks():
    revoked = SuspensionPeriod(
        D(2025, 1, 1), D(2027, 1, 1), revoked_at=dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    )
    assert blocks("entry", [revoked], D(2026, 1, 1)) is None


def test_suspension_blocks_entry_transfer_graduation_only():
    period = SuspensionPeriod(D(2025, 1, 1), D(2027, 1, 1))
    for action in ("entry", "transfer", "graduation"):
        assert blocks(action, [period], D(2026, 1, 1)) == period
    assert blocks("score_read", [period], D(2026, 1, 1)) is None


def test_longest_running_suspension_is_reported():
    a, b = SuspensionPeriod(D(2025, 1, 1), D(2026, 1, 1)), SuspensionPeriod(D(2025, 6, 1), D(2028, 6, 1))
    assert suspension_running([a, b], D(2025, 7, 1)) == b


@pytest.mark.django_db
def test_candidate_suspension_reads_violations():
    candidate = CandidateFactory()
    Violation.objects.create(
        candidate=candidate,
        sitting=SittingFactory(),
        kind="serious_cheating",
        penalty="void_sitting",
        suspension="zikao",
        suspension_years=2,
        suspension_starts=D(2026, 4, 11),
        suspension_ends=D(2028, 4, 10),
        decided_at=dt.datetime(2026, 4, 30, tzinfo=dt.UTC),
    )
    assert candidate_suspension(candidate, on=D(2027, 1, 1)).ends == D(2028, 4, 10)
    assert candidate_suspension(candidate, on=D(2028, 4, 11)) is None
    assert candidate_suspension(CandidateFactory(), on=D(2027, 1, 1)) is None


# --- penalties per kind (教育部令第33号) ---------------------------------------------------------

from zikao.conduct import rules  # noqa: E402
from zikao.conduct.models import ViolationAppeal  # noqa: E402
from zikao.core.errors import DomainError  # noqa: E402


def test_rule_constants_match_the_model_choices():
    assert set(rules.KINDS) == set(Violation.Kind.values)
    assert set(rules.KIND_PENALTY.values()) == set(Violation.Penalty.values)
    assert set(rules.KIND_SUSPENSION.values()) == set(Violation.Suspension.values)
    assert set(rules.APPEAL_OUTCOMES) == set(ViolationAppeal.Status.values) - {"open"}


@pytest.mark.parametrize(
    "kind,has_course,years,expected",
    [
        ("rule_breach", True, None, rules.Decision("rule_breach", "void_course", "", None)),
        ("cheating", False, None, rules.Decision("cheating", "void_sitting", "", None)),
        ("serious_cheating", False, None, rules.Decision("serious_cheating", "void_sitting", "zikao", 1)),
        ("serious_cheating", False, 1, rules.Decision("serious_cheating", "void_sitting", "zikao", 1)),
        ("serious_cheating", False, 2, rules.Decision("serious_cheating", "void_sitting", "zikao", 2)),
        ("serious_cheating", False, 3, rules.Decision("serious_cheating", "void_sitting", "zikao", 3)),
        (
            "organised_cheating",
            False,
            None,
            rules.Decision("organised_cheating", "void_sitting", "all_national", 3),
        ),
        (
            "organised_cheating",
            False,
            1,
            rules.Decision("organised_cheating", "void_sitting", "all_national", 1),
        ),
        (
            "organised_cheating",
            False,
            2,
            rules.Decision("organised_cheating", "void_sitting", "all_national", 2),
        ),
    ],
)
def test_each_kind_implies_its_penalty(kind, has_course, years, expected):
    assert rules.decide_penalty(kind, suspension_years=years, has_course=has_course) == expected
    assert rules.decide_penalty(
        kind, penalty=expected.penalty, suspension_years=years, has_course=has_course
    ) == (expected)


@pytest.mark.parametrize(
    "kind,penalty,years,has_course,code",
    [
        ("rule_breach", "void_sitting", None, True, "VIOLATION_PENALTY_MISMATCH"),
        ("cheating", "void_course", None, False, "VIOLATION_PENALTY_MISMATCH"),
        ("serious_cheating", "void_course", None, False, "VIOLATION_PENALTY_MISMATCH"),
        ("organised_cheating", "suspend", None, False, "VIOLATION_PENALTY_MISMATCH"),
        ("rule_breach", None, None, False, "VIOLATION_COURSE_REQUIRED"),
        ("cheating", None, None, True, "VIOLATION_COURSE_NOT_APPLICABLE"),
        ("serious_cheating", None, 2, True, "VIOLATION_COURSE_NOT_APPLICABLE"),
        ("rule_breach", None, 1, True, "VIOLATION_SUSPENSION_NOT_ALLOWED"),
        ("cheating", None, 3, False, "VIOLATION_SUSPENSION_NOT_ALLOWED"),
        ("serious_cheating", None, 0, False, "VIOLATION_SUSPENSION_YEARS_INVALID"),
        ("serious_cheating", None, 4, False, "VIOLATION_SUSPENSION_YEARS_INVALID"),
        ("organised_cheating", None, True, False, "VIOLATION_SUSPENSION_YEARS_INVALID"),
        ("organised_cheating", None, "2", False, "VIOLATION_SUSPENSION_YEARS_INVALID"),
        ("", None, None, False, "VIOLATION_KIND_INVALID"),
        ("Cheating", None, None, False, "VIOLATION_KIND_INVALID"),
    ],
)
def test_inconsistent_decisions_are_refused(kind, penalty, years, has_course, code):
    with pytest.raises(DomainError) as exc:
        rules.decide_penalty(kind, penalty=penalty, suspension_years=years, has_course=has_course)
    assert exc.value.code == code


@pytest.mark.parametrize(
    "first_day,years,ends",
    [
        (D(2026, 4, 11), 1, D(2027, 4, 10)),
        (D(2026, 4, 11), 3, D(2029, 4, 10)),
        (D(2025, 10, 18), 2, D(2027, 10, 17)),
        (D(2026, 1, 1), 1, D(2026, 12, 31)),
        (D(2024, 2, 29), 1, D(2025, 2, 28)),  # leap day: one year later is 1 March, so 28 Feb is the last day
        (D(2024, 2, 29), 3, D(2027, 2, 28)),
    ],
)
def test_suspension_runs_whole_years_from_the_sittings_first_day(first_day, years, ends):
    assert rules.suspension_dates(first_day, years) == (first_day, ends)


def test_suspension_dates_refuse_out_of_range_years():
    for years in (0, 4):
        with pytest.raises(ValueError):
            rules.suspension_dates(D(2026, 4, 11), years)


def test_add_years():
    assert rules.add_years(D(2026, 4, 11), 2) == D(2028, 4, 11)
    assert rules.add_years(D(2024, 2, 29), 4) == D(2028, 2, 29)
    assert rules.add_years(D(2024, 2, 29), 1) == D(2025, 3, 1)


def test_scope_and_revocation_do_not_change_blocking_of_all_national():
    national = SuspensionPeriod(D(2026, 4, 11), D(2029, 4, 10), scope="all_national", violation_id=7)
    assert blocks("graduation", [national], D(2029, 4, 10)) == national
    assert blocks("graduation", [national], D(2029, 4, 11)) is None


@pytest.mark.parametrize(
    "penalty,course,expected",
    [
        ("void_course", "A", {"A"}),
        ("void_course", "C", set()),  # absent: nothing to void
        ("void_course", "Z", set()),  # no such result
        ("void_sitting", None, {"A", "B", "W"}),
    ],
)
def test_voided_course_codes(penalty, course, expected):
    results = [("A", "valid"), ("B", "valid"), ("C", "absent"), ("V", "void"), ("W", "withheld")]
    assert rules.voided_course_codes(penalty, course, results) == expected


def test_covers():
    assert rules.covers("void_sitting", None, "A")
    assert rules.covers("void_course", "A", "A")
    assert not rules.covers("void_course", "A", "B")


def dec(kind, years=None):
    return rules.Decision(kind, rules.KIND_PENALTY[kind], rules.KIND_SUSPENSION[kind], years)


@pytest.mark.parametrize(
    "old,new,old_course,new_course,code",
    [
        (dec("organised_cheating", 3), dec("serious_cheating", 3), None, None, None),
        (dec("organised_cheating", 1), dec("serious_cheating", 3), None, None, None),  # lighter kind wins
        (dec("serious_cheating", 3), dec("serious_cheating", 2), None, None, None),
        (dec("serious_cheating", 1), dec("cheating"), None, None, None),
        (dec("cheating"), dec("rule_breach"), None, "A", None),
        (dec("serious_cheating", 2), dec("rule_breach"), None, "B", None),
        (dec("serious_cheating", 2), dec("serious_cheating", 2), None, None, "VIOLATION_REDUCTION_NOT_LESS"),
        (dec("serious_cheating", 2), dec("serious_cheating", 3), None, None, "VIOLATION_REDUCTION_NOT_LESS"),
        (dec("cheating"), dec("cheating"), None, None, "VIOLATION_REDUCTION_NOT_LESS"),
        (dec("cheating"), dec("organised_cheating", 1), None, None, "VIOLATION_REDUCTION_NOT_LESS"),
        (dec("rule_breach"), dec("rule_breach"), "A", "A", "VIOLATION_REDUCTION_NOT_LESS"),
        (dec("rule_breach"), dec("rule_breach"), "A", "B", "VIOLATION_REDUCTION_SCOPE"),
    ],
)
def test_reduction_must_be_lighter(old, new, old_course, new_course, code):
    if code is None:
        rules.check_reduction(old, new, old_course=old_course, new_course=new_course)
    else:
        with pytest.raises(DomainError) as exc:
            rules.check_reduction(old, new, old_course=old_course, new_course=new_course)
        assert exc.value.code == code


@pytest.mark.parametrize(
    "decided,received,submitted,today,code",
    [
        (D(2026, 5, 1), D(2026, 5, 1), D(2026, 5, 16), D(2026, 5, 20), None),  # day 15
        (D(2026, 5, 1), D(2026, 5, 1), D(2026, 5, 17), D(2026, 5, 20), "VIOLATION_APPEAL_LATE"),  # day 16
        (D(2026, 5, 1), D(2026, 5, 10), D(2026, 5, 25), D(2026, 5, 25), None),
        (D(2026, 5, 1), D(2026, 5, 1), D(2026, 5, 1), D(2026, 5, 1), None),
        (D(2026, 5, 1), D(2026, 4, 30), D(2026, 5, 2), D(2026, 5, 20), "VIOLATION_APPEAL_DATE_INVALID"),
        (D(2026, 5, 1), D(2026, 5, 3), D(2026, 5, 2), D(2026, 5, 20), "VIOLATION_APPEAL_DATE_INVALID"),
        (D(2026, 5, 1), D(2026, 5, 1), D(2026, 5, 21), D(2026, 5, 20), "VIOLATION_APPEAL_DATE_INVALID"),
    ],
)
def test_appeal_dates(decided, received, submitted, today, code):
    call = lambda: rules.check_appeal_dates(  # noqa: E731
        decided_on=decided, received_on=received, submitted_on=submitted, today=today
    )
    if code is None:
        call()
    else:
        with pytest.raises(DomainError) as exc:
            call()
        assert exc.value.code == code
    assert rules.appeal_deadline(D(2026, 5, 1)) == D(2026, 5, 16)


@pytest.mark.parametrize(
    "deciding,reviewer,allowed",
    [
        ("county", "county", False),
        ("county", "city", True),
        ("county", "province", True),
        ("city", "county", False),
        ("city", "city", False),
        ("city", "province", True),
        ("province", "city", False),
        ("province", "province", True),
        (None, "city", False),
        (None, "province", True),
        ("county", "nowhere", False),
    ],
)
def test_appeal_reviewer_level(deciding, reviewer, allowed):
    assert rules.may_review(deciding_office_level=deciding, reviewer_level=reviewer) is allowed


# --- properties over every input -----------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DECISION_CODES = {
    "VIOLATION_KIND_INVALID",
    "VIOLATION_PENALTY_MISMATCH",
    "VIOLATION_COURSE_REQUIRED",
    "VIOLATION_COURSE_NOT_APPLICABLE",
    "VIOLATION_SUSPENSION_NOT_ALLOWED",
    "VIOLATION_SUSPENSION_YEARS_INVALID",
}


@settings(deadline=None)  # pure and fast; the shared CPU makes wall-clock deadlines flaky
@given(
    kind=st.sampled_from([*rules.KINDS, "", "other"]),
    penalty=st.sampled_from([None, "", "void_course", "void_sitting", "x"]),
    years=st.one_of(st.none(), st.integers(-2, 6)),
    has_course=st.booleans(),
)
def test_decide_penalty_is_total_and_consistent(kind, penalty, years, has_course):
    try:
        decision = rules.decide_penalty(kind, penalty=penalty, suspension_years=years, has_course=has_course)
    except DomainError as exc:
        assert exc.code in DECISION_CODES
        return
    assert decision.kind == kind
    assert decision.penalty == rules.KIND_PENALTY[kind]
    assert decision.suspension == rules.KIND_SUSPENSION[kind]
    assert has_course is (decision.penalty == "void_course")
    if decision.suspension:
        assert 1 <= decision.suspension_years <= 3
        assert years is None or decision.suspension_years == years
    else:
        assert decision.suspension_years is None and years is None


@settings(deadline=None)
@given(first_day=st.dates(D(2000, 1, 1), D(2090, 12, 31)), years=st.integers(1, 3))
def test_suspension_period_is_exactly_whole_years(first_day, years):
    starts, ends = rules.suspension_dates(first_day, years)
    assert starts == first_day
    assert ends + dt.timedelta(days=1) == rules.add_years(first_day, years)
    period = SuspensionPeriod(starts, ends)
    assert suspension_running([period], starts - dt.timedelta(days=1)) is None
    assert suspension_running([period], starts) == period
    assert suspension_running([period], ends) == period
    assert suspension_running([period], ends + dt.timedelta(days=1)) is None
    assert 365 * years <= (ends - starts).days + 1 <= 366 * years
