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
