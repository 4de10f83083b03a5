"""毕业预测 in plain words, on the real plans: the page (and the API's texts) for each situation."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from tests.factories import SHANGHAI, CandidateFactory, CandidateMajorFactory, SittingFactory
from tests.portal.helpers import log_in
from tests.portal.test_records_support import sit
from zikao.catalog.models import Plan, PlanItem
from zikao.catalog.services import catalog_load_reference_data
from zikao.core import clock
from zikao.core.audit import Actor

NOW = dt.datetime(2026, 3, 1, 10, tzinfo=SHANGHAI)


@pytest.fixture
def plans(db):
    catalog_load_reference_data(actor=Actor.system("test"))
    sitting = SittingFactory(
        label="202510",
        first_day=dt.date(2025, 10, 18),
        release_at=dt.datetime(2025, 11, 20, 15, tzinfo=SHANGHAI),
    )

    def candidate(major: str, version: int, *, registered=dt.date(2024, 9, 1), passes=(), exempt=()):
        plan = Plan.objects.get(major__code=major, version=version)
        person = CandidateFactory(registered_on=registered)
        CandidateMajorFactory(candidate=person, plan=plan, registered_on=registered)
        kinds = dict(
            PlanItem.objects.filter(plan__major__code=major).values_list("course__code", "course__kind")
        )
        for code in passes:
            if kinds.get(code, "theory") == "theory":
                sit(person, sitting, code, value=75)
            else:
                sit(person, sitting, code, grade="合格")
        for code in exempt:
            sit(person, None, code, value=60)
        return person

    return candidate


def codes(major: str, version: int, *, without=(), groups=()) -> list[str]:
    """Every required course of the plan (thesis included) except `without`, plus `groups`' picks."""
    items = PlanItem.objects.filter(plan__major__code=major, plan__version=version, group="").order_by("row")
    return [i.course.code for i in items if i.course.code not in without] + list(groups)


def page(client, candidate) -> str:
    with clock.frozen_at(NOW):
        log_in(client, candidate)
        response = client.get(reverse("portal:progress"))
    assert response.status_code == 200
    html = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html)


def test_one_course_short_names_it(client, plans):
    person = plans("080901", 2024, passes=codes("080901", 2024, without={"02324"}, groups=["04751"]))
    text = page(client, person)
    assert "尚未满足毕业要求：还差1门课程，还差4学分。" in text
    assert "已获69学分，最低要求73学分，还差4学分" in text
    assert "尚未通过的必考课程 02324 离散数学（4学分）：尚未通过" in text
    assert "网络课程任选一门(15)" not in text  # the choice is made
    assert "04751 计算机网络安全（3学分）：考试合格（202510考次）" in text


def test_credits_short_although_every_course_is_met(client, plans):
    """2024 plan, 00898 met by the 2021 course 02197 (table row 11→12), which waives 00899 with
    0 credits: every item is met, yet the total is 3 credits short."""
    passes = [*codes("080901", 2024, without={"00898", "00899"}, groups=["04751"]), "02197"]
    person = plans("080901", 2024, passes=passes)
    text = page(client, person)
    assert "尚未满足毕业要求：还差3学分。" in text
    assert "已获70学分，最低要求73学分，还差3学分" in text
    assert "学分：还差3学分。" in text
    assert "尚未通过的必考课程" not in text
    assert "00898 互联网软件应用与开发（3学分）：顶替：由已通过的 02197 概率论与数理统计(二) 顶替" in text
    assert (
        "00899 互联网软件应用与开发(实践)（0学分）：无需考核：02197 概率论与数理统计(二) 顶替其理论课程，"
        "本实践环节免考（不计学分）" in text
    )


def test_open_choice_lists_both_options(client, plans):
    person = plans("080901", 2024, passes=["00023"])
    text = page(client, person)
    assert (
        "网络课程任选一门(15) 尚未选定：可从以下课程中任选1门 13017 计算机网络与信息安全（6学分） "
        "04751 计算机网络安全（3学分）" in text
    )


def test_elective_set_short_by_courses_and_credits(client, plans):
    person = plans("050101", 2024, passes=["13000", "03954", "07827"])
    text = page(client, person)
    assert "按“考外语者”方案计算（最接近完成的方案）。" in text
    assert "选考: 考外语者不少于3门且不少于14学分 还差1门课程、4学分（已计2门、10学分）" in text
    assert (
        "可选课程： 10398 现代汉语语法修辞研究（5学分） 14025 明清小说专题（5学分） "
        "00814 中国古代文论选读（4学分）" in text
    )


def test_thesis_not_yet_allowed_and_practice_not_yet_allowed(client, plans):
    person = plans("080901", 2024, passes=["00023"])
    text = page(client, person)
    assert re.search(
        r"毕业论文（设计） 14976 \S+：暂不能报考：须在本计划其他课程要求全部满足后才能报考", text
    )
    assert (
        "暂不能报考的实践环节 13014 高级语言程序设计(实践)："
        "尚未通过；须先通过理论课程 13013 高级语言程序设计 才能报考" in text
    )


def test_thesis_allowed_once_everything_else_is_met(client, plans):
    person = plans("080901", 2024, passes=codes("080901", 2024, without={"14976"}, groups=["13017"]))
    text = page(client, person)
    assert re.search(r"14976 \S+：可以报考：其他课程要求已全部满足", text)
    assert "尚未满足毕业要求：还差1门课程。" in text


def test_complete_plan(client, plans):
    person = plans("080901", 2024, passes=codes("080901", 2024, groups=["04751"]))
    text = page(client, person)
    assert "已满足本计划全部课程与学分要求，可以申请毕业审核。" in text
    assert "已获73学分，最低要求73学分" in text


def test_2021_plan_candidate_sees_both_plans_side_by_side(client, plans):
    person = plans(
        "080901", 2021, registered=dt.date(2023, 3, 1), passes=["03708", "03709", "00023", "02324"]
    )
    text = page(client, person)
    assert text.index("2021版计划") < text.index("2024版计划")
    assert "您注册的计划版本；可按此计划毕业，截至2026-06-30" in text
    assert "现行计划版本；可按此计划毕业" in text
    assert "15043 中国近现代史纲要（3学分）：顶替：由已通过的 03708 中国近现代史纲要 顶替" in text
    assert "15040 习近平新时代中国特色社会主义思想概论（3学分）：尚未通过" in text
    with clock.frozen_at(dt.datetime(2026, 7, 1, 10, tzinfo=SHANGHAI)):
        html = re.sub(
            r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get(reverse("portal:progress")).content.decode())
        )
    assert "您注册的计划版本；过渡期已于2026-06-30结束，不能再按此计划毕业" in html


def test_exemption_shows_as_done_by_exemption(client, plans):
    person = plans("080901", 2024, passes=["00023"], exempt=["13000"])
    assert "13000 英语(专升本)（7学分）：免考" in page(client, person)


def test_politics_rule_and_transfer_say_how(client, plans):
    from zikao.catalog.models import Course
    from zikao.scores.models import Method
    from zikao.scores.services import score_record

    person = plans("050101", 2024, passes=["03708", "03709"])
    score_record(
        actor=Actor.system("test"),
        candidate=person,
        course=Course.objects.get(code="00037"),
        sitting=None,
        value=80,
        method=Method.TRANSFER,
    )
    text = page(client, person)
    assert "00037 美学（6学分）：转入" in text
    assert (
        "15043 中国近现代史纲要（3学分）：政治理论课替代规则：由已通过的 03709 马克思主义基本原理概论、"
        "03708 中国近现代史纲要 替代" in text
    )
