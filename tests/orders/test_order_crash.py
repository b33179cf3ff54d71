"""A worker that dies between a Salesforce write and the local save that follows, then a retry.

The crash is the local save raising right after Salesforce answered (``_order_record`` for order
graphs and batches, the shipment and archive saves for their cheap paths): the database keeps
nothing of that sync, Salesforce keeps everything. The retry (a redelivery, the next backfill run)
must converge with no duplicate Order, item, Account or Contact, and never a second Created event;
events that may be sent again (Updated, Shipped) carry the same EventKey__c, so a subscriber drops
the repeat. Every stand-in rule is on.
"""

from __future__ import annotations

from collections import Counter

import pytest

import orders.services as order_module
from orders.batches import orders_sync_batch
from orders.models import SyncedOrder, SyncedOrderItem
from orders.services import event_key
from tests.orders.test_order_batch import dollar_orders, fetched
from tests.orders.test_order_sync import assert_items_match, make_order, physical_products

pytestmark = pytest.mark.django_db


class WorkerKilled(RuntimeError):
    pass


@pytest.fixture
def crash_on(monkeypatch):
    """``crash_on(name)``: the module function ``orders.services.<name>`` raises until ``undo()``."""

    def crash(name: str) -> None:
        def killed(*args, **kwargs):
            raise WorkerKilled(f"worker killed in {name}")

        monkeypatch.setattr(order_module, name, killed)

    crash.undo = monkeypatch.undo  # type: ignore[attr-defined]
    return crash


@pytest.fixture
def strict(orders):
    assert all(orders.sf.rules.values()), orders.sf.rules
    return orders


def created_keys(orders) -> list[str]:
    return [event["fields"]["EventKey__c"] for event in orders.sf.platform_events("BigCommerce_Order_Created__e")]


def assert_no_duplicates(orders, order_ids: list[int]) -> None:
    """One Order per BigCommerce order with its items once each; no person twice; local rows match."""
    keys = Counter(record["BigCommerceOrderId__c"] for record in orders.records("Order"))
    assert keys == Counter(f"sandbox:{order_id}" for order_id in order_ids)
    items = Counter(record["BigCommerceOrderItemId__c"] for record in orders.records("OrderItem"))
    assert all(count == 1 for count in items.values()), items
    for order_id in order_ids:
        record = orders.order_record(order_id)
        assert_items_match(orders, order_id, record)
        synced = SyncedOrder.objects.get(order_id=order_id)
        assert synced.salesforce_id == record["Id"] and synced.account_id == record["AccountId"]
    for sobject in ("Account", "Contact"):
        owners = Counter(record.get("BigCommerceCustomerId__c") for record in orders.records(sobject))
        assert all(count == 1 for count in owners.values()), (sobject, owners)
        emails = Counter((record.get("Email") or "").lower() for record in orders.records("Contact"))
        assert all(count == 1 for email, count in emails.items() if email), emails
    assert SyncedOrderItem.objects.count() == len(orders.records("OrderItem"))


def test_crash_after_a_new_orders_graph(strict, crash_on):
    products = physical_products(strict, 2)
    created = make_order(
        strict,
        {"email": "crash.new@example.com", "status_id": 11, "products": [{"product_id": p.id} for p in products]},
    )
    crash_on("_order_record")
    with pytest.raises(WorkerKilled):
        strict.deliver("store/order/created", created["id"])
    assert len(strict.records("Order")) == 1 and not SyncedOrder.objects.exists()
    assert len(created_keys(strict)) == 1
    crash_on.undo()

    result, _ = strict.deliver("store/order/created", created["id"])  # the redelivery

    assert result.details["recovered"] is True and result.details["events"] == []
    assert_no_duplicates(strict, [created["id"]])
    assert strict.order_record(created["id"])["StatusCode"] == "Activated"
    assert created_keys(strict) == [event_key(store_hash="sandbox", order_id=created["id"], kind="Created")]
    # And it is settled: the next delivery needs nothing.
    again, costs = strict.deliver("store/order/created", created["id"])
    assert again.details["unchanged"] is True and costs.salesforce == 0


def test_crash_after_an_edit_of_an_activated_order(strict, crash_on):
    products = physical_products(strict, 3)
    created = make_order(
        strict,
        {
            "email": "crash.edit@example.com",
            "status_id": 11,
            "products": [{"product_id": products[0].id}, {"product_id": products[1].id, "quantity": 2}],
        },
    )
    strict.deliver("store/order/created", created["id"])
    strict.bc.order_update(
        created["id"], products=[{"product_id": products[0].id, "quantity": 3}, {"product_id": products[2].id}]
    )
    crash_on("_order_record")
    with pytest.raises(WorkerKilled):
        strict.deliver("store/order/updated", created["id"])
    crash_on.undo()

    strict.deliver("store/order/updated", created["id"])

    assert_no_duplicates(strict, [created["id"]])
    assert strict.order_record(created["id"])["StatusCode"] == "Activated"
    assert len(created_keys(strict)) == 1
    # The edit's Updated event may go out twice (the crash hid the first from the retry): one key.
    updated = [e["fields"]["EventKey__c"] for e in strict.sf.platform_events("BigCommerce_Order_Updated__e")]
    assert len(updated) >= 1 and len(set(updated)) == 1


@pytest.mark.parametrize("mode", ["graphs", "collections"])
def test_crash_after_a_batch(strict, crash_on, mode):
    ids = dollar_orders(strict, 12)
    minimum = 1 if mode == "collections" else 10_000
    crash_on("_order_record")
    with pytest.raises(WorkerKilled):
        orders_sync_batch(store=strict.store, orders=fetched(strict, ids), events=True, collections_min=minimum)
    assert len(strict.records("Order")) == 12 and not SyncedOrder.objects.exists()
    first_keys = created_keys(strict)
    assert len(first_keys) == 12
    crash_on.undo()

    result = orders_sync_batch(store=strict.store, orders=fetched(strict, ids), events=True, collections_min=minimum)

    assert result.failed == {} and set(result.results) == set(ids)
    assert_no_duplicates(strict, ids)
    assert sorted(created_keys(strict)) == sorted(first_keys)  # no second Created for any order
    assert all(result.results[order_id].details["events"] == [] for order_id in ids)


def test_crash_after_a_shipment(strict, crash_on):
    product = physical_products(strict, 1)[0]
    created = make_order(
        strict, {"email": "crash.ship@example.com", "status_id": 11, "products": [{"product_id": product.id}]}
    )
    strict.deliver("store/order/created", created["id"])
    shipment = strict.bc.shipment_create(created["id"], tracking_number="1Z999AA10123456784")
    crash_on("_audit_success")  # inside the shipment's local transaction, after Salesforce answered
    with pytest.raises(WorkerKilled):
        strict.deliver("store/shipment/created", created["id"], id=shipment["id"])
    assert SyncedOrder.objects.get(order_id=created["id"]).shipment_fields == {}
    crash_on.undo()

    strict.deliver("store/shipment/created", created["id"], id=shipment["id"])

    assert_no_duplicates(strict, [created["id"]])
    record = strict.order_record(created["id"])
    assert record["TrackingNumber__c"] == "1Z999AA10123456784" and record["StatusCode"] == "Activated"
    shipped = [e["fields"]["EventKey__c"] for e in strict.sf.platform_events("BigCommerce_Order_Shipped__e")]
    assert len(shipped) == 2 and len(set(shipped)) == 1  # sent again by the retry, with the same key
    # The order event that follows finds the shipment recorded: no third Shipped.
    strict.deliver("store/order/updated", created["id"])
    assert len(strict.sf.platform_events("BigCommerce_Order_Shipped__e")) == 2
    assert len(created_keys(strict)) == 1


def test_crash_after_an_archive(strict, crash_on):
    product = physical_products(strict, 1)[0]
    created = make_order(
        strict, {"email": "crash.archive@example.com", "status_id": 11, "products": [{"product_id": product.id}]}
    )
    strict.deliver("store/order/created", created["id"])
    strict.bc.order_archive(created["id"])
    crash_on("_order_record")
    with pytest.raises(WorkerKilled):
        strict.deliver("store/order/archived", created["id"])
    assert strict.order_record(created["id"])["Archived__c"] is True
    assert SyncedOrder.objects.get(order_id=created["id"]).archived is False
    crash_on.undo()

    strict.deliver("store/order/archived", created["id"])

    assert_no_duplicates(strict, [created["id"]])
    assert SyncedOrder.objects.get(order_id=created["id"]).archived is True
    assert len(created_keys(strict)) == 1
