"""The analytics app's own configuration rows and its daily schedule, applied by a data migration.

Like ``sync.seeds``, seeding only creates what is missing: an admin's edits (or a
deleted schedule) are left alone when migrations run again.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

# key, value, unit, description, min, max
THRESHOLDS: list[tuple[str, str, str, str, str | None, str | None]] = [
    (
        "analytics_bulk_min_changes",
        "2000",
        "accounts",
        "The daily analytics push uses one Bulk API 2.0 job when more Accounts than this changed "
        "(else sObject Collections of 200).",
        "200",
        None,
    ),
]

SCHEDULE_NAME = "Daily analytics recompute"
SCHEDULE_FUNC = "analytics.tasks.analytics_recompute_task"
SCHEDULE_HOUR_UTC = 3  # a quiet hour for most stores; admins move it in the Schedule admin


def schedule_first_run(*, now: datetime) -> datetime:
    """The next 03:00 UTC after ``now``."""
    today = now.astimezone(UTC).date()
    first = datetime.combine(today, time(SCHEDULE_HOUR_UTC), tzinfo=UTC)
    return first if first > now else first + timedelta(days=1)


def analytics_seed_apply(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing threshold rows and the daily schedule."""
    Threshold = apps.get_model("sync", "Threshold")
    ConfigVersion = apps.get_model("sync", "ConfigVersion")
    Schedule = apps.get_model("django_q", "Schedule")

    for key, value, unit, description, minimum, maximum in THRESHOLDS:
        Threshold.objects.get_or_create(
            key=key,
            defaults={
                "value": Decimal(value),
                "unit": unit,
                "description": description,
                "min_value": Decimal(minimum) if minimum is not None else None,
                "max_value": Decimal(maximum) if maximum is not None else None,
            },
        )
    if not Schedule.objects.filter(func=SCHEDULE_FUNC).exists():
        Schedule.objects.create(
            name=SCHEDULE_NAME,
            func=SCHEDULE_FUNC,
            schedule_type="D",  # django_q's Schedule.DAILY
            repeats=-1,
            next_run=schedule_first_run(now=timezone.now()),
        )
    # Running processes reload their configuration snapshot and see the new threshold.
    version, _ = ConfigVersion.objects.get_or_create(pk=1)
    ConfigVersion.objects.filter(pk=1).update(version=version.version + 1)
