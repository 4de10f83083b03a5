"""The office's catalog pages: the permission matrix for every page and action (anonymous, staff
without catalog permissions, read-only staff, catalog managers in a city and at the province),
and the flows a catalog manager walks through. A denied request changes nothing.

The catalog is province-wide reference data, so there is no office scope to test: every staff
user with CATALOG_VIEW reads all of it; changing it needs CATALOG_CHANGE at province level.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.catalog.office_support import (
    CS24_TEXT,
    NOW,
    SYSTEM,
    at,
    load_reference,
    make_sitting,
    modified_cs24,
    xlsx,
)
from tests.factories import CourseFactory, MajorFactory, SchoolFactory
from zikao.accounts.permissions import Role
from zikao.catalog.models import (
    CatalogUpload,
    Course,
    Major,
    Plan,
    PlanItem,
    School,
    Sitting,
    Slot,
    TimetableEntry,
)
from zikao.catalog.selectors import plan_upload_preview, timetable_report
from zikao.catalog.services import plan_upload_create, timetable_entry_save, timetable_upload_create
from zikao.core import clock
from zikao.core.models import AuditEvent


@pytest.fixture
def reference(db):
    load_reference()


@pytest.fixture
def frozen_now():
    with clock.frozen_at(NOW):
        yield NOW


@pytest.fixture
def world(reference, frozen_now):
    """Reference catalog; sitting 202704 with one timetable row; unused course, school, major;
    a pending plan upload (modified 080901) and a clean timetable upload."""
    sitting = make_sitting()
    row = timetable_entry_save(actor=SYSTEM, sitting=sitting, course_code="13000", slot_code="SAT_AM")
    school = SchoolFactory(code="10999", name="未使用学校")
    return SimpleNamespace(
        sitting=sitting,
        row=row,
        course=CourseFactory(code="99002", name="未使用课程"),
        school=school,
        major=MajorFactory(code="030101K", name="法学", school=school),
        plan=Plan.objects.get(major__code="080901", version=2024),
        plan_upload=plan_upload_create(actor=SYSTEM, content=modified_cs24().encode(), source_name="cs.toml"),
        timetable_upload=timetable_upload_create(
            actor=SYSTEM, sitting=sitting, content=b"15040,SUN_AM\n", source_name="t.csv"
        ),
    )


def view_pages(w) -> list[str]:
    label = w.sitting.label
    return [
        reverse("office:catalog_home"),
        reverse("office:catalog_courses") + "?q=英语&kind=theory",
        reverse("office:catalog_course", args=["13000"]),
        reverse("office:catalog_schools") + "?q=南京",
        reverse("office:catalog_majors") + "?q=080901&level=benke",
        reverse("office:catalog_major", args=[w.plan.major_id]),
        reverse("office:catalog_plans") + "?q=080901",
        reverse("office:catalog_plan", args=[w.plan.pk]),
        reverse("office:catalog_plan_source", args=[w.plan.pk]),
        reverse("office:catalog_sittings"),
        reverse("office:catalog_sitting", args=[label]),
        reverse("office:catalog_timetable", args=[label]),
    ]


def change_pages(w) -> list[str]:
    label = w.sitting.label
    return [
        reverse("office:catalog_course_new"),
        reverse("office:catalog_course_edit", args=["13000"]),
        reverse("office:catalog_school_new"),
        reverse("office:catalog_school_edit", args=[w.school.pk]),
        reverse("office:catalog_major_new"),
        reverse("office:catalog_major_edit", args=[w.major.pk]),
        reverse("office:catalog_plan_upload"),
        reverse("office:catalog_plan_preview", args=[w.plan_upload.pk]),
        reverse("office:catalog_sitting_new"),
        reverse("office:catalog_sitting_edit", args=[label]),
        reverse("office:catalog_timetable_entry_edit", args=[label, w.row.pk]),
        reverse("office:catalog_timetable_import", args=[label]),
        reverse("office:catalog_timetable_report", args=[label, w.timetable_upload.pk]),
    ]


def actions(w) -> list[tuple[str, str, callable]]:
    """(name, url, data factory) for every POST; data is built at call time (files, bases)."""
    label = w.sitting.label
    return [
        (
            "course_new",
            reverse("office:catalog_course_new"),
            lambda: {"code": "99001", "name": "新课程", "credits": "2", "kind": "theory"},
        ),
        (
            "course_edit",
            reverse("office:catalog_course_edit", args=["99002"]),
            lambda: {"name": "改名课程", "credits": "3", "kind": "theory"},
        ),
        ("course_delete", reverse("office:catalog_course_delete", args=["99002"]), dict),
        ("school_new", reverse("office:catalog_school_new"), lambda: {"code": "10001", "name": "新学校"}),
        (
            "school_edit",
            reverse("office:catalog_school_edit", args=[w.school.pk]),
            lambda: {"code": "10999", "name": "改名学校"},
        ),
        (
            "major_new",
            reverse("office:catalog_major_new"),
            lambda: {
                "code": "050301",
                "name": "新闻学",
                "level": "benke",
                "school": School.objects.get(name="南京师范大学").pk,
            },
        ),
        (
            "major_edit",
            reverse("office:catalog_major_edit", args=[w.major.pk]),
            lambda: {"code": "030101K", "name": "法学(新)", "level": "benke", "school": w.school.pk},
        ),
        ("major_delete", reverse("office:catalog_major_delete", args=[w.major.pk]), dict),
        ("school_delete", reverse("office:catalog_school_delete", args=[w.school.pk]), dict),
        (
            "plan_upload",
            reverse("office:catalog_plan_upload"),
            lambda: {
                "file": SimpleUploadedFile(
                    "p.toml", CS24_TEXT.replace("version = 2024", "version = 2025").encode()
                )
            },
        ),
        (
            "plan_apply",
            reverse("office:catalog_plan_apply", args=[w.plan_upload.pk]),
            lambda: {"base": plan_upload_preview(CatalogUpload.objects.get(pk=w.plan_upload.pk)).base},
        ),
        (
            "sitting_new",
            reverse("office:catalog_sitting_new"),
            lambda: {"label": "202710", "first_day": "2027-10-16", "review_from_policy": "on"},
        ),
        (
            "sitting_edit",
            reverse("office:catalog_sitting_edit", args=[label]),
            lambda: {
                "first_day": "2027-04-10",
                "entry_opens_at": "2027-02-01T09:00",
                "entry_closes_at": "2027-02-12T17:00",
                "release_at": "2027-05-15T15:00",
                "review_closes_at": "2027-05-26T17:00",
            },
        ),
        (
            "timetable_add",
            reverse("office:catalog_timetable_add", args=[label]),
            lambda: {"course_code": "00023", "slot": "SUN_PM"},
        ),
        (
            "timetable_entry_edit",
            reverse("office:catalog_timetable_entry_edit", args=[label, w.row.pk]),
            lambda: {"slot": "SAT_PM"},
        ),
        (
            "timetable_import",
            reverse("office:catalog_timetable_import", args=[label]),
            lambda: {"file": SimpleUploadedFile("t2.csv", b"02324,SUN_AM\n")},
        ),
        (
            "timetable_apply",
            reverse("office:catalog_timetable_apply", args=[label, w.timetable_upload.pk]),
            lambda: {"base": timetable_report(CatalogUpload.objects.get(pk=w.timetable_upload.pk)).base},
        ),
        (
            "timetable_entry_delete",
            reverse("office:catalog_timetable_entry_delete", args=[label, w.row.pk]),
            dict,
        ),
    ]


def snapshot() -> dict:
    models = (Course, School, Major, Plan, PlanItem, Sitting, Slot, TimetableEntry, CatalogUpload, AuditEvent)
    return {model.__name__: sorted(map(str, model.objects.values_list())) for model in models}


# --- GET matrix ----------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, world):
    for url in view_pages(world) + change_pages(world):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("office:login") + "?next="), url


def test_signed_in_without_second_factor_is_sent_to_sign_in(client, offices, make_staff, world):
    client.force_login(make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province))
    for url in view_pages(world)[:3] + change_pages(world)[:3]:
        assert client.get(url).status_code == 302, url


def test_staff_without_catalog_permissions_gets_403(offices, make_staff, staff_client, world):
    client = staff_client(make_staff(roles=(Role.AUDITOR, Role.STAFF_ADMIN), office=offices.province))
    for url in view_pages(world) + change_pages(world):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "无权访问" in response.content.decode()


@pytest.mark.parametrize(
    ("roles", "level"),
    [
        ((Role.READ_ONLY,), "county"),
        ((Role.READ_ONLY,), "province"),
        ((Role.RECORD_CLERK,), "city"),
        ((Role.CATALOG_MANAGER,), "city"),
        ((Role.CATALOG_MANAGER,), "county"),
    ],
)
def test_viewers_read_everything_but_cannot_open_change_pages(
    offices, make_staff, staff_client, world, roles, level
):
    client = staff_client(make_staff(roles=roles, office=getattr(offices, level)))
    for url in view_pages(world):
        assert client.get(url).status_code == 200, url
    for url in change_pages(world):
        assert client.get(url).status_code == 403, url
    # Buttons for changes are not offered to them.
    body = client.get(reverse("office:catalog_course", args=["13000"])).content.decode()
    assert reverse("office:catalog_course_edit", args=["13000"]) not in body
    body = client.get(reverse("office:catalog_timetable", args=[world.sitting.label])).content.decode()
    assert reverse("office:catalog_timetable_add", args=[world.sitting.label]) not in body


def test_province_catalog_manager_opens_every_page(offices, make_staff, staff_client, world):
    client = staff_client(make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province))
    for url in view_pages(world) + change_pages(world):
        assert client.get(url).status_code == 200, url
    body = client.get(reverse("office:catalog_course", args=["13000"])).content.decode()
    assert reverse("office:catalog_course_edit", args=["13000"]) in body


def test_catalog_menu_entry_only_for_catalog_viewers(offices, make_staff, staff_client, world):
    viewer = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    other = staff_client(make_staff(roles=(Role.AUDITOR,), office=offices.province))
    link = f'<a href="{reverse("office:catalog_home")}">'
    assert link in viewer.get(reverse("office:home")).content.decode()
    assert link not in other.get(reverse("office:home")).content.decode()


def test_missing_objects_are_404(offices, make_staff, staff_client, world):
    client = staff_client(make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province))
    other = make_sitting("202710", first_day=date(2027, 10, 16))
    urls = [
        reverse("office:catalog_course", args=["99999"]),
        reverse("office:catalog_major", args=[999999]),
        reverse("office:catalog_plan", args=[999999]),
        reverse("office:catalog_sitting", args=["209901"]),
        reverse("office:catalog_timetable", args=["209901"]),
        reverse("office:catalog_plan_preview", args=[world.timetable_upload.pk]),  # not a plan upload
        reverse(
            "office:catalog_timetable_report", args=[other.label, world.timetable_upload.pk]
        ),  # other sitting
        reverse("office:catalog_timetable_entry_edit", args=[other.label, world.row.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url


# --- POST matrix ---------------------------------------------------------------------------------


def test_anonymous_posts_change_nothing(client, world):
    before = snapshot()
    for name, url, data in actions(world):
        response = client.post(url, data())
        assert response.status_code == 302 and response["Location"].startswith(reverse("office:login")), name
    assert snapshot() == before


@pytest.mark.parametrize(
    ("roles", "level"),
    [
        ((Role.READ_ONLY,), "province"),
        ((Role.CATALOG_MANAGER,), "city"),
        ((Role.CATALOG_MANAGER,), "county"),
        ((Role.SCORE_MANAGER,), "province"),
    ],
)
def test_denied_posts_are_403_and_change_nothing(offices, make_staff, staff_client, world, roles, level):
    client = staff_client(make_staff(roles=roles, office=getattr(offices, level)))
    before = snapshot()
    for name, url, data in actions(world):
        assert client.post(url, data()).status_code == 403, name
    assert snapshot() == before


def test_province_catalog_manager_can_do_every_action(offices, make_staff, staff_client, world):
    user = make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province)
    client = staff_client(user)
    for name, url, data in actions(world):
        count = AuditEvent.objects.filter(actor_user=user).count()
        response = client.post(url, data())
        assert response.status_code == 302, (name, response.content.decode()[-2000:])
        assert AuditEvent.objects.filter(actor_user=user).count() > count, name
    assert Course.objects.filter(code="99001", name="新课程").exists()
    assert not Course.objects.filter(code="99002").exists()
    assert not School.objects.filter(code="10999").exists()
    assert Plan.objects.get(major__code="080901", version=2024).source_text == modified_cs24()
    assert Sitting.objects.filter(label="202710").exists()
    assert Sitting.objects.get(label="202704").entry_closes_at == at(2027, 2, 12, 17)
    assert dict(TimetableEntry.objects.values_list("course__code", "slot__code")) == {
        "00023": "SUN_PM",
        "15040": "SUN_AM",
    }


# --- flows ---------------------------------------------------------------------------------------


@pytest.fixture
def manager_client(offices, make_staff, staff_client):
    return staff_client(make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province))


def test_course_form_shows_every_refusal_next_to_its_field(manager_client, world):
    response = manager_client.post(
        reverse("office:catalog_course_new"),
        {"code": "1234", "name": "x", "credits": "3.5", "kind": "thesis"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "课程代码应为5位数字。(COURSE_BAD_CODE)" in body
    assert "毕业论文/设计不计学分,学分须为0。(COURSE_THESIS_CREDITS)" in body
    assert not Course.objects.filter(code="1234").exists()


def test_deleting_a_used_course_says_why(manager_client, world):
    response = manager_client.post(reverse("office:catalog_course_delete", args=["13000"]), follow=True)
    assert (
        "课程 13000 已被使用(考试计划 3、考试时间表 1),不能删除。(COURSE_IN_USE)" in response.content.decode()
    )
    assert Course.objects.filter(code="13000").exists()


def test_plan_upload_flow_preview_then_apply(manager_client, world):
    response = manager_client.post(
        reverse("office:catalog_plan_upload"),
        {"file": SimpleUploadedFile("cs.toml", modified_cs24().encode())},
    )
    # Same bytes as the pending upload: the same preview.
    assert response["Location"] == reverse("office:catalog_plan_preview", args=[world.plan_upload.pk])
    body = manager_client.get(response["Location"]).content.decode()
    assert "将替换已导入的同一版本,变化如下。" in body
    assert "<caption>新增课程</caption>" in body and "<caption>删除课程</caption>" in body
    assert "学位课程: <del>否</del> → <ins>是</ins>" in body
    base = plan_upload_preview(world.plan_upload).base
    response = manager_client.post(
        reverse("office:catalog_plan_apply", args=[world.plan_upload.pk]), {"base": base}, follow=True
    )
    assert "已更新 080901 计算机科学与技术(本科) 2024版。" in response.content.decode()
    # Applying the same again: says nothing changed.
    response = manager_client.post(
        reverse("office:catalog_plan_apply", args=[world.plan_upload.pk]),
        {"base": plan_upload_preview(world.plan_upload).base},
        follow=True,
    )
    assert "与已导入的内容完全相同,未作任何更改。" in response.content.decode()


def test_identical_plan_file_is_said_so_and_offers_no_apply(manager_client, world):
    response = manager_client.post(
        reverse("office:catalog_plan_upload"),
        {"file": SimpleUploadedFile("cs.toml", CS24_TEXT.encode())},
        follow=True,
    )
    body = response.content.decode()
    assert "与已导入的内容完全相同,导入不会作任何更改。" in body
    assert "确认导入" not in body


def test_plan_file_errors_are_listed_with_lines(manager_client, world):
    text = CS24_TEXT.replace('course = "00023"', 'course = "99999"', 1)
    response = manager_client.post(
        reverse("office:catalog_plan_upload"),
        {"file": SimpleUploadedFile("bad.toml", text.encode())},
        follow=True,
    )
    body = response.content.decode()
    row = '<td class="num">54</td><td class="code">PLAN_UNKNOWN_COURSE</td>'
    assert row + "<td>课程代码 99999 不在课程目录中。</td>" in body
    assert "确认导入" not in body


def test_stale_plan_apply_is_refused_on_the_page(manager_client, world):
    response = manager_client.post(
        reverse("office:catalog_plan_apply", args=[world.plan_upload.pk]), {"base": "old"}, follow=True
    )
    assert "(PLAN_UPLOAD_STALE)" in response.content.decode()
    assert Plan.objects.get(pk=world.plan.pk).source_text == CS24_TEXT


def test_non_utf8_plan_file_gets_a_form_error(manager_client, world):
    response = manager_client.post(
        reverse("office:catalog_plan_upload"),
        {"file": SimpleUploadedFile("gbk.toml", "计算机科学".encode("gbk"))},
    )
    assert response.status_code == 200
    assert "计划文件须为 UTF-8 编码的 TOML 文本。(PLAN_FILE_ENCODING)" in response.content.decode()


def test_sitting_form_shows_rule_refusals(manager_client, world):
    response = manager_client.post(
        reverse("office:catalog_sitting_new"),
        {
            "label": "202710",
            "first_day": "2027-10-16",
            "entry_opens_at": "2027-08-10T09:00",
            "entry_closes_at": "2027-08-01T17:00",
            "release_at": "2027-10-17T12:00",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "报考截止时间须晚于开始时间。(SITTING_ENTRY_WINDOW_ORDER)" in body
    assert "成绩发布时间须晚于最后一个时段结束(2027-10-17 17:00)。(SITTING_RELEASE_BEFORE_EXAM_END)" in body
    assert not Sitting.objects.filter(label="202710").exists()


def test_sitting_form_needs_all_slot_times_or_none(manager_client, world):
    response = manager_client.post(
        reverse("office:catalog_sitting_new"),
        {"label": "202710", "first_day": "2027-10-16", "sat_am_starts_at": "2027-10-16T09:00"},
    )
    assert "请填写全部四个时段的开始和结束时间,或全部留空以使用默认时间。" in response.content.decode()
    assert not Sitting.objects.filter(label="202710").exists()


def test_released_sitting_shows_release_time_read_only(manager_client, world):
    with clock.frozen_at(at(2027, 5, 16, 9)):
        body = manager_client.get(reverse("office:catalog_sitting_edit", args=["202704"])).content.decode()
        assert 'name="release_at" value="2027-05-15T15:00"' in body and "disabled" in body
        assert "成绩已发布,发布时间不能在此更改。" in body
        response = manager_client.post(
            reverse("office:catalog_sitting_edit", args=["202704"]),
            {"release_at": "2027-06-01T15:00", "review_closes_at": "2027-05-31T17:00"},
        )
    assert response.status_code == 302
    sitting = Sitting.objects.get(label="202704")
    assert (sitting.release_at, sitting.review_closes_at) == (at(2027, 5, 15, 15), at(2027, 5, 31, 17))
    assert (sitting.entry_opens_at, sitting.entry_closes_at) == (at(2027, 2, 1, 9), at(2027, 2, 8, 17))


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "broken.xlsx",
            b"PK\x03\x04broken",
            "无法读取该 Excel 文件(文件已损坏或不是 .xlsx 格式)。(TIMETABLE_BAD_FILE)",
        ),
        ("old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "(TIMETABLE_XLS_UNSUPPORTED)"),
        ("header.csv", "课程代码,时段\n".encode("gbk"), "文件中没有任何数据行。(TIMETABLE_EMPTY)"),
        ("binary.csv", b"\xff\xfe\xfd\x81\x30", "(TIMETABLE_ENCODING)"),
        ("gbk.csv", "课程代码,时段\n02324,周日上午\n".encode("gbk"), "CSV,GBK 编码"),
        ("ok.xlsx", None, "共 2 行:新增 1,与现有安排相同 1,错误 0;冲突 0 处。"),
    ],
)
def test_timetable_import_reports_never_fail(manager_client, world, name, content, expected):
    if content is None:
        content = xlsx([("课程代码", "时段"), ("13000", "SAT_AM"), ("02324", "SUN_AM")])
    response = manager_client.post(
        reverse("office:catalog_timetable_import", args=["202704"]),
        {"file": SimpleUploadedFile(name, content)},
        follow=True,
    )
    assert response.status_code == 200
    assert expected in response.content.decode()


def test_empty_timetable_file_is_a_form_error(manager_client, world):
    response = manager_client.post(
        reverse("office:catalog_timetable_import", args=["202704"]),
        {"file": SimpleUploadedFile("e.csv", b"")},
    )
    assert response.status_code == 200
    assert CatalogUpload.objects.filter(kind="timetable").count() == 1


def test_timetable_clashes_are_shown_on_report_and_timetable(manager_client, world):
    response = manager_client.post(
        reverse("office:catalog_timetable_import", args=["202704"]),
        {"file": SimpleUploadedFile("c.csv", b"15040,SAT_AM\n")},
        follow=True,
    )
    body = response.content.decode()
    assert "冲突 1 处" in body
    assert (
        "050101 汉语言文学(本科) 2024版、080901 计算机科学与技术(本科) 2024版、120203K 会计学(本科) 2024版"
        in body
    )
    assert "确认导入" not in body
    response = manager_client.post(
        reverse("office:catalog_timetable_add", args=["202704"]),
        {"course_code": "15040", "slot": "SAT_AM"},
        follow=True,
    )
    assert "(TIMETABLE_CLASH)" in response.content.decode()
    assert not TimetableEntry.objects.filter(course__code="15040").exists()
