"""The analytics app's own configuration rows and its daily schedule, applied by a data migration.

Like ``sync.seeds``, seeding only creates what is missing: an admin's edits (or a
deleted schedule) are left alone when migrations run again.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from sync.seeds import ThresholdSeed, config_version_seed_bump, thresholds_seed

THRESHOLDS: list[ThresholdSeed] = [
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
    Schedule = apps.get_model("django_q", "Schedule")

    thresholds_seed(apps, THRESHOLDS)
    if not Schedule.objects.filter(func=SCHEDULE_FUNC).exists():
        Schedule.objects.create(
            name=SCHEDULE_NAME,
            func=SCHEDULE_FUNC,
            schedule_type="D",  # django_q's Schedule.DAILY
            repeats=-1,
            next_run=schedule_first_run(now=timezone.now()),
        )
    # Running processes reload their configuration snapshot and see the new threshold.
    config_version_seed_bump(apps)
