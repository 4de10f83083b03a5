"""Office pages for exam centres, rooms, seat allocation, room lists and the ticket door check,
under /office/entries/.

Thin: `entries.venues` / `entries.allocation` / `entries.tickets` read (scoped) and write
(permission, scope, rules). Centres, rooms, allocation and room lists need ENTRIES_MANAGE (city
level and above, own subtree); the door check needs RECORDS_VIEW (any office) and is rate-limited.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from zikao.accounts.models import Office
from zikao.accounts.permissions import Perm, require_candidate_in_scope
from zikao.candidates.models import Candidate
from zikao.candidates.photos import data_uri
from zikao.catalog.models import Sitting, Slot
from zikao.core.errors import DomainError, NotFound
from zikao.core.ratelimit import Limit, RateLimited, hit
from zikao.entries import allocation, tickets, venues
from zikao.entries.models import ROOM_MAX_SEATS, AdmissionTicket
from zikao.entries.pdf import room_list_pdf
from zikao.entries.selectors import slot_label
from zikao.office.access import office_view, staff_actor

CHECK_PER_USER = Limit("ticket_check_user", 120, 60)
CHECK_PER_IP = Limit("ticket_check_ip", 300, 60)


# --- forms ------------------------------------------------------------------------------------


class CentreForm(forms.Form):
    area: forms.ModelChoiceField = forms.ModelChoiceField(queryset=None, label=gettext_lazy("考区"))
    code = forms.CharField(max_length=8, label=gettext_lazy("考点代码"))
    name = forms.CharField(max_length=100, label=gettext_lazy("考点名称"))
    address = forms.CharField(max_length=200, label=gettext_lazy("地址"))
    active = forms.BooleanField(required=False, initial=True, label=gettext_lazy("启用"))

    def __init__(self, *args, user=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = venues.areas_for_staff(user)  # type: ignore[attr-defined]
        if editing:
            del self.fields["area"]
        else:
            del self.fields["active"]


class RoomForm(forms.Form):
    number = forms.CharField(max_length=8, label=gettext_lazy("考场号"))
    seats = forms.IntegerField(
        min_value=1, max_value=ROOM_MAX_SEATS, initial=30, label=gettext_lazy("座位数")
    )
    active = forms.BooleanField(required=False, initial=True, label=gettext_lazy("启用"))


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=200, label=gettext_lazy("原因"))


def _form_error(form: forms.Form, exc: DomainError) -> None:
    text = f"{exc.message}（{exc.code}）"
    for key in exc.fields:
        if key in form.fields:
            form.add_error(key, text)
            return
    form.add_error(None, text)


def _sitting(label: str) -> Sitting:
    sitting = Sitting.objects.filter(label=label).first()
    if sitting is None:
        raise NotFound()
    return sitting


# --- centres and rooms ------------------------------------------------------------------------


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD"])
def entries_centres(request: HttpRequest) -> HttpResponse:
    """Centres of the areas in scope, optionally one area (?area=id)."""
    areas = venues.areas_for_staff(request.user)
    area = None
    if request.GET.get("area"):
        area = areas.filter(pk=request.GET["area"]).first() if request.GET["area"].isdigit() else None
        if area is None:
            raise NotFound()
    centres = venues.centres_for_staff(request.user, area=area)
    return render(request, "office/entries/centres.html", {"areas": areas, "area": area, "centres": centres})


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD", "POST"])
def entries_centre_create(request: HttpRequest) -> HttpResponse:
    form = CentreForm(request.POST or None, user=request.user, initial={"area": request.GET.get("area")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            centre = venues.centre_create(
                actor=staff_actor(request),
                area=data["area"],
                code=data["code"],
                name=data["name"],
                address=data["address"],
            )
        except NotFound:
            raise
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("考点已添加。"))
            return redirect("office:entries_centre", pk=centre.pk)
    return render(request, "office/entries/centre_form.html", {"form": form, "centre": None})


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD", "POST"])
def entries_centre(request: HttpRequest, pk: int) -> HttpResponse:
    """A centre and its rooms; POST adds a room."""
    centre = venues.centre_for_staff(request.user, pk)
    form = RoomForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            venues.room_create(
                actor=staff_actor(request),
                centre=centre,
                number=form.cleaned_data["number"],
                seats=form.cleaned_data["seats"],
            )
        except NotFound:
            raise
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("考场已添加。"))
            return redirect("office:entries_centre", pk=centre.pk)
    rooms = venues.rooms_of(centre)
    return render(
        request,
        "office/entries/centre.html",
        {
            "centre": centre,
            "rooms": rooms,
            "form": form,
            "seat_total": sum(r.seats for r in rooms if r.active),
        },
        status=422 if request.method == "POST" else 200,
    )


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD", "POST"])
def entries_centre_edit(request: HttpRequest, pk: int) -> HttpResponse:
    centre = venues.centre_for_staff(request.user, pk)
    initial = {"code": centre.code, "name": centre.name, "address": centre.address, "active": centre.active}
    form = CentreForm(request.POST or None, user=request.user, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            venues.centre_update(
                actor=staff_actor(request),
                centre=centre,
                code=data["code"],
                name=data["name"],
                address=data["address"],
                active=data["active"],
            )
        except NotFound:
            raise
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("考点已保存。"))
            return redirect("office:entries_centre", pk=centre.pk)
    return render(request, "office/entries/centre_form.html", {"form": form, "centre": centre})


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD", "POST"])
def entries_room_edit(request: HttpRequest, pk: int) -> HttpResponse:
    room = venues.room_for_staff(request.user, pk)
    initial = {"number": room.number, "seats": room.seats, "active": room.active}
    form = RoomForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            venues.room_update(
                actor=staff_actor(request),
                room=room,
                number=data["number"],
                seats=data["seats"],
                active=data["active"],
            )
        except NotFound:
            raise
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("考场已保存。"))
            return redirect("office:entries_centre", pk=room.centre_id)
    return render(request, "office/entries/room_form.html", {"form": form, "room": room})


# --- allocation -------------------------------------------------------------------------------


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD"])
def entries_allocation(request: HttpRequest) -> HttpResponse:
    """Sittings with an entry window, newest first: each links to its allocation page."""
    sittings = Sitting.objects.filter(entry_closes_at__isnull=False).order_by("-label")[:20]
    return render(request, "office/entries/allocation.html", {"sittings": sittings})


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD"])
def entries_allocation_sitting(request: HttpRequest, label: str) -> HttpResponse:
    sitting = _sitting(label)
    return render(
        request,
        "office/entries/allocation_sitting.html",
        {
            "sitting": sitting,
            "runs": allocation.runs_for_staff(request.user, sitting)[:20],
            "centres": venues.centres_for_staff(request.user).select_related("area__parent"),
        },
    )


@office_view(Perm.ENTRIES_MANAGE)
@require_POST
def entries_allocation_run(request: HttpRequest, label: str) -> HttpResponse:
    sitting = _sitting(label)
    try:
        run = allocation.allocation_run(actor=staff_actor(request), sitting=sitting)
    except NotFound:
        raise
    except DomainError as exc:
        if exc.status == 403:
            raise
        messages.error(request, f"{exc.message}（{exc.code}）")
        return redirect("office:entries_allocation_sitting", label=sitting.label)
    messages.success(request, _("考场编排已完成。"))
    return redirect("office:entries_allocation_report", pk=run.pk)


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD"])
def entries_allocation_report(request: HttpRequest, pk: int) -> HttpResponse:
    run, report = allocation.run_for_staff(request.user, pk)
    return render(
        request,
        "office/entries/allocation_report.html",
        {"run": run, "report": _report_for_people(run.sitting, report)},
    )


def _slot_texts(sitting: Sitting) -> dict[str, tuple[str, str]]:
    """slot code → (label, "01-09 14:30–17:00"): the stored report keeps codes only."""
    texts = {}
    for slot in Slot.objects.filter(sitting=sitting).order_by("starts_at"):
        starts, ends = timezone.localtime(slot.starts_at), timezone.localtime(slot.ends_at)
        texts[slot.code] = (slot_label(slot.code), f"{starts:%m-%d %H:%M}–{ends:%H:%M}")
    return texts


def _report_for_people(sitting: Sitting, report: dict) -> dict:
    """The stored report as staff read it: areas by their place name ("南京市 玄武区"), slots by
    their label and time instead of codes (SAT_PM), in time order. The stored JSON is unchanged."""
    slots = _slot_texts(sitting)
    order = {code: i for i, code in enumerate(slots)}
    area_ids = {a["area"] for a in report.get("areas", [])} | {u["area"] for u in report.get("unplaced", [])}
    labels = {o.pk: o.area_label for o in Office.objects.filter(pk__in=area_ids).select_related("parent")}

    def slot_rows(by_slot: dict[str, int]) -> list[dict]:
        rows = []
        for code in sorted(by_slot, key=lambda c: (order.get(c, len(order)), c)):
            label, when = slots.get(code, (slot_label(code), ""))
            rows.append({"code": code, "label": label, "when": when, "count": by_slot[code]})
        return rows

    areas = []
    for area in report.get("areas", []):
        centres = [
            {**c, "rooms": [{**r, "slots": slot_rows(r.get("by_slot", {}))} for r in c.get("rooms", [])]}
            for c in area.get("centres", [])
        ]
        areas.append(
            {**area, "label": labels.get(area["area"], area.get("area_name", "")), "centres": centres}
        )
    unplaced = []
    for row in report.get("unplaced", []):
        label, when = slots.get(
            row.get("slot") or "", (slot_label(row["slot"]) if row.get("slot") else "", "")
        )
        unplaced.append(
            {
                **row,
                "label": labels.get(row["area"], row.get("area_name", "")),
                "slot_label": label,
                "slot_when": when,
            }
        )
    return {**report, "areas": areas, "unplaced": unplaced}


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD"])
def entries_room_list_pdf(request: HttpRequest, label: str, pk: int) -> HttpResponse:
    """考场座次表 of one centre for one sitting (a page per room and slot)."""
    sitting = _sitting(label)
    centre = venues.centre_for_staff(request.user, pk)
    body = room_list_pdf(allocation.room_sheets(request.user, sitting, centre))
    response = HttpResponse(body, content_type="application/pdf")
    filename = f"rooms-{sitting.label}-{centre.area.exam_code}-{centre.code}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- tickets ----------------------------------------------------------------------------------


@office_view(Perm.ENTRIES_MANAGE)
@require_http_methods(["GET", "HEAD"])
def entries_tickets(request: HttpRequest) -> HttpResponse:
    """A candidate's tickets (by candidate number, in scope) with revoke / re-issue forms."""
    number = (request.GET.get("candidate_no") or "").strip()
    rows: list[AdmissionTicket] = []
    candidate = None
    if number:
        candidate = Candidate.objects.filter(candidate_no=number).select_related("county_office").first()
        try:
            require_candidate_in_scope(request.user, candidate)
        except NotFound:
            candidate = None
        if candidate is not None:
            rows = list(AdmissionTicket.objects.filter(candidate=candidate).select_related("sitting"))
    return render(
        request,
        "office/entries/tickets.html",
        {"number": number, "candidate": candidate, "tickets": rows, "form": ReasonForm()},
    )


def _ticket_action(request: HttpRequest, pk: int, service) -> HttpResponse:
    ticket = tickets.ticket_for_staff(request.user, pk)
    form = ReasonForm(request.POST)
    back = reverse("office:entries_tickets") + f"?candidate_no={ticket.candidate.candidate_no}"
    if not form.is_valid():
        messages.error(request, _("请填写原因(不超过200字)。"))
        return redirect(back)
    try:
        service(actor=staff_actor(request), ticket=ticket, reason=form.cleaned_data["reason"])
    except NotFound:
        raise
    except DomainError as exc:
        if exc.status == 403:
            raise
        messages.error(request, f"{exc.message}（{exc.code}）")
        return redirect(back)
    messages.success(request, _("已处理。"))
    return redirect(back)


@office_view(Perm.ENTRIES_MANAGE)
@require_POST
def entries_ticket_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    return _ticket_action(request, pk, tickets.ticket_revoke)


@office_view(Perm.ENTRIES_MANAGE)
@require_POST
def entries_ticket_reissue(request: HttpRequest, pk: int) -> HttpResponse:
    return _ticket_action(request, pk, tickets.ticket_reissue)


@office_view(Perm.RECORDS_VIEW)
@require_http_methods(["GET", "HEAD"])
def entries_check_form(request: HttpRequest) -> HttpResponse:
    """Type the code printed on a ticket (when the QR cannot be scanned)."""
    code = (request.GET.get("code") or "").strip()
    if code:
        return redirect("office:entries_check", code=code[:40])
    return render(request, "office/entries/check_form.html")


@office_view(Perm.RECORDS_VIEW)
@require_http_methods(["GET", "HEAD"])
def entries_check(request: HttpRequest, code: str) -> HttpResponse:
    """The door check of a ticket code: VALID / REVOKED / SUPERSEDED / UNKNOWN, with the photo of
    a valid ticket's candidate when the staff user's scope covers them (`tickets.photo_in_scope`)."""
    try:
        hit(CHECK_PER_USER, str(request.user.pk))
        hit(CHECK_PER_IP, request.META.get("REMOTE_ADDR") or "-")
    except RateLimited as exc:
        response = render(
            request, "office/entries/check_limited.html", {"retry_after": exc.retry_after}, status=429
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    result = tickets.ticket_check(actor=staff_actor(request), code=code)
    # The photo is embedded in this private, uncached page: one rate-limited, audited request,
    # and no image URL that could answer for a guessed code.
    context = {"result": result, "photo_src": data_uri(result.photo)}
    response = render(request, "office/entries/check.html", context)
    response["Cache-Control"] = "private, no-store"
    return response
