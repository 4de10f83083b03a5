from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from zikao.core.admin import ReadOnlyAdmin
from zikao.scores.models import Score, ScoreCorrection, ScoreImport, ScoreWithholding


@admin.register(Score)
class ScoreAdmin(ReadOnlyAdmin):
    """Read-only: scores change only through score_record / score_correct (history is kept)."""

    list_display = ("candidate", "course", "sitting", "value", "grade", "method", "status", "is_current")
    list_filter = ("method", "status", "is_current")
    search_fields = ("=candidate__candidate_no", "=course__code")
    list_select_related = ("candidate", "course", "sitting")
    show_full_result_count = False


@admin.register(ScoreImport)
class ScoreImportAdmin(ReadOnlyAdmin):
    """Read-only: a file is checked and committed only in the office workflow (scoped, audited),
    never from the admin; the link opens that page."""

    list_display = (
        "id",
        "sitting",
        "original_name",
        "state",
        "rows_total",
        "rows_valid",
        "rows_failed",
        "created_at",
        "created_by",
        "committed_at",
        "workflow",
    )
    list_filter = ("state", "sitting")
    search_fields = ("=sha256", "original_name")
    list_select_related = ("sitting", "created_by")
    date_hierarchy = "created_at"
    exclude = ("stored_name", "failed_rows_name")  # server paths of files with personal data

    @admin.display(description=_("导入工作页"))
    def workflow(self, obj: ScoreImport):
        return format_html('<a href="{}">{}</a>', reverse("office:imports_detail", args=[obj.pk]), _("打开"))


@admin.register(ScoreWithholding)
class ScoreWithholdingAdmin(ReadOnlyAdmin):
    """Read-only: withholding and release go through the office page (scoped, audited)."""

    list_display = ("candidate", "sitting", "created_at", "released_at")
    list_select_related = ("candidate", "sitting")
    search_fields = ("=candidate__candidate_no",)


@admin.register(ScoreCorrection)
class ScoreCorrectionAdmin(ReadOnlyAdmin):
    """Read-only: corrections need a second person's approval in the office workflow (four-eyes)."""

    list_display = ("id", "score", "status", "requested_at", "requested_by", "decided_at", "decided_by")
    list_filter = ("status",)
    list_select_related = ("score", "requested_by", "decided_by")
    exclude = ("evidence_file",)  # evidence is opened in the office workflow, which checks scope
