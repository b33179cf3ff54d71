"""Processing: the customer handler end to end against both stand-ins, and the state machine.

Statuses pending → processing → done | failed | dead (and skipped, ignored); transient errors are
retried with backoff, permanent ones fail at once; events about one resource never run together;
the sweep completes events whose worker died.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from audit.models import AuditLog
from sync.bigcommerce import BigCommerceError
from sync.handlers import HandlerResult, SkipEvent
from sync.models import FeatureFlag, WebhookEvent
from sync.salesforce import SalesforceError, salesforce_client
from sync.services.webhooks import (
    DRAIN_TASK,
    PROCESS_TASK,
    error_classify,
    retry_delay_seconds,
    webhook_event_process,
    webhook_events_replay,
    webhook_events_sweep,
)
from tests.factories.sync import WebhookEventFactory

pytestmark = pytest.mark.django_db


def queued() -> list[int]:
    return [row.task["args"][0] for row in OrmQ.objects.all() if row.task["func"] == PROCESS_TASK]


@pytest.fixture
def ada(bigcommerce_sandbox):
    return bigcommerce_sandbox.app.customer_create(
        first_name="Ada",
        last_name="Lovelace",
        company="",
        email="Ada.Lovelace@Example.com",
        phone="555-0100",
        addresses=[
            {
                "address1": "12 St James's Square",
                "address2": "Flat 2",
                "city": "London",
                "state_or_province": "Greater London",
                "postal_code": "SW1Y 4JH",
                "country": "United Kingdom",
                "country_code": "GB",
            }
        ],
    )


def test_customer_created_becomes_account_and_contact(salesforce_settings, sandbox_store, receive, process, ada):
    app = salesforce_settings.app
    salesforce_client().field_limits({"Account", "Contact"})  # once per process (issue 11), not per sync
    event = process(receive("store/customer/created", ada["id"]))
    assert (event.status, event.attempts) == ("done", 1)
    assert event.duration_ms is not None and event.finished_at is not None
    key = f"sandbox:{ada['id']}"
    [account] = app.records("Account")
    [contact] = app.records("Contact")
    assert account["BigCommerceCustomerId__c"] == contact["BigCommerceCustomerId__c"] == key
    assert account["Name"] == "Ada Lovelace"
    assert account["Phone"] == "555-0100"
    assert account["BillingStreet"] == "12 St James's Square\nFlat 2"
    assert (account["BillingCity"], account["BillingPostalCode"], account["BillingCountry"]) == (
        "London",
        "SW1Y 4JH",
        "United Kingdom",
    )
    assert (contact["FirstName"], contact["LastName"], contact["Email"]) == (
        "Ada",
        "Lovelace",
        "ada.lovelace@example.com",
    )
    assert (contact["MailingCity"], contact["MailingState"]) == ("London", "Greater London")
    assert contact["AccountId"] == account["Id"]
    audit = AuditLog.objects.get(event=event)
    assert (audit.operation, audit.status, audit.bigcommerce_id) == ("CUSTOMER_SYNC", "success", str(ada["id"]))
    assert set(audit.salesforce_ids) == {account["Id"], contact["Id"]}
    # The customer's lookup in the CRM by email (not seen before), then ONE composite.
    assert (audit.salesforce_api_calls, audit.bigcommerce_api_calls, audit.attempt) == (2, 1, 1)
    assert audit.details["account_created"] is True


def test_customer_updated_updates_the_same_records(
    salesforce_settings, bigcommerce_sandbox, sandbox_store, receive, process, ada
):
    app = salesforce_settings.app
    process(receive("store/customer/created", ada["id"]))
    bigcommerce_sandbox.app.customer_update(ada["id"], company="Analytical Engines Ltd", last_name="King")
    event = process(receive("store/customer/updated", ada["id"]))
    assert event.status == "done"
    [account] = app.records("Account")
    [contact] = app.records("Contact")
    assert account["Name"] == "Analytical Engines Ltd"
    assert contact["LastName"] == "King"
    assert AuditLog.objects.get(event=event).details["account_created"] is False


def test_an_address_event_updates_the_customer(salesforce_settings, sandbox_store, receive, process, ada):
    event = process(
        receive(
            "store/customer/address/updated",
            9999,
            data={"type": "customer", "id": 9999, "address": {"customer_id": ada["id"]}},
        )
    )
    assert event.status == "done"
    assert salesforce_settings.app.records("Account")[0]["BigCommerceCustomerId__c"] == f"sandbox:{ada['id']}"


def test_processing_a_finished_event_again_does_nothing(salesforce_settings, sandbox_store, receive, process, ada):
    event = process(receive("store/customer/created", ada["id"]))
    calls = len(salesforce_settings.app.calls)
    event = process(event)
    assert (event.status, event.attempts) == ("done", 1)
    assert len(salesforce_settings.app.calls) == calls
    assert AuditLog.objects.filter(event=event).count() == 1


def test_a_deleted_customer_is_skipped(salesforce_settings, sandbox_store, receive, process):
    event = process(receive("store/customer/created", 4242))
    assert event.status == "skipped"
    assert "does not exist" in event.last_error_message
    audit = AuditLog.objects.get(event=event)
    assert (audit.status, audit.operation) == ("skipped", "CUSTOMER_SYNC")
    assert salesforce_settings.app.records("Account") == []


def test_transient_error_is_retried_to_success(salesforce_settings, sandbox_store, receive, process, ada, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 30
    app = salesforce_settings.app
    app.fault_add("unable_to_lock_row", path="/composite", count=1)
    event = process(receive("store/customer/created", ada["id"]))
    assert (event.status, event.attempts, event.last_error_code) == ("failed", 1, "UNABLE_TO_LOCK_ROW")
    assert event.last_error_type == "SalesforceError"
    delay = (event.next_attempt_at - event.finished_at).total_seconds()
    assert 15 <= delay <= 30
    retry = Schedule.objects.get(func=PROCESS_TASK)
    assert (retry.schedule_type, retry.args) == (Schedule.ONCE, f"({event.pk},)")
    assert abs((retry.next_run - event.next_attempt_at).total_seconds()) < 1
    failed_audit = AuditLog.objects.get(event=event)
    assert (failed_audit.status, failed_audit.error_code, failed_audit.details["transient"]) == (
        "failed",
        "UNABLE_TO_LOCK_ROW",
        True,
    )
    # Too early: the retry does not run before its time.
    assert process(event).attempts == 1
    WebhookEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    event = process(event)
    assert (event.status, event.attempts, event.last_error_code) == ("done", 2, "")
    assert len(app.records("Account")) == 1
    assert list(AuditLog.objects.filter(event=event).order_by("id").values_list("status", "attempt")) == [
        ("failed", 1),
        ("success", 2),
    ]


def test_a_retry_due_now_is_queued_at_once(salesforce_settings, sandbox_store, receive, process, ada, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    salesforce_settings.app.fault_add("status", path="/composite", status=503, count=1)
    event = receive("store/customer/created", ada["id"])
    OrmQ.objects.all().delete()
    event = process(event)
    assert event.status == "failed"
    assert queued() == [event.pk]
    assert process(event).status == "done"


def test_permanent_error_fails_at_once_and_replay_recovers(salesforce_settings, sandbox_store, receive, process, ada):
    app = salesforce_settings.app
    phone = app.schema["Account"].fields.pop("Phone")  # the org lacks a mapped field: INVALID_FIELD
    event = process(receive("store/customer/created", ada["id"]))
    assert (event.status, event.attempts, event.last_error_code) == ("failed", 1, "INVALID_FIELD")
    assert event.next_attempt_at is None
    assert "Phone" in event.last_error_message
    audit = AuditLog.objects.get(event=event)
    assert (audit.status, audit.error_code, audit.details["transient"]) == ("failed", "INVALID_FIELD", False)
    assert "Phone" in audit.error
    assert not Schedule.objects.filter(func=PROCESS_TASK).exists()
    assert process(event).attempts == 1  # failed for good: not retried on its own
    assert webhook_events_sweep() == 0
    app.schema["Account"].fields["Phone"] = phone
    OrmQ.objects.all().delete()
    assert webhook_events_replay(events=WebhookEvent.objects.filter(pk=event.pk)) == 1
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("pending", 0)
    event = process(event)
    assert (event.status, event.attempts) == ("done", 1)
    assert app.records("Account")[0]["Phone"] == "555-0100"


def test_attempts_exhausted_is_dead(salesforce_settings, sandbox_store, receive, process, ada, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0
    salesforce_settings.app.fault_add("status", path="/composite", status=500)
    event = process(receive("store/customer/created", ada["id"]))
    assert (event.status, event.attempts) == ("failed", 1)
    event = process(event)
    assert (event.status, event.attempts, event.next_attempt_at) == ("dead", 2, None)
    assert AuditLog.objects.filter(event=event, status="failed").count() == 2
    assert AuditLog.objects.filter(event=event).latest("id").details["event_status"] == "dead"
    assert webhook_events_sweep() == 0


def test_bigcommerce_reset_time_is_honoured(
    salesforce_settings, bigcommerce_sandbox, sandbox_store, receive, process, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1
    bigcommerce_sandbox.app.configure(rate_limit_quota=1, rate_limit_window_ms=60_000)
    from sync.bigcommerce import bigcommerce_client

    bigcommerce_client(sandbox_store).orders_list()  # spends the window's only request
    event = process(receive("store/customer/created", 7))
    assert (event.status, event.last_error_code) == ("failed", "HTTP_429")
    assert (event.next_attempt_at - event.finished_at).total_seconds() > 30


def test_unexpected_exceptions_fail_permanently(sandbox_store, receive, process, test_handler):
    def boom(event):
        raise ValueError("a bug in a handler")

    test_handler("store/test/boom", boom)
    event = process(receive("store/test/boom", 1))
    assert (event.status, event.last_error_type, event.last_error_message) == (
        "failed",
        "ValueError",
        "a bug in a handler",
    )
    assert event.next_attempt_at is None


def test_a_scope_without_handler_at_processing_time_is_ignored(sandbox_store, process):
    event = WebhookEventFactory(store=sandbox_store, scope="store/product/inventory/updated")
    assert process(event).status == "ignored"


def test_events_about_one_resource_never_run_together(sandbox_store, receive, process, test_handler):
    ran: list[tuple[int, str]] = []
    state: dict[str, WebhookEvent] = {}

    def first(event):
        ran.append((event.pk, "first starts"))
        # While this runs, the second event about the same order is delivered to another worker.
        webhook_event_process(event_id=state["second"].pk)
        ran.append((event.pk, "first ends"))
        return HandlerResult("ORDER_SYNC", event.resource_id)

    def second(event):
        ran.append((event.pk, "second runs"))
        return HandlerResult("ORDER_SYNC", event.resource_id)

    test_handler("store/test/first", first)
    test_handler("store/test/second", second)
    one = receive("store/test/first", 5, data={"type": "order", "id": 5})
    state["second"] = receive("store/test/second", 5, data={"type": "order", "id": 5})
    other = receive("store/test/second", 6, data={"type": "order", "id": 6})
    OrmQ.objects.all().delete()
    process(one)
    waiting = WebhookEvent.objects.get(pk=state["second"].pk)
    assert [step for _, step in ran] == ["first starts", "first ends"]
    assert (waiting.status, waiting.attempts) == ("pending", 0)
    assert waiting.next_attempt_at is not None  # the sweep leaves it alone meanwhile
    assert queued() == [waiting.pk]  # handed on when the first finished; order 6 is not involved
    assert process(waiting).status == "done"
    assert [step for _, step in ran][-1] == "second runs"
    assert process(other).status == "done"


def test_a_shipment_locks_its_order(sandbox_store, receive):
    from sync.services.webhooks import event_lock_keys

    shipment = receive("store/shipment/created", 12, data={"type": "shipment", "id": 12, "orderId": 251})
    refund = receive("store/order/refund/created", 251, data={"type": "order", "id": 251, "refund": {"refund_id": 3}})
    cart = receive("store/cart/converted", "d300", data={"type": "cart", "id": "d300", "orderId": 252})
    assert event_lock_keys(shipment) == event_lock_keys(refund) == ("order:251",)
    # A conversion holds its cart and its order: the order's sync and the conversion both touch the cart's Lead.
    assert event_lock_keys(cart) == ("cart:d300", "order:252")


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after this line runs."""


def test_a_worker_killed_mid_task_is_completed_by_the_sweep(sandbox_store, receive, test_handler, settings):
    calls = []

    def dies_once(event):
        calls.append(event.pk)
        if len(calls) == 1:
            raise WorkerKilled
        return HandlerResult("CUSTOMER_SYNC", event.resource_id, ["001000000000001AAA"])

    test_handler("store/test/dies", dies_once)
    event = receive("store/test/dies", 77)
    with pytest.raises(WorkerKilled):
        webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("processing", 1)
    OrmQ.objects.all().delete()
    assert webhook_events_sweep() == 0  # the lease is still young
    webhook_event_process(event_id=event.pk)  # a duplicate message while the lease lives: no second run
    assert calls == [event.pk]
    WebhookEvent.objects.filter(pk=event.pk).update(
        started_at=timezone.now() - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS + 5)
    )
    assert webhook_events_sweep() == 1
    assert queued() == [event.pk]
    webhook_event_process(event_id=queued()[0])
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("done", 2)
    assert calls == [event.pk, event.pk]


def drains() -> int:
    return sum(1 for row in OrmQ.objects.all() if row.task["func"] == DRAIN_TASK)


def test_the_sweep_rings_for_stranded_events_and_requeues_expired_leases(sandbox_store, receive, settings, drain):
    now = timezone.now()
    old = now - timedelta(seconds=settings.WEBHOOK_REQUEUE_SECONDS + 10)
    fresh = receive("store/customer/created", 1)
    stale_pending = receive("store/customer/created", 2)
    due_failed = receive("store/customer/created", 3)
    later_failed = receive("store/customer/created", 4)
    permanent = receive("store/customer/created", 5)
    done = receive("store/customer/created", 6)
    expired = receive("store/customer/created", 7)
    WebhookEvent.objects.filter(pk=stale_pending.pk).update(received_at=old)
    WebhookEvent.objects.filter(pk=due_failed.pk).update(status="failed", next_attempt_at=now - timedelta(seconds=1))
    WebhookEvent.objects.filter(pk=later_failed.pk).update(status="failed", next_attempt_at=now + timedelta(hours=1))
    WebhookEvent.objects.filter(pk=permanent.pk).update(status="failed", next_attempt_at=None, received_at=old)
    WebhookEvent.objects.filter(pk=done.pk).update(status="done", received_at=old)
    lease_start = now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS + 10)
    WebhookEvent.objects.filter(pk=expired.pk).update(status="processing", started_at=lease_start, attempts=1)
    OrmQ.objects.all().delete()
    assert webhook_events_sweep() == 3
    # One drain for the waiting events (whatever their number); the expired lease is taken over on its own.
    assert (drains(), queued()) == (1, [expired.pk])
    assert fresh.pk not in queued()
    OrmQ.objects.all().delete()
    assert webhook_events_sweep() == 3  # a minute later it rings again: still one task, not one per event
    assert drains() == 1
    drain()  # the drain takes every due event, the fresh one too; not the later retry nor the permanent failure
    statuses = dict(WebhookEvent.objects.values_list("pk", "status"))
    # (the customers do not exist in the stand-in: each run ends "skipped", which is finished)
    assert [statuses[event.pk] for event in (fresh, stale_pending, due_failed)] == ["skipped"] * 3
    assert (statuses[later_failed.pk], statuses[permanent.pk], statuses[expired.pk]) == (
        "failed",
        "failed",
        "processing",
    )


def test_replay_leaves_running_events_alone(sandbox_store, receive, django_capture_on_commit_callbacks):
    running = receive("store/customer/created", 1)
    dead = receive("store/customer/created", 2)
    WebhookEvent.objects.filter(pk=running.pk).update(status="processing", started_at=timezone.now(), attempts=1)
    WebhookEvent.objects.filter(pk=dead.pk).update(status="dead", attempts=5, last_error_code="X")
    OrmQ.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_events_replay(events=WebhookEvent.objects.all()) == 1
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("pending", 0)
    assert (queued(), drains()) == ([], 1)


def test_audit_trail_flag_off_writes_no_audit(sandbox_store, receive, process, test_handler):
    flag = FeatureFlag.objects.get(key="audit_trail")
    flag.enabled = False
    flag.save()
    test_handler("store/test/ok", lambda event: HandlerResult("ORDER_SYNC", event.resource_id))
    assert process(receive("store/test/ok", 1)).status == "done"
    assert AuditLog.objects.count() == 0


def test_skip_event_from_a_handler(sandbox_store, receive, process, test_handler):
    def skip(event):
        raise SkipEvent("the cart is gone")

    test_handler("store/test/skip", skip)
    event = process(receive("store/test/skip", 1))
    assert (event.status, event.last_error_message) == ("skipped", "the cart is gone")


def test_error_classification():
    assert error_classify(SalesforceError("x", status=400, code="UNABLE_TO_LOCK_ROW")).transient
    assert not error_classify(SalesforceError("x", status=400, code="REQUIRED_FIELD_MISSING")).transient
    assert error_classify(SalesforceError("x", status=503)).transient
    info = error_classify(BigCommerceError("x", status=429, retry_after_seconds=12.5))
    assert (info.transient, info.code, info.retry_after_seconds) == (True, "HTTP_429", 12.5)
    assert not error_classify(BigCommerceError("x", status=422)).transient
    assert error_classify(OperationalError("database is locked")).transient
    assert not error_classify(KeyError("x")).transient


def test_backoff_grows_with_jitter_and_honours_retry_after(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_RETRY_MAX_SECONDS = 100
    for attempt, (low, high) in {1: (5, 10), 2: (10, 20), 3: (20, 40), 10: (50, 100)}.items():
        delays = {retry_delay_seconds(attempt=attempt) for _ in range(20)}
        assert all(low <= delay <= high for delay in delays)
        assert len(delays) > 1  # jittered
    assert retry_delay_seconds(attempt=1, retry_after_seconds=45) == 45


def test_a_cart_conversion_waits_for_its_order(sandbox_store, receive, process, test_handler):
    """The order's sync and the cart's conversion both touch the cart's Lead: never together."""
    state: dict[str, WebhookEvent] = {}
    seen: list[str] = []

    def order_sync(event):
        webhook_event_process(event_id=state["conversion"].pk)
        seen.append(WebhookEvent.objects.get(pk=state["conversion"].pk).status)
        return HandlerResult("ORDER_SYNC", event.resource_id)

    test_handler("store/test/order", order_sync)
    order = receive("store/test/order", 252, data={"type": "order", "id": 252})
    state["conversion"] = receive("store/cart/converted", "d300", data={"type": "cart", "id": "d300", "orderId": 252})
    OrmQ.objects.all().delete()
    process(order)
    assert seen == ["pending"]  # the conversion did not start while the order synced
    assert queued() == [state["conversion"].pk]  # handed on when the order finished
