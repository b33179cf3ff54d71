"""Retention of webhook bodies: a finished event's body and headers (personal data) are emptied after
``webhook_body_retention_days``; the row (scope, resource, status, times, attempts, error) stays for the
statistics and the audit trail. The body keeps only its ``data``: BigCommerce's callbacks name resources
there by id alone (``type``, ``id``, a shipment's ``orderId``, an address's ``customer_id``), which is what
"Sync again now" needs to read the resource again; the sender's headers and the rest go.

Finished means the event will not run again by itself: done, ignored, skipped, dead, or failed without a
retry due (a permanent failure). Dead and permanently failed events are purged on the same clock as the
others: keeping their bodies until someone replays them would keep personal data for ever exactly where
nobody looks, and after the retention period "Sync again now" (which fetches the resource's current state
from BigCommerce) is the better repair than replaying a weeks-old body. Pending, processing and failed
events with a retry due are never touched.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.db.models.functions import JSONObject

from sync.config import config
from sync.models import WebhookEvent

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status
# Rows emptied per UPDATE: each batch commits on its own, so a million old rows never sit in one transaction
# (nor hold SQLite's write lock for long while webhooks arrive).
PURGE_BATCH = 1000
FINISHED_STATUSES = (Status.DONE, Status.IGNORED, Status.SKIPPED, Status.DEAD)
REPLAY_PURGED_REFUSAL = (
    "the body and headers were emptied after the retention period (the webhook_body_retention_days threshold), "
    'so there is nothing to replay: use "Sync again now", which fetches the current state from BigCommerce'
)


def webhook_bodies_purgeable(*, cutoff: datetime) -> Q:
    """Finished events (see the module) that finished before ``cutoff`` and still hold their body."""
    finished = Q(status__in=FINISHED_STATUSES) | Q(status=Status.FAILED, next_attempt_at__isnull=True)
    return finished & Q(finished_at__lt=cutoff, body_purged_at__isnull=True)


def webhook_bodies_purge(*, now: datetime, batch_size: int = PURGE_BATCH) -> int:
    """Empty the body and headers of events finished more than ``webhook_body_retention_days`` before ``now``,
    in batches of ``batch_size`` rows; returns how many. Running it again purges nothing twice."""
    cutoff = now - timedelta(days=int(config.threshold("webhook_body_retention_days")))
    purgeable = webhook_bodies_purgeable(cutoff=cutoff)
    purged = 0
    while True:
        ids = list(WebhookEvent.objects.filter(purgeable).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        # The condition again in the UPDATE: an event replayed since the SELECT (pending now) keeps its body.
        purged += WebhookEvent.objects.filter(purgeable, pk__in=ids).update(
            body=JSONObject(data=F("body__data")), headers={}, body_purged_at=now
        )
    if purged:
        logger.info("Emptied the body and headers of %s webhook event(s) finished before %s", purged, cutoff)
    return purged
