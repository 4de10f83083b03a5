"""Writes of the candidate record: creating a record and issuing its lifelong number."""

from __future__ import annotations

from dataclasses import dataclass
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


# --- office: record administration (issue 4) ----------------------------------------------------
#
# Every function below is called by staff: it takes the acting user from `actor.user` and checks
# the permission AND the candidate's scope itself (an out-of-scope record raises NotFound, exactly
# like a missing one), so no front door can skip a check.


class DecisionConflict(DomainError):
    """The object changed under the caller (decided already, merged meanwhile): nothing written."""

    status = 409


def _staff_user(actor: Actor):
    from zikao.accounts.permissions import PermissionDenied

    if actor.kind != "staff" or actor.user is None:
        raise PermissionDenied("")
    return actor.user


def _require(actor: Actor, perm: str, *candidates: Candidate) -> None:
    from zikao.accounts.permissions import require_candidate_in_scope, require_perm

    user = _staff_user(actor)
    require_perm(user, perm)
    for candidate in candidates:
        require_candidate_in_scope(user, candidate)


@transaction.atomic
def candidate_full_id_reveal(*, actor: Actor, candidate: Candidate) -> str:
    """The full document number of a record, for a staff user who needs it; each use is audited.

    Refuses PERMISSION_DENIED (403) without `records.view_full_id`, NOT_FOUND out of scope.
    Writes `record.full_id_viewed` (the audit payload holds the masked number only).
    """
    from zikao.accounts.permissions import Perm

    _require(actor, Perm.RECORDS_VIEW_FULL_ID, candidate)
    audit_record(
        actor=actor,
        event_type="record.full_id_viewed",
        subject=candidate,
        candidate=candidate,
        after={
            "context": "record",
            "id_type": candidate.id_type,
            "id_number": mask_id_number(candidate.id_number),
        },
    )
    return candidate.id_number


@transaction.atomic
def profile_change_new_id_reveal(*, actor: Actor, request: ProfileChangeRequest) -> str:
    """The full new document number of an ID-number correction request (to check it against the
    document the candidate shows). Same permission and audit event as `candidate_full_id_reveal`.

    Refuses PROFILE_REQUEST_NOT_ID_NUMBER for requests about another field.
    """
    from zikao.accounts.permissions import Perm

    _require(actor, Perm.RECORDS_VIEW_FULL_ID, request.candidate)
    if request.field != ProfileChangeRequest.Field.ID_NUMBER:
        raise ValidationFailed("PROFILE_REQUEST_NOT_ID_NUMBER", _("该申请不是证件号码更正。"))
    audit_record(
        actor=actor,
        event_type="record.full_id_viewed",
        subject=request,
        candidate=request.candidate,
        after={"context": "profile_change_request", "id_number": mask_id_number(request.new_value)},
    )
    return request.new_value


def record_search_audit(*, actor: Actor, kind: str, query_masked: str, page: int, result_count: int) -> None:
    """One `record.searched` event per office search page (masked query): who looked for whom."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            event_type="record.searched",
            subject_type="candidates.candidate",
            subject_id="",
            after={"kind": kind, "query": query_masked, "page": page, "results": result_count},
        )


def _lock_request(request: ProfileChangeRequest) -> ProfileChangeRequest:
    locked = ProfileChangeRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != ProfileChangeRequest.Status.REQUESTED:
        raise DecisionConflict(
            "PROFILE_REQUEST_ALREADY_DECIDED",
            _("该申请已经处理（%(status)s），不能重复处理。") % {"status": locked.get_status_display()},
            {"status": locked.status},
        )
    return locked


def _other_open_holder(candidate: Candidate, number: str) -> Candidate | None:
    from zikao.candidates.rules import document_number_variants

    return (
        Candidate.objects.filter(id_number__in=document_number_variants(number))
        .exclude(status=Candidate.Status.MERGED)
        .exclude(pk=candidate.pk)
        .select_related("county_office")
        .order_by("pk")
        .first()
    )


def _id_in_use(user, holder: Candidate) -> DomainError:
    from zikao.accounts.permissions import office_in_scope

    if office_in_scope(user, holder.county_office):
        return DecisionConflict(
            "PROFILE_REQUEST_ID_IN_USE",
            _("该证件号码已属于另一考籍（准考证号 %(no)s）：同一人有两个准考证号，应合并考籍，不能直接更正。")
            % {"no": holder.candidate_no},
            {"candidate_no": holder.candidate_no},
        )
    return DecisionConflict(
        "PROFILE_REQUEST_ID_IN_USE",
        _("该证件号码已属于本考办管辖范围以外的另一考籍：应由上级考办合并考籍，不能直接更正。"),
        {},
    )


def _apply_name(candidate: Candidate, value: str) -> tuple[dict, dict, list[str]]:
    value = " ".join((value or "").split())
    if not value or len(value) > 50:
        raise ValidationFailed(
            "PROFILE_REQUEST_VALUE_INVALID",
            _("新的姓名应为1至50个字。"),
            {"new_value": ["PROFILE_REQUEST_VALUE_INVALID"]},
        )
    if value == candidate.name:
        raise ValidationFailed(
            "PROFILE_REQUEST_UNCHANGED",
            _("新值与现有信息相同。"),
            {"new_value": ["PROFILE_REQUEST_UNCHANGED"]},
        )
    before = {"name": mask_name(candidate.name), "former_name": mask_name(candidate.former_name)}
    candidate.former_name, candidate.name = candidate.name, value
    after = {"name": mask_name(candidate.name), "former_name": mask_name(candidate.former_name)}
    return before, after, ["name", "former_name"]


def _apply_id_number(user, candidate: Candidate, value: str) -> tuple[dict, dict, list[str]]:
    from zikao.core.identity import parse_id_document

    doc = parse_id_document(candidate.id_type, value)
    if doc.number == candidate.id_number:
        raise ValidationFailed(
            "PROFILE_REQUEST_UNCHANGED",
            _("新值与现有信息相同。"),
            {"new_value": ["PROFILE_REQUEST_UNCHANGED"]},
        )
    holder = _other_open_holder(candidate, doc.number)
    if holder is not None:
        raise _id_in_use(user, holder)
    before = {
        "id_number": mask_id_number(candidate.id_number),
        "birth_date": candidate.birth_date.isoformat(),
        "gender": candidate.gender,
    }
    candidate.id_number = doc.number
    fields = ["id_number"]
    if doc.birth_date is not None:
        candidate.birth_date = doc.birth_date
        fields.append("birth_date")
    if doc.gender is not None:
        candidate.gender = doc.gender
        fields.append("gender")
    after = {
        "id_number": mask_id_number(candidate.id_number),
        "birth_date": candidate.birth_date.isoformat(),
        "gender": candidate.gender,
    }
    return before, after, fields


def _apply_birth_date(candidate: Candidate, value: str) -> tuple[dict, dict, list[str]]:
    from zikao.core.identity import parse_id_document

    try:
        new = date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(
            "PROFILE_REQUEST_VALUE_INVALID",
            _("出生日期格式应为 YYYY-MM-DD。"),
            {"new_value": ["PROFILE_REQUEST_VALUE_INVALID"]},
        ) from exc
    if new.year < 1900 or new > clock.today():
        raise ValidationFailed(
            "PROFILE_REQUEST_VALUE_INVALID",
            _("出生日期不合理。"),
            {"new_value": ["PROFILE_REQUEST_VALUE_INVALID"]},
        )
    if new == candidate.birth_date:
        raise ValidationFailed(
            "PROFILE_REQUEST_UNCHANGED",
            _("新值与现有信息相同。"),
            {"new_value": ["PROFILE_REQUEST_UNCHANGED"]},
        )
    try:
        encoded = parse_id_document(candidate.id_type, candidate.id_number).birth_date
    except DomainError:
        encoded = None  # a legacy number that no longer parses encodes nothing we can trust
    if encoded is not None and encoded != new:
        raise ValidationFailed(
            "PROFILE_REQUEST_BIRTH_DATE_CONFLICTS_ID",
            _("新的出生日期与证件号码中的出生日期不一致：应先更正证件号码。"),
            {"new_value": ["PROFILE_REQUEST_BIRTH_DATE_CONFLICTS_ID"]},
        )
    before = {"birth_date": candidate.birth_date.isoformat()}
    candidate.birth_date = new
    return before, {"birth_date": new.isoformat()}, ["birth_date"]


@transaction.atomic
def profile_change_request_approve(
    *, actor: Actor, request: ProfileChangeRequest, note: str = ""
) -> ProfileChangeRequest:
    """Approve a candidate's correction request and apply it to the record.

    * name: the old name becomes `former_name`;
    * ID number: checked with `core.identity` for the record's document type; birth date and
      gender are re-derived from it where it encodes them. Refused with PROFILE_REQUEST_ID_IN_USE
      (409) when another open record holds that document (one person, two numbers: merge them);
    * birth date: refused with PROFILE_REQUEST_BIRTH_DATE_CONFLICTS_ID when the record's document
      encodes another date (correct the ID number instead).

    The first password (the birth date) follows a corrected birth date. Also refuses
    PERMISSION_DENIED (`records.change`), NOT_FOUND (out of scope), PROFILE_REQUEST_ALREADY_DECIDED
    (409), PROFILE_REQUEST_RECORD_CLOSED (merged record), PROFILE_REQUEST_UNCHANGED,
    PROFILE_REQUEST_VALUE_INVALID / ID_NUMBER_INVALID. One `candidate.profile_change_approved`
    event with before/after (ID number and names masked; birth dates in full, they are the point).
    """
    from zikao.accounts.permissions import Perm

    _require(actor, Perm.RECORDS_CHANGE, request.candidate)
    locked = _lock_request(request)
    candidate = Candidate.objects.select_for_update().get(pk=locked.candidate_id)
    if candidate.status == Candidate.Status.MERGED:
        raise DecisionConflict(
            "PROFILE_REQUEST_RECORD_CLOSED", _("该考籍已合并撤销，不能再更正，请在保留的考籍上处理。")
        )
    note = (note or "").strip()
    if len(note) > 500:
        raise ValidationFailed(
            "PROFILE_REQUEST_NOTE_TOO_LONG",
            _("处理意见不能超过500字。"),
            {"note": ["PROFILE_REQUEST_NOTE_TOO_LONG"]},
        )
    if locked.field == ProfileChangeRequest.Field.NAME:
        before, after, fields = _apply_name(candidate, locked.new_value)
    elif locked.field == ProfileChangeRequest.Field.ID_NUMBER:
        before, after, fields = _apply_id_number(actor.user, candidate, locked.new_value)
    else:
        before, after, fields = _apply_birth_date(candidate, locked.new_value)
    try:
        with transaction.atomic():
            candidate.save(update_fields=fields)
    except IntegrityError as exc:  # another record took the document meanwhile
        holder = _other_open_holder(candidate, candidate.id_number)
        if holder is None:
            raise
        raise _id_in_use(actor.user, holder) from exc
    locked.status = ProfileChangeRequest.Status.APPROVED
    locked.decided_at = clock.now()
    locked.decided_by = actor.user
    locked.decision_note = note
    locked.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    audit_record(
        actor=actor,
        event_type="candidate.profile_change_approved",
        subject=locked,
        candidate=candidate,
        before={"field": locked.field, **before},
        after={"field": locked.field, "status": locked.status, **after},
    )
    request.candidate = candidate
    return locked


@transaction.atomic
def profile_change_request_reject(
    *, actor: Actor, request: ProfileChangeRequest, reason: str
) -> ProfileChangeRequest:
    """Reject a correction request with a reason the candidate will read; the record is untouched.

    Refuses PROFILE_REQUEST_DECISION_REASON_REQUIRED (empty or over 500 characters),
    PERMISSION_DENIED, NOT_FOUND, PROFILE_REQUEST_ALREADY_DECIDED (409).
    """
    from zikao.accounts.permissions import Perm

    _require(actor, Perm.RECORDS_CHANGE, request.candidate)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationFailed(
            "PROFILE_REQUEST_DECISION_REASON_REQUIRED",
            _("请填写不予批准的理由(不超过500字)。"),
            {"reason": ["PROFILE_REQUEST_DECISION_REASON_REQUIRED"]},
        )
    locked = _lock_request(request)
    locked.status = ProfileChangeRequest.Status.REJECTED
    locked.decided_at = clock.now()
    locked.decided_by = actor.user
    locked.decision_note = reason
    locked.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    audit_record(
        actor=actor,
        event_type="candidate.profile_change_rejected",
        subject=locked,
        candidate=locked.candidate,
        before={"status": ProfileChangeRequest.Status.REQUESTED},
        after={"field": locked.field, "status": locked.status, "reason": reason},
    )
    return locked


@dataclass(frozen=True)
class MergeResult:
    survivor: Candidate
    closed: Candidate
    moved: dict[str, list[int]]


@transaction.atomic
def candidate_merge(
    *, actor: Actor, survivor: Candidate, closed: Candidate, fingerprint: str | None = None
) -> MergeResult:
    """Merge two numbers of one person: every row of `closed` moves to `survivor`, `closed` ends.

    Same person: `candidates.rules` (same name, same birth date, matching documents). In one
    transaction: rows of every table pointing at the closed number move (scores with all their
    versions, entries, exemptions, transfers, violations, withholdings, graduations, decided
    profile-change requests, majors the survivor does not have; see `selectors.merge_plan`), an
    open ID correction of the closed number naming the survivor's document is approved as settled
    by the merge, the closed number gets status MERGED and `merged_into`, its sessions and API
    tokens end and its open SMS codes expire. Two audit events: `candidate.merged` on the closed
    record and `candidate.merge_received` on the survivor, each with counts and the moved ids.

    Refuses PERMISSION_DENIED (`records.merge`, city level or above), NOT_FOUND (either record
    out of scope), MERGE_SAME_RECORD, MERGE_RECORD_CLOSED, MERGE_NOT_SAME_PERSON (fields.reasons:
    NAME_DIFFERS / BIRTH_DATE_DIFFERS / ID_DIFFERS), MERGE_OPEN_REQUESTS, MERGE_CONFLICTS (409;
    fields.conflicts), MERGE_PREVIEW_STALE (409: the data changed since the preview `fingerprint`).
    Nothing is written on a refusal.
    """
    from django.apps import apps

    from zikao.accounts.models import ApiToken, CandidateAccount, VerificationCode
    from zikao.accounts.permissions import Perm
    from zikao.accounts.session_cache import account_changed
    from zikao.candidates.selectors import candidate_relations, merge_plan
    from zikao.scores.cache import candidate_scores_changed

    _require(actor, Perm.RECORDS_MERGE, survivor, closed)
    locked = {
        c.pk: c
        for c in Candidate.objects.select_for_update().filter(pk__in=[survivor.pk, closed.pk]).order_by("pk")
    }
    survivor_row, closed_row = locked[survivor.pk], locked[closed.pk]
    plan = merge_plan(survivor_row, closed_row)
    blockers = {b.code: b for b in plan.blockers}
    for code in ("MERGE_SAME_RECORD", "MERGE_RECORD_CLOSED"):
        if code in blockers:
            raise DomainError(code, blockers[code].message)
    if plan.person_problems:
        raise DomainError(
            "MERGE_NOT_SAME_PERSON",
            _("两个考籍不能确认为同一人（姓名、出生日期、证件号码须一致），不能合并。"),
            {"reasons": list(plan.person_problems)},
        )
    if "MERGE_OPEN_REQUESTS" in blockers:
        raise DomainError("MERGE_OPEN_REQUESTS", blockers["MERGE_OPEN_REQUESTS"].message)
    if plan.conflicts:
        raise DecisionConflict(
            "MERGE_CONFLICTS",
            _("两个考籍有 %(count)d 处冲突（如同一课程同一考次都有当前成绩），须先处理后再合并。")
            % {"count": len(plan.conflicts)},
            {
                "conflicts": [
                    {
                        "table": c.model,
                        "closed_id": c.closed_id,
                        "survivor_id": c.survivor_id,
                        "detail": c.detail,
                    }
                    for c in plan.conflicts
                ]
            },
        )
    if fingerprint is not None and fingerprint != plan.fingerprint:
        raise DecisionConflict(
            "MERGE_PREVIEW_STALE", _("两个考籍的数据在预览后发生了变化，请重新预览后再合并。")
        )

    now = clock.now()
    moved: dict[str, list[int]] = {}
    try:
        with transaction.atomic():  # a row added meanwhile that collides: MERGE_CONFLICTS, nothing kept
            if plan.bridge_request_id is not None:
                ProfileChangeRequest.objects.filter(pk=plan.bridge_request_id).update(
                    status=ProfileChangeRequest.Status.APPROVED,
                    decided_at=now,
                    decided_by=actor.user,
                    decision_note=str(_("已合并至准考证号 %(no)s") % {"no": survivor_row.candidate_no}),
                )
            for move in plan.moves:
                model = apps.get_model(move.model)
                attname = model._meta.get_field(move.field).attname
                model._base_manager.filter(pk__in=move.ids, **{attname: closed_row.pk}).update(
                    **{attname: survivor_row.pk}
                )
                moved[move.model] = list(move.ids)
            # A row written for the closed number after the plan was read (another service does
            # not lock the candidate row) must not be left behind on a closed record.
            kept_ids = {k.model: k.ids for k in plan.kept}
            for model, fk in candidate_relations():
                label = model._meta.label_lower
                left = model._base_manager.filter(**{fk.attname: closed_row.pk}).exclude(
                    pk__in=kept_ids.get(label, ())
                )
                if left.exists():
                    raise DecisionConflict(
                        "MERGE_PREVIEW_STALE", _("两个考籍的数据在预览后发生了变化，请重新预览后再合并。")
                    )
    except IntegrityError as exc:
        raise DecisionConflict(
            "MERGE_CONFLICTS", _("合并时发现新的冲突记录，请重新预览。"), {"conflicts": []}
        ) from exc

    before_status = closed_row.status
    closed_row.status = Candidate.Status.MERGED
    closed_row.merged_into = survivor_row
    closed_row.save(update_fields=["status", "merged_into"])
    account = CandidateAccount.objects.select_for_update().filter(candidate=closed_row).first()
    if account is not None:
        account.session_epoch += 1
        account.save(update_fields=["session_epoch"])
    tokens = ApiToken.objects.filter(candidate=closed_row, revoked_at__isnull=True).update(revoked_at=now)
    codes = VerificationCode.objects.filter(
        candidate=closed_row, used_at__isnull=True, expires_at__gt=now
    ).update(expires_at=now)
    account_changed(closed_row.pk)
    account_changed(survivor_row.pk)
    candidate_scores_changed(closed_row.pk)
    candidate_scores_changed(survivor_row.pk)

    counts = {label: len(ids) for label, ids in moved.items()}
    kept = {k.model: list(k.ids) for k in plan.kept}
    audit_record(
        actor=actor,
        event_type="candidate.merged",
        subject=closed_row,
        candidate=closed_row,
        before={"status": before_status, "merged_into": None},
        after={
            "status": closed_row.status,
            "merged_into": survivor_row.candidate_no,
            "counts": counts,
            "moved": moved,
            "kept": kept,
            "settled_request": plan.bridge_request_id,
            "tokens_revoked": tokens,
            "codes_expired": codes,
        },
    )
    audit_record(
        actor=actor,
        event_type="candidate.merge_received",
        subject=survivor_row,
        candidate=survivor_row,
        after={"merged_from": closed_row.candidate_no, "counts": counts, "moved": moved},
    )
    survivor.refresh_from_db()
    closed.refresh_from_db()
    return MergeResult(survivor_row, closed_row, moved)
