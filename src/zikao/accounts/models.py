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
    `short_name` is the area's own name ("南京市", "玄武区"): a candidate chooses an exam area
    (考区), not an office, so candidate pages show `area_label` ("南京市 玄武区"), never the
    office's full name. Left blank, it is derived from `name` when saved.
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
    short_name = models.CharField(_("地区简称"), max_length=32, blank=True)
    region_code = models.CharField(max_length=6, unique=True)
    exam_code = models.CharField(max_length=2)

    class Meta:
        ordering = ["region_code"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "exam_code"], name="office_exam_code_unique_in_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.short_name:
            self.short_name = derive_short_name(self.name, self.parent.name if self.parent else "")
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "short_name"}
        super().save(*args, **kwargs)

    @property
    def area_name(self) -> str:
        """The area's own name ("玄武区"): the stored short name, else derived from the office name."""
        return self.short_name or derive_short_name(self.name, self.parent.name if self.parent else "")

    @property
    def area_label(self) -> str:
        """How a candidate names the area: "南京市 玄武区" for a county, "南京市" for a city
        (reads `parent`: select_related it when listing many)."""
        if self.level == self.Level.COUNTY and self.parent is not None:
            return area_label(self.parent.area_name, self.area_name)
        return self.area_name

    @property
    def city(self) -> Office | None:
        if self.level == self.Level.CITY:
            return self
        if self.level == self.Level.COUNTY:
            return self.parent
        return None


# Suffixes that name the office rather than the place, longest first.
OFFICE_SUFFIXES = (
    "高等教育自学考试办公室",
    "自学考试委员会办公室",
    "教育招生考试中心",
    "招生考试办公室",
    "教育考试中心",
    "招生考试中心",
    "自学考试办公室",
    "招生办公室",
    "教育考试院",
    "招生考试院",
    "考试院",
    "招生办",
    "考试中心",
    "考办",
)


def derive_short_name(name: str, parent_name: str = "") -> str:
    """The place an office serves, from its name: "南京市玄武区招生考试办公室" under
    "南京市教育考试院" → "玄武区"; a name that is already a place ("玄武区") is kept."""
    place = name.strip()
    for suffix in OFFICE_SUFFIXES:
        if place.endswith(suffix) and len(place) > len(suffix):
            place = place[: -len(suffix)]
            break
    parent_place = derive_short_name(parent_name) if parent_name else ""
    if parent_place and place.startswith(parent_place) and len(place) > len(parent_place):
        place = place[len(parent_place) :]
    return place


def area_label(city: str, county: str) -> str:
    """ "南京市 玄武区": the city and county names with a space, as on a paper form."""
    return f"{city} {county}".strip()


class User(AbstractUser):
    """A staff user of an exam office. Candidates are not users: they sign in with their record."""

    office = models.ForeignKey(Office, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")
    failed_login_count = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        swappable = "AUTH_USER_MODEL"


class StaffRole(models.Model):
    """One role held by a staff user; what a role may do is `accounts.permissions.ROLE_PERMISSIONS`."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="staff_roles")
    role = models.CharField(max_length=32)
    granted_at = models.DateTimeField()
    granted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("岗位角色")
        verbose_name_plural = _("岗位角色")
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="staff_role_once")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.role}"


class CandidateAccount(models.Model):
    """The sign-in state of one candidate (个人空间). Holds personal data (password hash).

    Created lazily: a candidate without a row signs in with the first password, the birth date
    (YYYYMMDD). The row appears on the first sign-in attempt that must be remembered (a success,
    or a failure that counts towards the lock). `password_hash` empty means "the first password is
    still in force"; `must_change_password` keeps every page but the change page closed.
    `session_epoch` is copied into sessions and tokens: bumping it (password change, lock) ends
    every other session.
    """

    candidate = models.OneToOneField(
        "candidates.Candidate", on_delete=models.PROTECT, primary_key=True, related_name="account"
    )
    password_hash = models.CharField(max_length=256, blank=True)
    must_change_password = models.BooleanField(default=True)
    failed_count = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    session_epoch = models.PositiveIntegerField(default=1)
    last_login_at = models.DateTimeField(null=True, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("考生账户")
        verbose_name_plural = _("考生账户")

    def __str__(self) -> str:
        return f"account:{self.candidate_id}"


class ApiToken(models.Model):
    """A bearer token of the mobile API. Only a SHA-256 digest of the token is stored.

    Valid while not revoked, not expired, and issued under the account's current session epoch.
    """

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="+")
    key_digest = models.CharField(max_length=64, unique=True)
    session_epoch = models.PositiveIntegerField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["candidate", "revoked_at"])]

    def __str__(self) -> str:
        return f"token:{self.pk} candidate:{self.candidate_id}"


class VerificationCode(models.Model):
    """A 6-digit code sent by SMS (password reset, new phone). Holds personal data (phone).

    The code is stored only as a keyed hash; the challenge handed to the browser or app is a
    random string stored as a digest. Expires, allows a few attempts, is used once.
    """

    class Purpose(models.TextChoices):
        PASSWORD_RESET = "password_reset", _("找回密码")
        PHONE_CHANGE = "phone_change", _("更换手机号")

    candidate = models.ForeignKey("candidates.Candidate", on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    challenge_digest = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=64)
    phone = models.CharField(max_length=20)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["candidate", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"code:{self.pk} {self.purpose} candidate:{self.candidate_id}"
