"""Scores (成绩): one result of one course, never edited once published."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Grade(models.TextChoices):
    """Grades for practice and thesis; 合格 and above pass (及格 is the same step in some provinces)."""

    EXCELLENT = "优秀", _("优秀")
    GOOD = "良好", _("良好")
    MEDIUM = "中等", _("中等")
    PASS = "合格", _("合格")
    FAIL = "不合格", _("不合格")


PASSING_GRADES = frozenset({Grade.EXCELLENT, Grade.GOOD, Grade.MEDIUM, Grade.PASS})


class Method(models.TextChoices):
    EXAM = "exam", _("考试")
    EXEMPTION = "exemption", _("免考")
    SUBSTITUTION = "substitution", _("顶替")
    TRANSFER = "transfer", _("转入")


class Score(models.Model):
    """A result. Holds personal data (linked to a candidate).

    Only the row with `is_current=True` counts; a correction inserts a new row that
    `supersedes` the old one (who, when, why) and the old row stays as history. Exam scores
    have a sitting and an entry; credit from elsewhere (exemption, transfer) has no sitting.
    """

    class Status(models.TextChoices):
        VALID = "valid", _("有效")
        ABSENT = "absent", _("缺考")
        VOID = "void", _("违规作废")
        WITHHELD = "withheld", _("暂缓发布")

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="scores")
    course = models.ForeignKey("catalog.Course", on_delete=models.PROTECT, related_name="+")
    sitting = models.ForeignKey(
        "catalog.Sitting", null=True, blank=True, on_delete=models.PROTECT, related_name="scores"
    )
    entry = models.ForeignKey(
        "entries.Entry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    value = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    grade = models.CharField(max_length=4, choices=Grade.choices, blank=True)
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.EXAM)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VALID)
    is_current = models.BooleanField(default=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    correction_reason = models.TextField(blank=True)
    source = models.CharField(max_length=100, blank=True, help_text=_("免考/转入依据"))
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["candidate", "sitting", "course"]
        constraints = [
            models.CheckConstraint(condition=models.Q(value__lte=100), name="score_value_at_most_100"),
            models.CheckConstraint(
                condition=~(models.Q(value__isnull=False) & ~models.Q(grade="")),
                name="score_value_or_grade_not_both",
            ),
            models.CheckConstraint(
                condition=models.Q(method="exam", sitting__isnull=False) | ~models.Q(method="exam"),
                name="score_exam_has_sitting",
            ),
            models.UniqueConstraint(
                fields=["candidate", "course", "sitting"],
                condition=models.Q(is_current=True, sitting__isnull=False),
                name="score_one_current_per_course_and_sitting",
            ),
        ]
        indexes = [
            models.Index(fields=["candidate", "sitting"], name="score_candidate_sitting"),
            models.Index(fields=["sitting", "course"], name="score_sitting_course"),
        ]

    def __str__(self) -> str:
        shown = self.value if self.value is not None else self.grade
        return f"{self.candidate_id}:{self.course_id}@{self.sitting_id}={shown}"


class ScoreWithholding(models.Model):
    """暂缓发布: one candidate's results of one sitting kept back (e.g. a pending misconduct case).

    While `released_at` is empty, none of the candidate's scores of that sitting reach any
    channel, even after the sitting's release instant. Releasing keeps the row as history.
    """

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="+")
    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.PROTECT, related_name="withholdings")
    reason = models.TextField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    release_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "sitting"],
                condition=models.Q(released_at__isnull=True),
                name="withholding_one_active_per_candidate_sitting",
            ),
        ]

    def __str__(self) -> str:
        return f"withhold:{self.candidate_id}@{self.sitting_id}"


class ScoreCorrection(models.Model):
    """A requested change to a score, applied only when a second staff user approves (four-eyes).

    `score` is the version the request was made against; approving supersedes it with a new
    version (`result`). The requester can never approve their own request (database check).
    Evidence is a note plus an optional file stored privately with its SHA-256.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待复核")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")
        WITHDRAWN = "withdrawn", _("已撤回")

    score = models.ForeignKey(Score, on_delete=models.PROTECT, related_name="corrections")
    new_value = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    new_grade = models.CharField(max_length=4, choices=Grade.choices, blank=True)
    new_status = models.CharField(max_length=16, choices=Score.Status.choices, default=Score.Status.VALID)
    reason = models.TextField()
    evidence_note = models.TextField(blank=True)
    evidence_file = models.FileField(upload_to="corrections/%Y/", blank=True)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.TextField(blank=True)
    result = models.OneToOneField(
        Score, null=True, blank=True, on_delete=models.PROTECT, related_name="correction_applied"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["score"],
                condition=models.Q(status="requested"),
                name="correction_one_open_per_score",
            ),
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("requested_by")),
                name="correction_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"correction:{self.pk} score:{self.score_id} {self.status}"


class ScoreImport(models.Model):
    """成绩导入: one file of a marking centre (评卷中心) for one sitting, stored privately.

    The exact bytes are kept under MEDIA_ROOT/imports (never served) with their SHA-256 and
    uploader; the same bytes for the same sitting are one import (uploading them again finds
    this row and changes nothing). A run either checks the file (dry run: every row validated
    and reported, no score written) or commits it (all valid rows in one transaction, or none).
    `phase`, `rows_done` and `rows_total` are the progress of the run in flight, written by the
    worker while it runs; the counts and `error_counts` / `sample_errors` describe the last
    finished run, and `failed_rows_name` is the downloadable file of its failed rows.
    The file holds personal data (candidate numbers and results).
    """

    class State(models.TextChoices):
        UPLOADED = "uploaded", _("已上传")
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("处理中")
        CHECKED = "checked", _("已校验")
        COMMITTED = "committed", _("已导入")
        FAILED = "failed", _("失败")

    class Run(models.TextChoices):
        CHECK = "check", _("校验（试运行）")
        COMMIT = "commit", _("正式导入")

    class Phase(models.TextChoices):
        NONE = "", _("—")
        LOADING = "loading", _("读取文件")
        VALIDATING = "validating", _("逐行校验")
        REPORTING = "reporting", _("生成报告")
        COMMITTING = "committing", _("写入成绩")

    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.PROTECT, related_name="score_imports")
    original_name = models.CharField(max_length=255)
    stored_name = models.CharField(max_length=255, help_text=_("相对于MEDIA_ROOT的存储路径"))
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    file_format = models.CharField(max_length=8, blank=True)
    replace_unpublished = models.BooleanField(
        default=False, help_text=_("替换发布前已有的不同成绩（原成绩保留为历史版本）")
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.UPLOADED)
    run = models.CharField(max_length=8, choices=Run.choices, blank=True)
    phase = models.CharField(max_length=12, choices=Phase.choices, blank=True)
    rows_total = models.BigIntegerField(default=0)
    rows_done = models.BigIntegerField(default=0)
    rows_valid = models.BigIntegerField(null=True, blank=True)
    rows_failed = models.BigIntegerField(null=True, blank=True)
    rows_new = models.BigIntegerField(null=True, blank=True)
    rows_unchanged = models.BigIntegerField(null=True, blank=True)
    rows_replaced = models.BigIntegerField(null=True, blank=True)
    error_counts = models.JSONField(default=dict, blank=True)
    sample_errors = models.JSONField(default=list, blank=True)
    failed_rows_name = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["sitting", "sha256"], name="score_import_file_once_per_sitting"),
        ]

    def __str__(self) -> str:
        return f"score-import:{self.pk}:{self.sitting_id}:{self.sha256[:12]}"
