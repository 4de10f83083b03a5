"""Plan uploads: the preview (diff against the current version, or parse errors with lines), the
apply tied to the previewed bytes, and checksum idempotency."""

from __future__ import annotations

import pytest

from tests.catalog.conftest import PLANS
from tests.catalog.office_support import (
    CS24_NAME,
    CS24_TEXT,
    SYSTEM,
    events,
    load_courses,
    load_reference,
    modified_cs24,
)
from zikao.accounts.permissions import PermissionDenied, Role
from zikao.catalog.models import CatalogUpload, Major, Plan, PlanItem, School
from zikao.catalog.plandiff import CourseChange, CourseLine, FieldChange, PartChange, PlanDiff
from zikao.catalog.planfile import PlanFileError
from zikao.catalog.selectors import plan_upload_preview
from zikao.catalog.services import plan_import, plan_upload_apply, plan_upload_create
from zikao.core.audit import Actor
from zikao.core.errors import DomainError, ValidationFailed
from zikao.core.models import AuditEvent


@pytest.fixture
def reference(db):
    load_reference()


@pytest.fixture
def course_list(db):
    load_courses()


@pytest.fixture
def manager(offices, make_staff):
    return Actor.staff(make_staff(roles=(Role.CATALOG_MANAGER,), office=offices.province))


def upload(actor, text: str, name: str = "plan.toml") -> CatalogUpload:
    return plan_upload_create(actor=actor, content=text.encode("utf-8"), source_name=name)


def test_identical_file_previews_as_unchanged_and_applying_changes_nothing(manager, reference):
    plan = Plan.objects.get(major__code="080901", version=2024)
    before_events = events()
    item = upload(manager, CS24_TEXT, CS24_NAME)
    assert events() == before_events + 1  # the upload itself: 'catalog.upload_received'
    preview = plan_upload_preview(item)
    assert (preview.kind, preview.status, preview.problems, preview.can_apply) == (
        "plan",
        "identical",
        [],
        False,
    )
    assert preview.compared == plan
    assert preview.diff is not None and preview.diff.is_empty
    result = plan_upload_apply(actor=manager, upload=item, base=preview.base)
    assert (result.status, result.title) == ("unchanged", "080901 计算机科学与技术(本科) 2024版")
    assert events("plan.imported") == 6  # the reference load only
    assert events() == before_events + 1
    again = Plan.objects.get(pk=plan.pk)
    assert (again.checksum, again.imported_at) == (plan.checksum, plan.imported_at)
    assert CatalogUpload.objects.get(pk=item.pk).applied_at is None


def test_uploading_the_same_bytes_again_reuses_the_upload(manager, reference):
    first = upload(manager, CS24_TEXT, "a.toml")
    count = events()
    second = upload(manager, CS24_TEXT, "b.toml")
    assert second.pk == first.pk
    assert CatalogUpload.objects.count() == 1
    assert events() == count


def test_preview_shows_exactly_what_changes(manager, reference):
    preview = plan_upload_preview(upload(manager, modified_cs24()))
    assert (preview.status, preview.can_apply, preview.new_school) == ("update", True, False)
    assert preview.compared == Plan.objects.get(major__code="080901", version=2024)
    assert preview.diff == PlanDiff(
        plan=(),
        added=(
            CourseLine("00024", "普通逻辑", "4", "笔试", "必考"),
            CourseLine("04741", "计算机网络原理", "4", "笔试", "选考(network)"),
        ),
        removed=(
            CourseLine("04747", "Java语言程序设计(一)", "3", "笔试", "必考"),
            CourseLine("04748", "Java语言程序设计(一)(实践)", "1", "实践", "必考"),
        ),
        changed=(CourseChange("02333", "软件工程", (FieldChange("degree", "学位课程", "否", "是"),)),),
        groups=(
            PartChange(
                "network",
                "网络课程任选一门(15)",
                "changed",
                (
                    FieldChange("courses", "课程", "13017、04751", "13017、04751、04741"),
                    FieldChange("min_credits", "至少学分", "0", "3"),
                ),
            ),
        ),
        paths=(),
    )


def test_apply_imports_the_previewed_bytes_and_keeps_the_text(manager, reference):
    text = modified_cs24()
    item = upload(manager, text, "080901_v2.toml")
    preview = plan_upload_preview(item)
    result = plan_upload_apply(actor=manager, upload=item, base=preview.base)
    plan = Plan.objects.get(major__code="080901", version=2024)
    assert (result.status, result.subject) == ("updated", plan)
    assert plan.source_text == text
    codes = set(PlanItem.objects.filter(plan=plan).values_list("course__code", flat=True))
    assert {"00024", "04741"} <= codes and not {"04747", "04748"} & codes
    event = AuditEvent.objects.filter(event_type="plan.imported").latest("id")
    assert event.actor_user_id == manager.user.pk
    assert event.after["source"] == "080901_v2.toml"
    applied = CatalogUpload.objects.get(pk=item.pk)
    assert applied.applied_by_id == manager.user.pk
    assert applied.outcome == {
        "status": "updated",
        "kind": "plan",
        "title": "080901 计算机科学与技术(本科) 2024版",
        "subject": "catalog.plan",
        "subject_id": plan.pk,
    }
    # Now the stored plan is that file: previewing it again says so, applying again does nothing.
    again = plan_upload_preview(applied)
    assert again.status == "identical"
    count = events()
    assert plan_upload_apply(actor=manager, upload=applied, base=again.base).status == "unchanged"
    assert events() == count


def test_apply_refuses_when_the_plan_changed_since_the_preview(manager, reference):
    item = upload(manager, modified_cs24())
    preview = plan_upload_preview(item)
    # Someone imports another version of the same plan in between.
    plan_import(
        actor=SYSTEM,
        text=CS24_TEXT.replace("min_total_credits = 73", "min_total_credits = 74", 1),
        source_name="x",
    )
    checksum = Plan.objects.get(major__code="080901", version=2024).checksum
    count = events()
    with pytest.raises(DomainError) as caught:
        plan_upload_apply(actor=manager, upload=item, base=preview.base)
    assert caught.value.code == "PLAN_UPLOAD_STALE"
    assert Plan.objects.get(major__code="080901", version=2024).checksum == checksum
    assert events() == count
    with pytest.raises(DomainError) as caught:
        plan_upload_apply(actor=manager, upload=item, base="forged")
    assert caught.value.code == "PLAN_UPLOAD_STALE"


def test_a_new_version_is_compared_with_the_current_one(manager, reference):
    text = modified_cs24().replace("version = 2024", "version = 2026", 1)
    preview = plan_upload_preview(upload(manager, text))
    assert preview.status == "new_version"
    assert preview.compared.version == 2024
    assert [line.code for line in preview.diff.added] == ["00024", "04741"]
    result = plan_upload_apply(actor=manager, upload=preview.upload, base=preview.base)
    assert result.status == "created"
    assert list(
        Plan.objects.filter(major__code="080901").order_by("version").values_list("version", flat=True)
    ) == [
        2021,
        2024,
        2026,
    ]


def test_an_older_version_is_compared_with_the_newest(manager, reference):
    text = CS24_TEXT.replace("version = 2024", "version = 2022", 1)
    preview = plan_upload_preview(upload(manager, text))
    assert (preview.status, preview.compared.version) == ("older_version", 2024)
    assert preview.diff.is_empty


def test_first_plan_of_a_new_major_says_so_and_creates_major_and_school(manager, course_list):
    preview = plan_upload_preview(upload(manager, CS24_TEXT))
    assert (preview.status, preview.new_school, preview.compared, preview.diff) == (
        "new_major",
        True,
        None,
        None,
    )
    assert preview.title == "080901 计算机科学与技术(本科) 2024版"
    result = plan_upload_apply(actor=manager, upload=preview.upload, base=preview.base)
    assert result.status == "created"
    assert Major.objects.get(code="080901").school == School.objects.get(name="南京航空航天大学")
    assert PlanItem.objects.count() == 23


def test_parse_errors_are_shown_with_their_lines_and_nothing_can_be_applied(manager, reference):
    text = CS24_TEXT.replace('course = "00023"', 'course = "99999"', 1).replace(
        'name = "离散数学"\ncredits = 4', 'name = "离散数学"\ncredits = 5', 1
    )
    item = upload(manager, text)
    preview = plan_upload_preview(item)
    assert (preview.status, preview.can_apply) == ("invalid", False)
    assert [(p.line, p.code, p.message) for p in preview.problems] == [
        (54, "PLAN_UNKNOWN_COURSE", "课程代码 99999 不在课程目录中。"),
        (62, "PLAN_COURSE_MISMATCH", "课程 02324 的 credits 为“5”,与课程目录中的“4”不一致。"),
    ]
    count = events()
    with pytest.raises(PlanFileError) as caught:
        plan_upload_apply(actor=manager, upload=item, base=preview.base)
    assert caught.value.codes == ["PLAN_UNKNOWN_COURSE", "PLAN_COURSE_MISMATCH"]
    assert events() == count


def test_toml_syntax_error_has_its_line(manager, course_list):
    preview = plan_upload_preview(upload(manager, 'format = 1\n[plan]\nmajor_code = "080901\n'))
    assert preview.status == "invalid"
    assert [(p.line, p.code) for p in preview.problems] == [(3, "PLAN_SYNTAX")]


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"", "PLAN_FILE_EMPTY", "文件是空的。"),
        (b"\n  \n", "PLAN_FILE_EMPTY", "文件是空的。"),
        (
            '[plan]\nmajor_name = "计算机"\n'.encode("gbk"),
            "PLAN_FILE_ENCODING",
            "计划文件须为 UTF-8 编码的 TOML 文本。",
        ),
        (b"#" * (1024 * 1024 + 1), "PLAN_FILE_TOO_LARGE", "计划文件不能超过 1 MB。"),
    ],
)
def test_unusable_uploads_are_refused_and_not_kept(manager, content, code, message):
    with pytest.raises(ValidationFailed) as caught:
        plan_upload_create(actor=manager, content=content, source_name="x.toml")
    assert (caught.value.code, str(caught.value.message)) == (code, message)
    assert CatalogUpload.objects.count() == 0
    assert events() == 0


def test_substitution_tables_and_politics_rules_preview_too(manager, reference):
    table = (PLANS / "080901_benke_substitution_2021_2024.toml").read_text(encoding="utf-8")
    preview = plan_upload_preview(upload(manager, table))
    assert (preview.kind, preview.status, preview.can_apply) == ("substitution", "identical", False)
    assert preview.title == "顶替表 080901_benke_2021_2024(080901 2021版 → 2024版)"
    changed = plan_upload_preview(upload(manager, table + "\n# reviewed 2027\n"))
    assert (changed.status, changed.can_apply) == ("update", True)
    assert plan_upload_apply(actor=manager, upload=changed.upload, base=changed.base).status == "updated"
    assert events("plan.substitution_imported") == 2
    politics = (PLANS / "jiangsu_politics.toml").read_text(encoding="utf-8")
    assert plan_upload_preview(upload(manager, politics)).kind == "politics"


@pytest.mark.parametrize("level", ["city", "county"])
def test_catalog_managers_below_province_cannot_upload_or_apply(
    offices, make_staff, manager, reference, level
):
    item = upload(manager, modified_cs24())
    preview = plan_upload_preview(item)
    other = Actor.staff(make_staff(roles=(Role.CATALOG_MANAGER,), office=getattr(offices, level)))
    count = events()
    with pytest.raises(PermissionDenied):
        plan_upload_create(actor=other, content=b"[plan]\n", source_name="x.toml")
    with pytest.raises(PermissionDenied):
        plan_upload_apply(actor=other, upload=item, base=preview.base)
    assert Plan.objects.get(major__code="080901", version=2024).source_text == CS24_TEXT
    assert CatalogUpload.objects.count() == 1
    assert events() == count
