"""The API-budget guard's probe: a fresh reading of the org's daily API usage while writes are paused.

While the guard pauses Salesforce writes, b2s makes few Salesforce calls, so the reading that paused
it would never change. The inbox's every-minute sweep calls :func:`api_budget_probe`: one
``GET /services/data/vXX.X/limits/`` through the shared client. Salesforce counts it against the
daily allocation like any REST call (only the versions resource ``/services/data/`` is free, and it
carries no usage), so a paused b2s spends at most one request a minute (1,440 a day) to learn when
it may resume.
"""

from __future__ import annotations

import logging
from typing import Any

from sync.salesforce import SalesforceError, salesforce_client
from sync.usage import (
    SALESFORCE,
    SALESFORCE_WINDOW_SECONDS,
    ApiBudgetStatus,
    api_budget_status,
    api_budget_status_forget,
    api_usage_latest,
    api_usage_record,
)

logger = logging.getLogger(__name__)


def _daily_requests(limits: Any) -> tuple[int, int] | None:
    """(used, max) from a ``/limits`` answer's ``DailyApiRequests``, or None."""
    daily = limits.get("DailyApiRequests") if isinstance(limits, dict) else None
    if not isinstance(daily, dict):
        return None
    maximum, remaining = daily.get("Max"), daily.get("Remaining")
    if not isinstance(maximum, int) or not isinstance(remaining, int):
        return None
    return max(0, maximum - remaining), maximum


def api_budget_probe() -> ApiBudgetStatus:
    """Read the org's daily usage with one ``GET limits``, store it as a sample at once, and judge again.

    A refused call (the org already over its limit answers 403 ``REQUEST_LIMIT_EXCEEDED``) still brought
    its ``Sforce-Limit-Info`` header, which the client recorded; that reading is stored instead.
    """
    reading: tuple[int, int] | None = None
    try:
        reading = _daily_requests(salesforce_client().limits())
    except SalesforceError as error:
        logger.warning("API budget probe: GET limits failed (%s %s)", error.code, error.status)
    if reading is None:
        latest = api_usage_latest(service=SALESFORCE)
        reading = (latest.used, latest.limit) if latest is not None else None
    if reading is not None:
        api_usage_record(
            service=SALESFORCE,
            used=reading[0],
            limit=reading[1],
            window_seconds=SALESFORCE_WINDOW_SECONDS,
            force=True,
        )
    api_budget_status_forget()
    return api_budget_status()
