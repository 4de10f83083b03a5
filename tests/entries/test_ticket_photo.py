"""The candidate's photo on the admission ticket and at the door check (issue 5).

The ticket prints the record photo in force (office photo, else the confirmed registration's);
without one the frame stays empty and the ID-document rule is added. The door check shows the
photo of a valid ticket only to staff whose scope covers the candidate or a centre they sit in.
"""

from __future__ import annotations

import base64
import io
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image

from tests.candidates import registration_support
from tests.candidates.registration_support import image_bytes, make_world, submit
from tests.entries.seating import (
    AFTER_CLOSE,
    TICKETS_OPEN,
    candidate,
    centre,
    grant_entries_manage,
    open_tickets,
    paid,
    staff_actor,
)
from zikao.accounts.permissions import Role
from zikao.candidates import photos
from zikao.candidates.registration import registration_confirm
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.models import AuditEvent
from zikao.entries import allocation, pdf, tickets

__all__ = ["grant_entries_manage"]
private_media = registration_support.private_media

pytestmark = pytest.mark.usefixtures("private_media", "grant_entries_manage")

URL = "https://office.example.cn/office/entries/check/X/"


@pytest.fixture(autouse=True)
def _clear_limits():
    cache.clear()
    yield
    cache.clear()


def _jpeg(width: int, height: int, colour=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG")
    return out.getvalue()


def _upload(data: bytes, name: str = "photo.jpg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def _place(world, who, *, area=None, code="01"):
    centre(area or who.county_office, code, 30)
    paid(world, who, "10001", area=area)
    with clock.frozen_at(AFTER_CLOSE):
        allocation.allocation_run(actor=staff_actor(world.province), sitting=world.sitting)
    open_tickets(world)
    with clock.frozen_at(TICKETS_OPEN):
        return tickets.ticket_issue(actor=Actor.candidate(who), candidate=who, sitting=world.sitting)


def _registered(world):
    """A candidate created the real way: online registration with a photo, confirmed by the county."""
    registration = submit(make_world(world))  # majors with plans, in the entry world's offices
    clerk = staff_actor(world.county, roles=(Role.REGISTRATION_CLERK,))
    return registration_confirm(actor=clerk, registration=registration), registration


def _images(body: bytes) -> list[tuple[int, int]]:
    """(width, height) of every image XObject of an uncompressed PDF."""
    found = []
    for obj in re.findall(rb"<<[^<>]*/Subtype /Image[^<>]*>>", body):
        width = int(re.search(rb"/Width (\d+)", obj).group(1))
        height = int(re.search(rb"/Height (\d+)", obj).group(1))
        found.append((width, height))
    return found


def _placement(body: bytes) -> tuple[float, float, float, float]:
    """The `w 0 0 h x y cm` placing the (one) image on the page."""
    match = re.search(rb"([\d.]+) 0 0 ([\d.]+) ([\d.]+) ([\d.]+) cm\s*/FormXob\.\w+ Do", body)
    assert match is not None
    return tuple(float(v) for v in match.groups())  # type: ignore[return-value]


MM = 72 / 25.4
FRAME_W, FRAME_H = 30 * MM - 2, 40 * MM - 2  # inside the 1 pt border on each side


# --- the ticket -----------------------------------------------------------------------------------


def test_ticket_prints_the_registration_photo(world):
    who, registration = _registered(world)
    submitted = registration.documents.get(kind="photo")
    ticket = _place(world, who)

    assert photos.candidate_photo(who) == (registration_support.image_bytes())  # the bytes submitted
    info = photos.candidate_photo_info(who)
    assert (info.source, info.content_type, info.taken_at) == (
        "registration",
        "image/png",
        submitted.uploaded_at,
    )

    data = tickets.ticket_print_data(ticket)
    assert data.photo is not None
    with Image.open(io.BytesIO(data.photo)) as printed:
        assert (printed.format, printed.size) == ("JPEG", (360, 480))  # 480×640 scaled into 360×480
    assert str(tickets.NO_PHOTO_RULE) not in data.rules
    assert data.rules == tuple(str(r) for r in tickets.EXAM_RULES)

    body = pdf.admission_ticket_pdf(data, check_url=URL, compress=False)
    assert body.count(b"/Subtype /Image") == 1
    assert _images(body) == [(360, 480)]
    w, h, x, y = _placement(body)
    # fits the 30×40 mm frame (top right, 18 mm margin, 22 mm below the top), 3:4 kept, centred
    assert w == pytest.approx(FRAME_W, abs=0.01)
    assert h == pytest.approx(FRAME_W * 480 / 360, abs=0.01) and h <= FRAME_H
    assert x == pytest.approx(pdf.PAGE_W - 48 * MM + 1, abs=0.01)
    assert y == pytest.approx(pdf.PAGE_H - 80 * MM + 1 + (FRAME_H - h) / 2, abs=0.01)


def test_ticket_without_photo_has_empty_frame_and_the_id_rule(world):
    who = candidate(world, name="韩梅梅")
    ticket = _place(world, who)
    assert photos.candidate_photo(who) is None

    data = tickets.ticket_print_data(ticket)
    assert data.photo is None
    assert data.rules == (*(str(r) for r in tickets.EXAM_RULES), str(tickets.NO_PHOTO_RULE))
    assert "身份证件原件" in data.rules[-1]

    body = pdf.admission_ticket_pdf(data, check_url=URL, compress=False)
    assert b"/Subtype /Image" not in body and b"/FormXob" not in body
    assert body.startswith(b"%PDF-") and b"STSong-Light" in body
    assert b" 85.03937 113.3858 re S" in body  # the 30×40 mm frame is still drawn


def test_office_photo_wins_and_the_newest_one_is_printed(world):
    who, _registration = _registered(world)
    ticket = _place(world, who)
    clerk = staff_actor(world.county, roles=(Role.RECORD_CLERK,))
    first = photos.candidate_photo_set(actor=clerk, candidate=who, upload=_upload(_jpeg(600, 800)))
    second_bytes = _jpeg(480, 480, colour=(20, 120, 220))  # square: the aspect ratio must survive
    second = photos.candidate_photo_set(
        actor=clerk, candidate=who, upload=_upload(second_bytes), source="submitted", note="重新采集"
    )
    assert first.set_at <= second.set_at and second.pk > first.pk
    assert photos.candidate_photo(who) == second_bytes
    info = photos.candidate_photo_info(who)
    assert (info.source, info.note, info.set_by) == ("submitted", "重新采集", clerk.user.get_username())

    data = tickets.ticket_print_data(ticket)
    assert data.photo == photos.print_version(second_bytes)
    body = pdf.admission_ticket_pdf(data, check_url=URL, compress=False)
    assert _images(body) == [(360, 360)]
    w, h, _x, _y = _placement(body)
    assert w == pytest.approx(FRAME_W, abs=0.01) and h == pytest.approx(FRAME_W, abs=0.01)

    # the compressed PDF (what the portal serves) carries the image too
    assert b"/Subtype /Image" in pdf.admission_ticket_pdf(data, check_url=URL)


def test_a_lost_file_falls_back_to_the_older_photo(world, private_media):
    who, _registration = _registered(world)
    clerk = staff_actor(world.county, roles=(Role.RECORD_CLERK,))
    photo = photos.candidate_photo_set(actor=clerk, candidate=who, upload=_upload(_jpeg(300, 400)))
    (private_media / photo.path).unlink()
    assert photos.candidate_photo_info(who).source == "registration"


# --- the door check -----------------------------------------------------------------------------------


def _check(world, office, code, roles=(Role.READ_ONLY,)):
    return tickets.ticket_check(actor=staff_actor(office, roles=roles), code=code)


def test_door_check_photo_only_for_staff_in_scope(world):
    who, _registration = _registered(world)
    ticket = _place(world, who)
    expected = photos.candidate_photo_print(who)
    assert expected is not None

    with clock.frozen_at(TICKETS_OPEN):
        own = _check(world, world.county, ticket.code)
        city = _check(world, world.city, ticket.code)
        sibling = _check(world, world.sibling, ticket.code)
        other = _check(world, world.other_county, ticket.code)

    assert (own.status, own.photo_in_scope, own.photo) == ("VALID", True, expected)
    assert (city.photo_in_scope, city.photo) == (True, expected)
    for outside in (sibling, other):  # the check works, the photo stays home
        assert (outside.status, outside.name, outside.photo_in_scope, outside.photo) == (
            "VALID",
            who.name,
            False,
            None,
        )
    shown = list(
        AuditEvent.objects.filter(event_type="entries.ticket_check")
        .order_by("pk")
        .values_list("after", flat=True)
    )
    assert shown == [
        {"status": "VALID", "photo_shown": True},
        {"status": "VALID", "photo_shown": True},
        {"status": "VALID", "photo_shown": False},
        {"status": "VALID", "photo_shown": False},
    ]


def test_door_check_photo_for_the_staff_of_the_centre(world):
    """A 玄武区 candidate sitting in a 姑苏区 centre: 姑苏区's door staff see the photo."""
    who, _registration = _registered(world)
    ticket = _place(world, who, area=world.other_county, code="77")
    with clock.frozen_at(TICKETS_OPEN):
        there = _check(world, world.other_county, ticket.code)
        sibling = _check(world, world.sibling, ticket.code)
    assert (there.photo_in_scope, there.photo) == (True, photos.candidate_photo_print(who))
    assert (sibling.photo_in_scope, sibling.photo) == (False, None)


def test_revoked_and_superseded_tickets_show_no_photo(world):
    who, _registration = _registered(world)
    ticket = _place(world, who)
    manager = staff_actor(world.city)
    with clock.frozen_at(TICKETS_OPEN):
        new = tickets.ticket_reissue(actor=manager, ticket=ticket, reason="遗失补发")
        old = _check(world, world.county, ticket.code)
        tickets.ticket_revoke(actor=manager, ticket=new, reason="证件不符")
        revoked = _check(world, world.county, new.code)
    assert (old.status, old.photo, old.photo_in_scope) == ("SUPERSEDED", None, False)
    assert (revoked.status, revoked.photo, revoked.revoked_reason) == ("REVOKED", None, "证件不符")


def _signed_in(office, roles) -> Client:
    user = staff_actor(office, roles=roles).user
    TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = TOTPDevice.objects.get(user=user).persistent_id
    session.save()
    return client


def test_door_check_page_embeds_the_photo_in_scope_only(world, client):
    who, _registration = _registered(world)
    ticket = _place(world, who)
    url = reverse("office:entries_check", args=[ticket.code])
    embedded = "data:image/jpeg;base64," + base64.b64encode(photos.candidate_photo_print(who)).decode()

    assert client.get(url).status_code == 302  # anonymous: sign in first
    refused = _signed_in(world.county, (Role.STAFF_ADMIN,)).get(url)  # no records.view
    assert refused.status_code == 403 and "data:image" not in refused.content.decode()

    with clock.frozen_at(TICKETS_OPEN):
        own = _signed_in(world.county, (Role.READ_ONLY,)).get(url)
        outside = _signed_in(world.other_county, (Role.READ_ONLY,)).get(url)
    assert own.status_code == 200 and own["Cache-Control"] == "private, no-store"
    page = own.content.decode()
    assert 'data-status="VALID"' in page and 'data-photo="shown"' in page
    assert f'src="{embedded}"' in page
    assert who.name in page and who.candidate_no in page and who.id_number not in page
    assert "10001" in page  # course and room still listed

    assert outside.status_code == 200 and outside["Cache-Control"] == "private, no-store"
    page = outside.content.decode()
    assert 'data-status="VALID"' in page and 'data-photo="out_of_scope"' in page
    assert "data:image" not in page and who.name in page

    with clock.frozen_at(TICKETS_OPEN):
        tickets.ticket_revoke(actor=staff_actor(world.city), ticket=ticket, reason="证件不符")
        revoked = _signed_in(world.county, (Role.READ_ONLY,)).get(url).content.decode()
    assert 'data-status="REVOKED"' in revoked and "data:image" not in revoked


def test_door_check_page_without_photo_says_check_the_id(world):
    who = candidate(world, name="韩梅梅")
    ticket = _place(world, who)
    with clock.frozen_at(TICKETS_OPEN):
        page = _signed_in(world.county, (Role.READ_ONLY,)).get(
            reverse("office:entries_check", args=[ticket.code])
        )
    text = page.content.decode()
    assert 'data-photo="none"' in text and "请核验身份证件原件" in text and "data:image" not in text


def test_print_version_is_upright_and_flattened():
    """EXIF orientation applied (a phone picture stored sideways prints upright); PNG alpha on white."""
    sideways = Image.new("RGB", (640, 480), (10, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    sideways.save(out, format="JPEG", exif=exif)
    with Image.open(io.BytesIO(photos.print_version(out.getvalue()))) as upright:
        assert upright.size == (360, 480)

    clear = Image.new("RGBA", (300, 400), (0, 0, 0, 0))
    out = io.BytesIO()
    clear.save(out, format="PNG")
    with Image.open(io.BytesIO(photos.print_version(out.getvalue()))) as flat:
        assert (flat.mode, flat.size) == ("RGB", (300, 400))
        assert flat.getpixel((150, 200)) == pytest.approx((255, 255, 255), abs=2)
    assert photos.print_version(b"not an image") is None
    assert photos.data_uri(None) == ""
    assert image_bytes()  # the helper used above makes a real PNG
