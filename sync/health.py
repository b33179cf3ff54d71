"""What /health reports: whether b2s is well, and if not, why (the dashboard, metrics and alerts read it too).

``ok`` only when all is well; ``degraded`` with reasons (dead or failing events, a backlog older than
``health_backlog_age_seconds``, Salesforce unreachable, the API-budget guard pausing writes);
``unhealthy`` only when the database is down (the one state in which b2s cannot take deliveries).
Each reason costs one indexed query at most (the ``(status, received_at)`` index), the Salesforce
login is cached for a minute and bounded in time, the guard's status is cached in the process.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from sync import salesforce as salesforce_api
from sync.config import config
from sync.models import WebhookEvent
from sync.usage import api_budget_status

logger = logging.getLogger(__name__)

OK, DEGRADED, UNHEALTHY = "ok", "degraded", "unhealthy"
BACKLOG_THRESHOLD = "health_backlog_age_seconds"
SALESFORCE_CACHE_KEY = "b2s:health:salesforce"
SALESFORCE_CACHE_SECONDS = 60
SALESFORCE_TIMEOUT_SECONDS = 2.0
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")

# The reasons' codes (stable: alerts and metrics key on them).
EVENTS_DEAD = "events_dead"
EVENTS_FAILED = "events_failed"
EVENTS_RETRYING = "events_retrying"
BACKLOG_OLD = "backlog_old"
SALESFORCE_UNREACHABLE = "salesforce_unreachable"
API_BUDGET_GUARD = "api_budget_guard"


@dataclass(frozen=True)
class HealthReason:
    """One reason b2s is not fully well: a stable code and a sentence for people."""

    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def salesforce_connected() -> bool:
    """Whether a Salesforce login works; cached, and never waits longer than the timeout."""
    cached = cache.get(SALESFORCE_CACHE_KEY)
    if cached is not None:
        return bool(cached)
    future = _executor.submit(salesforce_api.salesforce_connection_check, timeout=SALESFORCE_TIMEOUT_SECONDS)
    try:
        connected = bool(future.result(timeout=SALESFORCE_TIMEOUT_SECONDS + 0.5))
    except FutureTimeout:
        connected = False
    except Exception as error:  # the health check reports, it never raises
        logger.warning("Salesforce health check failed: %s", type(error).__name__)
        connected = False
    cache.set(SALESFORCE_CACHE_KEY, connected, SALESFORCE_CACHE_SECONDS)
    return connected


def salesforce_connected_cached() -> bool | None:
    """The last cached answer of ``salesforce_connected`` (None: none in the last minute); never logs in."""
    cached = cache.get(SALESFORCE_CACHE_KEY)
    return None if cached is None else bool(cached)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def health_reasons(*, now: datetime | None = None, salesforce_login: bool = True) -> list[HealthReason]:
    """Why b2s is degraded now; empty when all is well. The database must answer (else: unhealthy).

    ``salesforce_login``: check the Salesforce login when no answer is cached (at most one login a
    minute); False uses the cached answer only, so an anonymous caller can never make b2s log in.
    """
    now = now or timezone.now()
    reasons: list[HealthReason] = []
    status = WebhookEvent.Status
    counts = WebhookEvent.objects.filter(status__in=[status.DEAD, status.FAILED]).aggregate(
        dead=Count("id", filter=Q(status=status.DEAD)),
        failed=Count("id", filter=Q(status=status.FAILED, next_attempt_at__isnull=True)),
        retrying=Count("id", filter=Q(status=status.FAILED, next_attempt_at__isnull=False)),
    )
    if counts["dead"]:
        reasons.append(
            HealthReason(EVENTS_DEAD, f"{_plural(counts['dead'], 'event')} dead (retries exhausted); replay them.")
        )
    if counts["failed"]:
        reasons.append(
            HealthReason(
                EVENTS_FAILED, f"{_plural(counts['failed'], 'event')} failed for good; fix the cause, then replay."
            )
        )
    if counts["retrying"]:
        reasons.append(
            HealthReason(EVENTS_RETRYING, f"{_plural(counts['retrying'], 'event')} failed and awaiting a retry.")
        )
    oldest = (
        WebhookEvent.objects.filter(status=status.PENDING)
        .order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    limit = int(config.threshold(BACKLOG_THRESHOLD))
    if oldest is not None and (age := int((now - oldest).total_seconds())) > limit:
        reasons.append(HealthReason(BACKLOG_OLD, f"The oldest waiting event has waited {age} s (more than {limit} s)."))
    connected = salesforce_connected() if salesforce_login else salesforce_connected_cached()
    if connected is False:
        reasons.append(HealthReason(SALESFORCE_UNREACHABLE, "Salesforce is unreachable (the login failed)."))
    budget = api_budget_status()
    if budget.paused:
        reasons.append(HealthReason(API_BUDGET_GUARD, budget.reason))
    return reasons


def health_status(reasons: list[HealthReason]) -> str:
    """``ok`` without reasons, ``degraded`` with any (``unhealthy`` is the database's alone)."""
    return DEGRADED if reasons else OK
