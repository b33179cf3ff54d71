"""The hourly roll-up: each row's counts, histogram and API calls by hand, idempotent recomputation, the
schedule that runs it, and the histogram rules it relies on."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django_q.models import Schedule

from ops import rules as r
from ops.models import HourlyStat
from ops.services import hourly_stats_rollup
from ops.tasks import hourly_stats_rollup_task
from sync.models import WebhookEvent
from tests.factories.ops import CUSTOMER, NOW, ORDER, at, history_create


def _row(store_hash: str, hour, scope: str) -> HourlyStat:
    return HourlyStat.objects.get(store__store_hash=store_hash, hour=hour, scope=scope)


@pytest.mark.django_db
def test_each_row_counts_its_hour() -> None:
    history_create()
    written = hourly_stats_rollup(since=NOW - timedelta(days=10), until=NOW)
    assert written == HourlyStat.objects.count()
    eleven = _row("alpha", at(10, 11, 0), ORDER)
    # Received 11:10 (1), 11:20 (2), 11:29 (15), 11:30 (10, skipped); finished 1, 2, 15 (11:31).
    assert (eleven.received, eleven.synced, eleven.failed, eleven.dead, eleven.ignored) == (4, 3, 0, 0, 1)
    assert eleven.latency_buckets == {"50ms": 1, "250ms": 1, "300000ms": 1}
    assert eleven.latency_total_ms == 40 + 200 + 120_000
    assert (eleven.salesforce_calls, eleven.bigcommerce_calls) == (3, 1)  # event 1's audit entry
    noon = _row("alpha", at(10, 12, 0), ORDER)
    assert (noon.received, noon.synced, noon.failed, noon.dead, noon.ignored) == (3, 1, 1, 0, 1)
    assert noon.latency_buckets == {"100ms": 1}
    assert (noon.salesforce_calls, noon.bigcommerce_calls) == (2, 1)
    customers = _row("beta", at(10, 12, 0), CUSTOMER)
    assert (customers.received, customers.dead, customers.salesforce_calls, customers.bigcommerce_calls) == (1, 1, 1, 2)
    # The audit entry without a store (10 Salesforce calls at 11:00) is in no row.
    assert sum(HourlyStat.objects.values_list("salesforce_calls", flat=True)) == 3 + 2 + 1 + 0 + 1 + 5


@pytest.mark.django_db
def test_recomputing_is_idempotent_and_follows_the_events() -> None:
    history = history_create()
    hourly_stats_rollup(since=at(10, 11, 0), until=NOW)
    before = list(HourlyStat.objects.order_by("pk").values("pk", "received", "synced", "latency_buckets"))
    hourly_stats_rollup(since=at(10, 11, 0), until=NOW)
    assert list(HourlyStat.objects.order_by("pk").values("pk", "received", "synced", "latency_buckets")) == before
    # The failed event 5 is retried and synced 12:20:00.5; event 12 (beta's only one of 11:00) is deleted.
    WebhookEvent.objects.filter(pk=history.events[5].pk).update(
        status="done", finished_at=at(10, 12, 20, 0.5), next_attempt_at=None
    )
    WebhookEvent.objects.filter(pk=history.events[12].pk).delete()
    hourly_stats_rollup(since=at(10, 12, 0), until=NOW)
    noon = _row("alpha", at(10, 12, 0), ORDER)
    assert (noon.synced, noon.failed) == (2, 0)
    assert noon.latency_buckets == {"100ms": 1, "inf": 1}  # 5 minutes and 0.5 s
    assert HourlyStat.objects.filter(hour=at(10, 11, 0), store__store_hash="beta").exists()  # hour not recomputed
    hourly_stats_rollup(since=at(10, 11, 0), until=at(10, 11, 30))
    assert not HourlyStat.objects.filter(hour=at(10, 11, 0), store__store_hash="beta").exists()


@pytest.mark.django_db
def test_the_task_recomputes_the_current_and_the_previous_hour() -> None:
    history_create()
    with time_machine.travel(NOW, tick=False):
        hourly_stats_rollup_task()
    assert set(HourlyStat.objects.values_list("hour", flat=True)) == {at(10, 11, 0), at(10, 12, 0)}


@pytest.mark.django_db
def test_the_roll_up_is_scheduled_every_minute() -> None:
    schedule = Schedule.objects.get(name="b2s: hourly statistics roll-up")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "ops.tasks.hourly_stats_rollup_task",
        Schedule.MINUTES,
        1,
        -1,
    )


def test_latency_buckets_and_percentiles() -> None:
    assert [r.latency_key(ms) for ms in (0, 50, 50.1, 999, 300_000, 300_001)] == [
        "50ms",
        "50ms",
        "100ms",
        "1000ms",
        "300000ms",
        "inf",
    ]
    # 10 events in (100, 250]: p50 is halfway through the bucket, p90 nine tenths of the way.
    assert r.histogram_percentile({"250ms": 10}, 0.5) == pytest.approx(175)
    assert r.histogram_percentile({"250ms": 10}, 0.9) == pytest.approx(235)
    # The first bucket starts at 0; the open last bucket answers its lower bound.
    assert r.histogram_percentile({"50ms": 4}, 0.25) == pytest.approx(12.5)
    assert r.histogram_percentile({"50ms": 1, "inf": 1}, 0.99) == 300_000
    assert r.histogram_percentile({}, 0.5) is None
    assert r.histogram_cumulative({"50ms": 1, "1000ms": 2, "inf": 1})[:5] == [
        (0.05, 1),
        (0.1, 1),
        (0.25, 1),
        (0.5, 1),
        (1.0, 3),
    ]
    assert r.histogram_cumulative({"50ms": 1, "1000ms": 2, "inf": 1})[-1] == (float("inf"), 4)


def test_figures_are_written_consistently() -> None:
    assert [r.number_format(value) for value in (0, 1234567, None)] == ["0", "1,234,567", "—"]
    assert [r.percent_format(share) for share in (0.875, 1, 0.00049, None)] == ["87.5 %", "100.0 %", "0.0 %", "—"]
    assert [r.duration_format(ms) for ms in (40, 999.6, 1500, 216_000, 5_400_000, None)] == [
        "40 ms",
        "1.0 s",
        "1.5 s",
        "3.6 min",
        "1.5 h",
        "—",
    ]
