"""Salesforce → BigCommerce write-back against both stand-ins over HTTPS (issue 17).

A merchant changes an Order in the Salesforce stand-in as another user than b2s's; the poll reads it into
the inbox; processing the event writes BigCommerce; the webhooks BigCommerce fires for b2s's own writes
come back and change nothing in Salesforce.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from django.utils import timezone

from audit.models import AuditLog
from orders.models import SyncedOrder, WritebackCheckpoint
from orders.writeback import salesforce_orders_poll
from orders.writeback_rules import WRITEBACK_SCOPE
from sync.bigcommerce import bigcommerce_client
from sync.models import FeatureFlag, SalesforceOrderStatusMapping, SyncSetting, WebhookEvent
from sync.salesforce import SalesforceError
from sync.services.webhooks import webhook_event_process

pytestmark = pytest.mark.django_db

AWAITING_FULFILLMENT, AWAITING_SHIPMENT, SHIPPED, CANCELLED = 11, 9, 2, 5
WRITES = {"POST", "PATCH", "PUT", "DELETE"}


@pytest.fixture
def merchant_statuses(org):
    """The org's Order Status picklist has the merchant's own values "Shipped" and "Cancelled" (Activated),
    added through the stand-in's control API as an admin adds them in Setup."""
    answer = requests.post(
        f"{org.url}/__sandbox__/picklists/Order/Status",
        json={"values": [{"value": value, "category": "Activated"} for value in ("Shipped", "Cancelled")]},
        verify=org.ca_path,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["values"] == ["Draft", "Activated", "Shipped", "Cancelled"]
    SalesforceOrderStatusMapping.objects.create(sf_status="Shipped", category="Activated", bc_status_id=SHIPPED)
    SalesforceOrderStatusMapping.objects.create(sf_status="Cancelled", category="Activated", bc_status_id=CANCELLED)


@pytest.fixture
def writeback_on(merchant_statuses):
    FeatureFlag.objects.filter(key__in=["writeback_order_status", "writeback_shipments"]).update(enabled=True)


def rule_set(value: str) -> None:
    row = SyncSetting.objects.get(key="writeback_conflict_rule")
    row.value = value
    row.save()


def synced_order(orders) -> tuple[dict[str, Any], SyncedOrder]:
    """An order awaiting fulfilment (two lines) in BigCommerce, synced to Salesforce by its webhook."""
    products = [product for product in orders.bc._data.catalog if product.type == "physical"][:2]
    created = orders.bc.order_create(
        {
            "customer_id": 0,
            "currency_code": "USD",
            "status_id": AWAITING_FULFILLMENT,
            "products": [{"product_id": products[0].id, "quantity": 2}, {"product_id": products[1].id, "quantity": 1}],
        }
    )
    orders.deliver("store/order/created", created["id"])
    orders.warm_up()
    return created, SyncedOrder.objects.get(order_id=created["id"])


def merchant_edit(orders, record_id: str, *, system_modstamp: str | None = None, **fields: Any) -> str:
    """Change an Order in the Salesforce stand-in as a service agent would in the UI (not b2s's integration
    user); answers its SystemModstamp. ``system_modstamp``: a transaction that began then and commits now."""
    agent = orders.__dict__.setdefault("agent", orders.sf.user_create(first_name="Sam", last_name="Agent"))
    record = orders.sf.record_update_as("Order", record_id, fields, user_id=agent, system_modstamp=system_modstamp)
    assert record["LastModifiedById"] == agent
    return record["SystemModstamp"]


def salesforce_writes(orders, since: int) -> list[str]:
    return [f"{call['method']} {call['path']}" for call in orders.sf.calls[since:] if call["method"] in WRITES]


def process(event: WebhookEvent) -> WebhookEvent:
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    return event


def echoes_deliver(orders, since: int, order_id: int) -> int:
    """Run b2s's handlers for the webhooks BigCommerce fired since ``since`` (b2s's own writes); answers how many."""
    fired = [event["payload"] for event in orders.bc.events()[since:]]
    for payload in fired:
        assert payload["data"].get("orderId", payload["data"].get("id")) == order_id
        orders.deliver(payload["scope"], order_id)
    return len(fired)


def shipments_of(orders, order_id: int) -> list[dict[str, Any]]:
    return bigcommerce_client(orders.store).order_shipments(order_id)


# -------------------------------------------------------------------------------------------------


def test_status_and_shipment_reach_bigcommerce_within_one_poll_and_the_echo_writes_nothing(orders, writeback_on):
    created, synced = synced_order(orders)
    order_id = created["id"]
    merchant_edit(
        orders,
        synced.salesforce_id,
        Status="Shipped",
        TrackingNumber__c="1Z999AA10123456784",
        Shipping_Carrier__c="UPS",
    )

    sf_before = orders.sf.api_calls_counted()
    poll = salesforce_orders_poll(force=True)

    assert (poll.ran, poll.requests, poll.read, poll.stored) == (True, 1, 1, 1)
    assert orders.sf.api_calls_counted() - sf_before == 1  # one SOQL query; the login does not count
    event = WebhookEvent.objects.get(scope=WRITEBACK_SCOPE)
    assert (event.resource_type, event.resource_id) == ("order", str(order_id))
    assert event.hash.startswith(f"{synced.salesforce_id}:")

    bc_events_before = len(orders.bc.events())
    event = process(event)

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    bc_order = orders.bc.order_get(order_id)
    assert bc_order["status_id"] == SHIPPED
    shipments = shipments_of(orders, order_id)
    assert len(shipments) == 1
    assert shipments[0]["tracking_number"] == "1Z999AA10123456784"
    assert shipments[0]["shipping_provider"] == "ups"
    assert sorted((item["order_product_id"], item["quantity"]) for item in shipments[0]["items"]) == sorted(
        (line["id"], line["quantity"]) for line in orders.lines(order_id)
    )
    # Salesforce followed (b2s's write): the merchant's status kept, the mirror fields as BigCommerce has them.
    record = orders.order_record(order_id)
    assert record["Status"] == "Shipped"
    assert record["BC_Status__c"] == "Shipped"
    assert record["TrackingNumber__c"] == "1Z999AA10123456784"
    assert record["LastModifiedById"] == orders.sf.org.user_id  # b2s's integration user
    entry = AuditLog.objects.get(operation="ORDER_WRITEBACK")
    assert entry.status == "success"
    assert entry.details["written"]["status_id"] == SHIPPED
    assert entry.details["written"]["shipment"]["tracking_number"] == "1Z999AA10123456784"

    # The webhooks BigCommerce fired for b2s's writes come back: not one Salesforce write.
    calls_before = len(orders.sf.calls)
    assert echoes_deliver(orders, bc_events_before, order_id) >= 3  # statusUpdated, shipment/created, updated...
    assert salesforce_writes(orders, calls_before) == []
    # ... and b2s's own Salesforce write is not read back as news by the next poll.
    assert salesforce_orders_poll(force=True).stored == 0
    assert orders.order_record(order_id)["Status"] == "Shipped"


def test_the_poll_keeps_a_checkpoint_reads_the_overlap_again_and_stores_nothing_twice(orders, writeback_on):
    _created, synced = synced_order(orders)
    stamp = merchant_edit(orders, synced.salesforce_id, Status="Cancelled")

    first = salesforce_orders_poll(force=True)
    checkpoint = WritebackCheckpoint.objects.get()
    assert (first.stored, checkpoint.changes, checkpoint.requests) == (1, 1, 1)
    assert checkpoint.modstamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000" == stamp

    # The overlap reads the same change again: recognised by its key (Order Id + SystemModstamp).
    again = salesforce_orders_poll(force=True)
    assert (again.read, again.stored) == (1, 0)
    assert WebhookEvent.objects.filter(scope=WRITEBACK_SCOPE).count() == 1
    # Not due (writeback_poll_seconds = 60 since the last poll): no request at all.
    sf_before = orders.sf.api_calls_counted()
    assert salesforce_orders_poll(now=timezone.now() + timedelta(seconds=30)).ran is False
    assert orders.sf.api_calls_counted() == sf_before
    # A second change of the same Order is a new event.
    merchant_edit(orders, synced.salesforce_id, Status="Shipped")
    assert salesforce_orders_poll(now=timezone.now() + timedelta(seconds=61)).stored == 1


def test_the_poll_spends_nothing_while_write_back_is_off(orders, merchant_statuses):
    _created, synced = synced_order(orders)
    merchant_edit(orders, synced.salesforce_id, Status="Shipped")
    sf_before = orders.sf.api_calls_counted()

    assert salesforce_orders_poll(force=True).ran is False
    assert orders.sf.api_calls_counted() == sf_before
    assert not WebhookEvent.objects.filter(scope=WRITEBACK_SCOPE).exists()


def test_the_poll_waits_while_the_api_budget_guard_pauses_and_then_reads_what_changed_meanwhile(orders, writeback_on):
    _created, synced = synced_order(orders)
    merchant_edit(orders, synced.salesforce_id, Status="Cancelled")
    guard = SyncSetting.objects.get(key="api_budget_guard")
    guard.value = "pause"
    guard.save()
    sf_before = orders.sf.api_calls_counted()

    paused = salesforce_orders_poll(force=True)
    assert paused.ran is False and "api_budget_guard is set to 'pause'" in paused.reason
    assert orders.sf.api_calls_counted() == sf_before
    guard.value = "auto"
    guard.save()
    assert salesforce_orders_poll(force=True).stored == 1  # the checkpoint stayed: nothing was missed


def test_an_unmapped_status_or_another_field_writes_nothing(orders, writeback_on):
    created, synced = synced_order(orders)
    merchant_edit(orders, synced.salesforce_id, Description="Called the customer")  # Status unchanged
    salesforce_orders_poll(force=True)

    event = process(WebhookEvent.objects.get(scope=WRITEBACK_SCOPE))

    assert event.status == WebhookEvent.Status.SKIPPED
    assert orders.bc.order_get(created["id"])["status_id"] == AWAITING_FULFILLMENT


@pytest.mark.parametrize(
    ("rule", "bc_status", "sf_status", "event_status"),
    [
        ("salesforce_wins", SHIPPED, "Shipped", "done"),
        ("bigcommerce_wins", AWAITING_SHIPMENT, "Activated", "done"),
        ("flag", AWAITING_SHIPMENT, "Shipped", "failed"),
    ],
)
def test_a_status_changed_on_both_sides_is_settled_by_the_rule(
    orders, writeback_on, rule, bc_status, sf_status, event_status
):
    created, synced = synced_order(orders)
    rule_set(rule)
    # BigCommerce changed too (its webhook not processed yet), then the merchant in Salesforce.
    orders.bc.order_update(created["id"], status_id=AWAITING_SHIPMENT)
    merchant_edit(orders, synced.salesforce_id, Status="Shipped")
    salesforce_orders_poll(force=True)

    event = process(WebhookEvent.objects.get(scope=WRITEBACK_SCOPE))

    assert event.status == event_status
    assert orders.bc.order_get(created["id"])["status_id"] == bc_status
    assert orders.order_record(created["id"])["Status"] == sf_status
    entry = AuditLog.objects.get(operation="ORDER_WRITEBACK")
    if rule == "flag":
        assert event.last_error_code == "WRITEBACK_CONFLICT"
        assert event.next_attempt_at is None  # for review: not retried
        assert "status changed in Salesforce and in BigCommerce" in event.last_error_message
        assert entry.status == "failed" and entry.error_code == "WRITEBACK_CONFLICT"
    else:
        assert entry.details["conflicts"] == ["status"]
        assert entry.details["rule"] == rule
        assert entry.details["bigcommerce_kept"] is (rule == "bigcommerce_wins")


def test_a_restart_between_poll_and_write_loses_nothing_and_writes_nothing_twice(orders, writeback_on):
    created, synced = synced_order(orders)
    merchant_edit(orders, synced.salesforce_id, Status="Shipped", TrackingNumber__c="TRACK-1")
    salesforce_orders_poll(force=True)
    # The process stops here: the event is stored, nothing written. The next process polls again...
    assert salesforce_orders_poll(force=True).stored == 0
    event = WebhookEvent.objects.get(scope=WRITEBACK_SCOPE)
    assert event.status == WebhookEvent.Status.PENDING
    # ... and processes the stored event later.
    assert process(event).status == WebhookEvent.Status.DONE
    assert orders.bc.order_get(created["id"])["status_id"] == SHIPPED
    assert [shipment["tracking_number"] for shipment in shipments_of(orders, created["id"])] == ["TRACK-1"]


def test_a_crash_after_the_bigcommerce_write_retries_without_a_second_shipment(orders, writeback_on):
    created, synced = synced_order(orders)
    merchant_edit(
        orders, synced.salesforce_id, Status="Shipped", TrackingNumber__c="TRACK-2", Shipping_Carrier__c="DHL"
    )
    salesforce_orders_poll(force=True)
    # Salesforce fails after BigCommerce was written (the worker dies at that point, as far as the event knows).
    orders.sf.fault_add("status", status=503, path=r"/composite", count=5)

    event = process(WebhookEvent.objects.get(scope=WRITEBACK_SCOPE))

    assert event.status == WebhookEvent.Status.FAILED and event.next_attempt_at is not None  # retried later
    assert [shipment["tracking_number"] for shipment in shipments_of(orders, created["id"])] == ["TRACK-2"]
    orders.sf.faults_clear()
    WebhookEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())  # the retry is due
    bc_paths_before = len(orders.bc.calls())

    event = process(event)

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    shipments = shipments_of(orders, created["id"])
    assert [(shipment["tracking_number"], shipment["tracking_carrier"]) for shipment in shipments] == [
        ("TRACK-2", "dhl")
    ]
    assert not [call for call in orders.bc.calls()[bc_paths_before:] if call["method"] in ("POST", "PUT")]
    record = orders.order_record(created["id"])
    assert (record["Status"], record["BC_Status__c"], record["TrackingNumber__c"]) == ("Shipped", "Shipped", "TRACK-2")


def test_a_second_change_within_the_same_second_is_a_new_event(orders, writeback_on):
    _created, synced = synced_order(orders)
    first_stamp = merchant_edit(orders, synced.salesforce_id, Status="Shipped")
    assert salesforce_orders_poll(force=True).stored == 1
    # The same second (the stand-in stamps whole seconds, as Salesforce compares them): the same SystemModstamp.
    second_stamp = merchant_edit(orders, synced.salesforce_id, system_modstamp=first_stamp, Status="Cancelled")
    assert second_stamp == first_stamp

    assert salesforce_orders_poll(force=True).stored == 1
    statuses = [event.body["data"]["Status"] for event in WebhookEvent.objects.filter(scope=WRITEBACK_SCOPE)]
    assert sorted(statuses) == ["Cancelled", "Shipped"]


def test_a_change_committed_late_with_an_older_stamp_is_caught_by_the_overlap(orders, writeback_on):
    _created, synced = synced_order(orders)
    other, other_synced = synced_order(orders)
    merchant_edit(orders, synced.salesforce_id, Status="Shipped")
    salesforce_orders_poll(force=True)
    checkpoint = WritebackCheckpoint.objects.get().modstamp
    # A transaction that began 30 s before the checkpoint commits only now (overlap: 120 s).
    late = (checkpoint - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    merchant_edit(orders, other_synced.salesforce_id, system_modstamp=late, Status="Cancelled")

    poll = salesforce_orders_poll(force=True)

    assert (poll.read, poll.stored) == (2, 1)
    assert WritebackCheckpoint.objects.get().modstamp == checkpoint  # never moves back
    event = WebhookEvent.objects.get(scope=WRITEBACK_SCOPE, resource_id=str(other["id"]))
    assert process(event).status == WebhookEvent.Status.DONE
    assert orders.bc.order_get(other["id"])["status_id"] == CANCELLED


def test_the_poll_is_scheduled_and_its_scope_is_no_bigcommerce_hook():
    from django_q.models import Schedule

    from sync.webhook_registration import handled_scopes

    schedule = Schedule.objects.get(name="b2s: Salesforce order changes poll")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "orders.tasks.salesforce_orders_poll_task",
        "I",
        1,
    )
    assert WRITEBACK_SCOPE not in handled_scopes() and "store/order/updated" in handled_scopes()


def test_the_poll_pages_and_a_failure_between_pages_keeps_what_was_stored(orders, writeback_on):
    changed = [synced_order(orders)[1] for _ in range(3)]
    for synced in changed:
        merchant_edit(orders, synced.salesforce_id, Status="Cancelled")
    orders.sf.page_size = 2  # Salesforce pages by 2,000; the stand-in by 2 here
    # The second page (nextRecordsUrl) fails once: the process stops there.
    orders.sf.fault_add("status", status=503, path=r"/query/.", method="GET", count=1)

    with pytest.raises(SalesforceError):
        salesforce_orders_poll(force=True)

    assert WebhookEvent.objects.filter(scope=WRITEBACK_SCOPE).count() == 2  # the first page, stored
    checkpoint = WritebackCheckpoint.objects.get()
    assert checkpoint.changes == 2 and checkpoint.modstamp is not None
    poll = salesforce_orders_poll(force=True)
    assert (poll.requests, poll.read, poll.stored) == (2, 3, 1)
    assert sorted(WebhookEvent.objects.filter(scope=WRITEBACK_SCOPE).values_list("resource_id", flat=True)) == sorted(
        str(synced.order_id) for synced in changed
    )
