"""Every dashboard figure links to an admin change list that shows exactly the rows behind it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from ops import rules as r
from ops.selectors import Dashboard, dashboard_get
from ops.services import hourly_stats_rollup
from tests.factories.ops import NOW, History, history_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> History:
    made = history_create()
    hourly_stats_rollup(since=NOW - timedelta(days=8), until=NOW)
    return made


def _listed(client: Client, url: str):
    response = client.get(url)
    assert response.status_code == 200, url
    assert "?e=" not in response.get("Location", ""), url  # the admin's answer to a lookup it refuses
    return response.context["cl"]


def _event_figures(dashboard: Dashboard) -> dict[str, tuple[int, str]]:
    d = dashboard
    figures = {
        name: (getattr(d, name).value, getattr(d, name).url)
        for name in ("received", "synced", "failed", "dead", "ignored", "backlog", "dead_now")
    }
    for row in d.scopes:
        for name in ("received", "synced", "failed", "dead"):
            figure = getattr(row, name)
            figures[f"{row.scope} {name}"] = (figure.value, figure.url)
    figures["latency population"] = (d.latency_count, d.latency_url)
    return figures


@pytest.mark.parametrize("window", ["1h", "24h", "7d"])
@pytest.mark.parametrize("store_name", [None, "alpha", "beta"])
def test_event_figures_list_exactly_their_events(admin_client: Client, history: History, window, store_name) -> None:
    store = getattr(history, store_name) if store_name else None
    dashboard = dashboard_get(store=store, window=r.WINDOWS[window], now=NOW)
    for name, (value, url) in _event_figures(dashboard).items():
        assert _listed(admin_client, url).result_count == value, (name, url)


@pytest.mark.parametrize("store_name", [None, "alpha", "beta"])
def test_audit_figures_list_exactly_their_entries(admin_client: Client, history: History, store_name) -> None:
    store = getattr(history, store_name) if store_name else None
    day = dashboard_get(store=store, window=r.WINDOWS["24h"], now=NOW)
    for error in day.errors:
        assert _listed(admin_client, error.count.url).result_count == error.count.value, error.code
    for figure, field in (
        (day.salesforce_calls, "salesforce_api_calls"),
        (day.bigcommerce_calls, "bigcommerce_api_calls"),
    ):
        listed = _listed(admin_client, figure.url)
        assert sum(listed.queryset.values_list(field, flat=True)) == figure.value, field
    assert day.errors  # each store has failures in the day: the loop above ran


def test_the_day_lists_four_salesforce_entries(admin_client: Client, history: History) -> None:
    day = dashboard_get(store=None, window=r.WINDOWS["24h"], now=NOW)
    # Entries of events 1, 5, 6 and 14 made Salesforce calls; the one without a store is not listed.
    assert _listed(admin_client, day.salesforce_calls.url).result_count == 4


@pytest.mark.parametrize("store_name", [None, "alpha"])
def test_auth_failures_list_their_minutes(admin_client: Client, history: History, store_name) -> None:
    store = getattr(history, store_name) if store_name else None
    day = dashboard_get(store=store, window=r.WINDOWS["24h"], now=NOW)
    listed = _listed(admin_client, day.auth_failures.url)
    assert sum(listed.queryset.values_list("count", flat=True)) == day.auth_failures.value
    assert listed.result_count == (2 if store is None else 1)


def test_usage_readings_are_listed(admin_client: Client, history: History) -> None:
    day = dashboard_get(store=None, window=r.WINDOWS["24h"], now=NOW)
    assert day.salesforce_usage is not None
    assert _listed(admin_client, day.salesforce_usage.url).result_count == 2
    assert [_listed(admin_client, usage.url).result_count for usage in day.bigcommerce_usage] == [1]
