"""Writes of the operations console: the hourly roll-ups."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from ops import rules as r
from ops.models import HourlyStat
from ops.selectors import event_stats_by_hour

UPDATED_FIELDS = (
    "received",
    "synced",
    "failed",
    "dead",
    "ignored",
    "latency_buckets",
    "latency_total_ms",
    "salesforce_calls",
    "bigcommerce_calls",
    "updated_at",
)


def hourly_stats_rollup(*, since: datetime, until: datetime) -> int:
    """Recompute the roll-ups of every whole hour that overlaps [since, until); returns the rows written.

    Idempotent: each hour's rows are upserted from the events and the audit log as they are now, and rows of
    those hours that no longer count anything are deleted. Hours outside the range are left as they were.
    """
    hours = r.hours_between(since, until)
    if not hours:
        return 0
    start, end = hours[0], hours[-1] + r.HOUR
    stats = event_stats_by_hour(since=start, until=end)
    rows = [
        HourlyStat(
            store_id=store_id,
            hour=hour,
            scope=scope,
            received=counts.received,
            synced=counts.synced,
            failed=counts.failed,
            dead=counts.dead,
            ignored=counts.ignored,
            latency_buckets=counts.latency_buckets,
            latency_total_ms=counts.latency_total_ms,
            salesforce_calls=counts.salesforce_calls,
            bigcommerce_calls=counts.bigcommerce_calls,
        )
        for (store_id, hour, scope), counts in stats.items()
    ]
    with transaction.atomic():
        stale = [
            pk
            for pk, store_id, hour, scope in HourlyStat.objects.filter(hour__gte=start, hour__lt=end).values_list(
                "pk", "store_id", "hour", "scope"
            )
            if (store_id, hour, scope) not in stats
        ]
        HourlyStat.objects.filter(pk__in=stale).delete()
        HourlyStat.objects.bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["store", "hour", "scope"],
            update_fields=list(UPDATED_FIELDS),
        )
    return len(rows)
