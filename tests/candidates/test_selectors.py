import datetime as dt

import pytest

from tests.factories import SHANGHAI, CandidateFactory, CourseFactory, ScoreFactory, SittingFactory
from zikao.candidates.selectors import candidate_get, candidate_record
from zikao.conduct.models import Violation
from zikao.core import clock
from zikao.core.errors import NotFound
from zikao.credits.models import Exemption, TransferIn, TransferInCourse

pytestmark = pytest.mark.django_db


def test_candidate_get_hides_missing_and_merged_alike():
    alive = CandidateFactory()
    merged = CandidateFactory(status="merged", merged_into=alive)
    assert candidate_get(alive.candidate_no) == alive
    for number in (merged.candidate_no, "999999999999", "not-a-number"):
        with pytest.raises(NotFound) as exc:
            candidate_get(number)
        assert exc.value.code == "NOT_FOUND"


def test_record_has_every_section_masked_and_embargoed():
    candidate = CandidateFactory(phone="13812345678")
    empty = candidate_record(CandidateFactory())
    assert (empty.scores, empty.violations, empty.transfers_in, empty.exemptions, empty.graduations) == (
        [],
        [],
        [],
        [],
        [],
    )
    released = SittingFactory(label="202604", release_at=dt.datetime(2026, 5, 10, 15, tzinfo=SHANGHAI))
    pending = SittingFactory(label="202610", release_at=dt.datetime(2026, 11, 28, 15, tzinfo=SHANGHAI))
    ScoreFactory(
        entry__candidate=candidate, entry__sitting=released, entry__course=CourseFactory(code="00023")
    )
    ScoreFactory(
        entry__candidate=candidate, entry__sitting=pending, entry__course=CourseFactory(code="02324")
    )
    Violation.objects.create(
        candidate=candidate,
        sitting=released,
        course=CourseFactory(code="00023"),
        kind="rule_breach",
        penalty="void_course",
        decided_at=dt.datetime(2026, 4, 20, tzinfo=SHANGHAI),
    )
    exemption = Exemption.objects.create(
        candidate=candidate,
        basis="certificate",
        basis_detail="CET-4 512",
        status="approved",
        requested_at=dt.datetime(2025, 3, 1, tzinfo=SHANGHAI),
    )
    exemption.courses.add(CourseFactory(code="13000"))
    Exemption.objects.create(
        candidate=candidate,
        basis="certificate",
        basis_detail="NCRE",
        status="requested",
        requested_at=dt.datetime(2025, 3, 1, tzinfo=SHANGHAI),
    )
    transfer = TransferIn.objects.create(
        candidate=candidate,
        from_province="浙江省",
        from_candidate_no="010119100001",
        arrived_on=dt.date(2024, 9, 1),
    )
    TransferInCourse.objects.create(
        transfer=transfer, remote_code="02324", remote_name="离散数学", remote_credits=4
    )
    with clock.frozen_at(dt.datetime(2026, 11, 28, 14, 59, tzinfo=SHANGHAI)):
        record = candidate_record(candidate)
    assert record.identity.id_number_masked == candidate.id_number[:6] + "********" + candidate.id_number[-4:]
    assert record.identity.phone_masked == "138****5678"
    assert [(s.sitting, s.course_code) for s in record.scores] == [("202604", "00023")]
    assert [v.kind for v in record.violations] == ["rule_breach"]
    assert [e.basis_detail for e in record.exemptions] == ["CET-4 512"]
    assert [t.from_province for t in record.transfers_in] == ["浙江省"]
    assert record.suspension is None
