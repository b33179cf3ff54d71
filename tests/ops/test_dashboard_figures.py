"""Each dashboard figure against the value computed by hand from the known history (tests/factories/ops.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ops import rules as r
from ops.selectors import dashboard_get, dashboard_series
from ops.services import hourly_stats_rollup
from sync.models import WebhookEvent
from tests.factories.ops import CUSTOMER, NOW, ORDER, History, at, history_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> History:
    made = history_create()
    hourly_stats_rollup(since=NOW - timedelta(days=8), until=NOW)
    return made


def test_the_day_of_every_store(history: History) -> None:
    day = dashboard_get(store=None, window=r.WINDOWS["24h"], now=NOW)
    # Received 9 June 12:30 onwards: all but 13 (9 June 10:00), 17 (9 June 12:20) and 18 (1 June).
    assert day.received.value == 15
    assert (day.synced.value, day.failed.value, day.dead.value, day.ignored.value) == (7, 1, 2, 2)
    assert day.success_rate == pytest.approx(7 / 10)
    assert (day.backlog.value, day.backlog_oldest_age_seconds) == (3, 40 * 60)  # 12 waits since 11:50
    assert day.dead_now.value == 3  # 6, 14 and 18 (died long before the window)
    # Synced latencies 40, 80, 200, 900, 1500, 7000, 120000 ms: one per bucket 50, 100, 250, 1000, 2500, 10000,
    # 300000. p50: rank 3.5 lies in (500, 1000] holding the 4th → 500 + 500 * 0.5.
    assert day.latency_count == 7
    assert day.latency_p50_ms == pytest.approx(750)
    # p95: rank 6.65 in (60000, 300000] holding the 7th → 60000 + 240000 * 0.65; p99 likewise with 0.93.
    assert day.latency_p95_ms == pytest.approx(216_000)
    assert day.latency_p99_ms == pytest.approx(283_200)
    # Audit entries with a store: 3 + 2 + 1 + 0 + 1 Salesforce calls, 1 + 1 + 2 BigCommerce calls.
    assert (day.salesforce_calls.value, day.bigcommerce_calls.value) == (7, 4)
    assert day.salesforce_calls_per_hour == pytest.approx(7 / 24)
    assert day.auth_failures.value == 4 + 2
    assert day.salesforce_usage is not None
    assert (day.salesforce_usage.used, day.salesforce_usage.limit, day.salesforce_usage.share) == (
        45_000,
        100_000,
        0.45,
    )
    assert [(usage.store, usage.used, usage.limit) for usage in day.bigcommerce_usage] == [(history.alpha, 120, 450)]
    # 45 % of the daily limit, under the 90 % ceiling: the guard lets writes through.
    assert (day.budget_guard.paused, day.budget_guard.share) == (False, 0.45)


def test_success_rate_by_scope(history: History) -> None:
    day = dashboard_get(store=None, window=r.WINDOWS["24h"], now=NOW)
    rows = {row.scope: (row.received.value, row.synced.value, row.failed.value, row.dead.value) for row in day.scopes}
    assert rows == {ORDER: (11, 7, 1, 0), CUSTOMER: (4, 0, 0, 2)}
    rates = {row.scope: row.success_rate for row in day.scopes}
    assert rates == {ORDER: pytest.approx(7 / 8), CUSTOMER: 0.0}


def test_errors_by_code_with_their_top_messages(history: History) -> None:
    day = dashboard_get(store=None, window=r.WINDOWS["24h"], now=NOW)
    assert [(error.code, error.count.value, error.top_messages) for error in day.errors] == [
        ("SF_UNAVAILABLE", 3, [("Salesforce answered 503", 2), ("Salesforce timed out", 1)]),
        ("VALIDATION", 1, [("Required field missing: LastName", 1)]),
    ]


def test_one_store_over_a_day(history: History) -> None:
    day = dashboard_get(store=history.alpha, window=r.WINDOWS["24h"], now=NOW)
    assert day.received.value == 12
    assert (day.synced.value, day.failed.value, day.dead.value, day.ignored.value) == (6, 1, 1, 2)
    assert day.success_rate == pytest.approx(6 / 8)
    assert (day.backlog.value, day.backlog_oldest_age_seconds) == (2, 10 * 60)  # 7 and 8; 7 since 12:20
    assert day.dead_now.value == 1
    assert (day.salesforce_calls.value, day.bigcommerce_calls.value) == (6, 2)
    assert day.auth_failures.value == 4
    assert [(error.code, error.count.value) for error in day.errors] == [("SF_UNAVAILABLE", 3)]


def test_the_last_hour(history: History) -> None:
    hour = dashboard_get(store=None, window=r.WINDOWS["1h"], now=NOW)
    # Received from 11:30: 4, 5, 7, 8, 9, 10 (11:30 sharp), 11, 12, 14; finished from 11:30: 4, 11, 15 synced.
    assert hour.received.value == 9
    assert (hour.synced.value, hour.failed.value, hour.dead.value, hour.ignored.value) == (3, 1, 1, 2)
    # 80, 7000, 120000 ms: p50 rank 1.5 in (5000, 10000] → 7500.
    assert hour.latency_p50_ms == pytest.approx(7500)
    assert (hour.salesforce_calls.value, hour.bigcommerce_calls.value) == (3, 3)
    assert [(error.code, error.count.value) for error in hour.errors] == [("SF_UNAVAILABLE", 1), ("VALIDATION", 1)]
    assert hour.auth_failures.value == 4


def test_the_week(history: History) -> None:
    week = dashboard_get(store=None, window=r.WINDOWS["7d"], now=NOW)
    assert week.received.value == 17  # the day's 15, 13 and 17
    assert week.synced.value == 9
    assert week.auth_failures.value == 4 + 2 + 7
    assert [(error.code, error.count.value) for error in week.errors] == [("SF_UNAVAILABLE", 3), ("VALIDATION", 2)]


def test_a_window_reads_the_roll_ups_for_its_whole_hours(history: History) -> None:
    # An event changed after the roll-up ran is seen in the live current hour, not in a rolled-up one.
    WebhookEvent.objects.filter(pk__in=[history.events[3].pk, history.events[4].pk]).update(status="dead")
    day = dashboard_get(store=None, window=r.WINDOWS["24h"], now=NOW)
    assert (day.synced.value, day.dead.value) == (6, 3)  # 4 (12:10) is live; 3 (10:05) is rolled up
    hourly_stats_rollup(since=at(10, 10, 0), until=NOW)
    assert dashboard_get(store=None, window=r.WINDOWS["24h"], now=NOW).dead.value == 4


def test_hourly_series(history: History) -> None:
    series = dashboard_series(store=None, window=r.WINDOWS["24h"], now=NOW)
    assert len(series) == 25  # 9 June 12:00 (rolled up whole) to 10 June 12:00 (live so far)
    by_hour = {point.start: (point.received, point.synced, point.failed, point.dead) for point in series}
    assert by_hour[at(9, 12, 0)] == (2, 2, 0, 0)  # 16 and 17
    assert by_hour[at(10, 9, 0)] == (1, 0, 0, 1)
    assert by_hour[at(10, 11, 0)] == (5, 3, 0, 0)  # received 1, 2, 10, 12, 15; synced 1, 2, 15
    assert by_hour[at(10, 10, 0)] == (1, 1, 0, 0)  # 3
    assert by_hour[at(10, 12, 0)] == (7, 2, 1, 1)  # received 4, 5, 7, 8, 9, 11, 14; synced 4, 11; 5 failed; 14 died
    assert sum(point.received for point in series) == 16  # every event but 13 (9 June 10:00) and 18


def test_five_minute_series_of_the_last_hour(history: History) -> None:
    series = dashboard_series(store=None, window=r.WINDOWS["1h"], now=NOW)
    assert len(series) == 12
    assert series[0].start == at(10, 11, 30)
    counts = {point.start: (point.received, point.synced, point.failed, point.dead) for point in series}
    assert counts[at(10, 11, 30)] == (1, 1, 0, 0)  # 10 received 11:30, 15 finished 11:31
    assert counts[at(10, 12, 25)] == (2, 0, 0, 1)  # 8 and 14 received, 14 died 12:29
    assert sum(point.received for point in series) == 9
