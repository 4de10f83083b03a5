"""/api/registration/… : online registration (新生报名) for the mobile app.

Same service and error codes as the portal page. `POST /api/registration` is multipart/form-data
(fields below + files `photo`, optional `residence_proof`, `work_proof`) and needs a captcha from
`GET /api/auth/captcha`; `POST /api/registration/status` takes the 报名号 + ID number.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, File, Form, Router, Schema, UploadedFile
from ninja.responses import Status
from pydantic import AfterValidator

from zikao.api.routers.auth import (
    ERRORS,
    NO_NUL,
    CaptchaAnswer,
    CaptchaKey,
    DocumentNumber,
    Line50,
    _actor,
    _encodable,
    check_captcha,
)
from zikao.candidates.registration import PLEDGE_TEXT, registration_submit
from zikao.candidates.registration_selectors import registration_for_applicant

router = Router(tags=["registration (新生报名)"])
OPTIONAL_FILE = File(None)  # an optional multipart file part

Text = Annotated[str, Field(max_length=200, pattern=NO_NUL), AfterValidator(_encodable)]


class RegistrationIn(Schema):
    id_type: Annotated[str, Field(max_length=20, pattern=NO_NUL)] = "resident_id"
    id_number: DocumentNumber
    name: Line50
    gender: Annotated[str, Field(max_length=1, pattern=NO_NUL)] | None = None
    birth_date: date | None = None
    phone: Annotated[str, Field(max_length=20, pattern=NO_NUL)]
    address: Text
    household_region: Annotated[str, Field(max_length=6, pattern=NO_NUL)] = ""
    residence_basis: Annotated[str, Field(max_length=20, pattern=NO_NUL)] = "household"
    prior_education: Annotated[str, Field(max_length=16, pattern=NO_NUL)] = "none"
    prior_diploma_no: Annotated[str, Field(max_length=40, pattern=NO_NUL)] = ""
    work_unit: Annotated[str, Field(max_length=100, pattern=NO_NUL)] = ""
    major_id: int
    exam_area_id: int
    pledge_accepted: bool = Field(False, description="诚信考试承诺书 accepted (GET /api/registration/pledge)")
    captcha_key: CaptchaKey
    captcha_value: CaptchaAnswer


class SubmittedOut(Schema):
    pre_registration_no: str
    status: str
    submitted_at: datetime


class StatusIn(Schema):
    pre_registration_no: Annotated[str, Field(min_length=1, max_length=16, pattern=r"^\d+$")]
    id_number: DocumentNumber
    captcha_key: CaptchaKey
    captcha_value: CaptchaAnswer


class StatusOut(Schema):
    pre_registration_no: str
    status: str
    status_label: str
    major_code: str
    major_name: str
    exam_area: str
    candidate_no: str | None = None
    reason: str | None = None


class PledgeOut(Schema):
    text: str


@router.get("/pledge", response={200: PledgeOut}, summary="The integrity pledge text (诚信考试承诺书)")
def pledge(request: HttpRequest):
    return Status(200, {"text": str(PLEDGE_TEXT)})


@router.post("", response={201: SubmittedOut, 409: ERRORS[422], **ERRORS}, summary="Submit a registration")
def submit(
    request: HttpRequest,
    payload: Form[RegistrationIn],
    photo: File[UploadedFile],
    residence_proof: UploadedFile | None = OPTIONAL_FILE,
    work_proof: UploadedFile | None = OPTIONAL_FILE,
):
    check_captcha(payload.captcha_key, payload.captcha_value)
    registration = registration_submit(
        actor=_actor(request),
        id_type=payload.id_type,
        id_number=payload.id_number,
        name=payload.name,
        gender=payload.gender or None,
        birth_date=payload.birth_date,
        phone=payload.phone,
        address=payload.address,
        household_region=payload.household_region,
        residence_basis=payload.residence_basis,
        prior_education=payload.prior_education,
        prior_diploma_no=payload.prior_diploma_no,
        work_unit=payload.work_unit,
        major_id=payload.major_id,
        exam_area_id=payload.exam_area_id,
        pledge_accepted=payload.pledge_accepted,
        photo=photo,
        residence_proof=residence_proof,
        work_proof=work_proof,
    )
    return Status(
        201,
        {
            "pre_registration_no": registration.pre_registration_no,
            "status": registration.status,
            "submitted_at": registration.submitted_at,
        },
    )


@router.post("/status", response={200: StatusOut, **ERRORS}, summary="Status of a registration")
def status(request: HttpRequest, payload: StatusIn):
    check_captcha(payload.captcha_key, payload.captcha_value)
    registration = registration_for_applicant(
        actor=_actor(request), pre_registration_no=payload.pre_registration_no, id_number=payload.id_number
    )
    return Status(
        200,
        {
            "pre_registration_no": registration.pre_registration_no,
            "status": registration.status,
            "status_label": str(registration.get_status_display()),
            "major_code": registration.major.code,
            "major_name": registration.major.name,
            "exam_area": registration.exam_area.name,
            "candidate_no": registration.candidate.candidate_no if registration.candidate else None,
            "reason": registration.decision_note if registration.status == "rejected" else None,
        },
    )
