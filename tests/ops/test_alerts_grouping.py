"""Alert grouping: one digest per evaluation and channel, repeats at most every alert_repeat_minutes, one
all-clear; e-mail through Django's mail (locmem outbox) and the chat webhook on a real local HTTP server."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from ops.alert_rules import API_BUDGET_KEY, API_PAUSED_KEY
from ops.alerts import alerts_evaluate
from ops.models import Alert
from sync.config import config_version_bump
from sync.models import ApiUsageSample, SyncSetting, WebhookEvent
from sync.usage import api_budget_status_forget
from tests.factories.sync import StoreFactory, WebhookEventFactory

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
Kind, State, Status = Alert.Kind, Alert.State, WebhookEvent.Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def recipients() -> list[str]:
    addresses = ["ops@example.com", "oncall@example.com"]
    SyncSetting.objects.filter(key="alert_email_to").update(value=" ops@example.com,oncall@example.com ")
    config_version_bump()
    return addresses


@pytest.fixture
def chat(bigcommerce_webhook_receiver, settings):
    """The chat's incoming webhook: a real HTTP server on 127.0.0.1 recording every POST."""
    settings.ALERT_WEBHOOK_URL = bigcommerce_webhook_receiver.url
    return bigcommerce_webhook_receiver


def waiting_event(store, *, since: timedelta = timedelta(minutes=20)) -> WebhookEvent:
    """An event waiting since ``since`` before NOW: over the 15-minute backlog threshold, a lasting condition."""
    return WebhookEventFactory(store=store, status=Status.PENDING, received_at=NOW - since)


def test_a_condition_sends_one_message_per_channel(mailoutbox, chat, recipients):
    store = StoreFactory(store_hash="acme", name="Acme Outdoor")
    waiting_event(store)

    evaluation = alerts_evaluate(now=NOW)

    assert (evaluation.conditions, evaluation.opened, evaluation.notified) == (1, 1, 1)
    assert evaluation.channels == ("email", "chat")
    (message,) = mailoutbox
    assert message.subject == "b2s alerts: 1 new"
    assert message.to == recipients
    assert message.body == (
        "b2s alerts: 1 new (2026-05-04 12:00 UTC).\n\nNew:\n"
        "- backlog age: Acme Outdoor (acme): the oldest waiting event has waited 20 min (alert over 15 min); "
        "1 event waiting longer than that."
    )
    (callback,) = chat.wait_for(1)
    assert callback.headers["Content-Type"] == "application/json"
    assert callback.json() == {"text": message.body}
    alert = Alert.objects.get()
    assert (alert.kind, alert.key, alert.state) == (Kind.BACKLOG_AGE, "acme", State.OPEN)
    assert (alert.notifications, alert.occurrences, alert.last_notified_at) == (1, 1, NOW)
    assert alert.delivery_error == ""


def test_within_the_repeat_interval_occurrences_are_counted_not_sent_then_it_is_sent_again(mailoutbox, chat):
    waiting_event(StoreFactory(store_hash="acme", name="Acme"))
    alerts_evaluate(now=NOW)

    for minutes in (1, 10, 59):
        evaluation = alerts_evaluate(now=NOW + timedelta(minutes=minutes))
        assert (evaluation.conditions, evaluation.notified) == (1, 0)
    assert len(mailoutbox) == 1
    alert = Alert.objects.get()
    assert (alert.occurrences, alert.notifications, alert.last_seen_at) == (4, 1, NOW + timedelta(minutes=59))
    assert "waited 79 min" in alert.summary  # the summary follows the numbers

    evaluation = alerts_evaluate(now=NOW + timedelta(minutes=60))  # alert_repeat_minutes = 60

    assert evaluation.notified == 1
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "b2s alerts: 1 still open"
    assert "(since 2026-05-04 12:00 UTC, seen 5 times)" in mailoutbox[1].body
    assert len(chat.wait_for(2)) == 2
    alert.refresh_from_db()
    assert (alert.occurrences, alert.notifications, alert.last_notified_at) == (5, 2, NOW + timedelta(minutes=60))


def test_fifty_stores_failing_at_once_send_one_digest(mailoutbox, chat):
    stores = [StoreFactory(store_hash=f"shop{n:02}", name=f"Shop {n}") for n in range(50)]
    for store in stores:
        WebhookEventFactory(store=store, status=Status.DEAD, finished_at=NOW - timedelta(minutes=2))

    evaluation = alerts_evaluate(now=NOW)

    assert (evaluation.conditions, evaluation.opened, evaluation.notified) == (50, 50, 50)
    (message,) = mailoutbox
    assert message.subject == "b2s alerts: 50 new"
    lines = [line for line in message.body.splitlines() if line.startswith("- dead events: ")]
    assert len(lines) == 50
    assert lines[0].startswith("- dead events: Shop 0 (shop00): 1 event dead-lettered in the last 15 min")
    (callback,) = chat.wait_for(1)
    text = callback.json()["text"]
    # The chat message lists the first 25 and says how many more the admin shows.
    assert text.count("\n- dead events: ") == 25
    assert text.endswith("... and 25 more: see Operations > Alerts in the admin.")
    assert Alert.objects.filter(state=State.OPEN, notifications=1).count() == 50

    # The next minute: the outage goes on, nothing is sent.
    assert alerts_evaluate(now=NOW + timedelta(minutes=1)).notified == 0
    assert len(mailoutbox) == 1
    assert len(chat.callbacks) == 1


def test_an_alert_opening_later_brings_the_open_ones_into_its_digest(mailoutbox):
    waiting_event(StoreFactory(store_hash="acme", name="Acme"))
    alerts_evaluate(now=NOW)
    WebhookEventFactory(store=StoreFactory(store_hash="bolt", name="Bolt"), status=Status.DEAD, finished_at=NOW)

    alerts_evaluate(now=NOW + timedelta(minutes=5))

    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "b2s alerts: 1 new, 1 still open"
    body = mailoutbox[1].body
    assert body.index("New:\n- dead events: Bolt (bolt)") < body.index("Still open:\n- backlog age: Acme (acme)")
    # Both were told now, so both repeat together from here.
    assert set(Alert.objects.values_list("last_notified_at", flat=True)) == {NOW + timedelta(minutes=5)}


def test_clearing_resolves_with_one_message_once_clear_for_the_window(mailoutbox, chat):
    event = waiting_event(StoreFactory(store_hash="acme"))
    alerts_evaluate(now=NOW)
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.DONE, finished_at=NOW + timedelta(minutes=1))

    # Clear, but not yet for the 15-minute window: still open, nothing sent.
    assert alerts_evaluate(now=NOW + timedelta(minutes=14)).resolved == 0
    assert Alert.objects.get().state == State.OPEN

    evaluation = alerts_evaluate(now=NOW + timedelta(minutes=15))

    assert (evaluation.conditions, evaluation.resolved, evaluation.notified) == (0, 1, 1)
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "b2s alerts: 1 resolved"
    assert mailoutbox[1].body.endswith(
        "Resolved:\n- backlog age, acme: resolved (open 2026-05-04 12:00 UTC to 2026-05-04 12:00 UTC)."
    )
    assert len(chat.wait_for(2)) == 2
    alert = Alert.objects.get()
    assert (alert.state, alert.resolved_at, alert.notifications) == (State.RESOLVED, NOW + timedelta(minutes=15), 2)

    assert alerts_evaluate(now=NOW + timedelta(minutes=16)).notified == 0
    assert len(mailoutbox) == 2


def test_a_condition_flapping_inside_the_window_stays_one_alert_and_sends_nothing_more(mailoutbox):
    store = StoreFactory(store_hash="acme")
    event = waiting_event(store)
    alerts_evaluate(now=NOW)
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.DONE, finished_at=NOW)
    alerts_evaluate(now=NOW + timedelta(minutes=5))
    waiting_event(store)  # waiting since NOW - 20 min: 30 min old at NOW + 10

    alerts_evaluate(now=NOW + timedelta(minutes=10))

    assert len(mailoutbox) == 1
    alert = Alert.objects.get()
    assert (alert.state, alert.occurrences, alert.notifications) == (State.OPEN, 2, 1)


def test_the_same_minute_evaluated_twice_sends_once(mailoutbox):
    waiting_event(StoreFactory(store_hash="acme"))
    alerts_evaluate(now=NOW)
    second = alerts_evaluate(now=NOW)
    assert (second.opened, second.notified) == (0, 0)
    assert len(mailoutbox) == 1
    assert Alert.objects.get().occurrences == 2


def test_a_chat_webhook_answering_500_does_not_stop_the_email(mailoutbox, chat):
    chat.default_status = 500
    waiting_event(StoreFactory(store_hash="acme"))

    evaluation = alerts_evaluate(now=NOW)

    assert evaluation.channels == ("email",)
    assert evaluation.errors == ("chat (127.0.0.1): HTTP 500",)
    assert len(mailoutbox) == 1
    assert len(chat.wait_for(1)) == 1
    assert Alert.objects.get().delivery_error == "chat (127.0.0.1): HTTP 500"

    # The next digest that goes through clears the recorded error.
    chat.default_status = 200
    alerts_evaluate(now=NOW + timedelta(minutes=60))
    assert Alert.objects.get().delivery_error == ""


def test_an_unreachable_chat_webhook_is_recorded_by_host_and_its_url_is_never_logged(mailoutbox, settings, caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{port}/services/T0/B0/secret-token-xyz"
    waiting_event(StoreFactory(store_hash="acme"))

    evaluation = alerts_evaluate(now=NOW)

    assert evaluation.errors == ("chat (127.0.0.1): ConnectionError",)
    assert len(mailoutbox) == 1
    assert Alert.objects.get().delivery_error == "chat (127.0.0.1): ConnectionError"
    assert "secret-token-xyz" not in caplog.text
    assert "Alert chat webhook at 127.0.0.1 failed: ConnectionError" in caplog.text


def test_a_failing_mail_server_does_not_stop_the_chat_message(chat, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nothing listens on 1
    waiting_event(StoreFactory(store_hash="acme"))

    evaluation = alerts_evaluate(now=NOW)

    assert evaluation.channels == ("chat",)
    assert evaluation.errors[0].startswith("e-mail: ConnectionRefusedError")
    assert len(chat.wait_for(1)) == 1
    assert Alert.objects.get().delivery_error.startswith("e-mail: ConnectionRefusedError")


def test_without_recipients_or_webhook_the_alert_is_still_recorded(mailoutbox, caplog):
    SyncSetting.objects.filter(key="alert_email_to").update(value="")
    config_version_bump()
    waiting_event(StoreFactory(store_hash="acme"))

    evaluation = alerts_evaluate(now=NOW)

    assert (evaluation.notified, evaluation.channels) == (1, ())
    assert mailoutbox == []
    assert "b2s alerts: 1 new, but no channel is set" in caplog.text
    assert Alert.objects.get().notifications == 1


def test_the_budget_guard_becoming_active_raises_an_alert_at_once(mailoutbox):
    ApiUsageSample.objects.create(service="salesforce", used=85_000, limit=100_000, recorded_at=NOW)
    alerts_evaluate(now=NOW)
    assert mailoutbox[0].subject == "b2s alerts: 1 new"
    assert "85,000 of 100,000 daily requests (85%, alert at 80%); writes continue" in mailoutbox[0].body

    # Ten minutes later the org reaches the 90% ceiling: the usage alert is not due again, the pause is new.
    ApiUsageSample.objects.create(
        service="salesforce", used=91_000, limit=100_000, recorded_at=NOW + timedelta(minutes=10)
    )
    api_budget_status_forget()  # the guard's status is cached for seconds; this sample came from elsewhere
    alerts_evaluate(now=NOW + timedelta(minutes=10))

    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject == "b2s alerts: 1 new, 1 still open"
    assert "New:\n- Salesforce API budget: Salesforce writes are paused: API use 91% reached the 90% ceiling." in (
        mailoutbox[1].body
    )
    assert "Still open:\n- Salesforce API budget: Salesforce API use is 91,000 of 100,000 daily requests" in (
        mailoutbox[1].body
    )
    assert "Salesforce writes are paused (guard auto, ceiling 90%)" in mailoutbox[1].body
    assert set(Alert.objects.filter(state=State.OPEN).values_list("key", flat=True)) == {API_BUDGET_KEY, API_PAUSED_KEY}


def test_invalid_recipients_are_skipped(mailoutbox, caplog):
    SyncSetting.objects.filter(key="alert_email_to").update(value="ops@example.com, not-an-address")
    config_version_bump()
    waiting_event(StoreFactory(store_hash="acme"))

    alerts_evaluate(now=NOW)

    assert mailoutbox[0].to == ["ops@example.com"]
    assert "alert_email_to holds 1 invalid address(es), skipped" in caplog.text


def test_the_chat_payload_is_the_json_shape_incoming_webhooks_take(chat):
    waiting_event(StoreFactory(store_hash="acme"))
    alerts_evaluate(now=NOW)
    (callback,) = chat.wait_for(1)
    assert list(json.loads(callback.body)) == ["text"]
    assert callback.path == "/webhooks"
    assert mail.outbox[0].body == callback.json()["text"]
