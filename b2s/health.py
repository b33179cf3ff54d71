"""``GET /health``: the status (``ok``, ``degraded``, ``unhealthy``) for everyone; the reasons, database,
Salesforce reachability (cached, bounded) and queue depth only for staff or a caller presenting ``HEALTH_TOKEN``.

The reasons are computed in ``sync.health`` (the dashboard, metrics and alerts read them there too)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from sync.health import (
    SALESFORCE_CACHE_KEY,
    UNHEALTHY,
    HealthReason,
    health_reasons,
    health_status,
    salesforce_connected,
)
from sync.selectors import webhook_queue_counts

logger = logging.getLogger(__name__)

__all__ = ["SALESFORCE_CACHE_KEY", "database_reachable", "health_detail_allowed", "health_view", "salesforce_connected"]


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
    """``ok``, ``degraded`` (with reasons) or ``unhealthy`` (503: the database is down) for everyone; the
    reasons and details only for staff or the health token (``sync.health.health_reasons``)."""
    detail = health_detail_allowed(request)
    database_ok = database_reachable()
    reasons: list[HealthReason] = []
    if database_ok:
        try:
            # Only a caller allowed the details may make b2s log in to Salesforce (cached a minute).
            reasons = health_reasons(salesforce_login=detail)
        except DatabaseError as error:
            logger.error("Health check: database failed mid-check (%s)", type(error).__name__)
            database_ok = False
    body: dict[str, Any] = {"status": health_status(reasons) if database_ok else UNHEALTHY}
    if detail:
        # The reasons, queue counts and the Salesforce login are for monitoring, not for whoever can reach the port.
        body["reasons"] = [reason.as_json() for reason in reasons]
        body["timestamp"] = timezone.now().isoformat()
        body["database"] = "ok" if database_ok else "unreachable"
        body["queue"] = webhook_queue_counts() if database_ok else None
        body["salesforceConnected"] = salesforce_connected()
    return JsonResponse(body, status=200 if database_ok else 503)
