"""The shared gate (office.access) and the permission/scope rules (accounts.permissions)."""

from __future__ import annotations

import pytest

from tests.factories import CandidateFactory
from zikao.accounts.permissions import (
    Perm,
    Role,
    candidates_in_scope,
    has_perm,
    require_candidate_in_scope,
)
from zikao.core.errors import NotFound


@pytest.mark.parametrize(
    ("level", "perm", "expected"),
    [
        ("province", Perm.SCORES_IMPORT, True),
        ("city", Perm.SCORES_IMPORT, False),
        ("county", Perm.SCORES_IMPORT, False),
        ("county", Perm.SCORES_VIEW, True),
        ("county", Perm.RECORDS_MERGE, False),
        ("city", Perm.RECORDS_MERGE, False),
    ],
)
def test_permission_needs_role_and_office_level(offices, make_staff, level, perm, expected):
    office = {"province": offices.province, "city": offices.city, "county": offices.county}[level]
    user = make_staff(roles=(Role.SCORE_MANAGER,), office=office)
    assert has_perm(user, perm) is expected


def test_no_role_no_permission(offices, make_staff):
    user = make_staff(roles=(), office=offices.province)
    assert has_perm(user, Perm.RECORDS_VIEW) is False


def test_inactive_user_has_no_permission(offices, make_staff):
    user = make_staff(roles=(Role.RECORD_CLERK,), office=offices.province, is_active=False)
    assert has_perm(user, Perm.RECORDS_VIEW) is False


def test_candidate_scope_by_office_level(offices, make_staff):
    mine = CandidateFactory(county_office=offices.county)
    sibling = CandidateFactory(county_office=offices.sibling_county)
    elsewhere = CandidateFactory(county_office=offices.other_county)
    province = make_staff(roles=(Role.READ_ONLY,), office=offices.province)
    city = make_staff(roles=(Role.READ_ONLY,), office=offices.city)
    county = make_staff(roles=(Role.READ_ONLY,), office=offices.county)
    assert set(candidates_in_scope(province)) == {mine, sibling, elsewhere}
    assert set(candidates_in_scope(city)) == {mine, sibling}
    assert set(candidates_in_scope(county)) == {mine}
    require_candidate_in_scope(county, mine)
    with pytest.raises(NotFound):
        require_candidate_in_scope(county, sibling)
    with pytest.raises(NotFound):
        require_candidate_in_scope(city, elsewhere)


def test_office_home_needs_verified_staff(offices, make_staff, staff_client, client):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.city)
    assert client.get("/office/").status_code == 302
    client.force_login(user)  # password only, second factor not verified
    assert client.get("/office/").status_code == 302
    response = staff_client(user).get("/office/")
    assert response.status_code == 200
    assert "只读查询" in response.content.decode()
