"""The score import pages in a real browser (Debian's Chromium driven by Playwright).

A run in flight: the detail page's `<progress>` bar follows the import's progress as the worker
writes it (zikao/office/imports.js polls the JSON endpoint), and when the run ends the page
reloads itself and shows the report. Then the upload form on a phone. No console error (a CSP
violation is one) and no failed request. Screenshots go to var/screenshots/imports-*.png.

Skips when /usr/bin/chromium is absent; never downloads a browser.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests.office.test_imports import GOOD, env  # noqa: F401 (fixture)
from zikao.core.audit import Actor
from zikao.scores.import_runtime import RunLock
from zikao.scores.importers import score_import_upload
from zikao.scores.models import ScoreImport

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed (apt-get install -y chromium)"),
]


@pytest.fixture(autouse=True)
def _close_connections_after_each_request(monkeypatch):
    """The live server's request threads close their database connection when they finish
    (persistent connections would outlive the threads and keep the test database in use)."""
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)


@pytest.fixture
def browser(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM is used between page steps
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _wait(condition, seconds: float = 15.0) -> None:
    """Poll from Python (the page's CSP forbids evaluating strings, as wait_for_function does)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _page(browser, live_server, client, viewport):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    problems: list[str] = []

    # A failed load is also a response, judged below (favicon.ico aside); any other console error
    # (a CSP violation, a script error) is a problem.
    def console(message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text}")

    def response(answer) -> None:
        if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
            problems.append(f"{answer.status} {answer.url}")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", response)
    return context, page, problems


@pytest.mark.django_db(transaction=True)
def test_progress_bar_follows_the_run_and_the_page_shows_the_report(
    browser,
    live_server,
    staff_client,
    env,  # noqa: F811 (the fixture imported above)
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = tmp_path / "private"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    imp, _ = score_import_upload(
        actor=Actor.staff(env["manager"]),
        sitting=env["sitting"],
        chunks=[GOOD.encode()],
        original_name="s.csv",
    )
    ScoreImport.objects.filter(pk=imp.pk).update(
        state=ScoreImport.State.RUNNING, run="commit", phase="committing", rows_done=250, rows_total=1000
    )
    lock = RunLock(imp.pk)  # this test plays the worker: it holds the run's lock
    assert lock.acquire()
    context, page, problems = _page(
        browser, live_server, staff_client(env["manager"]), {"width": 1280, "height": 900}
    )
    try:
        page.goto(live_server.url + reverse("office:imports_detail", kwargs={"pk": imp.pk}))
        bar = page.locator("progress#import-progress")
        assert bar.get_attribute("value") == "25"
        ScoreImport.objects.filter(pk=imp.pk).update(rows_done=750)
        _wait(lambda: bar.get_attribute("value") == "75")
        assert page.locator('[data-field="rows"]').inner_text().replace(",", "") == "750 / 1000"
        page.screenshot(path=str(SCREENSHOTS / "imports-desktop-progress.png"), full_page=True)
        # The run ends: the page reloads itself and shows the report.
        ScoreImport.objects.filter(pk=imp.pk).update(
            state=ScoreImport.State.COMMITTED,
            phase="",
            rows_total=2,
            rows_done=2,
            rows_valid=1,
            rows_failed=1,
            rows_new=1,
            rows_unchanged=0,
            rows_replaced=0,
            error_counts={"SCORE_OUT_OF_RANGE": 1},
        )
        lock.release()
        page.wait_for_selector("#result-title", timeout=15000)
        assert page.locator("#result-title").inner_text() == "导入结果"
        assert page.locator("progress").count() == 0
        assert "SCORE_OUT_OF_RANGE" in page.content()
        page.screenshot(path=str(SCREENSHOTS / "imports-desktop-report.png"), full_page=True)
    finally:
        lock.release()
        context.close()
    assert problems == []


@pytest.mark.django_db(transaction=True)
def test_upload_form_on_a_phone(
    browser,
    live_server,
    staff_client,
    env,  # noqa: F811 (the fixture imported above)
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = tmp_path / "private"
    settings.ZIKAO_SCORE_IMPORT_RUNNER = "inline"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, page, problems = _page(
        browser, live_server, staff_client(env["manager"]), {"width": 390, "height": 844}
    )
    try:
        page.goto(live_server.url + reverse("office:imports_list"))
        page.locator("#id_sitting").select_option("202610")
        path = tmp_path / "成绩.csv"
        path.write_text(GOOD, encoding="utf-8")
        page.locator("#id_file").set_input_files(str(path))
        page.screenshot(path=str(SCREENSHOTS / "imports-phone-upload.png"), full_page=True)
        page.get_by_role("button", name="上传并校验").click()
        page.wait_for_selector("#result-title", timeout=30000)
        assert page.locator("#result-title").inner_text() == "校验结果（未写入成绩）"
        assert page.get_by_role("button", name="确认导入").is_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, width  # nothing wider than the phone (tables scroll in their region)
        page.screenshot(path=str(SCREENSHOTS / "imports-phone-report.png"), full_page=True)
    finally:
        context.close()
    assert ScoreImport.objects.get().state == ScoreImport.State.CHECKED
    assert problems == []
