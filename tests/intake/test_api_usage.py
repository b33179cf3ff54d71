"""API usage readings: the clients' headers kept per process, stored at most once a minute (and at a crossing).

Against the stand-ins over HTTPS: Salesforce's ``Sforce-Limit-Info`` (the org's daily requests) and
BigCommerce's ``X-Rate-Limit-*`` (the store's requests in its 30 s window, 150 a window by default).
"""

from __future__ import annotations

import pytest
from django.db import transaction

from sync import usage
from sync.bigcommerce import bigcommerce_client
from sync.models import ApiUsageSample
from sync.salesforce import salesforce_client
from sync.usage import api_usage_latest

pytestmark = pytest.mark.django_db


def stored(service: str) -> list[tuple[int, int, int, int | None]]:
    rows = ApiUsageSample.objects.filter(service=service).order_by("pk")
    return list(rows.values_list("used", "limit", "window_seconds", "store_id"))


def test_salesforce_readings_are_kept_and_stored_once_a_minute(salesforce_wired, django_capture_on_commit_callbacks):
    client = salesforce_client()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            client.limits()
    # Three calls: three readings in memory, the first stored; the next two within the minute are not.
    latest = api_usage_latest(service="salesforce")
    assert (latest.used, latest.limit, latest.window_seconds, latest.store_id) == (3, 15_000, 86_400, None)
    assert stored("salesforce") == [(1, 15_000, 86_400, None)]


def test_a_minute_later_the_next_reading_is_stored(salesforce_wired, django_capture_on_commit_callbacks, monkeypatch):
    client = salesforce_client()
    with django_capture_on_commit_callbacks(execute=True):
        client.limits()
        monkeypatch.setattr(usage, "SAMPLE_INTERVAL_SECONDS", 0.0)  # as if a minute had passed
        client.limits()
    assert [row[0] for row in stored("salesforce")] == [1, 2]


def test_a_reading_inside_a_rolled_back_transaction_is_not_stored(salesforce_wired, django_capture_on_commit_callbacks):
    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic():
        salesforce_client().limits()
        raise RolledBack
    assert stored("salesforce") == []
    assert api_usage_latest(service="salesforce").used == 1  # the process still knows it


def test_bigcommerce_readings_per_store(sandbox_store_make, django_capture_on_commit_callbacks):
    store = sandbox_store_make(webhook_secret="secret-0123456789")
    client = bigcommerce_client(store)
    with django_capture_on_commit_callbacks(execute=True):
        client.orders_count()
        client.orders_count()
    latest = api_usage_latest(service="bigcommerce", store_id=store.pk)
    # 150 a window, 148 left after two requests; the 30,000 ms window in seconds.
    assert (latest.used, latest.limit, latest.window_seconds) == (2, 150, 30)
    assert stored("bigcommerce") == [(1, 150, 30, store.pk)]
