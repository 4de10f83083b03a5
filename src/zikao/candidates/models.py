"""The candidate record (考籍): its root, the majors a candidate is registered for."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from zikao.core.identity import Gender, IdType
from zikao.core.masking import mask_id_number, mask_name

candidate_no_validator = RegexValidator(r"^\d{12}$", _("准考证号应为12位数字。"))


class PriorEducation(models.TextChoices):
    NONE = "none", _("无")
    HIGH_SCHOOL = "high_school", _("高中/中专")
    ZHUANKE = "zhuanke", _("专科")
    BENKE = "benke", _("本科")
    POSTGRADUATE = "postgraduate", _("研究生")


class Candidate(models.Model):
    """考生: the root of a lifelong examination record. Holds personal data.

    `candidate_no` (12 digits: city 2 + county 2 + year 2 + sitting digit 1 + sequence 5) never
    changes. One person (document type + number) has one active record; a duplicate found later
    is merged into the surviving number and closed with status MERGED.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("在籍")
        GRADUATED = "graduated", _("已毕业")
        TRANSFERRED_OUT = "transferred_out", _("已转出")
        MERGED = "merged", _("已合并")

    candidate_no = models.CharField(max_length=12, unique=True, validators=[candidate_no_validator])
    pre_registration_no = models.CharField(max_length=16, null=True, blank=True, unique=True)
    id_type = models.CharField(max_length=20, choices=IdType.choices, default=IdType.RESIDENT_ID)
    id_number = models.CharField(max_length=20)
    name = models.CharField(max_length=50)
    former_name = models.CharField(max_length=50, blank=True)
    gender = models.CharField(max_length=1, choices=Gender.choices)
    birth_date = models.DateField()
    ethnicity = models.CharField(max_length=20, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    address = models.CharField(max_length=200, blank=True)
    household_region = models.CharField(max_length=6, blank=True, help_text=_("户籍所在地区码"))
    county_office = models.ForeignKey("accounts.Office", on_delete=models.PROTECT, related_name="candidates")
    work_unit = models.CharField(max_length=100, blank=True)
    prior_education = models.CharField(
        max_length=16, choices=PriorEducation.choices, default=PriorEducation.NONE
    )
    prior_diploma_no = models.CharField(max_length=40, blank=True)
    prior_diploma_verified = models.BooleanField(default=False)
    character_assessment_on_file = models.BooleanField(default=False, help_text=_("思想品德鉴定"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    registered_on = models.DateField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["candidate_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_type", "id_number"],
                condition=~models.Q(status="merged"),
                name="candidate_one_open_record_per_person",
            ),
            models.CheckConstraint(
                condition=models.Q(status="merged", merged_into__isnull=False)
                | (~models.Q(status="merged") & models.Q(merged_into__isnull=True)),
                name="candidate_merged_iff_merged_into",
            ),
        ]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return f"{self.candidate_no} {mask_name(self.name)} {mask_id_number(self.id_number)}"

    def __repr__(self) -> str:
        return f"<Candidate {self}>"

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)


class CandidateMajor(models.Model):
    """A major a candidate is registered for, and the plan version they graduate under."""

    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="majors")
    major = models.ForeignKey("catalog.Major", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    registered_on = models.DateField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["candidate", "registered_on"]
        constraints = [
            models.UniqueConstraint(fields=["candidate", "major"], name="candidate_major_once"),
        ]

    def __str__(self) -> str:
        return f"{self.candidate_id}:{self.major_id}"


class CandidateNumberSequence(models.Model):
    """Next sequence per (city, county, year, sitting digit) prefix; locked row-wise when issuing."""

    prefix = models.CharField(max_length=7, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}:{self.last}"


class ProfileChangeRequest(models.Model):
    """A candidate's request to correct name, ID number or birth date (the office decides).

    Holds personal data: `old_value` is stored masked where personal (the record keeps the full
    value); `new_value` is stored in full because the office must check it against documents,
    and is shown masked to everyone else. At most one open request per candidate and field.
    """

    class Field(models.TextChoices):
        NAME = "name", _("姓名")
        ID_NUMBER = "id_number", _("证件号码")
        BIRTH_DATE = "birth_date", _("出生日期")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待审核")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("未批准")

    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="profile_change_requests")
    field = models.CharField(max_length=20, choices=Field.choices)
    old_value = models.CharField(max_length=50)
    new_value = models.CharField(max_length=50)
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "field"],
                condition=models.Q(status="requested"),
                name="profile_change_one_open_request_per_field",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.candidate_id}:{self.field}:{self.status}"

    @property
    def new_value_masked(self) -> str:
        if self.field == self.Field.ID_NUMBER:
            return mask_id_number(self.new_value)
        if self.field == self.Field.NAME:
            return mask_name(self.new_value)
        return self.new_value[:4] + "-**-**" if self.new_value else ""


# --- new candidate registration (新生报名, issue 5) -------------------------------------------------


class Registration(models.Model):
    """网上预报名: a person's online pre-registration, before a county office confirms identity.

    Holds personal data (ID number, phone, address, photo and proof documents). The documents
    live in `RegistrationDocument` (files under MEDIA_ROOT/registrations/, never served directly).
    At most one open (submitted) registration per person (document type + number); a confirmed
    registration links the Candidate created with the issued number.
    """

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("待确认")
        CONFIRMED = "confirmed", _("已确认")
        REJECTED = "rejected", _("未通过")
        WITHDRAWN = "withdrawn", _("已撤回")

    class ResidenceBasis(models.TextChoices):
        HOUSEHOLD = "household", _("本省户籍")
        RESIDENCE_PERMIT = "residence_permit", _("居住证")
        SOCIAL_INSURANCE = "social_insurance", _("社保缴纳证明")

    pre_registration_no = models.CharField(max_length=16, unique=True)
    id_type = models.CharField(max_length=20, choices=IdType.choices, default=IdType.RESIDENT_ID)
    id_number = models.CharField(max_length=20)
    name = models.CharField(max_length=50)
    gender = models.CharField(max_length=1, choices=Gender.choices)
    birth_date = models.DateField()
    phone = models.CharField(max_length=20)
    address = models.CharField(max_length=200)
    household_region = models.CharField(max_length=6, blank=True, help_text=_("户籍所在地区码"))
    residence_basis = models.CharField(max_length=20, choices=ResidenceBasis.choices)
    prior_education = models.CharField(
        max_length=16, choices=PriorEducation.choices, default=PriorEducation.NONE
    )
    prior_diploma_no = models.CharField(max_length=40, blank=True)
    work_unit = models.CharField(max_length=100, blank=True)
    major = models.ForeignKey("catalog.Major", on_delete=models.PROTECT, related_name="+")
    exam_area = models.ForeignKey("accounts.Office", on_delete=models.PROTECT, related_name="registrations")
    pledge_accepted_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    submitted_at = models.DateTimeField()
    submitted_ip = models.GenericIPAddressField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.CharField(max_length=500, blank=True)
    candidate = models.OneToOneField(
        Candidate, null=True, blank=True, on_delete=models.PROTECT, related_name="registration"
    )

    class Meta:
        ordering = ["submitted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_type", "id_number"],
                condition=models.Q(status="submitted"),
                name="registration_one_open_per_person",
            ),
            models.CheckConstraint(
                condition=models.Q(status="confirmed", candidate__isnull=False)
                | (~models.Q(status="confirmed") & models.Q(candidate__isnull=True)),
                name="registration_confirmed_iff_candidate",
            ),
        ]
        indexes = [
            models.Index(fields=["exam_area", "status", "submitted_at"]),
            models.Index(fields=["id_number"]),
        ]

    def __str__(self) -> str:
        return f"{self.pre_registration_no} {mask_name(self.name)} {mask_id_number(self.id_number)}"

    def __repr__(self) -> str:
        return f"<Registration {self}>"

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)


class RegistrationDocument(models.Model):
    """A file uploaded with a registration: the photo, a residence proof or a work proof.

    Personal data. `path` is relative to MEDIA_ROOT (registrations/<random>.<ext>): the name
    is random and says nothing about the person; `sha256` fingerprints the stored bytes.
    """

    class Kind(models.TextChoices):
        PHOTO = "photo", _("证件照片")
        RESIDENCE_PROOF = "residence_proof", _("居住证明")
        WORK_PROOF = "work_proof", _("从业证明")

    registration = models.ForeignKey(Registration, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    path = models.CharField(max_length=200, unique=True)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["registration", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "kind"], name="registration_document_once_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registration_id}:{self.kind}"


# --- the record photo (issue 5: ticket and door check) ---------------------------------------------


class CandidatePhoto(models.Model):
    """A photo of the candidate set by the office (现场采集 at confirmation, or a later re-take).

    Personal data. The file lives under MEDIA_ROOT/photos/<yyyy>/<random>.<ext> (never served
    directly; office pages embed it after permission and scope checks); `sha256` fingerprints
    the stored bytes. Rows are never changed: a replacement is a new row and the newest wins
    (`candidates.photos.candidate_photo`), so the history of who set which photo stays.
    """

    class Source(models.TextChoices):
        ONSITE = "onsite", _("现场采集")
        SUBMITTED = "submitted", _("考生提交照片")

    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="photos")
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.ONSITE)
    note = models.CharField(max_length=200, blank=True)
    path = models.CharField(max_length=200, unique=True)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    set_at = models.DateTimeField()
    set_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["candidate", "-set_at", "-id"]
        verbose_name = _("考生照片")
        indexes = [models.Index(fields=["candidate", "set_at"])]

    def __str__(self) -> str:
        return f"{self.candidate_id}:{self.source}:{self.set_at:%Y-%m-%d}"
