"""Offices (province → city → county) and staff users."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Office(models.Model):
    """An exam office: the provincial authority, a city office or a county (district) office.

    `region_code` is the 6-digit GB/T 2260 code of the area; `exam_code` is the 2-digit code
    the province uses inside candidate numbers (city digits for a city, county digits for a
    county), so a candidate number starts with city exam_code + county exam_code.
    """

    class Level(models.TextChoices):
        PROVINCE = "province", _("省考试院")
        CITY = "city", _("市考办")
        COUNTY = "county", _("县(区)考办")

    name = models.CharField(max_length=64)
    level = models.CharField(max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    region_code = models.CharField(max_length=6, unique=True)
    exam_code = models.CharField(max_length=2)

    class Meta:
        ordering = ["region_code"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "exam_code"], name="office_exam_code_unique_in_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def city(self) -> Office | None:
        if self.level == self.Level.CITY:
            return self
        if self.level == self.Level.COUNTY:
            return self.parent
        return None


class User(AbstractUser):
    """A staff user of an exam office. Candidates are not users: they sign in with their record."""

    office = models.ForeignKey(Office, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        swappable = "AUTH_USER_MODEL"
