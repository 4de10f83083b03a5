"""Catalog services for courses, schools and majors: validation codes, audit before/after,
"in use" refusals, and who may write (province catalog managers and the system only)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.catalog.office_support import (
    SYSTEM,
    events,
    load_reference,
)
from tests.factories import CourseFactory, MajorFactory, SchoolFactory, ScoreFactory
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.catalog.models import Course, Major, School
from zikao.catalog.services import (
    CatalogRefused,
    course_delete,
    course_save,
    major_delete,
    major_save,
    school_delete,
    school_save,
)
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, ValidationFailed
from zikao.core.models import AuditEvent


@pytest.fixture
def reference(db):
    load_reference()


@pytest.fixture
def manager(offices, make_staff):
    return Actor.staff(make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province))


# --- courses -------------------------------------------------------------------------------------


def test_course_create_writes_the_course_and_its_audit_event(manager):
    course = course_save(
        actor=manager, code="99001", name=" 测试课程 ", credits=Decimal("3.5"), kind="theory"
    )
    assert (course.code, course.name, course.credits, course.kind) == (
        "99001",
        "测试课程",
        Decimal("3.5"),
        "theory",
    )
    event = AuditEvent.objects.get(event_type="course.created")
    assert (event.subject_type, event.subject_id, event.actor_user_id) == (
        "catalog.course",
        str(course.pk),
        manager.user.pk,
    )
    assert event.before is None
    assert event.after == {"code": "99001", "name": "测试课程", "credits": "3.5", "kind": "theory"}


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"code": "1234"}, "COURSE_BAD_CODE", "code"),
        ({"code": "123456"}, "COURSE_BAD_CODE", "code"),
        ({"code": "abcde"}, "COURSE_BAD_CODE", "code"),
        ({"name": "  "}, "COURSE_BAD_NAME", "name"),
        ({"credits": -1}, "COURSE_BAD_CREDITS", "credits"),
        ({"credits": "3.3"}, "COURSE_BAD_CREDITS", "credits"),
        ({"credits": 100}, "COURSE_BAD_CREDITS", "credits"),
        ({"credits": "many"}, "COURSE_BAD_CREDITS", "credits"),
        ({"kind": "lab"}, "COURSE_BAD_KIND", "kind"),
        ({"kind": "thesis", "credits": 2}, "COURSE_THESIS_CREDITS", "credits"),
    ],
)
def test_course_refusals_have_stable_codes(manager, fields, code, field):
    data = {"code": "99001", "name": "测试课程", "credits": 3, "kind": "theory", **fields}
    with pytest.raises(CatalogRefused) as caught:
        course_save(actor=manager, **data)
    assert caught.value.code == code
    assert [(p["code"], p["field"]) for p in caught.value.fields["problems"]] == [(code, field)]
    assert Course.objects.count() == 0
    assert events() == 0


def test_course_with_several_problems_reports_all(manager):
    with pytest.raises(CatalogRefused) as caught:
        course_save(actor=manager, code="1", name="", credits=-2, kind="x")
    assert caught.value.code == "COURSE_INVALID"
    assert caught.value.fields["problems"] == [
        {"code": "COURSE_BAD_CODE", "field": "code", "message": "课程代码应为5位数字。"},
        {"code": "COURSE_BAD_NAME", "field": "name", "message": "请填写课程名称(不超过100字)。"},
        {
            "code": "COURSE_BAD_CREDITS",
            "field": "credits",
            "message": "学分应为0到99.5之间的整数或半学分(如3.5)。",
        },
        {"code": "COURSE_BAD_KIND", "field": "kind", "message": "课程类型应为笔试、实践或毕业论文/设计。"},
    ]


def test_thesis_with_zero_credits_and_half_credits_are_accepted(manager):
    assert course_save(actor=manager, code="99002", name="毕业论文", credits=0, kind="thesis").credits == 0
    assert course_save(
        actor=manager, code="02278", name="实践", credits="0.5", kind="practice"
    ).credits == Decimal("0.5")


def test_course_code_must_be_new(manager):
    CourseFactory(code="99001")
    with pytest.raises(ValidationFailed) as caught:
        course_save(actor=manager, code="99001", name="另一门", credits=2, kind="theory")
    assert (caught.value.code, str(caught.value.message)) == ("COURSE_CODE_TAKEN", "课程代码 99001 已存在。")
    assert events() == 0


def test_course_edit_audits_before_and_after_and_a_no_op_writes_nothing(manager):
    course = CourseFactory(code="99001", name="旧名", credits=4, kind="theory")
    course_save(actor=manager, course=course, code="99001", name="新名", credits=5, kind="theory")
    course.refresh_from_db()
    assert (course.name, course.credits) == ("新名", 5)
    event = AuditEvent.objects.get(event_type="course.changed")
    assert event.before == {"code": "99001", "name": "旧名", "credits": "4", "kind": "theory"}
    assert event.after == {"code": "99001", "name": "新名", "credits": "5", "kind": "theory"}
    course_save(actor=manager, course=course, code="99001", name="新名", credits="5.0", kind="theory")
    assert events("course.changed") == 1


def test_course_code_never_changes(manager):
    course = CourseFactory(code="99001")
    with pytest.raises(ValidationFailed) as caught:
        course_save(actor=manager, course=course, code="99002", name=course.name, credits=4, kind="theory")
    assert caught.value.code == "COURSE_CODE_IMMUTABLE"
    assert Course.objects.get(pk=course.pk).code == "99001"


def test_renaming_a_course_invalidates_the_score_cache_after_commit(
    manager, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from zikao.scores.cache import RELEASES_VERSION_KEY

    course = CourseFactory(code="99001", name="旧名")
    before = cache.get(RELEASES_VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        course_save(actor=manager, course=course, code="99001", name=course.name, credits=2, kind="theory")
    assert callbacks == []  # credits only: candidates' score pages unchanged
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        course_save(actor=manager, course=course, code="99001", name="新名", credits=2, kind="theory")
    assert len(callbacks) == 1
    assert cache.get(RELEASES_VERSION_KEY) not in (None, before)


def test_kind_of_a_used_course_is_locked(manager, reference):
    course = Course.objects.get(code="13013")
    with pytest.raises(ValidationFailed) as caught:
        course_save(actor=manager, course=course, code="13013", name=course.name, credits=4, kind="practice")
    assert caught.value.code == "COURSE_KIND_LOCKED"
    assert str(caught.value.message) == "课程已被使用(考试计划 1),不能更改类型。"
    assert Course.objects.get(code="13013").kind == "theory"


def test_unused_course_can_be_deleted_with_an_audit_event(manager):
    course = CourseFactory(code="99001", name="测试", credits=2)
    course_delete(actor=manager, course=course)
    assert not Course.objects.filter(code="99001").exists()
    event = AuditEvent.objects.get(event_type="course.deleted")
    assert (event.subject_type, event.subject_id) == ("catalog.course", str(course.pk))
    assert event.before == {"code": "99001", "name": "测试", "credits": "2", "kind": "theory"}


def test_course_in_a_plan_cannot_be_deleted(manager, reference):
    course = Course.objects.get(code="13000")
    with pytest.raises(DomainError) as caught:
        course_delete(actor=manager, course=course)
    assert caught.value.code == "COURSE_IN_USE"
    assert str(caught.value.message) == "课程 13000 已被使用(考试计划 3),不能删除。"
    assert caught.value.fields == {"usage": {"catalog.plan": 3}}
    assert Course.objects.filter(code="13000").exists()
    assert events("course.deleted") == 0


def test_course_only_in_a_timetable_cannot_be_deleted(manager):
    from tests.factories import SittingFactory
    from zikao.catalog.models import Slot, TimetableEntry

    course = CourseFactory(code="99001")
    sitting = SittingFactory()
    slot = Slot.objects.create(
        sitting=sitting,
        code="SAT_AM",
        starts_at=sitting.release_at,
        ends_at=sitting.release_at.replace(hour=17),
    )
    TimetableEntry.objects.create(sitting=sitting, slot=slot, course=course)
    with pytest.raises(DomainError) as caught:
        course_delete(actor=manager, course=course)
    assert str(caught.value.message) == "课程 99001 已被使用(考试时间表 1),不能删除。"
    assert Course.objects.filter(code="99001").exists()


def test_course_with_a_score_cannot_be_deleted(manager):
    score = ScoreFactory(course=CourseFactory(code="99001"))
    with pytest.raises(DomainError) as caught:
        course_delete(actor=manager, course=score.course)
    assert caught.value.code == "COURSE_IN_USE"
    assert str(caught.value.message) == "课程 99001 已被使用(成绩 1),不能删除。"
    assert Course.objects.filter(code="99001").exists()


# --- who may write -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "level"),
    [
        ((Role.CATALOG_MANAGER,), "city"),
        ((Role.CATALOG_MANAGER,), "county"),
        ((Role.READ_ONLY,), "province"),
        ((Role.SCORE_MANAGER,), "province"),
        ((), "province"),
    ],
)
def test_only_province_catalog_managers_write(offices, make_staff, roles, level):
    user = make_staff(roles=roles, office=getattr(offices, level))
    actor = Actor.staff(user)
    course = CourseFactory(code="99001", name="原名")
    school = SchoolFactory()
    major = MajorFactory(school=school)
    calls = [
        lambda: course_save(actor=actor, code="99002", name="新课", credits=2, kind="theory"),
        lambda: course_save(actor=actor, course=course, code="99001", name="改名", credits=4, kind="theory"),
        lambda: course_delete(actor=actor, course=course),
        lambda: school_save(actor=actor, code="10001", name="新学校"),
        lambda: school_delete(actor=actor, school=school),
        lambda: major_save(actor=actor, code="030101K", name="法学", level="benke", school=school),
        lambda: major_delete(actor=actor, major=major),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert list(Course.objects.values_list("code", "name")) == [("99001", "原名")]
    assert School.objects.count() == 1 and Major.objects.count() == 1
    assert events() == 0


@pytest.mark.parametrize(
    "actor", [Actor.public("203.0.113.9"), Actor(kind="candidate", label="011222300077")]
)
def test_candidates_and_the_public_never_write(db, actor):
    with pytest.raises(PermissionDenied):
        course_save(actor=actor, code="99002", name="新课", credits=2, kind="theory")
    assert Course.objects.count() == 0


def test_the_system_actor_may_write(db):
    assert course_save(actor=SYSTEM, code="99002", name="新课", credits=2, kind="theory").pk is not None


# --- schools and majors --------------------------------------------------------------------------


def test_school_create_edit_and_refusals(manager):
    school = school_save(actor=manager, code="10287", name="南京航空航天大学")
    assert AuditEvent.objects.get(event_type="school.created").after == {
        "code": "10287",
        "name": "南京航空航天大学",
    }
    with pytest.raises(ValidationFailed) as caught:
        school_save(actor=manager, code="10288", name="南京航空航天大学")
    assert caught.value.code == "SCHOOL_NAME_TAKEN"
    with pytest.raises(ValidationFailed) as caught:
        school_save(actor=manager, code="10287", name="另一所")
    assert caught.value.code == "SCHOOL_CODE_TAKEN"
    with pytest.raises(CatalogRefused) as caught:
        school_save(actor=manager, code="10-28", name="")
    assert caught.value.code == "SCHOOL_INVALID"
    assert [p["code"] for p in caught.value.fields["problems"]] == ["SCHOOL_BAD_CODE", "SCHOOL_BAD_NAME"]
    school_save(actor=manager, school=school, code="10287", name="南航")
    event = AuditEvent.objects.get(event_type="school.changed")
    assert (event.before, event.after) == (
        {"code": "10287", "name": "南京航空航天大学"},
        {"code": "10287", "name": "南航"},
    )
    assert School.objects.count() == 1


def test_school_with_a_major_cannot_be_deleted(manager):
    major = MajorFactory()
    with pytest.raises(DomainError) as caught:
        school_delete(actor=manager, school=major.school)
    assert caught.value.code == "SCHOOL_IN_USE"
    assert str(caught.value.message) == "学校“南京航空航天大学”已被使用(专业 1),不能删除。"
    empty = SchoolFactory(code="10001", name="空学校")
    school_delete(actor=manager, school=empty)
    assert list(School.objects.values_list("code", flat=True)) == ["10287"]


@pytest.mark.parametrize("code", ["08090", "0809011", "080901X", "08090K", "ABCDEF", "080901k"])
def test_major_code_format(manager, code):
    school = SchoolFactory()
    with pytest.raises(CatalogRefused) as caught:
        major_save(actor=manager, code=code, name="测试", level="benke", school=school)
    assert caught.value.code == "MAJOR_BAD_CODE"
    assert Major.objects.count() == 0


@pytest.mark.parametrize("code", ["080901", "030101K", "071201T"])
def test_major_codes_with_k_or_t_are_accepted(manager, code):
    major = major_save(actor=manager, code=code, name="测试", level="benke", school=SchoolFactory())
    assert major.code == code
    assert AuditEvent.objects.get(event_type="major.created").after == {
        "code": code,
        "name": "测试",
        "level": "benke",
        "province_code": "",
        "school": "10287",
        "restricted": False,
    }


def test_major_refusals(manager, reference):
    school = School.objects.get(name="南京航空航天大学")
    with pytest.raises(ValidationFailed) as caught:
        major_save(actor=manager, code="080901", name="计算机", level="benke", school=school)
    assert caught.value.code == "MAJOR_TAKEN"
    with pytest.raises(CatalogRefused) as caught:
        major_save(
            actor=manager, code="080901", name="计算机", level="master", school=school, province_code="x-1"
        )
    assert [p["code"] for p in caught.value.fields["problems"]] == [
        "MAJOR_BAD_LEVEL",
        "MAJOR_BAD_PROVINCE_CODE",
    ]
    cs = Major.objects.get(code="080901", level="benke")
    with pytest.raises(ValidationFailed) as caught:
        major_save(actor=manager, major=cs, code="080902", name=cs.name, level="benke", school=school)
    assert caught.value.code == "MAJOR_KEY_LOCKED"
    with pytest.raises(DomainError) as caught:
        major_delete(actor=manager, major=cs)
    assert caught.value.code == "MAJOR_IN_USE"
    assert str(caught.value.message) == "专业 080901 计算机科学与技术 已被使用(考试计划 2),不能删除。"
    assert Major.objects.get(pk=cs.pk).code == "080901"
    assert events("major.changed") == events("major.deleted") == 0


def test_major_edit_is_audited(manager, reference):
    cs = Major.objects.get(code="080901", level="benke")
    other = SchoolFactory(code="10001", name="另一所大学")
    major_save(
        actor=manager,
        major=cs,
        code="080901",
        name=cs.name,
        level="benke",
        school=other,
        province_code="X2080901",
        restricted=True,
    )
    event = AuditEvent.objects.get(event_type="major.changed")
    assert event.before["school"] != "10001"
    assert (event.after["school"], event.after["restricted"]) == ("10001", True)
    assert {k: v for k, v in event.before.items() if k not in ("school", "restricted")} == {
        k: v for k, v in event.after.items() if k not in ("school", "restricted")
    }
