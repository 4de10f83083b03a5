"""/office/records/requests/: the scoped queue of profile-change requests, approve / reject."""

from __future__ import annotations

import re

import pytest

from tests.office.test_records_support import BIRTH, events, person
from zikao.accounts.permissions import Role
from zikao.candidates.models import ProfileChangeRequest
from zikao.candidates.services import profile_change_request_create
from zikao.core.audit import Actor
from zikao.core.identity import make_resident_id

pytestmark = pytest.mark.django_db
QUEUE = "/office/records/requests/"


def _ask(candidate, field, value):
    return profile_change_request_create(
        actor=Actor.candidate(candidate),
        candidate=candidate,
        field=field,
        new_value=value,
        reason="证件已更换",
    )


def _ids(response) -> set[int]:
    return {int(n) for n in re.findall(r'href="/office/records/requests/(\d+)/"', response.content.decode())}


@pytest.fixture
def clerk_client(offices, make_staff, staff_client):
    return staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))


def test_the_queue_is_scoped_and_filtered(offices, make_staff, staff_client):
    mine = _ask(person(offices.county, seq=1), "name", "王晓明")
    sibling = _ask(person(offices.sibling_county, seq=2), "name", "王晓明")
    elsewhere = _ask(person(offices.other_county, seq=3), "name", "王晓明")
    county = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    city = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.city))
    province = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.province))
    assert _ids(county.get(QUEUE)) == {mine.pk}
    assert _ids(city.get(QUEUE)) == {mine.pk, sibling.pk}
    assert _ids(province.get(QUEUE)) == {mine.pk, sibling.pk, elsewhere.pk}
    ProfileChangeRequest.objects.filter(pk=mine.pk).update(status="rejected")
    assert _ids(county.get(QUEUE)) == set()
    assert _ids(county.get(QUEUE, {"status": "rejected"})) == {mine.pk}
    assert _ids(county.get(QUEUE, {"status": "all"})) == {mine.pk}
    assert county.get(f"{QUEUE}{sibling.pk}/").status_code == 404
    assert county.get(f"{QUEUE}abc/").status_code == 404


def test_approve_an_id_correction_through_the_page(offices, clerk_client):
    candidate = person(offices.county, seq=4)
    new_id = make_resident_id("320102", BIRTH, 13)
    request = _ask(candidate, "id_number", new_id)
    detail = clerk_client.get(f"{QUEUE}{request.pk}/").content.decode()
    assert new_id not in detail and new_id[:6] + "********" + new_id[-4:] in detail
    assert candidate.id_number not in detail
    revealed = clerk_client.post(f"{QUEUE}{request.pk}/reveal-id/")
    assert f'<span class="revealed" id="full-new-id">{new_id}</span>' in revealed.content.decode()
    [event] = events("record.full_id_viewed")
    assert event.after["context"] == "profile_change_request" and event.subject_id == str(request.pk)
    response = clerk_client.post(f"{QUEUE}{request.pk}/approve/", {"note": "核对身份证原件"})
    assert response.status_code == 302 and response["Location"] == QUEUE
    candidate.refresh_from_db()
    request.refresh_from_db()
    assert (candidate.id_number, candidate.gender, request.status, request.decision_note) == (
        new_id,
        "M",
        "approved",
        "核对身份证原件",
    )
    again = clerk_client.post(f"{QUEUE}{request.pk}/approve/")
    assert again.status_code == 409
    assert "PROFILE_REQUEST_ALREADY_DECIDED" in again.content.decode()
    assert len(events("candidate.profile_change_approved")) == 1


def test_reject_needs_a_reason(offices, clerk_client):
    candidate = person(offices.county, seq=5)
    request = _ask(candidate, "name", "王晓明")
    refused = clerk_client.post(f"{QUEUE}{request.pk}/reject/", {"reason": "  "})
    assert refused.status_code == 422
    assert "PROFILE_REQUEST_DECISION_REASON_REQUIRED" in refused.content.decode()
    request.refresh_from_db()
    assert request.status == "requested" and not events("candidate.profile_change_rejected")
    done = clerk_client.post(f"{QUEUE}{request.pk}/reject/", {"reason": "未提供户籍证明"})
    assert done.status_code == 302
    request.refresh_from_db()
    candidate.refresh_from_db()
    assert (request.status, request.decision_note, candidate.name) == ("rejected", "未提供户籍证明", "王小明")


def test_an_id_already_on_another_record_is_sent_to_merge(offices, clerk_client):
    candidate = person(offices.county, seq=6)
    other = person(offices.county, seq=7)
    request = _ask(candidate, "id_number", other.id_number)
    response = clerk_client.post(f"{QUEUE}{request.pk}/approve/")
    html = response.content.decode()
    assert response.status_code == 409
    assert "PROFILE_REQUEST_ID_IN_USE" in html and other.candidate_no in html and "合并" in html
    candidate.refresh_from_db()
    request.refresh_from_db()
    assert (candidate.id_number, request.status) == (make_resident_id("320102", BIRTH, 6), "requested")


def test_reveal_of_a_name_request_is_refused(offices, clerk_client):
    request = _ask(person(offices.county, seq=8), "name", "王晓明")
    response = clerk_client.post(f"{QUEUE}{request.pk}/reveal-id/")
    assert response.status_code == 422
    assert "PROFILE_REQUEST_NOT_ID_NUMBER" in response.content.decode()
    assert not events("record.full_id_viewed")
