"""API usage readings and the API-budget guard's status.

Salesforce answers every data request with ``Sforce-Limit-Info: api-usage=USED/MAX`` (the org's
requests in the rolling 24 hours), BigCommerce with ``X-Rate-Limit-*`` (the store's requests in
the current window). The clients hand each reading to :func:`api_usage_record`, which keeps the
latest per (service, store) in this process and writes an :class:`~sync.models.ApiUsageSample` at
most once a minute per (service, store) — and at once when a Salesforce reading crosses the guard's
ceiling, up or down, so every process sees the guard change — so reading headers costs no write per
request.

Writes and transactions: a reading may arrive inside a caller's transaction (a client call made
under ``transaction.atomic``). Its sample is then written when that transaction commits
(``on_commit``), never inside it: a rollback of the caller's work takes no sample with it half-way,
and a failing sample write never breaks the caller's transaction or its Salesforce call. A sample
lost that way (the caller rolled back) is replaced by the next one within a minute; this process's
in-memory reading, which the guard reads too, is current regardless.

:func:`api_budget_status` is the guard's answer for every caller (the inbox, the backfill, the
dashboard, /health, alerts): the newest Salesforce reading (this process's own or the latest sample
any process wrote), judged by :func:`sync.rules.budget_guard_decide`; cached for a few seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from sync.config import config
from sync.models import ApiUsageSample
from sync.rules import GUARD_AUTO, budget_guard_decide

logger = logging.getLogger(__name__)

SALESFORCE = ApiUsageSample.Service.SALESFORCE.value
BIGCOMMERCE = ApiUsageSample.Service.BIGCOMMERCE.value
SALESFORCE_WINDOW_SECONDS = 86400  # the org's daily allocation (a rolling 24 hours)
SAMPLE_INTERVAL_SECONDS = 60.0
STATUS_CACHE_SECONDS = 5.0
CEILING_THRESHOLD = "api_budget_ceiling_percent"
GUARD_SETTING = "api_budget_guard"
_STATUS_CACHE = "api-budget-status"  # in config.per_version: emptied when the admin edits the configuration


@dataclass(frozen=True)
class ApiReading:
    """One remote API's own count of requests used against its limit."""

    service: str
    store_id: int | None  # None: org-wide (Salesforce)
    used: int
    limit: int
    window_seconds: int
    read_at: datetime

    @property
    def share(self) -> float:
        """The part of the limit in use, 0 to 1 (1 when the limit is 0)."""
        return self.used / self.limit if self.limit else 1.0


@dataclass(frozen=True)
class ApiBudgetStatus:
    """The API-budget guard's state: whether Salesforce writes pause, and the reading it judged."""

    paused: bool
    reason: str
    used: int | None
    limit: int | None
    share: float | None  # used / limit, 0 to 1
    ceiling: Decimal  # percent, the admin's api_budget_ceiling_percent
    override: str  # auto | write | pause
    read_at: datetime | None


_lock = threading.Lock()
_readings: dict[tuple[str, int | None], ApiReading] = {}
_written_at: dict[tuple[str, int | None], float] = {}  # time.monotonic() of the last sample written
_above: dict[tuple[str, int | None], bool] = {}  # whether the latest reading was at or above the ceiling


def api_usage_record(
    *,
    service: str,
    used: int,
    limit: int,
    window_seconds: int,
    store_id: int | None = None,
    force: bool = False,
) -> ApiReading:
    """Keep a reading as this process's latest; write a sample when one is due (see the module docstring).

    ``force`` writes the sample now (the guard's probe). Never raises for want of a database: a reading
    must never fail the API call that brought it.
    """
    reading = ApiReading(service, store_id, max(0, int(used)), max(0, int(limit)), int(window_seconds), timezone.now())
    key = (service, store_id)
    above = _above_ceiling(reading) if service == SALESFORCE else False
    now = time.monotonic()
    with _lock:
        _readings[key] = reading
        crossed = key in _above and _above[key] != above
        _above[key] = above
        last = _written_at.get(key)
        due = force or crossed or last is None or now - last >= SAMPLE_INTERVAL_SECONDS
        if due:
            _written_at[key] = now  # claimed here, so concurrent readings do not write it twice
    if service == SALESFORCE and (crossed or force):
        api_budget_status_forget()
    if due:
        _sample_write_after_commit(reading)
    return reading


def api_usage_latest(*, service: str, store_id: int | None = None) -> ApiReading | None:
    """This process's latest reading of ``service`` (for ``store_id``; None: org-wide), or None."""
    with _lock:
        return _readings.get((service, store_id))


def api_usage_reset() -> None:
    """Forget this process's readings and the guard's cached status (a test starting as a fresh process)."""
    with _lock:
        _readings.clear()
        _written_at.clear()
        _above.clear()
    api_budget_status_forget()


def _above_ceiling(reading: ApiReading) -> bool:
    try:
        ceiling = config.threshold(CEILING_THRESHOLD)
    except Exception:  # no configuration to read (no database): no crossing to report
        return False
    return reading.limit > 0 and Decimal(reading.used) * 100 >= ceiling * Decimal(reading.limit)


def _sample_write_after_commit(reading: ApiReading) -> None:
    def write() -> None:
        try:
            ApiUsageSample.objects.create(
                service=reading.service,
                store_id=reading.store_id,
                used=reading.used,
                limit=reading.limit,
                window_seconds=reading.window_seconds,
                recorded_at=reading.read_at,
            )
        except Exception as error:  # the reading stays in memory; the next sample is at most a minute away
            logger.warning("Could not store an API usage sample of %s (%s)", reading.service, type(error).__name__)

    try:
        # At once outside a transaction; after the caller's commit inside one (dropped on its rollback).
        transaction.on_commit(write, robust=True)
    except Exception as error:
        logger.warning("Could not store an API usage sample of %s (%s)", reading.service, type(error).__name__)


# ---------------------------------------------------------------------------------------------
# The API-budget guard
# ---------------------------------------------------------------------------------------------
def api_budget_status() -> ApiBudgetStatus:
    """Whether Salesforce writes are paused now, judged on the newest Salesforce reading.

    Cached in this process for ``STATUS_CACHE_SECONDS`` (and dropped when the admin edits the
    configuration, when a reading here crosses the ceiling, and after a probe), so the inbox may ask
    before every batch.
    """
    cached = config.per_version(_STATUS_CACHE)
    now = time.monotonic()
    entry: tuple[float, ApiBudgetStatus] | None = cached.get("status")
    if entry is not None and now - entry[0] < STATUS_CACHE_SECONDS:
        return entry[1]
    status = _api_budget_status_read()
    cached["status"] = (now, status)
    return status


def api_budget_status_forget() -> None:
    """Drop this process's cached guard status: the next ``api_budget_status()`` reads afresh."""
    try:
        config.per_version(_STATUS_CACHE).pop("status", None)
    except Exception:  # no configuration to read (no database): nothing cached either
        return


def _api_budget_status_read() -> ApiBudgetStatus:
    sample = (
        ApiUsageSample.objects.filter(service=SALESFORCE)
        .order_by("-recorded_at")
        .values_list("used", "limit", "recorded_at")
        .first()
    )
    local = api_usage_latest(service=SALESFORCE)
    used: int | None = None
    limit: int | None = None
    read_at: datetime | None = None
    if sample is not None:
        used, limit, read_at = sample
    if local is not None and (read_at is None or local.read_at >= read_at):
        used, limit, read_at = local.used, local.limit, local.read_at
    ceiling = config.threshold(CEILING_THRESHOLD)
    override = config.setting(GUARD_SETTING) or GUARD_AUTO
    paused, reason = budget_guard_decide(used=used, limit=limit, ceiling_percent=ceiling, override=override)
    share = used / limit if used is not None and limit else None
    return ApiBudgetStatus(paused, reason, used, limit, share, ceiling, override, read_at)
