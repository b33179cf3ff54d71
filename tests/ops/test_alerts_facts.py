"""What the alert evaluation counts from a known history: events finished in the window, the waiting backlog,
refused authentications, the latest Salesforce API reading, and the conditions they raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ops.alert_rules import StoreBacklog, StoreOutcomes, usage_percent
from ops.alerts import alerts_evaluate
from ops.models import Alert
from ops.selectors import alert_facts, alert_thresholds
from sync.config import config_version_bump
from sync.models import ApiUsageSample, IntakeRejection, SyncSetting, WebhookEvent
from sync.usage import api_budget_status
from tests.factories.sync import StoreFactory, WebhookEventFactory

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
Status = WebhookEvent.Status
pytestmark = pytest.mark.django_db


def finished(store, status: str, *, minutes_ago: float, count: int = 1) -> None:
    for _ in range(count):
        WebhookEventFactory(store=store, status=status, finished_at=NOW - timedelta(minutes=minutes_ago))


def test_outcomes_count_processed_events_finished_in_the_window_per_store():
    acme, bolt = StoreFactory(store_hash="acme", name="Acme"), StoreFactory(store_hash="bolt", name="Bolt")
    finished(acme, Status.DONE, minutes_ago=1, count=6)
    finished(acme, Status.SKIPPED, minutes_ago=14, count=1)
    finished(acme, Status.FAILED, minutes_ago=3, count=2)
    finished(acme, Status.DEAD, minutes_ago=15, count=1)  # at the window's start: inside
    finished(acme, Status.IGNORED, minutes_ago=2, count=5)  # never processed: not in the rate
    finished(acme, Status.DEAD, minutes_ago=16, count=4)  # before the window
    finished(bolt, Status.DONE, minutes_ago=5, count=3)
    WebhookEventFactory(store=bolt, status=Status.PROCESSING)  # running: not finished

    facts = alert_facts(now=NOW, thresholds=alert_thresholds())

    assert facts.outcomes == [
        StoreOutcomes("acme", finished=10, failed=3, dead=1),
        StoreOutcomes("bolt", finished=3, failed=0, dead=0),
    ]
    assert facts.store_names == {"acme": "Acme", "bolt": "Bolt"}


def test_the_backlog_reads_pending_events_older_than_the_threshold():
    acme = StoreFactory(store_hash="acme")
    for minutes in (40, 16, 14):
        WebhookEventFactory(store=acme, status=Status.PENDING, received_at=NOW - timedelta(minutes=minutes))
    # A failed event waiting for its retry is the retry schedule's business, not a backlog.
    WebhookEventFactory(store=acme, status=Status.FAILED, received_at=NOW - timedelta(hours=3))

    facts = alert_facts(now=NOW, thresholds=alert_thresholds())

    assert facts.backlogs == [StoreBacklog("acme", oldest_age_seconds=2400.0, waiting=2)]


def test_authentication_failures_sum_the_minutes_of_the_window():
    StoreFactory(store_hash="acme")
    for minutes, count in ((1, 15), (14, 6), (16, 100)):
        IntakeRejection.objects.create(
            store_hash="acme", reason="authentication", minute=NOW - timedelta(minutes=minutes), count=count
        )
    IntakeRejection.objects.create(store_hash="acme", reason="bad_request", minute=NOW, count=50)
    IntakeRejection.objects.create(store_hash="", reason="authentication", minute=NOW, count=7)

    facts = alert_facts(now=NOW, thresholds=alert_thresholds())

    assert facts.auth_failures == {"acme": 21, "": 7}
    alerts_evaluate(now=NOW)
    alert = Alert.objects.get()
    assert (alert.kind, alert.key) == (Alert.Kind.AUTH_FAILURES, "acme")
    assert "21 webhook deliveries failed authentication in the last 15 min (alert above 20)" in alert.summary


def test_a_history_over_the_failure_rate_opens_that_alert_and_the_dead_one():
    acme = StoreFactory(store_hash="acme", name="Acme")
    finished(acme, Status.DONE, minutes_ago=2, count=7)
    finished(acme, Status.FAILED, minutes_ago=2, count=2)
    finished(acme, Status.DEAD, minutes_ago=2, count=1)

    alerts_evaluate(now=NOW)

    assert dict(Alert.objects.values_list("kind", "summary")) == {
        "dead_events": "Acme (acme): 1 event dead-lettered in the last 15 min (no retries left; replay them from "
        "the audit log).",
        "failure_rate": "Acme (acme): 3 of 10 events failed in the last 15 min (30%, alert above 20%).",
    }


def test_the_budget_status_reads_the_latest_salesforce_sample_and_the_guard_setting():
    ApiUsageSample.objects.create(
        service="salesforce", used=95_000, limit=100_000, recorded_at=NOW - timedelta(hours=1)
    )
    ApiUsageSample.objects.create(service="salesforce", used=70_000, limit=100_000, recorded_at=NOW)
    ApiUsageSample.objects.create(service="bigcommerce", used=140, limit=150, recorded_at=NOW)

    status = api_budget_status()
    assert (status.used, status.limit, usage_percent(status), status.paused) == (70_000, 100_000, Decimal(70), False)

    SyncSetting.objects.filter(key="api_budget_guard").update(value="pause")
    config_version_bump()
    assert api_budget_status().paused is True
