"""Where each dashboard figure leads: the admin change list filtered to exactly the rows behind it.

Filters on a model's own fields (``status__in``, ``finished_at__gte``) are accepted by any change list; the
one relation used, ``store__id__exact``, is a list filter of each list linked to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse

from sync.models import Store


def _changelist(name: str, params: dict[str, str]) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _span(field: str, since: datetime | None, until: datetime | None) -> dict[str, str]:
    params = {}
    if since is not None:
        params[f"{field}__gte"] = since.isoformat()
    if until is not None:
        params[f"{field}__lt"] = until.isoformat()
    return params


def _store(store_id: int | None) -> dict[str, str]:
    return {"store__id__exact": str(store_id)} if store_id is not None else {}


def events_url(
    *,
    store_id: int | None,
    since: datetime | None = None,
    until: datetime | None = None,
    time_field: str = "received_at",
    statuses: Sequence[str] = (),
    scope: str = "",
) -> str:
    """The webhook events of a store (or all) in these statuses with ``time_field`` in [since, until)."""
    params = {**_store(store_id), **_span(time_field, since, until)}
    if len(statuses) == 1:
        params["status__exact"] = statuses[0]
    elif statuses:
        params["status__in"] = ",".join(statuses)
    if scope:
        params["scope__exact"] = scope
    return _changelist("sync_webhookevent", params)


def errors_url(*, store_id: int | None, since: datetime, until: datetime, code: str) -> str:
    """The failed audit entries (sync attempts) with this error code in [since, until)."""
    params = {"status__exact": "failed", "error_code__exact": code, **_store(store_id)}
    return _changelist("audit_auditlog", {**params, **_span("created_at", since, until)})


def calls_url(*, store_id: int | None, since: datetime, until: datetime, service: str) -> str:
    """The audit entries of a store (or of any store: the roll-ups count no other) of [since, until) that made
    calls to ``service`` (salesforce or bigcommerce)."""
    store = _store(store_id) or {"store__isnull": "False"}
    params = {f"{service}_api_calls__gt": "0", **store, **_span("created_at", since, until)}
    return _changelist("audit_auditlog", params)


def auth_failures_url(*, store: Store | None, since: datetime, until: datetime) -> str:
    """The minutes of [since, until) with deliveries refused for failed authentication."""
    params = {"reason__exact": "authentication", **_span("minute", since, until)}
    if store is not None:
        params["store_hash__exact"] = store.store_hash
    return _changelist("sync_intakerejection", params)


def usage_url(*, service: str, store_id: int | None) -> str:
    """The usage readings of ``service`` (for one store when the reading is a store's)."""
    return _changelist("sync_apiusagesample", {"service__exact": service, **_store(store_id)})


def open_alerts_url() -> str:
    """The alerts still open."""
    return _changelist("ops_alert", {"state__exact": "open"})
