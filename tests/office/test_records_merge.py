"""/office/records/merge/: preview, then apply; refusals leave both records as they were."""

from __future__ import annotations

import pytest

from tests.factories import CourseFactory
from tests.office.test_records_support import NOW, events, person, score, sittings
from zikao.accounts.permissions import Role
from zikao.candidates.models import Candidate
from zikao.core import clock
from zikao.scores.models import Score

pytestmark = pytest.mark.django_db
URL = "/office/records/merge/"


@pytest.fixture
def pair(offices):
    survivor = person(offices.county, seq=1)
    closed = person(
        offices.sibling_county,
        seq=0,
        id_type="passport",  # the same number typed under the wrong document type
        id_number=survivor.id_number,
        gender=survivor.gender,
    )
    return survivor, closed


@pytest.fixture
def city(offices, make_staff, staff_client):
    return staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.city))


def _query(survivor, closed):
    return {"survivor_no": survivor.candidate_no, "closed_no": closed.candidate_no}


def _state(*candidates):
    return [
        (
            c.pk,
            *Candidate.objects.filter(pk=c.pk).values_list("status", "merged_into")[0],
            sorted(Score.objects.filter(candidate=c).values_list("pk", flat=True)),
        )
        for c in candidates
    ]


def test_preview_then_apply(pair, city):
    survivor, closed = pair
    _s202604, s202610, _ = sittings()
    moved = score(closed, s202610, value=80)
    preview = city.get(URL, _query(survivor, closed))
    html = preview.content.decode()
    assert preview.status_code == 200
    assert survivor.id_number not in html  # both sides masked
    assert '<th scope="row">成绩</th><td class="num">1</td>' in html
    assert f'<td class="code">{moved.pk}</td>' in html
    assert 'name="fingerprint"' in html and "确认合并" in html
    fingerprint = html.split('name="fingerprint" value="')[1].split('"')[0]
    with clock.frozen_at(NOW):
        done = city.post(URL, {**_query(survivor, closed), "fingerprint": fingerprint, "confirm": "on"})
    assert done.status_code == 302
    assert done["Location"] == f"/office/records/{survivor.candidate_no}/"
    assert _state(closed) == [(closed.pk, "merged", survivor.pk, [])]
    assert Score.objects.get(pk=moved.pk).candidate_id == survivor.pk
    assert len(events("candidate.merged")) == 1
    page = city.get(done["Location"]).content.decode()
    assert f"已将准考证号 {closed.candidate_no} 合并至 {survivor.candidate_no}，共转移 2 条记录" in page


def test_apply_needs_the_confirmation(pair, city):
    survivor, closed = pair
    before = _state(survivor, closed)
    preview = city.get(URL, _query(survivor, closed)).content.decode()
    fingerprint = preview.split('name="fingerprint" value="')[1].split('"')[0]
    response = city.post(URL, {**_query(survivor, closed), "fingerprint": fingerprint})
    assert response.status_code == 422 and "MERGE_NOT_CONFIRMED" in response.content.decode()
    assert _state(survivor, closed) == before and not events("candidate.merged")


def test_not_the_same_person_is_shown_and_refused(offices, city):
    survivor = person(offices.county, seq=2)
    closed = person(offices.sibling_county, seq=3, name="王晓明")
    before = _state(survivor, closed)
    html = city.get(URL, _query(survivor, closed)).content.decode()
    assert "MERGE_NOT_SAME_PERSON" in html and "姓名不一致" in html and "证件号码不一致" in html
    assert "确认合并" not in html
    forced = city.post(URL, {**_query(survivor, closed), "fingerprint": "0" * 64, "confirm": "on"})
    assert forced.status_code == 400 and "MERGE_NOT_SAME_PERSON" in forced.content.decode()
    assert _state(survivor, closed) == before and not events("candidate.merged")


def test_conflicting_scores_are_listed_and_refused(pair, city):
    survivor, closed = pair
    s202604, *_ = sittings()
    course = CourseFactory(code="00015", name="英语(二)")
    score(survivor, s202604, course=course, value=58)
    score(closed, s202604, course=course, value=64)
    before = _state(survivor, closed)
    html = city.get(URL, _query(survivor, closed)).content.decode()
    assert "MERGE_CONFLICTS" in html and "课程 00015 英语(二)，考次 202604" in html
    assert "确认合并" not in html
    forced = city.post(URL, {**_query(survivor, closed), "fingerprint": "0" * 64, "confirm": "on"})
    assert forced.status_code == 409 and "MERGE_CONFLICTS" in forced.content.decode()
    assert _state(survivor, closed) == before and not events("candidate.merged")


def test_a_stale_preview_is_refused(pair, city):
    survivor, closed = pair
    preview = city.get(URL, _query(survivor, closed)).content.decode()
    fingerprint = preview.split('name="fingerprint" value="')[1].split('"')[0]
    score(closed, sittings()[0])
    before = _state(survivor, closed)
    response = city.post(URL, {**_query(survivor, closed), "fingerprint": fingerprint, "confirm": "on"})
    assert response.status_code == 409 and "MERGE_PREVIEW_STALE" in response.content.decode()
    assert _state(survivor, closed) == before


def test_out_of_scope_is_not_found_and_changes_nothing(offices, pair, city):
    survivor, _ = pair
    stranger = person(
        offices.other_county, seq=0, id_type="hkmo_travel", id_number="H12345678", gender=survivor.gender
    )
    before = _state(survivor, stranger)
    assert city.get(URL, _query(survivor, stranger)).status_code == 404
    assert city.get(URL, _query(stranger, survivor)).status_code == 404
    response = city.post(URL, {**_query(survivor, stranger), "fingerprint": "0" * 64, "confirm": "on"})
    assert response.status_code == 404
    assert _state(survivor, stranger) == before and not events("candidate.merged")


def test_bad_numbers_are_form_errors(city):
    response = city.get(URL, {"survivor_no": "12345", "closed_no": ""})
    assert response.status_code == 422
    assert "准考证号应为12位数字" in response.content.decode()


def test_swap_link_and_unknown_numbers(pair, city):
    survivor, closed = pair
    html = city.get(URL, _query(survivor, closed)).content.decode()
    assert f"survivor_no={closed.candidate_no}&amp;closed_no={survivor.candidate_no}" in html
    assert (
        city.get(URL, {"survivor_no": survivor.candidate_no, "closed_no": "999999999999"}).status_code == 404
    )
