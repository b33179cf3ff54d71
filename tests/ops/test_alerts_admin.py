"""Alerts in the admin (read-only, a resolve action), the every-minute schedule, the e-mail recipients setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django_q.models import Schedule

from ops.models import Alert
from ops.tasks import alerts_evaluate_task
from sync.models import SyncSetting
from tests.factories.sync import StoreFactory, WebhookEventFactory

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def alert(key: str, **fields: object) -> Alert:
    return Alert.objects.create(
        kind=Alert.Kind.BACKLOG_AGE, key=key, summary=f"{key}: waiting", opened_at=NOW, last_seen_at=NOW, **fields
    )


def test_the_alert_list_shows_the_columns_and_offers_no_add_or_change(admin_client):
    alert("acme", notifications=2, occurrences=7, delivery_error="chat (hooks.example.com): HTTP 500")

    page = admin_client.get("/admin/ops/alert/").content.decode()

    for text in ("acme: waiting", "backlog age", "chat (hooks.example.com): HTTP 500", "Resolve the selected alerts"):
        assert text in page
    assert "/admin/ops/alert/add/" not in page
    assert admin_client.get("/admin/ops/alert/add/").status_code == 403
    detail = admin_client.get(f"/admin/ops/alert/{Alert.objects.get().pk}/change/").content.decode()
    assert 'type="submit" value="Save"' not in detail


def test_resolving_by_hand_closes_open_alerts_only(admin_client):
    open_one, other = alert("acme"), alert("bolt")
    done = alert("cart", state=Alert.State.RESOLVED, resolved_at=NOW)

    response = admin_client.post(
        "/admin/ops/alert/",
        {"action": "resolve_alerts", "_selected_action": [open_one.pk, done.pk]},
        follow=True,
    )

    assert "1 alert(s) resolved." in response.content.decode()
    states = dict(Alert.objects.values_list("key", "state"))
    assert states == {"acme": "resolved", "bolt": "open", "cart": "resolved"}
    done.refresh_from_db()
    assert done.resolved_at == NOW  # untouched
    assert other.state == "open"


def test_the_evaluation_is_scheduled_every_minute_and_its_task_runs_it():
    schedule = Schedule.objects.get(name="b2s: alerts")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "ops.tasks.alerts_evaluate_task",
        Schedule.MINUTES,
        1,
        -1,
    )
    WebhookEventFactory(
        store=StoreFactory(store_hash="acme"), status="pending", received_at=datetime.now(UTC) - timedelta(hours=1)
    )

    result = alerts_evaluate_task()

    assert (result["conditions"], result["opened"], result["notified"]) == (1, 1, 1)
    assert Alert.objects.get().key == "acme"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("ops@example.com", True),
        (" ops@example.com , a.b+alerts@example.org ", True),
        ("ops@", False),
        ("ops@example.com; x@example.com", False),
    ],
)
def test_the_recipients_setting_takes_comma_separated_addresses(value, valid):
    setting = SyncSetting.objects.get(key="alert_email_to")
    setting.value = value
    if valid:
        setting.full_clean()
    else:
        with pytest.raises(ValidationError, match="Not e-mail addresses"):
            setting.full_clean()


def test_the_admin_saves_recipients_checked_and_may_empty_them(admin_client):
    setting = SyncSetting.objects.get(key="alert_email_to")
    url = f"/admin/sync/syncsetting/{setting.pk}/change/"

    refused = admin_client.post(url, {"value": "ops@example.com, nobody"})
    assert "Not e-mail addresses: nobody." in refused.content.decode()
    assert admin_client.post(url, {"value": "ops@example.com"}).status_code == 302
    setting.refresh_from_db()
    assert setting.value == "ops@example.com"
    assert admin_client.post(url, {"value": ""}).status_code == 302
    setting.refresh_from_db()
    assert setting.value == ""
