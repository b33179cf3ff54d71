"""What a sync did, told to the layer above without importing it.

``sync`` is the foundation (stores, configuration, the inbox, the API clients); the audit log is an app above
it that records each outcome. The inbox and the commands of ``sync`` send ``sync_outcome`` with the entry's
fields (those of ``audit.services.audit_record``); the audit app connects the receiver that writes the entry
(``audit.apps``). With no receiver connected nothing is recorded, and nothing in ``sync`` changes.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

# Sent with the entry's fields as keyword arguments: operation, store, bigcommerce_id, status, and optionally
# salesforce_ids, error, error_code, attempt, duration_ms, salesforce_api_calls, bigcommerce_api_calls,
# event, details.
sync_outcome = Signal()


def sync_outcome_record(**entry: Any) -> None:
    """Tell the receivers (the audit log) what one sync operation did; a receiver's error propagates."""
    sync_outcome.send(sender=sync_outcome_record, **entry)
