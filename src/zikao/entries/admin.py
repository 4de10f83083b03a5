"""Admin for entries and seats: read-only. Entries, seat counters and submissions change only
through `entries.services` / `entries.capacity` (which lock, count seats and audit)."""

from django.contrib import admin

from zikao.core.admin import ReadOnlyAdmin
from zikao.entries.models import AreaSlotCapacity, Centre, Entry, EntrySettings, EntrySubmission, Room


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("candidate", "sitting", "course", "area", "slot", "status", "fee_fen", "hold_expires_at")
    list_filter = ("status", "cancel_reason")
    search_fields = ("=candidate__candidate_no",)
    list_select_related = ("candidate", "sitting", "course", "area", "slot")


class RoomInline(admin.TabularInline):
    model = Room
    fields = ("number", "seats", "active")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Centre)
class CentreAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "area", "active")
    list_filter = ("active",)
    search_fields = ("code", "name")
    list_select_related = ("area",)
    inlines = [RoomInline]


@admin.register(EntrySettings)
class EntrySettingsAdmin(ReadOnlyAdmin):
    list_display = ("sitting", "payment_hold_minutes", "tickets_open_at")


@admin.register(AreaSlotCapacity)
class AreaSlotCapacityAdmin(ReadOnlyAdmin):
    list_display = ("sitting", "area", "slot", "capacity", "taken")
    list_filter = ("sitting",)
    list_select_related = ("sitting", "area", "slot")


@admin.register(EntrySubmission)
class EntrySubmissionAdmin(ReadOnlyAdmin):
    list_display = ("candidate", "sitting", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("=candidate__candidate_no",)
    list_select_related = ("candidate", "sitting")
