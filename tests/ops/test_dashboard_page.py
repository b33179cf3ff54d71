"""The dashboard on the admin index: the figures as written, the store and window links, the charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from analytics.charts import text_width
from ops.charts import Line, line_chart_svg
from ops.models import Alert
from ops.services import hourly_stats_rollup
from tests.factories.ops import NOW, AlertFactory, History, history_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> History:
    made = history_create()
    hourly_stats_rollup(since=NOW - timedelta(days=8), until=NOW)
    return made


def _figures(html: str) -> dict[str, str]:
    return {
        name: re.sub(r"\s+", " ", text).strip()
        for name, text in re.findall(r'data-figure="([a-z0-9_]+)"[^>]*>([^<]*)<', html)
    }


def test_the_index_opens_with_the_dashboard(admin_client: Client, history: History) -> None:
    with time_machine.travel(NOW, tick=False):
        html = admin_client.get("/admin/").content.decode()
    assert html.index('id="ops-dashboard"') < html.index('id="content-main"')  # above the app list
    assert "all stores, last 24 hours" in html
    assert _figures(html) == {
        "received": "15",
        "synced": "7",
        "success_rate": "70.0 %",
        "failed": "1",
        "dead": "2",
        "ignored": "2",
        "backlog": "3",
        "backlog_age": "40.0 min",
        "dead_now": "3",
        "latency_p50": "750 ms",
        "latency_p95": "3.6 min",
        "latency_p99": "4.7 min",
        "salesforce_calls": "7",
        "salesforce_calls_per_hour": "0.3",
        "salesforce_share": "45.0 %",
        "bigcommerce_calls": "4",
        "bigcommerce_share": "26.7 %",
        "auth_failures": "6",
        "budget_guard": "Budget guard: writing",
        "health": "degraded",  # three dead events
        "open_alerts": "0 open alerts",
        "writeback_requests_per_day": "off",  # no write-back flag on: the poll asks nothing
    }
    assert "ops/dashboard.css" in html
    assert html.count('class="ops-chart"') == 2
    assert "SF_UNAVAILABLE" in html and "Salesforce answered 503" in html


def test_store_and_window_come_from_the_query(admin_client: Client, history: History) -> None:
    with time_machine.travel(NOW, tick=False):
        html = admin_client.get(f"/admin/?store={history.alpha.pk}&window=1h").content.decode()
    assert "Alpha, last hour" in html
    figures = _figures(html)
    # Alpha from 11:30: received 4, 5, 7, 8, 9, 10; synced 4 and 15; failed 5.
    assert (figures["received"], figures["synced"], figures["failed"], figures["dead"]) == ("6", "2", "1", "0")
    assert f'href="?store={history.alpha.pk}&amp;window=7d"' in html
    assert f'href="?store={history.alpha.pk}&amp;window=1h" class="ops-current"' in html
    assert 'href="?window=1h">All stores</a>' in html
    assert f"store__id__exact={history.alpha.pk}" in html


def test_a_staff_user_without_the_inbox_permission_sees_no_figures(client: Client, history: History) -> None:
    user = User.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(user)
    html = client.get("/admin/").content.decode()
    assert 'id="ops-dashboard"' not in html


def test_chart_labels_stay_inside_the_chart() -> None:
    labels = [f"Wed {hour:02d}:00" for hour in range(24)] * 7
    svg = line_chart_svg(labels, [Line("received", "#417690", [12_345] * len(labels))], title="Throughput")
    root = ET.fromstring(str(svg))
    width = float(root.get("width"))
    namespace = "{http://www.w3.org/2000/svg}"
    texts = root.findall(f"{namespace}text")
    assert texts
    for text in texts:
        x, content = float(text.get("x")), text.text or ""
        extent = text_width(content)
        start = {"end": x - extent, "middle": x - extent / 2}.get(text.get("text-anchor", ""), x)
        assert start >= 0 and start + extent <= width, content
    assert "20,000" in svg  # the y axis rounds 12,345 up to a round top


def test_the_state_line_gives_the_health_reasons_and_links_the_open_alerts(
    admin_client: Client, history: History
) -> None:
    AlertFactory(kind=Alert.Kind.DEAD_EVENTS, key="acme", summary="3 dead events", last_seen_at=NOW)
    AlertFactory(kind=Alert.Kind.BACKLOG_AGE, key="acme", summary="old backlog", last_seen_at=NOW)
    AlertFactory(kind=Alert.Kind.FAILURE_RATE, key="acme", state=Alert.State.RESOLVED, summary="", last_seen_at=NOW)
    with time_machine.travel(NOW, tick=False):
        html = admin_client.get("/admin/").content.decode()
    assert 'class="ops-state ops-state-degraded"' in html
    assert re.findall(r'data-reason="([a-z_]+)"', html) == ["events_dead", "events_retrying", "backlog_old"]
    link = re.search(r'<a data-figure="open_alerts" href="([^"]+)">2 open alerts</a>', html)
    assert link is not None
    listed = admin_client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert listed.count('class="action-select"') == 2


def test_the_write_back_poll_shows_its_daily_cost(admin_client: Client) -> None:
    from orders.models import WritebackCheckpoint
    from sync.models import FeatureFlag, Threshold

    FeatureFlag.objects.filter(key="writeback_order_status").update(enabled=True)
    threshold = Threshold.objects.get(key="writeback_poll_seconds")
    threshold.value = 120
    threshold.save()  # saving bumps the configuration version (the flag's update() did not: this reloads both)
    WritebackCheckpoint.objects.create(org_id="00D000000000001AAA", polled_at=NOW, polls=30, requests=31, changes=4)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        html = admin_client.get("/admin/").content.decode()
    assert _figures(html)["writeback_requests_per_day"] == "720"  # 86,400 s / 120 s
    assert "one query every 2.0 min" in re.sub(r"\s+", " ", html)
    assert "4 changes read in 31 requests" in html
