"""Server-rendered SVG charts for the dashboard: no JavaScript, no external assets."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT_SIZE = 12
# The smallest label column: short labels (tiers, segments) keep the layout they always had.
LABEL_MIN_WIDTH = 150
# The widest label column: past this a label is shortened with "…" and the full text goes in a <title>
# tooltip (the table next to each chart shows it too), so one long customer key cannot squeeze the bars.
LABEL_MAX_WIDTH = 300
VALUE_WIDTH = 90
BAR_HEIGHT = 20
GAP = 6
# Room between a label's end and its bar, and between a bar's end and its value.
PAD = 6

# Approximate advance widths in em for a sans-serif face. The browser measures text, the server cannot, so
# these err on the wide side: a column a little too wide is harmless, one too narrow clips the text. They
# were checked to cover DejaVu Sans, wider than the admin's own font stack (Segoe UI, Roboto, Arial).
_NARROW = frozenset("ijlI.,:;'| ")
_SLIM = frozenset("frt!()[]`")
_WIDE = frozenset("mwMW@%&…#+<=>^~")


def _char_em(char: str) -> float:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0.0  # accents and zero-width marks draw over the previous glyph
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0  # CJK ideographs, kana, hangul and full-width forms are square
    if char in _NARROW:
        return 0.35
    if char in _SLIM:
        return 0.5
    if char in _WIDE:
        return 1.0
    if char.isupper():
        return 0.8
    return 0.66


def text_width(text: str, font_size: float = FONT_SIZE) -> float:
    """An upper-leaning estimate, in px, of the width ``text`` takes at ``font_size``."""
    return sum(_char_em(char) for char in text) * font_size


def fit_label(text: str, room: float, font_size: float = FONT_SIZE) -> str:
    """``text`` if it fits in ``room`` px, else its longest prefix that fits followed by "…"."""
    if text_width(text, font_size) <= room:
        return text
    budget = room - text_width("…", font_size)
    used = 0.0
    kept: list[str] = []
    for char in text:
        used += _char_em(char) * font_size
        if used > budget:
            break
        kept.append(char)
    return "".join(kept).rstrip() + "…"


def _number(value: int | Decimal) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


def bar_chart_svg(
    bars: Sequence[tuple[str, int | Decimal]], *, title: str, width: int = 520, color: str = "#417690"
) -> SafeString:
    """A horizontal bar chart with each bar's value printed at its end.

    ``width`` is the chart's width with the narrowest label column; the bars keep their length and the label
    and value columns grow to fit their text (labels up to LABEL_MAX_WIDTH, then shortened with a full-text
    <title>), so no label is clipped. Labels are escaped (customer keys are user data); the chart has a
    <title> and an aria-label so screen readers get the numbers too.
    """
    plot = width - LABEL_MIN_WIDTH - VALUE_WIDTH
    widest_label = max((text_width(label) for label, _value in bars), default=0.0)
    # Rounded up: rounding down would leave the widest label a fraction of a pixel short and shorten it.
    label_width = math.ceil(min(max(LABEL_MIN_WIDTH, widest_label + 2 * PAD), LABEL_MAX_WIDTH))
    widest_value = max((text_width(_number(value)) for _label, value in bars), default=0.0)
    value_width = math.ceil(max(VALUE_WIDTH, widest_value + 2 * PAD))
    total = label_width + plot + value_width
    largest = max((float(value) for _label, value in bars), default=0.0) or 1.0
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    # max-width lets a wide chart shrink to its card instead of overflowing it; the viewBox keeps it whole.
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="analytics-chart" width="{total}" height="{height}" '
        f'viewBox="0 0 {total} {height}" style="max-width: 100%; height: auto" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        length = round(plot * float(value) / largest, 1)
        text = fit_label(label, label_width - 2 * PAD)
        # A shortened label carries its full text as a tooltip.
        tooltip = f"<title>{escape(label)}</title>" if text != label else ""
        middle = y + BAR_HEIGHT / 2 + 4
        parts.append(
            f'<text x="{label_width - PAD}" y="{middle}" text-anchor="end" font-size="{FONT_SIZE}">'
            f"{tooltip}{escape(text)}</text>"
            f'<rect x="{label_width}" y="{y}" width="{length}" height="{BAR_HEIGHT}" fill="{escape(color)}">'
            f"<title>{escape(label)}: {_number(value)}</title></rect>"
            f'<text x="{label_width + length + 4}" y="{middle}" font-size="{FONT_SIZE}">{_number(value)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every interpolated text above is escaped
