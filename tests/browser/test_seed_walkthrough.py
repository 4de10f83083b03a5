"""The seed's walk through the portal in a real browser (Debian's Chromium driven by Playwright).

Find the number (ID + name), log in with the birth date, the forced password change, scores of a
sitting, all scores, passed courses, the record, graduation progress, log out: once on a desktop
viewport and once on a phone (390×844), each with its own demo candidate. Every page is saved
as `var/screenshots/<viewport>-<step>.png` (CI keeps them as artifacts). The browser must
report no console error (a CSP violation is one) and no failed request for our own files.

Skips when /usr/bin/chromium is absent (`apt-get install -y chromium`); never downloads a browser.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.portal.helpers import captcha_passes  # noqa: F401 (fixture)
from zikao.candidates.models import Candidate

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
NEW_PASSWORD = "Zikao2026walk"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# One showcase candidate of the demo per viewport (each does the first login once).
WALKERS = {"desktop": "010421100001", "phone": "050422100001"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed (apt-get install -y chromium)"),
]


@pytest.fixture
def demo_province(transactional_db, settings):
    """A small demo province (the showcase candidates plus 60 synthetic ones)."""
    settings.CAPTCHA_TEST_MODE = True
    call_command("demo", candidates=60, verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    return {viewport: Candidate.objects.get(candidate_no=number) for viewport, number in WALKERS.items()}


@pytest.fixture
def browser(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM is only used before it starts
    # and by the live server's own threads.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # restored after the test
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Walk:
    """One viewport's walk: a page, its screenshots, and every browser complaint seen."""

    def __init__(self, browser, base_url: str, viewport: str):
        self.base_url, self.viewport = base_url, viewport
        self.context = browser.new_context(viewport=VIEWPORTS[viewport], locale="zh-CN")
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on(
            "response",
            lambda r: (
                self.problems.append(f"HTTP {r.status} {r.url}")
                if r.url.startswith(base_url) and r.status >= 400
                else None
            ),
        )
        self.page.on(
            "request",
            lambda r: (
                self.problems.append(f"external request {r.url}")
                if not r.url.startswith((base_url, "data:"))
                else None
            ),
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _console(self, message) -> None:
        # A failed load is also a response, judged in the response handler (favicon.ico aside);
        # everything else (a CSP violation, a script error) is a problem.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console error on {self.page.url}: {message.text}")

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def shot(self, step: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.viewport}-{step}.png"), full_page=True)

    def text(self) -> str:
        return self.page.inner_text("main")

    def close(self) -> None:
        self.context.close()


def walk_the_seed(walk: Walk, candidate: Candidate) -> None:
    page = walk.page
    birth = candidate.birth_date.strftime("%Y%m%d")

    walk.goto("/")
    walk.shot("01-home")

    # 1. 查询考籍号: ID number + name (+ captcha) → the candidate number.
    walk.goto("/login/")
    walk.shot("02-login")
    page.get_by_role("link", name="查询考籍号").click()
    page.fill("input[name=id_number]", candidate.id_number)
    page.fill("input[name=name]", candidate.name)
    page.fill("input[name=captcha_1]", "PASSED")
    walk.shot("03-lookup-form")
    page.get_by_role("button", name="查询").click()
    result = page.locator(".result .number")
    assert result.inner_text() == candidate.candidate_no
    walk.shot("04-lookup-result")

    # 2. Back to the personal space, log in with the birth date.
    page.get_by_role("link", name="返回个人空间登录").click()
    page.fill("input[name=identifier]", result_number := candidate.candidate_no)
    page.fill("input[name=password]", birth)
    page.fill("input[name=captcha_1]", "PASSED")
    page.get_by_role("button", name="登录").click()

    # 3. The first login forces a password change before anything else.
    assert "/password/change/" in page.url, page.url
    walk.shot("05-forced-change")
    walk.goto("/me/")
    assert "/password/change/" in page.url, "a page opened before the forced change"
    page.fill("input[name=current_password]", birth)
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert "/password/change/" not in page.url, walk.text()[:500]
    walk.goto("/me/")
    assert result_number in walk.text()
    walk.shot("06-dashboard")

    # 4. Scores of one sitting, chosen in the list.
    page.locator("main nav").get_by_role("link", name="成绩查询").first.click()
    options = page.locator("select[name=sitting] option")
    assert options.count() >= 1
    released = [
        options.nth(i).get_attribute("value")
        for i in range(options.count())
        if "未发布" not in options.nth(i).inner_text()
    ]
    assert released, "no released sitting to choose"
    page.select_option("select[name=sitting]", released[-1])
    page.locator("form.choose button").click()
    page.wait_for_load_state()
    assert f"{released[-1]}考次" in walk.text()
    assert page.locator("table.scores tbody tr").count() >= 1
    walk.shot("07-scores-sitting")

    # 5. All sittings at once.
    page.locator("main nav").get_by_role("link", name="历次全部成绩").first.click()
    assert page.locator("table").count() >= 1
    walk.shot("08-scores-all")

    # 6. Passed courses with totals.
    page.locator("main nav").get_by_role("link", name="已通过课程").first.click()
    assert re.search(r"\d", walk.text())
    walk.shot("09-passed")

    # 7. The record (考籍档案): identity masked.
    page.locator("main nav").get_by_role("link", name="考籍档案").first.click()
    text = walk.text()
    assert candidate.id_number not in text and candidate.candidate_no in text
    walk.shot("10-record")

    # 8. Graduation progress.
    page.locator("main nav").get_by_role("link", name="毕业预测").first.click()
    assert walk.text().strip()
    walk.shot("11-progress")

    # 9. Log out: the personal space is closed again. (The record pages' own menu has no logout
    # button yet; the profile page's menu has one.)
    logout = page.get_by_role("button", name="退出登录")
    if logout.count() == 0:
        walk.goto("/me/profile/")
        logout = page.get_by_role("button", name="退出登录")
    logout.first.click()
    page.wait_for_load_state()
    walk.shot("12-logged-out")
    walk.goto("/me/")
    assert "/login/" in page.url, page.url


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_seed_walkthrough(viewport, browser, live_server, demo_province, captcha_passes):  # noqa: F811
    walk = Walk(browser, live_server.url, viewport)
    try:
        walk_the_seed(walk, demo_province[viewport])
    finally:
        walk.close()
    assert not walk.problems, "\n".join(walk.problems)
    shots = sorted(p.name for p in SCREENSHOTS.glob(f"{viewport}-*.png"))
    assert len(shots) >= 12, shots
