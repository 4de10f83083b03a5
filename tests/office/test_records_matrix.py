"""Permission matrix of every record-administration page and action.

For each: anonymous → sign-in page; staff without the permission → 403; the permission at too low
an office level (merge needs a city office) → 403; the permission but the record out of scope →
the same 404 as a missing record; the permission in scope → the page or the action. Every denial
leaves the database exactly as it was (no audit event, no change).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from tests.office.test_records_support import person
from zikao.accounts.models import CandidateAccount
from zikao.accounts.permissions import Role
from zikao.candidates.models import Candidate, ProfileChangeRequest
from zikao.candidates.services import profile_change_request_create
from zikao.core.audit import Actor
from zikao.core.identity import make_resident_id
from zikao.core.models import AuditEvent

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Action:
    name: str
    method: str
    path: str  # formatted with the world
    ok: int
    data: tuple = ()
    scoped: bool = True  # names one record (out of scope → 404)
    view_only: bool = False  # records.view is enough
    city_level: bool = False  # records.merge


ACTIONS = [
    Action("search", "get", "/office/records/?q=王小明", 200, scoped=False, view_only=True),
    Action("record", "get", "/office/records/{mine}/", 200, view_only=True),
    Action("reveal_id", "post", "/office/records/{mine}/reveal-id/", 200),
    Action("password_reset_form", "get", "/office/records/{mine}/password-reset/", 200),
    Action("password_reset", "post", "/office/records/{mine}/password-reset/", 302),
    Action("requests", "get", "/office/records/requests/", 200, scoped=False),
    Action("request_detail", "get", "/office/records/requests/{request}/", 200),
    Action("request_approve", "post", "/office/records/requests/{request}/approve/", 302),
    Action(
        "request_reject",
        "post",
        "/office/records/requests/{request}/reject/",
        302,
        data=(("reason", "材料不全"),),
    ),
    Action("request_reveal_id", "post", "/office/records/requests/{request}/reveal-id/", 200),
    Action("merge_form", "get", "/office/records/merge/", 200, scoped=False, city_level=True),
    Action(
        "merge_preview",
        "get",
        "/office/records/merge/?survivor_no={mine}&closed_no={twin}",
        200,
        city_level=True,
    ),
    Action("merge", "post", "/office/records/merge/", 302, city_level=True),
]


def _world(offices):
    mine = person(offices.county, seq=1)
    twin = person(offices.county, seq=0, id_type="passport", id_number=mine.id_number, gender=mine.gender)
    request = profile_change_request_create(
        actor=Actor.candidate(mine),
        candidate=mine,
        field="id_number",
        new_value=make_resident_id("320102", mine.birth_date, 13),
        reason="证件更换",
    )
    return SimpleNamespace(mine=mine, twin=twin, request=request)


def _state():
    return (
        AuditEvent.objects.count(),
        list(
            Candidate.objects.order_by("pk").values_list("pk", "status", "merged_into", "id_number", "name")
        ),
        list(ProfileChangeRequest.objects.order_by("pk").values_list("pk", "status")),
        CandidateAccount.objects.count(),
    )


def _call(client, action: Action, world, fingerprint: str = ""):
    path = action.path.format(
        mine=world.mine.candidate_no, twin=world.twin.candidate_no, request=world.request.pk
    )
    if action.method == "get":
        return client.get(path)
    data = dict(action.data)
    if action.name == "merge":
        data.update(
            survivor_no=world.mine.candidate_no,
            closed_no=world.twin.candidate_no,
            fingerprint=fingerprint,
            confirm="on",
        )
    return client.post(path, data)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_permission_matrix(offices, make_staff, staff_client, client, action: Action):
    world = _world(offices)
    fingerprint = ""
    if action.name == "merge":
        from zikao.candidates.selectors import merge_plan

        fingerprint = merge_plan(world.mine, world.twin).fingerprint
    before = _state()

    # anonymous → the office sign-in page, nothing written
    response = _call(client, action, world, fingerprint)
    assert response.status_code == 302 and response["Location"].startswith("/office/login/")
    assert _state() == before

    # staff without any records permission → 403
    outsider = staff_client(
        make_staff(roles=(Role.CATALOG_MANAGER, Role.STAFF_ADMIN), office=offices.province)
    )
    assert _call(outsider, action, world, fingerprint).status_code == 403
    assert _state() == before

    # records.view only (read-only role, in scope)
    viewer = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    answer = _call(viewer, action, world, fingerprint)
    if action.view_only:
        assert answer.status_code == action.ok
    else:
        assert answer.status_code == 403
    after_viewer = _state()
    if not action.view_only:
        assert after_viewer == before
    before = after_viewer  # a search writes its own `record.searched` event

    # the permission at a county office, for a city-level permission → 403
    county_clerk = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    if action.city_level:
        assert _call(county_clerk, action, world, fingerprint).status_code == 403
        assert _state() == before

    # the permission, out of scope → the same 404 as a missing record (unscoped pages: empty)
    stranger = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.other_city))
    answer = _call(stranger, action, world, fingerprint)
    if action.scoped:
        assert answer.status_code == 404
        assert world.mine.name not in answer.content.decode().split('<main id="main">')[1]
        assert _state() == before
    else:
        assert answer.status_code == 200
        assert world.mine.candidate_no not in answer.content.decode()
    before = _state()

    # the permission in scope → done
    in_scope = (
        county_clerk
        if not action.city_level
        else staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.city))
    )
    answer = _call(in_scope, action, world, fingerprint)
    assert answer.status_code == action.ok
    if action.name == "merge":
        assert Candidate.objects.get(pk=world.twin.pk).status == "merged"
    if action.name == "password_reset":
        assert CandidateAccount.objects.get(candidate=world.mine).must_change_password is True
    if action.name == "request_approve":
        assert ProfileChangeRequest.objects.get(pk=world.request.pk).status == "approved"
    if action.name == "request_reject":
        assert ProfileChangeRequest.objects.get(pk=world.request.pk).status == "rejected"
    if action.name in ("reveal_id", "request_reveal_id"):
        assert AuditEvent.objects.filter(event_type="record.full_id_viewed").count() == 1
    if action.method == "get" and action.name != "search":
        assert _state() == before  # reading a page writes nothing


def test_menu_shows_only_usable_entries(offices, make_staff, staff_client):
    viewer = (
        staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
        .get("/office/")
        .content.decode()
    )
    assert 'href="/office/records/"' in viewer
    assert 'href="/office/records/requests/"' not in viewer and 'href="/office/records/merge/"' not in viewer
    county = (
        staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
        .get("/office/")
        .content.decode()
    )
    assert 'href="/office/records/requests/"' in county and 'href="/office/records/merge/"' not in county
    city = (
        staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.city))
        .get("/office/")
        .content.decode()
    )
    assert 'href="/office/records/merge/"' in city
    none = staff_client(make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province)).get("/office/")
    assert 'href="/office/records/' not in none.content.decode()
