"""Shared helpers for the catalog's office tests (tests/office/test_catalog_*.py): reference
data, a modified plan file, spreadsheets, a sitting, the frozen "now" they run at."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from tests.catalog.conftest import PLANS
from zikao.catalog.models import Sitting
from zikao.catalog.services import catalog_load_reference_data, courses_load, sitting_save
from zikao.core.audit import Actor
from zikao.core.models import AuditEvent

TZ = ZoneInfo("Asia/Shanghai")
SYSTEM = Actor.system("test")
NOW = datetime(2027, 1, 5, 10, 0, tzinfo=TZ)

CS24_NAME = "080901_benke_2024.toml"
CS24_TEXT = (PLANS / CS24_NAME).read_text(encoding="utf-8")
CS24_LABEL = "080901 计算机科学与技术(本科) 2024版"
ZH_LABEL = "050101 汉语言文学(本科) 2024版"
ACC_LABEL = "120203K 会计学(本科) 2024版"
PRE_LABEL = "570102K 学前教育(专科) 2024版"
HR_LABEL = "590202 人力资源管理(专科) 2024版"

_JAVA = """[[item]]
course = "04747"
name = "Java语言程序设计(一)"
credits = 3
kind = "theory"

[[item]]
course = "04748"
name = "Java语言程序设计(一)(实践)"
credits = 1
kind = "practice"
practice_for = "04747"
notes = "practice for 04747; practice exam may be registered only after the theory course is passed"
"""


def modified_cs24() -> str:
    """The 080901 2024 plan with: the Java pair (04747/04748) replaced by 00024 普通逻辑; 02333 a
    degree course; 04741 added to the choose-one network group, which now needs 3 credits."""
    assert _JAVA in CS24_TEXT
    text = CS24_TEXT.replace(
        _JAVA, '[[item]]\ncourse = "00024"\nname = "普通逻辑"\ncredits = 4\nkind = "theory"\n'
    )
    text = text.replace(
        'course = "02333"\nname = "软件工程"\ncredits = 3\nkind = "theory"\n',
        'course = "02333"\nname = "软件工程"\ncredits = 3\nkind = "theory"\ndegree = true\n',
    )
    text = text.replace('courses = ["13017", "04751"]', 'courses = ["13017", "04751", "04741"]')
    text = text.replace("max_courses = 1\n", "max_courses = 1\nmin_credits = 3\n", 1)
    network = '[[item]]\ncourse = "04741"\nname = "计算机网络原理"\ncredits = 4\nkind = "theory"\n\n'
    return text.replace('[[item]]\ncourse = "14976"', network + '[[item]]\ncourse = "14976"')


def xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def events(event_type: str | None = None) -> int:
    qs = AuditEvent.objects.all()
    return qs.filter(event_type=event_type).count() if event_type else qs.count()


def load_courses() -> None:
    """The shipped course list (1212 national courses)."""
    courses_load(actor=SYSTEM)


def load_reference() -> None:
    """Courses, the six shipped plans, the substitution table and the politics rules."""
    catalog_load_reference_data(actor=SYSTEM)


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def make_sitting(label: str = "202704", first_day: date = date(2027, 4, 10)) -> Sitting:
    """A sitting with the default slots; entry window 68–61 days before the first day (202704:
    1 Feb 09:00 – 8 Feb 17:00), release 35 days after it at 15:00 (15 May), review until 11 days
    after release at 17:00 (26 May)."""
    release = at(first_day.year, first_day.month, first_day.day, 15) + timedelta(days=35)
    return sitting_save(
        actor=SYSTEM,
        label=label,
        first_day=first_day,
        entry_opens_at=at(first_day.year, first_day.month, first_day.day, 9) - timedelta(days=68),
        entry_closes_at=at(first_day.year, first_day.month, first_day.day, 17) - timedelta(days=61),
        release_at=release,
        review_closes_at=release.replace(hour=17) + timedelta(days=11),
    )
