"""The record pages of the portal: content with exact values, and the permission matrix."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.portal.helpers import log_in
from tests.portal.test_records_support import AFTER, BEFORE, World, build_world, lock_account
from zikao.core import clock

PAGES = [
    "portal:dashboard",
    "portal:scores",
    "portal:scores_all",
    "portal:passed",
    "portal:record",
    "portal:progress",
]


@pytest.fixture
def world(db) -> World:
    return build_world()


def text(response) -> str:
    """The page's visible text, tags removed and whitespace collapsed (for exact phrases)."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def rows(response, caption: str) -> list[list[str]]:
    """The body rows of the table with this caption, as lists of cell texts."""
    html = response.content.decode()
    match = re.search(r"<caption>" + re.escape(caption) + r"</caption>(.*?)</table>", html, flags=re.S)
    assert match, f"no table {caption!r}"
    body = re.search(r"<tbody>(.*?)</tbody>", match.group(1), flags=re.S).group(1)
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    ]


# --- each page for the candidate -----------------------------------------------------------


def test_dashboard_after_release_shows_the_latest_sitting(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert rows(response, "202604考次成绩") == [["13003", "数据结构与算法", "88", "合格", "考试", "有效"]]
    page = text(response)
    assert "李明远，准考证号 " + world.alice.candidate_no in page
    assert "尚未发布成绩的考次" not in page
    assert "15040" not in page and " 91 " not in page


def test_dashboard_before_release_shows_the_previous_sitting_and_when(client, world: World):
    with clock.frozen_at(BEFORE):
        log_in(client, world.alice)
        response = client.get(reverse("portal:dashboard"))
    assert rows(response, "202510考次成绩") == [
        ["00023", "高等数学(工本)", "72", "合格", "考试", "有效"],
        ["02324", "离散数学", "45", "不合格", "考试", "有效"],
        ["13013", "高级语言程序设计", "缺考", "不合格", "考试", "缺考"],
    ]
    page = text(response)
    assert "202604考次成绩将于 2026-05-10 15:00 发布。" in page
    assert "13003" not in page and " 88 " not in page and "15040" not in page


def test_scores_page_for_a_chosen_sitting(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        response = client.get(reverse("portal:scores"), {"sitting": "202510"})
        default = client.get(reverse("portal:scores"))
    assert response.status_code == 200
    assert rows(response, "202510考次成绩")[0] == ["00023", "高等数学(工本)", "72", "合格", "考试", "有效"]
    assert len(rows(response, "202510考次成绩")) == 3
    options = re.findall(r'<option value="(\d+)"', response.content.decode())
    assert options == ["202604", "202510"]
    assert rows(default, "202604考次成绩") == [["13003", "数据结构与算法", "88", "合格", "考试", "有效"]]


def test_unreleased_sitting_says_when_and_nothing_else(client, world: World):
    with clock.frozen_at(BEFORE):
        log_in(client, world.alice)
        response = client.get(reverse("portal:scores"), {"sitting": "202604"})
    assert response.status_code == 200
    page = text(response)
    assert "202604考次成绩将于 2026-05-10 15:00 发布。" in page
    assert "<caption>202604" not in response.content.decode()
    assert "13003" not in page and " 88 " not in page and "15040" not in page and " 91 " not in page


def test_all_scores_page(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        response = client.get(reverse("portal:scores_all"))
    assert rows(response, "202510考次成绩")[1] == ["02324", "离散数学", "45", "不合格", "考试", "有效"]
    assert rows(response, "202604考次成绩") == [["13003", "数据结构与算法", "88", "合格", "考试", "有效"]]
    assert rows(response, "免考、转入等（无考次）") == [
        ["13000", "英语(专升本)", "60", "合格", "免考", "有效"]
    ]
    assert "15040" not in text(response)


def test_passed_page_separates_written_and_practice_with_totals(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        response = client.get(reverse("portal:passed"))
    assert rows(response, "笔试课程") == [
        ["00023", "高等数学(工本)", "202510", "72", "考试", "10"],
        ["13000", "英语(专升本)", "—", "60", "免考", "7"],
        ["13003", "数据结构与算法", "202604", "88", "考试", "4"],
    ]
    assert rows(response, "实践课程（含毕业论文）") == [["暂无。"]]
    page = text(response)
    assert "共通过 3 门课程，合计 21 学分。" in page
    assert "合计 3 门 21" in page


def test_passed_page_before_release_does_not_count_the_unreleased_pass(client, world: World):
    with clock.frozen_at(BEFORE):
        log_in(client, world.alice)
        response = client.get(reverse("portal:passed"))
    assert "共通过 2 门课程，合计 17 学分。" in text(response)
    assert "13003" not in text(response)


def test_record_page_has_every_section_and_says_when_empty(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        response = client.get(reverse("portal:record"))
    page = text(response)
    alice = world.alice
    masked = alice.id_number[:6] + "********" + alice.id_number[-4:]
    assert masked in page and alice.id_number not in response.content.decode()
    assert "138****5678" in page and "13812345678" not in page
    assert "080901 计算机科学与技术（本科），2024版考试计划，主考学校：南京航空航天大学" in page
    assert len(rows(response, "全部已发布成绩")) == 5
    for empty in ("无考试违规记录。", "无转出记录。", "无接考（转入）记录。", "无免考记录。", "无毕业记录。"):
        assert empty in page
    assert "15040" not in page


def test_progress_page_for_the_candidate(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        response = client.get(reverse("portal:progress"))
    page = text(response)
    assert "080901 计算机科学与技术（本科）2024版计划" in page
    assert "您注册的计划版本；可按此计划毕业" in page
    assert "13003 数据结构与算法（4学分）：考试合格（202604考次）" in page
    assert "13000 英语(专升本)（7学分）：免考" in page
    assert "15040 习近平新时代中国特色社会主义思想概论（3学分）：尚未通过" in page


# --- permission matrix -------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client, world: World, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login") + "?next=")


@pytest.mark.parametrize("name", PAGES)
def test_locked_account_is_signed_out(client, world: World, name):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        assert client.get(reverse(name)).status_code == 200
        lock_account(world.alice)
        response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


@pytest.mark.parametrize("name", PAGES)
def test_first_password_must_be_changed_first(client, world: World, name):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice, change_password=False)
        response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:password_change")


@pytest.mark.parametrize("name", PAGES)
def test_another_candidate_sees_only_their_own_record(client, world: World, name):
    with clock.frozen_at(AFTER):
        log_in(client, world.bob)
        response = client.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert world.alice.candidate_no not in html and "李明远" not in html
    assert "13812345678" not in html and "138****5678" not in html


def test_another_candidates_sitting_is_exactly_not_found(client, world: World):
    """bob never entered 202610; 209904 does not exist; a malformed label: all the same 404."""
    with clock.frozen_at(AFTER):
        log_in(client, world.bob)
        responses = [
            client.get(reverse("portal:scores"), {"sitting": label}) for label in ("202610", "209904", "x'")
        ]
    assert [r.status_code for r in responses] == [404, 404, 404]
    # Identical but for the label echoed in the language form's `next` and the masked CSRF token.
    bodies = {
        re.sub(r'name="(csrfmiddlewaretoken|next)" (type="hidden" )?value="[^"]*"', "", r.content.decode())
        for r in responses
    }
    assert len(bodies) == 1
    assert "记录不存在。" in text(responses[0])
    assert responses[0]["Cache-Control"] == "private, no-store"


def test_bob_sees_his_own_scores(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.bob)
        response = client.get(reverse("portal:scores_all"))
    assert rows(response, "202510考次成绩") == [["00023", "高等数学(工本)", "95", "合格", "考试", "有效"]]
    assert rows(response, "202604考次成绩") == [["02324", "离散数学", "66", "合格", "考试", "有效"]]


def test_pages_in_english(client, world: World):
    with clock.frozen_at(AFTER):
        log_in(client, world.alice)
        response = client.get(reverse("portal:dashboard"), headers={"accept-language": "en"})
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert "Latest scores" in html
    assert "个人空间" not in html
