"""django-q2 task entry points of the audit app."""

from __future__ import annotations

from audit.services import audit_log_prune


def audit_log_prune_task() -> int:
    """Delete audit entries older than AUDIT_RETENTION_DAYS (scheduled daily)."""
    return audit_log_prune()
