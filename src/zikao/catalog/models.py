"""Catalog: courses, schools, majors, versioned plans, sittings and their slots, province policy."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

course_code_validator = RegexValidator(r"^\d{5}$", _("课程代码应为5位数字。"))
sitting_label_validator = RegexValidator(r"^20\d{2}(0[1-9]|1[0-2])$", _("考次应为YYYYMM格式。"))


class CourseKind(models.TextChoices):
    THEORY = "theory", _("笔试")
    PRACTICE = "practice", _("实践")
    THESIS = "thesis", _("毕业论文/设计")


class Level(models.TextChoices):
    ZHUANKE = "zhuanke", _("专科")
    BENKE = "benke", _("本科")


class Course(models.Model):
    """A national course code. Theory and practice parts have separate codes (13013 / 13014)."""

    code = models.CharField(max_length=5, unique=True, validators=[course_code_validator])
    name = models.CharField(max_length=100)
    # Decimal: two real courses carry half credits (02277 3.5, 02278 0.5).
    credits = models.DecimalField(max_digits=4, decimal_places=1, validators=[MinValueValidator(0)])
    kind = models.CharField(max_length=16, choices=CourseKind.choices)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class School(models.Model):
    """主考学校: the university that owns a major, runs its practice exams and thesis."""

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Major(models.Model):
    """专业: national code (optional K/T suffix), level, its school; some are restricted."""

    code = models.CharField(max_length=10, validators=[RegexValidator(r"^\d{6}[KT]?$")])
    name = models.CharField(max_length=100)
    level = models.CharField(max_length=16, choices=Level.choices)
    province_code = models.CharField(max_length=12, blank=True, help_text="e.g. X2080901")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="majors")
    restricted = models.BooleanField(default=False, help_text=_("须提供行业从业证明(如护理学、药学)"))

    class Meta:
        ordering = ["code", "level"]
        constraints = [models.UniqueConstraint(fields=["code", "level"], name="major_code_level_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}({self.get_level_display()})"


class Plan(models.Model):
    """One version of a major's exam plan (考试计划), e.g. 080901 2024 版.

    `spec` holds the validated, machine-readable plan document (docs/plan-format.md) that the
    plan engine (catalog.rules) evaluates; PlanItem rows mirror its courses for queries.
    A candidate registered before `old_candidates_registered_before` may graduate under this
    version until `graduate_until` (the transition period).
    """

    major = models.ForeignKey(Major, on_delete=models.PROTECT, related_name="plans")
    version = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    min_total_credits = models.PositiveSmallIntegerField()
    effective_from = models.DateField(null=True, blank=True)
    graduate_until = models.DateField(null=True, blank=True)
    old_candidates_registered_before = models.DateField(null=True, blank=True)
    spec = models.JSONField()
    source_text = models.TextField()
    checksum = models.CharField(max_length=64)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["major__code", "-version"]
        constraints = [models.UniqueConstraint(fields=["major", "version"], name="plan_major_version_unique")]

    def __str__(self) -> str:
        return f"{self.major.code} {self.major.name} {self.version}版"


class PlanItem(models.Model):
    """A course of a plan, as listed (row order, credits in this plan, required or in a group)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="items")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="plan_items")
    row = models.PositiveSmallIntegerField()
    credits = models.PositiveSmallIntegerField()
    required = models.BooleanField()
    group = models.CharField(max_length=64, blank=True)
    practice_for = models.ForeignKey(
        Course,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("实践环节对应的理论课程"),
    )
    degree_course = models.BooleanField(default=False)

    class Meta:
        ordering = ["plan", "row"]
        constraints = [models.UniqueConstraint(fields=["plan", "course"], name="planitem_plan_course_unique")]

    def __str__(self) -> str:
        return f"{self.plan_id}:{self.course_id}"


class Sitting(models.Model):
    """考次: one exam session labelled YYYYMM, with its entry window and score release time.

    Scores become visible to candidates at `release_at`, or earlier if the office set
    `published_at` (publish early). Nothing reads these directly to decide visibility except
    `scores.selectors`.
    """

    label = models.CharField(max_length=6, unique=True, validators=[sitting_label_validator])
    first_day = models.DateField()
    entry_opens_at = models.DateTimeField(null=True, blank=True)
    entry_closes_at = models.DateTimeField(null=True, blank=True)
    release_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    review_closes_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-label"]

    def __str__(self) -> str:
        return self.label

    @property
    def effective_release_at(self) -> datetime | None:
        """The instant from which candidates see this sitting's scores (None: not scheduled)."""
        times = [t for t in (self.release_at, self.published_at) if t is not None]
        return min(times) if times else None


class Slot(models.Model):
    """考试时段: a half-day of a sitting (Sat AM 09:00–11:30, Sat PM 14:30–17:00, Sun AM, Sun PM)."""

    sitting = models.ForeignKey(Sitting, on_delete=models.CASCADE, related_name="slots")
    code = models.CharField(max_length=8, help_text="SAT_AM, SAT_PM, SUN_AM, SUN_PM")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        ordering = ["sitting", "starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["sitting", "code"], name="slot_code_unique_in_sitting"),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="slot_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sitting_id}/{self.code}"


class TimetableEntry(models.Model):
    """Which course is examined in which slot of a sitting (the courses a sitting offers)."""

    sitting = models.ForeignKey(Sitting, on_delete=models.CASCADE, related_name="timetable")
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="courses")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sitting", "course"], name="timetable_course_once_per_sitting"),
        ]

    def __str__(self) -> str:
        return f"{self.sitting_id}/{self.slot_id}:{self.course_id}"


class ProvincePolicy(models.Model):
    """Province policy as data the office edits (one row): limits, fees, windows, pass mark."""

    max_courses_per_sitting = models.PositiveSmallIntegerField(default=4)
    fee_per_course_fen = models.PositiveIntegerField(default=4500, help_text=_("每门课程报考费(分)"))
    pass_mark = models.PositiveSmallIntegerField(default=60, validators=[MaxValueValidator(100)])
    review_working_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1)])
    local_courses_before_graduation_zhuanke = models.PositiveSmallIntegerField(default=5)
    local_courses_before_graduation_benke = models.PositiveSmallIntegerField(default=4)

    class Meta:
        verbose_name_plural = "province policy"

    def __str__(self) -> str:
        return "province policy"

    @classmethod
    def current(cls) -> ProvincePolicy:
        policy = cls.objects.order_by("pk").first()
        return policy if policy is not None else cls()


class PlanSubstitution(models.Model):
    """A 顶替 table between two versions of one major's plan (docs/plan-format.md).

    `spec` holds the validated table (catalog.planfile.SubstitutionTable.to_json()); the engine
    uses it in both directions: old-plan passes toward the new plan and vice versa.
    """

    major_code = models.CharField(max_length=10)
    level = models.CharField(max_length=16, choices=Level.choices)
    from_version = models.PositiveSmallIntegerField()
    to_version = models.PositiveSmallIntegerField()
    table_id = models.CharField(max_length=64, unique=True)
    spec = models.JSONField()
    source_text = models.TextField()
    checksum = models.CharField(max_length=64)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["major_code", "level", "from_version"]
        constraints = [
            models.UniqueConstraint(
                fields=["major_code", "level", "from_version", "to_version"],
                name="plansubstitution_versions_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.major_code} {self.from_version}→{self.to_version}"


class PoliticsRuleSet(models.Model):
    """The province's politics-course replacement rules (one current set, keyed by `rules_id`)."""

    rules_id = models.CharField(max_length=64, unique=True)
    spec = models.JSONField()
    source_text = models.TextField()
    checksum = models.CharField(max_length=64)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["rules_id"]

    def __str__(self) -> str:
        return self.rules_id


class CatalogUpload(models.Model):
    """A file a catalog manager uploaded for review before it is applied (plan file, timetable).

    The exact bytes are kept so that what is applied is what was previewed: the preview and the
    apply both read `content`, and `checksum` (sha256 of `content`) identifies it. Uploading the
    same bytes again finds the same row (no second copy). `outcome` records what applying did.
    """

    class Kind(models.TextChoices):
        PLAN = "plan", _("计划文件")
        TIMETABLE = "timetable", _("考试时间表")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    sitting = models.ForeignKey(
        Sitting, null=True, blank=True, on_delete=models.CASCADE, related_name="timetable_uploads"
    )
    source_name = models.CharField(max_length=200)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    checksum = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["kind", "checksum"])]

    def __str__(self) -> str:
        return f"{self.kind}:{self.source_name}:{self.checksum[:12]}"
