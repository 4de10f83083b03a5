"""Server-rendered SVG charts for the office reports: no JavaScript, no inline style.

The Content-Security-Policy allows neither inline scripts nor `style=` attributes, so colour and
geometry are SVG presentation attributes (`fill`, `stroke`, `x`, `width`, …) and sizing lives in
reports.css. Every chart is `role="img"` with a `<title>` and `<desc>` referenced by
`aria-labelledby`; each bar has its own `<title>` (a tooltip and a spoken label). The page puts
a data table next to every chart: the chart is never the only way to read a figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import count

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR_FILL = "#1f5fa8"
BAR_FILL_LOW = "#a3160f"
AXIS = "#555555"
GRID = "#dddddd"
TEXT = "#222222"

_ids = count(1)


def _num(value: float) -> str:
    """Coordinates with at most one decimal, no trailing zeros (compact, stable markup)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _header(width: int, height: int, title: str, desc: str, css_class: str) -> tuple[str, str]:
    uid = f"chart{next(_ids)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {escape(css_class)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
    )
    return uid, head


def pass_rate_bars(
    *, title: str, items: Sequence[tuple[str, Decimal | None]], pass_line: Decimal | None = None
) -> SafeString:
    """Horizontal bars, one per course: label on the left, 0–100 % scale, value at the bar's end.

    `items` are (label, rate in per cent or None: nothing to rate). Bars below `pass_line` (if
    given) are drawn in the warning colour. Empty `items` gives an empty-state chart.
    """
    label_w, bar_w, right_pad, row_h, top, bottom = 220, 400, 60, 24, 10, 30
    width = label_w + bar_w + right_pad
    height = top + max(len(items), 1) * row_h + bottom
    desc = "; ".join(f"{label}: {'—' if rate is None else f'{rate}%'}" for label, rate in items) or "—"
    _uid, svg = _header(width, height, title, desc, "bars")
    parts = [svg]
    axis_y = top + max(len(items), 1) * row_h
    for tick in range(0, 101, 20):
        x = label_w + bar_w * tick / 100
        parts.append(
            f'<line x1="{_num(x)}" y1="{top}" x2="{_num(x)}" y2="{axis_y}" stroke="{GRID}" '
            f'stroke-width="1"/><text x="{_num(x)}" y="{axis_y + 16}" font-size="11" '
            f'text-anchor="middle" fill="{AXIS}">{tick}%</text>'
        )
    for index, (label, rate) in enumerate(items):
        y = top + index * row_h
        short = label if len(label) <= 18 else label[:17] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{_num(y + row_h * 0.68)}" font-size="12" text-anchor="end" '
            f'fill="{TEXT}">{escape(short)}</text>'
        )
        if rate is None:
            parts.append(
                f'<text x="{label_w + 4}" y="{_num(y + row_h * 0.68)}" font-size="12" fill="{AXIS}">—</text>'
            )
            continue
        length = bar_w * float(min(max(rate, Decimal(0)), Decimal(100))) / 100
        fill = BAR_FILL_LOW if pass_line is not None and rate < pass_line else BAR_FILL
        parts.append(
            f'<rect x="{label_w}" y="{_num(y + 4)}" width="{_num(length)}" height="{row_h - 8}" '
            f'fill="{fill}">'
            f"<title>{escape(label)}: {rate}%</title></rect>"
            f'<text x="{_num(label_w + length + 4)}" y="{_num(y + row_h * 0.68)}" font-size="12" '
            f'fill="{TEXT}">{rate}%</text>'
        )
    parts.append(
        f'<line x1="{label_w}" y1="{top}" x2="{label_w}" y2="{axis_y}" stroke="{AXIS}" '
        f'stroke-width="1"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text node above is escaped


def histogram(*, title: str, buckets: Sequence[tuple[str, int]]) -> SafeString:
    """Vertical bars, one per score band, heights proportional to the count (labels under bars)."""
    left, plot_w, plot_h, top, bottom = 50, 500, 220, 20, 40
    width, height = left + plot_w + 10, top + plot_h + bottom
    peak = max((n for _label, n in buckets), default=0)
    desc = "; ".join(f"{label}: {n}" for label, n in buckets) or "—"
    _uid, svg = _header(width, height, title, desc, "histogram")
    parts = [svg]
    scale_top = _nice_ceiling(peak)
    for step in range(5):
        value = scale_top * step / 4
        y = top + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{left}" y1="{_num(y)}" x2="{left + plot_w}" y2="{_num(y)}" stroke="{GRID}" '
            f'stroke-width="1"/>'
            f'<text x="{left - 6}" y="{_num(y + 4)}" font-size="11" text-anchor="end" fill="{AXIS}">'
            f"{_num(value)}</text>"
        )
    slot = plot_w / max(len(buckets), 1)
    for index, (label, n) in enumerate(buckets):
        x = left + index * slot
        bar_h = plot_h * n / scale_top if scale_top else 0
        y = top + plot_h - bar_h
        parts.append(
            f'<rect x="{_num(x + 3)}" y="{_num(y)}" width="{_num(slot - 6)}" height="{_num(bar_h)}" '
            f'fill="{BAR_FILL}">'
            f"<title>{escape(label)}: {n}</title></rect>"
            f'<text x="{_num(x + slot / 2)}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle" '
            f'fill="{TEXT}">{escape(label)}</text>'
        )
        if n:
            parts.append(
                f'<text x="{_num(x + slot / 2)}" y="{_num(max(y - 4, top - 4))}" font-size="11" '
                f'text-anchor="middle" fill="{TEXT}">{n}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="{AXIS}" '
        f'stroke-width="1"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text node above is escaped


def _nice_ceiling(peak: int) -> int:
    """Top of the count axis: 4 ticks of a round step (1, 2, 3, 5 × 10^k) reaching `peak`; 0 if empty."""
    if peak <= 0:
        return 0
    magnitude = 1
    while True:
        for step in (1, 2, 3, 5):
            if 4 * step * magnitude >= peak:
                return 4 * step * magnitude
        magnitude *= 10
