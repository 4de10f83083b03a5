"""/office/records/: search by number, document or name, scoped, masked, paginated, rate-limited."""

from __future__ import annotations

import re

import pytest

from tests.office.test_records_support import BIRTH, events, person
from zikao.accounts.permissions import Role
from zikao.core.identity import make_resident_id

pytestmark = pytest.mark.django_db
URL = "/office/records/"


def _numbers(response) -> list[str]:
    return re.findall(r'href="/office/records/(\d{12})/"', response.content.decode())


@pytest.fixture
def people(offices):
    return {
        "mine": person(offices.county, seq=1, name="王小明", phone="13812345678"),
        "mine_prefix": person(offices.county, seq=2, name="王小明明"),
        "sibling": person(offices.sibling_county, seq=3, name="王小明"),
        "elsewhere": person(offices.other_county, seq=4, name="王小明"),
    }


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("county", {"mine", "mine_prefix"}),
        ("city", {"mine", "mine_prefix", "sibling"}),
        ("province", {"mine", "mine_prefix", "sibling", "elsewhere"}),
    ],
)
def test_name_search_never_leaves_the_scope(offices, make_staff, staff_client, people, level, expected):
    user = make_staff(roles=(Role.READ_ONLY,), office=getattr(offices, level))
    response = staff_client(user).get(URL, {"q": "王小明"})
    assert response.status_code == 200
    assert set(_numbers(response)) == {people[k].candidate_no for k in expected}
    assert response["Cache-Control"] == "private, no-store"


def test_exact_name_comes_before_prefix_matches(offices, make_staff, staff_client, people):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.county)
    response = staff_client(user).get(URL, {"q": "王小明", "by": "name"})
    assert _numbers(response) == [people["mine"].candidate_no, people["mine_prefix"].candidate_no]


def test_a_bare_surname_matches_only_exactly(offices, make_staff, staff_client, people):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.county)
    response = staff_client(user).get(URL, {"q": "王"})
    assert response.status_code == 200 and _numbers(response) == []
    assert "共找到 0 条考籍" in response.content.decode()


def test_candidate_number_is_exact_and_scoped(offices, make_staff, staff_client, people):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    assert _numbers(client.get(URL, {"q": people["mine"].candidate_no})) == [people["mine"].candidate_no]
    assert _numbers(client.get(URL, {"q": people["sibling"].candidate_no})) == []
    assert _numbers(client.get(URL, {"q": people["mine"].candidate_no[:11], "by": "candidate_no"})) == []


def test_full_id_finds_the_record_but_is_shown_masked(offices, make_staff, staff_client, people):
    client = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    mine = people["mine"]
    typed = f" {mine.id_number[:6]} {mine.id_number[6:].lower()} "
    response = client.get(URL, {"q": typed})
    html = response.content.decode()
    assert _numbers(response) == [mine.candidate_no]
    assert mine.id_number not in html
    assert mine.id_number[:6] + "********" + mine.id_number[-4:] in html
    assert "138****5678" in html and "13812345678" not in html
    [event] = events("record.searched")
    assert event.after == {
        "kind": "id_number",
        "query": mine.id_number[:6] + "********" + mine.id_number[-4:],
        "page": 1,
        "results": 1,
    }
    assert mine.id_number not in str(event.after)


def test_an_old_fifteen_digit_number_finds_the_eighteen_digit_record(offices, make_staff, staff_client):
    born_1965 = person(offices.county, seq=5, birth=BIRTH.replace(year=1965))
    old = born_1965.id_number[:6] + born_1965.id_number[8:17]
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    assert _numbers(client.get(URL, {"q": old})) == [born_1965.candidate_no]


def test_results_are_paginated(offices, make_staff, staff_client):
    for n in range(25):
        person(offices.county, seq=100 + n, name="张三")
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    first = client.get(URL, {"q": "张三"})
    second = client.get(URL, {"q": "张三", "page": 2})
    assert (len(_numbers(first)), len(_numbers(second))) == (20, 5)
    assert set(_numbers(first)).isdisjoint(_numbers(second))
    assert "共找到 25 条考籍" in first.content.decode()
    assert "q=%E5%BC%A0%E4%B8%89&amp;by=auto&amp;page=2" in first.content.decode()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"q": "12345", "by": "candidate_no"}, "RECORD_SEARCH_CANDIDATE_NO_INVALID"),
        ({"q": "王小明", "by": "id_number"}, "RECORD_SEARCH_ID_INVALID"),
        ({"q": "   "}, "RECORD_SEARCH_EMPTY"),
        ({"q": "王小明", "by": "email"}, None),  # not a choice: the form refuses it
    ],
)
def test_bad_searches_say_why(offices, make_staff, staff_client, people, params, code):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    response = client.get(URL, params)
    assert response.status_code == 422
    assert _numbers(response) == []
    if code:
        assert code in response.content.decode()
    assert not events("record.searched")


def test_searches_are_rate_limited_per_staff_user(offices, make_staff, staff_client, people, settings):
    settings.ZIKAO_OFFICE_SEARCH_PER_10_MINUTES = 3
    harvester = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.province))
    colleague = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.province))
    for _ in range(3):
        assert harvester.get(URL, {"q": "王小明"}).status_code == 200
    refused = harvester.get(URL, {"q": "王小明"})
    assert refused.status_code == 429
    assert "RATE_LIMITED" in refused.content.decode() and _numbers(refused) == []
    assert len(events("record.searched")) == 3
    assert colleague.get(URL, {"q": "王小明"}).status_code == 200


def test_the_empty_form_is_not_a_search(offices, make_staff, staff_client):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    response = client.get(URL)
    assert response.status_code == 200
    assert 'name="q"' in response.content.decode()
    assert not events("record.searched")


def test_merged_records_are_found_and_marked(offices, make_staff, staff_client):
    survivor = person(offices.county, seq=6, name="赵六")
    merged = person(
        offices.county,
        seq=7,
        name="赵六",
        id_number=make_resident_id("320102", BIRTH, 6)[:6] + make_resident_id("320102", BIRTH, 6)[8:17],
        gender=survivor.gender,
        status="merged",
        merged_into=survivor,
    )
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    response = client.get(URL, {"q": "赵六"})
    assert set(_numbers(response)) == {survivor.candidate_no, merged.candidate_no}
    assert 'class="status-merged">已合并' in response.content.decode()
