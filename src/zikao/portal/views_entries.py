"""The entry pages of the portal (报考): choose courses and an exam area, see my entries, swap a
course, move to another area, cancel.

Thin: reads go through `entries.selectors`, writes through `entries.services` (which decide
every rule and count the seats); a refusal is shown next to the course or field it concerns,
with the rule's message. Each rendered entry form carries a fresh idempotency key, so a double
submit enters once. An entry id that is not the candidate's gets exactly the page a missing
one gets (404).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from zikao.accounts.models import Office
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, NotFound
from zikao.entries import selectors, services
from zikao.entries.models import Entry
from zikao.entries.rules import ENTRY_AREA_FULL
from zikao.portal.auth import candidate_required, client_ip
from zikao.portal.forms_entries import EntryAreaForm, EntryChangeForm, EntryCreateForm


def _yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def _actor(request: HttpRequest) -> Actor:
    return Actor.candidate(request.candidate, ip=client_ip(request))  # type: ignore[attr-defined]


def _entries_url(label: str | None = None) -> str:
    url = reverse("portal:entries")
    return f"{url}?{urlencode({'sitting': label})}" if label else url


def _shown(code: str, message: Any, details: Any) -> str:
    """The refusal's message as this page words it. A full area: the page lists the areas that
    still have seats itself (by city, the far ones folded), so the message does not repeat
    every name."""
    if code == ENTRY_AREA_FULL and isinstance(details, dict) and details.get("slot"):
        return _("所选考区%(slot)s的座位已满，请改选下列仍有空位的考区。") % {
            "slot": selectors.slot_label(str(details["slot"]))
        }
    return str(message)


def _errors(error: DomainError) -> dict[str, Any]:
    """A refusal as the page shows it: by course, for the area, for the change form, general."""
    refusals = getattr(error, "refusals", None)
    items = (
        [
            {
                "code": r.code,
                "message": _shown(r.code, r.message, r.details),
                "field": r.field,
                "course": r.course,
            }
            for r in refusals
        ]
        if refusals
        else [
            {
                "code": error.code,
                "message": _shown(error.code, error.message, error.fields),
                "field": str(error.fields.get("field", "")) if isinstance(error.fields, dict) else "",
                "course": "",
            }
        ]
    )
    by_course: dict[str, list[str]] = {}
    area: list[str] = []
    change: list[str] = []
    general: list[str] = []
    for item in items:
        if item["course"] and item["field"] in ("courses", ""):
            by_course.setdefault(item["course"], []).append(item["message"])
        elif item["field"] == "area":
            area.append(item["message"])
        elif item["field"] == "remove":
            change.append(item["message"])
        else:
            general.append(item["message"])
    alternatives = error.fields.get("areas", []) if isinstance(error.fields, dict) else []
    return {
        "all": items,
        "courses": by_course,
        "area": area,
        "change": change,
        "general": general,
        "alternatives": alternatives,
    }


@dataclass(frozen=True)
class AreaRow:
    """One exam area as the candidate reads it: the county's own name under its city, with the
    free seats per slot (`option`, from the selector)."""

    option: selectors.AreaOption
    name: str  # "玄武区"
    label: str  # "南京市 玄武区"
    city_id: int | None
    city: str  # "南京市"
    order: str  # region code
    current: bool

    @property
    def id(self) -> int:
        return self.option.id


def _area_rows(candidate, overview: selectors.EntryOverview) -> dict[str, Any]:
    """The sitting's exam areas arranged for a person, not a list of 95 offices: the current
    area and the other areas of the candidate's own city first (the table everyone reads); the
    other cities' areas that still have free seats grouped by city (folded); every area in the
    area choice, grouped by city with the near city first."""
    ids = [a.id for a in overview.areas]
    offices = {
        o.pk: o
        for o in Office.objects.filter(pk__in=[*ids, candidate.county_office_id]).select_related("parent")
    }
    rows: dict[int, AreaRow] = {}
    for option in overview.areas:
        office = offices.get(option.id)
        city = office.parent if office is not None and office.level == Office.Level.COUNTY else None
        rows[option.id] = AreaRow(
            option=option,
            name=office.area_name if office else option.name,
            label=office.area_label if office else option.name,
            city_id=city.pk if city else None,
            city=city.area_name if city else "",
            order=office.region_code if office else "",
            current=option.id == overview.area,
        )
    home = offices.get(candidate.county_office_id)
    near_cities = [
        c
        for c in dict.fromkeys(
            [
                rows[overview.area].city_id if overview.area in rows else None,
                home.parent_id if home is not None and home.level == Office.Level.COUNTY else None,
            ]
        )
        if c is not None
    ]
    ordered = sorted(rows.values(), key=lambda r: (r.order, r.id))
    near = sorted(
        (r for r in ordered if r.city_id in near_cities or r.current),
        key=lambda r: (not r.current, r.order, r.id),
    )
    cities: dict[int | None, dict[str, Any]] = {}
    for row in ordered:
        group = cities.setdefault(row.city_id, {"city": row.city or row.label, "rows": []})
        group["rows"].append(row)
    choice_groups = [cities[c] for c in near_cities if c in cities] + [
        g for c, g in cities.items() if c not in near_cities
    ]
    others = [
        {"city": g["city"], "rows": free}
        for c, g in cities.items()
        if c not in near_cities
        and (free := [r for r in g["rows"] if r.option.has_free_seats and not r.current])
    ]
    near_names = [cities[c]["city"] for c in near_cities if c in cities]
    return {
        "by_id": rows,
        "near": near,
        "near_city": "、".join(near_names),
        "others": others,
        "others_count": sum(len(g["rows"]) for g in others),
        "choice_groups": choice_groups,
    }


def _alternatives(errors: dict[str, Any], areas: dict[str, Any]) -> dict[str, Any]:
    """The areas a full area's refusal offers, by place name: those of the near city first (shown),
    the others (folded) — both in the refusal's order (most free seats first)."""
    near_ids = {r.id for r in areas["near"]}
    near, other = [], []
    for alt in errors.get("alternatives") or []:
        row = areas["by_id"].get(alt.get("id"))
        item = {
            "id": alt.get("id"),
            "label": row.label if row else alt.get("name", ""),
            "free": alt.get("free"),
        }
        (near if alt.get("id") in near_ids else other).append(item)
    return {"near": near, "other": other}


def _simple_errors(where: str, texts: list[str]) -> dict[str, Any]:
    """Errors of the form itself (nothing reached the domain), shown at `where`."""
    items = [{"code": "INVALID_INPUT", "message": t, "field": where, "course": ""} for t in texts]
    errors: dict[str, Any] = {
        "all": items,
        "courses": {},
        "area": [],
        "change": [],
        "general": [],
        "alternatives": [],
    }
    errors[where if where in ("area", "change") else "general"] = list(texts)
    return errors


def _render_page(
    request: HttpRequest,
    window: selectors.SittingWindow | None,
    *,
    errors: dict[str, Any] | None = None,
    errors_for: str = "",
    chosen: list[str] | None = None,
    chosen_area: str | None = None,
    status: int = 200,
) -> HttpResponse:
    candidate = request.candidate  # type: ignore[attr-defined]
    sittings = selectors.entry_sittings()
    context: dict[str, Any] = {
        "sittings": sittings,
        "window": window,
        "errors": errors or {},
        "errors_for": errors_for,
        "idempotency_key": secrets.token_urlsafe(24),
        "change_key": secrets.token_urlsafe(24),
    }
    if window is not None:
        overview = selectors.candidate_entry_overview(candidate, window)
        selected = set(chosen or [])
        areas = _area_rows(candidate, overview)
        labels = {pk: row.label for pk, row in areas["by_id"].items()}
        context.update(
            {
                "overview": overview,
                "fee_yuan": _yuan(overview.fee_fen),
                "course_rows": [
                    {
                        "option": option,
                        "checked": option.code in selected,
                        "errors": (errors or {}).get("courses", {}).get(option.code, []),
                    }
                    for option in overview.courses
                ],
                "entry_rows": [
                    {
                        "entry": e,
                        "area_label": labels.get(e.area_id) or e.area.area_label,
                        "fee_yuan": _yuan(e.fee_fen),
                        "pending": e.status == Entry.Status.PENDING_PAYMENT,
                    }
                    for e in overview.entries
                ],
                "areas": areas,
                "alternatives": _alternatives(errors or {}, areas),
                "chosen_area": str(chosen_area if chosen_area is not None else (overview.area or "")),
                "enterable": [o for o in overview.courses if o.enterable],
                "can_write": overview.blocked is None,
                "history": [
                    e
                    for e in selectors.candidate_entries(candidate, sitting=window.sitting)
                    if e.status == Entry.Status.CANCELLED
                ],
            }
        )
    response = render(request, "portal/entries/index.html", context, status=status)
    response["Cache-Control"] = "private, no-store"
    return response


def _not_found(request: HttpRequest) -> HttpResponse:
    error = NotFound()
    response = render(
        request, "portal/entries/not_found.html", {"code": error.code, "message": error.message}, status=404
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _window_of(label: str | None) -> selectors.SittingWindow | None:
    """The chosen sitting (NotFound for an unknown label), or the default one when none is chosen."""
    if label:
        return selectors.entry_sitting_get(label)
    return selectors.entry_sitting_default()


@require_http_methods(["GET", "POST"])
@candidate_required
def entries(request: HttpRequest) -> HttpResponse:
    """报考: GET shows the sitting (?sitting=YYYYMM, default the open one); POST enters the
    chosen courses in the chosen area (all or nothing) and comes back here."""
    candidate = request.candidate  # type: ignore[attr-defined]
    if request.method == "GET":
        try:
            window = _window_of(request.GET.get("sitting"))
        except NotFound:
            return _not_found(request)
        return _render_page(request, window)

    form = EntryCreateForm(request.POST)
    if not form.is_valid():
        try:
            window = _window_of(request.POST.get("sitting"))
        except NotFound:
            return _not_found(request)
        texts = [str(e) for errs in form.errors.values() for e in errs]
        return _render_page(
            request, window, errors=_simple_errors("general", texts), errors_for="create", status=422
        )
    data = form.cleaned_data
    try:
        window = selectors.entry_sitting_get(data["sitting"])
    except NotFound:
        return _not_found(request)
    try:
        result = services.entries_create(
            actor=_actor(request),
            candidate=candidate,
            sitting=window.sitting,
            course_codes=data["courses"],
            area=data["area"] or None,
            idempotency_key=data["idempotency_key"] or None,
        )
    except NotFound:
        return _not_found(request)
    except DomainError as error:
        return _render_page(
            request,
            window,
            errors=_errors(error),
            errors_for="create",
            chosen=data["courses"],
            chosen_area=data["area"],
            status=error.status,
        )
    created = result.entries
    if created and created[0].status == Entry.Status.PENDING_PAYMENT and created[0].hold_expires_at:
        deadline = timezone.localtime(created[0].hold_expires_at).strftime("%Y-%m-%d %H:%M")
        messages.success(
            request,
            _("已报考 %(count)s 门课程。请在 %(deadline)s 前缴费，逾期未缴费的报考将被取消，座位释放。")
            % {"count": len(created), "deadline": deadline},
        )
    else:
        messages.success(request, _("已报考 %(count)s 门课程。") % {"count": len(created)})
    return HttpResponseRedirect(_entries_url(window.label))


@require_POST
@candidate_required
def entries_area(request: HttpRequest) -> HttpResponse:
    """Move every current entry of the sitting to another exam area."""
    candidate = request.candidate  # type: ignore[attr-defined]
    form = EntryAreaForm(request.POST)
    label = request.POST.get("sitting", "")
    try:
        window = selectors.entry_sitting_get(label)
    except NotFound:
        return _not_found(request)
    if not form.is_valid():
        return _render_page(
            request, window, errors=_simple_errors("area", [_("请选择考区。")]), errors_for="area", status=422
        )
    try:
        services.entries_change_area(
            actor=_actor(request),
            candidate=candidate,
            sitting=window.sitting,
            area=form.cleaned_data["area"] or None,
        )
    except DomainError as error:
        return _render_page(request, window, errors=_errors(error), errors_for="area", status=error.status)
    messages.success(request, _("考区已更改。"))
    return HttpResponseRedirect(_entries_url(window.label))


@require_POST
@candidate_required
def entries_change(request: HttpRequest) -> HttpResponse:
    """改报: give up one entered course and enter another in its place, in one step."""
    candidate = request.candidate  # type: ignore[attr-defined]
    form = EntryChangeForm(request.POST)
    label = request.POST.get("sitting", "")
    try:
        window = selectors.entry_sitting_get(label)
    except NotFound:
        return _not_found(request)
    if not form.is_valid():
        return _render_page(
            request,
            window,
            errors=_simple_errors("change", [_("请选择课程。")]),
            errors_for="change",
            status=422,
        )
    data = form.cleaned_data
    try:
        services.entries_change(
            actor=_actor(request),
            candidate=candidate,
            sitting=window.sitting,
            add=[data["add"]] if data["add"] else [],
            remove=[data["remove"]] if data["remove"] else [],
            idempotency_key=data["idempotency_key"] or None,
        )
    except DomainError as error:
        errors = _errors(error)
        # On the change form every message belongs next to it.
        errors["change"] = [item["message"] for item in errors["all"]]
        errors["courses"], errors["area"], errors["general"] = {}, [], []
        return _render_page(request, window, errors=errors, errors_for="change", status=error.status)
    messages.success(request, _("改报成功，新报考的课程须按时缴费。"))
    return HttpResponseRedirect(_entries_url(window.label))


@require_http_methods(["GET", "POST"])
@candidate_required
def entry_cancel(request: HttpRequest, entry_id: str) -> HttpResponse:
    """取消报考: GET asks for confirmation, POST cancels (seat given back; a paid entry is refunded)."""
    candidate = request.candidate  # type: ignore[attr-defined]
    try:
        entry = selectors.candidate_entry_get(candidate, entry_id)
    except NotFound:
        return _not_found(request)
    error: DomainError | None = None
    if request.method == "POST":
        try:
            services.entry_cancel(actor=_actor(request), candidate=candidate, entry=entry.pk)
        except NotFound:
            return _not_found(request)
        except DomainError as exc:
            error = exc
        else:
            messages.success(
                request,
                _("已取消报考课程 %(course)s。") % {"course": f"{entry.course.code} {entry.course.name}"},
            )
            return HttpResponseRedirect(_entries_url(entry.sitting.label))
    context = {
        "entry": entry,
        "fee_yuan": _yuan(entry.fee_fen),
        "paid": entry.status == Entry.Status.CONFIRMED and entry.fee_fen > 0,
        "error": error,
        "back": _entries_url(entry.sitting.label),
    }
    response = render(request, "portal/entries/cancel.html", context, status=error.status if error else 200)
    response["Cache-Control"] = "private, no-store"
    return response
