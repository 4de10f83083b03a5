import datetime as dt

import pytest

from tests.factories import CandidateFactory, CountyFactory, PlanFactory
from zikao.candidates.models import Candidate, CandidateMajor, CandidateNumberSequence
from zikao.candidates.services import candidate_create, candidate_no_allocate
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, ValidationFailed
from zikao.core.identity import make_resident_id
from zikao.core.models import AuditEvent
from zikao.core.numbers import parse_candidate_no

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
OCT_2026 = dt.datetime(2026, 9, 1, 10, 0, tzinfo=dt.UTC)


def _create(**overrides):
    county = overrides.pop("county_office", None) or CountyFactory()
    kwargs = dict(
        actor=ACTOR,
        id_type="resident_id",
        id_number=make_resident_id("320102", dt.date(1998, 7, 1), 456),
        name="李华",
        county_office=county,
        plan=PlanFactory(),
    )
    kwargs.update(overrides)
    return candidate_create(**kwargs)


def test_create_issues_number_with_county_prefix_and_derives_identity():
    with clock.frozen_at(OCT_2026):
        candidate = _create()
    parsed = parse_candidate_no(candidate.candidate_no)
    assert (parsed.city, parsed.county, parsed.year, parsed.sitting_digit, parsed.sequence) == (
        "01",
        "02",
        "26",
        "2",
        1,
    )
    assert (candidate.birth_date, candidate.gender, candidate.household_region) == (
        dt.date(1998, 7, 1),
        "F",
        "320102",
    )
    assert CandidateMajor.objects.get(candidate=candidate).plan.version == 2024
    event = AuditEvent.objects.get(event_type="candidate.created")
    assert event.after["id_number"] == candidate.id_number[:6] + "********" + candidate.id_number[-4:]
    assert candidate.id_number not in str(event.after)


def test_numbers_are_sequential_per_prefix():
    county = CountyFactory()
    with clock.frozen_at(OCT_2026):
        a = candidate_no_allocate(county_office=county, on=dt.date(2026, 10, 1))
        b = candidate_no_allocate(county_office=county, on=dt.date(2026, 10, 1))
        c = candidate_no_allocate(county_office=county, on=dt.date(2027, 3, 1))
    assert (a, b, c) == ("010226200001", "010226200002", "010227100001")
    assert CandidateNumberSequence.objects.get(prefix="0102262").last == 2


def test_same_person_never_gets_a_second_number():
    existing = CandidateFactory(id_number=make_resident_id("320102", dt.date(1998, 7, 1), 456), gender="F")
    before = Candidate.objects.count()
    with pytest.raises(DomainError) as exc:
        _create()
    assert exc.value.code == "CANDIDATE_EXISTS"
    assert exc.value.fields == {"candidate_no": existing.candidate_no}
    assert Candidate.objects.count() == before
    assert not CandidateNumberSequence.objects.exists()
    assert not AuditEvent.objects.filter(event_type="candidate.created").exists()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"id_number": "320102199807014560"}, "ID_NUMBER_INVALID"),
        ({"birth_date": dt.date(1998, 7, 2)}, "ID_BIRTH_DATE_MISMATCH"),
        ({"gender": "M"}, "ID_GENDER_MISMATCH"),
        ({"name": "  "}, "NAME_REQUIRED"),
    ],
)
def test_bad_identity_changes_nothing(overrides, code):
    with pytest.raises(ValidationFailed) as exc:
        _create(**overrides)
    assert exc.value.code == code
    assert not Candidate.objects.exists()
    assert not CandidateNumberSequence.objects.exists()


def test_numbers_come_only_from_county_offices():
    county = CountyFactory()
    with pytest.raises(ValidationFailed) as exc:
        candidate_no_allocate(county_office=county.parent, on=dt.date(2026, 10, 1))
    assert exc.value.code == "OFFICE_NOT_COUNTY"


def test_str_masks_personal_data():
    candidate = CandidateFactory(name="王小明")
    text = str(candidate) + repr(candidate)
    assert candidate.id_number not in text
    assert "王小明" not in text
    assert candidate.candidate_no in text
