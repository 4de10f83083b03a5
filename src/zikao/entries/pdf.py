"""PDFs of the exam: the admission ticket (准考证) and the room seating lists (考场座次表).

ReportLab, A4. Chinese text uses the built-in CID font `STSong-Light` (Adobe-GB1: every PDF
viewer renders it without an embedded file) unless `ZIKAO_PDF_FONT_PATH` names a TrueType
font to embed. Numbers and codes are set in Helvetica/Courier. The QR code is drawn as vector
squares (segno's module matrix): sharp at any print size, nothing rasterised. The functions take
plain data (`tickets.TicketPrint`, `RoomSheet`) and return bytes; they never query.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import segno
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from zikao.catalog.rules import SLOT_LABELS
from zikao.entries.tickets import TicketPrint

PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
LATIN = "Helvetica"
MONO = "Courier"


@cache
def cjk_font() -> str:
    """Register and return the CJK font name (embedded TTF when configured, else STSong-Light)."""
    path = getattr(settings, "ZIKAO_PDF_FONT_PATH", "")
    if path:
        pdfmetrics.registerFont(TTFont("ZikaoCJK", path))
        return "ZikaoCJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _canvas(buffer: io.BytesIO, title: str, compress: bool) -> Canvas:
    c = Canvas(buffer, pagesize=A4, pageCompression=1 if compress else 0)
    c.setTitle(title)
    c.setAuthor("zikao")
    return c


def _local(instant: datetime) -> datetime:
    return timezone.localtime(instant)


def draw_qr(c: Canvas, payload: str, x: float, y: float, size: float) -> None:
    """Draw `payload` as a QR code (error correction M, 4-module quiet zone) in a size×size box."""
    qr = segno.make(payload, error="m")
    matrix = [list(row) for row in qr.matrix_iter(scale=1, border=4)]
    module = size / len(matrix)
    c.saveState()
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for col, dark in enumerate(row):
            if dark:
                c.rect(x + col * module, y + size - (r + 1) * module, module, module, stroke=0, fill=1)
    c.restoreState()


def _photo(c: Canvas, photo: bytes | str | None, x: float, y: float, w: float, h: float) -> None:
    """The candidate's photo in a w×h frame (scaled to fit, aspect ratio kept, centred), or an
    empty framed "照片" box saying the ID document decides when there is none."""
    font = cjk_font()
    c.rect(x, y, w, h, stroke=1, fill=0)
    if photo:
        source = io.BytesIO(photo) if isinstance(photo, bytes) else photo
        c.drawImage(ImageReader(source), x + 1, y + 1, w - 2, h - 2, preserveAspectRatio=True, anchor="c")
        return
    c.setFont(font, 12)
    c.drawCentredString(x + w / 2, y + h / 2 + 2, _("照片"))
    c.setFont(font, 7)
    c.drawCentredString(x + w / 2, y + h / 2 - 8, _("凭身份证件核验"))


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break `text` into lines of at most `width` points (CJK text breaks anywhere)."""
    lines, line = [], ""
    for ch in text:
        if pdfmetrics.stringWidth(line + ch, font, size) > width and line:
            lines.append(line)
            line = ch
        else:
            line += ch
    if line:
        lines.append(line)
    return lines


def admission_ticket_pdf(
    data: TicketPrint, *, check_url: str, photo: bytes | str | None = None, compress: bool = True
) -> bytes:
    """One A4 page: header, photo, identity, the courses table, exam rules, QR with the check URL.

    The photo is `photo` when given, else the record photo carried in `data.photo`; with neither
    the frame stays empty (the rules then carry `tickets.NO_PHOTO_RULE`)."""
    font = cjk_font()
    if photo is None:
        photo = data.photo
    buffer = io.BytesIO()
    c = _canvas(buffer, f"{data.sitting_label} {data.candidate_no}", compress)
    top = PAGE_H - MARGIN
    c.setFont(font, 18)
    c.drawCentredString(PAGE_W / 2, top - 6 * mm, _("高等教育自学考试准考证"))
    c.setFont(font, 11)
    c.drawCentredString(PAGE_W / 2, top - 13 * mm, _("考次") + " ")
    c.setFont(LATIN, 11)
    c.drawString(PAGE_W / 2 + 8 * mm, top - 13 * mm, data.sitting_label)

    # identity block (left) and photo (right)
    photo_w, photo_h = 30 * mm, 40 * mm
    block_top = top - 22 * mm
    _photo(c, photo, PAGE_W - MARGIN - photo_w, block_top - photo_h, photo_w, photo_h)
    labels = [
        (_("姓名"), data.name, font),
        (_("性别"), data.gender, font),
        (_("准考证号"), data.candidate_no, LATIN),
        (_("身份证号"), data.id_masked, LATIN),
        (_("核验码"), data.code, MONO),
    ]
    y = block_top - 6 * mm
    for label, value, value_font in labels:
        c.setFont(font, 11)
        c.drawString(MARGIN, y, label + "：")
        c.setFont(value_font, 12)
        c.drawString(MARGIN + 24 * mm, y, value)
        y -= 8 * mm

    # courses table
    y = block_top - photo_h - 10 * mm
    columns = [
        (_("课程"), 48 * mm),
        (_("日期"), 22 * mm),
        (_("时间"), 24 * mm),
        (_("考点及地址"), 56 * mm),
        (_("考场"), 12 * mm),
        (_("座号"), 12 * mm),
    ]
    c.setFont(font, 10)
    x = MARGIN
    c.line(MARGIN, y + 5 * mm, PAGE_W - MARGIN, y + 5 * mm)
    for title, width in columns:
        c.drawString(x + 1 * mm, y, title)
        x += width
    c.line(MARGIN, y - 2 * mm, PAGE_W - MARGIN, y - 2 * mm)
    y -= 7 * mm
    for seat in data.seats:
        starts, ends = _local(seat.starts_at), _local(seat.ends_at)
        centre_lines = _wrap(f"{seat.centre_name} {seat.centre_address}", font, 9, 54 * mm)
        course_lines = _wrap(f"{seat.course_code} {seat.course_name}", font, 9, 46 * mm)
        x = MARGIN
        c.setFont(font, 9)
        for i, line in enumerate(course_lines):
            c.drawString(x + 1 * mm, y - i * 4.2 * mm, line)
        x += columns[0][1]
        c.setFont(LATIN, 9)
        c.drawString(x + 1 * mm, y, starts.strftime("%Y-%m-%d"))
        x += columns[1][1]
        c.drawString(x + 1 * mm, y, f"{starts:%H:%M}-{ends:%H:%M}")
        c.setFont(font, 8)
        c.drawString(x + 1 * mm, y - 4.2 * mm, str(SLOT_LABELS.get(seat.slot_code, seat.slot_code)))
        x += columns[2][1]
        c.setFont(font, 9)
        for i, line in enumerate(centre_lines):
            c.drawString(x + 1 * mm, y - i * 4.2 * mm, line)
        x += columns[3][1]
        c.setFont(LATIN, 10)
        c.drawString(x + 1 * mm, y, seat.room)
        x += columns[4][1]
        c.drawString(x + 1 * mm, y, f"{seat.seat_no:02d}")
        height = max(len(centre_lines), len(course_lines), 2) * 4.2 * mm + 2 * mm
        y -= height
        c.line(MARGIN, y + 2 * mm, PAGE_W - MARGIN, y + 2 * mm)
        y -= 3 * mm

    # rules
    y -= 4 * mm
    c.setFont(font, 11)
    c.drawString(MARGIN, y, _("考生须知"))
    y -= 6 * mm
    c.setFont(font, 9)
    rules_width = PAGE_W - 2 * MARGIN - 40 * mm
    for number, rule in enumerate(data.rules, start=1):
        for line in _wrap(f"{number}. {rule}", font, 9, rules_width):
            c.drawString(MARGIN, y, line)
            y -= 4.6 * mm

    # QR code with the check URL, bottom right
    qr_size = 34 * mm
    qr_x, qr_y = PAGE_W - MARGIN - qr_size, MARGIN + 8 * mm
    draw_qr(c, check_url, qr_x, qr_y, qr_size)
    c.setFont(font, 8)
    c.drawCentredString(qr_x + qr_size / 2, qr_y - 4 * mm, _("考场核验"))
    c.setFont(LATIN, 6)
    c.drawString(MARGIN, MARGIN, check_url)
    c.setFont(font, 8)
    issued = _local(data.issued_at)
    c.drawString(MARGIN, MARGIN + 4 * mm, _("打印时间以考试院系统为准。签发："))
    c.setFont(LATIN, 8)
    c.drawString(MARGIN + 48 * mm, MARGIN + 4 * mm, issued.strftime("%Y-%m-%d %H:%M"))
    c.showPage()
    c.save()
    return buffer.getvalue()


@dataclass(frozen=True)
class RoomSeat:
    seat_no: int
    candidate_no: str
    name: str
    course_code: str
    course_name: str


@dataclass(frozen=True)
class RoomSheet:
    """One room in one slot: the seating list posted at the door and used by invigilators."""

    sitting_label: str
    centre_code: str
    centre_name: str
    centre_address: str
    room: str
    seats_total: int
    slot_code: str
    starts_at: datetime
    ends_at: datetime
    seats: list[RoomSeat]


def room_list_pdf(sheets: list[RoomSheet], *, compress: bool = True) -> bytes:
    """One A4 page per room and slot (≤ 30 seats fit one page): seat, candidate number, name, course."""
    font = cjk_font()
    buffer = io.BytesIO()
    c = _canvas(buffer, _("考场座次表"), compress)
    if not sheets:
        c.setFont(font, 14)
        c.drawCentredString(PAGE_W / 2, PAGE_H / 2, _("没有已编排的考场。"))
        c.showPage()
    for sheet in sheets:
        top = PAGE_H - MARGIN
        c.setFont(font, 16)
        c.drawCentredString(PAGE_W / 2, top - 4 * mm, _("考场座次表"))
        starts, ends = _local(sheet.starts_at), _local(sheet.ends_at)
        c.setFont(font, 10)
        c.drawString(MARGIN, top - 14 * mm, f"{_('考点')}：{sheet.centre_code} {sheet.centre_name}")
        c.drawString(MARGIN, top - 20 * mm, f"{_('地址')}：{sheet.centre_address}")
        c.drawString(MARGIN, top - 26 * mm, f"{_('考场')}：")
        c.setFont(LATIN, 12)
        c.drawString(MARGIN + 12 * mm, top - 26 * mm, sheet.room)
        c.setFont(font, 10)
        slot_text = str(SLOT_LABELS.get(sheet.slot_code, sheet.slot_code))
        c.drawString(MARGIN + 40 * mm, top - 26 * mm, slot_text)
        c.setFont(LATIN, 10)
        c.drawString(
            MARGIN + 70 * mm,
            top - 26 * mm,
            f"{sheet.sitting_label}  {starts:%Y-%m-%d %H:%M}-{ends:%H:%M}  "
            f"{len(sheet.seats)}/{sheet.seats_total}",
        )
        y = top - 36 * mm
        c.setFont(font, 10)
        headers = [(_("座号"), 0), (_("准考证号"), 18 * mm), (_("姓名"), 58 * mm), (_("课程"), 95 * mm)]
        for title, dx in headers:
            c.drawString(MARGIN + dx, y, title)
        c.line(MARGIN, y - 2 * mm, PAGE_W - MARGIN, y - 2 * mm)
        y -= 7.5 * mm
        for seat in sheet.seats:
            c.setFont(LATIN, 10)
            c.drawString(MARGIN, y, f"{seat.seat_no:02d}")
            c.drawString(MARGIN + 18 * mm, y, seat.candidate_no)
            c.setFont(font, 10)
            c.drawString(MARGIN + 58 * mm, y, seat.name)
            c.drawString(MARGIN + 95 * mm, y, f"{seat.course_code} {seat.course_name}"[:30])
            y -= 7.2 * mm
        c.setFont(font, 9)
        c.drawString(MARGIN, MARGIN, _("监考员签名：") + "____________    ____________")
        c.showPage()
    c.save()
    return buffer.getvalue()
