"""django-q2 task entry points of the operations console (thin: each calls one service)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.utils import timezone

from ops.alerts import alerts_evaluate


def alerts_evaluate_task() -> dict[str, Any]:
    """Judge the alert conditions and send the digest that is due (scheduled every minute)."""
    return asdict(alerts_evaluate(now=timezone.now()))
