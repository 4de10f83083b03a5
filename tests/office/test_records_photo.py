"""The record photo in the office: shown on the record page, set or replaced by records.change in
scope (现场采集 / re-take), bad files refused with nothing stored, every change audited."""

from __future__ import annotations

import base64
import io
import json
import stat

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tests.candidates import registration_support
from tests.candidates.registration_support import image_bytes, make_world, submit
from tests.factories import CandidateFactory, StaffFactory
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.candidates import photos
from zikao.candidates.models import Candidate, CandidatePhoto
from zikao.candidates.registration import registration_confirm
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, NotFound
from zikao.core.models import AuditEvent

private_media = registration_support.private_media

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]

CLERK = (Role.RECORD_CLERK,)


@pytest.fixture(autouse=True)
def _clear_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def who(offices):
    return CandidateFactory(county_office=offices.county, name="韩梅梅")


def _jpeg(width=480, height=640, colour=(180, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG")
    return out.getvalue()


def _file(data: bytes, name="photo.jpg", content_type="image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def _stored(root) -> list:
    base = root / "photos"
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []


def _state() -> tuple:
    return (
        list(CandidatePhoto.objects.values_list("pk", "path", "sha256")),
        AuditEvent.objects.filter(event_type="candidates.photo_set").count(),
    )


def _photo_url(candidate) -> str:
    return reverse("office:records_photo", args=[candidate.candidate_no])


def _embedded(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(photos.print_version(data)).decode()


# --- setting it -----------------------------------------------------------------------------------


def test_clerk_uploads_and_replaces_the_photo(offices, make_staff, staff_client, who, private_media):
    user = make_staff(roles=CLERK, office=offices.county)
    client = staff_client(user)
    record_url = reverse("office:records_detail", args=[who.candidate_no])

    page = client.get(record_url)
    text = page.content.decode()
    assert page["Cache-Control"] == "private, no-store"
    assert 'data-photo="none"' in text and "data:image" not in text
    assert f'action="{_photo_url(who)}"' in text and 'enctype="multipart/form-data"' in text

    first = _jpeg()
    with clock.frozen_at(clock.now()):
        response = client.post(_photo_url(who), {"photo": _file(first), "source": "onsite", "note": ""})
    assert response.status_code == 302 and response["Location"] == record_url
    photo = CandidatePhoto.objects.get(candidate=who)
    assert (photo.source, photo.content_type, photo.size, photo.width, photo.height, photo.set_by) == (
        "onsite",
        "image/jpeg",
        len(first),
        480,
        640,
        user,
    )
    files = _stored(private_media)
    assert [p.relative_to(private_media).as_posix() for p in files] == [photo.path]
    assert photo.path.startswith("photos/") and files[0].read_bytes() == first
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert photos.candidate_photo(who) == first

    event = AuditEvent.objects.get(event_type="candidates.photo_set")
    assert (event.actor_user, event.candidate, event.subject_type, event.subject_id) == (
        user,
        who,
        "candidates.candidatephoto",
        str(photo.pk),
    )
    assert event.before is None
    assert event.after == {
        "photo": photo.pk,
        "source": "onsite",
        "sha256": photo.sha256,
        "size": len(first),
        "width": 480,
        "height": 640,
        "content_type": "image/jpeg",
        "note": "",
    }
    assert len(json.dumps(event.after)) < 300  # fingerprints only, never the image

    text = client.get(record_url).content.decode()
    assert 'data-photo="shown"' in text and f'src="{_embedded(first)}"' in text
    assert "现场采集" in text and user.get_username() in text

    # a re-take replaces it: the newest is in force, the old row and file stay as history
    second = image_bytes(600, 800)  # PNG this time
    response = client.post(
        _photo_url(who),
        {"photo": _file(second, "retake.png", "image/png"), "source": "submitted", "note": "重新采集"},
    )
    assert response.status_code == 302
    newest = CandidatePhoto.objects.filter(candidate=who).order_by("-pk").first()
    assert CandidatePhoto.objects.filter(candidate=who).count() == 2 and newest.pk != photo.pk
    assert (newest.content_type, newest.path.endswith(".png"), newest.note) == ("image/png", True, "重新采集")
    assert len(_stored(private_media)) == 2
    assert photos.candidate_photo(who) == second
    retake = AuditEvent.objects.filter(event_type="candidates.photo_set").order_by("-pk").first()
    assert retake.before["photo"] == photo.pk and retake.after["photo"] == newest.pk
    text = client.get(record_url).content.decode()
    assert f'src="{_embedded(second)}"' in text and "考生提交照片" in text and "重新采集" in text


def _gbk_text() -> bytes:
    return "考生照片：请现场采集。".encode("gbk") * 20


@pytest.mark.parametrize(
    ("upload", "code"),
    [
        (lambda: _file(_gbk_text()), "PHOTO_FORMAT"),  # GBK text renamed .jpg
        (lambda: _file(b"GIF89a" + bytes(64), "photo.gif", "image/gif"), "PHOTO_FORMAT"),
        (
            lambda: _file(image_bytes(480, 640, fmt="GIF"), "photo.jpg"),
            "PHOTO_FORMAT",
        ),  # decodes, not JPEG/PNG
        (lambda: _file(_jpeg()[:400]), "PHOTO_FORMAT"),  # truncated
        (lambda: _file(image_bytes(1000, 1400, noise=True), "big.png", "image/png"), "PHOTO_TOO_LARGE"),
        (lambda: _file(_jpeg(200, 260)), "PHOTO_DIMENSIONS"),  # too small
        (lambda: _file(_jpeg(640, 480)), "PHOTO_DIMENSIONS"),  # landscape
        (lambda: _file(b""), "PHOTO_REQUIRED"),
        (lambda: None, "PHOTO_REQUIRED"),
    ],
    ids=[
        "gbk_text_as_jpg",
        "gif_header",
        "real_gif",
        "truncated",
        "too_big",
        "too_small",
        "landscape",
        "empty",
        "none",
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    offices, make_staff, staff_client, who, private_media, upload, code
):
    client = staff_client(make_staff(roles=CLERK, office=offices.county))
    before = _state()
    data = {"source": "onsite", "note": ""}
    made = upload()
    if made is not None:
        data["photo"] = made
    response = client.post(_photo_url(who), data)
    assert response.status_code == 422
    text = response.content.decode()
    assert f"（{code}）" in text and 'role="alert"' in text
    assert response["Cache-Control"] == "private, no-store"
    assert _state() == before and _stored(private_media) == []
    assert photos.candidate_photo(who) is None


def test_bad_source_and_long_note_are_refused(offices, make_staff, who, private_media):
    actor = Actor.staff(make_staff(roles=CLERK, office=offices.county))
    before = _state()
    with pytest.raises(DomainError) as exc:
        photos.candidate_photo_set(actor=actor, candidate=who, upload=_file(_jpeg()), source="selfie")
    assert exc.value.code == "PHOTO_SOURCE_INVALID"
    with pytest.raises(DomainError) as exc:
        photos.candidate_photo_set(actor=actor, candidate=who, upload=_file(_jpeg()), note="长" * 201)
    assert exc.value.code == "PHOTO_NOTE_TOO_LONG"
    assert _state() == before and _stored(private_media) == []


# --- who may -------------------------------------------------------------------------------------


def test_permission_and_scope_refusals_change_nothing(
    offices, make_staff, staff_client, who, client, private_media
):
    url = _photo_url(who)
    before = _state()

    anonymous = client.post(url, {"photo": _file(_jpeg()), "source": "onsite"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/office/login/")

    viewer = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))  # records.view only
    for response in (viewer.get(url), viewer.post(url, {"photo": _file(_jpeg()), "source": "onsite"})):
        assert response.status_code == 403
    assert (
        'data-photo="none"'
        in viewer.get(reverse("office:records_detail", args=[who.candidate_no])).content.decode()
    )
    assert (
        'enctype="multipart/form-data"'
        not in viewer.get(reverse("office:records_detail", args=[who.candidate_no])).content.decode()
    )

    for office in (offices.other_city, offices.other_county, offices.sibling_county):
        outsider = staff_client(make_staff(roles=CLERK, office=office))
        for response in (
            outsider.get(url),
            outsider.post(url, {"photo": _file(_jpeg()), "source": "onsite"}),
        ):
            assert response.status_code == 404
            assert "office/not_found.html" in {t.name for t in response.templates}
            assert who.name not in response.content.decode()
    assert _state() == before and _stored(private_media) == []

    # the service refuses on its own too
    for actor, error in (
        (Actor.staff(make_staff(roles=(Role.READ_ONLY,), office=offices.county)), PermissionDenied),
        (Actor.staff(make_staff(roles=CLERK, office=offices.other_county)), NotFound),
        (Actor.candidate(who), PermissionDenied),
        (Actor.system(), PermissionDenied),
    ):
        with pytest.raises(error):
            photos.candidate_photo_set(actor=actor, candidate=who, upload=_file(_jpeg()))
    assert _state() == before and _stored(private_media) == []

    # the city office above the county may
    city = staff_client(make_staff(roles=CLERK, office=offices.city))
    assert city.post(url, {"photo": _file(_jpeg()), "source": "onsite"}).status_code == 302
    assert CandidatePhoto.objects.filter(candidate=who).count() == 1


def test_merged_record_is_closed_for_photos(offices, make_staff, staff_client, private_media):
    survivor = CandidateFactory(county_office=offices.county)
    closed = CandidateFactory(county_office=offices.county)
    Candidate.objects.filter(pk=closed.pk).update(status=Candidate.Status.MERGED, merged_into=survivor)
    closed.refresh_from_db()
    user = make_staff(roles=CLERK, office=offices.county)
    before = _state()
    with pytest.raises(DomainError) as exc:
        photos.candidate_photo_set(actor=Actor.staff(user), candidate=closed, upload=_file(_jpeg()))
    assert (exc.value.code, exc.value.status) == ("PHOTO_RECORD_CLOSED", 409)
    page = staff_client(user).get(_photo_url(closed))
    assert page.status_code == 200 and 'type="file"' not in page.content.decode()
    assert _state() == before and _stored(private_media) == []


# --- the registration photo ----------------------------------------------------------------------


def _registered(offices):
    registration = submit(make_world(offices))
    clerk = StaffFactory(office=offices.county)
    StaffRole.objects.create(user=clerk, role=Role.REGISTRATION_CLERK, granted_at=clock.now())
    return registration_confirm(actor=Actor.staff(clerk), registration=registration)


def test_record_page_shows_the_registration_photo(offices, make_staff, staff_client):
    candidate = _registered(offices)
    page = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county)).get(
        reverse("office:records_detail", args=[candidate.candidate_no])
    )
    text = page.content.decode()
    assert 'data-photo="shown"' in text and f'src="{_embedded(image_bytes())}"' in text
    assert "网上报名照片" in text


def test_photo_of_a_number_merged_into_the_record_is_found(offices):
    closed = _registered(offices)
    survivor = CandidateFactory(county_office=offices.county)
    Candidate.objects.filter(pk=closed.pk).update(status=Candidate.Status.MERGED, merged_into=survivor)
    assert photos.candidate_photo(survivor) == image_bytes()
    assert photos.candidate_photo(CandidateFactory(county_office=offices.county)) is None
