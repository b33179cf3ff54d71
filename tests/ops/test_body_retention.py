"""Webhook body retention: finished events' bodies and headers emptied after ``webhook_body_retention_days``."""

from __future__ import annotations

import importlib
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from sync.models import Threshold, WebhookEvent
from sync.services.resync import webhook_event_resync
from sync.services.retention import REPLAY_PURGED_REFUSAL, webhook_bodies_purge
from sync.services.webhooks import webhook_events_replay
from sync.tasks import webhook_bodies_purge_task
from tests.factories.sync import StoreFactory, WebhookEventFactory

pytestmark = pytest.mark.django_db

S = WebhookEvent.Status
HEADERS = {"Content-Type": "application/json", "User-Agent": "BigCommerce-Webhooks"}
# Every kind of event: (label, status, whether a retry is due).
KINDS = [
    ("done", S.DONE, False),
    ("ignored", S.IGNORED, False),
    ("skipped", S.SKIPPED, False),
    ("dead", S.DEAD, False),
    ("failed_for_good", S.FAILED, False),  # a permanent failure: no retry due, waits for a fix and a replay
    ("failed_retrying", S.FAILED, True),
    ("pending", S.PENDING, False),
    ("processing", S.PROCESSING, False),
]
AGES = {
    "29d": timedelta(days=29),
    "30d": timedelta(days=30),
    "30d1s": timedelta(days=30, seconds=1),
    "31d": timedelta(days=31),
}
# Hand-listed: finished kinds older than exactly 30 days. Exactly 30 days is not older than 30 days.
EXPECTED_PURGED = {
    f"{kind}@{age}" for kind in ("done", "ignored", "skipped", "dead", "failed_for_good") for age in ("30d1s", "31d")
}


@pytest.fixture
def now() -> datetime:
    return timezone.now().replace(microsecond=0)


def _event(*, status: str, finished_at: datetime | None, retry_due: bool = False, **fields: object) -> WebhookEvent:
    return WebhookEventFactory(
        status=status,
        headers=HEADERS,
        attempts=2,
        last_error_code="HTTP_500" if status in (S.FAILED, S.DEAD) else "",
        last_error_message="boom" if status in (S.FAILED, S.DEAD) else "",
        received_at=(finished_at or timezone.now()) - timedelta(seconds=5),
        finished_at=finished_at,
        duration_ms=1234,
        next_attempt_at=finished_at + timedelta(minutes=5) if retry_due and finished_at else None,
        **fields,
    )


@pytest.fixture
def grid(now: datetime) -> dict[str, WebhookEvent]:
    """One event per kind and age around the 30-day boundary (all of one store)."""
    store = StoreFactory()
    return {
        f"{label}@{age}": _event(store=store, status=status, finished_at=now - delta, retry_due=retry_due)
        for label, status, retry_due in KINDS
        for age, delta in AGES.items()
    }


def test_exactly_the_finished_events_older_than_the_threshold_are_purged(grid, now):
    assert webhook_bodies_purge(now=now) == 10
    purged = {name for name, event in grid.items() if WebhookEvent.objects.get(pk=event.pk).body_purged_at}
    assert purged == EXPECTED_PURGED
    for name, event in grid.items():
        if name not in EXPECTED_PURGED:
            kept = WebhookEvent.objects.get(pk=event.pk)
            assert kept.body == event.body and kept.body["data"]["id"] == int(event.resource_id)
            assert kept.headers == HEADERS


def test_a_purged_event_keeps_its_metadata(grid, now):
    before = grid["dead@31d"]
    webhook_bodies_purge(now=now)
    after = WebhookEvent.objects.get(pk=before.pk)
    # Only the callback's resource references stay (what "Sync again now" reads); the rest and the headers go.
    assert after.body == {"data": before.body["data"]} and after.headers == {}
    assert set(before.body) - {"data"}  # the factory's body held more than that
    assert after.body_purged_at == now
    assert (after.store_id, after.scope, after.resource_type, after.resource_id, after.hash) == (
        before.store_id,
        "store/order/created",
        "order",
        before.resource_id,
        before.hash,
    )
    assert (after.status, after.attempts, after.last_error_code, after.last_error_message) == (
        S.DEAD,
        2,
        "HTTP_500",
        "boom",
    )
    assert (after.received_at, after.finished_at, after.duration_ms) == (
        now - timedelta(days=31, seconds=5),
        now - timedelta(days=31),
        1234,
    )


def test_running_again_purges_nothing_twice(grid, now):
    assert webhook_bodies_purge(now=now) == 10
    assert webhook_bodies_purge(now=now) == 0
    stamps = set(WebhookEvent.objects.exclude(body_purged_at=None).values_list("body_purged_at", flat=True))
    assert stamps == {now}
    # A day later the 29- and 30-day-old finished events have crossed the line.
    assert webhook_bodies_purge(now=now + timedelta(days=1, seconds=1)) == 10


def test_the_admin_set_threshold_rules(grid, now):
    Threshold.objects.filter(key="webhook_body_retention_days").update(value=Decimal("29"))
    # 29 days exactly stays, everything finished longer ago goes: 3 ages x 5 finished kinds.
    assert webhook_bodies_purge(now=now) == 15


def test_purging_goes_in_batches(now):
    store = StoreFactory()
    old = [_event(store=store, status=S.DONE, finished_at=now - timedelta(days=40)) for _ in range(7)]
    with CaptureQueriesContext(connection) as queries:
        assert webhook_bodies_purge(now=now, batch_size=3) == 7
    updates = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("UPDATE")]
    assert len(updates) == 3  # 3 + 3 + 1 rows, each batch its own statement (autocommit: its own transaction)
    assert all(set(WebhookEvent.objects.get(pk=event.pk).body) == {"data"} for event in old)


def test_the_daily_schedule_runs_the_task(grid, now):
    schedule = Schedule.objects.get(name="b2s: webhook body retention")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "sync.tasks.webhook_bodies_purge_task",
        Schedule.DAILY,
        -1,
    )
    with time_machine.travel(now, tick=False):  # the task reads the clock
        assert webhook_bodies_purge_task() == 10


def test_the_schedule_migration_keeps_an_admin_edit():
    migration = importlib.import_module("sync.migrations.0014_body_retention_schedule")
    name = "b2s: webhook body retention"
    Schedule.objects.filter(name=name).update(schedule_type=Schedule.WEEKLY)
    migration.Migration.operations[0].code(apps, None)
    assert list(Schedule.objects.filter(name=name).values_list("schedule_type", flat=True)) == ["W"]


def _replay(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("replay", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_replay_refuses_a_purged_event(now):
    store = StoreFactory()
    purged = _event(store=store, status=S.DEAD, finished_at=now - timedelta(days=40))
    fresh = _event(store=store, status=S.DEAD, finished_at=now - timedelta(days=1))
    webhook_bodies_purge(now=now)

    assert webhook_events_replay(events=WebhookEvent.objects.filter(pk=purged.pk)) == 0
    assert WebhookEvent.objects.get(pk=purged.pk).status == S.DEAD

    with pytest.raises(CommandError, match="every matching event's body was purged"):
        _replay("--ids", str(purged.pk))

    out, err = _replay("--dead", "--dry-run")
    assert f"  {purged.pk}  dead      store/order/created  order:{purged.resource_id}  (body purged)" in out
    assert "Would re-queue 1 event(s)." in out
    assert f"Not replayed: 1 event(s) ({purged.pk}): {REPLAY_PURGED_REFUSAL}." in err
    assert '"Sync again now"' in err

    out, err = _replay("--dead")
    assert out.strip() == "Re-queued 1 of 2"
    assert WebhookEvent.objects.get(pk=fresh.pk).status == S.PENDING
    assert WebhookEvent.objects.get(pk=purged.pk).status == S.DEAD


def test_the_admin_replay_action_says_why_a_purged_event_stays(admin_client, now):
    store = StoreFactory()
    purged = _event(store=store, status=S.DEAD, finished_at=now - timedelta(days=40))
    webhook_bodies_purge(now=now)
    response = admin_client.post(
        "/admin/sync/webhookevent/", {"action": "replay", "_selected_action": [purged.pk]}, follow=True
    )
    page = response.content.decode()
    assert "Re-queued 0 event(s)." in page
    assert "1 event(s) not replayed: the body and headers were emptied after the retention period" in page
    assert "being processed right now" not in page
    assert WebhookEvent.objects.get(pk=purged.pk).status == S.DEAD


def test_a_purged_shipment_event_can_still_be_synced_again(now):
    shipment = _event(
        status=S.DONE,
        finished_at=now - timedelta(days=40),
        scope="store/shipment/created",
        resource_type="shipment",
        resource_id="88",
        body={"scope": "store/shipment/created", "data": {"type": "shipment", "id": 88, "orderId": 4711}, "hash": "x"},
    )
    webhook_bodies_purge(now=now)
    shipment.refresh_from_db()
    assert shipment.body_purged_at == now
    resync = webhook_event_resync(event=shipment)
    assert (resync.scope, resync.resource_type, resync.resource_id) == ("store/order/updated", "order", "4711")
