"""/api/me/entries/…: entering courses for a sitting (报考) from the mobile app.

Same reads (`entries.selectors`) and services (`entries.services`) as the portal pages, so the
same rules and the same error codes. Errors are `{code, message, fields}`; a refusal's
`fields` holds its `field`, `course`, details (e.g. `areas` with free seats for
ENTRY_AREA_FULL) and `refusals`, every refusal of the request.

Status codes, consistently:

* 200 read, or a create/change replayed under an idempotency key already used for the same
  request; 201 entries created;
* 401 NOT_AUTHENTICATED / TOKEN_INVALID; 403 PASSWORD_CHANGE_REQUIRED;
* 404 NOT_FOUND: unknown sitting or one without an entry window, an entry that is missing or
  not the candidate's (the same answer);
* 409 conflicts with what exists: ENTRY_AREA_FULL, ENTRY_DUPLICATE, ENTRY_ALREADY_CANCELLED;
* 422 every other rule (ENTRY_WINDOW_CLOSED, ENTRY_SUSPENDED, ENTRY_COURSE_NOT_IN_PLAN, …,
  ENTRY_MAX_COURSES, ENTRY_SLOT_CLASH, ENTRY_AREA_MISMATCH, ENTRY_AREA_INVALID) and malformed
  input (INVALID_INPUT, ENTRY_COURSE_CODE_INVALID, ENTRY_IDEMPOTENCY_KEY_INVALID /
  _REQUIRED / _REUSED);
* 429 ENTRY_RATE_LIMITED with `Retry-After`.

Creating and changing require an `Idempotency-Key` header (1–64 visible ASCII characters, a
new one per intended request): a retry with the same key returns the first result and enters
nothing twice. Responses carry `Cache-Control: private, no-store`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Field, Header, Router, Schema
from ninja.responses import Status

from zikao.api.auth import CandidateTokenAuth
from zikao.candidates.models import Candidate
from zikao.core.audit import Actor
from zikao.core.errors import ValidationFailed
from zikao.entries import rules, selectors, services
from zikao.entries.models import Entry
from zikao.portal.auth import client_ip

router = Router(auth=CandidateTokenAuth(), tags=["entries (报考)"])

Code = Annotated[str, Field(min_length=1, max_length=10, pattern=r"^[^\x00]*$")]
Label = Annotated[str, Field(min_length=1, max_length=6, pattern=r"^\d{6}$")]
WindowState = Literal["open", "not_open", "closed"]


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict


_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut, 429: ErrorOut}


class SittingWindowOut(Schema):
    label: str
    entry_opens_at: datetime
    entry_closes_at: datetime
    state: WindowState


class RefusalOut(Schema):
    code: str
    message: str


class CourseOptionOut(Schema):
    code: str
    name: str
    kind: str
    slot: str
    slot_label: str
    starts_at: datetime | None
    ends_at: datetime | None
    entered: bool
    enterable: bool
    refusal: RefusalOut | None


class CoursesOut(Schema):
    sitting: SittingWindowOut
    max_courses: int
    fee_fen: int
    payment_hold_minutes: int
    blocked: RefusalOut | None
    courses: list[CourseOptionOut]


class SlotSeatsOut(Schema):
    slot: str
    slot_label: str
    free: int


class AreaOut(Schema):
    id: int
    name: str
    has_free_seats: bool
    seats: list[SlotSeatsOut]


class AreasOut(Schema):
    sitting: str
    selected: int | None
    areas: list[AreaOut]


class EntryOut(Schema):
    id: int
    sitting: str
    course_code: str
    course_name: str
    slot: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    area_id: int
    area_name: str
    status: Literal["pending_payment", "confirmed", "cancelled"]
    status_label: str
    fee_fen: int
    hold_expires_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str


class EntriesOut(Schema):
    entries: list[EntryOut]
    replayed: bool


class CreateIn(Schema):
    sitting: Label
    courses: list[Code] = Field(..., max_length=20)
    area: int = Field(..., ge=1, le=2**63 - 1)


class ChangeIn(Schema):
    sitting: Label
    add: list[Code] = Field(..., min_length=1, max_length=20)
    remove: list[Code] = Field(..., min_length=1, max_length=20)


class AreaIn(Schema):
    sitting: Label
    area: int = Field(..., ge=1, le=2**63 - 1)


# --- mapping ---------------------------------------------------------------------------------


def _me(request: HttpRequest) -> Candidate:
    return request.auth  # type: ignore[attr-defined]


def _actor(request: HttpRequest) -> Actor:
    return Actor.candidate(_me(request), ip=client_ip(request))


def _private(response: HttpResponse) -> None:
    response["Cache-Control"] = "private, no-store"


def _local(instant: datetime | None) -> datetime | None:
    return timezone.localtime(instant) if instant is not None else None  # +08:00, as printed


def _window(w: selectors.SittingWindow) -> dict:
    return {
        "label": w.label,
        "entry_opens_at": _local(w.opens_at),
        "entry_closes_at": _local(w.closes_at),
        "state": w.state,
    }


def _refusal(r: rules.EntryRefusal | None) -> dict | None:
    return {"code": r.code, "message": str(r.message)} if r is not None else None


def _entry(e: Entry) -> dict:
    return {
        "id": e.pk,
        "sitting": e.sitting.label,
        "course_code": e.course.code,
        "course_name": e.course.name,
        "slot": e.slot.code if e.slot else None,
        "starts_at": _local(e.slot.starts_at) if e.slot else None,
        "ends_at": _local(e.slot.ends_at) if e.slot else None,
        "area_id": e.area_id,
        "area_name": e.area.name,
        "status": e.status,
        "status_label": str(e.get_status_display()),
        "fee_fen": e.fee_fen,
        "hold_expires_at": _local(e.hold_expires_at),
        "cancelled_at": _local(e.cancelled_at),
        "cancel_reason": e.cancel_reason,
    }


def _key(value: str | None) -> str:
    if value is None or value == "":
        raise ValidationFailed(
            rules.ENTRY_IDEMPOTENCY_KEY_REQUIRED,
            _("请在 Idempotency-Key 请求头中提供幂等键。"),
            {"idempotency_key": "required"},
        )
    return value


# --- endpoints -------------------------------------------------------------------------------


@router.get("/sittings", response={200: list[SittingWindowOut], **_ERRORS}, summary="可报考的考次")
def entry_sittings(request: HttpRequest, response: HttpResponse):
    """Sittings with an entry window whose exams are still to come: open ones first (closing
    soonest), then those not open yet, then closed ones."""
    _private(response)
    return [_window(w) for w in selectors.entry_sittings()]


@router.get("/sittings/{label}/courses", response={200: CoursesOut, **_ERRORS}, summary="本考次可报考课程")
def entry_courses(request: HttpRequest, response: HttpResponse, label: str):
    """The offered courses of the candidate's plan(s) in the sitting: slot, whether already
    entered, and why each cannot be added (`refusal`, the same codes as a create would give);
    `blocked` says when nothing can be entered (window closed, suspension)."""
    _private(response)
    window = selectors.entry_sitting_get(label)
    overview = selectors.candidate_entry_overview(_me(request), window)
    return {
        "sitting": _window(window),
        "max_courses": overview.max_courses,
        "fee_fen": overview.fee_fen,
        "payment_hold_minutes": overview.hold_minutes,
        "blocked": _refusal(overview.blocked),
        "courses": [
            {
                "code": o.code,
                "name": o.name,
                "kind": o.kind,
                "slot": o.slot,
                "slot_label": o.slot_label,
                "starts_at": _local(o.starts_at),
                "ends_at": _local(o.ends_at),
                "entered": o.entry is not None,
                "enterable": o.enterable,
                "refusal": _refusal(o.refusal),
            }
            for o in overview.courses
        ],
    }


@router.get("/sittings/{label}/areas", response={200: AreasOut, **_ERRORS}, summary="考区及剩余座位")
def entry_areas(request: HttpRequest, response: HttpResponse, label: str):
    """The sitting's exam areas with free seats per slot; `selected` is the area of the current
    entries, else the candidate's county when it is an exam area."""
    _private(response)
    window = selectors.entry_sitting_get(label)
    overview = selectors.candidate_entry_overview(_me(request), window)
    return {
        "sitting": window.label,
        "selected": overview.area,
        "areas": [
            {
                "id": a.id,
                "name": a.name,
                "has_free_seats": a.has_free_seats,
                "seats": [{"slot": s.slot, "slot_label": s.slot_label, "free": s.free} for s in a.seats],
            }
            for a in overview.areas
        ],
    }


@router.get("", response={200: list[EntryOut], **_ERRORS}, summary="我的报考")
def my_entries(request: HttpRequest, response: HttpResponse, sitting: str | None = None):
    """The candidate's entries, newest sitting first (cancelled ones included, with reason);
    `?sitting=YYYYMM` for one sitting (404 if there is no such sitting)."""
    _private(response)
    chosen = None
    if sitting is not None:
        chosen = selectors.entry_sitting_get(sitting).sitting
    return [_entry(e) for e in selectors.candidate_entries(_me(request), sitting=chosen)]


@router.post("", response={200: EntriesOut, 201: EntriesOut, **_ERRORS}, summary="报考")
def create_entries(
    request: HttpRequest,
    response: HttpResponse,
    payload: CreateIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
):
    """Enter the courses in the area, all or nothing. 201 with the new (unpaid) entries; 200
    with the same entries when the Idempotency-Key was already used for this request."""
    _private(response)
    key = _key(idempotency_key)
    window = selectors.entry_sitting_get(payload.sitting)
    result = services.entries_create(
        actor=_actor(request),
        candidate=_me(request),
        sitting=window.sitting,
        course_codes=payload.courses,
        area=payload.area,
        idempotency_key=key,
    )
    body = {"entries": [_entry(e) for e in result.entries], "replayed": result.replayed}
    return Status(200 if result.replayed else 201, body)


@router.post("/change", response={200: EntriesOut, 201: EntriesOut, **_ERRORS}, summary="改报")
def change_entries(
    request: HttpRequest,
    response: HttpResponse,
    payload: ChangeIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
):
    """Give up the entered courses `remove` and enter `add`, in one step and the same area (the
    old seats are released only if the new entries succeed). 201 with the new entries."""
    _private(response)
    key = _key(idempotency_key)
    window = selectors.entry_sitting_get(payload.sitting)
    result = services.entries_change(
        actor=_actor(request),
        candidate=_me(request),
        sitting=window.sitting,
        add=payload.add,
        remove=payload.remove,
        idempotency_key=key,
    )
    body = {"entries": [_entry(e) for e in result.entries], "replayed": result.replayed}
    return Status(200 if result.replayed else 201, body)


@router.post("/area", response={200: list[EntryOut], **_ERRORS}, summary="更改考区")
def change_area(request: HttpRequest, response: HttpResponse, payload: AreaIn):
    """Move every current entry of the sitting to another exam area (seats permitting)."""
    _private(response)
    window = selectors.entry_sitting_get(payload.sitting)
    moved = services.entries_change_area(
        actor=_actor(request), candidate=_me(request), sitting=window.sitting, area=payload.area
    )
    return [_entry(e) for e in moved]


@router.post("/{entry_id}/cancel", response={200: EntryOut, **_ERRORS}, summary="取消报考")
def cancel_entry(request: HttpRequest, response: HttpResponse, entry_id: str):
    """Cancel one entry while the window is open; its seat is released (a paid entry is
    refunded). 404 for an entry that is missing or not the candidate's."""
    _private(response)
    entry = selectors.candidate_entry_get(_me(request), entry_id)
    cancelled = services.entry_cancel(actor=_actor(request), candidate=_me(request), entry=entry.pk)
    return _entry(selectors.candidate_entry_get(_me(request), cancelled.pk))
