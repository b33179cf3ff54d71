"""django-q2 task entry points of cart recovery (thin: they call the services)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from recovery.services import carts_expire

EXPIRY_TASK = "recovery.tasks.carts_expire_task"
EXPIRY_SCHEDULE_NAME = "Cart expiry (daily)"


def carts_expire_task() -> dict[str, Any]:
    """The daily expiry run; returns the counts for the django-q2 result log."""
    result = asdict(carts_expire())
    result["cutoff"] = result["cutoff"].isoformat() if result["cutoff"] else None
    return result
