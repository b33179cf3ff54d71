"""Sync again now: which resource a resync names, its event, and an order converged through the inbox.

The convergence test runs against both stand-ins over HTTPS: the order changes in BigCommerce after its last
webhook, a resync of one of its shipment events stores a new event, and processing that event brings the
Salesforce Order to the order's current status, with its own audit entry.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit.models import AuditLog
from orders.models import SyncedOrder
from sync.models import WebhookEvent
from sync.services.resync import (
    RESYNC_HEADER,
    ResyncTarget,
    ResyncUnsupported,
    cart_resync,
    order_resync,
    resync_target,
    webhook_event_resync,
    webhook_events_resync,
)
from sync.services.webhooks import webhook_event_process
from tests.factories.sync import StoreFactory, WebhookEventFactory

pytestmark = pytest.mark.django_db


def _event(scope: str, data: dict, **fields) -> WebhookEvent:
    resource_id = str(data.get("id", ""))
    return WebhookEventFactory(
        scope=scope,
        resource_id=resource_id,
        body={"scope": scope, "data": data},
        event_created_at=1_764_930_000,
        **fields,
    )


@pytest.mark.parametrize(
    ("scope", "data", "target"),
    [
        ("store/order/created", {"type": "order", "id": 100}, ResyncTarget("store/order/updated", "order", "100")),
        ("store/order/archived", {"type": "order", "id": 101}, ResyncTarget("store/order/updated", "order", "101")),
        (
            "store/order/refund/created",
            {"type": "order", "id": 102, "refund": {"refund_id": 7}},
            ResyncTarget("store/order/updated", "order", "102"),
        ),
        (
            "store/shipment/created",
            {"type": "shipment", "id": 9, "orderId": 103},
            ResyncTarget("store/order/updated", "order", "103"),
        ),
        (
            "store/customer/created",
            {"type": "customer", "id": 5},
            ResyncTarget("store/customer/updated", "customer", "5"),
        ),
        (
            "store/customer/address/updated",
            {"type": "customer", "id": 88, "address": {"customer_id": 6}},
            ResyncTarget("store/customer/updated", "customer", "6"),
        ),
        (
            "store/cart/abandoned",
            {"type": "cart", "id": "c-1"},
            ResyncTarget("store/cart/abandoned", "cart", "c-1", created_at=1_764_930_000),
        ),
        (
            "store/cart/converted",
            {"type": "cart", "id": "c-2", "orderId": 104},
            ResyncTarget("store/cart/converted", "cart", "c-2", {"orderId": 104}, created_at=1_764_930_000),
        ),
    ],
)
def test_each_scope_resyncs_its_resource(scope, data, target):
    assert resync_target(_event(scope, data)) == target


@pytest.mark.parametrize(
    ("scope", "data"),
    [
        ("store/product/updated", {"type": "product", "id": 1}),  # b2s ignores products
        ("store/shipment/created", {"type": "shipment", "id": 9}),  # no orderId
        ("store/customer/address/created", {"type": "customer", "id": 88}),  # the address id is no customer id
        ("store/cart/converted", {"type": "cart", "id": "c-3"}),  # no orderId
    ],
)
def test_events_naming_nothing_to_read_again(scope, data):
    with pytest.raises(ResyncUnsupported):
        resync_target(_event(scope, data))


def test_resync_events_are_new_pending_events_that_never_collide():
    store = StoreFactory(store_hash="resyncme", store_id="1001")
    first = order_resync(store=store, order_id=250, requested_by="ops-anna")
    second = order_resync(store=store, order_id=250, requested_by="ops-anna")  # the same second: still stored
    assert first.pk != second.pk
    for event in (first, second):
        assert (event.status, event.attempts, event.scope) == ("pending", 0, "store/order/updated")
        assert (event.resource_type, event.resource_id) == ("order", "250")
        assert event.hash.startswith("resync:") and event.body["hash"] == event.hash
        assert event.body["data"] == {"type": "order", "id": "250"}
        assert event.body["producer"] == "stores/resyncme" and event.body["store_id"] == "1001"
        assert event.headers == {RESYNC_HEADER: "requested by ops-anna"}
    assert first.hash != second.hash


def test_a_cart_keeps_its_abandonment_moment_or_resyncs_its_conversion():
    store = StoreFactory()
    abandoned_at = datetime(2026, 12, 1, 9, 30, 0, tzinfo=UTC)
    open_cart = cart_resync(store=store, cart_id="c-open", abandoned_at=abandoned_at)
    assert (open_cart.scope, open_cart.event_created_at) == ("store/cart/abandoned", int(abandoned_at.timestamp()))
    converted_at = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
    converted = cart_resync(
        store=store, cart_id="c-won", abandoned_at=abandoned_at, order_id=4711, converted_at=converted_at
    )
    assert converted.scope == "store/cart/converted"
    assert converted.body["data"] == {"type": "cart", "id": "c-won", "orderId": 4711}
    assert converted.event_created_at == int(converted_at.timestamp())


def test_bulk_resync_reads_each_resource_once_and_counts_the_rest():
    store = StoreFactory()
    created = _event("store/order/created", {"type": "order", "id": 300}, store=store)
    shipped = _event("store/shipment/created", {"type": "shipment", "id": 1, "orderId": 300}, store=store)
    product = _event("store/product/updated", {"type": "product", "id": 2}, store=store)
    result = webhook_events_resync(events=WebhookEvent.objects.filter(pk__in=[created.pk, shipped.pk, product.pk]))
    assert len(result.created) == 1 and result.unsupported == [product.pk]
    assert WebhookEvent.objects.get(pk=result.created[0]).resource_id == "300"


def test_a_resync_converges_the_order_to_its_current_state(orders, django_capture_on_commit_callbacks):
    order = orders.bc.order_create({"customer_id": 0, "currency_code": "USD", "status_id": 11})
    orders.deliver("store/order/created", order["id"])
    assert orders.order_record(order["id"])["BC_Status__c"] == "Awaiting Fulfillment"
    # The order moves on in BigCommerce; its webhook never arrived.
    orders.bc.order_status_set(order["id"], 10)
    shipment_event = orders.event("store/shipment/created", order["id"])

    with django_capture_on_commit_callbacks():
        event = webhook_event_resync(event=shipment_event, requested_by="ops-anna")
    webhook_event_process(event_id=event.pk)

    event.refresh_from_db()
    assert event.status == "done", event.last_error_message
    record = orders.order_record(order["id"])
    assert record["BC_Status__c"] == "Completed"
    assert SyncedOrder.objects.get(store=orders.store, order_id=order["id"]).bc_status_id == 10
    entry = AuditLog.objects.get(event=event)
    assert (entry.operation, entry.status, entry.bigcommerce_id) == ("ORDER_SYNC", "success", str(order["id"]))
    assert record["Id"] in entry.salesforce_ids
