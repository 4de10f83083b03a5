"""The audit trail pages: permission matrix, filters in Beijing time, masking, unmask and export events."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from tests.core import test_audit_selectors as audit_fixtures
from zikao.accounts.permissions import Role
from zikao.core.models import AuditEvent
from zikao.office import exports

pytestmark = pytest.mark.django_db

# The fixture trail (e1..e6) and the auditors at each level: tests/core/test_audit_selectors.py.
audit_world = audit_fixtures.audit_world
auditors = audit_fixtures.auditors
FULL_ID, OTHER_ID = audit_fixtures.FULL_ID, audit_fixtures.OTHER_ID

MASKED_ID = FULL_ID[:6] + "********" + FULL_ID[-4:]
MASKED_OTHER = OTHER_ID[:6] + "********" + OTHER_ID[-4:]


def _html(response) -> str:
    return response.content.decode()


def _without_tokens(html: str) -> str:
    """The page without what differs per request: CSRF tokens and the language form's return path."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'name="next" type="hidden" value="[^"]+"', "", html)


def _order_on_page(html: str, world) -> list[str]:
    positions = [
        (html.find(f'href="/office/audit/{e.pk}/"'), f"e{i + 1}") for i, e in enumerate(world.events)
    ]
    return [name for position, name in sorted(positions) if position >= 0]


# --- permission matrix ----------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_and_nothing_is_written(client, audit_world):
    pk = audit_world.events[0].pk
    before = AuditEvent.objects.count()
    for method, url in [
        ("get", "/office/audit/"),
        ("get", f"/office/audit/{pk}/"),
        ("post", f"/office/audit/{pk}/unmask/"),
        ("post", "/office/audit/export/csv/"),
        ("post", "/office/audit/export/xlsx/"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/office/login/")
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("roles", [(), (Role.RECORD_CLERK,), (Role.READ_ONLY,), (Role.SCORE_MANAGER,)])
def test_staff_without_audit_view_are_refused(offices, make_staff, staff_client, audit_world, roles):
    client = staff_client(make_staff(roles=roles, office=offices.province))
    pk = audit_world.events[0].pk
    before = AuditEvent.objects.count()
    assert client.get("/office/audit/").status_code == 403
    assert client.get(f"/office/audit/{pk}/").status_code == 403
    assert client.post("/office/audit/export/csv/").status_code == 403
    assert client.post("/office/audit/export/xlsx/").status_code == 403
    expected_unmask = 403  # RECORD_CLERK passes the gate (full ID) but lacks audit.view → 403 inside
    assert client.post(f"/office/audit/{pk}/unmask/").status_code == expected_unmask
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(("level", "visible"), [("province", 6), ("city", 3), ("county", 2)])
def test_auditor_pages_by_level(offices, make_staff, staff_client, audit_world, level, visible):
    client = staff_client(make_staff(roles=(Role.AUDITOR,), office=getattr(offices, level)))
    response = client.get("/office/audit/")
    assert response.status_code == 200
    assert len(_order_on_page(_html(response), audit_world)) == visible
    assert client.get(f"/office/audit/{audit_world.events[0].pk}/").status_code == 200


def test_out_of_scope_event_is_the_same_404_as_a_missing_one(offices, make_staff, staff_client, audit_world):
    user = make_staff(roles=(Role.AUDITOR, Role.RECORD_CLERK), office=offices.county)
    client = staff_client(user)
    e3 = audit_world.events[2]
    before = AuditEvent.objects.count()
    out_of_scope = client.get(f"/office/audit/{e3.pk}/")
    missing = client.get("/office/audit/999999/")
    assert out_of_scope.status_code == missing.status_code == 404
    assert _without_tokens(_html(out_of_scope)) == _without_tokens(_html(missing))
    assert client.post(f"/office/audit/{e3.pk}/unmask/").status_code == 404
    assert AuditEvent.objects.count() == before


def test_export_needs_city_level(offices, make_staff, staff_client, audit_world):
    county = staff_client(make_staff(roles=(Role.AUDITOR,), office=offices.county))
    before = AuditEvent.objects.count()
    assert county.post("/office/audit/export/csv/").status_code == 403
    assert county.post("/office/audit/export/xlsx/").status_code == 403
    assert AuditEvent.objects.count() == before
    assert "导出 CSV" not in _html(county.get("/office/audit/"))
    city = staff_client(make_staff(roles=(Role.AUDITOR,), office=offices.city))
    assert "导出 CSV" in _html(city.get("/office/audit/"))
    assert city.post("/office/audit/export/csv/").status_code == 200
    assert AuditEvent.objects.filter(event_type="audit.exported").count() == 1


def test_writes_are_post_only(offices, make_staff, staff_client, audit_world):
    client = staff_client(make_staff(roles=(Role.AUDITOR, Role.RECORD_CLERK), office=offices.province))
    before = AuditEvent.objects.count()
    assert client.get(f"/office/audit/{audit_world.events[0].pk}/unmask/").status_code == 405
    assert client.get("/office/audit/export/csv/").status_code == 405
    assert AuditEvent.objects.count() == before


def test_nav_shows_audit_only_with_the_permission(offices, make_staff, staff_client):
    with_perm = staff_client(make_staff(roles=(Role.AUDITOR,), office=offices.county))
    without = staff_client(make_staff(roles=(Role.READ_ONLY,), office=offices.county))
    assert 'href="/office/audit/"' in _html(with_perm.get("/office/"))
    assert 'href="/office/audit/"' not in _html(without.get("/office/"))


# --- filters on the page --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"candidate_no": "050824100003"}, ["e6", "e3"]),
        ({"username": "xw_clerk"}, ["e6", "e1"]),
        ({"event_type": "account.login"}, ["e2"]),
        # Beijing wall-clock time: 09:00 includes e2 (09:00 +08); UTC would have excluded it
        ({"start": "2026-05-02T09:00", "end": "2026-05-05T18:30"}, ["e4", "e3", "e2"]),
        ({"end": "2026-05-02T09:00"}, ["e1"]),
        ({"username": "xw_clerk", "start": "2026-05-02"}, ["e6"]),
    ],
)
def test_list_filters(auditors, staff_client, audit_world, query, expected):
    response = staff_client(auditors.province).get("/office/audit/", query)
    assert response.status_code == 200
    assert _order_on_page(_html(response), audit_world) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"candidate_no": "0102"}, "准考证号应为12位数字。"),
        ({"event_type": "no.such.type"}, "no.such.type"),
        ({"start": "2026-05-03T00:00", "end": "2026-05-02T00:00"}, "结束时间须晚于开始时间。"),
        ({"start": "yesterday"}, "输入一个有效的日期/时间。"),
    ],
)
def test_bad_filters_say_why(auditors, staff_client, audit_world, query, message):
    response = staff_client(auditors.province).get("/office/audit/", query)
    assert response.status_code == 400
    html = _html(response)
    assert message in html and 'class="field-error"' in html
    assert _order_on_page(html, audit_world) == []


def test_bad_cursor_says_why(auditors, staff_client, audit_world):
    response = staff_client(auditors.province).get("/office/audit/", {"before": "garbage"})
    assert response.status_code == 400
    assert "AUDIT_CURSOR_INVALID" in _html(response)


def test_event_type_choices_come_from_the_trail(auditors, staff_client, audit_world):
    html = _html(staff_client(auditors.province).get("/office/audit/"))
    assert '<option value="score.corrected">score.corrected</option>' in html


def test_paging_links_keep_the_filter(auditors, staff_client, audit_world, monkeypatch):
    from zikao.core import selectors

    monkeypatch.setattr(selectors, "PAGE_SIZE", 1)
    client = staff_client(auditors.province)
    html = _html(client.get("/office/audit/", {"username": "xw_clerk"}))
    assert _order_on_page(html, audit_world) == ["e6"]
    older = html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert older.startswith("?username=xw_clerk&before=")
    page2 = _html(client.get("/office/audit/" + older))
    assert _order_on_page(page2, audit_world) == ["e1"]
    assert 'rel="prev"' in page2 and 'rel="next"' not in page2


# --- detail, masking and unmasking ----------------------------------------------------------------


def test_detail_masks_personal_data(auditors, staff_client, audit_world):
    html = _html(staff_client(auditors.county).get(f"/office/audit/{audit_world.events[0].pk}/"))
    for secret in (FULL_ID, "13812345678", "13912345678", "王小明", "王晓明", "中山路1号"):
        assert secret not in html, secret
    for shown in (
        MASKED_ID,
        "138****5678",
        "139****5678",
        "王**",
        "南京市玄武区****",
        "010224100001",
        "xw_clerk",
    ):
        assert shown in html, shown
    assert "显示完整信息" not in html  # an auditor without records.view_full_id
    assert not AuditEvent.objects.filter(event_type="audit.unmasked_viewed").exists()


def test_detail_masks_by_field_key(auditors, staff_client, audit_world):
    html = _html(staff_client(auditors.province).get(f"/office/audit/{audit_world.events[5].pk}/"))
    assert OTHER_ID not in html and MASKED_OTHER in html


def test_unmask_shows_full_values_and_is_recorded(offices, make_staff, staff_client, audit_world):
    user = make_staff(roles=(Role.AUDITOR, Role.RECORD_CLERK), office=offices.city)
    client = staff_client(user)
    e1 = audit_world.events[0]
    detail = _html(client.get(f"/office/audit/{e1.pk}/"))
    assert "显示完整信息" in detail and FULL_ID not in detail
    response = client.post(f"/office/audit/{e1.pk}/unmask/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = _html(response)
    for secret in (FULL_ID, "13812345678", "王小明", "南京市玄武区中山路1号"):
        assert secret in html
    record = AuditEvent.objects.get(event_type="audit.unmasked_viewed")
    assert (record.actor_user, record.subject_id, record.candidate) == (user, str(e1.pk), audit_world.mine)


# --- export ---------------------------------------------------------------------------------------

HEADER = [
    "时间",
    "事件类型",
    "操作者类型",
    "操作者",
    "准考证号",
    "对象类型",
    "对象编号",
    "IP地址",
    "变更前",
    "变更后",
]


def _e1_row(world):
    return [
        "2026-05-01 10:00:00",
        "candidate.profile_updated",
        "工作人员",
        "xw_clerk",
        "010224100001",
        "candidates.candidate",
        str(world.mine.pk),
        "10.0.0.1",
        f'{{"address": "南京市玄武区****", "id_number": "{MASKED_ID}", '
        f'"name": "王**", "phone": "138****5678"}}',
        f'{{"name": "王**", "note": "核对身份证 {MASKED_ID}，电话 139****5678", "work_unit": "某公司"}}',
    ]


def test_csv_export_is_masked_filtered_and_recorded(auditors, staff_client, audit_world):
    client = staff_client(auditors.city)
    response = client.post("/office/audit/export/csv/", {"username": "xw_clerk", "start": "2026-05-01T00:00"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    assert rows[0] == HEADER
    assert [r[1] for r in rows[1:]] == ["candidate.profile_updated", "candidate.profile_updated"]  # e6, e1
    assert rows[2] == _e1_row(audit_world)
    assert FULL_ID not in body and OTHER_ID not in body and "13812345678" not in body
    record = AuditEvent.objects.get(event_type="audit.exported")
    assert record.actor_user == auditors.city
    assert record.after == {
        "filter": {
            "candidate_no": "",
            "username": "xw_clerk",
            "event_type": "",
            "start": "2026-05-01T00:00:00+08:00",
            "end": "",
        },
        "format": "csv",
        "office": "320100",
    }


def test_xlsx_export_opens_with_exact_rows(auditors, staff_client, audit_world):
    client = staff_client(auditors.province)
    response = client.post("/office/audit/export/xlsx/", {"event_type": "candidate.profile_updated"})
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    assert ".xlsx" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    assert book.sheetnames == ["审计日志"]
    rows = [list(r) for r in book["审计日志"].iter_rows(values_only=True)]
    assert rows[0] == HEADER
    assert len(rows) == 3
    assert rows[2] == _e1_row(audit_world)
    assert rows[1][1:5] == ["candidate.profile_updated", "工作人员", "xw_clerk", "050824100003"]
    assert OTHER_ID not in rows[1][9] and MASKED_OTHER in rows[1][9]
    assert AuditEvent.objects.get(event_type="audit.exported").after["format"] == "xlsx"


def test_export_with_a_bad_filter_writes_nothing(auditors, staff_client, audit_world):
    response = staff_client(auditors.province).post("/office/audit/export/csv/", {"candidate_no": "abc"})
    assert response.status_code == 400
    assert "准考证号应为12位数字。" in _html(response)
    assert not AuditEvent.objects.filter(event_type="audit.exported").exists()


# --- export helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("王**", "王**"),
        (7, 7),
        (None, ""),
    ],
)
def test_cells_cannot_carry_formulas(value, expected):
    assert exports.safe_cell(value) == expected


def test_xlsx_splits_sheets_at_the_row_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    target = tmp_path / "t.xlsx"
    exports.xlsx_write(target, [("表", ["h"], ([i] for i in range(5)))])
    book = load_workbook(target, read_only=True)
    assert book.sheetnames == ["表", "表 (2)", "表 (3)"]
    assert [[r[0] for r in book[name].iter_rows(values_only=True)] for name in book.sheetnames] == [
        ["h", 0, 1],
        ["h", 2, 3],
        ["h", 4],
    ]
