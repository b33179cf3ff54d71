"""django-q2 task entry points of the operations console (thin: each calls one service)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.utils import timezone

from ops.alerts import alerts_evaluate
from ops.services import hourly_stats_rollup

# Recent hours are recomputed: events received in them are still finishing, retried or replayed.
ROLLUP_HOURS = 2


def alerts_evaluate_task() -> dict[str, Any]:
    """Judge the alert conditions and send the digest that is due (scheduled every minute)."""
    return asdict(alerts_evaluate(now=timezone.now()))


def hourly_stats_rollup_task() -> int:
    """Recompute the roll-ups of the current and the previous hour (scheduled every minute)."""
    now = timezone.now()
    return hourly_stats_rollup(since=now - timedelta(hours=ROLLUP_HOURS - 1), until=now)
