"""Violations (考试违规) and their penalties, per 国家教育考试违规处理办法 (教育部令第33号)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Violation(models.Model):
    """Misconduct recorded against a candidate in a sitting. Holds personal data.

    Penalty: void the course; void the whole sitting; additionally suspend the candidate from
    自考 (or from all national exams) for 1–3 years. A suspension blocks entry, transfer and
    graduation while it runs. Revoking keeps the row (revoked_at, reason).
    """

    class Kind(models.TextChoices):
        RULE_BREACH = "rule_breach", _("违纪(违反考场规则)")
        CHEATING = "cheating", _("作弊")
        SERIOUS_CHEATING = "serious_cheating", _("严重作弊")
        ORGANISED_CHEATING = "organised_cheating", _("组织作弊/替考")

    class Penalty(models.TextChoices):
        VOID_COURSE = "void_course", _("该科成绩无效")
        VOID_SITTING = "void_sitting", _("当次全部科目成绩无效")

    class Suspension(models.TextChoices):
        NONE = "", _("无")
        ZIKAO = "zikao", _("停考自学考试")
        ALL_NATIONAL = "all_national", _("停考各类国家教育考试")

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="violations")
    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.PROTECT, related_name="+")
    course = models.ForeignKey(
        "catalog.Course", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    penalty = models.CharField(max_length=16, choices=Penalty.choices)
    suspension = models.CharField(max_length=16, choices=Suspension.choices, blank=True, default="")
    suspension_years = models.PositiveSmallIntegerField(null=True, blank=True)
    suspension_starts = models.DateField(null=True, blank=True)
    suspension_ends = models.DateField(null=True, blank=True)
    description = models.TextField(blank=True)
    decided_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["candidate", "-decided_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(penalty="void_sitting") | models.Q(course__isnull=False),
                name="violation_course_penalty_names_course",
            ),
            models.CheckConstraint(
                condition=models.Q(suspension="", suspension_years__isnull=True)
                | (
                    ~models.Q(suspension="")
                    & models.Q(suspension_years__gte=1, suspension_years__lte=3)
                    & models.Q(suspension_starts__isnull=False, suspension_ends__isnull=False)
                ),
                name="violation_suspension_1_to_3_years",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.candidate_id}@{self.sitting_id}:{self.kind}"
