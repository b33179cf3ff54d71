"""Shared reads of the operations console: the facts and thresholds the alerts judge."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, Sum

from ops.alert_rules import (
    AlertFacts,
    AlertThresholds,
    ApiBudget,
    StoreBacklog,
    StoreOutcomes,
)
from sync.config import config
from sync.models import IntakeRejection, Store, WebhookEvent
from sync.usage import api_budget_status as sync_api_budget_status

Status = WebhookEvent.Status
# Outcomes of processing; ignored events (no handler) were never processed and do not dilute a failure rate.
PROCESSED = (Status.DONE, Status.SKIPPED, Status.FAILED, Status.DEAD)


def alert_thresholds() -> AlertThresholds:
    """The admin's alert thresholds."""
    return AlertThresholds(
        window_minutes=int(config.threshold("alert_window_minutes")),
        failure_rate_percent=config.threshold("alert_failure_rate_percent"),
        failure_min_events=int(config.threshold("alert_failure_min_events")),
        backlog_age_seconds=int(config.threshold("alert_backlog_age_seconds")),
        auth_failures=int(config.threshold("alert_auth_failures")),
        api_budget_percent=config.threshold("alert_api_budget_percent"),
    )


def api_budget_status() -> ApiBudget:
    """The org's latest Salesforce API reading and whether the budget guard pauses writes (the guard's own
    judgement, ``sync.usage.api_budget_status``), in the shape the alert rules take."""
    status = sync_api_budget_status()
    return ApiBudget(
        used=status.used,
        limit=status.limit,
        recorded_at=status.read_at,
        guard=status.override,
        ceiling_percent=status.ceiling,
        writes_paused=status.paused,
    )


def alert_facts(*, now: datetime, thresholds: AlertThresholds) -> AlertFacts:
    """The counts the alert rules judge, in four indexed queries (and one for the stores' names)."""
    window_start = now - timedelta(minutes=thresholds.window_minutes)
    # Index (finished_at): the events that finished in the window, per store.
    outcomes = [
        StoreOutcomes(
            store_hash=row["store__store_hash"], finished=row["finished"], failed=row["failed"], dead=row["dead"]
        )
        for row in WebhookEvent.objects.filter(
            finished_at__gte=window_start, finished_at__lte=now, status__in=PROCESSED
        )
        .values("store__store_hash")
        .annotate(
            finished=Count("id"),
            failed=Count("id", filter=Q(status__in=(Status.FAILED, Status.DEAD))),
            dead=Count("id", filter=Q(status=Status.DEAD)),
        )
        .order_by("store__store_hash")
    ]
    # Index (status, received_at): only events already waiting longer than the threshold are read.
    waiting_since = now - timedelta(seconds=thresholds.backlog_age_seconds)
    backlogs = [
        StoreBacklog(
            store_hash=row["store__store_hash"],
            oldest_age_seconds=(now - row["oldest"]).total_seconds(),
            waiting=row["waiting"],
        )
        for row in WebhookEvent.objects.filter(status=Status.PENDING, received_at__lt=waiting_since)
        .values("store__store_hash")
        .annotate(oldest=Min("received_at"), waiting=Count("id"))
        .order_by("store__store_hash")
    ]
    # Index (minute): refused authentications per store, counted per minute at the door.
    auth_failures = dict(
        IntakeRejection.objects.filter(
            reason=IntakeRejection.Reason.AUTHENTICATION, minute__gte=window_start, minute__lte=now
        )
        .values("store_hash")
        .annotate(total=Sum("count"))
        .values_list("store_hash", "total")
    )
    hashes = {row.store_hash for row in outcomes} | {row.store_hash for row in backlogs} | set(auth_failures)
    store_names = dict(Store.objects.filter(store_hash__in=hashes - {""}).values_list("store_hash", "name"))
    return AlertFacts(
        outcomes=outcomes,
        backlogs=backlogs,
        auth_failures={store_hash: int(total) for store_hash, total in auth_failures.items()},
        api_budget=api_budget_status(),
        store_names=store_names,
    )
