"""Office pages of the entry window under /office/entries/: the province entry policy, each
sitting's entry settings, seat counters per area × slot, the entry list and payment orders, with
CSV / XLSX exports.

Thin: reads come from `entries.office_selectors` (ENTRIES_VIEW, scoped to the user's office),
writes from `catalog.services.province_policy_set`, `entries.settings_services` and
`entries.capacity` (ENTRIES_MANAGE; policy and settings at a province office only). Anything
out of scope is the same not-found page as a missing one; a refusal is shown as a message and
nothing is written.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from zikao.accounts.models import Office
from zikao.accounts.permissions import Perm, PermissionDenied, has_perm
from zikao.catalog.models import Sitting, Slot
from zikao.catalog.rules import SLOT_LABELS
from zikao.catalog.services import province_policy_set
from zikao.core import clock
from zikao.core.errors import DomainError, NotFound
from zikao.core.masking import mask_id_number, mask_name
from zikao.entries import capacity as capacity_services
from zikao.entries import office_selectors as sel
from zikao.entries.models import Entry, PaymentOrder
from zikao.entries.settings_services import entry_settings_set
from zikao.office import exports
from zikao.office.access import office_view, staff_actor
from zikao.office.forms_entries import (
    CapacityRebuildForm,
    CapacitySetForm,
    EntryFilterForm,
    OrderFilterForm,
    PolicyForm,
    SittingSettingsForm,
    add_refusal,
)

PAGE_SIZE = 50
SITTINGS_PAGE_SIZE = 20


def _at_province(request: HttpRequest) -> bool:
    """Policy and sitting settings are the province's to change."""
    office = getattr(request.user, "office", None)
    return (
        has_perm(request.user, Perm.ENTRIES_MANAGE)
        and office is not None
        and office.level == Office.Level.PROVINCE
    )


def _slot_text(slot: Slot | None) -> str:
    return str(SLOT_LABELS.get(slot.code, slot.code)) if slot is not None else ""


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# --- index, policy, sitting settings ------------------------------------------------------------


@office_view(Perm.ENTRIES_VIEW)
@require_safe
def entries_setup(request: HttpRequest) -> HttpResponse:
    """The province entry policy and every sitting with its entry window and settings, each
    linking to its settings, seat counters, entry list and payments."""
    page = Paginator(sel.office_sittings(request.user), SITTINGS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "office/entries/settings_index.html",
        {
            "policy": sel.entry_policy(),
            "page": page,
            "at_province": _at_province(request),
            "now": clock.now(),
        },
    )


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD", "POST"])
def entries_policy(request: HttpRequest) -> HttpResponse:
    """Max courses per sitting and fee per course (yuan); other offices see it read-only."""
    policy = sel.entry_policy()
    at_province = _at_province(request)
    if request.method == "POST" and not at_province:
        raise PermissionDenied(Perm.ENTRIES_MANAGE)
    initial = {"max_courses_per_sitting": policy.max_courses_per_sitting, "fee_yuan": policy.fee_yuan}
    form = PolicyForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                province_policy_set(
                    actor=staff_actor(request),
                    max_courses_per_sitting=form.cleaned_data["max_courses_per_sitting"],
                    fee_per_course_fen=form.fee_fen(),
                )
            except PermissionDenied:
                raise
            except DomainError as exc:
                add_refusal(form, exc, {"fee_per_course_fen": "fee_yuan"})
            else:
                messages.success(request, _("报考政策已保存;新的报考费只适用于此后提交的报考。"))
                return redirect("office:entries_setup")
        status = 422
    return render(
        request,
        "office/entries/settings_policy.html",
        {"form": form, "policy": policy, "at_province": at_province},
        status=status,
    )


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD", "POST"])
def entries_sitting_settings(request: HttpRequest, label: str) -> HttpResponse:
    """A sitting's payment hold and ticket printing start; its entry window is shown and edited
    on the catalog's sitting page."""
    sitting = sel.office_sitting_get(request.user, label)
    current = sel.sitting_settings(sitting)
    at_province = _at_province(request)
    if request.method == "POST" and not at_province:
        raise PermissionDenied(Perm.ENTRIES_MANAGE)
    initial = {
        "payment_hold_minutes": current.payment_hold_minutes,
        "tickets_open_at": timezone.localtime(current.tickets_open_at) if current.tickets_open_at else None,
    }
    form = SittingSettingsForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                entry_settings_set(
                    actor=staff_actor(request),
                    sitting=sitting,
                    payment_hold_minutes=form.cleaned_data["payment_hold_minutes"],
                    tickets_open_at=form.cleaned_data["tickets_open_at"],
                )
            except PermissionDenied:
                raise
            except DomainError as exc:
                add_refusal(form, exc)
            else:
                messages.success(request, _("%(label)s 考次的报考设置已保存。") % {"label": sitting.label})
                return redirect("office:entries_setup")
        status = 422
    return render(
        request,
        "office/entries/settings_sitting.html",
        {"sitting": sitting, "current": current, "form": form, "at_province": at_province},
        status=status,
    )


# --- seat counters --------------------------------------------------------------------------------


def _area_param(request: HttpRequest, value: str | None) -> Office | None:
    """?area=<region code> among the areas in scope; anything else is NOT_FOUND."""
    if not value:
        return None
    area = sel.areas_in_scope(request.user).filter(region_code=value).first()
    if area is None:
        raise NotFound()
    return area


def _capacity_page(
    request: HttpRequest,
    sitting: Sitting,
    area: Office | None,
    *,
    error: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    rows = sel.capacity_rows(request.user, sitting, area=area)
    return render(
        request,
        "office/entries/capacity_sitting.html",
        {
            "sitting": sitting,
            "area": area,
            "areas": sel.areas_in_scope(request.user),
            "rows": rows,
            "totals": sel.capacity_totals(rows),
            "missing": sel.areas_needing_rebuild(request.user, sitting) if area is None else [],
            "can_manage": has_perm(request.user, Perm.ENTRIES_MANAGE),
            "error": error,
        },
        status=status,
    )


def _capacity_url(sitting: Sitting, area: Office | None) -> str:
    url = reverse("office:entries_capacity", args=[sitting.label])
    return f"{url}?{urlencode({'area': area.region_code})}" if area is not None else url


@office_view(Perm.ENTRIES_VIEW)
@require_safe
def entries_capacity(request: HttpRequest, label: str) -> HttpResponse:
    """Seats per area × slot of a sitting: capacity, taken, free, % full (?area= one area)."""
    sitting = sel.office_sitting_get(request.user, label)
    return _capacity_page(request, sitting, _area_param(request, request.GET.get("area")))


def _shown_area(request: HttpRequest) -> Office | None:
    """The area the capacity page was filtered to when the form was posted (to go back to it)."""
    try:
        return _area_param(request, request.POST.get("shown_area"))
    except NotFound:
        return None


@office_view(Perm.ENTRIES_MANAGE)
@require_POST
def entries_capacity_set(request: HttpRequest, label: str) -> HttpResponse:
    """Set one counter (hold seats back or give them again): never below the taken seats, never
    above the area's room seats."""
    sitting = sel.office_sitting_get(request.user, label)
    shown = _shown_area(request)
    form = CapacitySetForm(request.POST)
    if not form.is_valid():
        error = DomainError("CAPACITY_INVALID", _("座位数须为不小于0的整数。"))
        return _capacity_page(request, sitting, shown, error=error, status=422)
    area = Office.objects.filter(pk=form.cleaned_data["area"], level=Office.Level.COUNTY).first()
    if area is None:
        raise NotFound()
    slot = Slot.objects.filter(sitting=sitting, code=form.cleaned_data["slot"]).first()
    if slot is None:
        raise NotFound()
    try:
        row = capacity_services.capacity_set(
            actor=staff_actor(request),
            sitting=sitting,
            area=area,
            slot=slot,
            capacity=form.cleaned_data["capacity"],
        )
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        return _capacity_page(request, sitting, shown, error=exc, status=exc.status)
    messages.success(
        request,
        _("已将 %(area)s %(slot)s 的座位数设为 %(n)s。")
        % {"area": area.name, "slot": _slot_text(slot), "n": row.capacity},
    )
    return redirect(_capacity_url(sitting, shown))


@office_view(Perm.ENTRIES_MANAGE)
@require_POST
def entries_capacity_rebuild(request: HttpRequest, label: str) -> HttpResponse:
    """Rebuild the counters of every area in scope (or one) from their active rooms."""
    sitting = sel.office_sitting_get(request.user, label)
    shown = _shown_area(request)
    form = CapacityRebuildForm(request.POST)
    if not form.is_valid():
        raise NotFound()
    area = None
    if form.cleaned_data.get("area"):
        area = Office.objects.filter(pk=form.cleaned_data["area"], level=Office.Level.COUNTY).first()
        if area is None:
            raise NotFound()
    try:
        changes = capacity_services.capacity_rebuild(actor=staff_actor(request), sitting=sitting, area=area)
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        return _capacity_page(request, sitting, shown, error=exc, status=exc.status)
    if changes:
        messages.success(request, _("已按考场重建座位数:%(n)s 项有变化。") % {"n": len(changes)})
    else:
        messages.info(request, _("座位数与考场一致,没有变化。"))
    return redirect(_capacity_url(sitting, shown))


CAPACITY_HEADER = (
    gettext_lazy("考区代码"),
    gettext_lazy("考区"),
    gettext_lazy("时段"),
    gettext_lazy("座位数"),
    gettext_lazy("已占用"),
    gettext_lazy("剩余"),
    gettext_lazy("占用率(%)"),
    gettext_lazy("考场座位数"),
)


@office_view(Perm.ENTRIES_VIEW)
@require_safe
def entries_capacity_export(request: HttpRequest, label: str, fmt: str) -> HttpResponseBase:
    """The seat counters shown on the page (no personal data) as CSV or XLSX."""
    sitting = sel.office_sitting_get(request.user, label)
    area = _area_param(request, request.GET.get("area"))
    rows = [
        [
            r.area.region_code,
            r.area.name,
            _slot_text(r.slot),
            r.capacity,
            r.taken,
            r.free,
            r.percent_full if r.percent_full is not None else "",
            r.room_seats,
        ]
        for r in sel.capacity_rows(request.user, sitting, area=area)
    ]
    header = [str(h) for h in CAPACITY_HEADER]
    name = f"capacity-{sitting.label}" + (f"-{area.region_code}" if area else "")
    if fmt == "csv":
        return exports.csv_response(f"{name}.csv", header, rows)
    return exports.xlsx_response(f"{name}.xlsx", [(_("考区容量"), header, rows)])


# --- entries ------------------------------------------------------------------------------------


def _entry_row(entry: Entry, at, counties: set[int]) -> dict:
    return {
        "entry": entry,
        # the candidate's record and orders are scoped by the candidate's county, which may lie
        # outside the user's scope when the candidate sits in one of its areas
        "linked": entry.candidate.county_office_id in counties,
        "candidate_no": entry.candidate.candidate_no,
        "name": mask_name(entry.candidate.name),
        "id_number": mask_id_number(entry.candidate.id_number),
        "state": sel.entry_state(entry, at),
        "state_text": sel.entry_state_text(entry, at),
        "slot": _slot_text(entry.slot),
        "fee": sel.yuan(entry.fee_fen),
    }


def _query(source, *drop: str) -> str:
    query = source.copy()
    for key in drop:
        query.pop(key, None)
    return query.urlencode()


@office_view(Perm.ENTRIES_VIEW)
@require_safe
def entries_list(request: HttpRequest, label: str) -> HttpResponse:
    """A sitting's entries in scope: filters, counts per course and area, paginated list."""
    sitting = sel.office_sitting_get(request.user, label)
    now = clock.now()
    form = EntryFilterForm(request.GET or None, user=request.user, sitting=sitting)
    valid = not form.is_bound or form.is_valid()
    page = by_course = by_area = None
    rows: list[dict] = []
    if valid:
        flt = form.to_filter()
        by_course, by_area = sel.entries_summary(request.user, sitting, flt, at=now)
        page = Paginator(sel.entries_for_staff(request.user, sitting, flt, at=now), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        counties = set(sel.areas_in_scope(request.user).values_list("pk", flat=True))
        rows = [_entry_row(e, now, counties) for e in page.object_list]
    return render(
        request,
        "office/entries/list_sitting.html",
        {
            "sitting": sitting,
            "form": form,
            "page": page,
            "rows": rows,
            "by_course": by_course,
            "by_area": by_area,
            "query": _query(request.GET, "page"),
            "filters": [(k, v) for k, v in request.GET.items() if k != "page"],
            "now": now,
        },
        status=200 if valid else 400,
    )


ENTRY_HEADER = (
    gettext_lazy("考区代码"),
    gettext_lazy("考区"),
    gettext_lazy("准考证号"),
    gettext_lazy("姓名"),
    gettext_lazy("身份证件号"),
    gettext_lazy("课程代码"),
    gettext_lazy("课程名称"),
    gettext_lazy("时段"),
    gettext_lazy("状态"),
    gettext_lazy("报考费(元)"),
    gettext_lazy("缴费订单号"),
    gettext_lazy("报考时间"),
    gettext_lazy("缴费截止"),
    gettext_lazy("取消时间"),
)


def _entry_export_rows(entries, at):
    for e in entries:
        yield [
            e.area.region_code,
            e.area.name,
            e.candidate.candidate_no,
            mask_name(e.candidate.name),
            mask_id_number(e.candidate.id_number),
            e.course.code,
            e.course.name,
            _slot_text(e.slot),
            sel.entry_state_text(e, at),
            sel.yuan(e.fee_fen),
            e.order.order_no if e.order_id else "",
            _local(e.created_at),
            _local(e.hold_expires_at),
            _local(e.cancelled_at),
        ]


@office_view(Perm.ENTRIES_VIEW)
@require_POST
def entries_list_export(request: HttpRequest, label: str, fmt: str) -> HttpResponseBase:
    """The filtered entries as CSV or XLSX (names and ID numbers masked), streamed; recorded as
    `entries.exported`."""
    sitting = sel.office_sitting_get(request.user, label)
    form = EntryFilterForm(request.POST, user=request.user, sitting=sitting)
    if not form.is_valid():
        messages.error(request, _("筛选条件有误，未导出。"))
        return redirect("office:entries_list", label=sitting.label)
    now = clock.now()
    entries = sel.entries_export_start(
        actor=staff_actor(request), sitting=sitting, flt=form.to_filter(), fmt=fmt, at=now
    )
    rows = _entry_export_rows(entries, now)
    return _export_response(f"entries-{sitting.label}", fmt, now, _("报考名单"), ENTRY_HEADER, rows)


def _export_response(stem: str, fmt: str, now, sheet, header, rows) -> HttpResponseBase:
    """A streamed CSV or XLSX download named `<stem>-<local time>.<fmt>`."""
    name = f"{stem}-{timezone.localtime(now):%Y%m%d-%H%M%S}.{fmt}"
    labels = [str(h) for h in header]
    if fmt == "csv":
        return exports.csv_response(name, labels, rows)
    return exports.xlsx_response(name, [(sheet, labels, rows)])


# --- payments -----------------------------------------------------------------------------------


def _order_row(order: PaymentOrder, at) -> dict:
    state = sel.order_state(order, at)
    return {
        "order": order,
        "candidate_no": order.candidate.candidate_no,
        "name": mask_name(order.candidate.name),
        "amount": sel.yuan(order.amount_fen),
        "refunded": sel.yuan(order.refunded_fen),
        "state": state,
        "state_text": str(sel.ORDER_STATE_LABELS[state]),
    }


@office_view(Perm.ENTRIES_VIEW)
@require_safe
def entries_payments(request: HttpRequest, label: str) -> HttpResponse:
    """A sitting's payment orders of candidates in scope, with totals per status."""
    sitting = sel.office_sitting_get(request.user, label)
    now = clock.now()
    form = OrderFilterForm(request.GET or None)
    valid = not form.is_bound or form.is_valid()
    page = summary = None
    rows: list[dict] = []
    if valid:
        flt = form.to_filter()
        summary = sel.orders_summary(request.user, sitting, flt, at=now)
        page = Paginator(sel.orders_for_staff(request.user, sitting, flt, at=now), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        rows = [_order_row(o, now) for o in page.object_list]
    return render(
        request,
        "office/entries/payments_sitting.html",
        {
            "sitting": sitting,
            "form": form,
            "page": page,
            "rows": rows,
            "summary": summary,
            "query": _query(request.GET, "page"),
            "filters": [(k, v) for k, v in request.GET.items() if k != "page"],
        },
        status=200 if valid else 400,
    )


ORDER_HEADER = (
    gettext_lazy("订单号"),
    gettext_lazy("准考证号"),
    gettext_lazy("姓名"),
    gettext_lazy("状态"),
    gettext_lazy("金额(元)"),
    gettext_lazy("已退款(元)"),
    gettext_lazy("支付渠道"),
    gettext_lazy("渠道交易号"),
    gettext_lazy("创建时间"),
    gettext_lazy("支付时间"),
    gettext_lazy("支付截止"),
)


def _order_export_rows(orders, at):
    for o in orders:
        yield [
            o.order_no,
            o.candidate.candidate_no,
            mask_name(o.candidate.name),
            str(sel.ORDER_STATE_LABELS[sel.order_state(o, at)]),
            sel.yuan(o.amount_fen),
            sel.yuan(o.refunded_fen),
            o.provider,
            o.provider_trade_no,
            _local(o.created_at),
            _local(o.paid_at),
            _local(o.expires_at),
        ]


@office_view(Perm.ENTRIES_VIEW)
@require_POST
def entries_payments_export(request: HttpRequest, label: str, fmt: str) -> HttpResponseBase:
    """The filtered orders as CSV or XLSX (names masked), streamed; recorded as
    `payments.exported`."""
    sitting = sel.office_sitting_get(request.user, label)
    form = OrderFilterForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("筛选条件有误，未导出。"))
        return redirect("office:entries_payments", label=sitting.label)
    now = clock.now()
    orders = sel.orders_export_start(
        actor=staff_actor(request), sitting=sitting, flt=form.to_filter(), fmt=fmt, at=now
    )
    rows = _order_export_rows(orders, now)
    return _export_response(f"payments-{sitting.label}", fmt, now, _("缴费订单"), ORDER_HEADER, rows)


@office_view(Perm.ENTRIES_VIEW)
@require_safe
def entries_payment_order(request: HttpRequest, order_no: str) -> HttpResponse:
    """One order: its entries, the provider's notifications as received (what they said and
    what we did, never the raw message) and its refunds. Refunds happen when a paid entry is
    cancelled; there is no separate refund action."""
    order = sel.order_for_staff(request.user, order_no)
    now = clock.now()
    entries = [
        {
            "entry": e,
            "slot": _slot_text(e.slot),
            "fee": sel.yuan(e.fee_fen),
            "state": sel.entry_state_text(e, now),
        }
        for e in sel.order_entries(order)
    ]
    notifications = [
        {
            "n": n,
            "kind": str(sel.NOTIFICATION_KIND_LABELS.get(n.kind, n.kind)),
            "outcome": str(sel.NOTIFICATION_OUTCOME_LABELS.get(n.outcome, n.outcome)),
        }
        for n in sel.order_notifications(order)
    ]
    refunds = [{"r": r, "amount": sel.yuan(r.amount_fen)} for r in sel.order_refunds(order)]
    response = render(
        request,
        "office/entries/payments_order.html",
        {
            "row": _order_row(order, now),
            "order": order,
            "entries": entries,
            "notifications": notifications,
            "refunds": refunds,
        },
    )
    response["Cache-Control"] = "no-store"
    return response
