"""The seed's walk through the portal in a real browser (Debian's Chromium driven by Playwright).

Find the number (ID + name), log in with the birth date, the forced password change, scores of a
sitting, all scores, passed courses, the record, graduation progress, log out: once on a desktop
viewport and once on a phone (390×844), each with its own demo candidate. Every page is saved
as `var/screenshots/<viewport>-<step>.png` (CI keeps them as artifacts). The browser must
report no console error (a CSP violation is one) and no failed request for our own files.

Skips when /usr/bin/chromium is absent (`apt-get install -y chromium`); never downloads a browser.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import CHROMIUM, NO_CHROMIUM, SCREENSHOTS, VIEWPORTS, Walk
from tests.portal.helpers import captcha_passes  # noqa: F401 (fixture)
from zikao.candidates.models import Candidate

NEW_PASSWORD = "Zikao2026walk"
# One showcase candidate of the demo per viewport (each does the first login once).
WALKERS = {"desktop": "010421100001", "phone": "050422100001"}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)]


@pytest.fixture
def demo_province(demo_built):
    """The showcase candidate of each viewport, in the demo province (tests/browser/conftest.py)."""
    return {viewport: Candidate.objects.get(candidate_no=number) for viewport, number in WALKERS.items()}


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
