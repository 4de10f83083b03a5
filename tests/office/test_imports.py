"""Office score import pages (/office/imports/): permission matrix of every page and action, and
the flow an office goes through: upload → automatic check → report and failed rows → commit;
the same file again; a malformed file; the progress endpoint; a run in a background thread."""

from __future__ import annotations

import codecs
import datetime as dt
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import SHANGHAI, CandidateFactory, CourseFactory, EntryFactory, SittingFactory
from zikao.accounts.permissions import Role
from zikao.catalog.models import Slot, TimetableEntry
from zikao.core import clock
from zikao.core.models import AuditEvent
from zikao.scores.models import Score, ScoreImport

RELEASE = dt.datetime(2026, 11, 28, 15, 0, tzinfo=SHANGHAI)
BEFORE = RELEASE - dt.timedelta(days=3)
GOOD = (
    "准考证号,课程代码,考次,成绩,状态\n"
    "010224100001,02324,202610,85,有效\n"
    "010224100002,02324,202610,101,有效\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"
    settings.ZIKAO_SCORE_IMPORT_RUNNER = "inline"


@pytest.fixture
def env(offices, make_staff):
    sitting = SittingFactory(label="202610", first_day=dt.date(2026, 10, 24), release_at=RELEASE)
    slot = Slot.objects.create(
        sitting=sitting,
        code="SAT_AM",
        starts_at=dt.datetime(2026, 10, 24, 9, 0, tzinfo=SHANGHAI),
        ends_at=dt.datetime(2026, 10, 24, 11, 30, tzinfo=SHANGHAI),
    )
    course = CourseFactory(code="02324")
    TimetableEntry.objects.create(sitting=sitting, slot=slot, course=course)
    for number in ("010224100001", "010224100002"):
        candidate = CandidateFactory(candidate_no=number, county_office=offices.county)
        EntryFactory(candidate=candidate, sitting=sitting, course=course)
    return {
        "sitting": sitting,
        "manager": make_staff(roles=(Role.SCORE_MANAGER,), office=offices.province),
        "city_manager": make_staff(roles=(Role.SCORE_MANAGER,), office=offices.city),
        "county_manager": make_staff(roles=(Role.SCORE_MANAGER,), office=offices.county),
        "reader": make_staff(roles=(Role.READ_ONLY,), office=offices.province),
        "nobody": make_staff(roles=(), office=offices.province),
    }


@pytest.fixture(autouse=True)
def _clock():
    with clock.frozen_at(BEFORE):
        yield


def _file(text=GOOD, name="scores.csv", encoding="utf-8"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def _upload(client, text=GOOD, name="scores.csv", encoding="utf-8", sitting="202610"):
    return client.post(
        reverse("office:imports_list"), {"sitting": sitting, "file": _file(text, name, encoding)}
    )


def _imported(env):
    from zikao.core.audit import Actor
    from zikao.scores.importers import score_import_upload

    imp, _ = score_import_upload(
        actor=Actor.staff(env["manager"]),
        sitting=env["sitting"],
        chunks=[GOOD.encode()],
        original_name="s.csv",
    )
    return imp


PAGES = [
    ("get", "office:imports_list", False),
    ("post", "office:imports_list", False),
    ("get", "office:imports_detail", True),
    ("get", "office:imports_progress", True),
    ("post", "office:imports_run", True),
    ("get", "office:imports_failed_rows", True),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name", "with_pk"), PAGES)
def test_anonymous_is_sent_to_sign_in(client, env, method, name, with_pk):
    imp = _imported(env)
    url = reverse(name, kwargs={"pk": imp.pk} if with_pk else {})
    response = getattr(client, method)(url, {"run": "commit"} if method == "post" else None)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("office:login"))
    assert ScoreImport.objects.get().state == ScoreImport.State.UPLOADED
    assert not Score.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["nobody", "reader", "city_manager", "county_manager"])
@pytest.mark.parametrize(("method", "name", "with_pk"), PAGES)
def test_staff_without_the_provincial_permission_get_403(
    staff_client, env, who, method, name, with_pk, django_capture_on_commit_callbacks
):
    imp = _imported(env)
    events = AuditEvent.objects.count()
    url = reverse(name, kwargs={"pk": imp.pk} if with_pk else {})
    client = staff_client(env[who])
    with django_capture_on_commit_callbacks(execute=True):
        if method == "post" and name == "office:imports_list":
            response = client.post(url, {"sitting": "202610", "file": _file(GOOD + "x,y\n")})
        else:
            response = getattr(client, method)(url, {"run": "commit"} if method == "post" else None)
    assert response.status_code == 403
    assert ScoreImport.objects.count() == 1
    assert ScoreImport.objects.get().state == ScoreImport.State.UPLOADED
    assert not Score.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "name"), [(m, n) for m, n, with_pk in PAGES if with_pk])
def test_a_missing_import_is_404(staff_client, env, method, name):
    client = staff_client(env["manager"])
    response = getattr(client, method)(
        reverse(name, kwargs={"pk": 999}), {"run": "check"} if method == "post" else None
    )
    assert response.status_code == 404
    assert not ScoreImport.objects.exists()


@pytest.mark.django_db
def test_the_menu_shows_imports_only_to_those_who_may(staff_client, env):
    link = reverse("office:imports_list")
    assert link in staff_client(env["manager"]).get(reverse("office:home")).content.decode()
    assert link not in staff_client(env["city_manager"]).get(reverse("office:home")).content.decode()
    assert link not in staff_client(env["reader"]).get(reverse("office:home")).content.decode()


@pytest.mark.django_db
def test_upload_checks_then_commit_then_the_same_file_again(
    staff_client, env, django_capture_on_commit_callbacks
):
    client = staff_client(env["manager"])
    page = client.get(reverse("office:imports_list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    assert '<label for="id_file">' in html and "zikao/office/imports.js" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client)
    imp = ScoreImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("office:imports_detail", kwargs={"pk": imp.pk})
    assert (imp.state, imp.rows_new, imp.rows_failed) == (ScoreImport.State.CHECKED, 1, 1)
    assert imp.created_by == env["manager"] and imp.requested_by == env["manager"]
    assert not Score.objects.exists()
    detail = client.get(response["Location"]).content.decode()
    assert "校验结果（未写入成绩）" in detail
    assert "SCORE_OUT_OF_RANGE" in detail and "分数应在0到100之间。" in detail
    assert "确认导入" in detail and reverse("office:imports_failed_rows", kwargs={"pk": imp.pk}) in detail
    assert '<th scope="row">3</th>' in detail  # the failed row, with its line number
    assert '<th scope="col">准考证号</th>' in detail  # under the file's own column names
    # The failed rows, for Excel: BOM, the file's columns, then line, code and reason.
    download = client.get(reverse("office:imports_failed_rows", kwargs={"pk": imp.pk}))
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    assert body.startswith(codecs.BOM_UTF8)
    assert body[3:].decode().splitlines() == [
        "准考证号,课程代码,考次,成绩,状态,行号,错误代码,错误说明",
        "010224100002,02324,202610,101,有效,3,SCORE_OUT_OF_RANGE,分数应在0到100之间。",
    ]
    # Commit.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("office:imports_run", kwargs={"pk": imp.pk}), {"run": "commit"})
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.state == ScoreImport.State.COMMITTED and imp.committed_by == env["manager"]
    assert list(Score.objects.values_list("candidate__candidate_no", "value")) == [("010224100001", 85)]
    detail = client.get(reverse("office:imports_detail", kwargs={"pk": imp.pk})).content.decode()
    assert "导入结果" in detail and "确认导入" not in detail
    # Commit again: refused, nothing changes.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("office:imports_run", kwargs={"pk": imp.pk}), {"run": "commit"}, follow=True
        )
    assert "IMPORT_ALREADY_COMMITTED" in response.content.decode()
    # The same bytes again: recognised, nothing new.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _upload(client, name="again.csv")
    assert response["Location"] == reverse("office:imports_detail", kwargs={"pk": imp.pk})
    assert callbacks == []
    assert ScoreImport.objects.count() == 1 and Score.objects.count() == 1
    assert AuditEvent.objects.filter(event_type="scores.imported").count() == 1


@pytest.mark.django_db
def test_a_gbk_file_is_refused_on_the_form(staff_client, env):
    client = staff_client(env["manager"])
    response = _upload(client, encoding="gbk")
    assert response.status_code == 400
    html = response.content.decode()
    assert "GBK" in html and "IMPORT_FILE_ENCODING" in html
    assert not ScoreImport.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "IMPORT_FILE_EMPTY"),
        ("a,b,c\n1,2,3\n", "IMPORT_FILE_HEADER"),
        ("\x00\x01PK", "IMPORT_FILE_BINARY"),
    ],
)
def test_other_unreadable_files_are_refused_on_the_form(staff_client, env, text, code):
    response = _upload(staff_client(env["manager"]), text=text)
    assert response.status_code == 400
    assert code in response.content.decode()
    assert not ScoreImport.objects.exists()


@pytest.mark.django_db
def test_a_missing_file_or_sitting_is_a_form_error(staff_client, env):
    client = staff_client(env["manager"])
    response = client.post(reverse("office:imports_list"), {"sitting": "202610"})
    assert response.status_code == 400 and 'class="errorlist' in response.content.decode()
    response = client.post(reverse("office:imports_list"), {"sitting": "209912", "file": _file()})
    assert response.status_code == 400
    assert not ScoreImport.objects.exists()


@pytest.mark.django_db
def test_a_bad_run_request_changes_nothing(staff_client, env):
    imp = _imported(env)
    response = staff_client(env["manager"]).post(
        reverse("office:imports_run", kwargs={"pk": imp.pk}), {"run": "drop"}
    )
    assert response.status_code == 302
    imp.refresh_from_db()
    assert imp.state == ScoreImport.State.UPLOADED


@pytest.mark.django_db
def test_progress_endpoint(staff_client, env):
    imp = _imported(env)
    ScoreImport.objects.filter(pk=imp.pk).update(
        state=ScoreImport.State.RUNNING, run="commit", phase="committing", rows_done=250, rows_total=1000
    )
    response = staff_client(env["manager"]).get(reverse("office:imports_progress", kwargs={"pk": imp.pk}))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    # Said to be running but no process holds its run lock: interrupted, not active.
    assert response.json() == {
        "state": "running",
        "state_label": "处理中",
        "run": "commit",
        "run_label": "正式导入",
        "phase": "committing",
        "phase_label": "写入成绩",
        "rows_done": 250,
        "rows_total": 1000,
        "percent": None,
        "active": False,
        "interrupted": True,
    }
    detail = staff_client(env["manager"]).get(reverse("office:imports_detail", kwargs={"pk": imp.pk}))
    assert "上次运行被中断" in detail.content.decode() and "运行校验" in detail.content.decode()


@pytest.mark.django_db
def test_progress_of_a_live_run(staff_client, env):
    from zikao.scores.import_runtime import RunLock

    imp = _imported(env)
    ScoreImport.objects.filter(pk=imp.pk).update(
        state=ScoreImport.State.RUNNING, run="check", phase="loading", rows_done=250, rows_total=1000
    )
    lock = RunLock(imp.pk)
    assert lock.acquire()
    try:
        client = staff_client(env["manager"])
        data = client.get(reverse("office:imports_progress", kwargs={"pk": imp.pk})).json()
        assert (data["active"], data["interrupted"], data["percent"]) == (True, False, 25)
        html = client.get(reverse("office:imports_detail", kwargs={"pk": imp.pk})).content.decode()
        assert '<progress id="import-progress" max="100" value="25">25%</progress>' in html
        assert 'data-active="1"' in html and "运行校验" not in html
        response = client.post(
            reverse("office:imports_run", kwargs={"pk": imp.pk}), {"run": "commit"}, follow=True
        )
        assert "IMPORT_RUNNING" in response.content.decode()
    finally:
        lock.release()
    imp.refresh_from_db()
    assert imp.state == ScoreImport.State.RUNNING and not Score.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_in_a_background_thread_with_the_page_polling(staff_client, env, settings):
    settings.ZIKAO_SCORE_IMPORT_RUNNER = "thread"
    client = staff_client(env["manager"])
    started = time.monotonic()
    response = _upload(client)
    assert response.status_code == 302
    imp = ScoreImport.objects.get()
    url = reverse("office:imports_progress", kwargs={"pk": imp.pk})
    seen = []
    while time.monotonic() - started < 120:
        data = client.get(url).json()
        seen.append(data["state"])
        if data["state"] in ("checked", "failed"):
            break
        time.sleep(0.05)
    for thread in threading.enumerate():  # let the worker close its connections
        if thread.name.startswith("score-import-"):
            thread.join(timeout=60)
    imp.refresh_from_db()
    assert seen[-1] == "checked", (seen, imp.error_code, imp.error_message)
    assert (imp.rows_new, imp.rows_failed) == (1, 1)
    assert not Score.objects.exists()


# --- Django admin: read-only, no server paths, a link to the workflow ------------------------------------


def test_the_admin_lists_imports_read_only_without_server_paths(staff_client, env, make_staff, offices):
    imp = _imported(env)
    admin_user = make_staff(roles=(), office=offices.province, is_staff=True, is_superuser=True)
    client = staff_client(admin_user)
    listing = client.get("/admin/scores/scoreimport/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "s.csv" in body
    assert reverse("office:imports_detail", args=[imp.pk]) in body
    detail = client.get(f"/admin/scores/scoreimport/{imp.pk}/change/")
    assert detail.status_code == 200
    assert imp.stored_name not in detail.content.decode()
    before = ScoreImport.objects.values().get(pk=imp.pk)
    assert client.post(f"/admin/scores/scoreimport/{imp.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/scores/scoreimport/add/").status_code == 403
    assert ScoreImport.objects.values().get(pk=imp.pk) == before
    for url in ("/admin/scores/scorewithholding/", "/admin/scores/scorecorrection/"):
        assert client.get(url).status_code == 200, url
