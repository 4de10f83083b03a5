"""What every real-browser test shares: Debian's Chromium driven by Playwright, a `Walk` (one
browser context with its screenshots and every complaint the browser made), and the demo province.

Skips when /usr/bin/chromium is absent (`apt-get install -y chromium`); never downloads a browser.
Screenshots go to `var/screenshots/` (CI keeps them as artifacts).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.management import call_command

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
NO_CHROMIUM = "Chromium not installed (apt-get install -y chromium)"


@pytest.fixture
def demo_built(transactional_db, settings):
    """A small demo province (offices, catalog, sittings with an open entry window, exam centres,
    the showcase candidates plus 60 synthetic ones), built by `manage.py demo`."""
    settings.CAPTCHA_TEST_MODE = True
    call_command("demo", candidates=60, verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM is only used between
    # browser steps and by the live server's own threads.
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
    """One person's browser (a context with its own cookies): a page, its screenshots saved as
    `<prefix><viewport>-<step>.png`, and every browser complaint seen (console errors, page
    errors, HTTP errors of our own files, requests to any other host)."""

    def __init__(self, browser, base_url: str, viewport: str, *, prefix: str = "", accept_downloads=False):
        self.base_url, self.viewport, self.prefix = base_url, viewport, prefix
        self.context = browser.new_context(
            viewport=VIEWPORTS[viewport], locale="zh-CN", accept_downloads=accept_downloads
        )
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

    def shot(self, step: str) -> Path:
        path = SCREENSHOTS / f"{self.prefix}{self.viewport}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def text(self) -> str:
        return self.page.inner_text("main")

    def close(self) -> None:
        self.context.close()
