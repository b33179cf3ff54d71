"""``GET /health``: database, Salesforce reachability (cached, bounded) and queue depth."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

SALESFORCE_CACHE_KEY = "b2s:health:salesforce"
SALESFORCE_CACHE_SECONDS = 60
SALESFORCE_TIMEOUT_SECONDS = 2.0
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")


def salesforce_connected() -> bool:
    """Whether a Salesforce login works; cached, and never waits longer than the timeout."""
    cached = cache.get(SALESFORCE_CACHE_KEY)
    if cached is not None:
        return bool(cached)
    from sync.salesforce import salesforce_connection_check

    future = _executor.submit(salesforce_connection_check, timeout=SALESFORCE_TIMEOUT_SECONDS)
    try:
        connected = bool(future.result(timeout=SALESFORCE_TIMEOUT_SECONDS + 0.5))
    except FutureTimeout:
        connected = False
    except Exception as error:  # the health check reports, it never raises
        logger.warning("Salesforce health check failed: %s", type(error).__name__)
        connected = False
    cache.set(SALESFORCE_CACHE_KEY, connected, SALESFORCE_CACHE_SECONDS)
    return connected


@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    """200 while the database answers, 503 when it does not."""
    from sync.selectors import webhook_queue_counts

    body: dict[str, Any] = {"status": "ok", "timestamp": timezone.now().isoformat()}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        body["database"] = "ok"
        body["queue"] = webhook_queue_counts()
    except Exception as error:
        logger.error("Health check: database unreachable (%s)", type(error).__name__)
        body.update(status="unhealthy", database="unreachable", queue=None)
    body["salesforceConnected"] = salesforce_connected()
    return JsonResponse(body, status=200 if body["database"] == "ok" else 503)
