"""Per-sitting statistics (scores.statistics) and the report pages: exact figures, scope, embargo.

The fixture sitting, by area and course (A=00015 theory, B=00018 theory, P=13014 graded practice):

玄武 (county)   A: 100, 60, 59 (was 40: superseded), absent, void(85); a cancelled and an unpaid entry
                B: 90, 89, withheld(75)
                P: 优秀, 合格, 不合格
秦淮 (sibling)  A: 0, 10, an entry without a result
姑苏 (other)    A: 70, 80, 45, 95 under an active withholding
D=00020: on the timetable, nobody entered.  Another sitting: a 65 that must not count.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook

from tests.factories import (
    SHANGHAI,
    CandidateFactory,
    CourseFactory,
    EntryFactory,
    ScoreFactory,
    SittingFactory,
)
from zikao.accounts.permissions import Role
from zikao.catalog.models import Slot, TimetableEntry
from zikao.core import clock
from zikao.core.errors import ValidationFailed
from zikao.core.models import AuditEvent
from zikao.entries.models import Entry
from zikao.office import charts
from zikao.scores import statistics
from zikao.scores.models import Score, ScoreWithholding

pytestmark = pytest.mark.django_db

RELEASE = dt.datetime(2026, 5, 10, 15, 0, tzinfo=SHANGHAI)
AFTER = RELEASE + dt.timedelta(days=1)
BEFORE = RELEASE - dt.timedelta(microseconds=1)


@pytest.fixture
def sitting_data(offices, make_staff):
    sitting = SittingFactory(label="202604", release_at=RELEASE)
    other_sitting = SittingFactory(label="202510", first_day=dt.date(2025, 10, 25), release_at=RELEASE)
    a = CourseFactory(code="00015", name="英语(二)")
    b = CourseFactory(code="00018", name="计算机应用基础")
    p = CourseFactory(code="13014", name="综合实践", kind="practice")
    d = CourseFactory(code="00020", name="高等数学(一)")
    slot = Slot.objects.create(
        sitting=sitting,
        code="SAT_AM",
        starts_at=dt.datetime(2026, 4, 11, 9, 0, tzinfo=SHANGHAI),
        ends_at=dt.datetime(2026, 4, 11, 11, 30, tzinfo=SHANGHAI),
    )
    TimetableEntry.objects.create(sitting=sitting, slot=slot, course=d)
    staff = make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province)

    def score(county, course, value=None, grade="", status="valid", candidate=None):
        candidate = candidate or CandidateFactory(county_office=county)
        entry = EntryFactory(candidate=candidate, sitting=sitting, course=course)
        return ScoreFactory(entry=entry, value=value, grade=grade, status=status)

    c, s, o = offices.county, offices.sibling_county, offices.other_county
    for value in (100, 60):
        score(c, a, value)
    replaced = score(c, a, 40)
    Score.objects.filter(pk=replaced.pk).update(is_current=False)
    Score.objects.create(
        candidate=replaced.candidate,
        course=a,
        sitting=sitting,
        entry=replaced.entry,
        value=59,
        supersedes=replaced,
        created_at=clock.now(),
    )
    score(c, a, status="absent")
    score(c, a, 85, status="void")
    EntryFactory(candidate=CandidateFactory(county_office=c), sitting=sitting, course=a, status="cancelled")
    EntryFactory(
        candidate=CandidateFactory(county_office=c), sitting=sitting, course=a, status="pending_payment"
    )
    for value in (90, 89):
        score(c, b, value)
    score(c, b, 75, status="withheld")
    for grade in ("优秀", "合格", "不合格"):
        score(c, p, grade=grade)
    for value in (0, 10):
        score(s, a, value)
    EntryFactory(candidate=CandidateFactory(county_office=s), sitting=sitting, course=a)
    for value in (70, 80, 45):
        score(o, a, value)
    held = score(o, a, 95)
    ScoreWithholding.objects.create(
        candidate=held.candidate,
        sitting=sitting,
        reason="违规核查中",
        created_at=clock.now(),
        created_by=staff,
    )
    # a released withholding no longer holds anything back
    released = score(o, a, 70)
    ScoreWithholding.objects.create(
        candidate=released.candidate,
        sitting=sitting,
        reason="已核实",
        created_at=clock.now(),
        created_by=staff,
        released_at=clock.now(),
    )
    ScoreFactory(
        entry__candidate=CandidateFactory(county_office=c),
        entry__sitting=other_sitting,
        entry__course=a,
        value=65,
    )
    return SimpleNamespace(sitting=sitting, other_sitting=other_sitting, a=a, b=b, p=p, d=d)


def _row(report, code):
    return next(r for r in report.courses if r.course_code == code)


def _figures(row):
    return (row.entries, row.attended, row.absent, row.withheld, row.passed, row.pass_rate)


# --- statistics: exact figures --------------------------------------------------------------------


def test_province_figures_per_course(offices, make_staff, sitting_data):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.province)
    with clock.frozen_at(AFTER):
        report = statistics.sitting_report(user, sitting_data.sitting)
    assert [r.course_code for r in report.courses] == ["00015", "00018", "00020", "13014"]
    # A: entries 5+3+5; attended 4+2+5; decided 11-1 held; passes 100, 60, 70, 80, 70(released)
    assert _figures(_row(report, "00015")) == (13, 11, 1, 1, 5, Decimal("50.0"))
    assert _figures(_row(report, "00018")) == (3, 3, 0, 1, 2, Decimal("100.0"))
    assert _figures(_row(report, "13014")) == (3, 3, 0, 0, 2, Decimal("66.7"))
    assert _figures(_row(report, "00020")) == (0, 0, 0, 0, 0, None)
    assert _figures(report.total) == (19, 17, 1, 2, 9, Decimal("60.0"))
    assert report.results_disclosed is True and report.released is True and report.pass_mark == 60


def test_area_by_course_figures(offices, make_staff, sitting_data):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.province)
    with clock.frozen_at(AFTER):
        report = statistics.sitting_report(user, sitting_data.sitting)
    assert [(r.area_code, r.course_code, r.entries, r.attended, r.absent) for r in report.areas] == [
        ("320102", "00015", 5, 4, 1),
        ("320102", "00018", 3, 3, 0),
        ("320102", "13014", 3, 3, 0),
        ("320104", "00015", 3, 2, 0),
        ("320508", "00015", 5, 5, 0),
    ]


def test_histogram_all_courses_counts_values_only(offices, make_staff, sitting_data):
    """Valid values only: no grades, no void 85, no withheld 75, no held 95, no superseded 40."""
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.province)
    with clock.frozen_at(AFTER):
        report = statistics.sitting_report(user, sitting_data.sitting)
    assert [(b.label, b.count) for b in report.histogram] == [
        ("0–9", 1),
        ("10–19", 1),
        ("20–29", 0),
        ("30–39", 0),
        ("40–49", 1),
        ("50–59", 1),
        ("60–69", 1),
        ("70–79", 2),
        ("80–89", 2),
        ("90–100", 2),
    ]
    assert report.histogram_total == 11
    assert report.histogram_course is None


def test_histogram_of_one_course_puts_100_in_the_last_bucket_and_60_above_59(
    offices, make_staff, sitting_data
):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.county)
    with clock.frozen_at(AFTER):
        report = statistics.sitting_report(user, sitting_data.sitting, histogram_course="00015")
    assert report.histogram_course == sitting_data.a
    assert [b.count for b in report.histogram] == [0, 0, 0, 0, 0, 1, 1, 0, 0, 1]  # 59 | 60 | 100


def test_pass_mark_is_province_policy(offices, make_staff, sitting_data):
    from zikao.catalog.models import ProvincePolicy

    ProvincePolicy.objects.create(pass_mark=70)
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.county)
    with clock.frozen_at(AFTER):
        report = statistics.sitting_report(user, sitting_data.sitting)
    assert _row(report, "00015").passed == 1  # 100 only; 60 no longer passes
    assert _row(report, "00018").passed == 2  # 90, 89
    assert _row(report, "13014").passed == 2  # grades do not depend on the mark


def test_unknown_histogram_course_is_refused(offices, make_staff, sitting_data):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.province)
    for code in ("99999", "abc", "0001"):
        with pytest.raises(ValidationFailed) as caught:
            statistics.sitting_report(user, sitting_data.sitting, histogram_course=code)
        assert caught.value.code == "REPORT_COURSE_INVALID"


# --- statistics: scope ----------------------------------------------------------------------------


def test_city_sees_only_its_counties(offices, make_staff, sitting_data):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.city)
    with clock.frozen_at(AFTER):
        report = statistics.sitting_report(user, sitting_data.sitting)
    assert _figures(_row(report, "00015")) == (8, 6, 1, 0, 2, Decimal("33.3"))
    assert {r.area_code for r in report.areas} == {"320102", "320104"}
    assert sum(b.count for b in report.histogram) == 7  # 100 60 59 90 89 0 10
    assert report.scope_label == offices.city.name


def test_county_sees_only_itself(offices, make_staff, sitting_data):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.county)
    with clock.frozen_at(AFTER):
        report = statistics.sitting_report(user, sitting_data.sitting)
    assert _figures(_row(report, "00015")) == (5, 4, 1, 0, 2, Decimal("50.0"))
    assert {r.area_code for r in report.areas} == {"320102"}
    assert _figures(report.total) == (11, 10, 1, 1, 6, Decimal("66.7"))


# --- statistics: before the release instant -------------------------------------------------------


@pytest.mark.parametrize("level", ["county", "city", "province"])
def test_before_release_non_publishers_get_entries_only(offices, make_staff, sitting_data, level):
    user = make_staff(roles=(Role.READ_ONLY, Role.AUDITOR), office=getattr(offices, level))
    with clock.frozen_at(BEFORE):
        report = statistics.sitting_report(user, sitting_data.sitting, histogram_course="00015")
    assert report.results_disclosed is False
    assert report.histogram == []
    assert all(
        (r.attended, r.absent, r.withheld, r.passed, r.pass_rate) == (None, None, None, None, None)
        for r in [*report.courses, report.total]
    )
    assert all((r.attended, r.absent) == (None, None) for r in report.areas)


def test_before_release_a_province_score_manager_previews(offices, make_staff, sitting_data):
    user = make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province)
    with clock.frozen_at(BEFORE):
        report = statistics.sitting_report(user, sitting_data.sitting)
    assert report.results_disclosed is True and report.released is False
    assert _row(report, "00015").pass_rate == Decimal("50.0")


def test_published_early_counts_as_released(offices, make_staff, sitting_data):
    sitting = sitting_data.sitting
    sitting.published_at = BEFORE - dt.timedelta(hours=1)
    sitting.save()
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.county)
    with clock.frozen_at(BEFORE):
        assert statistics.sitting_report(user, sitting).results_disclosed is True


def test_statistics_need_the_permission(offices, make_staff, sitting_data):
    from zikao.accounts.permissions import PermissionDenied

    user = make_staff(roles=(Role.RECORD_CLERK,), office=offices.province)
    with pytest.raises(PermissionDenied):
        statistics.sitting_report(user, sitting_data.sitting)
    with pytest.raises(PermissionDenied):
        statistics.report_sittings(user)


# --- charts ---------------------------------------------------------------------------------------


def test_pass_rate_chart_is_accessible_svg_without_style():
    svg = charts.pass_rate_bars(
        title="202604 <各课程>", items=[("00015 英语(二)", Decimal("50.0")), ("00020 高数", None)]
    )
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert 'role="img"' in svg and "aria-labelledby=" in svg
    assert "<title id=" in svg and "202604 &lt;各课程&gt;" in svg
    assert "<desc id=" in svg and "00015 英语(二): 50.0%; 00020 高数: —" in svg
    assert "style=" not in svg and "<script" not in svg
    assert svg.count("<rect ") == 1  # no bar for a course without a rate
    assert 'width="200"' in svg  # 50 % of the 400-unit bar


def test_histogram_chart_scales_bars_to_the_peak():
    svg = charts.histogram(title="分布", buckets=[("0–9", 0), ("10–19", 3), ("90–100", 6)])
    assert svg.count("<rect ") == 3
    assert 'height="165"' in svg and 'height="82.5"' in svg  # 6 and 3 of an axis topped at 8
    assert "<title>10–19: 3</title>" in svg
    assert "style=" not in svg


# --- pages ----------------------------------------------------------------------------------------


def _page(client, url):
    response = client.get(url)
    return response, response.content.decode()


@pytest.mark.parametrize(
    ("roles", "level", "status"),
    [
        ((), "province", 403),
        ((Role.RECORD_CLERK,), "province", 403),
        ((Role.READ_ONLY,), "county", 200),
        ((Role.AUDITOR,), "city", 200),
        ((Role.SCORE_MANAGER,), "province", 200),
        ((Role.CATALOG_MANAGER,), "province", 200),
    ],
)
def test_report_pages_permission_matrix(
    offices, make_staff, staff_client, sitting_data, roles, level, status
):
    client = staff_client(make_staff(roles=roles, office=getattr(offices, level)))
    with clock.frozen_at(AFTER):
        assert client.get("/office/reports/").status_code == status
        assert client.get("/office/reports/202604/").status_code == status
        before = AuditEvent.objects.count()
        response = client.post("/office/reports/202604/export/")
        assert response.status_code == status
        assert AuditEvent.objects.count() == before + (1 if status == 200 else 0)


def test_report_pages_send_anonymous_to_sign_in(client, sitting_data):
    for url in ("/office/reports/", "/office/reports/202604/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/office/login/")
    before = AuditEvent.objects.count()
    response = client.post("/office/reports/202604/export/")
    assert response.status_code == 302
    assert AuditEvent.objects.count() == before


def test_unknown_sitting_is_not_found(offices, make_staff, staff_client, sitting_data):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.province))
    assert client.get("/office/reports/209901/").status_code == 404
    before = AuditEvent.objects.count()
    assert client.post("/office/reports/209901/export/").status_code == 404
    assert AuditEvent.objects.count() == before
    response = client.get("/office/reports/?sitting=209901")
    assert response.status_code == 404 and "没有该考次" in response.content.decode()


def test_index_lists_sittings_and_picker_redirects(offices, make_staff, staff_client, sitting_data):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    with clock.frozen_at(AFTER):
        response, html = _page(client, "/office/reports/")
        assert response.status_code == 200
        assert html.index("202604") < html.index("202510")
        assert 'href="/office/reports/202604/"' in html
        response = client.get("/office/reports/?sitting=202510")
    assert response.status_code == 302 and response["Location"] == "/office/reports/202510/"


def test_report_page_after_release_shows_figures_and_charts(offices, make_staff, staff_client, sitting_data):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.city))
    with clock.frozen_at(AFTER):
        response, html = _page(client, "/office/reports/202604/?course=00015")
    assert response.status_code == 200
    assert "及格率(%)" in html and "33.3" in html
    assert html.count("<svg ") == 2 and "style=" not in html.split("<main", 1)[1]
    assert "姑苏区" not in html and "320508" not in html  # the other city's county
    assert "成绩分布数据" in html and "各课程及格率数据" in html  # a table next to each chart
    assert '<option value="00015" selected>' in html


def test_report_page_before_release_discloses_nothing(offices, make_staff, staff_client, sitting_data):
    client = staff_client(make_staff(roles=(Role.READ_ONLY, Role.AUDITOR), office=offices.city))
    with clock.frozen_at(BEFORE):
        response, html = _page(client, "/office/reports/202604/?course=00015")
    assert response.status_code == 200
    assert "发布前仅显示报考人数" in html
    for leak in ("及格", "实考", "缺考", "<svg", "成绩分布", "33.3", "暂缓"):
        assert leak not in html.split("<main", 1)[1].replace("本考次成绩尚未发布，发布前仅显示报考人数。", "")


def test_report_page_bad_course_says_why(offices, make_staff, staff_client, sitting_data):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.province))
    with clock.frozen_at(AFTER):
        response, html = _page(client, "/office/reports/202604/?course=99999")
    assert response.status_code == 400
    assert "REPORT_COURSE_INVALID" in html and "没有该课程代码" in html


def test_nav_shows_reports_only_with_the_permission(offices, make_staff, staff_client):
    with_perm = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    without = staff_client(make_staff(roles=(Role.RECORD_CLERK,), office=offices.county))
    assert 'href="/office/reports/"' in with_perm.get("/office/").content.decode()
    assert 'href="/office/reports/"' not in without.get("/office/").content.decode()


# --- export ---------------------------------------------------------------------------------------


def _workbook(response):
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)


def _rows(sheet):
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_xlsx_export_has_one_sheet_per_table(offices, make_staff, staff_client, sitting_data):
    user = make_staff(roles=(Role.READ_ONLY,), office=offices.county)
    client = staff_client(user)
    with clock.frozen_at(AFTER):
        response = client.post("/office/reports/202604/export/", {"course": "00015"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "report-202604.xlsx" in response["Content-Disposition"]
    book = _workbook(response)
    assert book.sheetnames == ["课程统计", "考区课程统计", "成绩分布 00015"]
    assert _rows(book["课程统计"]) == [
        ["课程代码", "课程名称", "报考人数", "实考人数", "缺考人数", "暂缓发布", "及格人数", "及格率(%)"],
        ["00015", "英语(二)", 5, 4, 1, 0, 2, 50],
        ["00018", "计算机应用基础", 3, 3, 0, 1, 2, 100],
        ["00020", "高等数学(一)", 0, 0, 0, 0, 0, None],
        ["13014", "综合实践", 3, 3, 0, 0, 2, 66.7],
        [None, "合计", 11, 10, 1, 1, 6, 66.7],
    ]
    assert _rows(book["考区课程统计"]) == [
        ["考区代码", "考区", "课程代码", "课程名称", "报考人数", "实考人数", "缺考人数"],
        ["320102", "玄武区", "00015", "英语(二)", 5, 4, 1],
        ["320102", "玄武区", "00018", "计算机应用基础", 3, 3, 0],
        ["320102", "玄武区", "13014", "综合实践", 3, 3, 0],
    ]
    assert _rows(book["成绩分布 00015"]) == [
        ["分数段", "人数"],
        ["0–9", 0],
        ["10–19", 0],
        ["20–29", 0],
        ["30–39", 0],
        ["40–49", 0],
        ["50–59", 1],
        ["60–69", 1],
        ["70–79", 0],
        ["80–89", 0],
        ["90–100", 1],
    ]
    event = AuditEvent.objects.get(event_type="report.exported")
    assert (event.actor_user, event.subject_type, event.subject_id) == (
        user,
        "catalog.sitting",
        str(sitting_data.sitting.pk),
    )
    assert event.after == {
        "sitting": "202604",
        "course": "00015",
        "office": "320102",
        "results_disclosed": True,
        "format": "xlsx",
    }


def test_xlsx_export_before_release_has_entries_only(offices, make_staff, staff_client, sitting_data):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.province))
    with clock.frozen_at(BEFORE):
        response = client.post("/office/reports/202604/export/")
    book = _workbook(response)
    assert book.sheetnames == ["课程统计", "考区课程统计"]
    assert _rows(book["课程统计"]) == [
        ["课程代码", "课程名称", "报考人数"],
        ["00015", "英语(二)", 13],
        ["00018", "计算机应用基础", 3],
        ["00020", "高等数学(一)", 0],
        ["13014", "综合实践", 3],
        [None, "合计", 19],
    ]
    assert _rows(book["考区课程统计"])[0] == ["考区代码", "考区", "课程代码", "课程名称", "报考人数"]
    assert AuditEvent.objects.get(event_type="report.exported").after["results_disclosed"] is False


def test_xlsx_export_with_bad_course_writes_nothing(offices, make_staff, staff_client, sitting_data):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.province))
    with clock.frozen_at(AFTER):
        response = client.post("/office/reports/202604/export/", {"course": "12"})
    assert response.status_code == 400
    assert "REPORT_COURSE_INVALID" in response.content.decode()
    assert not AuditEvent.objects.filter(event_type="report.exported").exists()


def test_export_is_post_only(offices, make_staff, staff_client, sitting_data):
    client = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.province))
    assert client.get("/office/reports/202604/export/").status_code == 405
    assert not AuditEvent.objects.filter(event_type="report.exported").exists()


def test_entries_table_ignores_cancelled_and_unpaid(sitting_data):
    assert Entry.objects.filter(sitting=sitting_data.sitting, course=sitting_data.a).count() == 15
