"""Reads of new candidate registration (新生报名): the applicant's status, the office queue, files.

Applicant reads need the pre-registration number AND the ID number (a wrong pair is the same
NOT_FOUND as a missing number) and are rate-limited. Office reads are scoped to the staff
user's offices by the registration's exam area: an out-of-scope registration is NOT_FOUND.
"""

from __future__ import annotations

import hashlib
import re

from django.db.models import QuerySet

from zikao.accounts.models import Office
from zikao.candidates.models import Registration, RegistrationDocument
from zikao.catalog.models import Major, Plan
from zikao.core.audit import Actor
from zikao.core.errors import NotFound
from zikao.core.ratelimit import hit


def _normalise_id(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()[:32]


def registration_majors() -> QuerySet[Major]:
    """Majors open for new candidates: those with at least one plan."""
    return (
        Major.objects.filter(pk__in=Plan.objects.values("major_id"))
        .select_related("school")
        .order_by("level", "code")
    )


def registration_areas() -> QuerySet[Office]:
    """County exam areas a person may choose (with their city for display)."""
    return Office.objects.filter(level=Office.Level.COUNTY).select_related("parent").order_by("region_code")


def registration_for_applicant(*, actor: Actor, pre_registration_no: str, id_number: str) -> Registration:
    """The applicant's own registration by 报名号 + ID number.

    Refuses RATE_LIMITED (429) per IP and per number, NOT_FOUND for any mismatch.
    """
    from zikao.candidates.registration import STATUS_PER_IP, STATUS_PER_NUMBER

    number = re.sub(r"\s", "", pre_registration_no or "")[:16]
    hit(STATUS_PER_IP, actor.ip or "-")
    hit(STATUS_PER_NUMBER, hashlib.sha256(number.encode()).hexdigest()[:32])
    registration = (
        Registration.objects.select_related("major", "exam_area", "candidate")
        .filter(pre_registration_no=number, id_number=_normalise_id(id_number))
        .first()
        if number and id_number
        else None
    )
    if registration is None:
        raise NotFound()
    return registration


def pending_pre_registration_no(id_number: str, name: str) -> str | None:
    """The 报名号 of a person's pending (submitted) registration, for the number lookup."""
    row = (
        Registration.objects.filter(
            id_number=_normalise_id(id_number),
            name=(name or "").strip(),
            status=Registration.Status.SUBMITTED,
        )
        .values_list("pre_registration_no", flat=True)
        .first()
    )
    return row


def registrations_in_scope(user) -> QuerySet[Registration]:
    """Registrations whose exam area lies in the staff user's subtree (county: its own)."""
    from zikao.accounts.permissions import office_scope_q

    return Registration.objects.filter(office_scope_q(user, "exam_area")).select_related(
        "major", "exam_area", "candidate"
    )


def registration_queue(
    user, *, status: str = Registration.Status.SUBMITTED, q: str = ""
) -> QuerySet[Registration]:
    """The office queue: in scope, by status (default: pending), oldest first; `q` matches the
    报名号 or the full ID number exactly, or the name exactly."""
    qs = registrations_in_scope(user)
    if status in Registration.Status.values:
        qs = qs.filter(status=status)
    q = (q or "").strip()
    if q:
        from django.db.models import Q

        qs = qs.filter(Q(pre_registration_no=q) | Q(id_number=_normalise_id(q)) | Q(name=q))
    return qs.order_by("submitted_at", "id")


def registration_get(user, pk) -> Registration:
    """One registration for a staff user; NOT_FOUND when missing, malformed or out of scope."""
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    registration = registrations_in_scope(user).filter(pk=key).first()
    if registration is None:
        raise NotFound()
    return registration


def registration_documents(registration: Registration) -> dict[str, RegistrationDocument]:
    return {doc.kind: doc for doc in registration.documents.all()}


def registration_document_get(user, pk, kind: str) -> RegistrationDocument:
    """A stored document of a registration in the staff user's scope, else NOT_FOUND."""
    registration = registration_get(user, pk)
    document = registration.documents.filter(kind=kind).first()
    if document is None:
        raise NotFound()
    return document
