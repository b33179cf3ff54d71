"""Service functions of the sync app (the webhook inbox lives in ``sync.services.webhooks``)."""

from sync.services.webhooks import (
    ReceiveResult,
    webhook_event_enqueue,
    webhook_event_process,
    webhook_event_receive,
    webhook_events_replay,
    webhook_events_sweep,
)

__all__ = [
    "ReceiveResult",
    "webhook_event_enqueue",
    "webhook_event_process",
    "webhook_event_receive",
    "webhook_events_replay",
    "webhook_events_sweep",
]
