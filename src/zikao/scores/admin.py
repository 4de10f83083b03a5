from django.contrib import admin

from zikao.core.admin import ReadOnlyAdmin
from zikao.scores.models import Score


@admin.register(Score)
class ScoreAdmin(ReadOnlyAdmin):
    """Read-only: scores change only through score_record / score_correct (history is kept)."""

    list_display = ("candidate", "course", "sitting", "value", "grade", "method", "status", "is_current")
    list_filter = ("method", "status", "is_current")
    search_fields = ("=candidate__candidate_no", "=course__code")
    list_select_related = ("candidate", "course", "sitting")
    show_full_result_count = False
