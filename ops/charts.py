"""Server-rendered SVG line charts of the dashboard's series (no JavaScript, no external assets).

Text widths are estimated with analytics.charts.text_width (which errs wide), so the margins always hold the
axis labels and the legend: nothing is clipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from analytics.charts import FONT_SIZE, text_width

PLOT_HEIGHT = 160
PAD = 6
TICKS_X = 6


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    values: Sequence[int]


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def line_chart_svg(labels: Sequence[str], lines: Sequence[Line], *, title: str, plot_width: int = 560) -> SafeString:
    """A line chart of ``lines`` over the points ``labels`` (a few labels printed under the x axis), with a
    y axis from 0 to a round maximum and a legend; a <title> and aria-label carry the title for screen
    readers, each point a tooltip with its values."""
    points = len(labels)
    top = _nice_ceiling(max((max(line.values, default=0) for line in lines), default=0))
    y_labels = [f"{top:,}", f"{top // 2:,}" if top % 2 == 0 else f"{top / 2:,.1f}", "0"]
    left = math.ceil(max(text_width(label) for label in y_labels) + 2 * PAD)
    step = max(1, math.ceil(points / TICKS_X))
    shown = [index for index in range(0, points, step)]
    # The first and last labels are centred on their points: the margins hold their halves.
    half_first = text_width(labels[0]) / 2 if points else 0.0
    half_last = max((text_width(labels[index]) / 2 for index in shown), default=0.0)
    left = max(left, math.ceil(half_first + PAD))
    right = math.ceil(half_last + PAD)
    legend_height = FONT_SIZE + 2 * PAD
    top_margin = legend_height + PAD
    bottom = FONT_SIZE + 3 * PAD
    width = left + plot_width + right
    height = top_margin + PLOT_HEIGHT + bottom

    def x(index: int) -> float:
        return round(left + (plot_width * index / (points - 1) if points > 1 else plot_width / 2), 1)

    def y(value: float) -> float:
        return round(top_margin + PLOT_HEIGHT - PLOT_HEIGHT * value / top, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ops-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="max-width: 100%; height: auto" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    legend_x = float(left)
    for line in lines:
        parts.append(
            f'<rect x="{legend_x}" y="{PAD}" width="{FONT_SIZE}" height="{FONT_SIZE}" fill="{escape(line.color)}"/>'
            f'<text x="{legend_x + FONT_SIZE + 4}" y="{PAD + FONT_SIZE - 2}" font-size="{FONT_SIZE}">'
            f"{escape(line.name)}</text>"
        )
        legend_x += FONT_SIZE + 4 + text_width(line.name) + 3 * PAD
    for value, label in zip((top, top / 2, 0), y_labels, strict=True):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_width}" y1="{y(value)}" y2="{y(value)}" stroke="#ccc" '
            f'stroke-width="1"/><text x="{left - PAD}" y="{y(value) + 4}" text-anchor="end" '
            f'font-size="{FONT_SIZE}">{label}</text>'
        )
    for index in shown:
        parts.append(
            f'<text x="{x(index)}" y="{top_margin + PLOT_HEIGHT + PAD + FONT_SIZE}" text-anchor="middle" '
            f'font-size="{FONT_SIZE}">{escape(labels[index])}</text>'
        )
    for line in lines:
        coordinates = " ".join(f"{x(index)},{y(value)}" for index, value in enumerate(line.values))
        parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{escape(line.color)}" stroke-width="2"/>')
    for index, label in enumerate(labels):
        # An invisible column per point carries the point's values as a tooltip.
        column = plot_width / max(points, 1)
        values = ", ".join(f"{line.name} {line.values[index]:,}" for line in lines)
        parts.append(
            f'<rect x="{round(x(index) - column / 2, 1)}" y="{top_margin}" width="{round(column, 1)}" '
            f'height="{PLOT_HEIGHT}" fill="transparent"><title>{escape(label)}: {escape(values)}</title></rect>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every interpolated text above is escaped
