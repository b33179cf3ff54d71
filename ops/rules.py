"""Pure rules of the operations console: windows, the latency histogram and how figures are written."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

# Upper bounds (ms) of the sync-latency histogram (webhook received → Salesforce written), log-spaced from
# 50 ms to 5 minutes; the last bucket is open. The roll-ups and /metrics use the same bounds.
LATENCY_BOUNDS_MS: tuple[int, ...] = (50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000)
INF = "inf"
# The histogram's keys as stored in HourlyStat.latency_buckets: one per bound ("50ms"), then "inf". Not bare
# numbers: a JSON path of digits reads as an array index, and the roll-ups' sums are taken key by key in SQL.
LATENCY_KEYS: tuple[str, ...] = (*(f"{bound}ms" for bound in LATENCY_BOUNDS_MS), INF)

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    """A period the dashboard looks back over, ending now."""

    key: str
    label: str
    hours: int

    @property
    def span(self) -> timedelta:
        return timedelta(hours=self.hours)


WINDOWS: dict[str, Window] = {
    window.key: window
    for window in (Window("1h", "last hour", 1), Window("24h", "last 24 hours", 24), Window("7d", "last 7 days", 168))
}
DEFAULT_WINDOW = "24h"


def window_get(key: str | None) -> Window:
    """The window named ``key``, else the default one."""
    return WINDOWS.get(key or "", WINDOWS[DEFAULT_WINDOW])


def hour_floor(moment: datetime) -> datetime:
    """The start of the hour ``moment`` is in."""
    return moment.replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: datetime) -> datetime:
    """``moment`` if it starts an hour, else the start of the next hour."""
    floor = hour_floor(moment)
    return floor if floor == moment else floor + HOUR


def hours_between(since: datetime, until: datetime) -> list[datetime]:
    """The starts of the hours that overlap [since, until)."""
    hours: list[datetime] = []
    hour = hour_floor(since)
    while hour < until:
        hours.append(hour)
        hour += HOUR
    return hours


def latency_key(milliseconds: float) -> str:
    """The histogram bucket (its key) a latency falls in: the first bound it does not exceed."""
    for bound, key in zip(LATENCY_BOUNDS_MS, LATENCY_KEYS, strict=False):
        if milliseconds <= bound:
            return key
    return INF


def histogram_add(total: dict[str, int], more: Mapping[str, int]) -> dict[str, int]:
    """``total`` with the counts of ``more`` added (in place, returned for chaining)."""
    for key, count in more.items():
        total[key] = total.get(key, 0) + int(count)
    return total


def histogram_cumulative(buckets: Mapping[str, int]) -> list[tuple[float, int]]:
    """(upper bound in seconds, events at or under it) for each bucket, +Inf last: Prometheus's form."""
    running = 0
    cumulative: list[tuple[float, int]] = []
    for bound, key in zip((*LATENCY_BOUNDS_MS, math.inf), LATENCY_KEYS, strict=True):
        running += int(buckets.get(key, 0))
        cumulative.append((bound / 1000 if bound != math.inf else math.inf, running))
    return cumulative


def histogram_percentile(buckets: Mapping[str, int], quantile: float) -> float | None:
    """The ``quantile`` (0-1) of the latencies in ``buckets``, in ms, or None without events.

    Bucket-interpolated, as Prometheus's histogram_quantile(): the rank's bucket is found and the value placed
    linearly between its lower and upper bound (the first bucket starts at 0). A rank in the open last bucket
    answers its lower bound, the largest bound: the histogram knows no more than "above 5 minutes".
    """
    total = sum(int(buckets.get(key, 0)) for key in LATENCY_KEYS)
    if total == 0:
        return None
    rank = quantile * total
    below = 0
    lower = 0.0
    for bound, key in zip((*LATENCY_BOUNDS_MS, math.inf), LATENCY_KEYS, strict=True):
        count = int(buckets.get(key, 0))
        if count and below + count >= rank:
            if bound == math.inf:
                return lower
            return lower + (bound - lower) * (rank - below) / count
        below += count
        lower = float(bound)
    return lower


def success_rate(*, synced: int, failed: int, dead: int) -> float | None:
    """The share (0-1) of finished events that were written, or None when none finished."""
    finished = synced + failed + dead
    return synced / finished if finished else None


def number_format(value: int | float | None) -> str:
    """A count with thousands separators ("1,234"); "—" for nothing."""
    if value is None:
        return "—"
    return f"{round(value):,}"


def rate_format(value: float | None) -> str:
    """A rate with one decimal and thousands separators ("1,234.5"); "—" for nothing."""
    if value is None:
        return "—"
    return f"{value:,.1f}"


def percent_format(share: float | None) -> str:
    """A share (0-1) as a percentage with one decimal ("97.5 %"); "—" for nothing."""
    if share is None:
        return "—"
    return f"{share * 100:,.1f} %"


def duration_format(milliseconds: float | None) -> str:
    """A duration: "850 ms" under a second, "2.5 s" under a minute, "3.2 min" under an hour, else "1.5 h"."""
    if milliseconds is None:
        return "—"
    if round(milliseconds) < 1000:
        return f"{round(milliseconds)} ms"
    seconds = milliseconds / 1000
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    if round(seconds / 60, 1) < 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:,.1f} h"
