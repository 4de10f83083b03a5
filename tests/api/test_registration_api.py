"""API of online registration: multipart submit, status, pledge text."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.candidates import registration_support
from tests.candidates.registration_support import (
    BIRTH,
    ID_NUMBER,
    image_bytes,
    make_world,
    stored_files,
    submit,
)
from tests.factories import CandidateFactory, StaffFactory
from tests.portal.helpers import captcha_passes  # noqa: F401
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import Role
from zikao.candidates.models import Registration
from zikao.candidates.registration import PLEDGE_TEXT, registration_confirm
from zikao.core import clock
from zikao.core.audit import Actor

private_media = registration_support.private_media  # the fixture, used by name below

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media", "captcha_passes")]


@pytest.fixture
def world():
    return make_world()


def payload(world, **overrides):
    data = {
        "id_type": "resident_id",
        "id_number": ID_NUMBER,
        "name": "李华",
        "birth_date": BIRTH.isoformat(),
        "gender": "M",
        "phone": "13812345678",
        "address": "南京市玄武区北京东路1号",
        "residence_basis": "household",
        "prior_education": "zhuanke",
        "major_id": str(world.major.pk),
        "exam_area_id": str(world.county.pk),
        "pledge_accepted": "true",
        "captcha_key": "k",
        "captcha_value": "PASSED",
        "photo": SimpleUploadedFile("me.jpg", image_bytes(fmt="JPEG"), content_type="image/jpeg"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_pledge_text(client):
    response = client.get("/api/registration/pledge")
    assert response.status_code == 200
    assert response.json() == {"text": str(PLEDGE_TEXT)}


def test_submit_multipart(client, world, private_media):
    response = client.post("/api/registration", payload(world))
    assert response.status_code == 201, response.json()
    body = response.json()
    registration = Registration.objects.get()
    assert body["pre_registration_no"] == registration.pre_registration_no
    assert body["status"] == "submitted"
    assert registration.documents.get().content_type == "image/jpeg"
    assert len(stored_files(private_media)) == 1


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"pledge_accepted": "false"}, 422, "PLEDGE_REQUIRED"),
        ({"birth_date": "1995-03-15"}, 422, "ID_BIRTH_DATE_MISMATCH"),
        ({"photo": None}, 422, "INVALID_INPUT"),
        ({"captcha_value": "nope"}, 400, "CAPTCHA_INVALID"),
        ({"major_id": "abc"}, 422, "INVALID_INPUT"),
        ({"major_id": None}, 422, "INVALID_INPUT"),
        ({"exam_area_id": "0"}, 422, "REGISTRATION_AREA_INVALID"),
    ],
)
def test_submit_refusals(client, world, overrides, status, code, private_media):
    response = client.post("/api/registration", payload(world, **overrides))
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert Registration.objects.count() == 0
    assert stored_files(private_media) == []


def test_submit_existing_candidate_409_without_number(client, world):
    CandidateFactory(id_number=ID_NUMBER, county_office=world.county, candidate_no="010226100055")
    response = client.post("/api/registration", payload(world))
    assert response.status_code == 409
    assert response.json()["code"] == "REGISTRATION_ALREADY_CANDIDATE"
    assert "010226100055" not in response.content.decode()
    assert Registration.objects.count() == 0


def test_status_flow(client, world):
    registration = submit(world)
    body = {
        "pre_registration_no": registration.pre_registration_no,
        "id_number": ID_NUMBER,
        "captcha_key": "k",
        "captcha_value": "PASSED",
    }
    response = client.post("/api/registration/status", body, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {
        "pre_registration_no": registration.pre_registration_no,
        "status": "submitted",
        "status_label": "待确认",
        "major_code": "080901",
        "major_name": "计算机科学与技术",
        "exam_area": "玄武区",
        "candidate_no": None,
        "reason": None,
    }
    user = StaffFactory(office=world.county)
    StaffRole.objects.create(user=user, role=Role.REGISTRATION_CLERK, granted_at=clock.now())
    candidate = registration_confirm(actor=Actor.staff(user), registration=registration)
    response = client.post("/api/registration/status", body, content_type="application/json")
    assert (response.json()["status"], response.json()["candidate_no"]) == (
        "confirmed",
        candidate.candidate_no,
    )
    wrong = client.post(
        "/api/registration/status",
        {**body, "id_number": "110101199003070011"},
        content_type="application/json",
    )
    assert wrong.status_code == 404
    assert wrong.json()["code"] == "NOT_FOUND"
