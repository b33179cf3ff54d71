"""No poison event: whatever a stored event holds, processing ends it in a final state, recorded and audited.

An exception anywhere in processing — creating the lock rows, claiming, decoding the body, looking up
the handler, recording the outcome — is a counted attempt; an event is never re-queued for ever.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from django_q.models import OrmQ

from audit.models import AuditLog
from sync.handlers import HandlerResult
from sync.models import ResourceLock, WebhookEvent
from sync.services import webhooks
from sync.services.webhooks import (
    DRAIN_TASK,
    LOCK_KEY_MAX,
    PROCESS_TASK,
    event_lock_keys,
    lock_key_bound,
    webhook_event_process,
    webhook_events_sweep,
)
from tests.factories.sync import WebhookEventFactory

pytestmark = pytest.mark.django_db

FINAL = {"done", "skipped", "ignored", "failed", "dead"}


def queued() -> list[int]:
    return [row.task["args"][0] for row in OrmQ.objects.all() if row.task["func"] == PROCESS_TASK]


def drains_queued() -> int:
    return sum(1 for row in OrmQ.objects.all() if row.task["func"] == DRAIN_TASK)


def stored(store, scope: str, body, *, resource_type: str = "order", resource_id: str = "1") -> WebhookEvent:
    """An event as a malformed delivery would have left it in the inbox (no receive-side checks)."""
    return WebhookEventFactory(
        store=store, scope=scope, resource_type=resource_type, resource_id=resource_id, body=body
    )


def drive(event: WebhookEvent, *, process, drain, rounds: int) -> list[int]:
    """Let time pass ``rounds`` times: whatever the sweep re-queues is processed; returns the sweep counts."""
    counts = []
    for _ in range(rounds):
        long_ago = timezone.now() - timedelta(days=1)
        # Every retry due, every re-queue time passed, every lease expired.
        WebhookEvent.objects.filter(pk=event.pk, next_attempt_at__isnull=False).update(next_attempt_at=long_ago)
        WebhookEvent.objects.filter(pk=event.pk).update(received_at=long_ago)
        WebhookEvent.objects.filter(pk=event.pk, status="processing").update(started_at=long_ago)
        OrmQ.objects.all().delete()
        counts.append(webhook_events_sweep())
        for event_id in queued():  # expired leases, taken over one by one
            process(WebhookEvent.objects.get(pk=event_id))
        if drains_queued():
            drain()
    event.refresh_from_db()
    return counts


def assert_failed_and_audited(event: WebhookEvent, *, stage: str | None = None) -> AuditLog:
    assert event.status in ("failed", "dead"), event.status
    assert event.attempts >= 1
    assert event.last_error_type and event.last_error_message
    assert event.finished_at is not None
    entry = AuditLog.objects.filter(event=event).latest("pk")
    assert entry.status == "failed"
    assert entry.error == event.last_error_message
    assert entry.details["event_status"] == event.status
    if stage is not None:
        assert entry.details["stage"] == stage
    return entry


def test_lock_keys_always_fit_their_column():
    event = WebhookEvent(scope="store/shipment/created", resource_type="shipment", resource_id="12")
    long_order = "9" * 200
    event.body = {"data": {"type": "shipment", "id": 12, "orderId": long_order}}
    [key] = event_lock_keys(event)
    assert len(key) <= LOCK_KEY_MAX
    assert key.startswith("order:999") and key != f"order:{long_order}"[:LOCK_KEY_MAX]
    event.body = {"data": {"type": "shipment", "id": 12, "orderId": long_order + "8"}}
    assert event_lock_keys(event) != (key,)  # a digest, not a truncation: no two resources share a lock
    event.body = {"data": {"type": "shipment", "id": 12, "orderId": 251}}
    assert event_lock_keys(event) == ("order:251",)  # short keys unchanged (the backfill compares them)
    address = WebhookEvent(scope="store/customer/address/updated", resource_type="customer", resource_id="5")
    address.body = {"data": {"type": "customer", "id": 5, "address": {"customer_id": "c" * 300}}}
    [key] = event_lock_keys(address)
    assert len(key) <= LOCK_KEY_MAX and key.startswith("customer:ccc")
    # Text no column can hold (NUL, a lone surrogate) is hashed too.
    for odd in ("12\x00", "12\ud800"):
        bounded = lock_key_bound(f"order:{odd}")
        assert bounded.isprintable() and bounded.encode("utf-8") and len(bounded) <= LOCK_KEY_MAX
    assert lock_key_bound("order:12\x00") != lock_key_bound("order:12\ud800")


def test_a_shipment_with_a_long_order_id_takes_a_bounded_lock(sandbox_store, process, test_handler):
    seen = []
    test_handler(
        "store/shipment/poisontest", lambda event: seen.append(event.pk) or HandlerResult("SHIPMENT_SYNC", "1")
    )
    event = stored(
        sandbox_store,
        "store/shipment/poisontest",
        {"scope": "store/shipment/poisontest", "data": {"type": "shipment", "id": 1, "orderId": "9" * 200}},
        resource_type="shipment",
    )
    assert process(event).status == "done"
    assert seen == [event.pk]
    [lock] = ResourceLock.objects.filter(store=sandbox_store)
    assert lock.resource_key == event_lock_keys(event)[0] and len(lock.resource_key) <= LOCK_KEY_MAX


MALFORMED = {
    "shipment, 200-character orderId": (
        "store/shipment/created",
        "shipment",
        {"scope": "store/shipment/created", "data": {"type": "shipment", "id": 12, "orderId": "x" * 200}},
    ),
    "address, long customer_id": (
        "store/customer/address/updated",
        "customer",
        {
            "scope": "store/customer/address/updated",
            "data": {"type": "customer", "id": 5, "address": {"customer_id": "c" * 200}},
        },
    ),
    "body not an object": ("store/order/created", "order", ["not", "an", "object"]),
    "data a list": ("store/order/updated", "order", {"scope": "store/order/updated", "data": [1, 2, 3]}),
    "body a string": ("store/customer/updated", "customer", "just text"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_stored_event_fails_once_audited_and_is_never_requeued(
    name, salesforce_settings, sandbox_store, process, settings, drain
):
    scope, resource_type, body = MALFORMED[name]
    event = process(stored(sandbox_store, scope, body, resource_type=resource_type))
    entry = assert_failed_and_audited(event)
    assert (event.attempts, event.status, event.next_attempt_at) == (1, "failed", None)  # permanent: no retry
    assert entry.attempt == 1
    # However long the sweep runs, the event is not taken again.
    assert drive(event, process=process, drain=drain, rounds=settings.WEBHOOK_MAX_ATTEMPTS + 2) == [0] * (
        settings.WEBHOOK_MAX_ATTEMPTS + 2
    )
    assert (event.status, event.attempts) == ("failed", 1)


def test_a_failure_inside_the_claim_is_a_counted_attempt(sandbox_store, receive, process, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the lock row cannot be created")

    monkeypatch.setattr(webhooks, "_lock_rows", broken)
    event = process(receive("store/customer/created", 41))
    entry = assert_failed_and_audited(event, stage="claim")
    assert (event.status, event.attempts, event.next_attempt_at) == ("failed", 1, None)
    assert (event.last_error_type, event.last_error_message) == ("RuntimeError", "the lock row cannot be created")
    assert (entry.operation, entry.bigcommerce_id, entry.attempt) == ("CUSTOMER_SYNC", "41", 1)


def test_a_transient_claim_failure_is_retried_then_dead(sandbox_store, receive, process, monkeypatch, settings, drain):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    calls = []

    def locked(**kwargs):
        calls.append(1)
        raise OperationalError("database is locked")

    monkeypatch.setattr(webhooks, "_lock_rows", locked)
    event = process(receive("store/customer/created", 42))
    assert (event.status, event.attempts, event.last_error_code) == ("failed", 1, "DATABASE")
    assert event.next_attempt_at is not None  # transient: retried with backoff
    counts = drive(event, process=process, drain=drain, rounds=6)
    assert (event.status, event.attempts, event.next_attempt_at) == ("dead", 3, None)
    assert counts == [1, 1, 0, 0, 0, 0]  # re-queued while attempts remained, then never again
    # The first attempt ran alone; in each drain the batch's lock step failed, then the event's own claim.
    assert len(calls) == 1 + 2 * 2
    assert AuditLog.objects.filter(event=event, status="failed").count() == 3


def test_a_pending_event_whose_claim_always_raises_is_not_requeued_for_ever(
    sandbox_store, receive, process, monkeypatch, settings, drain
):
    """The issue's loop: the message is lost, the sweep re-queues the pending event, the claim raises."""
    event = receive("store/customer/created", 43)

    def broken(**kwargs):
        raise ValueError("bad lock key")

    monkeypatch.setattr(webhooks, "_lock_rows", broken)
    counts = drive(event, process=process, drain=drain, rounds=settings.WEBHOOK_MAX_ATTEMPTS + 3)
    assert counts[0] == 1 and set(counts[1:]) == {0}
    assert_failed_and_audited(event, stage="claim")
    assert (event.status, event.attempts) == ("failed", 1)


def test_an_exception_before_the_handler_runs_is_recorded(sandbox_store, receive, process, monkeypatch):
    def lookup(scope):
        raise KeyError(scope)

    event = receive("store/customer/created", 44)
    monkeypatch.setattr(webhooks, "handler_for", lookup)
    event = process(event)
    assert_failed_and_audited(event, stage="processing")
    assert (event.status, event.attempts, event.last_error_type) == ("failed", 1, "KeyError")
    assert ResourceLock.objects.filter(store=sandbox_store, resource_key="customer:44").exists()  # it was claimed


def test_an_error_message_no_column_can_hold_is_stored_cleaned(sandbox_store, receive, process, test_handler):
    def quotes_the_body(event):
        raise ValueError("bad value '12\x00\ud800'")

    test_handler("store/test/quotes", quotes_the_body)
    event = process(receive("store/test/quotes", 45))
    assert (event.status, event.attempts) == ("failed", 1)
    assert event.last_error_message == "bad value '12?'"
    assert AuditLog.objects.get(event=event).error == "bad value '12?'"


def test_a_stale_lease_counts_and_ends_dead_after_max_attempts(
    sandbox_store, receive, process, test_handler, settings, drain
):
    """A worker killed (or timed out) by the event on every attempt: taken over until attempts run out."""
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    runs = []

    def kills_the_worker(event):
        runs.append(event.attempts)
        raise WorkerKilled

    test_handler("store/test/kills", kills_the_worker)
    event = receive("store/test/kills", 46)
    for _ in range(3):
        with pytest.raises(WorkerKilled):
            webhook_event_process(event_id=event.pk)
        WebhookEvent.objects.filter(pk=event.pk).update(started_at=timezone.now() - timedelta(days=1))
    assert runs == [1, 2, 3]  # each takeover counted an attempt
    OrmQ.objects.all().delete()
    assert webhook_events_sweep() == 1
    process(event)
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error_code) == ("dead", 3, "LEASE_EXPIRED")
    assert runs == [1, 2, 3]  # not run a fourth time
    entry = assert_failed_and_audited(event, stage="lease")
    assert entry.details["transient"] is True
    assert drive(event, process=process, drain=drain, rounds=3) == [0, 0, 0]


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after this line runs."""


def test_a_lock_row_the_database_refuses_is_a_counted_attempt(
    salesforce_settings, sandbox_store, process, monkeypatch, drain
):
    """Without the bound (the issue's poison): PostgreSQL refuses the key; the attempt is still counted."""
    monkeypatch.setattr(webhooks, "lock_key_bound", lambda raw: raw)
    scope, resource_type, body = MALFORMED["shipment, 200-character orderId"]
    event = process(stored(sandbox_store, scope, body, resource_type=resource_type))
    # SQLite does not enforce the column's length: there the handler refuses the orderId instead.
    entry = assert_failed_and_audited(event, stage="claim" if connection.vendor == "postgresql" else None)
    assert (event.status, event.attempts, entry.attempt) == ("failed", 1, 1)
    assert drive(event, process=process, drain=drain, rounds=3) == [0, 0, 0]
