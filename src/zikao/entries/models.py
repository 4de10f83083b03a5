"""Entries (报考): a candidate entered for one course in one sitting."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Entry(models.Model):
    """报考: every exam score has one. The online workflow (fees, seats) builds on this row."""

    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("待缴费")
        CONFIRMED = "confirmed", _("已确认")
        CANCELLED = "cancelled", _("已取消")

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="entries")
    sitting = models.ForeignKey("catalog.Sitting", on_delete=models.PROTECT, related_name="entries")
    course = models.ForeignKey("catalog.Course", on_delete=models.PROTECT, related_name="+")
    area = models.ForeignKey(
        "accounts.Office", on_delete=models.PROTECT, related_name="+", help_text=_("考区")
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONFIRMED)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["sitting", "course"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "sitting", "course"],
                condition=~models.Q(status="cancelled"),
                name="entry_once_per_course_and_sitting",
            ),
        ]
        indexes = [models.Index(fields=["sitting", "area"])]

    def __str__(self) -> str:
        return f"{self.sitting_id}:{self.candidate_id}:{self.course_id}"
