"""Writes of the candidate record: creating a record and issuing its lifelong number."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.candidates.models import Candidate, CandidateMajor, CandidateNumberSequence, ProfileChangeRequest
from zikao.catalog.models import Plan
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, ValidationFailed
from zikao.core.identity import check_identity
from zikao.core.masking import mask_id_number, mask_name, mask_phone
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


# --- profile (contact details, phone, change requests) ------------------------------------------

PROFILE_CONTACT_FIELDS = {"address": 200, "work_unit": 100}
PROFILE_CONTACT_LABELS = {"address": _("通讯地址"), "work_unit": _("工作单位")}
PHONE_SMS_TEXT = _(
    "【自考】您正在更换考籍绑定的手机号码，验证码 %(code)s，%(minutes)s 分钟内有效。如非本人操作请忽略。"
)


@transaction.atomic
def profile_update(*, actor: Actor, candidate: Candidate, changes: dict[str, str]) -> Candidate:
    """Update the candidate's contact details (address, work unit); phone has its own flow.

    Refuses PROFILE_FIELD_NOT_EDITABLE for any other field and PROFILE_VALUE_TOO_LONG. Writes
    one `candidate.profile_updated` event with before/after of the changed fields (nothing when
    nothing changed).
    """
    cleaned: dict[str, str] = {}
    for field, value in changes.items():
        if field not in PROFILE_CONTACT_FIELDS:
            raise ValidationFailed(
                "PROFILE_FIELD_NOT_EDITABLE", _("该项不能在此修改。"), {field: ["PROFILE_FIELD_NOT_EDITABLE"]}
            )
        text = " ".join(str(value or "").split())
        if len(text) > PROFILE_CONTACT_FIELDS[field]:
            raise ValidationFailed(
                "PROFILE_VALUE_TOO_LONG",
                _("%(field)s 不能超过 %(max)d 个字。")
                % {"field": PROFILE_CONTACT_LABELS[field], "max": PROFILE_CONTACT_FIELDS[field]},
                {field: ["PROFILE_VALUE_TOO_LONG"]},
            )
        cleaned[field] = text
    locked = Candidate.objects.select_for_update().get(pk=candidate.pk)
    before = {f: getattr(locked, f) for f in cleaned if getattr(locked, f) != cleaned[f]}
    if not before:
        return locked
    for field in before:
        setattr(locked, field, cleaned[field])
    locked.save(update_fields=list(before))
    audit_record(
        actor=actor,
        event_type="candidate.profile_updated",
        subject=locked,
        candidate=locked,
        before=before,
        after={f: cleaned[f] for f in before},
    )
    for field in before:
        setattr(candidate, field, cleaned[field])
    return locked


def phone_change_start(*, actor: Actor, candidate: Candidate, new_phone: str):
    """Send a code to the NEW phone; the number changes only when the code comes back.

    Refuses PHONE_INVALID, PHONE_UNCHANGED, RATE_LIMITED (5 codes an hour per candidate).
    Returns the CodeChallenge (challenge string, masked phone, expiry).
    """
    from zikao.accounts import rules as account_rules
    from zikao.accounts.models import VerificationCode
    from zikao.accounts.services import PHONE_CODE_PER_CANDIDATE, code_issue
    from zikao.core.ratelimit import hit

    phone = (new_phone or "").strip().replace(" ", "").replace("-", "")
    problem = account_rules.phone_problem(phone)
    if problem is not None:
        raise ValidationFailed(problem.code, problem.message, {"new_phone": [problem.code]})
    if phone == candidate.phone:
        raise ValidationFailed(
            "PHONE_UNCHANGED", _("新手机号码与当前号码相同。"), {"new_phone": ["PHONE_UNCHANGED"]}
        )
    hit(PHONE_CODE_PER_CANDIDATE, str(candidate.pk))
    with transaction.atomic():
        _record, challenge = code_issue(
            candidate=candidate,
            purpose=VerificationCode.Purpose.PHONE_CHANGE,
            phone=phone,
            text=PHONE_SMS_TEXT,
        )
        audit_record(
            actor=actor,
            event_type="candidate.phone_change_requested",
            subject=candidate,
            candidate=candidate,
            after={"phone": mask_phone(phone)},
        )
    return challenge


def phone_change_confirm(*, actor: Actor, candidate: Candidate, challenge: str, code: str) -> Candidate:
    """Set the phone to the number the code was sent to. Refuses the CODE_* codes."""
    from zikao.accounts.models import VerificationCode
    from zikao.accounts.services import code_check

    record = code_check(
        purpose=VerificationCode.Purpose.PHONE_CHANGE, challenge=challenge, code=code, candidate=candidate
    )
    with transaction.atomic():
        code_row = VerificationCode.objects.select_for_update().get(pk=record.pk)
        if code_row.used_at is not None:
            raise DomainError("CODE_CHALLENGE_INVALID", _("验证已失效，请重新获取验证码。"))
        code_row.used_at = clock.now()
        code_row.save(update_fields=["used_at"])
        locked = Candidate.objects.select_for_update().get(pk=candidate.pk)
        old = locked.phone
        locked.phone = code_row.phone
        locked.save(update_fields=["phone"])
        audit_record(
            actor=actor,
            event_type="candidate.phone_changed",
            subject=locked,
            candidate=locked,
            before={"phone": mask_phone(old)},
            after={"phone": mask_phone(locked.phone)},
        )
    candidate.phone = locked.phone
    return locked


def profile_change_request_create(
    *, actor: Actor, candidate: Candidate, field: str, new_value: str, reason: str
) -> ProfileChangeRequest:
    """Ask the office to correct name, ID number or birth date (nothing on the record changes).

    Refuses PROFILE_REQUEST_FIELD_INVALID, PROFILE_REQUEST_VALUE_INVALID (empty, too long, a
    malformed ID — ID_NUMBER_INVALID — or date), PROFILE_REQUEST_UNCHANGED, PROFILE_REQUEST_REASON_REQUIRED,
    and PROFILE_REQUEST_PENDING when an open request for that field exists.
    """
    from zikao.core.identity import parse_id_document

    if field not in ProfileChangeRequest.Field.values:
        raise ValidationFailed(
            "PROFILE_REQUEST_FIELD_INVALID",
            _("只能申请更正姓名、证件号码或出生日期。"),
            {"field": ["PROFILE_REQUEST_FIELD_INVALID"]},
        )
    value = " ".join((new_value or "").split())
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationFailed(
            "PROFILE_REQUEST_REASON_REQUIRED",
            _("请填写申请理由(不超过500字)。"),
            {"reason": ["PROFILE_REQUEST_REASON_REQUIRED"]},
        )
    if field == ProfileChangeRequest.Field.NAME:
        if not value or len(value) > 50:
            raise ValidationFailed(
                "PROFILE_REQUEST_VALUE_INVALID",
                _("请填写新的姓名(不超过50字)。"),
                {"new_value": ["PROFILE_REQUEST_VALUE_INVALID"]},
            )
        old, current = mask_name(candidate.name), candidate.name
    elif field == ProfileChangeRequest.Field.ID_NUMBER:
        value = parse_id_document(candidate.id_type, value).number
        old, current = mask_id_number(candidate.id_number), candidate.id_number
    else:
        try:
            value = date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise ValidationFailed(
                "PROFILE_REQUEST_VALUE_INVALID",
                _("出生日期格式应为 YYYY-MM-DD。"),
                {"new_value": ["PROFILE_REQUEST_VALUE_INVALID"]},
            ) from exc
        old, current = candidate.birth_date.isoformat(), candidate.birth_date.isoformat()
    if value == current:
        raise ValidationFailed(
            "PROFILE_REQUEST_UNCHANGED",
            _("新值与现有信息相同。"),
            {"new_value": ["PROFILE_REQUEST_UNCHANGED"]},
        )
    pending = DomainError("PROFILE_REQUEST_PENDING", _("该项已有待审核的更正申请。"), {"field": [field]})
    if ProfileChangeRequest.objects.filter(
        candidate=candidate, field=field, status=ProfileChangeRequest.Status.REQUESTED
    ).exists():
        raise pending
    try:
        with transaction.atomic():
            request = ProfileChangeRequest.objects.create(
                candidate=candidate,
                field=field,
                old_value=old,
                new_value=value,
                reason=reason,
                requested_at=clock.now(),
            )
            audit_record(
                actor=actor,
                event_type="candidate.profile_change_requested",
                subject=request,
                candidate=candidate,
                after={
                    "field": field,
                    "old_value": old,
                    "new_value": request.new_value_masked,
                    "status": request.status,
                },
            )
    except IntegrityError as exc:  # a concurrent request for the same field won
        raise pending from exc
    return request
