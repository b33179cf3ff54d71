"""``GET /health``: a plain status for everyone; database, Salesforce reachability (cached, bounded) and queue
depth only for staff or a caller presenting ``HEALTH_TOKEN``."""

from __future__ import annotations

import hmac
import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
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


def database_reachable() -> bool:
    """Whether the database answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        logger.error("Health check: database unreachable (%s)", type(error).__name__)
        return False
    return True


def health_token_matches(*, presented: str, configured: str) -> bool:
    """A configured token presented exactly; compared in constant time, never matched when unset."""
    return bool(configured) and hmac.compare_digest(presented.encode(), configured.encode())


def health_detail_allowed(request: HttpRequest) -> bool:
    """Staff (an admin session) or the ``HEALTH_TOKEN`` as ``Authorization: Bearer`` or ``X-Health-Token``."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    presented = credentials.strip() if scheme.lower() == "bearer" else request.headers.get("X-Health-Token", "")
    if health_token_matches(presented=presented, configured=settings.HEALTH_TOKEN):
        return True
    try:
        user = request.user  # the session lives in the database, which may be the thing that is down
        return bool(user.is_active and user.is_staff)
    except DatabaseError:
        return False


@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    """200 while the database answers, 503 when it does not; the details only for staff or the health token."""
    body: dict[str, Any] = {"status": "ok"}
    database_ok = database_reachable()
    if not database_ok:
        body["status"] = "unhealthy"
    if health_detail_allowed(request):
        # Queue counts and the Salesforce login are for monitoring, not for whoever can reach the port.
        from sync.selectors import webhook_queue_counts

        body["timestamp"] = timezone.now().isoformat()
        body["database"] = "ok" if database_ok else "unreachable"
        body["queue"] = webhook_queue_counts() if database_ok else None
        body["salesforceConnected"] = salesforce_connected()
    return JsonResponse(body, status=200 if database_ok else 503)
