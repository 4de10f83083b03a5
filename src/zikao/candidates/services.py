"""Writes of the candidate record: creating a record and issuing its lifelong number."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.candidates.models import Candidate, CandidateMajor, CandidateNumberSequence
from zikao.catalog.models import Plan
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, ValidationFailed
from zikao.core.identity import check_identity
from zikao.core.masking import mask_id_number
from zikao.core.numbers import candidate_no_prefix

SEQUENCE_MAX = 99999


def candidate_no_allocate(*, county_office: Office, on: date) -> str:
    """Issue the next 12-digit number for a county and the sitting half-year of `on`.

    Must run inside the caller's transaction: the sequence row is locked (SELECT … FOR UPDATE
    on PostgreSQL; SQLite serialises writers), so two confirmations never get one number.
    Refuses CANDIDATE_NO_EXHAUSTED when the county has issued 99,999 numbers in that half-year.
    """
    if county_office.level != Office.Level.COUNTY or county_office.parent is None:
        raise ValidationFailed(
            "OFFICE_NOT_COUNTY", _("准考证号须由县(区)考办签发。"), {"county_office": county_office.pk}
        )
    prefix = candidate_no_prefix(county_office.parent.exam_code, county_office.exam_code, on.year, on.month)
    CandidateNumberSequence.objects.get_or_create(prefix=prefix)
    seq = CandidateNumberSequence.objects.select_for_update().get(prefix=prefix)
    if seq.last >= SEQUENCE_MAX:
        raise DomainError("CANDIDATE_NO_EXHAUSTED", _("本考区本期准考证号已用完。"), {"prefix": prefix})
    seq.last += 1
    seq.save(update_fields=["last"])
    return f"{prefix}{seq.last:05d}"


def _existing_record(id_type: str, id_number: str) -> Candidate | None:
    return (
        Candidate.objects.filter(id_type=id_type, id_number=id_number)
        .exclude(status=Candidate.Status.MERGED)
        .first()
    )


@transaction.atomic
def candidate_create(
    *,
    actor: Actor,
    id_type: str,
    id_number: str,
    name: str,
    county_office: Office,
    plan: Plan,
    gender: str | None = None,
    birth_date: date | None = None,
    phone: str = "",
    address: str = "",
    ethnicity: str = "",
    household_region: str = "",
    work_unit: str = "",
    prior_education: str = "none",
    pre_registration_no: str | None = None,
) -> Candidate:
    """Create a confirmed record with a new candidate number, registered for `plan`'s major.

    Refuses ID_NUMBER_INVALID / ID_BIRTH_DATE_MISMATCH / ID_GENDER_MISMATCH for a document that
    does not check out, NAME_REQUIRED, and CANDIDATE_EXISTS when the person already has an open
    record (one person, one number for life): the error names that record's number.
    """
    doc = check_identity(id_type, id_number, birth_date=birth_date, gender=gender)
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ValidationFailed("NAME_REQUIRED", _("请填写姓名(不超过50字)。"), {"name": name})
    existing = _existing_record(doc.id_type, doc.number)
    if existing is not None:
        raise DomainError(
            "CANDIDATE_EXISTS",
            _("该证件号码已有考籍，准考证号为 %(no)s，不能重复报名。") % {"no": existing.candidate_no},
            {"candidate_no": existing.candidate_no},
        )
    today = clock.today()
    number = candidate_no_allocate(county_office=county_office, on=today)
    assert doc.birth_date is not None and doc.gender is not None
    try:
        with transaction.atomic():
            candidate = Candidate.objects.create(
                candidate_no=number,
                pre_registration_no=pre_registration_no,
                id_type=doc.id_type,
                id_number=doc.number,
                name=name,
                gender=doc.gender,
                birth_date=doc.birth_date,
                phone=phone,
                address=address,
                ethnicity=ethnicity,
                household_region=household_region or (doc.region_code or ""),
                county_office=county_office,
                work_unit=work_unit,
                prior_education=prior_education,
                registered_on=today,
                created_at=clock.now(),
            )
    except IntegrityError as exc:  # a concurrent confirmation of the same person won the race
        raise DomainError("CANDIDATE_EXISTS", _("该证件号码已有考籍，不能重复报名。"), {}) from exc
    CandidateMajor.objects.create(candidate=candidate, major=plan.major, plan=plan, registered_on=today)
    audit_record(
        actor=actor,
        event_type="candidate.created",
        subject=candidate,
        candidate=candidate,
        after={
            "candidate_no": number,
            "id_number": mask_id_number(doc.number),
            "major": plan.major.code,
            "plan_version": plan.version,
            "county_office": county_office.region_code,
        },
    )
    return candidate
