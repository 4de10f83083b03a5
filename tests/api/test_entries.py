"""/api/me/entries/…: exact bodies, the same rules and codes as the portal, status codes, and the
permission matrix (no token, first password not changed, another candidate's entry)."""

from __future__ import annotations

import pytest

from tests.api.helpers import bearer, token_for
from tests.entries.world import DURING, EntryWorld, build_entry_world
from zikao.core import clock
from zikao.core.models import AuditEvent
from zikao.core.ratelimit import Limit
from zikao.entries import services
from zikao.entries.models import AreaSlotCapacity, Entry

BASE = "/api/me/entries"


@pytest.fixture
def world(db) -> EntryWorld:
    with clock.frozen_at(DURING):
        return build_entry_world()


@pytest.fixture(autouse=True)
def _during():
    with clock.frozen_at(DURING):
        yield


@pytest.fixture
def token(world: EntryWorld) -> str:
    return token_for(world.alice)


def headers(token: str, key: str | None = None) -> dict[str, str]:
    h = bearer(token)
    if key is not None:
        h["Idempotency-Key"] = key
    return h


def create(client, token, courses, area, *, key="k-1", sitting="202610"):
    return client.post(
        BASE,
        {"sitting": sitting, "courses": courses, "area": area},
        content_type="application/json",
        headers=headers(token, key),
    )


def close_window(world: EntryWorld) -> None:
    """Close the window now (API tokens live 12 hours: the clock cannot jump to CLOSES)."""
    from zikao.catalog.models import Sitting

    Sitting.objects.filter(pk=world.sitting.pk).update(entry_closes_at=DURING)


def snapshot():
    return (
        sorted(Entry.objects.values_list("pk", "status", "area_id")),
        sorted(AreaSlotCapacity.objects.values_list("pk", "taken")),
        AuditEvent.objects.filter(event_type__startswith="entr").count(),
    )


# --- permission matrix -------------------------------------------------------------------------


def test_every_endpoint_needs_a_token(client, world: EntryWorld):
    for method, url in [
        ("get", f"{BASE}/sittings"),
        ("get", f"{BASE}/sittings/202610/courses"),
        ("get", f"{BASE}/sittings/202610/areas"),
        ("get", BASE),
        ("post", BASE),
        ("post", f"{BASE}/change"),
        ("post", f"{BASE}/area"),
        ("post", f"{BASE}/1/cancel"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 401, url
        assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_first_password_must_be_changed(client, world: EntryWorld):
    token = token_for(world.alice, change_password=False)
    response = client.get(f"{BASE}/sittings", headers=bearer(token))
    assert (response.status_code, response.json()["code"]) == (403, "PASSWORD_CHANGE_REQUIRED")
    response = create(client, token, ["10001"], world.county.pk)
    assert response.status_code == 403
    assert Entry.objects.filter(sitting=world.sitting).count() == 0


def test_another_candidates_entry_is_not_found(client, world: EntryWorld, token):
    bobs = services.entries_create(
        actor=world.actor(world.bob),
        candidate=world.bob,
        sitting=world.sitting,
        course_codes=["10001"],
        area=world.county,
    ).entries[0]
    before = snapshot()
    missing = client.post(f"{BASE}/999999/cancel", headers=bearer(token))
    theirs = client.post(f"{BASE}/{bobs.pk}/cancel", headers=bearer(token))
    garbage = client.post(f"{BASE}/abc/cancel", headers=bearer(token))
    assert missing.status_code == theirs.status_code == garbage.status_code == 404
    assert (
        missing.json()
        == theirs.json()
        == garbage.json()
        == {"code": "NOT_FOUND", "message": "记录不存在。", "fields": {}}
    )
    assert snapshot() == before


# --- reads ---------------------------------------------------------------------------------------


def test_sittings(client, world: EntryWorld, token):
    response = client.get(f"{BASE}/sittings", headers=bearer(token))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response.json() == [
        {
            "label": "202610",
            "entry_opens_at": "2026-08-20T09:00:00+08:00",
            "entry_closes_at": "2026-08-30T17:00:00+08:00",
            "state": "open",
        }
    ]


def test_courses(client, world: EntryWorld, token):
    body = client.get(f"{BASE}/sittings/202610/courses", headers=bearer(token)).json()
    assert (body["max_courses"], body["fee_fen"], body["payment_hold_minutes"], body["blocked"]) == (
        4,
        4500,
        30,
        None,
    )
    by_code = {c["code"]: c for c in body["courses"]}
    assert list(by_code) == ["10001", "10005", "10002", "10011", "10012", "10003", "10010", "10004", "10006"]
    assert by_code["10001"] == {
        "code": "10001",
        "name": "理论课程甲",
        "kind": "theory",
        "slot": "SAT_AM",
        "slot_label": "周六上午",
        "starts_at": "2026-10-17T09:00:00+08:00",
        "ends_at": "2026-10-17T11:30:00+08:00",
        "entered": False,
        "enterable": True,
        "refusal": None,
    }
    assert {code: (c["refusal"] or {}).get("code") for code, c in by_code.items() if not c["enterable"]} == {
        "10004": "ENTRY_THEORY_NOT_PASSED",
        "10010": "ENTRY_THESIS_NOT_YET",
        "10011": "ENTRY_PRECONDITION_NOT_MET",
        "10012": "ENTRY_ALREADY_PASSED",
    }


def test_courses_after_entering_and_when_closed(client, world: EntryWorld, token):
    create(client, token, ["10001"], world.county.pk)
    body = client.get(f"{BASE}/sittings/202610/courses", headers=bearer(token)).json()
    by_code = {c["code"]: c for c in body["courses"]}
    assert (by_code["10001"]["entered"], by_code["10001"]["enterable"]) == (True, False)
    assert by_code["10005"]["refusal"]["code"] == "ENTRY_SLOT_CLASH"
    close_window(world)
    body = client.get(f"{BASE}/sittings/202610/courses", headers=bearer(token)).json()
    assert body["blocked"] == {
        "code": "ENTRY_WINDOW_CLOSED",
        "message": "本考次报考已于 2026-08-25 10:00 截止。",
    }


def test_unknown_sitting(client, world: EntryWorld, token):
    for url in (f"{BASE}/sittings/209901/courses", f"{BASE}/sittings/202604/areas", f"{BASE}?sitting=209901"):
        response = client.get(url, headers=bearer(token))
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")


def test_areas(client, world: EntryWorld, token):
    AreaSlotCapacity.objects.filter(pk=world.counter(world.sibling, "SAT_AM").pk).update(taken=30)
    body = client.get(f"{BASE}/sittings/202610/areas", headers=bearer(token)).json()
    assert body["sitting"] == "202610"
    assert body["selected"] == world.county.pk
    assert [(a["name"], a["has_free_seats"], [s["free"] for s in a["seats"]]) for a in body["areas"]] == [
        ("姑苏区", True, [5, 5, 5, 5]),
        ("玄武区", True, [30, 30, 30, 30]),
        ("秦淮区", True, [0, 30, 30, 30]),
    ]
    assert body["areas"][0]["seats"][0] == {"slot": "SAT_AM", "slot_label": "周六上午", "free": 5}


# --- create -------------------------------------------------------------------------------------


def test_create_and_replay(client, world: EntryWorld, token):
    response = create(client, token, ["10002", "10001"], world.county.pk, key="abc-1")
    assert response.status_code == 201
    body = response.json()
    assert body["replayed"] is False
    first = body["entries"][0]
    assert first == {
        "id": first["id"],
        "sitting": "202610",
        "course_code": "10001",
        "course_name": "理论课程甲",
        "slot": "SAT_AM",
        "starts_at": "2026-10-17T09:00:00+08:00",
        "ends_at": "2026-10-17T11:30:00+08:00",
        "area_id": world.county.pk,
        "area_name": "玄武区",
        "status": "pending_payment",
        "status_label": "待缴费",
        "fee_fen": 4500,
        "hold_expires_at": "2026-08-25T10:30:00+08:00",
        "cancelled_at": None,
        "cancel_reason": "",
    }
    before = snapshot()
    again = create(client, token, ["10001", "10002"], world.county.pk, key="abc-1")
    assert again.status_code == 200
    assert again.json() == {**body, "replayed": True}
    assert snapshot() == before
    reused = create(client, token, ["10003"], world.county.pk, key="abc-1")
    assert (reused.status_code, reused.json()["code"]) == (422, "ENTRY_IDEMPOTENCY_KEY_REUSED")
    assert snapshot() == before


def test_create_needs_an_idempotency_key(client, world: EntryWorld, token):
    response = create(client, token, ["10001"], world.county.pk, key=None)
    assert (response.status_code, response.json()["code"]) == (422, "ENTRY_IDEMPOTENCY_KEY_REQUIRED")
    response = create(client, token, ["10001"], world.county.pk, key="with space")
    assert (response.status_code, response.json()["code"]) == (422, "ENTRY_IDEMPOTENCY_KEY_INVALID")
    assert Entry.objects.filter(sitting=world.sitting).count() == 0


def test_rule_refusal_is_422_with_every_refusal(client, world: EntryWorld, token):
    before = snapshot()
    response = create(client, token, ["10001", "10005", "10012"], world.county.pk)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "ENTRY_SLOT_CLASH"
    assert (
        body["message"]
        == "课程 10005 理论课程丁 与 10001 理论课程甲 同在 周六上午 考试，同一时段只能报考一门。"
    )
    assert [(r["code"], r["course"]) for r in body["fields"]["refusals"]] == [
        ("ENTRY_SLOT_CLASH", "10005"),
        ("ENTRY_ALREADY_PASSED", "10012"),
    ]
    assert snapshot() == before


def test_duplicate_and_full_are_409(client, world: EntryWorld, token):
    create(client, token, ["10001"], world.county.pk, key="a")
    response = create(client, token, ["10001"], world.county.pk, key="b")
    assert (response.status_code, response.json()["code"]) == (409, "ENTRY_DUPLICATE")
    AreaSlotCapacity.objects.filter(sitting=world.sitting, area=world.county).update(capacity=1)
    before = snapshot()
    response = create(client, token, ["10002"], world.county.pk, key="c")
    assert response.status_code == 201  # SAT_PM still has its one seat
    other = token_for(world.bob)
    response = create(client, other, ["10002"], world.county.pk, key="d")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "ENTRY_AREA_FULL"
    assert body["fields"]["slot"] == "SAT_PM"
    assert [a["name"] for a in body["fields"]["areas"]] == ["秦淮区", "姑苏区"]
    assert snapshot() != before  # only the 201 above changed anything


def test_window_closed_is_422(client, world: EntryWorld, token):
    close_window(world)
    before = snapshot()
    response = create(client, token, ["10001"], world.county.pk)
    assert (response.status_code, response.json()["code"]) == (422, "ENTRY_WINDOW_CLOSED")
    assert response.json()["fields"]["state"] == "closed"
    assert snapshot() == before


def test_malformed_payloads(client, world: EntryWorld, token):
    before = snapshot()
    for payload in (
        {"sitting": "202610", "courses": "10001", "area": world.county.pk},
        {"sitting": "202610", "courses": ["10001"], "area": 0},
        {"sitting": "2026", "courses": ["10001"], "area": world.county.pk},
        {"sitting": "202610", "courses": ["10001"] * 21, "area": world.county.pk},
        {"sitting": "202610", "courses": ["1\x000001"], "area": world.county.pk},
    ):
        response = client.post(BASE, payload, content_type="application/json", headers=headers(token, "x"))
        assert response.status_code == 422, payload
        assert response.json()["code"] == "INVALID_INPUT"
    response = create(client, token, ["abcde"], world.county.pk)
    assert (response.status_code, response.json()["code"]) == (422, "ENTRY_COURSE_CODE_INVALID")
    response = create(client, token, ["10001"], world.county.pk, sitting="209901")
    assert response.status_code == 404
    assert snapshot() == before


def test_rate_limited_is_429_with_retry_after(client, world: EntryWorld, token, monkeypatch):
    monkeypatch.setattr(services, "CREATE_PER_CANDIDATE", Limit("test-api-entry", 1, 60))
    assert create(client, token, ["10001"], world.county.pk, key="a").status_code == 201
    response = create(client, token, ["10002"], world.county.pk, key="b")
    assert response.status_code == 429
    assert response.json()["code"] == "ENTRY_RATE_LIMITED"
    assert int(response["Retry-After"]) == response.json()["fields"]["retry_after"] > 0


# --- my entries, cancel, change, move -------------------------------------------------------------


def test_my_entries_and_cancel(client, world: EntryWorld, token):
    ids = [e["id"] for e in create(client, token, ["10001", "10002"], world.county.pk).json()["entries"]]
    listed = client.get(BASE, headers=bearer(token)).json()
    assert [(e["sitting"], e["course_code"], e["status"]) for e in listed] == [
        ("202610", "10001", "pending_payment"),
        ("202610", "10002", "pending_payment"),
        ("202604", "10012", "confirmed"),
    ]
    assert [e["course_code"] for e in client.get(f"{BASE}?sitting=202610", headers=bearer(token)).json()] == [
        "10001",
        "10002",
    ]
    response = client.post(f"{BASE}/{ids[0]}/cancel", headers=bearer(token))
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancel_reason"]) == ("cancelled", "candidate")
    assert response.json()["cancelled_at"] == "2026-08-25T10:00:00+08:00"
    assert world.taken()["SAT_AM"] == 0
    again = client.post(f"{BASE}/{ids[0]}/cancel", headers=bearer(token))
    assert (again.status_code, again.json()["code"]) == (409, "ENTRY_ALREADY_CANCELLED")
    close_window(world)
    closed = client.post(f"{BASE}/{ids[1]}/cancel", headers=bearer(token))
    assert (closed.status_code, closed.json()["code"]) == (422, "ENTRY_WINDOW_CLOSED")
    assert world.taken()["SAT_PM"] == 1


def test_change_and_move(client, world: EntryWorld, token):
    create(client, token, ["10001", "10002"], world.county.pk)
    response = client.post(
        f"{BASE}/change",
        {"sitting": "202610", "add": ["10003"], "remove": ["10002"]},
        content_type="application/json",
        headers=headers(token, "chg-1"),
    )
    assert response.status_code == 201
    assert [e["course_code"] for e in response.json()["entries"]] == ["10003"]
    response = client.post(
        f"{BASE}/area",
        {"sitting": "202610", "area": world.sibling.pk},
        content_type="application/json",
        headers=bearer(token),
    )
    assert response.status_code == 200
    assert [(e["course_code"], e["area_name"]) for e in response.json()] == [
        ("10001", "秦淮区"),
        ("10003", "秦淮区"),
    ]
    assert world.taken(world.sibling) == {"SAT_AM": 1, "SAT_PM": 0, "SUN_AM": 1, "SUN_PM": 0}
    assert world.taken() == {"SAT_AM": 0, "SAT_PM": 0, "SUN_AM": 0, "SUN_PM": 0}


def test_change_refusals(client, world: EntryWorld, token):
    create(client, token, ["10001"], world.county.pk)
    before = snapshot()
    response = client.post(
        f"{BASE}/change",
        {"sitting": "202610", "add": ["10003"], "remove": ["10002"]},
        content_type="application/json",
        headers=headers(token, "chg-1"),
    )
    assert (response.status_code, response.json()["code"]) == (422, "ENTRY_NOT_ENTERED")
    response = client.post(
        f"{BASE}/change",
        {"sitting": "202610", "add": ["10003"], "remove": ["10001"]},
        content_type="application/json",
        headers=bearer(token),
    )
    assert (response.status_code, response.json()["code"]) == (422, "ENTRY_IDEMPOTENCY_KEY_REQUIRED")
    response = client.post(
        f"{BASE}/area",
        {"sitting": "202610", "area": world.county.pk},
        content_type="application/json",
        headers=bearer(token),
    )
    assert (response.status_code, response.json()["code"]) == (422, "ENTRY_AREA_UNCHANGED")
    assert snapshot() == before
