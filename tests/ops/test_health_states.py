"""``/health`` tells the truth: ok only when all is well, degraded with reasons, 503 only without a database.

Events are built by hand (factories) in each state; Salesforce is the stand-in (reachable) or a port on
which nothing listens (unreachable). Everyone sees the status; the reasons only staff or the token holder.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from sync.config import config
from sync.health import (
    API_BUDGET_GUARD,
    BACKLOG_OLD,
    EVENTS_DEAD,
    EVENTS_FAILED,
    EVENTS_RETRYING,
    SALESFORCE_UNREACHABLE,
    HealthReason,
    health_reasons,
)
from sync.models import SyncSetting, Threshold
from tests.factories.sync import WebhookEventFactory

pytestmark = pytest.mark.django_db

TOKEN = "health-token-for-tests-0123456789"


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.HEALTH_TOKEN = TOKEN
    cache.clear()  # the cached Salesforce login
    yield
    cache.clear()


@pytest.fixture
def salesforce_up(salesforce_wired):
    """b2s's Salesforce login pointed at the stand-in: reachable."""
    return salesforce_wired


@pytest.fixture
def salesforce_down(settings):
    """A login URL on which nothing listens: a real, quick refusal."""
    settings.SALESFORCE = {**settings.SALESFORCE, "LOGIN_URL": "https://127.0.0.1:9", "CA_BUNDLE": ""}


def health(client, *, token: bool = True):
    headers = {"HTTP_X_HEALTH_TOKEN": TOKEN} if token else {}
    response = client.get("/health", **headers)
    return response.status_code, response.json()


def codes(body: dict) -> list[str]:
    return [reason["code"] for reason in body["reasons"]]


def test_all_well_is_ok_for_everyone(client, salesforce_up):
    WebhookEventFactory(status="done")
    WebhookEventFactory(status="pending")  # just received: a queue, not a backlog
    status, body = health(client)
    assert (status, body["status"], body["reasons"], body["salesforceConnected"]) == (200, "ok", [], True)
    assert health(client, token=False) == (200, {"status": "ok"})


def test_a_dead_event_degrades_and_only_the_token_sees_why(client, salesforce_up):
    WebhookEventFactory(status="dead", attempts=8)
    status, body = health(client)
    assert (status, body["status"]) == (200, "degraded")
    assert body["reasons"] == [{"code": EVENTS_DEAD, "message": "1 event dead (retries exhausted); replay them."}]
    assert health(client, token=False) == (200, {"status": "degraded"})


def test_failing_events_awaiting_a_retry_and_failed_for_good(client, salesforce_up):
    due = timezone.now() + timedelta(minutes=5)
    WebhookEventFactory.create_batch(2, status="failed", attempts=1, next_attempt_at=due)
    WebhookEventFactory(status="failed", attempts=1, next_attempt_at=None)
    _, body = health(client)
    assert body["status"] == "degraded"
    assert body["reasons"] == [
        {"code": EVENTS_FAILED, "message": "1 event failed for good; fix the cause, then replay."},
        {"code": EVENTS_RETRYING, "message": "2 events failed and awaiting a retry."},
    ]


def test_a_backlog_older_than_the_threshold(client, salesforce_up):
    now = timezone.now()
    WebhookEventFactory(status="pending", received_at=now - timedelta(seconds=599))
    assert health(client)[1]["status"] == "ok"  # 599 s: within the 600 s threshold
    WebhookEventFactory(status="pending", received_at=now - timedelta(seconds=700))
    assert codes(health(client)[1]) == [BACKLOG_OLD]
    assert health_reasons(now=now) == [
        HealthReason(BACKLOG_OLD, "The oldest waiting event has waited 700 s (more than 600 s).")
    ]
    Threshold.objects.filter(key="health_backlog_age_seconds").update(value=800)
    config.invalidate()  # an update() sends no signal
    assert health_reasons(now=now) == []


def test_salesforce_unreachable(client, salesforce_down):
    # Anonymous callers never make b2s log in: with nothing cached, their status leaves Salesforce out.
    assert health(client, token=False) == (200, {"status": "ok"})
    status, body = health(client)
    assert (status, body["status"], codes(body), body["salesforceConnected"]) == (
        200,
        "degraded",
        [SALESFORCE_UNREACHABLE],
        False,
    )
    # Once the token holder's check is cached, everyone's status includes it.
    assert health(client, token=False) == (200, {"status": "degraded"})


def test_the_budget_guard_active(client, salesforce_up):
    setting = SyncSetting.objects.get(key="api_budget_guard")
    setting.value = "pause"
    setting.save()
    _, body = health(client)
    assert body["reasons"] == [
        {
            "code": API_BUDGET_GUARD,
            "message": "Salesforce writes paused by an admin: api_budget_guard is set to 'pause'.",
        }
    ]
    assert health(client, token=False) == (200, {"status": "degraded"})


def test_every_reason_at_once(client, salesforce_down):
    WebhookEventFactory(status="dead")
    WebhookEventFactory(status="failed", next_attempt_at=None)
    WebhookEventFactory(status="failed", next_attempt_at=timezone.now())
    WebhookEventFactory(status="pending", received_at=timezone.now() - timedelta(hours=1))
    SyncSetting.objects.filter(key="api_budget_guard").update(value="pause")
    config.invalidate()  # an update() sends no signal
    status, body = health(client)
    assert (status, body["status"]) == (200, "degraded")
    assert codes(body) == [
        EVENTS_DEAD,
        EVENTS_FAILED,
        EVENTS_RETRYING,
        BACKLOG_OLD,
        SALESFORCE_UNREACHABLE,
        API_BUDGET_GUARD,
    ]
