"""Per-sitting reports (统计报表): entries, attendance, pass rates, score distribution, XLSX export.

Figures come from `zikao.scores.statistics`, which scopes them to the user's office and hides
every result figure before the release instant from users without `scores.publish`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from zikao.accounts.permissions import Perm
from zikao.core.errors import DomainError, ValidationFailed
from zikao.office import charts, exports
from zikao.office.access import office_view, staff_actor
from zikao.scores import statistics
from zikao.scores.selectors import sitting_release


@require_GET
@office_view(Perm.REPORTS_VIEW)
def reports_index(request: HttpRequest) -> HttpResponse:
    """Choose a sitting (a picker, plus the list of sittings with their release state)."""
    sittings = statistics.report_sittings(request.user)
    chosen = request.GET.get("sitting", "")
    if chosen and any(s.label == chosen for s in sittings):
        return redirect("office:reports_sitting", label=chosen)
    rows = [(s, sitting_release(s)) for s in sittings]
    error = _("没有该考次。") if chosen else None
    return render(
        request,
        "office/reports/index.html",
        {"rows": rows, "error": error, "chosen": chosen},
        status=404 if chosen else 200,
    )


def _course_table(report: statistics.SittingReport):
    header = [_g("课程代码"), _g("课程名称"), _g("报考人数")]
    if report.results_disclosed:
        header += [_g("实考人数"), _g("缺考人数"), _g("暂缓发布"), _g("及格人数"), _g("及格率(%)")]
    rows = []
    for row in [*report.courses, report.total]:
        cells: list = [row.course_code, row.course_name, row.entries]
        if report.results_disclosed:
            cells += [
                row.attended,
                row.absent,
                row.withheld,
                row.passed,
                float(row.pass_rate) if row.pass_rate is not None else "",
            ]
        rows.append(cells)
    return header, rows


def _area_table(report: statistics.SittingReport):
    header = [_g("考区代码"), _g("考区"), _g("课程代码"), _g("课程名称"), _g("报考人数")]
    if report.results_disclosed:
        header += [_g("实考人数"), _g("缺考人数")]
    rows = []
    for row in report.areas:
        cells: list = [row.area_code, row.area_name, row.course_code, row.course_name, row.entries]
        if report.results_disclosed:
            cells += [row.attended, row.absent]
        rows.append(cells)
    return header, rows


def _histogram_table(report: statistics.SittingReport):
    return [_g("分数段"), _g("人数")], [[b.label, b.count] for b in report.histogram]


@require_GET
@office_view(Perm.REPORTS_VIEW)
def reports_sitting(request: HttpRequest, label: str) -> HttpResponse:
    """The report of one sitting; `?course=` narrows the score distribution to one course."""
    sitting = statistics.report_sitting_get(request.user, label)
    course = request.GET.get("course", "").strip()
    error: DomainError | None = None
    try:
        report = statistics.sitting_report(request.user, sitting, histogram_course=course)
    except ValidationFailed as exc:
        error = exc
        report = statistics.sitting_report(request.user, sitting)
    pass_chart = hist_chart = None
    if report.results_disclosed:
        pass_chart = charts.pass_rate_bars(
            title=_g("%(sitting)s 考次各课程及格率") % {"sitting": sitting.label},
            items=[(f"{r.course_code} {r.course_name}", r.pass_rate) for r in report.courses],
        )
        scope = (
            f"{report.histogram_course.code} {report.histogram_course.name}"
            if report.histogram_course
            else _g("全部课程")
        )
        hist_chart = charts.histogram(
            title=_g("%(sitting)s 考次成绩分布(%(scope)s)") % {"sitting": sitting.label, "scope": scope},
            buckets=[(b.label, b.count) for b in report.histogram],
        )
    return render(
        request,
        "office/reports/sitting.html",
        {
            "report": report,
            "sitting": sitting,
            "pass_chart": pass_chart,
            "hist_chart": hist_chart,
            "course": course if error is None else "",
            "error": error,
        },
        status=400 if error else 200,
    )


@require_POST
@office_view(Perm.REPORTS_VIEW)
def reports_export(request: HttpRequest, label: str) -> HttpResponseBase:
    """The report's tables as one workbook (one sheet per table); recorded as report.exported."""
    sitting = statistics.report_sitting_get(request.user, label)
    course = request.POST.get("course", "").strip()
    try:
        report = statistics.report_export_start(
            actor=staff_actor(request), sitting=sitting, histogram_course=course
        )
    except ValidationFailed as exc:
        return render(
            request,
            "office/reports/export_error.html",
            {"sitting": sitting, "error": exc},
            status=400,
        )
    sheets = [(_g("课程统计"), *_course_table(report)), (_g("考区课程统计"), *_area_table(report))]
    if report.results_disclosed:
        title = _g("成绩分布")
        if report.histogram_course is not None:
            title = f"{title} {report.histogram_course.code}"
        sheets.append((title, *_histogram_table(report)))
    return exports.xlsx_response(f"report-{sitting.label}.xlsx", sheets)
