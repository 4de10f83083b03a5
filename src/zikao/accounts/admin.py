"""The Django admin (/admin/): technical staff only, behind the same second factor as the office.

* `ZikaoAdminSite` (installed as `admin.site` at the bottom of this module) lets in only active
  `is_staff` users whose session passed the TOTP step; it has no login form of its own: sign-in
  is the office's (/office/login/: password, lockout, rate limits, TOTP), then back here.
* Password hashes and TOTP keys are never shown: the user page has no password field and no
  password-change view; TOTP devices are listed read-only without their key.
* Roles, office, activation, unlock and second-factor reset are changed only on the office's
  staff pages (audited services in `accounts.services_staff`); here they are read-only. The few
  fields editable here (names, e-mail, admin flags; offices) are written with an audit event.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_totp import admin as _otp_totp_admin  # noqa: F401  (registers; replaced below)
from django_otp.plugins.otp_totp.models import TOTPDevice

from zikao.accounts.models import CandidateAccount, Office, StaffRole, User
from zikao.accounts.permissions import ROLE_LABELS
from zikao.accounts.selectors_staff import totp_status
from zikao.core.audit import Actor, audit_record


def _actor(request: HttpRequest) -> Actor:
    return Actor.staff(request.user, ip=request.META.get("REMOTE_ADDR") or None)


def _plain(value: Any) -> Any:
    """A JSON-friendly value for the audit trail (model instances by primary key)."""
    if isinstance(value, models.Model):
        return value.pk
    return value


class ZikaoAdminSite(OTPAdminSite):
    """Admin for active `is_staff` users verified by a TOTP device; sign-in is the office's."""

    site_header = _("自学考试考籍管理系统 · 系统管理")
    site_title = _("系统管理")
    index_title = _("系统管理（仅限技术人员）")

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_active and getattr(user, "is_verified", lambda: False)():
            # Signed in with both factors, but not technical staff: a refusal, not a login loop.
            return render(request, "office/denied.html", {"permission": "admin"}, status=403)
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index", current_app=self.name)
        return redirect_to_login(target, reverse("office:login"))

    def logout(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        from zikao.accounts.services_staff import staff_logout

        if request.user.is_authenticated:
            staff_logout(actor=_actor(request), user=request.user)
        auth_logout(request)
        return HttpResponseRedirect(reverse("office:login"))


class AuditedAdminMixin:
    """Write one audit event for every save made through the admin (fields changed, before/after)."""

    audit_prefix = ""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        changed = list(form.changed_data)
        before = {name: _plain(form.initial.get(name)) for name in changed} if change else None
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        audit_record(
            actor=_actor(request),
            event_type=f"{self.audit_prefix}.admin_{'changed' if change else 'created'}",
            subject=obj,
            before=before,
            after={name: _plain(getattr(obj, name, form.cleaned_data.get(name))) for name in changed},
        )


@admin.register(Office)
class OfficeAdmin(AuditedAdminMixin, admin.ModelAdmin):
    audit_prefix = "office"
    list_display = ("region_code", "name", "level", "exam_code", "parent")
    list_filter = ("level",)
    search_fields = ("name", "region_code")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class StaffRoleInline(admin.TabularInline):
    """Roles, read-only: they are granted and revoked on the office's staff page (audited)."""

    model = StaffRole
    fk_name = "user"
    extra = 0
    can_delete = False
    fields = ("role_label", "granted_at", "granted_by")
    readonly_fields = fields
    verbose_name = _("岗位角色")
    verbose_name_plural = _("岗位角色（在考办后台“用户管理”中修改）")

    @admin.display(description=_("角色"))
    def role_label(self, obj: StaffRole) -> str:
        return str(ROLE_LABELS.get(obj.role, obj.role))

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class StaffAdminForm(forms.ModelForm):
    """Only these fields can be written here; never the password (nor its hash)."""

    class Meta:
        model = User
        fields = ("first_name", "last_name", "email", "is_staff", "is_superuser")


@admin.register(User)
class StaffAdmin(AuditedAdminMixin, UserAdmin):
    audit_prefix = "staff"
    form = StaffAdminForm
    list_display = (
        "username",
        "first_name",
        "office",
        "is_staff",
        "is_superuser",
        "is_active",
        "locked_until",
    )
    list_filter = ("is_staff", "is_superuser", "is_active", "office__level")
    search_fields = ("username", "first_name", "email")
    fieldsets = (
        (None, {"fields": ("username", "password_state", "totp_state")}),
        (_("个人信息"), {"fields": ("first_name", "last_name", "email")}),
        (_("考办"), {"fields": ("office", "office_page")}),
        (_("权限"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("登录"), {"fields": ("failed_login_count", "locked_until", "last_login", "date_joined")}),
    )
    readonly_fields = (
        "username",
        "password_state",
        "totp_state",
        "office",
        "office_page",
        "is_active",
        "failed_login_count",
        "locked_until",
        "last_login",
        "date_joined",
    )
    inlines = [StaffRoleInline]

    @admin.display(description=_("密码"))
    def password_state(self, obj: User) -> str:
        return str(_("已设置") if obj.has_usable_password() else _("未设置"))

    @admin.display(description=_("动态口令"))
    def totp_state(self, obj: User) -> str:
        labels = {"confirmed": _("已绑定"), "pending": _("绑定中"), "none": _("未绑定")}
        return str(labels[totp_status(obj)])

    @admin.display(description=_("考办后台"))
    def office_page(self, obj: User) -> str:
        if obj.office_id is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("office:auth_staff_detail", args=[obj.pk]),
            _("角色、停用、解锁、重置动态口令和密码"),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk == request.user.pk:  # nobody raises or drops their own flags
            fields += ("is_staff", "is_superuser")
        return fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # staff users are created on the office's staff page or by createsuperuser

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # deactivate instead: the audit trail keeps pointing at the user

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        raise PermissionDenied  # passwords are reset on the office's staff page (audited)


class TOTPDeviceAdmin(admin.ModelAdmin):
    """TOTP devices, read-only and without their key; reset happens on the office's staff page."""

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count")
    list_filter = ("confirmed",)
    search_fields = ("user__username",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at", "throttling_failure_count")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)  # django-otp's own admin shows and edits the key
admin.site.register(TOTPDevice, TOTPDeviceAdmin)


@admin.register(CandidateAccount)
class CandidateAccountAdmin(admin.ModelAdmin):
    """Read-only view of candidates' sign-in state (the hash is never shown; writes go through services)."""

    list_display = ("candidate", "must_change_password", "failed_count", "locked_until", "last_login_at")
    list_filter = ("must_change_password",)
    search_fields = ("candidate__candidate_no",)
    fields = (
        "candidate",
        "must_change_password",
        "failed_count",
        "locked_until",
        "session_epoch",
        "last_login_at",
        "password_changed_at",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


# The default admin site becomes the OTP-verified one (the django-otp documented way): every
# ModelAdmin registered anywhere stays where it is, and /admin/ (urls.py) needs the second factor.
admin.site.__class__ = ZikaoAdminSite
