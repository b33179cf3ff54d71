"""django-q2 task entry points of the analytics app (thin: the work is in services)."""

from __future__ import annotations

from typing import Any

from analytics.services import analytics_recompute


def analytics_recompute_task() -> dict[str, Any]:
    """The daily schedule's task: recompute every active store and push what changed."""
    return analytics_recompute().summary()
