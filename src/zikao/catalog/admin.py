"""Admin for the catalog: read-only. Courses, schools, majors, plans, sittings and the timetable
change only through the office's catalog pages (/office/catalog/, office.views_catalog) or
`import_plan`, i.e. through catalog.services, which check CATALOG_CHANGE, validate and audit."""

from __future__ import annotations

from django.contrib import admin

from zikao.catalog.models import (
    Course,
    Major,
    Plan,
    PlanItem,
    PlanSubstitution,
    PoliticsRuleSet,
    School,
)
from zikao.core.admin import ReadOnlyAdmin


@admin.register(Course)
class CourseAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "credits", "kind")
    list_filter = ("kind",)
    search_fields = ("code", "name")


@admin.register(School)
class SchoolAdmin(ReadOnlyAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(Major)
class MajorAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "level", "province_code", "school", "restricted")
    list_filter = ("level",)
    search_fields = ("code", "name")


class PlanItemInline(admin.TabularInline):
    model = PlanItem
    fields = ("row", "course", "credits", "required", "group", "practice_for", "degree_course")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = ("major", "version", "min_total_credits", "graduate_until", "imported_at")
    list_filter = ("version", "major__level")
    search_fields = ("major__code", "major__name")
    readonly_fields = (
        "major",
        "version",
        "title",
        "min_total_credits",
        "effective_from",
        "graduate_until",
        "old_candidates_registered_before",
        "checksum",
        "imported_at",
        "source_text",
    )
    exclude = ("spec",)
    inlines = [PlanItemInline]


@admin.register(PlanSubstitution)
class PlanSubstitutionAdmin(ReadOnlyAdmin):
    list_display = ("table_id", "major_code", "level", "from_version", "to_version", "imported_at")
    readonly_fields = (
        "table_id",
        "major_code",
        "level",
        "from_version",
        "to_version",
        "checksum",
        "imported_at",
        "source_text",
    )
    exclude = ("spec",)


@admin.register(PoliticsRuleSet)
class PoliticsRuleSetAdmin(ReadOnlyAdmin):
    list_display = ("rules_id", "imported_at")
    readonly_fields = ("rules_id", "checksum", "imported_at", "source_text")
    exclude = ("spec",)
