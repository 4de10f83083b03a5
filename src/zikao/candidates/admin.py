from django.contrib import admin

from zikao.candidates.models import Candidate, CandidateMajor


class CandidateMajorInline(admin.TabularInline):
    model = CandidateMajor
    extra = 0
    can_delete = False
    readonly_fields = ("major", "plan", "registered_on", "active")


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    """Read-only view of records: changes go through services (issue: office record administration)."""

    list_display = ("candidate_no", "name", "masked_id_number", "status", "county_office")
    list_filter = ("status",)
    search_fields = ("=candidate_no", "=id_number", "name")
    exclude = ("id_number",)
    inlines = [CandidateMajorInline]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Candidate._meta.fields if f.name != "id_number"] + ["masked_id_number"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
