from django.contrib import admin

from zikao.core.models import AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Admin for records that change only through services (which audit and keep history)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the trail is append-only."""

    list_display = ("at", "event_type", "actor_kind", "actor_label", "subject_type", "subject_id")
    list_filter = ("event_type", "actor_kind")
    search_fields = ("subject_id", "actor_label")
    date_hierarchy = "at"
