"""/office/records/<no>/: the whole record, masked; the audited "show full ID"."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import CourseFactory
from tests.office.test_records_support import NOW, events, major, person, score, sittings
from zikao.accounts.models import CandidateAccount
from zikao.accounts.permissions import Role
from zikao.candidates.models import ProfileChangeRequest
from zikao.conduct.models import Violation
from zikao.core import clock
from zikao.credits.models import Exemption
from zikao.scores.models import Score, ScoreWithholding

pytestmark = pytest.mark.django_db


def _url(candidate, suffix=""):
    return f"/office/records/{candidate.candidate_no}/{suffix}"


@pytest.fixture
def record(offices):
    candidate = person(offices.county, seq=1, name="王小明", phone="13812345678", former_name="王二")
    major(candidate)
    return candidate


def test_the_record_shows_every_section_with_the_id_masked(offices, make_staff, staff_client, record):
    s202604, s202610, s202704 = sittings()
    passed = score(record, s202604, course=CourseFactory(code="00015", name="英语(二)"), value=72)
    score(
        record, s202704, course=CourseFactory(code="00023", name="高等数学(工本)"), value=99
    )  # not released
    withheld = score(record, s202610, course=CourseFactory(code="00024", name="普通逻辑"), value=66)
    ScoreWithholding.objects.create(
        candidate=record, sitting=s202610, reason="待查", created_at=NOW, created_by=make_staff()
    )
    Score.objects.filter(pk=withheld.pk).update(status="withheld")
    Violation.objects.create(
        candidate=record,
        sitting=s202604,
        course=passed.course,
        kind="rule_breach",
        penalty="void_course",
        decided_at=NOW,
    )
    Exemption.objects.create(
        candidate=record,
        basis="certificate",
        basis_detail="CET-4 512分",
        status="requested",
        requested_at=NOW,
    )
    ProfileChangeRequest.objects.create(
        candidate=record,
        field="id_number",
        old_value="320102********0018",
        new_value="110101199001011237",
        reason="证件更换",
        requested_at=NOW,
    )
    CandidateAccount.objects.create(
        candidate=record, created_at=NOW, must_change_password=False, password_hash="x", last_login_at=NOW
    )
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    with clock.frozen_at(NOW):
        response = client.get(_url(record))
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert record.id_number not in html and "13812345678" not in html
    assert record.id_number[:6] + "********" + record.id_number[-4:] in html
    assert "138****5678" in html
    assert "王小明（曾用名：王二）" in html
    assert "080901 计算机科学与技术" in html
    assert "00015 英语(二)" in html and ">72<" in html
    assert "00023" not in html and ">99<" not in html  # unreleased: not on this page
    assert "00024" not in html  # withheld
    assert "违纪(违反考场规则)" in html and "该科成绩无效" in html
    assert "CET-4 512分" in html and "已申请" in html
    assert "110101199001011237" not in html and "110101********1237" in html
    assert "考生自设密码" in html and "2026-12-01 10:00" in html
    # no reveal button and no password reset link for a read-only user
    assert "显示完整证件号码" not in html and "password-reset" not in html


def test_a_corrected_score_lists_every_version(offices, make_staff, staff_client, record):
    s202604, *_ = sittings()
    first = score(record, s202604, value=58)
    Score.objects.filter(pk=first.pk).update(is_current=False)
    Score.objects.create(
        candidate=record,
        course=first.course,
        sitting=s202604,
        entry=first.entry,
        value=61,
        supersedes=first,
        correction_reason="复查：漏计一题",
        created_at=NOW,
    )
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    with clock.frozen_at(NOW):
        html = client.get(_url(record)).content.decode()
    assert '<ol class="history"><li>58 · 有效' in html
    assert "<li>61 · 有效 · 2026-12-01 10:00 · 复查：漏计一题 (当前)</li>" in html


def test_reveal_shows_the_full_id_once_and_is_audited(offices, make_staff, staff_client, record):
    user = make_staff(roles=(Role.RECORD_CLERK,), office=offices.county)
    client = staff_client(user)
    page = client.get(_url(record)).content.decode()
    assert "显示完整证件号码" in page and record.id_number not in page
    response = client.post(_url(record, "reveal-id/"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert f'<span class="code revealed" id="full-id">{record.id_number}</span>' in response.content.decode()
    [event] = events("record.full_id_viewed")
    assert (event.actor_user_id, event.candidate_id, event.after["context"]) == (user.pk, record.pk, "record")
    assert record.id_number not in client.get(_url(record)).content.decode()  # once: not remembered


def test_reveal_is_post_only(offices, make_staff, staff_client, record):
    client = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    assert client.get(_url(record, "reveal-id/")).status_code == 405
    assert not events("record.full_id_viewed")


@pytest.mark.parametrize("role", [Role.READ_ONLY, Role.AUDITOR, Role.CONDUCT_OFFICER])
def test_reveal_without_the_permission_is_403_and_writes_nothing(
    offices, make_staff, staff_client, record, role
):
    response = staff_client(make_staff(roles=(role,), office=offices.county)).post(_url(record, "reveal-id/"))
    assert response.status_code == 403
    assert record.id_number not in response.content.decode()
    assert not events("record.full_id_viewed")


def test_out_of_scope_missing_and_malformed_look_the_same(offices, make_staff, staff_client, record):
    sibling = person(offices.sibling_county, seq=2)
    client = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    answers = [
        client.get(_url(sibling)),
        client.get("/office/records/999999999999/"),
        client.get("/office/records/12ab/"),
        client.post(_url(sibling, "reveal-id/")),
    ]
    assert [r.status_code for r in answers] == [404, 404, 404, 404]
    mains = {r.content.decode().split('<main id="main">')[1] for r in answers}
    assert len(mains) == 1
    main = mains.pop()
    assert "没有找到该记录" in main and sibling.candidate_no not in main and "王小明" not in main
    assert not events("record.full_id_viewed")


def test_a_merged_record_points_to_the_survivor_and_the_survivor_lists_it(offices, make_staff, staff_client):
    survivor = person(offices.county, seq=3)
    merged = person(
        offices.county,
        seq=0,
        id_number=survivor.id_number[:6] + survivor.id_number[8:17],
        gender=survivor.gender,
        status="merged",
        merged_into=survivor,
    )
    client = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    html = client.get(_url(merged)).content.decode()
    assert f"考籍现归于准考证号 {survivor.candidate_no}" in html
    assert "重置密码为初始密码" not in html
    survivor_html = client.get(_url(survivor)).content.decode()
    assert f"准考证号 {merged.candidate_no} 已并入本考籍" in survivor_html


def test_account_state_shows_a_lock(offices, make_staff, staff_client, record):
    CandidateAccount.objects.create(
        candidate=record,
        created_at=NOW,
        locked_until=NOW + dt.timedelta(minutes=15),
        failed_count=0,
    )
    client = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    with clock.frozen_at(NOW):
        html = client.get(_url(record)).content.decode()
    assert "已锁定至 2026-12-01 10:15" in html and "初始密码(出生日期)" in html
    assert f'href="/office/records/{record.candidate_no}/password-reset/"' in html
