"""django-q2 task entry points of the operations console."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ops.services import hourly_stats_rollup

# Recent hours are recomputed: events received in them are still finishing, retried or replayed.
ROLLUP_HOURS = 2


def hourly_stats_rollup_task() -> int:
    """Recompute the roll-ups of the current and the previous hour (scheduled every minute)."""
    now = timezone.now()
    return hourly_stats_rollup(since=now - timedelta(hours=ROLLUP_HOURS - 1), until=now)
