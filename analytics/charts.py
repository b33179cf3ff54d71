"""Server-rendered SVG charts for the dashboard: no JavaScript, no external assets."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

LABEL_WIDTH = 150
VALUE_WIDTH = 90
BAR_HEIGHT = 20
GAP = 6
MAX_LABEL = 24


def _number(value: int | Decimal) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


def bar_chart_svg(
    bars: Sequence[tuple[str, int | Decimal]], *, title: str, width: int = 520, color: str = "#417690"
) -> SafeString:
    """A horizontal bar chart with each bar's value printed at its end.

    Labels are escaped (customer keys are user data); the chart has a <title> and an
    aria-label so screen readers get the numbers too.
    """
    plot = width - LABEL_WIDTH - VALUE_WIDTH
    largest = max((float(value) for _label, value in bars), default=0.0) or 1.0
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="analytics-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (label, value) in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        length = round(plot * float(value) / largest, 1)
        text = label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"
        middle = y + BAR_HEIGHT / 2 + 4
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{middle}" text-anchor="end" font-size="12">{escape(text)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" fill="{escape(color)}">'
            f"<title>{escape(label)}: {_number(value)}</title></rect>"
            f'<text x="{LABEL_WIDTH + length + 4}" y="{middle}" font-size="12">{_number(value)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every interpolated text above is escaped
