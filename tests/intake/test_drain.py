"""The inbox is the queue: accepting rings a doorbell (one drain task per interval), drains claim due rows."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from audit.models import AuditLog
from sync import handlers
from sync.handlers import HandlerResult
from sync.models import WebhookEvent
from sync.outcomes import sync_outcome
from sync.services import webhooks
from sync.services.webhooks import DRAIN_TASK, inbox_doorbell_reset, webhook_events_drain

pytestmark = pytest.mark.django_db


def drains_queued() -> int:
    return sum(1 for row in OrmQ.objects.all() if row.task["func"] == DRAIN_TASK)


def test_the_doorbell_rings_once_per_interval(sandbox_store, receive, settings):
    settings.WEBHOOK_DOORBELL_SECONDS = 3600
    for number in range(5):
        receive("store/customer/created", number)
    assert drains_queued() == 1
    assert OrmQ.objects.count() == 1  # and no task per event
    settings.WEBHOOK_DOORBELL_SECONDS = 0
    receive("store/customer/created", 99)
    assert drains_queued() == 2


def test_a_failed_ring_rings_again_with_the_next_event(sandbox_store, receive, monkeypatch, settings):
    settings.WEBHOOK_DOORBELL_SECONDS = 3600
    calls = []

    def broker_down() -> None:
        calls.append(1)
        raise ConnectionError("broker down")

    monkeypatch.setattr(webhooks, "_drain_enqueue", broker_down)
    receive("store/customer/created", 1)
    receive("store/customer/created", 2)
    assert len(calls) == 2  # not silenced for the interval by a ring that never reached the queue
    assert WebhookEvent.objects.filter(status="pending").count() == 2  # stored all the same


def test_a_lingering_drain_takes_an_event_stored_after_it_found_none(
    sandbox_store, receive, test_handler, monkeypatch, settings
):
    """The doorbell's promise: an event stored within the interval after a ring is seen by that ring's drain."""
    settings.WEBHOOK_DRAIN_LINGER_SECONDS = 5
    test_handler("store/test/ok", lambda event: HandlerResult("ORDER_SYNC", event.resource_id))
    sleeps: list[float] = []
    real_sleep = webhooks.time.sleep

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:  # while the drain waits with nothing to do, a webhook arrives
            receive("store/test/ok", 7)
        real_sleep(0)

    monkeypatch.setattr(webhooks.time, "sleep", sleep)
    monkeypatch.setattr(webhooks.time, "monotonic", iter(float(step) for step in range(10_000)).__next__)
    assert webhook_events_drain(size=10, wait_seconds=0) == 1
    assert WebhookEvent.objects.get().status == "done"


def test_a_drain_hands_over_when_its_time_is_up(sandbox_store, receive, test_handler, settings):
    settings.WEBHOOK_DRAIN_MAX_SECONDS = 0
    test_handler("store/test/ok", lambda event: HandlerResult("ORDER_SYNC", event.resource_id))
    receive("store/test/ok", 1)
    OrmQ.objects.all().delete()
    inbox_doorbell_reset()
    assert webhook_events_drain(size=10, wait_seconds=0) == 0
    assert drains_queued() == 1  # work remains: a fresh task takes it
    assert WebhookEvent.objects.get().status == "pending"


def test_a_batch_waits_for_more_only_as_long_as_the_oldest_may_wait(sandbox_store, receive, test_handler, monkeypatch):
    test_handler("store/test/ok", lambda event: HandlerResult("ORDER_SYNC", event.resource_id))
    receive("store/test/ok", 1)
    sleeps: list[float] = []
    monkeypatch.setattr(webhooks.time, "sleep", sleeps.append)
    assert webhooks._batch_gather(size=50, wait_seconds=0.5)
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 0.5
    sleeps.clear()
    assert webhooks._batch_gather(size=1, wait_seconds=0.5)  # a full batch does not wait
    assert sleeps == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED is PostgreSQL's; SQLite writers take turns")
def test_drains_side_by_side_claim_different_events(sandbox_store, receive, test_handler, settings):
    settings.WEBHOOK_DRAIN_LINGER_SECONDS = 0
    seen: list[str] = []
    lock = threading.Lock()

    def slow(event):
        with lock:
            seen.append(event.resource_id)
        return HandlerResult("ORDER_SYNC", event.resource_id)

    test_handler("store/test/slow", slow)
    for number in range(40):
        receive("store/test/slow", number)

    def worker() -> None:
        try:
            webhook_events_drain(size=5, wait_seconds=0)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(seen, key=int) == [str(number) for number in range(40)]  # each once
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"done"}
    assert set(WebhookEvent.objects.values_list("attempts", flat=True)) == {1}


def test_one_batch_per_store_and_batch_handler_at_a_time(sandbox_store, receive, test_handler, monkeypatch):
    """Events of a batch handler wait, unclaimed and due, while a batch of the store runs: the next batch is
    larger, and no two batches write one customer's Account at once. Other events are not held up."""
    batches: list[list[str]] = []

    def together(store, events):
        batches.append(sorted(event.resource_id for event in events))
        return {event.pk: HandlerResult("ORDER_SYNC", event.resource_id) for event in events}

    test_handler("store/test/batched", lambda event: HandlerResult("ORDER_SYNC", event.resource_id))
    test_handler("store/test/alone", lambda event: HandlerResult("CUSTOMER_SYNC", event.resource_id))
    monkeypatch.setitem(handlers.BATCH_HANDLERS, "store/test/batched", together)
    running = receive("store/test/batched", 1)
    WebhookEvent.objects.filter(pk=running.pk).update(status="processing", started_at=timezone.now(), attempts=1)
    waiting = [receive("store/test/batched", number) for number in (2, 3)]
    alone = receive("store/test/alone", 4)
    claims = webhooks._batch_claim(size=10)
    assert [claim.event.pk for claim in claims] == [alone.pk]
    webhooks._claims_run(claims)
    assert [WebhookEvent.objects.get(pk=event.pk).status for event in waiting] == ["pending", "pending"]
    assert all(WebhookEvent.objects.get(pk=event.pk).next_attempt_at is None for event in waiting)  # still due
    WebhookEvent.objects.filter(pk=running.pk).update(status="done")
    webhooks._claims_run(webhooks._batch_claim(size=10))
    assert batches == [["2", "3"]]
    assert [WebhookEvent.objects.get(pk=event.pk).status for event in waiting] == ["done", "done"]


def test_an_event_is_finished_with_its_audit_entry_and_a_failing_entry_keeps_the_status(
    sandbox_store, receive, process, test_handler
):
    test_handler("store/test/ok", lambda event: HandlerResult("ORDER_SYNC", event.resource_id))
    event = process(receive("store/test/ok", 1))
    assert (event.status, AuditLog.objects.filter(event=event, status="success").count()) == ("done", 1)

    def broken(sender, **entry):
        raise RuntimeError("audit table unavailable")

    sync_outcome.connect(broken, dispatch_uid="test.broken")
    try:
        event = process(receive("store/test/ok", 2))
    finally:
        sync_outcome.disconnect(dispatch_uid="test.broken")
    assert event.status == "done"  # the entry's failure rolled back its savepoint only


def test_an_event_of_a_batch_handler_run_on_its_own_rings_for_the_events_it_held_up(
    sandbox_store, receive, process, test_handler, monkeypatch
):
    test_handler("store/test/batched", lambda event: HandlerResult("ORDER_SYNC", event.resource_id))
    monkeypatch.setitem(handlers.BATCH_HANDLERS, "store/test/batched", lambda store, events: {})
    event = receive("store/test/batched", 1)
    OrmQ.objects.all().delete()
    inbox_doorbell_reset()
    assert process(event).status == "done"  # a retry or a released waiter: run outside any drain
    assert drains_queued() == 1
