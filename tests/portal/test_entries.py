"""The portal's entry pages (报考): what is shown, entering, refusals next to their course,
cancelling, swapping, moving area, and the permission matrix (anonymous, first password not
changed, this candidate, another candidate's entry)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.entries.world import CLOSES, DURING, EntryWorld, build_entry_world
from tests.portal.helpers import log_in
from zikao.core import clock
from zikao.core.models import AuditEvent
from zikao.entries.models import AreaSlotCapacity, Entry

URL = "/me/entries/"


@pytest.fixture
def world(db) -> EntryWorld:
    with clock.frozen_at(DURING):
        return build_entry_world()


@pytest.fixture(autouse=True)
def _during():
    with clock.frozen_at(DURING):
        yield


@pytest.fixture
def alice(client: Client, world: EntryWorld) -> Client:
    log_in(client, world.alice)
    return client


def key_of(html: str, name: str = "idempotency_key") -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, name
    return match.group(1)


def cell(html: str, element_id: str) -> str:
    match = re.search(rf'<td id="{element_id}">(.*?)</td>', html, re.S)
    assert match, element_id
    return match.group(1)


def without_tokens(content: bytes) -> str:
    """The page without its per-response CSRF tokens (masked differently every time) and the
    language form's return path (the URL itself)."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", content.decode())
    return re.sub(r'name="next" type="hidden" value="[^"]+"', "", html)


def snapshot():
    return (
        sorted(Entry.objects.values_list("pk", "status", "area_id")),
        sorted(AreaSlotCapacity.objects.values_list("pk", "taken")),
        AuditEvent.objects.filter(event_type__startswith="entr").count(),
    )


def post(client: Client, courses, area, *, key="k-1", sitting="202610"):
    return client.post(URL, {"sitting": sitting, "courses": courses, "area": area, "idempotency_key": key})


# --- permission matrix -------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client: Client, world: EntryWorld):
    for method, url in (
        ("get", URL),
        ("post", URL),
        ("get", "/me/entries/1/cancel/"),
        ("post", "/me/entries/area/"),
    ):
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login"))
    assert Entry.objects.filter(sitting=world.sitting).count() == 0


def test_first_password_must_be_changed_first(client: Client, world: EntryWorld):
    log_in(client, world.alice, change_password=False)
    response = client.get(URL)
    assert (response.status_code, response["Location"]) == (302, reverse("portal:password_change"))


def test_another_candidates_entry_is_a_404_like_a_missing_one(alice: Client, world: EntryWorld):
    from zikao.core.audit import Actor
    from zikao.entries import services

    bobs = services.entries_create(
        actor=Actor.candidate(world.bob),
        candidate=world.bob,
        sitting=world.sitting,
        course_codes=["10001"],
        area=world.county,
    ).entries[0]
    before = snapshot()
    missing = alice.get("/me/entries/999999/cancel/")
    for url in (f"/me/entries/{bobs.pk}/cancel/", "/me/entries/abc/cancel/", f"/me/entries/{2**70}/cancel/"):
        for method in ("get", "post"):
            response = getattr(alice, method)(url)
            assert response.status_code == 404
            assert without_tokens(response.content) == without_tokens(missing.content)
    assert snapshot() == before


def test_csrf_is_required(world: EntryWorld):
    client = Client(enforce_csrf_checks=True)
    log_in(client, world.alice)
    response = post(client, ["10001"], world.county.pk)
    assert response.status_code == 403
    assert Entry.objects.filter(sitting=world.sitting).count() == 0


# --- the page ----------------------------------------------------------------------------------


def test_page_shows_window_courses_reasons_and_seats(alice: Client, world: EntryWorld):
    response = alice.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    html = response.content.decode()
    assert "202610考次" in html
    assert "2026-08-20 09:00 – 2026-08-30 17:00" in html
    assert 'data-state="open"' in html
    assert "每门 45.00 元" in html
    assert '<a href="/me/entries/" aria-current="page">报考</a>' in html
    assert "可报考" in cell(html, "reason-10001")
    assert 'data-code="ENTRY_ALREADY_PASSED"' in cell(html, "reason-10012")
    assert 'data-code="ENTRY_THEORY_NOT_PASSED"' in cell(html, "reason-10004")
    assert 'data-code="ENTRY_THESIS_NOT_YET"' in cell(html, "reason-10010")
    assert 'data-code="ENTRY_PRECONDITION_NOT_MET"' in cell(html, "reason-10011")
    assert 'id="course-10012" aria-describedby="reason-10012" disabled' in html
    assert "10008" not in html  # offered, but not in the plan: not listed
    # Areas are named by place, grouped by city, the candidate's own city first.
    assert f'<option value="{world.county.pk}" selected>南京市 玄武区</option>' in html
    choice = html[html.index('<select id="area"') : html.index("</select>", html.index('<select id="area"'))]
    assert choice.index('<optgroup label="南京市">') < choice.index('<optgroup label="苏州市">')
    assert f'<option value="{world.other_county.pk}">苏州市 姑苏区</option>' in choice
    assert "招生考试办公室" not in html and "教育考试院" not in html
    # Free seats: the current area and the rest of its city in the open table; other cities'
    # areas with free seats folded, grouped by city.
    seats = html[html.index('id="seats-h"') :]
    near, _, far = seats.partition('<details class="other-areas">')
    assert "<caption>南京市各考区</caption>" in near
    assert near.index(f'<tr data-area="{world.county.pk}" class="current">') < near.index(
        f'<tr data-area="{world.sibling.pk}"><th scope="row">秦淮区</th>'
    )
    assert '<th scope="row">玄武区 <span class="tag">当前考区</span></th>' in near
    assert "姑苏区" not in near
    assert "<summary>其他地区有空余座位的考区（1 个）</summary>" in far
    assert '<tr class="group"><th scope="rowgroup" colspan="5">苏州市</th></tr>' in far
    assert f'<tr data-area="{world.other_county.pk}"><th scope="row">姑苏区</th>' in far
    assert "秦淮区" not in far
    assert "style=" not in html and "<script" not in html


def test_page_without_any_sitting(alice: Client, world: EntryWorld):
    from zikao.catalog.models import Sitting

    Sitting.objects.update(entry_opens_at=None, entry_closes_at=None)
    html = alice.get(URL).content.decode()
    assert "目前没有可以报考的考次。" in html


def test_unknown_sitting_is_a_404(alice: Client, world: EntryWorld):
    assert alice.get(URL + "?sitting=209901").status_code == 404
    assert alice.get(URL + "?sitting=202604").status_code == 404  # no entry window


def test_closed_window_shows_no_form_and_refuses(alice: Client, world: EntryWorld):
    with clock.frozen_at(CLOSES):
        html = alice.get(URL).content.decode()
        assert 'data-code="ENTRY_WINDOW_CLOSED"' in html
        assert 'name="courses"' not in html
        before = snapshot()
        response = post(alice, ["10001"], world.county.pk)
    assert response.status_code == 422
    assert "本考次报考已于 2026-08-30 17:00 截止。" in response.content.decode()
    assert snapshot() == before


# --- entering ----------------------------------------------------------------------------------


def test_enter_courses(alice: Client, world: EntryWorld):
    key = key_of(alice.get(URL).content.decode())
    response = post(alice, ["10001", "10002"], world.county.pk, key=key)
    assert (response.status_code, response["Location"]) == (302, URL + "?sitting=202610")
    entries = Entry.objects.filter(candidate=world.alice, sitting=world.sitting).order_by("course__code")
    assert [(e.course.code, e.status) for e in entries] == [
        ("10001", "pending_payment"),
        ("10002", "pending_payment"),
    ]
    html = alice.get(response["Location"]).content.decode()
    assert "已报考 2 门课程。请在 2026-08-25 10:30 前缴费" in html
    assert "请于 2026-08-25 10:30 前缴费" in html
    assert html.count('data-status="pending_payment"') == 2
    # A new form carries a new key.
    assert key_of(html) != key


def test_double_submit_enters_once(alice: Client, world: EntryWorld):
    key = key_of(alice.get(URL).content.decode())
    assert post(alice, ["10001"], world.county.pk, key=key).status_code == 302
    assert post(alice, ["10001"], world.county.pk, key=key).status_code == 302
    assert Entry.objects.filter(candidate=world.alice).exclude(sitting=world.earlier).count() == 1
    assert world.taken()["SAT_AM"] == 1


def test_refusal_is_shown_next_to_its_course(alice: Client, world: EntryWorld):
    before = snapshot()
    response = post(alice, ["10001", "10005"], world.county.pk)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'role="alert"' in html
    assert 'data-code="ENTRY_SLOT_CLASH"' in html
    assert "同一时段只能报考一门" in cell(html, "reason-10005")
    assert "可报考" in cell(html, "reason-10001")
    assert 'value="10001" id="course-10001" aria-describedby="reason-10001" checked' in html
    assert snapshot() == before


def test_area_full_names_the_areas_with_seats(alice: Client, world: EntryWorld):
    AreaSlotCapacity.objects.filter(sitting=world.sitting, area=world.county).update(capacity=0)
    before = snapshot()
    response = post(alice, ["10001"], world.county.pk)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="area-errors"' in html
    assert "所选考区周六上午的座位已满，请改选下列仍有空位的考区。" in html
    # The areas that still have seats, by place: the own city's shown, other cities' folded.
    assert "本市仍有空位的考区：南京市 秦淮区（余 30 座）</p>" in html
    assert "<summary>其他地区仍有空位的考区（1 个）</summary>" in html
    assert "<p>苏州市 姑苏区（余 5 座）</p>" in html
    assert f'<option value="{world.county.pk}" selected>南京市 玄武区（已满）</option>' in html
    assert snapshot() == before


def test_no_courses_and_bad_area(alice: Client, world: EntryWorld):
    before = snapshot()
    response = post(alice, [], world.county.pk)
    assert response.status_code == 422
    assert "请至少选择一门课程。" in response.content.decode()
    response = post(alice, ["10001"], "")
    assert response.status_code == 422
    assert "请选择本考次设有考场的考区。" in response.content.decode()
    response = post(alice, ["abc"], world.county.pk)
    assert response.status_code == 422
    assert snapshot() == before


# --- cancel, change, move ----------------------------------------------------------------------


def test_cancel_with_confirmation(alice: Client, world: EntryWorld):
    post(alice, ["10001", "10002"], world.county.pk)
    entry = Entry.objects.get(candidate=world.alice, course__code="10001", sitting=world.sitting)
    url = f"/me/entries/{entry.pk}/cancel/"
    page = alice.get(url)
    assert page.status_code == 200
    assert "确认取消该课程的报考" in page.content.decode()
    assert Entry.objects.get(pk=entry.pk).status == "pending_payment"  # GET changes nothing
    response = alice.post(url)
    assert (response.status_code, response["Location"]) == (302, URL + "?sitting=202610")
    assert Entry.objects.get(pk=entry.pk).status == "cancelled"
    assert world.taken() == {"SAT_AM": 0, "SAT_PM": 1, "SUN_AM": 0, "SUN_PM": 0}
    again = alice.post(url)
    assert again.status_code == 409
    assert "该报考已取消。" in again.content.decode()
    html = alice.get(URL).content.decode()
    assert "已取消的报考" in html and "考生取消" in html


def test_cancel_after_the_window_changes_nothing(alice: Client, world: EntryWorld):
    post(alice, ["10001"], world.county.pk)
    entry = Entry.objects.get(candidate=world.alice, sitting=world.sitting)
    before = snapshot()
    with clock.frozen_at(CLOSES):
        response = alice.post(f"/me/entries/{entry.pk}/cancel/")
    assert response.status_code == 422
    assert snapshot() == before


def test_swap_a_course(alice: Client, world: EntryWorld):
    post(alice, ["10001", "10002"], world.county.pk)
    response = alice.post(
        "/me/entries/change/",
        {"sitting": "202610", "remove": "10002", "add": "10003", "idempotency_key": "c-1"},
    )
    assert response.status_code == 302
    live = Entry.objects.filter(candidate=world.alice, sitting=world.sitting).exclude(status="cancelled")
    assert sorted(live.values_list("course__code", flat=True)) == ["10001", "10003"]


def test_swap_refused_is_shown_by_the_swap_form(alice: Client, world: EntryWorld):
    post(alice, ["10001", "10002"], world.county.pk)
    before = snapshot()
    response = alice.post("/me/entries/change/", {"sitting": "202610", "remove": "10002", "add": "10012"})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="change-errors"' in html and "已合格" in html
    assert snapshot() == before


def test_move_to_another_area(alice: Client, world: EntryWorld):
    post(alice, ["10001"], world.county.pk)
    response = alice.post("/me/entries/area/", {"sitting": "202610", "area": str(world.sibling.pk)})
    assert response.status_code == 302
    assert Entry.objects.get(candidate=world.alice, sitting=world.sitting).area_id == world.sibling.pk
    assert world.taken(world.sibling)["SAT_AM"] == 1 and world.taken()["SAT_AM"] == 0


def test_move_refused(alice: Client, world: EntryWorld):
    post(alice, ["10001"], world.county.pk)
    before = snapshot()
    response = alice.post("/me/entries/area/", {"sitting": "202610", "area": str(world.county.pk)})
    assert response.status_code == 422
    assert 'id="move-errors"' in response.content.decode()
    assert alice.post("/me/entries/area/", {"sitting": "209901", "area": "1"}).status_code == 404
    assert snapshot() == before


def test_get_is_refused_on_write_only_urls(alice: Client, world: EntryWorld):
    assert alice.get("/me/entries/area/").status_code == 405
    assert alice.get("/me/entries/change/").status_code == 405


def test_page_in_english_still_works(alice: Client, world: EntryWorld):
    response = alice.get(URL, headers={"accept-language": "en"})
    assert response.status_code == 200


def test_build_world_is_usable_without_the_frozen_clock(db):
    world = build_entry_world()
    assert world.sitting.label == "202610"
