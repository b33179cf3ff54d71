"""django-q2 task entry points of the sync app (thin: each calls one service)."""

from __future__ import annotations

from sync.services.webhooks import webhook_event_process, webhook_events_sweep


def webhook_event_process_task(event_id: int) -> None:
    """Process one stored webhook event."""
    webhook_event_process(event_id=int(event_id))


def webhook_events_sweep_task() -> int:
    """Re-queue stranded events (scheduled every minute)."""
    return webhook_events_sweep()
