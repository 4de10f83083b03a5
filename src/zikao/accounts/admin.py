from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from zikao.accounts.models import CandidateAccount, Office, User


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ("region_code", "name", "level", "exam_code", "parent")
    list_filter = ("level",)
    search_fields = ("name", "region_code")


@admin.register(User)
class StaffAdmin(UserAdmin):
    list_display = ("username", "office", "is_staff", "is_superuser", "is_active")
    fieldsets = (*(UserAdmin.fieldsets or ()), (_("考办"), {"fields": ("office",)}))


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
