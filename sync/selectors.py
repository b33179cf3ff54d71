"""Shared reads of the sync app (stores and the webhook inbox)."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db.models import Q, QuerySet

from sync.models import Store, WebhookEvent

AUTH_FAILURES_KEY = "b2s:webhooks:auth-failures:{store_hash}"


def store_active_get(*, store_hash: str) -> Store | None:
    """The active store with this hash, or None."""
    return Store.objects.filter(store_hash=store_hash, is_active=True).first()


def webhook_auth_failures(*, store_hash: str) -> int:
    """Failed webhook authentications counted for the store (this cache's lifetime)."""
    return int(cache.get(AUTH_FAILURES_KEY.format(store_hash=store_hash)) or 0)


def webhook_events_stranded(*, now: datetime, pending_before: datetime, processing_before: datetime) -> QuerySet:
    """Events a worker should be running and is not.

    Pending events older than ``pending_before`` (their queue message was lost, or the
    queue is behind) whose re-queue time has come, events still ``processing`` since
    before ``processing_before`` (the worker died mid-task: the lease expired), and failed
    events whose retry time has passed.
    """
    status = WebhookEvent.Status
    return WebhookEvent.objects.filter(
        Q(status=status.PENDING, received_at__lt=pending_before)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        | Q(status=status.PROCESSING, started_at__lt=processing_before)
        | Q(status=status.FAILED, next_attempt_at__lte=now)
    ).order_by("received_at")


def webhook_events_waiting(*, store_id: int, now: datetime, exclude_id: int) -> QuerySet:
    """Events of the store that wait for a resource lock (deferred pending, due failed)."""
    status = WebhookEvent.Status
    return (
        WebhookEvent.objects.filter(store_id=store_id)
        .filter(
            Q(status=status.PENDING, next_attempt_at__isnull=False) | Q(status=status.FAILED, next_attempt_at__lte=now)
        )
        .exclude(pk=exclude_id)
        .order_by("received_at")
    )


def webhook_events_running(*, store_id: int, since: datetime, exclude_id: int) -> QuerySet:
    """Events of the store being processed under a lease that has not expired."""
    return WebhookEvent.objects.filter(
        store_id=store_id, status=WebhookEvent.Status.PROCESSING, started_at__gte=since
    ).exclude(pk=exclude_id)
