from django.contrib import admin

from zikao.conduct.models import Violation, ViolationAppeal, ViolationEvent, ViolationScore
from zikao.core.admin import ReadOnlyAdmin


class ViolationEventInline(admin.TabularInline):
    model = ViolationEvent
    extra = 0
    can_delete = False
    fields = ("at", "type", "actor_label", "note", "before", "after")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ViolationScoreInline(admin.TabularInline):
    model = ViolationScore
    extra = 0
    can_delete = False
    fields = ("original", "voided", "state", "voided_at", "released_at", "restored")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Violation)
class ViolationAdmin(ReadOnlyAdmin):
    """Read-only: violations change only through conduct.services (office pages /office/conduct/)."""

    list_display = (
        "candidate",
        "sitting",
        "course",
        "kind",
        "penalty",
        "suspension",
        "suspension_ends",
        "decided_at",
        "revoked_at",
    )
    list_filter = ("kind", "penalty", "suspension")
    search_fields = ("=candidate__candidate_no",)
    list_select_related = ("candidate", "sitting", "course")
    inlines = (ViolationScoreInline, ViolationEventInline)


@admin.register(ViolationAppeal)
class ViolationAppealAdmin(ReadOnlyAdmin):
    list_display = ("violation", "submitted_on", "status", "decided_at")
    list_filter = ("status",)
    search_fields = ("=violation__candidate__candidate_no",)
