"""New candidate registration (新生报名): online pre-registration, then the county office confirms.

A person submits identity, contact, residence basis, prior education, a photo, the chosen major
and exam area, and accepts the integrity pledge (诚信考试承诺书); they receive a pre-registration
number (报名号). A clerk of the county office of the chosen exam area checks the photo and the
documents and confirms: the candidate number is issued by `candidates.services.candidate_create`
(the first password is the birth date, the existing lazy-account behaviour) and linked. One
person never gets a second number: a person who already has a record is refused and pointed to
the number lookup (an anonymous submitter is never told the number itself).

Uploaded files (decided here, see `PHOTO_*` / `PROOF_*`):

* photo: JPEG or PNG (checked by decoding with Pillow, not by the name), at most 2 MB, at least
  240×320 and at most 2000×2000 pixels, portrait or square (height ≥ width): the size of the
  usual 2-inch ID photo scans (e.g. 480×640) with room for phone pictures.
* residence and work proofs: PDF, JPEG or PNG, at most 5 MB (PDF checked by its signature,
  images by decoding).

Files are stored under MEDIA_ROOT/registrations/<yyyy>/<random>.<ext> (never served directly;
the office reads them through a permission-checked view) with their SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import Office
from zikao.candidates.models import Candidate, PriorEducation, Registration, RegistrationDocument
from zikao.catalog.models import Major, Plan
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.core.identity import check_identity
from zikao.core.masking import mask_id_number, mask_name, mask_phone
from zikao.core.ratelimit import Limit, hit

PHOTO_MAX_BYTES = 2 * 1024 * 1024
PHOTO_MIN_SIZE = (240, 320)  # width, height
PHOTO_MAX_SIZE = (2000, 2000)
PROOF_MAX_BYTES = 5 * 1024 * 1024
PHOTO_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}

# Submissions per IP per hour: a family or an internet café registers several people; a script
# filling the queue does not get far.
SUBMIT_PER_IP = Limit("registration-ip", 20, 3600)
STATUS_PER_IP = Limit("registration-status-ip", 30, 3600)
STATUS_PER_NUMBER = Limit("registration-status-no", 10, 3600)

PRE_REGISTRATION_DIGITS = 9  # after the 2-digit year: 11 digits, never mistaken for a 12-digit 准考证号

PLEDGE_TITLE = _("诚信考试承诺书")
PLEDGE_TEXT = _(
    "本人自愿参加高等教育自学考试，已认真阅读《国家教育考试违规处理办法》(教育部令第33号)及本省自学考试"
    "有关规定，现郑重承诺：一、本人提交的身份信息、户籍或居住证明、学历信息、照片及从业证明等全部材料"
    "真实、准确、有效，如有虚假，由本人承担一切后果；二、本人不替考、不找人代考，不携带通讯工具及其他"
    "违规物品进入考场，服从考场工作人员管理；三、严格遵守考试纪律，不抄袭、不协助他人作弊，不传播考试"
    "试题和答案；四、如有违纪违规行为，自愿接受按《国家教育考试违规处理办法》作出的处理，并同意记入"
    "考籍档案和国家教育考试诚信档案。"
)


def _rejected(code: str, message: Any, field: str | None = None, status: int | None = None) -> DomainError:
    fields = {field: [code]} if field else {}
    error = ValidationFailed(code, message, fields) if status is None else DomainError(code, message, fields)
    if status is not None:
        error.status = status
    return error


# --- files ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed its checks, held in memory until it is stored."""

    data: bytes
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _read(upload: Any, limit: int, code: str, message: Any, field: str) -> bytes:
    """Read at most `limit` bytes (one more to detect oversize) from an UploadedFile or bytes."""
    if isinstance(upload, (bytes, bytearray)):
        data = bytes(upload)
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > limit:
            raise _rejected(code, message, field)
        upload.seek(0)
        data = upload.read(limit + 1)
    if len(data) > limit:
        raise _rejected(code, message, field)
    return data


def _image(data: bytes) -> tuple[str, int, int] | None:
    """(Pillow format, width, height) when `data` decodes fully as an image, else None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # structure and checksums; the decode below catches truncated data
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            width, height = image.size
            if width * height > 40_000_000:  # decompression bomb: refuse before decoding
                return None
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return fmt, width, height


def check_photo(upload: Any) -> CheckedFile:
    """Check a photo upload; refuses PHOTO_REQUIRED, PHOTO_TOO_LARGE, PHOTO_FORMAT, PHOTO_DIMENSIONS."""
    if upload is None:
        raise _rejected("PHOTO_REQUIRED", _("请上传本人近期正面免冠证件照片。"), "photo")
    data = _read(upload, PHOTO_MAX_BYTES, "PHOTO_TOO_LARGE", _("照片不能超过2MB。"), "photo")
    if not data:
        raise _rejected("PHOTO_REQUIRED", _("请上传本人近期正面免冠证件照片。"), "photo")
    probed = _image(data)
    if probed is None or probed[0] not in PHOTO_FORMATS:
        raise _rejected("PHOTO_FORMAT", _("照片须为JPEG或PNG格式的图片。"), "photo")
    fmt, width, height = probed
    if not (
        PHOTO_MIN_SIZE[0] <= width <= PHOTO_MAX_SIZE[0]
        and PHOTO_MIN_SIZE[1] <= height <= PHOTO_MAX_SIZE[1]
        and height >= width
    ):
        raise _rejected(
            "PHOTO_DIMENSIONS",
            _("照片尺寸应为竖幅，宽240至2000像素、高320至2000像素（如480×640）。"),
            "photo",
        )
    content_type, extension = PHOTO_FORMATS[fmt]
    return CheckedFile(data, content_type, extension, width, height)


def check_proof(upload: Any, *, field: str) -> CheckedFile:
    """Check a proof document (PDF, JPEG or PNG, ≤ 5 MB); refuses PROOF_TOO_LARGE, PROOF_FORMAT."""
    data = _read(upload, PROOF_MAX_BYTES, "PROOF_TOO_LARGE", _("证明材料不能超过5MB。"), field)
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]:
        return CheckedFile(data, "application/pdf", "pdf")
    probed = _image(data) if data else None
    if probed is None or probed[0] not in PHOTO_FORMATS:
        raise _rejected("PROOF_FORMAT", _("证明材料须为PDF、JPEG或PNG文件。"), field)
    content_type, extension = PHOTO_FORMATS[probed[0]]
    return CheckedFile(data, content_type, extension, probed[1], probed[2])


def storage_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "registrations"


def store_private(checked: CheckedFile, written: list[Path], root: Path | None = None) -> str:
    """Write the bytes under a random name in `root` (default: the registrations folder), owner
    read/write only, never overwriting; returns the path relative to MEDIA_ROOT. The path is
    appended to `written` first, so a caller can remove it if its transaction fails."""
    folder = (root or storage_root()) / f"{clock.today():%Y}"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / f"{secrets.token_hex(16)}.{checked.extension}"
    with open(target, "xb") as handle:  # never overwrite
        written.append(target)
        handle.write(checked.data)
    target.chmod(0o600)
    return str(target.relative_to(Path(settings.MEDIA_ROOT)))


def document_path(document: RegistrationDocument) -> Path:
    """Absolute path of a stored document (refuses a path escaping the storage folder)."""
    root = storage_root().resolve()
    path = (Path(settings.MEDIA_ROOT) / document.path).resolve()
    if root not in path.parents:
        raise NotFound()
    return path


# --- helpers --------------------------------------------------------------------------------------


def _new_pre_registration_no() -> str:
    return f"{clock.today():%y}{secrets.randbelow(10**PRE_REGISTRATION_DIGITS):0{PRE_REGISTRATION_DIGITS}d}"


def current_plan(major: Major) -> Plan | None:
    """The plan version new candidates of `major` register under: the newest one in force today."""
    today = clock.today()
    plans = Plan.objects.filter(major=major).order_by("-version")
    for plan in plans:
        if plan.effective_from is None or plan.effective_from <= today:
            return plan
    return None


def _existing_candidate(id_type: str, id_number: str) -> Candidate | None:
    return (
        Candidate.objects.filter(id_type=id_type, id_number=id_number)
        .exclude(status=Candidate.Status.MERGED)
        .first()
    )


def _already_candidate() -> DomainError:
    return _rejected(
        "REGISTRATION_ALREADY_CANDIDATE",
        _(
            "该证件号码已有考籍(准考证号终身有效，不能重复报名)。请通过“考籍号查询”用证件号码和姓名"
            "查询准考证号后登录。"
        ),
        "id_number",
        status=409,
    )


def _already_submitted() -> DomainError:
    return _rejected(
        "REGISTRATION_ALREADY_SUBMITTED",
        _("该证件号码已有待确认的网上报名，不能重复提交。请通过“考籍号查询”勾选“查询报名号”找回报名号。"),
        "id_number",
        status=409,
    )


def _clean_text(value: Any, *, max_length: int) -> str:
    return " ".join(str(value or "").split())[: max_length + 1]


# --- submit ---------------------------------------------------------------------------------------


def registration_submit(
    *,
    actor: Actor,
    id_type: str,
    id_number: str,
    name: str,
    gender: str | None,
    birth_date: date | None,
    phone: str,
    address: str,
    household_region: str,
    residence_basis: str,
    prior_education: str,
    prior_diploma_no: str = "",
    work_unit: str = "",
    major_id: int | None,
    exam_area_id: int | None,
    pledge_accepted: bool,
    photo: Any,
    residence_proof: Any = None,
    work_proof: Any = None,
) -> Registration:
    """Store an online pre-registration and give it a pre-registration number (报名号).

    Refuses (nothing stored, no file written): RATE_LIMITED (per IP), ID_TYPE_INVALID /
    ID_NUMBER_INVALID (precise reason: length, format, check character, date or region) /
    ID_BIRTH_DATE_MISMATCH / ID_GENDER_MISMATCH / ID_DETAILS_REQUIRED, NAME_REQUIRED,
    PHONE_INVALID, ADDRESS_REQUIRED, REGISTRATION_MAJOR_INVALID (unknown or without a plan),
    REGISTRATION_AREA_INVALID (not a county exam area), PRIOR_EDUCATION_INVALID,
    RESIDENCE_BASIS_INVALID, HOUSEHOLD_REGION_INVALID, REGISTRATION_NOT_RESIDENT (household
    region outside the province without 居住证 / 社保 proof), RESIDENCE_PROOF_REQUIRED,
    WORK_PROOF_REQUIRED (restricted major), PLEDGE_REQUIRED, PHOTO_* / PROOF_* (see module),
    REGISTRATION_ALREADY_CANDIDATE (409; the number is not revealed), and
    REGISTRATION_ALREADY_SUBMITTED (409). Writes `registration.submitted`.
    """
    from zikao.accounts import rules as account_rules

    hit(SUBMIT_PER_IP, actor.ip or "-")
    doc = check_identity(id_type, id_number, birth_date=birth_date, gender=gender)
    assert doc.birth_date is not None and doc.gender is not None
    name = _clean_text(name, max_length=50)
    if not name or len(name) > 50:
        raise _rejected("NAME_REQUIRED", _("请填写姓名（不超过50字）。"), "name")
    phone = (phone or "").strip().replace(" ", "").replace("-", "")
    problem = account_rules.phone_problem(phone)
    if problem is not None:
        raise _rejected(problem.code, problem.message, "phone")
    address = _clean_text(address, max_length=200)
    if not address or len(address) > 200:
        raise _rejected("ADDRESS_REQUIRED", _("请填写通讯地址（不超过200字）。"), "address")
    work_unit = _clean_text(work_unit, max_length=100)
    if len(work_unit) > 100:
        raise _rejected("WORK_UNIT_TOO_LONG", _("工作单位不能超过100字。"), "work_unit")
    if prior_education not in PriorEducation.values:
        raise _rejected("PRIOR_EDUCATION_INVALID", _("请选择已有学历。"), "prior_education")
    prior_diploma_no = _clean_text(prior_diploma_no, max_length=40)
    if len(prior_diploma_no) > 40:
        raise _rejected("PRIOR_DIPLOMA_NO_INVALID", _("毕业证书编号不能超过40个字符。"), "prior_diploma_no")

    major = Major.objects.filter(pk=major_id).first() if isinstance(major_id, int) else None
    if major is None or current_plan(major) is None:
        raise _rejected("REGISTRATION_MAJOR_INVALID", _("请选择开考的专业。"), "major")
    area = (
        Office.objects.select_related("parent").filter(pk=exam_area_id, level=Office.Level.COUNTY).first()
        if isinstance(exam_area_id, int)
        else None
    )
    if area is None:
        raise _rejected("REGISTRATION_AREA_INVALID", _("请选择报考所在的县（区）考区。"), "exam_area")

    # Residence: a household in this province, or 居住证 / 社保 proof for everyone else.
    if residence_basis not in Registration.ResidenceBasis.values:
        raise _rejected("RESIDENCE_BASIS_INVALID", _("请选择户籍或居住证明类型。"), "residence_basis")
    household_region = (household_region or "").strip() or (doc.region_code or "")
    if household_region and not (len(household_region) == 6 and household_region.isdigit()):
        raise _rejected("HOUSEHOLD_REGION_INVALID", _("户籍所在地区码应为6位数字。"), "household_region")
    province = str(settings.ZIKAO_PROVINCE_CODE)
    if residence_basis == Registration.ResidenceBasis.HOUSEHOLD:
        if not household_region.startswith(province):
            raise _rejected(
                "REGISTRATION_NOT_RESIDENT",
                _("户籍不在本省的考生须选择居住证或社保缴纳证明，并上传证明材料。"),
                "residence_basis",
            )
        residence_checked = None
    else:
        if residence_proof is None:
            raise _rejected("RESIDENCE_PROOF_REQUIRED", _("请上传居住证或社保缴纳证明。"), "residence_proof")
        residence_checked = check_proof(residence_proof, field="residence_proof")
    work_checked = None
    if major.restricted:
        if work_proof is None:
            raise _rejected(
                "WORK_PROOF_REQUIRED",
                _("%(major)s 专业须上传本行业从业证明（如执业证书、单位证明）。") % {"major": major.name},
                "work_proof",
            )
        work_checked = check_proof(work_proof, field="work_proof")
    if not pledge_accepted:
        raise _rejected("PLEDGE_REQUIRED", _("请阅读并同意《诚信考试承诺书》。"), "pledge")
    photo_checked = check_photo(photo)

    if _existing_candidate(doc.id_type, doc.number) is not None:
        raise _already_candidate()
    if Registration.objects.filter(
        id_type=doc.id_type, id_number=doc.number, status=Registration.Status.SUBMITTED
    ).exists():
        raise _already_submitted()

    written: list[Path] = []
    now = clock.now()
    try:
        with transaction.atomic():
            registration = _insert_with_number(
                id_type=doc.id_type,
                id_number=doc.number,
                name=name,
                gender=doc.gender,
                birth_date=doc.birth_date,
                phone=phone,
                address=address,
                household_region=household_region,
                residence_basis=residence_basis,
                prior_education=prior_education,
                prior_diploma_no=prior_diploma_no,
                work_unit=work_unit,
                major=major,
                exam_area=area,
                pledge_accepted_at=now,
                submitted_at=now,
                submitted_ip=actor.ip,
            )
            for kind, checked in (
                (RegistrationDocument.Kind.PHOTO, photo_checked),
                (RegistrationDocument.Kind.RESIDENCE_PROOF, residence_checked),
                (RegistrationDocument.Kind.WORK_PROOF, work_checked),
            ):
                if checked is None:
                    continue
                RegistrationDocument.objects.create(
                    registration=registration,
                    kind=kind,
                    path=store_private(checked, written),
                    content_type=checked.content_type,
                    size=len(checked.data),
                    sha256=checked.sha256,
                    width=checked.width,
                    height=checked.height,
                    uploaded_at=now,
                )
            audit_record(
                actor=actor,
                event_type="registration.submitted",
                subject=registration,
                after={
                    "pre_registration_no": registration.pre_registration_no,
                    "id_type": doc.id_type,
                    "id_number": mask_id_number(doc.number),
                    "name": mask_name(name),
                    "phone": mask_phone(phone),
                    "major": major.code,
                    "exam_area": area.region_code,
                    "residence_basis": residence_basis,
                    "documents": sorted(
                        k
                        for k, c in (
                            ("photo", photo_checked),
                            ("residence_proof", residence_checked),
                            ("work_proof", work_checked),
                        )
                        if c is not None
                    ),
                },
            )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return registration


def _insert_with_number(**fields: Any) -> Registration:
    """Insert with a fresh random 报名号 (retry on the rare collision); the open-registration
    constraint turns a concurrent duplicate submission into REGISTRATION_ALREADY_SUBMITTED."""
    for _attempt in range(5):
        number = _new_pre_registration_no()
        if (
            Registration.objects.filter(pre_registration_no=number).exists()
            or Candidate.objects.filter(pre_registration_no=number).exists()
        ):
            continue
        try:
            with transaction.atomic():
                return Registration.objects.create(pre_registration_no=number, **fields)
        except IntegrityError as exc:
            if Registration.objects.filter(
                id_type=fields["id_type"], id_number=fields["id_number"], status=Registration.Status.SUBMITTED
            ).exists():
                raise _already_submitted() from exc
            continue  # the number was taken concurrently
    raise DomainError("PRE_REGISTRATION_NO_UNAVAILABLE", _("报名号生成失败，请稍后重试。"))


# --- decisions (county office) --------------------------------------------------------------------


def _staff_in_scope(actor: Actor, registration: Registration) -> None:
    from zikao.accounts.permissions import Perm, PermissionDenied, office_in_scope, require_perm

    if actor.kind != "staff" or actor.user is None:
        raise PermissionDenied(Perm.REGISTRATION_CONFIRM)
    require_perm(actor.user, Perm.REGISTRATION_CONFIRM)
    if not office_in_scope(actor.user, registration.exam_area):
        raise NotFound()


def _lock_pending(registration: Registration) -> Registration:
    locked = (
        Registration.objects.select_for_update(of=("self",))
        .select_related("major", "exam_area__parent")
        .get(pk=registration.pk)
    )
    if locked.status != Registration.Status.SUBMITTED:
        raise _rejected(
            "REGISTRATION_NOT_PENDING",
            _("该报名已处理（%(status)s），不能再次处理。") % {"status": locked.get_status_display()},
            None,
            status=409,
        )
    return locked


@transaction.atomic
def registration_confirm(
    *, actor: Actor, registration: Registration, note: str = "", work_proof_checked: bool = False
) -> Candidate:
    """Confirm identity and issue the lifelong candidate number (county office of the exam area).

    Refuses PERMISSION_DENIED (403) without `registration.confirm`, NOT_FOUND when the exam area
    is outside the clerk's scope, REGISTRATION_NOT_PENDING (409) when already decided,
    WORK_PROOF_NOT_CHECKED for a restricted major unless the clerk confirms having checked the
    work proof, REGISTRATION_MAJOR_INVALID when the major has no plan any more, and
    REGISTRATION_ALREADY_CANDIDATE (409, naming the existing number: staff may see it) when the
    person has a record — checked under the registration's row lock and again by the
    candidate's unique constraint, so no race gives one person two numbers. The number comes
    from `candidate_create` (county prefix, locked sequence). Writes `registration.confirmed`.
    """
    _staff_in_scope(actor, registration)
    locked = _lock_pending(registration)
    note = (note or "").strip()
    if len(note) > 500:
        raise _rejected("DECISION_NOTE_TOO_LONG", _("处理意见不能超过500字。"), "note")
    if locked.major.restricted and not work_proof_checked:
        raise _rejected(
            "WORK_PROOF_NOT_CHECKED",
            _("%(major)s 为限制报考专业，请核验从业证明后勾选确认。") % {"major": locked.major.name},
            "work_proof_checked",
        )
    plan = current_plan(locked.major)
    if plan is None:
        raise _rejected("REGISTRATION_MAJOR_INVALID", _("该专业当前没有可报考的考试计划。"), "major")
    existing = _existing_candidate(locked.id_type, locked.id_number)
    if existing is not None:
        raise _conflict_existing(existing)
    from zikao.candidates.services import candidate_create

    try:
        candidate = candidate_create(
            actor=actor,
            id_type=locked.id_type,
            id_number=locked.id_number,
            name=locked.name,
            county_office=locked.exam_area,
            plan=plan,
            gender=locked.gender,
            birth_date=locked.birth_date,
            phone=locked.phone,
            address=locked.address,
            household_region=locked.household_region,
            work_unit=locked.work_unit,
            prior_education=locked.prior_education,
            pre_registration_no=locked.pre_registration_no,
        )
    except DomainError as exc:
        if exc.code == "CANDIDATE_EXISTS":
            found = _existing_candidate(locked.id_type, locked.id_number)
            if found is not None:
                raise _conflict_existing(found) from exc
            raise _rejected(
                "REGISTRATION_ALREADY_CANDIDATE", _("该证件号码已有考籍，不能重复发放。"), None, status=409
            ) from exc
        raise
    if locked.prior_diploma_no:
        candidate.prior_diploma_no = locked.prior_diploma_no
        candidate.save(update_fields=["prior_diploma_no"])
    now = clock.now()
    locked.status = Registration.Status.CONFIRMED
    locked.candidate = candidate
    locked.decided_at = now
    locked.decided_by = actor.user
    locked.decision_note = note
    locked.save(update_fields=["status", "candidate", "decided_at", "decided_by", "decision_note"])
    audit_record(
        actor=actor,
        event_type="registration.confirmed",
        subject=locked,
        candidate=candidate,
        before={"status": Registration.Status.SUBMITTED},
        after={
            "status": locked.status,
            "pre_registration_no": locked.pre_registration_no,
            "candidate_no": candidate.candidate_no,
            "work_proof_checked": bool(work_proof_checked) if locked.major.restricted else None,
            "note": note,
        },
    )
    _copy_back(registration, locked)
    return candidate


def _conflict_existing(existing: Candidate) -> DomainError:
    error = DomainError(
        "REGISTRATION_ALREADY_CANDIDATE",
        _("该证件号码已有考籍，准考证号为 %(no)s，不能重复发放。") % {"no": existing.candidate_no},
        {"candidate_no": existing.candidate_no},
    )
    error.status = 409
    return error


def _copy_back(target: Registration, source: Registration) -> None:
    for field in ("status", "candidate", "decided_at", "decided_by", "decision_note"):
        setattr(target, field, getattr(source, field))


@transaction.atomic
def registration_reject(*, actor: Actor, registration: Registration, reason: str) -> Registration:
    """Reject a pending registration with a reason the person sees on the status page.

    Refuses PERMISSION_DENIED, NOT_FOUND (out of scope), REGISTRATION_NOT_PENDING (409) and
    REGISTRATION_REJECT_REASON_REQUIRED. The person may submit again afterwards.
    Writes `registration.rejected`.
    """
    _staff_in_scope(actor, registration)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise _rejected(
            "REGISTRATION_REJECT_REASON_REQUIRED", _("请填写不予确认的原因（不超过500字）。"), "reason"
        )
    locked = _lock_pending(registration)
    locked.status = Registration.Status.REJECTED
    locked.decided_at = clock.now()
    locked.decided_by = actor.user
    locked.decision_note = reason
    locked.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    audit_record(
        actor=actor,
        event_type="registration.rejected",
        subject=locked,
        before={"status": Registration.Status.SUBMITTED},
        after={"status": locked.status, "pre_registration_no": locked.pre_registration_no, "reason": reason},
    )
    _copy_back(registration, locked)
    return locked


@transaction.atomic
def registration_withdraw(*, actor: Actor, pre_registration_no: str, id_number: str) -> Registration:
    """The person withdraws their own pending registration (报名号 + ID number prove it is theirs).

    Refuses RATE_LIMITED, NOT_FOUND (no such pair: same answer as a wrong ID number) and
    REGISTRATION_NOT_PENDING (409). Writes `registration.withdrawn`.
    """
    from zikao.candidates.registration_selectors import registration_for_applicant

    registration = registration_for_applicant(
        actor=actor, pre_registration_no=pre_registration_no, id_number=id_number
    )
    locked = _lock_pending(registration)
    locked.status = Registration.Status.WITHDRAWN
    locked.decided_at = clock.now()
    locked.save(update_fields=["status", "decided_at"])
    audit_record(
        actor=actor,
        event_type="registration.withdrawn",
        subject=locked,
        before={"status": Registration.Status.SUBMITTED},
        after={"status": locked.status, "pre_registration_no": locked.pre_registration_no},
    )
    return locked
