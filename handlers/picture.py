"""The drift timeline drawn as a PNG: a date axis with ticks, one marker per entry coloured by its
kind, staggered labels, a legend. Pillow is imported inside `timeline_png`, never at import time,
so a running bot loads it only once someone asks for a timeline (idle memory, B6)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# One colour per kind of entry (Tableau 10: told apart by most colour-blind eyes too).
PALETTE = {"drift": "#d62728", "audit": "#1f77b4", "pay": "#ff7f0e", "veto": "#9467bd", "drill": "#2ca02c",
           "sunset": "#8c564b", "assembly": "#e377c2", "mirror": "#17becf"}
OTHER = "#7f7f7f"
WIDTH, MARGIN = 1400, 50
LABEL_CHARS = 48  # a label longer than this is cut with "…"
MAX_LEVELS = 24  # rows of labels above the axis; past that, labels may overlap
LINE = 20  # height of one row of labels


@dataclass(frozen=True)
class Mark:
    at: datetime
    kind: str  # a key of PALETTE
    label: str


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1].rstrip() + "…"


def _fonts():
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=22), ImageFont.load_default(size=13)
    except TypeError:  # Pillow without FreeType: the one bitmap font
        font = ImageFont.load_default()
        return font, font


def _ticks(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, str]]:
    """At most 10 ticks at round local dates: days (every 1, 2, 7 or 14) or months (every 1 to 120)."""
    first, last = start.astimezone(tz), end.astimezone(tz)
    if (end - start) <= timedelta(days=70):
        day = first.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        days = []
        while day <= last:
            days.append(day)
            day += timedelta(days=1)
        step = next((k for k in (1, 2, 7, 14) if len(days) / k <= 10), 14)
        return [(d, d.strftime("%Y-%m-%d")) for d in days[::step]]
    months = []
    year, month = first.year, first.month + 1
    while True:
        if month > 12:
            year, month = year + 1, 1
        moment = datetime(year, month, 1, tzinfo=tz)
        if moment > last:
            break
        months.append(moment)
        month += 1
    step = next((k for k in (1, 2, 3, 6, 12, 24, 60, 120) if len(months) / k <= 10), 120)
    shown = [m for m in months if (m.year * 12 + m.month - 1) % step == 0] if step > 1 else months
    return [(m, m.strftime("%b %Y") if step < 12 else m.strftime("%Y")) for m in shown]


def timeline_png(title: str, marks: Sequence[Mark], legend: dict[str, str], tz: ZoneInfo) -> bytes:
    """The picture, as PNG bytes; `legend` maps each kind to its words, in the legend's order. The
    same marks give the same bytes."""
    from PIL import Image, ImageDraw

    big, small = _fonts()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    start, end = min(m.at for m in marks), max(m.at for m in marks)
    pad = min(max((end - start) * 0.04, timedelta(days=1)), timedelta(days=366))
    start, end = start - pad, end + pad
    left, right = MARGIN, WIDTH - MARGIN

    def x_of(moment: datetime) -> int:
        return round(left + (moment - start) / (end - start) * (right - left))

    # Labels in rows above the axis: each takes the lowest row free where it starts.
    placed, ends = [], []
    for m in marks:
        text = _short(m.label)
        width = round(probe.textlength(text, font=small))
        x = x_of(m.at)
        lx = min(x + 6, right - width)
        row = next((i for i, e in enumerate(ends) if e < lx), None)
        if row is None and len(ends) < MAX_LEVELS:
            row = len(ends)
            ends.append(0)
        elif row is None:
            row = min(range(len(ends)), key=ends.__getitem__)
        ends[row] = lx + width + 8
        placed.append((m, text, x, lx, row))

    top = 70
    axis = top + max(len(ends), 1) * LINE + 20
    legend_y = axis + 50
    height = legend_y + 40
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, 20), title, fill="black", font=big)
    draw.line([(left, axis), (right, axis)], fill="black", width=2)
    for moment, words in _ticks(start, end, tz):
        x = x_of(moment)
        draw.line([(x, axis), (x, axis + 8)], fill="black", width=1)
        draw.text((x, axis + 12), words, fill="black", font=small, anchor="mt")

    def y_of(row: int) -> int:
        return axis - 20 - row * LINE

    for m, _, x, _, row in placed:  # leader lines first, so labels are drawn over them
        draw.line([(x, axis), (x, y_of(row))], fill="#cccccc", width=1)
    for m, text, x, lx, row in placed:
        colour = PALETTE.get(m.kind, OTHER)
        box = draw.textbbox((lx, y_of(row)), text, font=small, anchor="lm")
        draw.rectangle([box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2], fill="white")
        draw.text((lx, y_of(row)), text, fill=colour, font=small, anchor="lm")
    for m, _, x, _, _ in placed:
        colour = PALETTE.get(m.kind, OTHER)
        draw.ellipse([x - 6, axis - 6, x + 6, axis + 6], fill=colour, outline="black")

    x = MARGIN
    for kind, words in legend.items():
        draw.ellipse([x, legend_y - 6, x + 12, legend_y + 6], fill=PALETTE.get(kind, OTHER), outline="black")
        draw.text((x + 18, legend_y), words, fill="black", font=small, anchor="lm")
        x += 18 + round(draw.textlength(words, font=small)) + 24

    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
