"""Audit trail viewer (审计日志): filter, page, read an event masked or unmasked, export.

Reads go through `zikao.core.selectors`, which applies the office scope; the two sensitive
reads (unmasked event, export) are recorded there as audit events.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from zikao.accounts.permissions import Perm
from zikao.candidates.models import Candidate
from zikao.core import clock, selectors
from zikao.core.errors import DomainError
from zikao.core.masking import mask_id_number, mask_name
from zikao.core.models import AuditEvent
from zikao.office import exports
from zikao.office.access import office_view, staff_actor

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


class AuditFilterForm(forms.Form):
    """The viewer's filters. Times are wall-clock times in Asia/Shanghai (the project time zone)."""

    candidate_no = forms.RegexField(
        label=_("准考证号"),
        regex=r"^\d{12}$",
        required=False,
        error_messages={"invalid": _("准考证号应为12位数字。")},
    )
    username = forms.CharField(label=_("工作人员用户名"), max_length=150, required=False)
    event_type = forms.ChoiceField(label=_("事件类型"), required=False)
    start = forms.DateTimeField(
        label=_("开始时间"),
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end = forms.DateTimeField(
        label=_("结束时间(不含)"),
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["event_type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("全部"))] + [(t, t) for t in selectors.audit_event_types()]

    def clean(self):
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", _("结束时间须晚于开始时间。"))
        return data

    def to_filter(self) -> selectors.AuditFilter:
        data = self.cleaned_data
        tz = timezone.get_default_timezone()
        start, end = data.get("start"), data.get("end")
        return selectors.AuditFilter(
            candidate_no=data.get("candidate_no") or "",
            username=(data.get("username") or "").strip(),
            event_type=data.get("event_type") or "",
            start=timezone.localtime(start, tz) if start else None,
            end=timezone.localtime(end, tz) if end else None,
        )


def _filter_values(form: AuditFilterForm) -> dict[str, str]:
    """The current filter as plain strings (paging links, the export form's hidden fields)."""
    if not form.is_bound or not form.is_valid():
        return {}
    return {
        key: (form.fields[key].widget.format_value(value) if key in ("start", "end") else value)
        for key, value in form.cleaned_data.items()
        if value
    }


@require_GET
@office_view(Perm.AUDIT_VIEW)
def audit_list(request: HttpRequest) -> HttpResponse:
    """Filtered events, newest first, a keyset page at a time."""
    form = AuditFilterForm(request.GET or None)
    page = None
    error: DomainError | None = None
    status = 200
    if request.GET and not form.is_valid():
        status = 400
    else:
        flt = form.to_filter() if request.GET else selectors.AuditFilter()
        try:
            page = selectors.audit_page(
                request.user,
                flt,
                before=request.GET.get("before", ""),
                after=request.GET.get("after", ""),
            )
        except DomainError as exc:
            if exc.code in ("PERMISSION_DENIED", "NOT_FOUND"):
                raise
            error, status = exc, 400
    values = _filter_values(form)
    return render(
        request,
        "office/audit/list.html",
        {
            "form": form,
            "page": page,
            "error": error,
            "query": urlencode(values),
            "export_fields": sorted(values.items()),
            "can_export": Perm.AUDIT_EXPORT in request.office_perms,  # type: ignore[attr-defined]
        },
        status=status,
    )


def _candidate_facts(candidate: Candidate | None, *, unmasked: bool) -> dict | None:
    if candidate is None:
        return None
    return {
        "candidate_no": candidate.candidate_no,
        "name": candidate.name if unmasked else mask_name(candidate.name),
        "id_number": candidate.id_number if unmasked else mask_id_number(candidate.id_number),
    }


def _detail(request: HttpRequest, event: AuditEvent, *, unmasked: bool) -> HttpResponse:
    if unmasked:
        before, after = event.before, event.after
    else:
        before = selectors.mask_payload(event.before, subject_type=event.subject_type)
        after = selectors.mask_payload(event.after, subject_type=event.subject_type)
    response = render(
        request,
        "office/audit/detail.html",
        {
            "event": event,
            "rows": selectors.payload_rows(before, after),
            "candidate": _candidate_facts(event.candidate, unmasked=unmasked),
            "unmasked": unmasked,
            "can_unmask": Perm.RECORDS_VIEW_FULL_ID in request.office_perms,  # type: ignore[attr-defined]
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@office_view(Perm.AUDIT_VIEW)
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One event, personal data in its payload masked."""
    return _detail(request, selectors.audit_event_get(request.user, pk), unmasked=False)


@require_POST
@office_view(Perm.RECORDS_VIEW_FULL_ID)
def audit_unmask(request: HttpRequest, pk: int) -> HttpResponse:
    """One event as stored (full ID numbers, names, phones); recorded as audit.unmasked_viewed."""
    event = selectors.audit_event_unmasked(actor=staff_actor(request), pk=pk)
    return _detail(request, event, unmasked=True)


EXPORT_HEADER = [
    _("时间"),
    _("事件类型"),
    _("操作者类型"),
    _("操作者"),
    _("准考证号"),
    _("对象类型"),
    _("对象编号"),
    _("IP地址"),
    _("变更前"),
    _("变更后"),
]


def _export_rows(events):
    kinds = dict(AuditEvent.ActorKind.choices)
    for event in events:
        yield [
            timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S"),
            event.event_type,
            str(kinds.get(event.actor_kind, event.actor_kind)),
            event.actor_label,
            event.candidate.candidate_no if event.candidate else "",
            event.subject_type,
            event.subject_id,
            event.ip or "",
            selectors.payload_text(selectors.mask_payload(event.before, subject_type=event.subject_type)),
            selectors.payload_text(selectors.mask_payload(event.after, subject_type=event.subject_type)),
        ]


@require_POST
@office_view(Perm.AUDIT_EXPORT)
def audit_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The filtered set as CSV or XLSX, masked, streamed; recorded as audit.exported."""
    form = AuditFilterForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "office/audit/list.html",
            {"form": form, "page": None, "error": None, "query": "", "export_fields": [], "can_export": True},
            status=400,
        )
    events = selectors.audit_export_start(actor=staff_actor(request), flt=form.to_filter(), fmt=fmt)
    stamp = timezone.localtime(clock.now()).strftime("%Y%m%d-%H%M%S")
    header = [str(h) for h in EXPORT_HEADER]
    if fmt == "csv":
        return exports.csv_response(f"audit-{stamp}.csv", header, _export_rows(events))
    return exports.xlsx_response(f"audit-{stamp}.xlsx", [(str(_("审计日志")), header, _export_rows(events))])
