"""A new candidate's whole way to an exam seat, in a real browser (Debian's Chromium + Playwright).

1. An anonymous person registers online (新生报名): a 身份证 from another province, 居住证 with a
   scanned proof, prior education, a photo, major, exam area, the integrity pledge → 报名号.
2. A clerk of that county office signs in at /office/ (password, then binds the authenticator
   with the key shown on the page: the first sign-in of a new staff user) and confirms the
   registration in the queue → the 准考证号.
3. The person looks the registration up (报名号 + ID number), sees the number, logs in with the
   birth date and is made to change the password.
4. 报考: two courses of the plan in different slots, one exam area → held awaiting payment.
5. 缴费: the simulated provider's cashier (its own page), 确认支付; the provider's signed
   callback travels asynchronously over HTTP to /pay/notify/sim/ (a timer thread of the web
   process, as without a broker); the return page says 确认中 until it arrives, then 支付成功.
6. The entry window closes (time passes: the sitting's close time and the ticket printing time
   are moved into the past in the database, since the one clock cannot be moved for the live
   server's threads); a city exam-affairs officer (first sign-in, binds the authenticator) runs
   the allocation; tickets open; the candidate downloads the PDF (number, courses, the door
   check address), and a county clerk at the door, on a phone, opens that address (password +
   TOTP, then the check page) → 有效 (VALID).

Then the candidate's key pages again on a phone (390×844). Screenshots:
`var/screenshots/entry-<viewport>-<step>.png`. No console error, no failed request for our
own files, no request to another host, in any of the browsers.
"""

from __future__ import annotations

import base64
import contextlib
import re
import time
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image, ImageDraw

from tests.browser.conftest import CHROMIUM, NO_CHROMIUM, SCREENSHOTS, Walk
from tests.portal.helpers import captcha_passes  # noqa: F401 (fixture)
from zikao.accounts.models import Office, User
from zikao.accounts.permissions import Role
from zikao.accounts.services_staff import staff_bootstrap, staff_create
from zikao.candidates.models import Candidate, Registration, RegistrationDocument
from zikao.candidates.registration import current_plan
from zikao.catalog.models import CourseKind, Major, ProvincePolicy, Sitting, TimetableEntry
from zikao.core import clock
from zikao.core.audit import Actor
from zikao.core.identity import make_resident_id
from zikao.core.masking import mask_id_number
from zikao.entries.models import AdmissionTicket, Entry, EntrySettings, PaymentNotification, PaymentOrder

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)]

PREFIX = "entry-"
# The person: born in 合肥市蜀山区 (Anhui), living and working in Nanjing on a 居住证.
NAME = "林晓雯"
BIRTH = date(1996, 3, 14)
ID_NUMBER = make_resident_id("340104", BIRTH, 246)  # 17th digit even: female
PHONE = "13912345678"
ADDRESS = "江苏省南京市玄武区北京东路41号"
WORK_UNIT = "南京市玄武区某物业服务有限公司"
MAJOR_CODE = "590202"  # 人力资源管理 (专科)
AREA_CODE = "320102"  # 南京市玄武区
CITY_CODE = "320100"
NEW_PASSWORD = "Xiaowen2026ok"
STAFF_PASSWORD = {"admin": "Bootstrap-H3-2026", "clerk": "Xuanwu-Clerk-2026", "affairs": "Nanjing-Exams-2026"}


@dataclass
class Flow:
    """What the walk starts from (all made through the project's own services and demo)."""

    sitting: Sitting
    area: Office
    major: Major
    expected_courses: dict[str, datetime]  # enterable course code → its slot's start (plan ∩ sitting)
    fee_fen: int
    clerk: User
    affairs: User
    photo: Path
    proof: Path
    downloads: Path


def _photo(path: Path) -> Path:
    """A 480×640 portrait JPEG, the usual 2-inch ID photo scan."""
    image = Image.new("RGB", (480, 640), (236, 240, 246))
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 120, 330, 330), fill=(224, 190, 160))
    draw.rectangle((110, 360, 370, 640), fill=(40, 60, 110))
    image.save(path, "JPEG", quality=85)
    return path


def _proof(path: Path) -> Path:
    """A one-page PDF 'scan' of a residence permit (Pillow writes a valid PDF with %%EOF)."""
    image = Image.new("RGB", (620, 400), (250, 250, 245))
    ImageDraw.Draw(image).rectangle((20, 20, 600, 380), outline=(80, 80, 80), width=4)
    image.save(path, "PDF", resolution=150)
    return path


@pytest.fixture
def flow(demo_built, live_server, settings, tmp_path) -> Flow:
    now = clock.now()
    # Uploads land in a temporary private folder; the simulated provider is on and sends its
    # signed callbacks over HTTP to our notify endpoint from a timer thread (as without a broker).
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ZIKAO_PAYMENT_SIM_ENABLED = True
    settings.ZIKAO_PAYMENT_SIM_DELIVERY = "thread"
    settings.ZIKAO_PAYMENT_SIM_DELAY_SECONDS = 2.5
    settings.ZIKAO_PAYMENT_SIM_NOTIFY_URL = live_server.url + reverse("portal:payments_notify", args=["sim"])
    settings.ZIKAO_TICKET_CHECK_BASE_URL = ""

    sitting = Sitting.objects.get(entry_opens_at__lte=now, entry_closes_at__gt=now)
    area = Office.objects.get(region_code=AREA_CODE)
    major = Major.objects.get(code=MAJOR_CODE)
    plan = current_plan(major)
    assert plan is not None
    offered = {
        t.course.code: t.slot.starts_at
        for t in TimetableEntry.objects.filter(sitting=sitting, course__plan_items__plan=plan).select_related(
            "course", "slot"
        )
        if t.course.kind == CourseKind.THEORY
    }
    assert len(set(offered.values())) >= 2, offered  # two courses in two slots can be entered

    # Staff through the services: the first administrator from the command line's service,
    # who creates a county registration clerk and a city exam-affairs officer (no authenticator
    # yet: each binds one at the first sign-in).
    admin = staff_bootstrap(
        actor=Actor.system("staff_bootstrap"),
        username="h3-admin",
        name="系统管理员",
        office_region_code="320000",
        password=STAFF_PASSWORD["admin"],
    )
    manager = Actor.staff(admin)
    clerk = staff_create(
        actor=manager,
        username="xw-clerk",
        name="王敏",
        office_id=area.pk,
        password=STAFF_PASSWORD["clerk"],
        roles=[Role.REGISTRATION_CLERK, Role.RECORD_CLERK],
    )
    affairs = staff_create(
        actor=manager,
        username="nj-affairs",
        name="赵强",
        office_id=Office.objects.get(region_code=CITY_CODE).pk,
        password=STAFF_PASSWORD["affairs"],
        roles=[Role.EXAM_AFFAIRS],
    )
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    return Flow(
        sitting=sitting,
        area=area,
        major=major,
        expected_courses=offered,
        fee_fen=ProvincePolicy.current().fee_per_course_fen,
        clerk=clerk,
        affairs=affairs,
        photo=_photo(tmp_path / "photo.jpg"),
        proof=_proof(tmp_path / "juzhuzheng.pdf"),
        downloads=downloads,
    )


# --- helpers ------------------------------------------------------------------------------------


def totp_token(key: bytes, *, after_step: int = -1) -> str:
    """The code an authenticator app shows now (or for the next step, when this step's code was
    already used: django-otp refuses a replayed code and accepts one step of drift)."""
    now = int(time.time()) // 30
    step = max(now, after_step + 1)
    return f"{totp(key, step=30, t0=0, digits=6, drift=step - now):06d}"


def staff_password_step(walk: Walk, username: str, password: str) -> None:
    page = walk.page
    assert "/office/login/" in page.url, page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="下一步").click()
    page.wait_for_load_state()


def staff_first_sign_in(walk: Walk, username: str, password: str, step: str) -> None:
    """Password, then bind the authenticator with the key the page shows (as a person types it
    into the app) and give its first code."""
    walk.goto("/office/")
    staff_password_step(walk, username, password)
    page = walk.page
    assert "/office/login/enrol/" in page.url, page.url
    secret = page.inner_text("#totp-secret").replace(" ", "")
    walk.shot(step)
    page.fill("input[name=token]", totp_token(base64.b32decode(secret)))
    page.get_by_role("button", name="绑定并登录").click()
    page.wait_for_load_state()
    assert "动态口令已绑定" in walk.text(), walk.text()[:300]


def pdf_text(data: bytes) -> str:
    """The text drawn in a ReportLab PDF without a PDF library (pypdf is not installed): every
    literal string shown (Tj) in every content stream (ASCII85 + Flate), read as Latin-1
    (Helvetica/Courier: numbers, codes, the URL) and, where it decodes, as UTF-16BE (the
    STSong-Light CID font with UniGB-UCS2-H: Chinese)."""
    parts: list[str] = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        head = data[max(0, match.start() - 400) : match.start()]
        head = head[head.rfind(b"obj") :]
        raw = match.group(1)
        if b"DCTDecode" in head:  # an image (the photo)
            continue
        if b"ASCII85Decode" in head:
            raw = base64.a85decode(raw.strip().removesuffix(b"~>"))
        if b"FlateDecode" in head:
            raw = zlib.decompress(raw)
        for literal in re.finditer(rb"\(((?:\\.|[^\\()])*)\)\s*Tj", raw, re.S):
            text = _unescape(literal.group(1))
            parts.append(text.decode("latin-1"))
            if len(text) % 2 == 0:
                with contextlib.suppress(UnicodeDecodeError):
                    parts.append(text.decode("utf-16-be"))
    return "\n".join(parts)


def _unescape(body: bytes) -> bytes:
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def one(m: re.Match) -> bytes:
        token = m.group(1)
        if token[:1].isdigit():
            return bytes([int(token, 8) & 0xFF])
        return escapes.get(token, token)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, body, flags=re.S)


def no_page_overflow(walk: Walk) -> None:
    """On a phone the page itself never scrolls sideways (wide tables scroll in their own box)."""
    width = walk.page.evaluate("document.documentElement.scrollWidth")
    viewport = walk.page.evaluate("window.innerWidth")
    assert width <= viewport, f"{walk.page.url}: page is {width}px wide on a {viewport}px screen"


# --- the walk -----------------------------------------------------------------------------------


def register(person: Walk, flow: Flow) -> Registration:
    page = person.page
    person.goto(reverse("portal:registration_new"))
    assert page.locator("h1").inner_text() == "新生网上报名"
    assert "诚信考试承诺书" in person.text()
    person.shot("01-register-empty")
    # Birth date and gender are asked only for documents whose number does not carry them.
    born = page.locator("fieldset.born")
    page.select_option("#id_id_type", label="护照")
    assert born.is_visible()
    page.select_option("#id_id_type", label="居民身份证")
    assert born.is_hidden()
    page.fill("#id_id_number", ID_NUMBER)
    page.fill("#id_name", NAME)
    page.fill("#id_phone", PHONE)
    page.fill("#id_address", ADDRESS)
    page.select_option("#id_residence_basis", label="居住证")
    page.set_input_files("#id_residence_proof", str(flow.proof))
    page.select_option("#id_prior_education", label="高中/中专")
    page.fill("#id_work_unit", WORK_UNIT)
    page.select_option("#id_major", label=f"{flow.major.code} {flow.major.name}（专科）")
    page.select_option("#id_exam_area", label=flow.area.area_label)  # "南京市 玄武区"
    page.set_input_files("#id_photo", str(flow.photo))
    page.check("#id_pledge")
    page.fill("input[name=captcha_1]", "PASSED")
    person.shot("02-register-filled")
    page.get_by_role("button", name="提交报名").click()
    page.wait_for_load_state()

    assert page.url.endswith(reverse("portal:registration_done")), person.text()[:800]
    registration = Registration.objects.get(id_number=ID_NUMBER)
    shown = page.inner_text("#pre-registration-no")
    assert shown == registration.pre_registration_no
    assert re.fullmatch(rf"{clock.today():%y}\d{{9}}", shown)
    facts = page.locator(".result dl.facts dd").all_inner_texts()
    assert facts == [shown, f"{flow.major.code} {flow.major.name}", flow.area.area_label], facts
    assert registration.status == Registration.Status.SUBMITTED
    assert (registration.name, registration.birth_date, registration.gender) == (NAME, BIRTH, "F")
    assert (registration.residence_basis, registration.household_region) == ("residence_permit", "340104")
    kinds = dict(registration.documents.values_list("kind", "content_type"))
    assert kinds == {
        RegistrationDocument.Kind.PHOTO: "image/jpeg",
        RegistrationDocument.Kind.RESIDENCE_PROOF: "application/pdf",
    }
    person.shot("03-register-done")
    return registration


def confirm(clerk: Walk, flow: Flow, registration: Registration) -> Candidate:
    page = clerk.page
    staff_first_sign_in(clerk, "xw-clerk", STAFF_PASSWORD["clerk"], "04-office-enrol")
    clerk.goto(reverse("office:registration_queue"))
    row = page.locator("tbody tr").filter(has_text=registration.pre_registration_no)
    assert row.count() == 1, clerk.text()[:800]
    cells = row.locator("td").all_inner_texts()
    assert cells[1:] == [
        NAME,
        mask_id_number(ID_NUMBER),
        f"{MAJOR_CODE} {flow.major.name}",
        flow.area.name,
        "待确认",
    ]
    clerk.shot("05-office-queue")
    row.get_by_role("link", name=registration.pre_registration_no).click()
    page.wait_for_load_state()
    assert page.inner_text("#registration-status").startswith("待确认")
    # The stored photo is served to the clerk (decoded by the browser at its real size).
    photo = page.locator("img[alt='考生照片']")
    photo.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth", photo.element_handle()) == 480
    assert "查看证明材料" in clerk.text()
    page.check("#id_identity_checked")
    page.get_by_role("button", name="确认报名").click()
    page.wait_for_load_state()

    candidate = Candidate.objects.get(id_number=ID_NUMBER)
    number = page.inner_text("#candidate-no")
    assert number == candidate.candidate_no
    assert re.fullmatch(rf"{flow.area.parent.exam_code}{flow.area.exam_code}\d{{8}}", number), number
    assert page.inner_text("#registration-status").startswith("已确认")
    assert f"已确认报名 {registration.pre_registration_no}，准考证号 {number}。" in clerk.text()
    clerk.shot("06-office-confirmed")
    return candidate


def first_login(person: Walk, registration: Registration, candidate: Candidate) -> None:
    page = person.page
    # The person looks the registration up and learns the number.
    person.goto(reverse("portal:registration_status"))
    page.fill("#id_pre_registration_no", registration.pre_registration_no)
    page.fill("#id_id_number", ID_NUMBER)
    page.fill("input[name=captcha_1]", "PASSED")
    page.get_by_role("button", name="查询").click()
    page.wait_for_load_state()
    assert page.inner_text("#registration-status") == "已确认"
    assert page.inner_text("#candidate-no") == candidate.candidate_no
    person.shot("07-status-confirmed")

    page.get_by_role("link", name="登录个人空间").click()
    page.fill("input[name=identifier]", candidate.candidate_no)
    page.fill("input[name=password]", BIRTH.strftime("%Y%m%d"))
    page.fill("input[name=captcha_1]", "PASSED")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert "/password/change/" in page.url, page.url
    person.goto(reverse("portal:entries"))
    assert "/password/change/" in page.url, "the entry page opened before the forced change"
    person.shot("08-forced-change")
    page.fill("input[name=current_password]", BIRTH.strftime("%Y%m%d"))
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.get_by_role("button", name="保存新密码").click()
    page.wait_for_load_state()
    assert "/password/change/" not in page.url, person.text()[:500]


def enter(person: Walk, flow: Flow, candidate: Candidate) -> dict[str, str]:
    page = person.page
    person.goto(reverse("portal:entries"))
    label = flow.sitting.label
    assert page.locator("#window-h").inner_text() == f"{label}考次"
    assert page.locator("[data-state]").first.get_attribute("data-state") == "open"
    enterable = {
        row.get_attribute("data-course"): row.locator("td").nth(1).inner_text()
        for row in page.locator("tr[data-course]").all()
        if row.locator("input[type=checkbox]:not([disabled])").count() == 1
    }
    assert set(enterable) == set(flow.expected_courses), (enterable, flow.expected_courses)
    # Two courses in two different slots (one course per slot), the first the page lists.
    chosen: dict[str, str] = {}
    for code in enterable:
        if flow.expected_courses[code] not in {flow.expected_courses[c] for c in chosen}:
            chosen[code] = enterable[code]
        if len(chosen) == 2:
            break
    for code in chosen:
        page.check(f"#course-{code}")
    area_option = page.locator("#area option").filter(has_text=flow.area.area_label)
    assert area_option.count() == 1
    page.select_option("#area", value=area_option.get_attribute("value"))
    person.shot("09-entries-chosen")
    page.get_by_role("button", name="提交报考").click()
    page.wait_for_load_state()

    assert "已报考 2 门课程。请在" in person.text(), person.text()[:800]
    entries = Entry.objects.filter(candidate=candidate, sitting=flow.sitting)
    assert sorted(entries.values_list("course__code", "status", "fee_fen", "area_id")) == sorted(
        (code, Entry.Status.PENDING_PAYMENT, flow.fee_fen, flow.area.pk) for code in chosen
    )
    fee = f"{flow.fee_fen / 100:.2f}"
    for entry in entries:
        cells = page.locator(f"tr[data-entry='{entry.pk}'] td").all_inner_texts()
        assert cells[1:3] == [flow.area.area_label, fee], cells
        assert cells[3].startswith("待缴费"), cells
    person.shot("10-entries-held")
    return chosen


def pay(person: Walk, flow: Flow, candidate: Candidate, chosen: dict[str, str]) -> PaymentOrder:
    page = person.page
    page.get_by_role("link", name="缴费及缴费订单").click()
    page.wait_for_load_state()
    total = f"{2 * flow.fee_fen / 100:.2f}"
    assert page.locator(f"[data-sitting='{flow.sitting.label}'] tfoot td").inner_text() == total
    person.shot("11-payments-due")
    page.get_by_role("button", name=f"去支付 {total} 元").click()
    page.wait_for_load_state()

    # The provider's own page (模拟支付), with what the merchant registered.
    order = PaymentOrder.objects.get(candidate=candidate)
    assert f"/pay/sim/{order.order_no}/" in page.url, page.url
    assert page.locator("h1").inner_text() == "模拟支付收银台"
    assert page.locator("[data-amount]").inner_text() == f"{total} 元"
    assert order.amount_fen == 2 * flow.fee_fen
    person.shot("12-cashier")
    page.get_by_role("button", name="确认支付").click()
    page.wait_for_load_state()

    # Back on our return page: the browser's return proves nothing, the callback has not come.
    assert page.url.startswith(person.base_url + reverse("portal:payments_return", args=[order.order_no]))
    assert page.locator("[data-result]").get_attribute("data-result") == "confirming"
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.PENDING, order.status
    person.shot("13-payment-confirming")
    # The signed callback arrives (2.5 s later); the page refreshes itself every 3 s.
    page.wait_for_selector("[data-result=paid]", timeout=20_000)
    assert "支付成功，报考已确认。" in person.text()
    statuses = page.locator("tr[data-entry] td[data-status]").all_inner_texts()
    assert statuses == ["已确认", "已确认"], statuses
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.PAID
    notes = list(
        PaymentNotification.objects.filter(order=order).values_list("provider", "kind", "signature_valid")
    )
    assert notes == [("sim", "paid", True)], notes
    assert set(
        Entry.objects.filter(candidate=candidate, sitting=flow.sitting).values_list("course__code", "status")
    ) == {(code, Entry.Status.CONFIRMED) for code in chosen}
    person.shot("14-payment-paid")
    return order


def time_passes(flow: Flow, *, window: bool = False, tickets: bool = False) -> None:
    """Move the sitting's instants into the past (the live server reads them from the database)."""
    past = clock.now() - timedelta(minutes=1)
    if window:
        Sitting.objects.filter(pk=flow.sitting.pk).update(entry_closes_at=past)
    if tickets:
        EntrySettings.objects.filter(sitting=flow.sitting).update(tickets_open_at=past)


def allocate(affairs: Walk, flow: Flow) -> None:
    page = affairs.page
    staff_first_sign_in(affairs, "nj-affairs", STAFF_PASSWORD["affairs"], "15-office-enrol-city")
    affairs.goto(reverse("office:entries_allocation_sitting", args=[flow.sitting.label]))
    assert page.locator("h1").inner_text() == f"{flow.sitting.label}考次考场编排"
    page.get_by_role("button", name="开始编排").click()
    page.wait_for_load_state()
    assert "考场编排已完成。" in affairs.text(), affairs.text()[:500]
    row = page.locator("tbody tr").filter(has=page.locator("th", has_text=flow.area.area_label))
    # 考生数, 报考科次, 已编排, 未能编排, 跨考点考生 of the area: our candidate only.
    assert row.locator("td").all_inner_texts() == ["1", "2", "2", "0", "0"]
    assert "全部报考均已编排。" in affairs.text()
    affairs.shot("16-office-allocation")


def tickets(person: Walk, flow: Flow, candidate: Candidate, chosen: dict[str, str]) -> str:
    page = person.page
    person.goto(reverse("portal:tickets"))
    assert page.locator("[data-code=TICKET_NOT_OPEN]").count() == 1  # seats known, printing not open
    time_passes(flow, tickets=True)
    page.reload()
    section = page.locator(f"section[aria-labelledby='s-{flow.sitting.label}']")
    rows = section.locator("tbody tr").all()
    assert [r.locator("td").first.inner_text().split()[0] for r in rows] == sorted(
        chosen, key=lambda c: flow.expected_courses[c]
    )
    person.shot("17-tickets")
    with page.expect_download() as info:
        section.get_by_role("link", name="下载准考证（PDF）").click()
    download = info.value
    assert download.suggested_filename == f"zkz-{flow.sitting.label}-{candidate.candidate_no}.pdf"
    target = flow.downloads / download.suggested_filename
    download.save_as(target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF-")
    assert b"/DCTDecode" in data  # the registration photo, carried to the record, is printed
    text = pdf_text(data)
    ticket = AdmissionTicket.objects.get(candidate=candidate, sitting=flow.sitting)
    assert candidate.candidate_no in text
    assert ticket.code in text
    for code in chosen:
        assert code in text, code
    assert NAME in text and "高等教育自学考试准考证" in text
    found = re.search(r"https?://[^\s()]+/office/entries/check/([A-Z0-9]+)/", text)
    assert found, text[:2000]
    assert found.group(1) == ticket.code
    return found.group(0)


def door_check(browser, base_url: str, flow: Flow, candidate: Candidate, url: str, walks: list[Walk]) -> None:
    """The clerk at the exam door scans the QR code with a phone: sign in, then the check page."""
    door = Walk(browser, base_url, "phone", prefix=PREFIX)
    walks.append(door)
    page = door.page
    page.goto(url)
    staff_password_step(door, "xw-clerk", STAFF_PASSWORD["clerk"])
    assert "/office/login/code/" in page.url, page.url
    device = TOTPDevice.objects.get(user=flow.clerk, confirmed=True)
    page.fill("input[name=token]", totp_token(device.bin_key, after_step=device.last_t))
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert page.url == url, page.url  # back to the scanned address
    status = page.locator("[data-status]")
    assert status.get_attribute("data-status") == "VALID"
    assert status.inner_text().startswith("有效")
    text = door.text()
    assert candidate.candidate_no in text and NAME in text and flow.sitting.label in text
    assert mask_id_number(ID_NUMBER) in text and ID_NUMBER not in text
    assert page.locator("tbody tr").count() == 2
    # The photo the person uploaded at registration, to compare with the face at the door.
    photo = page.locator("img[data-photo=shown]")
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", photo.element_handle())
    # On a phone the verdict comes first: the menu is folded behind its button.
    assert page.locator("nav.office-nav details").get_attribute("open") is None
    assert page.locator(".ticket-status").bounding_box()["y"] < 844
    no_page_overflow(door)
    door.shot("18-door-check")


def phone_pages(browser, base_url: str, flow: Flow, candidate: Candidate, walks: list[Walk]) -> None:
    """The candidate's key pages again on a phone: registration form, entries, payments, tickets."""
    phone = Walk(browser, base_url, "phone", prefix=PREFIX)
    walks.append(phone)
    page = phone.page
    phone.goto(reverse("portal:registration_new"))
    no_page_overflow(phone)
    phone.shot("20-register")
    phone.goto(reverse("portal:login"))
    page.fill("input[name=identifier]", candidate.candidate_no)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.fill("input[name=captcha_1]", "PASSED")
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    for step, name, check in (
        ("21-entries", "portal:entries", "已确认"),
        ("22-payments", "portal:payments", "已支付"),
        ("23-tickets", "portal:tickets", "下载准考证（PDF）"),
    ):
        phone.goto(reverse(name))
        assert check in phone.text(), (name, phone.text()[:500])
        no_page_overflow(phone)
        phone.shot(step)


def test_entry_flow(flow, browser, live_server, captcha_passes):  # noqa: F811
    for old in SCREENSHOTS.glob(f"{PREFIX}*.png"):
        old.unlink()
    base = live_server.url
    person = Walk(browser, base, "desktop", prefix=PREFIX, accept_downloads=True)
    clerk = Walk(browser, base, "desktop", prefix=PREFIX)
    affairs = Walk(browser, base, "desktop", prefix=PREFIX)
    walks = [person, clerk, affairs]
    try:
        registration = register(person, flow)
        candidate = confirm(clerk, flow, registration)
        first_login(person, registration, candidate)
        chosen = enter(person, flow, candidate)
        pay(person, flow, candidate, chosen)
        time_passes(flow, window=True)
        allocate(affairs, flow)
        url = tickets(person, flow, candidate, chosen)
        door_check(browser, base, flow, candidate, url, walks)
        phone_pages(browser, base, flow, candidate, walks)
    finally:
        for walk in walks:
            walk.close()
    problems = [p for walk in walks for p in walk.problems]
    assert not problems, "\n".join(problems)
    shots = sorted(p.name for p in SCREENSHOTS.glob(f"{PREFIX}*.png"))
    assert len(shots) == 22, shots
