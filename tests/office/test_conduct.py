"""Office pages of violations (/office/conduct/): permission matrix, scope, forms, bad input."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.conduct import fixtures as conduct_fixtures
from tests.conduct.fixtures import current, state
from tests.factories import CandidateFactory, EntryFactory, ScoreFactory
from zikao.accounts.permissions import Role
from zikao.conduct import services
from zikao.conduct.models import Violation, ViolationAppeal
from zikao.core.audit import Actor
from zikao.core.models import AuditEvent
from zikao.scores.models import Score

pytestmark = pytest.mark.django_db
# The conduct fixtures (a candidate with results in a released sitting, officers at each level).
world = conduct_fixtures.world
frozen = conduct_fixtures.frozen
D = dt.date


def violation(w, kind="cheating", course=None, actor=None, **kw):
    return services.violation_record(
        actor=actor or w.actor,
        candidate=w.candidate,
        sitting=w.sitting,
        course=course,
        kind=kind,
        description=kw.pop("description", "携带手机进入考场"),
        **kw,
    )


def without_csrf(response) -> str:
    """The page with its (per-response masked) CSRF tokens blanked, to compare two pages."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def client_for(w, staff_client, *, roles=(Role.CONDUCT_OFFICER,), office="county"):
    user = w.make_staff(roles=roles, office=getattr(w.offices, office))
    return staff_client(user)


# --- permission matrix -------------------------------------------------------------------------

PAGES = [
    ("conduct_list", False, "view"),
    ("conduct_record", False, "record"),
    ("conduct_detail", True, "view"),
    ("conduct_appeal_lodge", True, "record"),
    ("conduct_revoke", True, "record"),
]


def url(name, v):
    return (
        reverse(f"office:{name}", args=[v.pk])
        if name not in ("conduct_list", "conduct_record")
        else (reverse(f"office:{name}"))
    )


@pytest.mark.parametrize("name,needs_id,perm", PAGES)
def test_anonymous_is_sent_to_sign_in(world, name, needs_id, perm):
    v = violation(world)
    response = Client().get(url(name, v))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("office:login"))


def test_signed_in_without_second_factor_is_sent_to_sign_in(world):
    v = violation(world)
    client = Client()
    client.force_login(world.officer)
    response = client.get(url("conduct_detail", v))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("office:login"))


@pytest.mark.parametrize("name,needs_id,perm", PAGES)
@pytest.mark.parametrize("roles", [(Role.SCORE_MANAGER,), (Role.AUDITOR,), ()])
def test_staff_without_conduct_permissions_get_403(world, staff_client, name, needs_id, perm, roles):
    v = violation(world)
    client = client_for(world, staff_client, roles=roles, office="province")
    assert client.get(url(name, v)).status_code == 403


@pytest.mark.parametrize("name,needs_id,perm", PAGES)
@pytest.mark.parametrize("role", [Role.READ_ONLY, Role.RECORD_CLERK])
def test_view_only_roles_see_but_cannot_act(world, staff_client, name, needs_id, perm, role):
    v = violation(world)
    client = client_for(world, staff_client, roles=(role,), office="county")
    assert client.get(url(name, v)).status_code == (200 if perm == "view" else 403)


@pytest.mark.parametrize("name,needs_id,perm", PAGES)
@pytest.mark.parametrize("office", ["county", "city", "province"])
def test_officers_in_scope_at_every_level_get_the_page(world, staff_client, name, needs_id, perm, office):
    v = violation(world)
    client = client_for(world, staff_client, office=office)
    assert client.get(url(name, v)).status_code == 200


@pytest.mark.parametrize(
    "name", ["conduct_detail", "conduct_appeal_lodge", "conduct_revoke", "conduct_appeal_decide"]
)
@pytest.mark.parametrize("office", ["sibling_county", "other_city", "other_county"])
def test_out_of_scope_looks_exactly_like_missing(world, staff_client, name, office):
    v = violation(world)
    client = client_for(world, staff_client, office=office)
    out_of_scope = client.get(url(name, v))
    missing = client.get(reverse(f"office:{name}", args=[v.pk + 1000]))
    assert out_of_scope.status_code == missing.status_code == 404
    # Identical but for the address itself (echoed in the language switcher's "next").
    assert without_csrf(out_of_scope) == without_csrf(missing).replace(f"/{v.pk + 1000}/", f"/{v.pk}/")


@pytest.mark.parametrize("pk", ["99999999999999999999", "0", "9223372036854775808"])
def test_absurd_ids_are_404_not_500(world, staff_client, pk):
    client = client_for(world, staff_client)
    assert client.get(f"/office/conduct/{pk}/").status_code == 404
    assert client.post(f"/office/conduct/{pk}/revoke/", {"reason": "x"}).status_code == 404


# --- list -------------------------------------------------------------------------------------


def test_list_shows_only_scoped_violations_with_filters(world, staff_client):
    mine = violation(world, "serious_cheating", suspension_years=2)
    other_candidate = CandidateFactory(county_office=world.offices.other_county)
    EntryFactory(candidate=other_candidate, sitting=world.sitting, course=world.courses.A)
    theirs = services.violation_record(
        actor=Actor.staff(world.province_officer),
        candidate=other_candidate,
        sitting=world.sitting,
        course=world.courses.A,
        kind="rule_breach",
        description="x",
    )
    county = client_for(world, staff_client)
    body = county.get(reverse("office:conduct_list")).content.decode()
    assert world.candidate.candidate_no in body
    assert other_candidate.candidate_no not in body
    assert world.candidate.name not in body  # masked in the list
    assert "王*" in body
    province = client_for(world, staff_client, office="province")
    body = province.get(reverse("office:conduct_list")).content.decode()
    assert world.candidate.candidate_no in body and other_candidate.candidate_no in body
    body = province.get(reverse("office:conduct_list"), {"kind": "rule_breach"}).content.decode()
    assert other_candidate.candidate_no in body and world.candidate.candidate_no not in body
    body = province.get(
        reverse("office:conduct_list"), {"candidate_no": world.candidate.candidate_no}
    ).content
    assert world.candidate.candidate_no in body.decode() and other_candidate.candidate_no not in body.decode()
    services.violation_revoke(actor=world.actor, violation=mine, reason="误报")
    body = province.get(reverse("office:conduct_list"), {"status": "revoked"}).content.decode()
    assert world.candidate.candidate_no in body and other_candidate.candidate_no not in body
    body = province.get(reverse("office:conduct_list"), {"status": "active"}).content.decode()
    assert world.candidate.candidate_no not in body and other_candidate.candidate_no in body
    services.violation_appeal_lodge(
        actor=Actor.staff(world.province_officer),
        violation=theirs,
        submitted_on=D(2026, 5, 20),
        grounds="不服",
    )
    body = province.get(reverse("office:conduct_list"), {"status": "appealing"}).content.decode()
    assert other_candidate.candidate_no in body and "复核中" in body


@pytest.mark.parametrize(
    "params",
    [
        {"sitting": "209913"},
        {"kind": "bribery"},
        {"status": "lost"},
        {"candidate_no": "abc"},
        {"candidate_no": "1" * 40},
        {"page": "abc"},
        {"page": "99999"},
        {"page": "-1"},
    ],
)
def test_list_bad_filters_never_500(world, staff_client, params):
    violation(world)
    response = client_for(world, staff_client).get(reverse("office:conduct_list"), params)
    assert response.status_code == 200


def test_list_paginates(world, staff_client, monkeypatch):
    from zikao.office import views_conduct

    monkeypatch.setattr(views_conduct, "PAGE_SIZE", 1)
    violation(world, "rule_breach", world.courses.A)
    violation(world, "rule_breach", world.courses.B)
    client = client_for(world, staff_client)
    body = client.get(reverse("office:conduct_list"), {"kind": "rule_breach", "page": "2"}).content.decode()
    assert "第 2 / 2 页" in body
    assert "kind=rule_breach&amp;page=1" in body


# --- record -----------------------------------------------------------------------------------


def test_record_lookup_shows_the_candidates_courses_of_the_sitting(world, staff_client):
    client = client_for(world, staff_client)
    response = client.get(
        reverse("office:conduct_record"), {"candidate_no": world.candidate.candidate_no, "sitting": "202604"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    for code in ("00015", "00023", "02197", "02331", "02326"):
        assert code in body
    assert "03708" not in body  # another sitting
    assert 'name="description"' in body


@pytest.mark.parametrize("office", ["sibling_county", "other_city"])
def test_record_lookup_out_of_scope_looks_like_unknown_number(world, staff_client, office):
    client = client_for(world, staff_client, office=office)
    out = client.get(
        reverse("office:conduct_record"), {"candidate_no": world.candidate.candidate_no, "sitting": "202604"}
    )
    unknown = client.get(
        reverse("office:conduct_record"), {"candidate_no": "999999999999", "sitting": "202604"}
    )
    assert out.status_code == unknown.status_code == 200
    text = "未找到该考生，或该考生不在您的管辖范围内。"
    assert text in out.content.decode() and text in unknown.content.decode()
    assert world.candidate.name not in out.content.decode()
    assert 'name="description"' not in out.content.decode()


def post_record(client, w, **data):
    payload = {
        "candidate_no": w.candidate.candidate_no,
        "sitting": "202604",
        "kind": "cheating",
        "course": "",
        "suspension_years": "",
        "description": "夹带纸条",
        "evidence_note": "监考记录表第3号",
    }
    payload.update(data)
    return client.post(reverse("office:conduct_record"), payload)


def test_record_post_records_and_voids(world, staff_client):
    client = client_for(world, staff_client)
    response = post_record(client, world, kind="serious_cheating", suspension_years="2")
    v = Violation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("office:conduct_detail", args=[v.pk])
    assert (v.kind, v.suspension_years, v.suspension_ends, v.evidence_note) == (
        "serious_cheating",
        2,
        D(2028, 4, 10),
        "监考记录表第3号",
    )
    assert current(world.candidate, world.courses.A, world.sitting).status == "void"
    detail = client.get(response["Location"]).content.decode()
    assert "违规处理已记录" in detail
    assert "00015" in detail and "作废中" in detail and "认定违规" in detail


def test_record_rule_breach_with_course(world, staff_client):
    client = client_for(world, staff_client)
    response = post_record(client, world, kind="rule_breach", course=str(world.courses.B.pk))
    assert response.status_code == 302
    assert Violation.objects.get().course == world.courses.B
    assert current(world.candidate, world.courses.A, world.sitting).status == "valid"
    assert current(world.candidate, world.courses.B, world.sitting).status == "void"


@pytest.mark.parametrize(
    "data,message",
    [
        ({"kind": "cheating", "course": "A"}, "VIOLATION_COURSE_NOT_APPLICABLE"),
        ({"kind": "rule_breach"}, "VIOLATION_COURSE_REQUIRED"),
        ({"kind": "cheating", "suspension_years": "2"}, "VIOLATION_SUSPENSION_NOT_ALLOWED"),
        ({"kind": "serious_cheating", "suspension_years": "9"}, "选择一个有效的选项"),
        ({"kind": "bribery"}, "选择一个有效的选项"),
        ({"kind": "rule_breach", "course": "X"}, "选择一个有效的选项"),  # not a course of this sitting
        ({"kind": "rule_breach", "course": "abc"}, "选择一个有效的选项"),
        ({"description": ""}, "这个字段是必须的"),
        ({"description": "x" * 4001}, "4000"),
    ],
)
def test_record_bad_input_is_explained_and_nothing_written(world, staff_client, data, message):
    client = client_for(world, staff_client)
    data = dict(data)
    if data.get("course") in ("A", "X"):
        data["course"] = str(getattr(world.courses, data["course"]).pk)
    before = state()
    response = post_record(client, world, **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert state() == before


def test_record_duplicate_is_refused_on_the_form(world, staff_client):
    client = client_for(world, staff_client)
    assert post_record(client, world).status_code == 302
    before = state()
    response = post_record(client, world)
    assert response.status_code == 422
    assert "VIOLATION_DUPLICATE" in response.content.decode()
    assert state() == before


@pytest.mark.parametrize(
    "tamper", [{"candidate_no": "abc"}, {"sitting": "209901"}, {"candidate_no": "999999999999"}]
)
def test_record_post_with_tampered_hidden_fields_writes_nothing(world, staff_client, tamper):
    client = client_for(world, staff_client)
    before = state()
    response = post_record(client, world, **tamper)
    assert response.status_code == 200
    assert state() == before


@pytest.mark.parametrize("office", ["sibling_county", "other_county"])
def test_record_post_out_of_scope_writes_nothing(world, staff_client, office):
    client = client_for(world, staff_client, office=office)
    before = state()
    response = post_record(client, world)
    assert response.status_code == 200
    assert "不在您的管辖范围内" in response.content.decode()
    assert state() == before


def test_record_post_by_read_only_is_403_and_writes_nothing(world, staff_client):
    client = client_for(world, staff_client, roles=(Role.READ_ONLY,), office="province")
    before = state()
    assert post_record(client, world).status_code == 403
    assert state() == before


# --- detail -------------------------------------------------------------------------------------


def test_detail_shows_history_voided_scores_and_only_usable_buttons(world, staff_client):
    v = violation(world, "serious_cheating", suspension_years=1)
    officer = staff_client(world.officer)
    body = officer.get(url("conduct_detail", v)).content.decode()
    assert "停考中" in body
    assert world.candidate.name in body
    for code in ("00015", "00023", "02331"):
        assert code in body
    assert reverse("office:conduct_appeal_lodge", args=[v.pk]) in body
    assert reverse("office:conduct_revoke", args=[v.pk]) in body
    reader = client_for(world, staff_client, roles=(Role.READ_ONLY,))
    body = reader.get(url("conduct_detail", v)).content.decode()
    assert reverse("office:conduct_revoke", args=[v.pk]) not in body
    assert reverse("office:conduct_appeal_lodge", args=[v.pk]) not in body


def test_detail_after_reduction_spells_out_the_change(world, staff_client):
    v = violation(world, "serious_cheating", suspension_years=3)
    appeal = services.violation_appeal_lodge(
        actor=world.actor, violation=v, submitted_on=D(2026, 5, 20), grounds="情节较轻"
    )
    services.violation_appeal_decide(
        actor=Actor.staff(world.city_officer),
        appeal=appeal,
        outcome="reduced",
        note="改为作弊",
        kind="cheating",
    )
    body = staff_client(world.officer).get(url("conduct_detail", v)).content.decode()
    assert "严重作弊，停考3年 → 作弊" in body
    assert "复核：减轻处理" in body


def test_detail_offers_apply_for_results_imported_later(world, staff_client):
    from zikao.scores.services import score_record

    v = violation(world)
    score_record(
        actor=Actor.system("import"),
        candidate=world.candidate,
        course=world.courses.D,
        sitting=world.sitting,
        value=70,
    )
    client = staff_client(world.officer)
    body = client.get(url("conduct_detail", v)).content.decode()
    assert reverse("office:conduct_apply", args=[v.pk]) in body
    response = client.post(reverse("office:conduct_apply", args=[v.pk]))
    assert response.status_code == 302
    assert current(world.candidate, world.courses.D, world.sitting).status == "void"
    response = client.post(reverse("office:conduct_apply", args=[v.pk]), follow=True)
    assert "VIOLATION_NOTHING_TO_VOID" in response.content.decode()


def test_apply_matrix(world, staff_client):
    v = violation(world)
    apply_url = reverse("office:conduct_apply", args=[v.pk])
    before = state()
    assert Client().post(apply_url).status_code == 302  # to sign-in
    assert client_for(world, staff_client, roles=(Role.READ_ONLY,)).post(apply_url).status_code == 403
    assert client_for(world, staff_client, office="other_city").post(apply_url).status_code == 404
    assert staff_client(world.officer).get(apply_url).status_code == 405
    assert state() == before


# --- appeal and revocation pages -------------------------------------------------------------


def test_appeal_lodge_page(world, staff_client):
    v = violation(world)
    client = staff_client(world.officer)
    page = url("conduct_appeal_lodge", v)
    before = state()
    for bad in (
        {"submitted_on": "2026-13-45", "grounds": "x"},
        {"submitted_on": "", "grounds": "x"},
        {"submitted_on": "2026-05-21", "grounds": "x"},
        {"submitted_on": "2026-05-20", "grounds": ""},
        {"submitted_on": "2026-05-20", "decision_received_on": "2026-05-01", "grounds": "x"},
    ):
        response = client.post(page, bad)
        assert response.status_code == 422, bad
    assert state() == before
    response = client.post(page, {"submitted_on": "2026-05-20", "grounds": "本人未作弊"})
    assert response.status_code == 302
    assert ViolationAppeal.objects.get().grounds == "本人未作弊"
    response = client.post(page, {"submitted_on": "2026-05-20", "grounds": "再次申请"})
    assert response.status_code == 422
    assert "VIOLATION_APPEAL_EXISTS" in response.content.decode()


def test_appeal_decide_page_levels_and_outcomes(world, staff_client):
    v = violation(world)
    page = url("conduct_appeal_decide", v)
    county = staff_client(world.officer)
    # No open appeal: back to the detail page with a message.
    response = county.get(page)
    assert response.status_code == 302
    services.violation_appeal_lodge(
        actor=world.actor, violation=v, submitted_on=D(2026, 5, 20), grounds="不服"
    )
    body = county.get(url("conduct_detail", v)).content.decode()
    assert page not in body  # a county officer cannot decide an appeal against a county decision
    before = state()
    response = county.post(page, {"outcome": "revoked", "note": "撤销"})
    assert response.status_code == 422
    assert "VIOLATION_APPEAL_LEVEL" in response.content.decode()
    assert state() == before
    city = staff_client(world.city_officer)
    assert page in city.get(url("conduct_detail", v)).content.decode()
    for bad in (
        {"outcome": "annul", "note": "x"},
        {"outcome": "revoked", "note": ""},
        {"outcome": "reduced", "note": "x", "kind": "cheating"},
        {"outcome": "reduced", "note": "x", "kind": "rule_breach"},
        {"outcome": "reduced", "note": "x", "kind": "rule_breach", "course": "999999"},
        {"outcome": "reduced", "note": "x", "kind": "cheating", "suspension_years": "7"},
    ):
        response = city.post(page, bad)
        assert response.status_code == 422, bad
    assert state() == before
    response = city.post(
        page,
        {"outcome": "reduced", "note": "仅违纪", "kind": "rule_breach", "course": str(world.courses.A.pk)},
    )
    assert response.status_code == 302
    v.refresh_from_db()
    assert (v.kind, v.course) == ("rule_breach", world.courses.A)
    assert current(world.candidate, world.courses.B, world.sitting).value == 58
    assert current(world.candidate, world.courses.A, world.sitting).status == "void"
    response = city.get(page)
    assert response.status_code == 302  # decided: nothing left to decide


def test_appeal_decide_page_matrix(world, staff_client):
    v = violation(world)
    services.violation_appeal_lodge(
        actor=world.actor, violation=v, submitted_on=D(2026, 5, 20), grounds="不服"
    )
    page = url("conduct_appeal_decide", v)
    before = state()
    assert Client().post(page, {"outcome": "revoked", "note": "x"}).status_code == 302
    reader = client_for(world, staff_client, roles=(Role.READ_ONLY,), office="province")
    assert reader.post(page, {"outcome": "revoked", "note": "x"}).status_code == 403
    outsider = client_for(world, staff_client, office="other_city")
    assert outsider.post(page, {"outcome": "revoked", "note": "x"}).status_code == 404
    assert state() == before
    province = client_for(world, staff_client, office="province")
    assert province.get(page).status_code == 200
    assert province.post(page, {"outcome": "upheld", "note": "维持"}).status_code == 302
    assert ViolationAppeal.objects.get().status == "upheld"


def test_revoke_page(world, staff_client):
    v = violation(world, "organised_cheating")
    client = staff_client(world.officer)
    page = url("conduct_revoke", v)
    before = state()
    assert client.post(page, {"reason": ""}).status_code == 422
    assert client.post(page, {"reason": " "}).status_code == 422
    assert state() == before
    outsider = client_for(world, staff_client, office="sibling_county")
    assert outsider.post(page, {"reason": "x"}).status_code == 404
    reader = client_for(world, staff_client, roles=(Role.READ_ONLY,))
    assert reader.post(page, {"reason": "x"}).status_code == 403
    assert state() == before
    response = client.post(page, {"reason": "监考误报"})
    assert response.status_code == 302
    v.refresh_from_db()
    assert v.revocation_reason == "监考误报"
    assert current(world.candidate, world.courses.A, world.sitting).value == 75
    assert AuditEvent.objects.filter(event_type="violation.revoked").count() == 1
    body = client.get(page).content.decode()
    assert "该违规处理已撤销。" in body and 'name="reason"' not in body
    response = client.post(page, {"reason": "again"})
    assert response.status_code == 422 and "VIOLATION_REVOKED" in response.content.decode()


def test_revoke_with_open_appeal_is_explained(world, staff_client):
    v = violation(world)
    services.violation_appeal_lodge(
        actor=world.actor, violation=v, submitted_on=D(2026, 5, 20), grounds="不服"
    )
    client = staff_client(world.officer)
    assert url("conduct_revoke", v) not in client.get(url("conduct_detail", v)).content.decode()
    response = client.post(url("conduct_revoke", v), {"reason": "x"})
    assert response.status_code == 422 and "VIOLATION_APPEAL_OPEN" in response.content.decode()


# --- menu ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "roles,list_link,record_link",
    [
        ((Role.CONDUCT_OFFICER,), True, True),
        ((Role.READ_ONLY,), True, False),
        ((Role.SCORE_MANAGER,), False, False),
    ],
)
def test_menu_shows_only_usable_entries(world, staff_client, roles, list_link, record_link):
    body = client_for(world, staff_client, roles=roles).get(reverse("office:home")).content.decode()
    assert (f'href="{reverse("office:conduct_list")}"' in body) is list_link
    assert (f'href="{reverse("office:conduct_record")}"' in body) is record_link


# --- the candidate's side ------------------------------------------------------------------------


def test_portal_record_shows_revoked_violation_and_void_scores(world):
    from tests.portal.helpers import log_in

    v = violation(world, "serious_cheating", suspension_years=1)
    client = Client()
    log_in(client, world.candidate)
    body = client.get(reverse("portal:record")).content.decode()
    assert "严重作弊" in body and "停考期间" in body and "违规作废" in body
    services.violation_revoke(actor=world.actor, violation=v, reason="误报")
    body = client.get(reverse("portal:record")).content.decode()
    assert "已撤销" in body and "停考期间" not in body
    assert Score.objects.filter(candidate=world.candidate, is_current=True, status="void").count() == 0


def test_nothing_else_in_scope_is_changed_by_a_record(world, staff_client):
    stranger = ScoreFactory(
        entry=EntryFactory(
            candidate=CandidateFactory(county_office=world.offices.county),
            sitting=world.sitting,
            course=world.courses.A,
        ),
        value=90,
    )
    post_record(staff_client(world.officer), world)
    stranger.refresh_from_db()
    assert (stranger.is_current, stranger.status, stranger.value) == (True, "valid", 90)
