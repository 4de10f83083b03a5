"""Office pages of the score import (成绩导入) under /office/imports/.

Thin: the upload, check and commit are `scores.importers` services (they check the permission
again); reads come from `scores.import_selectors`. Runs go to the background: the detail page
shows a `<progress>` bar that `zikao/office/imports.js` keeps current from the JSON progress
endpoint, and reloads the page when the run ends. Nothing here decides a rule.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from zikao.accounts.permissions import Perm
from zikao.catalog.models import Sitting
from zikao.core.errors import DomainError
from zikao.office.access import office_view, staff_actor
from zikao.scores import import_selectors as sel
from zikao.scores.import_files import ALIASES, EXPECTED_HEADER, FIELD_LABELS, REQUIRED_FIELDS
from zikao.scores.importers import score_import_request, score_import_upload
from zikao.scores.models import ScoreImport

PAGE_SIZE = 50


class UploadForm(forms.Form):
    sitting = forms.ModelChoiceField(
        label=gettext_lazy("考次"),
        queryset=Sitting.objects.order_by("-label"),
        empty_label=None,
        to_field_name="label",
    )
    file = forms.FileField(
        label=gettext_lazy("成绩文件"),
        help_text=gettext_lazy("CSV（UTF-8）或 XLSX，第一行为表头。"),
        allow_empty_file=True,  # an empty file gets the import's own precise refusal
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )


class RunForm(forms.Form):
    run = forms.ChoiceField(choices=ScoreImport.Run.choices)
    replace_unpublished = forms.BooleanField(
        label=gettext_lazy("替换未发布的不同成绩（原成绩保留为历史版本）"), required=False
    )


def _error_text(exc: DomainError) -> str:
    return f"{exc.message}（{exc.code}）"


@require_http_methods(["GET", "POST"])
@office_view(Perm.SCORES_IMPORT)
def imports_list(request: HttpRequest) -> HttpResponse:
    """The imports, newest first, and the upload form (POST: store the file, then check it)."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            imp, created = score_import_upload(
                actor=staff_actor(request),
                sitting=form.cleaned_data["sitting"],
                chunks=upload.chunks(),
                original_name=upload.name,
            )
        except DomainError as exc:
            form.add_error("file", forms.ValidationError(_error_text(exc), code=exc.code))
        else:
            if not created:
                messages.info(request, _("该文件已上传过，未重复保存，以下是它的处理结果。"))
                return redirect("office:imports_detail", pk=imp.pk)
            score_import_request(actor=staff_actor(request), score_import=imp, run=ScoreImport.Run.CHECK)
            messages.success(request, _("文件已保存，正在逐行校验（不会写入成绩）。"))
            return redirect("office:imports_detail", pk=imp.pk)
    page = Paginator(sel.score_imports(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    columns = [
        (label, field in REQUIRED_FIELDS, "、".join(ALIASES[field][:3]))
        for field, label in FIELD_LABELS.items()
    ]
    return render(
        request,
        "office/imports/list.html",
        {"form": form, "page": page, "columns": columns, "expected_header": EXPECTED_HEADER},
        status=400 if request.method == "POST" else 200,
    )


@require_GET
@office_view(Perm.SCORES_IMPORT)
def imports_detail(request: HttpRequest, pk: int) -> HttpResponse:
    imp = sel.score_import_get(request.user, pk)
    status = sel.score_import_status(imp)
    return render(
        request,
        "office/imports/detail.html",
        {
            "imp": imp,
            "status": status,
            "errors": sel.score_import_errors(imp),
            "run_form": RunForm(initial={"replace_unpublished": imp.replace_unpublished}),
            "headers": sel.score_import_columns(imp),
        },
    )


@require_GET
@office_view(Perm.SCORES_IMPORT)
def imports_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The state and progress of the import (polled by the detail page while a run works)."""
    imp = sel.score_import_get(request.user, pk)
    response = JsonResponse(sel.score_import_status(imp).as_json())
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@office_view(Perm.SCORES_IMPORT)
def imports_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Request a check (dry run) or the commit of the import; it runs in the background."""
    imp = sel.score_import_get(request.user, pk)
    form = RunForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请求无效。"))
        return redirect("office:imports_detail", pk=imp.pk)
    run = form.cleaned_data["run"]
    try:
        score_import_request(
            actor=staff_actor(request),
            score_import=imp,
            run=run,
            replace_unpublished=form.cleaned_data["replace_unpublished"],
        )
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        if run == ScoreImport.Run.COMMIT:
            messages.success(request, _("正在导入：有效的行将在一个事务中全部写入，或全部不写入。"))
        else:
            messages.success(request, _("正在逐行校验（不会写入成绩）。"))
    return redirect("office:imports_detail", pk=imp.pk)


@require_GET
@office_view(Perm.SCORES_IMPORT)
def imports_failed_rows(request: HttpRequest, pk: int) -> FileResponse:
    """The last run's failed rows (CSV, UTF-8 with BOM so Excel opens it), as an attachment."""
    imp = sel.score_import_get(request.user, pk)
    path = sel.score_import_failed_rows_path(imp)
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"score-import-{imp.pk}-{imp.sitting.label}-failed-rows.csv",
        content_type="text/csv; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    return response
