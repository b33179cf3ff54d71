"""Shared reads of the sync app (stores and the webhook inbox)."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Q, QuerySet

from sync.config import config
from sync.models import Store, WebhookEvent

AUTH_FAILURES_KEY = "b2s:webhooks:auth-failures:{store_hash}"
STORES_CACHE = "stores-active"


def store_active_get(*, store_hash: str) -> Store | None:
    """The active store with this hash, or None."""
    return Store.objects.filter(store_hash=store_hash, is_active=True).first()


def store_active_cached_get(*, store_hash: str) -> Store | None:
    """The active store with this hash, or None, from this process's cache (the webhook endpoint's lookup).

    Kept with the configuration snapshot (``config.per_version``): saving or deleting a store bumps the
    configuration version, so an edit, a deactivation or a rotated secret is seen by every process within
    ``CONFIG_CHECK_SECONDS`` (at once by the one that saved). Only found stores are kept, so unknown hashes
    cannot grow the cache; a new store is found by the first delivery for it. The instance is shared by
    concurrent requests: read it, never change or save it.
    """
    stores = config.per_version(STORES_CACHE)
    store = stores.get(store_hash)
    if store is None:
        store = store_active_get(store_hash=store_hash)
        if store is not None:
            stores[store_hash] = store
    return store


def store_get(*, store_hash: str) -> Store | None:
    """The store with this hash, active or not, or None (commands that name a store use it)."""
    return Store.objects.filter(store_hash=store_hash).first()


def stores_active() -> QuerySet[Store]:
    """Every active store, in a stable order."""
    return Store.objects.filter(is_active=True).order_by("pk")


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


def webhook_events_select(
    *,
    failed: bool = False,
    dead: bool = False,
    ids: list[int] | None = None,
    scopes: list[str] | None = None,
    since: datetime | None = None,
    store_hash: str = "",
) -> QuerySet[WebhookEvent]:
    """The events a replay targets, oldest first; the filters combine (AND).

    Without ``failed``/``dead``: the failed and dead events, or events of any status when ``ids`` are given.
    """
    status = WebhookEvent.Status
    events = WebhookEvent.objects.all()
    statuses = [value for value, chosen in ((status.FAILED, failed), (status.DEAD, dead)) if chosen]
    if not statuses and not ids:
        statuses = [status.FAILED, status.DEAD]
    if statuses:
        events = events.filter(status__in=statuses)
    if ids:
        events = events.filter(pk__in=ids)
    if scopes:
        events = events.filter(scope__in=scopes)
    if since is not None:
        events = events.filter(received_at__gte=since)
    if store_hash:
        events = events.filter(store__store_hash=store_hash)
    return events.order_by("received_at", "pk")


def webhook_events_body_purged(*, events: QuerySet[WebhookEvent]) -> QuerySet[WebhookEvent]:
    """Those of ``events`` whose body and headers the retention emptied (they cannot be replayed)."""
    return events.filter(body_purged_at__isnull=False)


def webhook_event_ids_missing(*, ids: list[int]) -> list[int]:
    """Those of ``ids`` that name no stored event, sorted."""
    found = set(WebhookEvent.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return sorted(set(ids) - found)


def webhook_queue_counts() -> dict[str, int]:
    """Events waiting or running (``pending``) and events that failed or died (``failed``)."""
    status = WebhookEvent.Status
    counts = WebhookEvent.objects.aggregate(
        pending=Count("id", filter=Q(status__in=[status.PENDING, status.PROCESSING])),
        failed=Count("id", filter=Q(status__in=[status.FAILED, status.DEAD])),
    )
    return {"pending": counts["pending"] or 0, "failed": counts["failed"] or 0}
