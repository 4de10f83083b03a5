"""Portal pages of the online registration (新生报名): form, result, status, withdrawal."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.candidates import registration_support
from tests.candidates.registration_support import (
    BIRTH,
    ID_NUMBER,
    image_bytes,
    make_world,
    stored_files,
    submit,
)
from tests.factories import CandidateFactory, StaffFactory
from tests.portal.helpers import captcha_passes  # noqa: F401
from zikao.accounts.models import StaffRole
from zikao.accounts.permissions import Role
from zikao.candidates.models import Candidate, Registration
from zikao.candidates.registration import registration_confirm, registration_reject
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.models import AuditEvent

private_media = registration_support.private_media  # the fixture, used by name below

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_media", "captcha_passes")]


@pytest.fixture
def world():
    return make_world()


def form_data(world, **overrides):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {
        "id_type": "resident_id",
        "id_number": ID_NUMBER,
        "name": "李华",
        "gender": "M",
        "birth_date": BIRTH.isoformat(),
        "phone": "13812345678",
        "address": "南京市玄武区北京东路1号",
        "residence_basis": "household",
        "household_region": "",
        "prior_education": "zhuanke",
        "prior_diploma_no": "",
        "work_unit": "",
        "major": str(world.major.pk),
        "exam_area": str(world.county.pk),
        "pledge": "on",
        "photo": SimpleUploadedFile("me.png", image_bytes(), content_type="image/png"),
        "captcha_0": "x",
        "captcha_1": "PASSED",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def clerk(office):
    user = StaffFactory(office=office)
    StaffRole.objects.create(user=user, role=Role.REGISTRATION_CLERK, granted_at=clock.now())
    return Actor.staff(user)


def test_form_shows_pledge_in_full_and_home_links_to_it(client, world):
    from zikao.candidates.registration import PLEDGE_TEXT

    response = client.get(reverse("portal:registration_new"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert str(PLEDGE_TEXT) in html
    assert 'name="pledge"' in html and 'enctype="multipart/form-data"' in html
    assert "护理学" in html and world.county.name in html
    assert "汉语言文学" not in html  # no plan: not offered
    assert reverse("portal:registration_new") in client.get(reverse("portal:home")).content.decode()


def test_form_groups_fields_and_shows_the_pledge_beside_its_checkbox(client, world):
    html = client.get(reverse("portal:registration_new")).content.decode()
    # Exam areas by place, not by office name.
    assert f'<option value="{world.county.pk}">南京市 玄武区</option>' in html
    assert f'<option value="{world.other_county.pk}">苏州市 姑苏区</option>' in html
    # Birth date and gender only in the group for documents that do not carry them; the date is
    # typed as YYYY-MM-DD (no browser-locale mm/dd/yyyy picker).
    born = html[html.index('<fieldset class="born">') : html.index("</fieldset>", html.index('class="born"'))]
    assert 'name="birth_date"' in born and 'name="gender"' in born
    assert 'type="text" name="birth_date" placeholder="YYYY-MM-DD"' in born
    assert "持居民身份证或港澳台居民居住证的考生无需填写" in born
    assert 'name="birth_date" required' not in html and 'name="gender" required' not in html
    # The pledge text in its own box right above the checkbox; checkbox and label on one line.
    pledge = html[html.index('<fieldset class="pledge">') :]
    assert pledge.index('class="pledge-text"') < pledge.index('name="pledge"')
    assert '<div class="field check">\n  <input type="checkbox" name="pledge"' in pledge
    assert '<label for="id_pledge">本人已阅读并同意《诚信考试承诺书》</label>' in pledge


def test_resident_id_needs_no_birth_date_the_number_gives_it(client, world):
    response = client.post(reverse("portal:registration_new"), form_data(world, gender=None, birth_date=None))
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert (registration.birth_date, registration.gender) == (BIRTH, "M")


def test_resident_id_ignores_a_date_left_in_the_hidden_fields(client, world):
    response = client.post(
        reverse("portal:registration_new"), form_data(world, birth_date="2001-01-01", gender="F")
    )
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert (registration.birth_date, registration.gender) == (BIRTH, "M")


def test_other_documents_must_give_birth_date_and_gender(client, world):
    data = form_data(world, id_type="passport", id_number="E12345678", gender=None, birth_date=None)
    response = client.post(reverse("portal:registration_new"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_birth_date-errors"><li>该证件类型须填写出生日期。</li>' in html
    assert 'id="id_gender-errors"><li>该证件类型须填写性别。</li>' in html
    response = client.post(
        reverse("portal:registration_new"),
        form_data(world, id_type="passport", id_number="E12345678", gender="F", birth_date="03/14/1995"),
    )
    assert response.status_code == 400
    assert 'id="id_birth_date-errors"><li>请按 年-月-日 填写出生日期，如 1990-01-31。</li>' in (
        response.content.decode()
    )
    assert Registration.objects.count() == 0


def test_submit_redirects_to_result_with_number(client, world, private_media):
    response = client.post(reverse("portal:registration_new"), form_data(world))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:registration_done")
    registration = Registration.objects.get()
    page = client.get(reverse("portal:registration_done"))
    assert page.status_code == 200
    assert f'id="pre-registration-no">{registration.pre_registration_no}<' in page.content.decode()
    assert len(stored_files(private_media)) == 1


def test_pledge_missing_is_a_form_error(client, world):
    response = client.post(reverse("portal:registration_new"), form_data(world, pledge=None))
    assert response.status_code == 400
    assert "请阅读并同意《诚信考试承诺书》。" in response.content.decode()
    assert Registration.objects.count() == 0


def test_wrong_captcha(client, world):
    response = client.post(reverse("portal:registration_new"), form_data(world, captcha_1="WRONG"))
    assert response.status_code == 400
    assert Registration.objects.count() == 0


def test_bad_checksum_shown_next_to_field(client, world):
    bad = ID_NUMBER[:-1] + ("0" if ID_NUMBER[-1] != "0" else "1")
    response = client.post(reverse("portal:registration_new"), form_data(world, id_number=bad))
    assert response.status_code == 422
    assert 'id="id_id_number-errors"><li>身份证号码校验位不正确。</li>' in response.content.decode()
    assert Registration.objects.count() == 0


def test_photo_wrong_format_shown_next_to_photo(client, world, private_media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("portal:registration_new"), form_data(world, photo=SimpleUploadedFile("a.jpg", b"GIF89a...."))
    )
    assert response.status_code == 422
    assert 'id="id_photo-errors"><li>照片须为JPEG或PNG格式的图片。</li>' in response.content.decode()
    assert stored_files(private_media) == []


def test_restricted_major_without_work_proof(client, world):
    response = client.post(reverse("portal:registration_new"), form_data(world, major=str(world.nursing.pk)))
    assert response.status_code == 422
    assert "id_work_proof-errors" in response.content.decode()
    assert Registration.objects.count() == 0


def test_existing_candidate_told_to_use_lookup_without_number(client, world):
    CandidateFactory(id_number=ID_NUMBER, county_office=world.county, candidate_no="010226100077")
    response = client.post(reverse("portal:registration_new"), form_data(world))
    assert response.status_code == 409
    html = response.content.decode()
    assert "该证件号码已有考籍" in html
    assert "010226100077" not in html
    assert Registration.objects.count() == 0


def status_post(client, number, id_number=ID_NUMBER):
    return client.post(
        reverse("portal:registration_status"),
        {"pre_registration_no": number, "id_number": id_number, "captcha_0": "x", "captcha_1": "PASSED"},
    )


def test_status_pages_submitted_confirmed_rejected(client, world):
    registration = submit(world)
    response = status_post(client, registration.pre_registration_no)
    assert response.status_code == 200
    assert 'id="registration-status">待确认<' in response.content.decode()
    candidate = registration_confirm(actor=clerk(world.county), registration=registration)
    html = status_post(client, registration.pre_registration_no).content.decode()
    assert 'id="registration-status">已确认<' in html
    assert f'id="candidate-no">{candidate.candidate_no}<' in html

    other = submit(world, id_number=_other_id(), name="张三", gender=None, birth_date=None)
    registration_reject(actor=clerk(world.county), registration=other, reason="照片不清晰")
    html = status_post(client, other.pre_registration_no, other.id_number).content.decode()
    assert 'id="registration-status">未通过<' in html
    assert 'id="reject-reason">照片不清晰<' in html


def _other_id():
    from zikao.core.identity import make_resident_id

    return make_resident_id("320102", BIRTH, 124)


def test_status_wrong_id_is_not_found(client, world):
    registration = submit(world)
    response = status_post(client, registration.pre_registration_no, _other_id())
    assert response.status_code == 404
    assert "未查询到匹配的报名" in response.content.decode()
    assert "待确认" not in response.content.decode()


def test_withdraw_from_status_page(client, world):
    registration = submit(world)
    assert client.post(reverse("portal:registration_withdraw")).status_code == 302  # nothing shown yet
    registration.refresh_from_db()
    assert registration.status == "submitted"
    status_post(client, registration.pre_registration_no)
    response = client.post(reverse("portal:registration_withdraw"))
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.status == "withdrawn"
    assert AuditEvent.objects.filter(event_type="registration.withdrawn").count() == 1
    assert Candidate.objects.count() == 0


def test_lookup_page_finds_pending_pre_registration_number(client, world):
    registration = submit(world)
    response = client.post(
        reverse("portal:lookup"),
        {
            "id_number": ID_NUMBER,
            "name": "李华",
            "pre_registration": "on",
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
    )
    assert response.status_code == 200
    assert f'<strong class="number">{registration.pre_registration_no}</strong>' in response.content.decode()


def test_done_page_without_submission_redirects(client, world):
    response = client.get(reverse("portal:registration_done"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:registration_new")
