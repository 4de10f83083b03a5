"""/api/me/…: each endpoint with exact values, and the permission matrix."""

from __future__ import annotations

import pytest

from tests.api.helpers import bearer, token_for
from tests.portal.test_records_support import AFTER, BEFORE, World, build_world, lock_account
from zikao.core import clock

ENDPOINTS = [
    "/api/me/sittings",
    "/api/me/scores/latest",
    "/api/me/scores",
    "/api/me/sittings/202510/scores",
    "/api/me/passed",
    "/api/me/record",
    "/api/me/progress",
]


@pytest.fixture
def world(db) -> World:
    return build_world()


def get(client, url, token):
    return client.get(url, headers=bearer(token))


@pytest.fixture
def alice_token(world: World) -> str:
    with clock.frozen_at(AFTER):
        return token_for(world.alice)


def test_sittings(client, world: World, alice_token):
    with clock.frozen_at(BEFORE):
        response = get(client, "/api/me/sittings", alice_token)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response.json() == [
        {"label": "202604", "released": False, "release_at": "2026-05-10T15:00:00+08:00"},
        {"label": "202510", "released": True, "release_at": "2025-11-20T15:00:00+08:00"},
    ]


def test_latest_scores(client, world: World, alice_token):
    with clock.frozen_at(AFTER):
        body = get(client, "/api/me/scores/latest", alice_token).json()
    assert body == {
        "sitting": {"label": "202604", "released": True, "release_at": "2026-05-10T15:00:00+08:00"},
        "scores": [
            {
                "course_code": "13003",
                "course_name": "数据结构与算法",
                "course_kind": "theory",
                "credits": 4,
                "sitting": "202604",
                "value": 88,
                "grade": "",
                "passed": True,
                "method": "exam",
                "method_label": "考试",
                "status": "valid",
                "status_label": "有效",
            }
        ],
        "pending": [],
    }


def test_scores_of_a_sitting_and_before_release(client, world: World, alice_token):
    with clock.frozen_at(AFTER):
        body = get(client, "/api/me/sittings/202510/scores", alice_token).json()
    assert [(s["course_code"], s["value"], s["passed"], s["status"]) for s in body["scores"]] == [
        ("00023", 72, True, "valid"),
        ("02324", 45, False, "valid"),
        ("13013", None, False, "absent"),
    ]
    with clock.frozen_at(BEFORE):
        body = get(client, "/api/me/sittings/202604/scores", alice_token).json()
    assert body == {
        "sitting": {"label": "202604", "released": False, "release_at": "2026-05-10T15:00:00+08:00"},
        "scores": [],
    }


def test_all_scores(client, world: World, alice_token):
    with clock.frozen_at(AFTER):
        body = get(client, "/api/me/scores", alice_token).json()
    assert [(s["sitting"], s["course_code"], s["value"], s["method"]) for s in body["scores"]] == [
        ("202510", "00023", 72, "exam"),
        ("202510", "02324", 45, "exam"),
        ("202510", "13013", None, "exam"),
        ("202604", "13003", 88, "exam"),
        (None, "13000", 60, "exemption"),
    ]
    assert [s["label"] for s in body["sittings"]] == ["202604", "202510"]


def test_passed(client, world: World, alice_token):
    with clock.frozen_at(AFTER):
        body = get(client, "/api/me/passed", alice_token).json()
    assert [
        (r["course_code"], r["sitting"], r["value"], r["method_label"], r["credits"]) for r in body["written"]
    ] == [
        ("00023", "202510", 72, "考试", 10),
        ("13000", None, 60, "免考", 7),
        ("13003", "202604", 88, "考试", 4),
    ]
    assert body["practice"] == []
    assert (
        body["total_courses"],
        body["total_credits"],
        body["written_credits"],
        body["practice_credits"],
    ) == (
        3,
        21,
        21,
        0,
    )


def test_record(client, world: World, alice_token):
    with clock.frozen_at(AFTER):
        body = get(client, "/api/me/record", alice_token).json()
    alice = world.alice
    assert body["identity"]["candidate_no"] == alice.candidate_no
    assert body["identity"]["id_number_masked"] == alice.id_number[:6] + "********" + alice.id_number[-4:]
    assert body["identity"]["phone_masked"] == "138****5678"
    assert alice.id_number not in str(body)
    assert body["majors"] == [
        {
            "major_code": "080901",
            "major_name": "计算机科学与技术",
            "level": "benke",
            "school": "南京航空航天大学",
            "plan_version": 2024,
            "plan_title": body["majors"][0]["plan_title"],
            "registered_on": "2024-09-01",
            "active": True,
        }
    ]
    assert [s["course_code"] for s in body["scores"]] == ["00023", "02324", "13013", "13003", "13000"]
    for section in ("violations", "transfers_out", "transfers_in", "exemptions", "graduations"):
        assert body[section] == []
    assert body["suspension"] is None


def test_progress(client, world: World, alice_token):
    with clock.frozen_at(AFTER):
        body = get(client, "/api/me/progress", alice_token).json()
    [plan] = body["plans"]
    assert (plan["major_code"], plan["plan_version"], plan["registered_plan"], plan["available"]) == (
        "080901",
        2024,
        True,
        True,
    )
    done = {d["code"]: (d["via"], d["methods"], d["text"]) for d in plan["done"]}
    assert done == {
        "13000": ("pass", ["exemption"], "免考"),
        "00023": ("pass", ["exam"], "考试合格（202510考次）"),
        "13003": ("pass", ["exam"], "考试合格（202604考次）"),
    }
    assert plan["credits_earned"] == 21 and plan["min_total_credits"] == 73 and plan["credits_short"] == 52
    assert "15040" in [m["code"] for m in plan["missing"]]
    assert plan["open_choices"][0]["options"] == [
        {"code": "13017", "name": "计算机网络与信息安全", "credits": 6},
        {"code": "04751", "name": "计算机网络安全", "credits": 3},
    ]


def test_english_labels(client, world: World, alice_token):
    with clock.frozen_at(AFTER):
        body = client.get(
            "/api/me/sittings/202510/scores", headers={**bearer(alice_token), "accept-language": "en"}
        ).json()
    assert [(s["method_label"], s["status_label"]) for s in body["scores"]][2] == ("Examination", "Absent")


# --- permission matrix -------------------------------------------------------------------


@pytest.mark.parametrize("url", ENDPOINTS)
def test_anonymous_gets_401(client, world: World, url):
    response = client.get(url)
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    assert "72" not in response.content.decode()


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_revoked_or_made_up_token_gets_401(client, world: World, url):
    response = client.get(url, headers=bearer("not-a-token"))
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_INVALID"


@pytest.mark.parametrize("url", ENDPOINTS)
def test_locked_account_token_stops_working(client, world: World, alice_token, url):
    with clock.frozen_at(AFTER):
        assert get(client, url, alice_token).status_code == 200
        lock_account(world.alice)
        response = get(client, url, alice_token)
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_INVALID"
    assert "00023" not in response.content.decode()


@pytest.mark.parametrize("url", ENDPOINTS)
def test_first_password_not_changed_gets_403(client, world: World, url):
    with clock.frozen_at(AFTER):
        token = token_for(world.alice, change_password=False)
        response = get(client, url, token)
    assert response.status_code == 403
    assert response.json()["code"] == "PASSWORD_CHANGE_REQUIRED"
    assert "00023" not in response.content.decode()


@pytest.mark.parametrize("url", ENDPOINTS)
def test_another_candidate_gets_only_their_own_data(client, world: World, url):
    with clock.frozen_at(AFTER):
        token = token_for(world.bob)
        response = get(client, url, token)
    assert response.status_code == 200
    body = response.content.decode()
    assert world.alice.candidate_no not in body and "李明远" not in body and "138****5678" not in body
    assert '"value": 72' not in body and '"value":72' not in body


def test_another_candidates_sitting_is_exactly_not_found(client, world: World):
    """bob never entered 202610; 209904 does not exist; garbage: one and the same 404."""
    with clock.frozen_at(AFTER):
        token = token_for(world.bob)
        responses = [
            get(client, f"/api/me/sittings/{label}/scores", token) for label in ("202610", "209904", "abc")
        ]
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert [r.json() for r in responses] == [
        {"code": "NOT_FOUND", "message": "记录不存在。", "fields": {}}
    ] * 3


def test_openapi_documents_the_schemas(client, world: World):
    schema = client.get("/api/openapi.json").json()
    latest = schema["paths"]["/api/me/scores/latest"]["get"]
    assert set(latest["responses"]) == {"200", "401", "403"}
    assert "LatestScoresOut" in latest["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    score = schema["components"]["schemas"]["ScoreOut"]
    assert score["properties"]["method"]["enum"] == ["exam", "exemption", "substitution", "transfer"]
    assert schema["paths"]["/api/me/sittings/{label}/scores"]["get"]["responses"]["404"]
