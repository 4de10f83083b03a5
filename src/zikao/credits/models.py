"""Credit that comes from elsewhere: exemptions (免考) and transfers out/in (转考/接考)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Exemption(models.Model):
    """免考: courses credited from a diploma course or a certificate. Holds personal data.

    Approved exemptions create Score rows with method EXEMPTION (no sitting); the thesis is
    never exempt.
    """

    class Basis(models.TextChoices):
        DIPLOMA_COURSE = "diploma_course", _("已获学历课程")
        CERTIFICATE = "certificate", _("证书")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("已申请")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("未批准")

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="exemptions")
    basis = models.CharField(max_length=20, choices=Basis.choices)
    basis_detail = models.CharField(max_length=200, help_text=_("如: CET-4 512分; 某大学 高等数学 78分"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    courses = models.ManyToManyField("catalog.Course", related_name="+")

    class Meta:
        ordering = ["candidate", "requested_at"]

    def __str__(self) -> str:
        return f"{self.candidate_id}:{self.basis}:{self.status}"


class TransferOut(models.Model):
    """转出: the record moves to another province; every valid exam score goes, the number closes."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("已申请")
        COMPLETED = "completed", _("已转出")
        REJECTED = "rejected", _("未批准")

    candidate = models.ForeignKey(
        "candidates.Candidate", on_delete=models.PROTECT, related_name="transfers_out"
    )
    to_province = models.CharField(max_length=20)
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    courses = models.ManyToManyField("catalog.Course", related_name="+", blank=True)

    class Meta:
        ordering = ["candidate", "requested_at"]

    def __str__(self) -> str:
        return f"{self.candidate_id}→{self.to_province}"


class TransferIn(models.Model):
    """接考 (转入): a record arriving from another province, with the courses it brings."""

    candidate = models.ForeignKey(
        "candidates.Candidate", on_delete=models.PROTECT, related_name="transfers_in"
    )
    from_province = models.CharField(max_length=20)
    from_candidate_no = models.CharField(max_length=20)
    arrived_on = models.DateField()

    class Meta:
        ordering = ["candidate", "arrived_on"]

    def __str__(self) -> str:
        return f"{self.candidate_id}←{self.from_province}"


class TransferInCourse(models.Model):
    """One course brought in by a transfer, as the other province recorded it, and where it maps."""

    transfer = models.ForeignKey(TransferIn, on_delete=models.CASCADE, related_name="courses")
    remote_code = models.CharField(max_length=10)
    remote_name = models.CharField(max_length=100)
    remote_credits = models.PositiveSmallIntegerField()
    remote_sitting = models.CharField(max_length=6, blank=True)
    value = models.PositiveSmallIntegerField(null=True, blank=True)
    grade = models.CharField(max_length=4, blank=True)
    mapped_course = models.ForeignKey(
        "catalog.Course", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.remote_code}→{self.mapped_course_id}"
