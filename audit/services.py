"""Writing and pruning the audit log."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from audit.models import AuditLog
from b2s.logging import redact
from sync.config import config
from sync.salesforce import salesforce_truncations_take

if TYPE_CHECKING:
    from sync.models import Store, WebhookEvent

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 4000


def audit_record(
    *,
    operation: str,
    store: Store | None,
    bigcommerce_id: str,
    status: str,
    salesforce_ids: Iterable[str] = (),
    error: str = "",
    error_code: str = "",
    attempt: int = 1,
    duration_ms: int = 0,
    salesforce_api_calls: int = 0,
    bigcommerce_api_calls: int = 0,
    event: WebhookEvent | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog | None:
    """One audit entry for one sync operation; None while the ``audit_trail`` flag is off.

    The error text is redacted (no token, password or signature ever lands in the log). The values
    shortened to fit Salesforce fields since the previous entry of this sync (the innermost
    ``salesforce_calls_counted`` block, or the webhook event's) are listed in ``details["truncated"]``.
    """
    truncated = salesforce_truncations_take()  # taken even when not written: never carried to the next entry
    if not config.flag("audit_trail"):
        return None
    if truncated:
        details = {**(details or {}), "truncated": [*(details or {}).get("truncated", []), *truncated]}
    return AuditLog.objects.create(
        operation=operation,
        store=store,
        bigcommerce_id=str(bigcommerce_id)[:64],
        salesforce_ids=[str(value) for value in salesforce_ids if value],
        status=status,
        error=redact(error)[:ERROR_MAX_CHARS],
        error_code=error_code[:100],
        attempt=max(1, int(attempt)),
        duration_ms=max(0, int(duration_ms)),
        salesforce_api_calls=max(0, int(salesforce_api_calls)),
        bigcommerce_api_calls=max(0, int(bigcommerce_api_calls)),
        event=event,
        details=details or {},
    )


def sync_outcome_receive(sender: object, **entry: Any) -> None:
    """The receiver of ``sync.outcomes.sync_outcome``: one audit entry per outcome sent."""
    entry.pop("signal", None)
    audit_record(**entry)


def audit_log_prune(*, days: int | None = None) -> int:
    """Delete entries older than the retention (``AUDIT_RETENTION_DAYS``); returns how many."""
    keep_days = settings.AUDIT_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = AuditLog.objects.filter(created_at__lt=cutoff).delete()
    if deleted:
        logger.info("Pruned %s audit entries older than %s days", deleted, keep_days)
    return deleted
