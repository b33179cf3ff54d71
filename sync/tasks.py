"""django-q2 task entry points of the sync app (thin: each calls one service)."""

from __future__ import annotations

from django.utils import timezone

from sync.config import config
from sync.services.retention import webhook_bodies_purge
from sync.services.webhooks import webhook_event_process, webhook_events_drain, webhook_events_sweep


def webhook_event_process_task(event_id: int) -> None:
    """Process one stored webhook event."""
    webhook_event_process(event_id=int(event_id))


def webhook_events_drain_task() -> int:
    """Process due events in batches (queued by the doorbell when webhooks arrive)."""
    return webhook_events_drain(
        size=int(config.threshold("inbox_batch_size")),
        wait_seconds=float(config.threshold("inbox_batch_wait_ms")) / 1000,
    )


def webhook_events_sweep_task() -> int:
    """Re-queue stranded events (scheduled every minute)."""
    return webhook_events_sweep()


def webhook_bodies_purge_task() -> int:
    """Empty the bodies and headers of events finished longer ago than the retention (scheduled daily)."""
    return webhook_bodies_purge(now=timezone.now())
