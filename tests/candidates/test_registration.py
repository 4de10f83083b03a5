"""New candidate registration (新生报名): submission checks, confirmation, rejection, withdrawal."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from tests.candidates import registration_support
from tests.candidates.registration_support import (
    BIRTH,
    ID_NUMBER,
    IP,
    OUT_OF_PROVINCE_ID,
    image_bytes,
    make_world,
    pdf_upload,
    photo_upload,
    stored_files,
    submit,
)
from tests.factories import CandidateFactory, StaffFactory
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import Role
from zikao.accounts.services import candidate_login, candidate_number_lookup
from zikao.candidates.models import Candidate, Registration, RegistrationDocument
from zikao.candidates.registration import (
    SUBMIT_PER_IP,
    registration_confirm,
    registration_reject,
    registration_withdraw,
)
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError
from zikao.core.masking import mask_id_number
from zikao.core.models import AuditEvent

private_media = registration_support.private_media  # the fixture, used by name below

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def world():
    return make_world()


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen_at(NOW):
        yield


def clerk(office, roles=(Role.REGISTRATION_CLERK,)):
    user = StaffFactory(office=office)
    for role in roles:
        StaffRole.objects.create(user=user, role=role, granted_at=clock.now())
    return Actor.staff(user, ip="10.0.0.1")


def refused(world, code: str, **overrides) -> DomainError:
    before_events = AuditEvent.objects.count()
    with pytest.raises(DomainError) as info:
        submit(world, **overrides)
    assert info.value.code == code, info.value.as_dict()
    assert Registration.objects.count() == 0
    assert RegistrationDocument.objects.count() == 0
    assert AuditEvent.objects.count() == before_events
    return info.value


# --- submission -----------------------------------------------------------------------------------


def test_submit_stores_registration_photo_and_audit(world, private_media):
    registration = submit(world)
    assert registration.status == "submitted"
    assert len(registration.pre_registration_no) == 11
    assert registration.pre_registration_no.startswith("26")
    assert registration.pre_registration_no.isdigit()
    assert registration.id_number == ID_NUMBER
    assert registration.gender == "M"
    assert registration.birth_date == BIRTH
    assert registration.household_region == "320102"  # from the ID number
    assert registration.exam_area == world.county
    assert registration.major == world.major
    assert registration.pledge_accepted_at == NOW
    assert registration.submitted_ip == IP
    photo = registration.documents.get()
    assert photo.kind == "photo"
    assert photo.content_type == "image/png"
    assert (photo.width, photo.height) == (480, 640)
    files = stored_files(private_media)
    assert len(files) == 1
    assert photo.path.startswith("registrations/2026/")
    assert ID_NUMBER not in photo.path and "李华" not in photo.path
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == photo.sha256
    event = AuditEvent.objects.get(event_type="registration.submitted")
    assert event.after["id_number"] == mask_id_number(ID_NUMBER)
    assert ID_NUMBER not in str(event.after)
    assert event.after["pre_registration_no"] == registration.pre_registration_no
    assert event.after["documents"] == ["photo"]


def test_birth_date_and_gender_derived_when_not_given(world):
    registration = submit(world, birth_date=None, gender=None)
    assert (registration.birth_date, registration.gender) == (BIRTH, "M")


def test_wrong_checksum_is_refused_precisely(world, private_media):
    bad = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")
    error = refused(world, "ID_NUMBER_INVALID", id_number=bad)
    assert str(error.message) == "身份证号码校验位不正确。"
    assert stored_files(private_media) == []


def test_birth_date_mismatch(world):
    error = refused(world, "ID_BIRTH_DATE_MISMATCH", birth_date=dt.date(1995, 3, 15))
    assert str(error.message) == "出生日期与证件号码不一致。"


def test_gender_mismatch(world):
    refused(world, "ID_GENDER_MISMATCH", gender="F")


def test_name_required(world):
    refused(world, "NAME_REQUIRED", name="  ")


def test_phone_invalid(world):
    refused(world, "PHONE_INVALID", phone="12345")


def test_existing_candidate_is_refused_without_revealing_number(world):
    candidate = CandidateFactory(id_number=ID_NUMBER, county_office=world.county, candidate_no="010226100001")
    error = refused(world, "REGISTRATION_ALREADY_CANDIDATE")
    assert error.status == 409
    assert candidate.candidate_no not in str(error.message)
    assert candidate.candidate_no not in str(error.fields)
    assert "考籍号查询" in str(error.message)


def test_second_open_registration_refused(world, private_media):
    first = submit(world)
    with pytest.raises(DomainError) as info:
        submit(world, phone="13900000000")
    assert info.value.code == "REGISTRATION_ALREADY_SUBMITTED"
    assert info.value.status == 409
    assert list(Registration.objects.values_list("pk", flat=True)) == [first.pk]
    assert len(stored_files(private_media)) == 1


def test_restricted_major_requires_work_proof(world):
    error = refused(world, "WORK_PROOF_REQUIRED", major_id=world.nursing.pk)
    assert error.fields == {"work_proof": ["WORK_PROOF_REQUIRED"]}
    assert str(error.message) == "护理学 专业须上传本行业从业证明（如执业证书、单位证明）。"


def test_restricted_major_with_work_proof(world):
    registration = submit(world, major_id=world.nursing.pk, work_proof=pdf_upload())
    docs = {d.kind: d.content_type for d in registration.documents.all()}
    assert docs == {"photo": "image/png", "work_proof": "application/pdf"}


def test_non_resident_needs_residence_proof(world):
    refused(
        world,
        "REGISTRATION_NOT_RESIDENT",
        id_number=OUT_OF_PROVINCE_ID,
        gender="F",
        birth_date=dt.date(1990, 7, 1),
    )
    refused(
        world,
        "RESIDENCE_PROOF_REQUIRED",
        id_number=OUT_OF_PROVINCE_ID,
        gender="F",
        birth_date=dt.date(1990, 7, 1),
        residence_basis="residence_permit",
    )


def test_non_resident_with_social_insurance_proof(world):
    registration = submit(
        world,
        id_number=OUT_OF_PROVINCE_ID,
        gender="F",
        birth_date=dt.date(1990, 7, 1),
        residence_basis="social_insurance",
        residence_proof=photo_upload(width=800, height=1000, fmt="JPEG"),
    )
    assert registration.household_region == "110101"
    assert registration.documents.get(kind="residence_proof").content_type == "image/jpeg"


def test_residence_proof_wrong_format(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    refused(
        world,
        "PROOF_FORMAT",
        id_number=OUT_OF_PROVINCE_ID,
        gender="F",
        birth_date=dt.date(1990, 7, 1),
        residence_basis="residence_permit",
        residence_proof=SimpleUploadedFile("p.pdf", b"MZ\x90\x00 not a pdf"),
    )


def test_pledge_required(world):
    error = refused(world, "PLEDGE_REQUIRED", pledge_accepted=False)
    assert error.fields == {"pledge": ["PLEDGE_REQUIRED"]}


def test_photo_missing(world):
    refused(world, "PHOTO_REQUIRED", photo=None)


def test_photo_wrong_format(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    refused(world, "PHOTO_FORMAT", photo=photo_upload(fmt="GIF"))
    refused(world, "PHOTO_FORMAT", photo=SimpleUploadedFile("photo.jpg", b"<html>not an image</html>"))
    refused(world, "PHOTO_FORMAT", photo=SimpleUploadedFile("photo.png", image_bytes()[:200]))  # truncated


def test_photo_too_big(world):
    big = photo_upload(width=1500, height=2000, noise=True)
    assert big.size > 2 * 1024 * 1024
    error = refused(world, "PHOTO_TOO_LARGE", photo=big)
    assert str(error.message) == "照片不能超过2MB。"


@pytest.mark.parametrize("size", [(200, 300), (640, 480), (2100, 2400)])
def test_photo_dimensions(world, size):
    refused(world, "PHOTO_DIMENSIONS", photo=photo_upload(width=size[0], height=size[1]))


def test_major_without_plan_and_area_not_county(world):
    refused(world, "REGISTRATION_MAJOR_INVALID", major_id=world.no_plan_major.pk)
    refused(world, "REGISTRATION_MAJOR_INVALID", major_id=999999)
    refused(world, "REGISTRATION_AREA_INVALID", exam_area_id=world.county.parent_id)


def test_rate_limited_per_ip(world):
    for _n in range(SUBMIT_PER_IP.limit):
        with pytest.raises(DomainError):
            submit(world, name="", ip="198.51.100.1")
    with pytest.raises(DomainError) as info:
        submit(world, ip="198.51.100.1")
    assert info.value.code == "RATE_LIMITED"
    assert Registration.objects.count() == 0
    assert submit(world, ip="198.51.100.2").status == "submitted"


# --- lookup of a pending registration --------------------------------------------------------------


def test_number_lookup_finds_pending_registration(world):
    registration = submit(world)
    result = candidate_number_lookup(
        actor=Actor.public(ip=IP), id_number=ID_NUMBER, name="李华", pre_registration=True
    )
    assert (result.kind, result.number) == ("pre_registration_no", registration.pre_registration_no)
    with pytest.raises(DomainError) as info:
        candidate_number_lookup(
            actor=Actor.public(ip=IP), id_number=ID_NUMBER, name="李四", pre_registration=True
        )
    assert info.value.code == "LOOKUP_NO_MATCH"
    with pytest.raises(DomainError) as info:
        candidate_number_lookup(
            actor=Actor.public(ip=IP), id_number=ID_NUMBER, name="李华", pre_registration=False
        )
    assert info.value.code == "LOOKUP_NO_MATCH"


# --- confirmation -----------------------------------------------------------------------------------


def test_confirm_issues_number_with_county_prefix_and_first_password_works(world):
    registration = submit(world)
    actor = clerk(world.county)
    candidate = registration_confirm(actor=actor, registration=registration, note="证件照片核对一致")
    assert candidate.candidate_no == "010226100001"  # city 01 + county 02 + 26 + first half 1 + 00001
    assert len(candidate.candidate_no) == 12
    assert candidate.pre_registration_no == registration.pre_registration_no
    assert (candidate.id_number, candidate.name, candidate.birth_date) == (ID_NUMBER, "李华", BIRTH)
    assert candidate.county_office == world.county
    assert candidate.prior_education == "zhuanke"
    assert candidate.prior_diploma_no == "1234561201005001"
    assert list(candidate.majors.values_list("plan_id", flat=True)) == [world.plan.pk]
    registration.refresh_from_db()
    assert registration.status == "confirmed"
    assert registration.candidate == candidate
    assert registration.decided_by == actor.user
    assert registration.decision_note == "证件照片核对一致"
    event = AuditEvent.objects.get(event_type="registration.confirmed")
    assert event.after["candidate_no"] == "010226100001"
    assert event.candidate_id == candidate.pk
    login = candidate_login(actor=Actor.public(ip=IP), identifier=candidate.candidate_no, password="19950314")
    assert login.candidate == candidate
    assert login.must_change_password is True
    result = candidate_number_lookup(
        actor=Actor.public(ip=IP), id_number=ID_NUMBER, name="李华", pre_registration=True
    )
    assert (result.kind, result.number) == ("pre_registration_no", registration.pre_registration_no)


def test_confirm_by_city_clerk_of_the_area(world):
    registration = submit(world)
    candidate = registration_confirm(actor=clerk(world.county.parent), registration=registration)
    assert candidate.candidate_no.startswith("0102")


def test_confirm_restricted_major_needs_work_proof_checked(world):
    registration = submit(world, major_id=world.nursing.pk, work_proof=pdf_upload())
    with pytest.raises(DomainError) as info:
        registration_confirm(actor=clerk(world.county), registration=registration)
    assert info.value.code == "WORK_PROOF_NOT_CHECKED"
    assert Candidate.objects.count() == 0
    registration.refresh_from_db()
    assert registration.status == "submitted"
    candidate = registration_confirm(
        actor=clerk(world.county), registration=registration, work_proof_checked=True
    )
    assert candidate.majors.get().plan == world.nursing_plan


def test_confirm_out_of_scope_is_not_found_and_changes_nothing(world):
    registration = submit(world)
    events = AuditEvent.objects.count()
    for actor in (clerk(world.other_county), clerk(world.other_county.parent)):
        with pytest.raises(DomainError) as info:
            registration_confirm(actor=actor, registration=registration)
        assert info.value.code == "NOT_FOUND"
    with pytest.raises(DomainError) as info:
        registration_confirm(actor=clerk(world.county, roles=(Role.RECORD_CLERK,)), registration=registration)
    assert info.value.code == "PERMISSION_DENIED"
    with pytest.raises(DomainError) as info:
        registration_confirm(actor=Actor.public(ip=IP), registration=registration)
    assert info.value.code == "PERMISSION_DENIED"
    registration.refresh_from_db()
    assert registration.status == "submitted"
    assert Candidate.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_confirm_when_person_got_a_number_meanwhile(world):
    registration = submit(world)
    existing = CandidateFactory(
        id_number=ID_NUMBER, county_office=world.other_county, candidate_no="050826100009"
    )
    events = AuditEvent.objects.count()
    with pytest.raises(DomainError) as info:
        registration_confirm(actor=clerk(world.county), registration=registration)
    assert info.value.code == "REGISTRATION_ALREADY_CANDIDATE"
    assert info.value.fields == {"candidate_no": existing.candidate_no}
    assert list(Candidate.objects.values_list("candidate_no", flat=True)) == ["050826100009"]
    registration.refresh_from_db()
    assert registration.status == "submitted"
    assert AuditEvent.objects.count() == events


def test_confirm_twice_is_refused(world):
    registration = submit(world)
    registration_confirm(actor=clerk(world.county), registration=registration)
    stale = Registration.objects.get(pk=registration.pk)
    stale.status = "submitted"  # a page opened before the first decision
    with pytest.raises(DomainError) as info:
        registration_confirm(actor=clerk(world.county), registration=stale)
    assert info.value.code == "REGISTRATION_NOT_PENDING"
    assert Candidate.objects.count() == 1


def test_confirmed_person_cannot_register_again(world):
    registration = submit(world)
    registration_confirm(actor=clerk(world.county), registration=registration)
    with pytest.raises(DomainError) as info:
        submit(world)
    assert info.value.code == "REGISTRATION_ALREADY_CANDIDATE"
    assert Registration.objects.count() == 1


# --- rejection and withdrawal -------------------------------------------------------------------------


def test_reject_with_reason_then_submit_again(world):
    registration = submit(world)
    actor = clerk(world.county)
    with pytest.raises(DomainError) as info:
        registration_reject(actor=actor, registration=registration, reason=" ")
    assert info.value.code == "REGISTRATION_REJECT_REASON_REQUIRED"
    registration.refresh_from_db()
    assert registration.status == "submitted"
    registration_reject(actor=actor, registration=registration, reason="照片不清晰")
    registration.refresh_from_db()
    assert (registration.status, registration.decision_note) == ("rejected", "照片不清晰")
    assert AuditEvent.objects.get(event_type="registration.rejected").after["reason"] == "照片不清晰"
    again = submit(world)
    assert again.pk != registration.pk and again.status == "submitted"


def test_reject_out_of_scope(world):
    registration = submit(world)
    with pytest.raises(DomainError) as info:
        registration_reject(actor=clerk(world.other_county), registration=registration, reason="x")
    assert info.value.code == "NOT_FOUND"
    registration.refresh_from_db()
    assert registration.status == "submitted"


def test_withdraw_needs_matching_id(world):
    registration = submit(world)
    with pytest.raises(DomainError) as info:
        registration_withdraw(
            actor=Actor.public(ip=IP), pre_registration_no=registration.pre_registration_no, id_number="X"
        )
    assert info.value.code == "NOT_FOUND"
    registration_withdraw(
        actor=Actor.public(ip=IP),
        pre_registration_no=registration.pre_registration_no,
        id_number=ID_NUMBER.lower(),
    )
    registration.refresh_from_db()
    assert registration.status == "withdrawn"
    with pytest.raises(DomainError) as info:
        registration_confirm(actor=clerk(world.county), registration=registration)
    assert info.value.code == "REGISTRATION_NOT_PENDING"
