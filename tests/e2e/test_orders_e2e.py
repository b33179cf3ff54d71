"""End to end, orders: the BigCommerce stand-in fires 200 orders' webhooks (duplicated and out of
order) at a live b2s; a real django-q2 cluster (two workers) syncs them into the Salesforce stand-in.

Afterwards Salesforce holds exactly 200 Orders whose items, tax, shipping and totals equal the
BigCommerce data to the cent, and the audit log has exactly one success per stored event.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from audit.models import AuditLog
from sync.models import Store, WebhookEvent
from tests.e2e.conftest import live_store_create, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "e2e-orders-secret-0123456789"
ORDERS = 200
CENT = Decimal("0.01")


def cents(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


@pytest.fixture
def store(bigcommerce_sandbox, live_server, transactional_db) -> Store:
    return live_store_create(
        bigcommerce_sandbox=bigcommerce_sandbox,
        live_server=live_server,
        secret=SECRET,
        scopes=("store/order/*", "store/shipment/*"),
    )


def settled(cluster) -> bool:
    if cluster.process.poll() is not None:
        pytest.fail(f"qcluster died:\n{cluster.log()}")
    rows = list(WebhookEvent.objects.values_list("status", "next_attempt_at"))
    return bool(rows) and not any(status in ("pending", "processing") or next_at for status, next_at in rows)


def test_two_hundred_orders_end_to_end(store, qcluster, bigcommerce_sandbox, salesforce_sandbox):
    bc, sf = bigcommerce_sandbox.app, salesforce_sandbox.app
    rng = random.Random(5)
    # A Pro plan's quota: the run stays within it (b2s would otherwise wait for the window).
    bc.configure(
        rate_limit_quota=450, duplicate_probability=0.3, reorder="shuffle", reorder_window=12, reorder_hold_ms=300
    )
    customers = [bc.customer_create(email=f"buyer{index}@example.com")["id"] for index in range(25)]
    catalog = [product for product in bc._data.catalog if product.type == "physical"]

    created = []
    for index in range(ORDERS):
        spec = {
            "customer_id": rng.choice(customers) if rng.random() < 0.6 else 0,
            "currency_code": "USD",
            "status_id": rng.choice((1, 7, 9, 11, 11, 11, 10)),
            "products": [
                {"product_id": product.id, "quantity": rng.randint(1, 3)}
                for product in rng.sample(catalog, rng.randint(1, 4))
            ],
        }
        if spec["customer_id"] == 0:
            spec["email"] = f"guest{index % 40}@example.com"
        created.append(bc.order_create(spec)["id"])
    # Later events for some orders: status changes, shipments and refunds.
    for order_id in rng.sample(created, 30):
        bc.order_status_set(order_id, rng.choice((9, 10, 11, 12)))
    for order_id in rng.sample(created, 15):
        bc.shipment_create(order_id, tracking_number=f"1Z{order_id:016d}")
    for order_id in rng.sample(created, 15):
        bc.refund_create(order_id, "1.00")
    bc.deliveries_release()
    bc.deliveries_wait(timeout=120)
    deliveries = bc.deliveries()
    assert deliveries and all(delivery["status"] == 200 for delivery in deliveries)
    wait_for(lambda: settled(qcluster), timeout=240, what="every order event")

    # Every stored event succeeded, once; duplicates were not stored twice.
    events = list(WebhookEvent.objects.all())
    assert len({(e.scope, e.hash, e.event_created_at) for e in events}) == len(events)
    assert {event.status for event in events} == {"done"}, qcluster.log()
    for event in events:
        assert AuditLog.objects.filter(event=event, status="success").count() == 1, event
    assert AuditLog.objects.filter(status="success", event__isnull=False).count() == len(events)

    # Exactly 200 Orders, each equal to BigCommerce to the cent.
    records = sf.records("Order")
    assert len(records) == ORDERS
    by_key = {record["BigCommerceOrderId__c"]: record for record in records}
    items_by_order: dict[str, list[dict]] = {}
    for item in sf.records("OrderItem"):
        items_by_order.setdefault(item["OrderId"], []).append(item)
    state = {entry["order"]["id"]: entry for entry in bc.state()["orders"]}
    for order_id in created:
        order, lines = state[order_id]["order"], state[order_id]["lines"]
        record = by_key[f"sandbox:{order_id}"]
        items = items_by_order.get(record["Id"], [])
        assert sorted(item["BigCommerceOrderItemId__c"] for item in items) == sorted(
            f"sandbox:{line['id']}" for line in lines
        )
        item_sum = sum((cents(item["TotalPrice"]) for item in items), Decimal("0"))
        assert item_sum == cents(order["subtotal_inc_tax"]) == cents(record["TotalAmount"])
        assert cents(record["Subtotal__c"]) == cents(order["subtotal_inc_tax"])
        assert cents(record["TaxTotal__c"]) == cents(order["total_tax"])
        assert cents(record["ShippingTotal__c"]) == cents(order["shipping_cost_inc_tax"])
        assert cents(record["Grand_Total__c"]) == cents(order["total_inc_tax"])
        assert cents(record["Refunded_Amount__c"]) == cents(order["refunded_amount"])
        assert record["BC_Status__c"] == order["status"]
        if order["items_shipped"]:
            assert record["TrackingNumber__c"] == f"1Z{order_id:016d}"
    # One Product2 and one active standard entry per product used, however many workers raced.
    used = {f"sandbox:{line['product_id']}:{line['variant_id']}" for entry in state.values() for line in entry["lines"]}
    products = sf.records("Product2")
    assert sorted(p["BigCommerceProductId__c"] for p in products) == sorted(used)
    assert len(sf.records("PricebookEntry")) == len(used)
    # Each order's first sync published its Created event, and only that one.
    created_events = sf.platform_events("BigCommerce_Order_Created__e")
    assert sorted(event["fields"]["BigCommerceOrderId__c"] for event in created_events) == sorted(by_key)


def test_orders_end_to_end_saw_duplicates_and_reordering(store, qcluster, bigcommerce_sandbox, salesforce_sandbox):
    """The knobs really bite: an order's later event stored before its created event converges too."""
    bc, sf = bigcommerce_sandbox.app, salesforce_sandbox.app
    bc.configure(duplicate_probability=1.0, reorder="reverse", reorder_window=3, reorder_hold_ms=3000)
    product = next(product for product in bc._data.catalog if product.type == "physical")
    order = bc.order_create(
        {
            "customer_id": 0,
            "currency_code": "USD",
            "email": "late@example.com",
            "products": [{"product_id": product.id}],
        }
    )
    bc.order_status_set(order["id"], 10)  # statusUpdated + updated, held with created and sent newest first
    bc.deliveries_wait(timeout=60)
    wait_for(lambda: settled(qcluster), timeout=120, what="the reordered events")
    events = list(WebhookEvent.objects.order_by("received_at", "id"))
    assert events[0].scope != "store/order/created"  # a later event arrived first
    assert len(bc.deliveries()) >= 2 * len(events)  # every delivery was duplicated, each stored once
    assert {event.status for event in events} == {"done"}, qcluster.log()
    [record] = sf.records("Order")
    assert record["BC_Status__c"] == "Completed" and record["Status"] == "Activated"
    assert len(sf.records("OrderItem")) == 1
    assert len(sf.platform_events("BigCommerce_Order_Created__e")) == 1
    assert AuditLog.objects.filter(status="success").count() == len(events)
