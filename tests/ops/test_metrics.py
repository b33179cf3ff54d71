"""/metrics: who may read it, and the figures it reports for the known history (parsed as Prometheus does)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from ops.services import hourly_stats_rollup
from sync.models import SyncSetting
from tests.factories.ops import CUSTOMER, NOW, ORDER, history_create

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests"


@pytest.fixture
def token(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def _samples(client: Client, **headers: str) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_without_credentials_the_answer_is_401(client: Client, token: str) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"b2s_" not in response.content


@pytest.mark.parametrize("presented", ["wrong-token", TOKEN + "x", TOKEN[:-1]])
def test_a_wrong_token_is_refused(client: Client, token: str, presented: str) -> None:
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {presented}").status_code == 403


def test_no_token_configured_accepts_none(client: Client, settings) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 403


def test_a_session_must_be_staff(client: Client, token: str) -> None:
    client.force_login(User.objects.create_user("someone", password="x"))
    assert client.get("/metrics").status_code == 403
    client.force_login(User.objects.create_user("operator", password="x", is_staff=True))
    assert client.get("/metrics").status_code == 200


def test_the_figures_of_the_known_history(client: Client, token: str) -> None:
    history_create()
    hourly_stats_rollup(since=NOW - timedelta(days=10), until=NOW - timedelta(hours=1))  # the current hour: live
    with time_machine.travel(NOW, tick=False):
        samples = _samples(client, HTTP_AUTHORIZATION=f"Bearer {token}")

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    alpha_orders = {"store": "alpha", "scope": ORDER}
    # Alpha's orders: received 1-5, 9, 10, 15, 16, 17 (10); synced 1-4, 15, 16, 17 (7); 5 failed; 9, 10 ignored.
    assert value("b2s_webhook_events_received_total", **alpha_orders) == 10
    assert value("b2s_webhook_events_synced_total", **alpha_orders) == 7
    assert value("b2s_webhook_events_failed_total", **alpha_orders) == 1
    assert value("b2s_webhook_events_ignored_total", **alpha_orders) == 2
    assert value("b2s_webhook_events_dead_total", store="beta", scope=CUSTOMER) == 2  # 14 and 18
    # Latencies 40, 200, 1500, 80, 120000, 900, 100 ms.
    assert value("b2s_sync_latency_seconds_bucket", le="0.05", **alpha_orders) == 1
    assert value("b2s_sync_latency_seconds_bucket", le="0.1", **alpha_orders) == 3
    assert value("b2s_sync_latency_seconds_bucket", le="1.0", **alpha_orders) == 5
    assert value("b2s_sync_latency_seconds_bucket", le="60.0", **alpha_orders) == 6
    assert value("b2s_sync_latency_seconds_bucket", le="+Inf", **alpha_orders) == 7
    assert value("b2s_sync_latency_seconds_count", **alpha_orders) == 7
    assert value("b2s_sync_latency_seconds_sum", **alpha_orders) == pytest.approx(122.82)
    assert value("b2s_salesforce_api_calls_total", store="alpha") == 3 + 2 + 1
    assert value("b2s_salesforce_api_calls_total", store="beta") == 1 + 5
    assert value("b2s_bigcommerce_api_calls_total", store="beta") == 2
    assert value("b2s_backlog_events", store="alpha") == 2
    assert value("b2s_backlog_events", store="beta") == 1
    assert value("b2s_backlog_oldest_age_seconds", store="alpha") == 600
    assert value("b2s_backlog_oldest_age_seconds", store="beta") == 2400
    assert value("b2s_dead_events", store="alpha") == 1
    assert value("b2s_dead_events", store="beta") == 2
    assert value("b2s_webhook_auth_failures_total", store="alpha") == 11
    assert value("b2s_webhook_auth_failures_total", store="") == 2
    assert (value("b2s_salesforce_api_daily_used"), value("b2s_salesforce_api_daily_limit")) == (45_000, 100_000)
    assert value("b2s_bigcommerce_api_quota_used", store="alpha") == 120
    assert value("b2s_bigcommerce_api_quota_limit", store="alpha") == 450
    assert value("b2s_api_budget_paused") == 0  # 45 % of the limit, under the 90 % ceiling


def test_the_budget_guard_paused_by_hand(client: Client, token: str) -> None:
    SyncSetting.objects.filter(key="api_budget_guard").update(value="pause")
    history_create()
    samples = _samples(client, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert samples[("b2s_api_budget_paused", ())] == 1


def test_a_staff_session_reads_the_same(admin_client: Client) -> None:
    history_create()
    samples = _samples(admin_client)
    assert ("b2s_backlog_events", (("store", "alpha"),)) in samples
