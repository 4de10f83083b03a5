"""Profile page: contact details, phone change by code, correction requests; permission matrix."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CandidateFactory
from tests.portal.helpers import log_in
from zikao.accounts import sms
from zikao.accounts.models import VerificationCode
from zikao.candidates.models import Candidate, ProfileChangeRequest
from zikao.core.identity import make_resident_id
from zikao.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def test_profile_shows_masked_identity(client: Client) -> None:
    candidate = CandidateFactory(id_number="32010219950314001X", phone="13812345678")
    log_in(client, candidate)
    html = client.get(reverse("portal:profile")).content.decode()
    assert "320102********001X" in html and "138****5678" in html
    assert "32010219950314001X" not in html and "13812345678" not in html


def test_edit_contact_details_audited(client: Client) -> None:
    candidate = CandidateFactory(address="旧地址")
    log_in(client, candidate)
    response = client.post(
        reverse("portal:profile"), {"address": " 南京市  玄武区 1号 ", "work_unit": "某公司"}
    )
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert (candidate.address, candidate.work_unit) == ("南京市 玄武区 1号", "某公司")
    event = AuditEvent.objects.get(event_type="candidate.profile_updated")
    assert event.before == {"address": "旧地址", "work_unit": ""}
    assert event.after == {"address": "南京市 玄武区 1号", "work_unit": "某公司"}


def test_too_long_address_refused_nothing_written(client: Client) -> None:
    candidate = CandidateFactory(address="旧地址")
    log_in(client, candidate)
    response = client.post(reverse("portal:profile"), {"address": "长" * 201, "work_unit": ""})
    assert response.status_code == 400
    candidate.refresh_from_db()
    assert candidate.address == "旧地址"
    assert not AuditEvent.objects.filter(event_type="candidate.profile_updated").exists()


def test_phone_change_needs_code_sent_to_new_phone(
    client: Client, django_capture_on_commit_callbacks
) -> None:
    candidate = CandidateFactory(phone="13812345678")
    log_in(client, candidate)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:phone_change"), {"new_phone": "13987654321"})
    assert response.status_code == 302
    assert [m.phone for m in sms.outbox] == ["13987654321"]
    candidate.refresh_from_db()
    assert candidate.phone == "13812345678"  # not yet
    assert "139****4321" in client.get(reverse("portal:profile")).content.decode()
    code = re.search(r"验证码 (\d{6})", sms.outbox[-1].text).group(1)
    bad = client.post(reverse("portal:phone_confirm"), {"code": "000000" if code != "000000" else "111111"})
    assert bad.status_code == 400
    candidate.refresh_from_db()
    assert candidate.phone == "13812345678"
    assert client.post(reverse("portal:phone_confirm"), {"code": code}).status_code == 302
    candidate.refresh_from_db()
    assert candidate.phone == "13987654321"
    event = AuditEvent.objects.get(event_type="candidate.phone_changed")
    assert (event.before, event.after) == ({"phone": "138****5678"}, {"phone": "139****4321"})


@pytest.mark.parametrize(("phone", "code"), [("12345", "PHONE_INVALID"), ("13812345678", "PHONE_UNCHANGED")])
def test_phone_change_refusals(client: Client, phone: str, code: str) -> None:
    candidate = CandidateFactory(phone="13812345678")
    log_in(client, candidate)
    response = client.post(reverse("portal:phone_change"), {"new_phone": phone})
    assert response.status_code == 422
    assert not VerificationCode.objects.exists()


def test_another_candidates_phone_code_does_not_work(
    client: Client, django_capture_on_commit_callbacks
) -> None:
    alice, bob = CandidateFactory(phone="13812345678"), CandidateFactory(phone="13711112222")
    other = Client()
    log_in(other, bob)
    with django_capture_on_commit_callbacks(execute=True):
        other.post(reverse("portal:phone_change"), {"new_phone": "13900000000"})
    code = re.search(r"验证码 (\d{6})", sms.outbox[-1].text).group(1)
    log_in(client, alice)
    session = client.session
    session["zikao_phone_change"] = other.session["zikao_phone_change"]
    session.save()
    response = client.post(reverse("portal:phone_confirm"), {"code": code})
    assert response.status_code == 400
    assert "验证已失效，请重新获取验证码。" in response.content.decode()
    assert Candidate.objects.get(pk=alice.pk).phone == "13812345678"
    assert Candidate.objects.get(pk=bob.pk).phone == "13711112222"


def test_change_request_stored_with_masked_old_value(client: Client) -> None:
    candidate = CandidateFactory(id_number="32010219950314001X", name="王小明")
    log_in(client, candidate)
    valid = make_resident_id("320102", dt.date(1995, 3, 14), 2)
    response = client.post(
        reverse("portal:profile_request"), {"field": "id_number", "new_value": valid, "reason": "录入错误"}
    )
    assert response.status_code == 302
    request = ProfileChangeRequest.objects.get()
    assert (request.field, request.old_value, request.status) == (
        "id_number",
        "320102********001X",
        "requested",
    )
    candidate.refresh_from_db()
    assert candidate.id_number == "32010219950314001X"  # the office decides
    html = client.get(reverse("portal:profile")).content.decode()
    assert "待审核" in html
    duplicate = client.post(
        reverse("portal:profile_request"),
        {"field": "id_number", "new_value": request.new_value, "reason": "再次"},
    )
    assert duplicate.status_code == 400
    assert "该项已有待审核的更正申请。" in duplicate.content.decode()
    assert ProfileChangeRequest.objects.count() == 1
    assert AuditEvent.objects.filter(event_type="candidate.profile_change_requested").count() == 1


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "王小明", "PROFILE_REQUEST_UNCHANGED"),
        ("birth_date", "1995-13-01", "PROFILE_REQUEST_VALUE_INVALID"),
        ("id_number", "123", "ID_NUMBER_INVALID"),
    ],
)
def test_change_request_refusals(client: Client, field: str, value: str, code: str) -> None:
    log_in(client, CandidateFactory(name="王小明"))
    response = client.post(
        reverse("portal:profile_request"), {"field": field, "new_value": value, "reason": "理由"}
    )
    assert response.status_code == 422
    assert not ProfileChangeRequest.objects.exists()


# --- permission matrix --------------------------------------------------------------------------

PAGES = ["portal:profile", "portal:password_change"]


@pytest.mark.parametrize("name", PAGES)
def test_matrix_anonymous_redirected(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login"))


@pytest.mark.parametrize(
    "name", ["portal:profile", "portal:phone_change", "portal:phone_confirm", "portal:profile_request"]
)
def test_matrix_anonymous_posts_change_nothing(client: Client, name: str) -> None:
    candidate = CandidateFactory(address="旧")
    response = client.post(
        reverse(name),
        {"address": "新", "new_phone": "13900000000", "field": "name", "new_value": "x", "reason": "y"},
    )
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert candidate.address == "旧"
    assert not ProfileChangeRequest.objects.exists() and not VerificationCode.objects.exists()


def test_matrix_each_candidate_sees_only_self() -> None:
    alice = CandidateFactory(name="爱丽丝", candidate_no="010224100101")
    bob = CandidateFactory(name="鲍勃", candidate_no="010224100102")
    a, b = Client(), Client()
    log_in(a, alice)
    log_in(b, bob)
    page_a, page_b = (
        a.get(reverse("portal:profile")).content.decode(),
        b.get(reverse("portal:profile")).content.decode(),
    )
    assert "010224100101" in page_a and "010224100102" not in page_a
    assert "010224100102" in page_b and "010224100101" not in page_b
    b.post(reverse("portal:profile"), {"address": "鲍勃的地址", "work_unit": ""})
    alice.refresh_from_db()
    assert alice.address == ""


def test_matrix_locked_account_is_signed_out() -> None:
    candidate = CandidateFactory()
    client = Client()
    log_in(client, candidate)
    from zikao.accounts.services import candidate_login
    from zikao.core.audit import Actor
    from zikao.core.errors import DomainError

    for _ in range(5):
        with pytest.raises(DomainError):
            candidate_login(
                actor=Actor.public(ip="192.0.2.1"), identifier=candidate.candidate_no, password="bad"
            )
    for name in PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("portal:login")), name
    response = client.post(reverse("portal:profile"), {"address": "新", "work_unit": ""})
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert candidate.address == ""
