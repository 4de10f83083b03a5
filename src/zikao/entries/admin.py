from django.contrib import admin

from zikao.core.admin import ReadOnlyAdmin
from zikao.entries.models import Entry


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("candidate", "sitting", "course", "area", "status")
    list_filter = ("status",)
    search_fields = ("=candidate__candidate_no",)
    list_select_related = ("candidate", "sitting", "course", "area")
