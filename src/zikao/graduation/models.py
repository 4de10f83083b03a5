"""Graduation (毕业) and the certificate (毕业证书), publicly verifiable."""

from __future__ import annotations

from django.db import models


class Graduation(models.Model):
    """A candidate graduated in a major under a plan version, with the certificate issued.

    certificate_no: 17 digits (6, level digit, province, city, county, year, half-year,
    sequence, ISO 7064 MOD 11-2 check digit — see core.numbers). The verification code is
    random, never derived from the number. Holds personal data.
    """

    candidate = models.ForeignKey(
        "candidates.Candidate", on_delete=models.PROTECT, related_name="graduations"
    )
    major = models.ForeignKey("catalog.Major", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    certificate_no = models.CharField(max_length=17, unique=True)
    graduated_on = models.DateField()
    verification_code = models.CharField(max_length=16, unique=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-graduated_on"]
        constraints = [
            models.UniqueConstraint(fields=["candidate", "major"], name="graduation_once_per_major")
        ]

    def __str__(self) -> str:
        return f"{self.certificate_no} {self.graduated_on}"
