"""Admission tickets (准考证): issuing, re-issuing, revoking, and the check at the door.

A ticket is one candidate's for one sitting; its `code` (printed and in the QR code) is random
(`core.codes.random_code`, ~55 bits, no look-alike characters), never derived from personal
data. At most one ticket per candidate and sitting is valid. Re-issuing revokes the old one and
links it to the new (`superseded_by`), so the door check of an old printout says SUPERSEDED; a
revoked ticket says REVOKED; any unknown or malformed code says UNKNOWN (the same answer).

The ticket carries the candidate's record photo (`candidates.photos`); without one the photo
frame stays empty and an extra rule tells the candidate to bring the ID document. The door check
shows the photo only to staff whose scope covers the candidate's county office or a centre where
the candidate sits (the check itself is open to any office).

Error codes: TICKET_NOT_OPEN, TICKET_NO_SEATS, TICKET_REVOKED, TICKET_ALREADY_REVOKED,
TICKET_REASON_REQUIRED, plus PERMISSION_DENIED / NOT_FOUND.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zikao.accounts.permissions import (
    Perm,
    office_in_scope,
    office_scope_q,
    require_candidate_in_scope,
    require_perm,
)
from zikao.candidates.models import Candidate
from zikao.candidates.photos import candidate_photo_print
from zikao.catalog.models import Sitting
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.codes import UNAMBIGUOUS_ALPHABET, random_code
from zikao.core.errors import DomainError, NotFound, ValidationFailed
from zikao.core.masking import mask_id_number
from zikao.entries.models import AdmissionTicket, Entry, EntrySettings, SeatAssignment

TICKET_NOT_OPEN = "TICKET_NOT_OPEN"
TICKET_NO_SEATS = "TICKET_NO_SEATS"
TICKET_REVOKED = "TICKET_REVOKED"
TICKET_ALREADY_REVOKED = "TICKET_ALREADY_REVOKED"
TICKET_REASON_REQUIRED = "TICKET_REASON_REQUIRED"

CODE_LENGTH = 12
_CODE_RE = re.compile(f"^[{UNAMBIGUOUS_ALPHABET}]{{{CODE_LENGTH}}}$")

VALID = "VALID"
REVOKED = "REVOKED"
SUPERSEDED = "SUPERSEDED"
UNKNOWN = "UNKNOWN"

EXAM_RULES = (
    _("考生凭本准考证和有效身份证件原件进入考场，二者缺一不可。"),
    _("开考前30分钟进入考场，开考15分钟后不得入场，开考后60分钟内不得交卷离场。"),
    _("按座位号就座，将准考证和身份证件放在桌面左上角，以备核查。"),
    _("除规定文具外，不得携带手机、智能手表等任何电子设备及书籍、资料进入座位。"),
    _("严格遵守考场纪律，服从监考人员管理；违纪作弊者按《国家教育考试违规处理办法》处理。"),
    _("本准考证仅限本人本考次使用，请妥善保管，不得涂改。"),
)

# Printed only when the record has no photo: the door staff then rely on the ID document alone.
NO_PHOTO_RULE = _("本准考证未附照片，考生须持本人有效身份证件原件，经考场工作人员人证核验一致后方可入场。")


class TicketRefused(DomainError):
    status = 409


# --- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatLine:
    """One course of a ticket: when and where."""

    course_code: str
    course_name: str
    slot_code: str
    starts_at: datetime
    ends_at: datetime
    centre_code: str
    centre_name: str
    centre_address: str
    room: str
    seat_no: int


def seats_of(candidate: Candidate, sitting: Sitting) -> list[SeatLine]:
    """The candidate's placed, confirmed entries of the sitting, in time order."""
    rows = (
        SeatAssignment.objects.filter(
            entry__candidate=candidate, entry__sitting=sitting, entry__status=Entry.Status.CONFIRMED
        )
        .select_related("entry__course", "slot", "room__centre")
        .order_by("slot__starts_at", "entry__course__code")
    )
    return [
        SeatLine(
            course_code=a.entry.course.code,
            course_name=a.entry.course.name,
            slot_code=a.slot.code,
            starts_at=a.slot.starts_at,
            ends_at=a.slot.ends_at,
            centre_code=a.room.centre.code,
            centre_name=a.room.centre.name,
            centre_address=a.room.centre.address,
            room=a.room.number,
            seat_no=a.seat_no,
        )
        for a in rows
    ]


def tickets_open_at(sitting: Sitting) -> datetime | None:
    found = EntrySettings.objects.filter(sitting=sitting).values_list("tickets_open_at", flat=True).first()
    return found


def current_ticket(candidate: Candidate, sitting: Sitting) -> AdmissionTicket | None:
    """The candidate's latest ticket of the sitting (valid, or revoked and not replaced)."""
    return AdmissionTicket.objects.filter(
        candidate=candidate, sitting=sitting, superseded_by__isnull=True
    ).first()


@dataclass(frozen=True)
class TicketSitting:
    """A sitting on the candidate's ticket page."""

    sitting: Sitting
    opens_at: datetime | None
    is_open: bool
    revoked: bool
    seats: list[SeatLine]


def ticket_sittings(candidate: Candidate) -> list[TicketSitting]:
    """Sittings in which the candidate has seats, newest first, with whether printing is open."""
    now = clock.now()
    sitting_ids = (
        SeatAssignment.objects.filter(entry__candidate=candidate, entry__status=Entry.Status.CONFIRMED)
        .values_list("entry__sitting_id", flat=True)
        .distinct()
    )
    result = []
    for sitting in Sitting.objects.filter(pk__in=list(sitting_ids)).order_by("-label"):
        opens = tickets_open_at(sitting)
        latest = current_ticket(candidate, sitting)
        result.append(
            TicketSitting(
                sitting=sitting,
                opens_at=opens,
                is_open=opens is not None and now >= opens,
                revoked=latest is not None and latest.revoked_at is not None,
                seats=seats_of(candidate, sitting),
            )
        )
    return result


@dataclass(frozen=True)
class TicketPrint:
    """Everything printed on a ticket (the PDF takes only this)."""

    code: str
    sitting_label: str
    name: str
    candidate_no: str
    id_masked: str
    gender: str
    issued_at: datetime
    seats: list[SeatLine]
    rules: tuple[str, ...]
    photo: bytes | None = None  # JPEG ≤ 360×480 (`candidates.photos.print_version`), or none


def ticket_print_data(ticket: AdmissionTicket) -> TicketPrint:
    """What the ticket prints, with the record photo in force (none: the ID-document rule)."""
    candidate = ticket.candidate
    photo = candidate_photo_print(candidate)
    rules = tuple(str(r) for r in EXAM_RULES)
    if photo is None:
        rules += (str(NO_PHOTO_RULE),)
    return TicketPrint(
        code=ticket.code,
        sitting_label=ticket.sitting.label,
        name=candidate.name,
        candidate_no=candidate.candidate_no,
        id_masked=mask_id_number(candidate.id_number),
        gender=str(candidate.get_gender_display()),
        issued_at=ticket.issued_at,
        seats=seats_of(candidate, ticket.sitting),
        rules=rules,
        photo=photo,
    )


def check_url(code: str, request=None) -> str:
    """The door-check address printed in the QR code: `ZIKAO_TICKET_CHECK_BASE_URL` + path, or
    the request's own host when that setting is empty (the demo)."""
    path = reverse("office:entries_check", args=[code])
    base = getattr(settings, "ZIKAO_TICKET_CHECK_BASE_URL", "")
    if base:
        return base.rstrip("/") + path
    if request is not None:
        return request.build_absolute_uri(path)
    return path


def normalise_code(raw: str | None) -> str | None:
    """The code as stored, or None when it cannot be a ticket code (spaces/dashes/case ignored)."""
    code = re.sub(r"[\s-]", "", raw or "").upper()
    return code if _CODE_RE.match(code) else None


@dataclass(frozen=True)
class TicketCheck:
    """What the door sees. Fields other than `status` are empty for UNKNOWN."""

    status: str
    name: str = ""
    candidate_no: str = ""
    id_masked: str = ""
    sitting_label: str = ""
    issued_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str = ""
    seats: tuple[SeatLine, ...] = ()
    photo_in_scope: bool = False  # the staff user may see this candidate's photo
    photo: bytes | None = None  # JPEG ≤ 360×480, only for a VALID ticket and in scope


def photo_in_scope(user, ticket: AdmissionTicket) -> bool:
    """May `user` see the photo of the ticket's candidate? Yes when the candidate's county office
    is in the user's scope, or a centre where the candidate sits in this sitting is (the staff
    of the exam area running the door)."""
    if office_in_scope(user, ticket.candidate.county_office):
        return True
    return (
        SeatAssignment.objects.filter(
            entry__candidate_id=ticket.candidate_id,
            entry__sitting_id=ticket.sitting_id,
            entry__status=Entry.Status.CONFIRMED,
        )
        .filter(office_scope_q(user, "room__centre__area"))
        .exists()
    )


def ticket_check(*, actor: Actor, code: str | None) -> TicketCheck:
    """Check a ticket code at the door (staff with RECORDS_VIEW, any office). An unknown and a
    malformed code give the same UNKNOWN. For a VALID ticket the candidate's photo is included
    when the staff user's scope covers the candidate or a centre where they sit
    (`photo_in_scope`). Each check is an audit event (who looked at whom, photo shown or not)."""
    require_perm(actor.user, Perm.RECORDS_VIEW)
    normal = normalise_code(code)
    ticket = (
        AdmissionTicket.objects.select_related("candidate__county_office", "sitting")
        .filter(code=normal)
        .first()
        if normal
        else None
    )
    if ticket is None:
        audit_record(
            actor=actor,
            event_type="entries.ticket_check",
            subject_type="entries.admissionticket",
            after={"status": UNKNOWN},
        )
        return TicketCheck(status=UNKNOWN)
    if ticket.superseded_by_id is not None:
        status = SUPERSEDED
    elif ticket.revoked_at is not None:
        status = REVOKED
    else:
        status = VALID
    candidate = ticket.candidate
    in_scope = status == VALID and photo_in_scope(actor.user, ticket)
    photo = candidate_photo_print(candidate) if in_scope else None
    audit_record(
        actor=actor,
        event_type="entries.ticket_check",
        subject=ticket,
        candidate=candidate,
        after={"status": status, "photo_shown": photo is not None},
    )
    return TicketCheck(
        status=status,
        name=candidate.name,
        candidate_no=candidate.candidate_no,
        id_masked=mask_id_number(candidate.id_number),
        sitting_label=ticket.sitting.label,
        issued_at=ticket.issued_at,
        revoked_at=ticket.revoked_at,
        revoked_reason=ticket.revoked_reason,
        seats=tuple(seats_of(candidate, ticket.sitting)) if status == VALID else (),
        photo_in_scope=in_scope,
        photo=photo,
    )


def ticket_for_staff(user, pk: int | str) -> AdmissionTicket:
    """A ticket of a candidate in the user's scope, else NOT_FOUND."""
    try:
        ticket = AdmissionTicket.objects.select_related("candidate__county_office", "sitting").get(pk=int(pk))
    except (AdmissionTicket.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    require_candidate_in_scope(user, ticket.candidate)
    return ticket


# --- writes -----------------------------------------------------------------------------------


def _authorise(actor: Actor, candidate: Candidate) -> None:
    if actor.kind == "candidate":
        if actor.label != candidate.candidate_no:
            raise NotFound()
    elif actor.kind == "staff":
        require_perm(actor.user, Perm.ENTRIES_MANAGE)
        require_candidate_in_scope(actor.user, candidate)
    elif actor.kind != "system":
        raise NotFound()


def _new_code() -> str:
    while True:
        code = random_code(CODE_LENGTH)
        if not AdmissionTicket.objects.filter(code=code).exists():
            return code


def _require_seats(candidate: Candidate, sitting: Sitting) -> None:
    if not SeatAssignment.objects.filter(
        entry__candidate=candidate, entry__sitting=sitting, entry__status=Entry.Status.CONFIRMED
    ).exists():
        raise TicketRefused(
            TICKET_NO_SEATS, _("本考次没有已编排考场的报考课程。"), {"sitting": sitting.label}
        )


def _snapshot(ticket: AdmissionTicket) -> dict:
    return {
        "sitting": ticket.sitting.label,
        "code_tail": ticket.code[-4:],
        "issued_at": ticket.issued_at.isoformat(),
        "revoked_at": ticket.revoked_at.isoformat() if ticket.revoked_at else None,
        "superseded_by": ticket.superseded_by_id,
    }


def _lock(candidate: Candidate) -> Candidate:
    return Candidate.objects.select_for_update().get(pk=candidate.pk)


@transaction.atomic
def ticket_issue(*, actor: Actor, candidate: Candidate, sitting: Sitting) -> AdmissionTicket:
    """The candidate's valid ticket of the sitting, issuing one the first time (audited then).

    Refuses: NOT_FOUND (another candidate's; staff out of scope), PERMISSION_DENIED (staff),
    TICKET_NOT_OPEN (before `tickets_open_at`, or none set), TICKET_NO_SEATS (nothing placed),
    TICKET_REVOKED (the office revoked the ticket and has not re-issued one).
    """
    _authorise(actor, candidate)
    opens = tickets_open_at(sitting)
    if opens is None or clock.now() < opens:
        raise TicketRefused(
            TICKET_NOT_OPEN,
            _("准考证尚未开放打印。"),
            {"opens_at": timezone.localtime(opens).isoformat() if opens else None},
        )
    _require_seats(candidate, sitting)
    _lock(candidate)
    latest = current_ticket(candidate, sitting)
    if latest is not None:
        if latest.revoked_at is not None:
            raise TicketRefused(
                TICKET_REVOKED, _("该准考证已被注销，请联系考办。"), {"sitting": sitting.label}
            )
        return latest
    ticket = AdmissionTicket.objects.create(
        candidate=candidate, sitting=sitting, code=_new_code(), issued_at=clock.now()
    )
    audit_record(
        actor=actor,
        event_type="entries.ticket_issue",
        subject=ticket,
        candidate=candidate,
        after=_snapshot(ticket),
    )
    return ticket


def _clean_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text or len(text) > 200:
        raise ValidationFailed(
            TICKET_REASON_REQUIRED, _("请填写原因（不超过200字）。"), {"reason": "required"}
        )
    return text


@transaction.atomic
def ticket_revoke(*, actor: Actor, ticket: AdmissionTicket, reason: str) -> AdmissionTicket:
    """Revoke a valid ticket (office, ENTRIES_MANAGE, candidate in scope): the door check says
    REVOKED and the candidate cannot print until the office re-issues. Refuses: PERMISSION_DENIED,
    NOT_FOUND, TICKET_REASON_REQUIRED, TICKET_ALREADY_REVOKED."""
    require_perm(actor.user, Perm.ENTRIES_MANAGE)
    candidate = ticket.candidate
    require_candidate_in_scope(actor.user, candidate)
    text = _clean_reason(reason)
    _lock(candidate)
    ticket = AdmissionTicket.objects.select_for_update().select_related("sitting").get(pk=ticket.pk)
    if ticket.revoked_at is not None:
        raise TicketRefused(TICKET_ALREADY_REVOKED, _("该准考证已注销。"), {"ticket": ticket.pk})
    before = _snapshot(ticket)
    ticket.revoked_at, ticket.revoked_reason = clock.now(), text
    ticket.save(update_fields=["revoked_at", "revoked_reason"])
    audit_record(
        actor=actor,
        event_type="entries.ticket_revoke",
        subject=ticket,
        candidate=candidate,
        before=before,
        after={**_snapshot(ticket), "reason": text},
    )
    return ticket


@transaction.atomic
def ticket_reissue(*, actor: Actor, ticket: AdmissionTicket, reason: str) -> AdmissionTicket:
    """Replace the candidate's latest ticket (valid or revoked) with a new code; the old one is
    revoked and points at the new (`superseded_by`). Office only. Refuses: PERMISSION_DENIED,
    NOT_FOUND, TICKET_REASON_REQUIRED, TICKET_NO_SEATS, TICKET_ALREADY_REVOKED (already replaced)."""
    require_perm(actor.user, Perm.ENTRIES_MANAGE)
    candidate = ticket.candidate
    require_candidate_in_scope(actor.user, candidate)
    text = _clean_reason(reason)
    _lock(candidate)
    old = AdmissionTicket.objects.select_for_update().select_related("sitting").get(pk=ticket.pk)
    if old.superseded_by_id is not None:
        raise TicketRefused(TICKET_ALREADY_REVOKED, _("该准考证已被新证替换。"), {"ticket": old.pk})
    _require_seats(candidate, old.sitting)
    before = _snapshot(old)
    now = clock.now()
    if old.revoked_at is None:
        old.revoked_at, old.revoked_reason = now, text
        old.save(update_fields=["revoked_at", "revoked_reason"])
    new = AdmissionTicket.objects.create(
        candidate=candidate, sitting=old.sitting, code=_new_code(), issued_at=now
    )
    old.superseded_by = new
    old.save(update_fields=["superseded_by"])
    audit_record(
        actor=actor,
        event_type="entries.ticket_reissue",
        subject=new,
        candidate=candidate,
        before=before,
        after={**_snapshot(new), "replaces": old.pk, "reason": text},
    )
    return new
