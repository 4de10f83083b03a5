from django.contrib import admin

from zikao.conduct.models import Violation
from zikao.core.admin import ReadOnlyAdmin


@admin.register(Violation)
class ViolationAdmin(ReadOnlyAdmin):
    list_display = (
        "candidate",
        "sitting",
        "course",
        "kind",
        "penalty",
        "suspension",
        "suspension_ends",
        "revoked_at",
    )
    list_filter = ("kind", "penalty", "suspension")
    search_fields = ("=candidate__candidate_no",)
    list_select_related = ("candidate", "sitting", "course")
