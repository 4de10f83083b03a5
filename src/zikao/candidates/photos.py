"""The candidate's record photo: which one is in force, setting it at the office, and the small
normalised copy printed on the admission ticket and shown at the door check.

Where a photo comes from, newest first:

1. the office (`CandidatePhoto`): 现场采集 when the county office confirms a registration, or a
   re-take later (`candidate_photo_set`, `records.change`, the record in the clerk's scope);
2. the confirmed online registration (新生报名) that issued the number: its PHOTO document
   (and, for a record that other numbers were merged into, theirs).

Legacy and demo records have neither: the ticket then carries an empty "照片" frame and tells the
candidate to bring the ID document, which the door staff check instead.

Files are stored like the registration documents: under MEDIA_ROOT (never served directly), in
`photos/<yyyy>/<random>.<ext>`, mode 0600, with their SHA-256; pages embed them only after the
permission and scope checks of the view that shows them. The audit event holds the fingerprint,
size and pixel size of the photo, never the image.

Error codes: PHOTO_REQUIRED, PHOTO_TOO_LARGE, PHOTO_FORMAT, PHOTO_DIMENSIONS (see
`registration.check_photo`), PHOTO_SOURCE_INVALID, PHOTO_NOTE_TOO_LONG, PHOTO_RECORD_CLOSED,
PERMISSION_DENIED, NOT_FOUND.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from zikao.candidates.models import Candidate, CandidatePhoto, Registration, RegistrationDocument
from zikao.candidates.registration import check_photo, store_private
from zikao.core import clock
from zikao.core.audit import Actor, audit_record
from zikao.core.errors import DomainError, ValidationFailed

log = logging.getLogger(__name__)

SOURCE_REGISTRATION = "registration"
SOURCE_LABELS = {
    CandidatePhoto.Source.ONSITE.value: CandidatePhoto.Source.ONSITE.label,
    CandidatePhoto.Source.SUBMITTED.value: CandidatePhoto.Source.SUBMITTED.label,
    SOURCE_REGISTRATION: _("网上报名照片"),
}

# The printed frame is 30×40 mm: 360×480 pixels are about 300 dpi there, and small enough to
# embed in a page (~30 KB) without a second request.
PRINT_SIZE = (360, 480)
NOTE_MAX = 200
_MERGE_DEPTH = 10


# --- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoInfo:
    """The photo in force for a record, with where it came from (for the office page)."""

    data: bytes
    content_type: str
    source: str  # CandidatePhoto.Source value or "registration"
    taken_at: datetime
    set_by: str  # staff username ("" for the registration photo)
    note: str = ""

    @property
    def source_label(self) -> str:
        return str(SOURCE_LABELS.get(self.source, self.source))


def _media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def photos_root() -> Path:
    return _media_root() / "photos"


def _read_private(relative: str, folder: Path) -> bytes | None:
    """The bytes of a stored file under `folder`, or None when missing or escaping it."""
    root = folder.resolve()
    path = (_media_root() / relative).resolve()
    if root not in path.parents:
        log.warning("photo path outside its storage folder refused")
        return None
    try:
        return path.read_bytes()
    except OSError:
        log.warning("stored photo file missing or unreadable: %s", relative)
        return None


def _record_ids(candidate: Candidate) -> list[int]:
    """The record and every record merged into it (directly or through another merged one)."""
    ids, frontier = [candidate.pk], [candidate.pk]
    for _depth in range(_MERGE_DEPTH):
        frontier = list(
            Candidate.objects.filter(merged_into_id__in=frontier)
            .exclude(pk__in=ids)
            .values_list("pk", flat=True)
        )
        if not frontier:
            break
        ids.extend(frontier)
    return ids


def candidate_photo_info(candidate: Candidate) -> PhotoInfo | None:
    """The photo in force: the newest office-set photo, else the photo of the confirmed
    registration that issued this number (or a number merged into it), else None. A row whose
    file is missing is skipped (logged), so a lost file never hides an older good photo."""
    for photo in (
        CandidatePhoto.objects.filter(candidate=candidate).select_related("set_by").order_by("-set_at", "-pk")
    ):
        data = _read_private(photo.path, photos_root())
        if data is not None:
            return PhotoInfo(
                data=data,
                content_type=photo.content_type,
                source=photo.source,
                taken_at=photo.set_at,
                set_by=photo.set_by.get_username(),
                note=photo.note,
            )
    documents = (
        RegistrationDocument.objects.filter(
            kind=RegistrationDocument.Kind.PHOTO,
            registration__status=Registration.Status.CONFIRMED,
            registration__candidate_id__in=_record_ids(candidate),
        )
        .select_related("registration")
        .order_by("-registration__decided_at", "-pk")
    )
    for document in documents:
        data = _read_private(document.path, _media_root() / "registrations")
        if data is not None:
            return PhotoInfo(
                data=data,
                content_type=document.content_type,
                source=SOURCE_REGISTRATION,
                taken_at=document.uploaded_at,
                set_by="",
            )
    return None


def candidate_photo(candidate: Candidate) -> bytes | None:
    """The bytes of the photo in force (see `candidate_photo_info`), or None."""
    info = candidate_photo_info(candidate)
    return info.data if info is not None else None


def print_version(data: bytes) -> bytes | None:
    """A JPEG of at most 360×480 pixels, upright (EXIF orientation applied), transparency on
    white: what the ticket prints and the office pages show. None when the bytes do not decode
    (a stored file is checked on upload, so that means it was damaged since)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as source:
            image = ImageOps.exif_transpose(source)
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, (255, 255, 255))
                image.paste(rgba, mask=rgba.getchannel("A"))
            elif image.mode != "RGB":
                image = image.convert("RGB")
            image.thumbnail(PRINT_SIZE)
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=88, optimize=True)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        log.warning("stored photo does not decode")
        return None
    return out.getvalue()


def candidate_photo_print(candidate: Candidate) -> bytes | None:
    """The photo in force as `print_version` (for the ticket PDF), or None."""
    data = candidate_photo(candidate)
    return print_version(data) if data is not None else None


def data_uri(jpeg: bytes | None) -> str:
    """`data:image/jpeg;base64,…` for an <img> in a private page ("" for none). The page's CSP
    allows data: images; nothing is cached because those pages are `private, no-store`."""
    if not jpeg:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


# --- writes -----------------------------------------------------------------------------------


def _closed() -> DomainError:
    error = DomainError(
        "PHOTO_RECORD_CLOSED", _("该准考证号已合并撤销，请在保留的考籍上采集照片。"), {"photo": ["closed"]}
    )
    error.status = 409
    return error


def candidate_photo_set(
    *,
    actor: Actor,
    candidate: Candidate,
    upload: Any,
    source: str = CandidatePhoto.Source.ONSITE,
    note: str = "",
) -> CandidatePhoto:
    """Set (or replace) the record photo: the newest office photo is the one in force.

    The upload is checked by decoding (`registration.check_photo`: JPEG or PNG, ≤ 2 MB,
    240×320 to 2000×2000, portrait or square) before anything is written; the file is removed
    again if the transaction fails. Refuses PERMISSION_DENIED (403) without `records.change`,
    NOT_FOUND for a record outside the staff user's scope, PHOTO_RECORD_CLOSED (409) for a
    merged number, PHOTO_SOURCE_INVALID, PHOTO_NOTE_TOO_LONG and the PHOTO_* codes of
    `check_photo`. Writes `candidates.photo_set` (fingerprints and sizes, never the image).
    """
    from zikao.accounts.permissions import Perm, PermissionDenied, require_candidate_in_scope, require_perm

    if actor.kind != "staff" or actor.user is None:
        raise PermissionDenied(Perm.RECORDS_CHANGE)
    require_perm(actor.user, Perm.RECORDS_CHANGE)
    require_candidate_in_scope(actor.user, candidate)
    if source not in CandidatePhoto.Source.values:
        raise ValidationFailed("PHOTO_SOURCE_INVALID", _("请选择照片来源。"), {"source": ["invalid"]})
    note = " ".join(str(note or "").split())
    if len(note) > NOTE_MAX:
        raise ValidationFailed(
            "PHOTO_NOTE_TOO_LONG", _("说明不能超过200字。"), {"note": ["PHOTO_NOTE_TOO_LONG"]}
        )
    if candidate.status == Candidate.Status.MERGED:
        raise _closed()
    checked = check_photo(upload)

    written: list[Path] = []
    try:
        with transaction.atomic():
            current = Candidate.objects.select_for_update().get(pk=candidate.pk)
            if current.status == Candidate.Status.MERGED:
                raise _closed()
            previous = CandidatePhoto.objects.filter(candidate=current).order_by("-set_at", "-pk").first()
            photo = CandidatePhoto.objects.create(
                candidate=current,
                source=source,
                note=note,
                path=store_private(checked, written, photos_root()),
                content_type=checked.content_type,
                size=len(checked.data),
                sha256=checked.sha256,
                width=checked.width or 0,
                height=checked.height or 0,
                set_at=clock.now(),
                set_by=actor.user,
            )
            audit_record(
                actor=actor,
                event_type="candidates.photo_set",
                subject=photo,
                candidate=current,
                before=_snapshot(previous) if previous is not None else None,
                after={**_snapshot(photo), "note": note},
            )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return photo


def _snapshot(photo: CandidatePhoto) -> dict:
    return {
        "photo": photo.pk,
        "source": photo.source,
        "sha256": photo.sha256,
        "size": photo.size,
        "width": photo.width,
        "height": photo.height,
        "content_type": photo.content_type,
    }
