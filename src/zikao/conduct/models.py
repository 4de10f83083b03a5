"""Violations (考试违规) and their penalties, per 国家教育考试违规处理办法 (教育部令第33号)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Violation(models.Model):
    """Misconduct recorded against a candidate in a sitting. Holds personal data.

    Penalty: void the course; void the whole sitting; additionally suspend the candidate from
    自考 (or from all national exams) for 1–3 years (`conduct.rules` says which kind implies
    what). A suspension blocks entry, transfer and graduation while it runs. Revoking keeps the
    row (revoked_at, reason); a reduction on appeal changes kind/penalty/suspension in place and
    `ViolationEvent` keeps every earlier state. Changed only by `conduct.services`.
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
    evidence_note = models.TextField(blank=True, default="", help_text=_("证据材料说明（仅考办可见）"))
    decided_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by_office = models.ForeignKey(
        "accounts.Office", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
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
            # No two standing violations for the same course of a sitting, nor two whole-sitting ones.
            models.UniqueConstraint(
                fields=["candidate", "sitting", "course"],
                condition=models.Q(revoked_at__isnull=True, course__isnull=False),
                name="violation_one_active_per_course",
            ),
            models.UniqueConstraint(
                fields=["candidate", "sitting"],
                condition=models.Q(revoked_at__isnull=True, course__isnull=True),
                name="violation_one_active_whole_sitting",
            ),
        ]
        indexes = [models.Index(fields=["sitting", "kind"], name="violation_sitting_kind")]

    def __str__(self) -> str:
        return f"{self.candidate_id}@{self.sitting_id}:{self.kind}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ViolationAppeal(models.Model):
    """复核申请: the candidate's request to review a decision, and the reviewing office's outcome.

    At most one appeal per violation (the order grants one review). Holds personal data (grounds).
    """

    class Status(models.TextChoices):
        OPEN = "open", _("复核中")
        UPHELD = "upheld", _("维持原处理")
        REVOKED = "revoked", _("撤销处理")
        REDUCED = "reduced", _("减轻处理")

    violation = models.ForeignKey(Violation, on_delete=models.PROTECT, related_name="appeals")
    decision_received_on = models.DateField(help_text=_("考生收到处理决定的日期"))
    submitted_on = models.DateField(help_text=_("考生提出复核申请的日期"))
    grounds = models.TextField()
    lodged_at = models.DateTimeField()
    lodged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-lodged_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["violation"], name="violation_appeal_once"),
            models.CheckConstraint(
                condition=models.Q(status="open", decided_at__isnull=True)
                | (~models.Q(status="open") & models.Q(decided_at__isnull=False)),
                name="violation_appeal_decided_iff_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"appeal:{self.violation_id}:{self.status}"


class ViolationScore(models.Model):
    """One score a violation voided: the version before (`original`), the void version, and
    what became of it when the violation stopped holding it.

    HELD: the void version stands because of this violation. RESTORED: the violation was
    revoked or reduced and `restored` is a new version with the original result. HANDED_OVER:
    another standing violation of the same sitting also voids this course, so the score stays
    void and a HELD row of that violation took over. SUPERSEDED: the void version had already
    been corrected by someone else, so nothing was restored (the correction wins).
    """

    class State(models.TextChoices):
        HELD = "held", _("作废中")
        RESTORED = "restored", _("已恢复")
        HANDED_OVER = "handed_over", _("由其他违规处理继续作废")
        SUPERSEDED = "superseded", _("作废后已被更正，未恢复")

    violation = models.ForeignKey(Violation, on_delete=models.PROTECT, related_name="voided_scores")
    original = models.ForeignKey("scores.Score", on_delete=models.PROTECT, related_name="+")
    voided = models.ForeignKey("scores.Score", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.HELD)
    voided_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    restored = models.ForeignKey(
        "scores.Score", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["violation", "id"]
        constraints = [
            models.UniqueConstraint(fields=["violation", "voided"], name="violation_score_once"),
            models.UniqueConstraint(
                fields=["voided"], condition=models.Q(state="held"), name="violation_score_one_holder"
            ),
            models.CheckConstraint(
                condition=models.Q(state="held", released_at__isnull=True)
                | (~models.Q(state="held") & models.Q(released_at__isnull=False)),
                name="violation_score_released_iff_not_held",
            ),
        ]

    def __str__(self) -> str:
        return f"voided:{self.violation_id}:{self.voided_id}:{self.state}"


class ViolationEvent(models.Model):
    """History of a violation: recorded, scores voided, appeal lodged and decided, revoked.

    Append-only (written by conduct.services only); `before`/`after` hold the decision's state
    so every earlier penalty stays readable after a reduction.
    """

    class Type(models.TextChoices):
        RECORDED = "recorded", _("认定违规")
        SCORES_VOIDED = "scores_voided", _("补充作废成绩")
        APPEAL_LODGED = "appeal_lodged", _("提出复核申请")
        APPEAL_UPHELD = "appeal_upheld", _("复核：维持原处理")
        APPEAL_REDUCED = "appeal_reduced", _("复核：减轻处理")
        APPEAL_REVOKED = "appeal_revoked", _("复核：撤销处理")
        REVOKED = "revoked", _("撤销处理")

    violation = models.ForeignKey(Violation, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=16, choices=Type.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    appeal = models.ForeignKey(
        ViolationAppeal, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["violation", "at", "id"]

    def __str__(self) -> str:
        return f"violation-event:{self.violation_id}:{self.type}"
