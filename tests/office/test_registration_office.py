"""Office confirmation queue for online registrations: permission matrix, scope, files, decisions."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.candidates import registration_support
from tests.candidates.registration_support import (
    ID_NUMBER,
    image_bytes,
    make_world,
    pdf_upload,
    submit,
)
from zikao.accounts.permissions import Role
from zikao.candidates.models import Candidate, Registration
from zikao.core import clock
from zikao.core.models import AuditEvent

private_media = registration_support.private_media  # the fixture, used by name below

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media")]


@pytest.fixture
def world(offices):
    return make_world(offices)


@pytest.fixture
def registration(world):
    return submit(world)


def urls(registration):
    pk = registration.pk
    return {
        "queue": reverse("office:registration_queue"),
        "detail": reverse("office:registration_detail", args=[pk]),
        "photo": reverse("office:registration_document", args=[pk, "photo"]),
    }


def _page(response) -> str:
    """The page without per-request values (CSRF token, the language form's `next`)."""
    return re.sub(r'value="[^"]*"', "", response.content.decode())


def snapshot():
    return (
        list(Registration.objects.values_list("pk", "status", "decision_note")),
        Candidate.objects.count(),
        AuditEvent.objects.count(),
    )


def test_anonymous_redirected_to_login(client, registration):
    before = snapshot()
    for url in urls(registration).values():
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("office:login"))
    response = client.post(
        reverse("office:registration_confirm", args=[registration.pk]), {"identity_checked": "on"}
    )
    assert response.status_code == 302
    assert snapshot() == before


def test_staff_without_permission_gets_403(make_staff, staff_client, offices, registration):
    c = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    before = snapshot()
    for url in urls(registration).values():
        assert c.get(url).status_code == 403
    assert (
        c.post(
            reverse("office:registration_confirm", args=[registration.pk]), {"identity_checked": "on"}
        ).status_code
        == 403
    )
    assert (
        c.post(reverse("office:registration_reject", args=[registration.pk]), {"reason": "x"}).status_code
        == 403
    )
    assert snapshot() == before


@pytest.mark.parametrize("office_name", ["other_county", "sibling_county", "other_city"])
def test_out_of_scope_clerk_gets_404_and_nothing_changes(
    make_staff, staff_client, offices, registration, office_name
):
    c = staff_client(make_staff(roles=(Role.REGISTRATION_CLERK,), office=getattr(offices, office_name)))
    before = snapshot()
    queue = c.get(urls(registration)["queue"])
    assert queue.status_code == 200
    assert registration.pre_registration_no not in queue.content.decode()
    assert c.get(urls(registration)["detail"]).status_code == 404
    assert c.get(urls(registration)["photo"]).status_code == 404
    missing = c.get(reverse("office:registration_detail", args=[999999]))
    assert missing.status_code == 404
    assert _page(c.get(urls(registration)["detail"])) == _page(missing)
    assert (
        c.post(
            reverse("office:registration_confirm", args=[registration.pk]), {"identity_checked": "on"}
        ).status_code
        == 404
    )
    assert (
        c.post(reverse("office:registration_reject", args=[registration.pk]), {"reason": "x"}).status_code
        == 404
    )
    assert snapshot() == before


@pytest.mark.parametrize("office_name", ["county", "city", "province"])
def test_queue_and_detail_in_scope(make_staff, staff_client, offices, registration, office_name):
    c = staff_client(make_staff(roles=(Role.REGISTRATION_CLERK,), office=getattr(offices, office_name)))
    queue = c.get(urls(registration)["queue"])
    assert queue.status_code == 200
    html = queue.content.decode()
    assert registration.pre_registration_no in html
    assert ID_NUMBER not in html
    assert registration.masked_id_number in html
    assert reverse("office:registration_queue") in html  # menu entry
    detail = c.get(urls(registration)["detail"])
    assert detail.status_code == 200
    assert "no-store" in detail["Cache-Control"]
    assert ID_NUMBER not in detail.content.decode()
    assert urls(registration)["photo"] in detail.content.decode()


def test_photo_served_with_safe_headers(make_staff, staff_client, offices, registration):
    c = staff_client(make_staff(roles=(Role.REGISTRATION_CLERK,), office=offices.county))
    response = c.get(urls(registration)["photo"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert (
        response["Content-Disposition"] == f'inline; filename="{registration.pre_registration_no}-photo.png"'
    )
    assert b"".join(response.streaming_content) == image_bytes()
    assert (
        c.get(reverse("office:registration_document", args=[registration.pk, "work_proof"])).status_code
        == 404
    )
    assert c.get(f"/office/registrations/{registration.pk}/files/passwd/").status_code == 404


def test_confirm_issues_number(make_staff, staff_client, offices, registration):
    user = make_staff(roles=(Role.REGISTRATION_CLERK,), office=offices.county)
    c = staff_client(user)
    url = reverse("office:registration_confirm", args=[registration.pk])
    unchecked = c.post(url, {"note": ""})
    assert unchecked.status_code == 422
    assert Candidate.objects.count() == 0
    response = c.post(url, {"identity_checked": "on", "note": "核对无误"})
    assert response.status_code == 302
    assert response["Location"] == urls(registration)["detail"]
    candidate = Candidate.objects.get()
    assert candidate.candidate_no == f"0102{clock.today():%y}{'1' if clock.today().month <= 6 else '2'}00001"
    registration.refresh_from_db()
    assert (registration.status, registration.candidate_id, registration.decided_by_id) == (
        "confirmed",
        candidate.pk,
        user.pk,
    )
    page = c.get(urls(registration)["detail"]).content.decode()
    assert f'id="candidate-no">{candidate.candidate_no}<' in page
    again = c.post(url, {"identity_checked": "on"})
    assert again.status_code == 409
    assert Candidate.objects.count() == 1


def test_confirm_restricted_needs_work_proof_box(make_staff, staff_client, offices, world):
    registration = submit(world, major_id=world.nursing.pk, work_proof=pdf_upload())
    c = staff_client(make_staff(roles=(Role.REGISTRATION_CLERK,), office=offices.county))
    proof = c.get(reverse("office:registration_document", args=[registration.pk, "work_proof"]))
    assert proof.status_code == 200 and proof["Content-Type"] == "application/pdf"
    url = reverse("office:registration_confirm", args=[registration.pk])
    response = c.post(url, {"identity_checked": "on"})
    assert response.status_code == 422
    assert "WORK_PROOF_NOT_CHECKED" in response.content.decode()
    assert Candidate.objects.count() == 0
    assert c.post(url, {"identity_checked": "on", "work_proof_checked": "on"}).status_code == 302
    assert Candidate.objects.count() == 1


def test_reject_with_reason(make_staff, staff_client, offices, registration):
    c = staff_client(make_staff(roles=(Role.REGISTRATION_CLERK,), office=offices.city))
    url = reverse("office:registration_reject", args=[registration.pk])
    before = snapshot()
    assert c.post(url, {"reason": ""}).status_code == 422
    assert snapshot() == before
    response = c.post(url, {"reason": "照片不符合要求"})
    assert response.status_code == 302
    registration.refresh_from_db()
    assert (registration.status, registration.decision_note) == ("rejected", "照片不符合要求")
    assert Candidate.objects.count() == 0
