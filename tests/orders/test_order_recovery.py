"""When what b2s remembers does not match Salesforce: lost local state, records deleted by users,
products that exist in Salesforce already; and the feature flags and the audit entry of a direct sync."""

from __future__ import annotations

from decimal import Decimal

import pytest

from audit.models import AuditLog
from orders.models import KnownProduct, SyncedOrder, SyncedOrderItem
from orders.services import order_sync
from sync.config import config
from sync.models import FeatureFlag
from tests.factories.sync import WebhookEventFactory
from tests.orders.test_order_sync import assert_items_match, assert_order_matches, cents, make_order, physical_products

pytestmark = pytest.mark.django_db


def flags_set(**values: bool) -> None:
    for key, enabled in values.items():
        assert FeatureFlag.objects.filter(key=key).update(enabled=enabled) == 1
    config.invalidate()


def test_local_state_lost_after_a_sync(orders):
    products = physical_products(orders, 3)
    created = make_order(
        orders,
        {"email": "lost@example.com", "status_id": 11, "products": [{"product_id": p.id} for p in products[:2]]},
    )
    orders.deliver("store/order/created", created["id"])
    first = orders.order_record(created["id"])
    # The local database lost everything it knew (a restore, or a crash before the local commit).
    SyncedOrderItem.objects.all().delete()
    SyncedOrder.objects.all().delete()
    KnownProduct.objects.all().delete()

    orders.bc.order_update(
        created["id"], products=[{"product_id": products[0].id}, {"product_id": products[2].id, "quantity": 2}]
    )
    result, costs = orders.deliver("store/order/updated", created["id"])

    assert result.details["recovered"] is True
    # entries query, the graph (the Order's insert fails: it exists), the refresh, the corrective graph
    assert costs.salesforce == 4
    record = orders.order_record(created["id"])
    assert record["Id"] == first["Id"] and record["Status"] == "Activated"
    assert_order_matches(orders, orders.bc.order_get(created["id"]), record, account_id=first["AccountId"])
    assert_items_match(orders, created["id"], record)  # the two old items are gone
    assert len(orders.records("Product2")) == 3 and len(orders.records("PricebookEntry")) == 3
    # The Order's insert failed (it exists): the second graph updates it and publishes no second Created.
    assert len(orders.sf.platform_events("BigCommerce_Order_Created__e")) == 1
    assert SyncedOrderItem.objects.count() == 2 and KnownProduct.objects.count() == 2  # the products in use

    # And the next change is back to one request.
    orders.bc.order_update(created["id"], discount_amount="1.00")
    _, costs = orders.deliver("store/order/updated", created["id"])
    assert costs.salesforce == 1


def test_crash_between_salesforce_and_the_local_commit(orders, monkeypatch):
    import orders.services as order_module

    product = physical_products(orders, 1)[0]
    created = make_order(
        orders, {"email": "crash@example.com", "status_id": 11, "products": [{"product_id": product.id}]}
    )
    orders.warm_up()

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    # The first step after the graph answered (the ledger was recorded before the request).
    monkeypatch.setattr(order_module, "account_fields_settle", crash)
    with pytest.raises(RuntimeError):
        orders.deliver("store/order/created", created["id"])
    assert len(orders.records("Order")) == 1 and not SyncedOrder.objects.exists()
    monkeypatch.undo()

    # The redelivery: the items it creates exist already (OrderId/PricebookEntryId cannot be written
    # again), so the graph fails, the state is read back and the order converges. Requests: the
    # entries query (the products' local rows were rolled back too), the failed graph, the refresh,
    # the graph; and the customer's lookup by email (the remembered link was rolled back too: it finds
    # the Contact the first graph made, carrying the customer's id).
    result, costs = orders.deliver("store/order/created", created["id"])
    assert result.details["recovered"] is True and costs.salesforce == 5
    record = orders.order_record(created["id"])
    assert_items_match(orders, created["id"], record)
    assert len(orders.records("OrderItem")) == 1 and record["Status"] == "Activated"


def test_item_deleted_in_salesforce_by_a_user(orders):
    products = physical_products(orders, 2)
    created = make_order(
        orders,
        {"email": "manual@example.com", "status_id": 1, "products": [{"product_id": p.id} for p in products]},
    )
    orders.deliver("store/order/created", created["id"])
    record = orders.order_record(created["id"])
    assert record["Status"] == "Draft"
    victim = orders.items_of(record["Id"])[0]
    with orders.sf.lock:
        orders.sf.org.delete("OrderItem", victim["Id"])
        orders.sf.org.commit()

    line = next(
        line for line in orders.lines(created["id"]) if f"sandbox:{line['id']}" == victim["BigCommerceOrderItemId__c"]
    )
    orders.bc.order_update(
        created["id"],
        products=[{"product_id": line["product_id"], "variant_id": line["variant_id"], "quantity": 5}],
    )
    result, _ = orders.deliver("store/order/updated", created["id"])
    assert result.details["recovered"] is True
    assert_items_match(orders, created["id"], orders.order_record(created["id"]))


def test_products_that_already_exist_in_salesforce_are_reused(orders):
    product = physical_products(orders, 2)
    first, second = product
    variant_first, variant_second = first.variants[0], second.variants[0]
    # Products created before b2s ran (or by another b2s process): one with an active, one with an inactive entry.
    standard = orders.sf.org.standard_pricebook_id
    existing = {}
    for item, variant, active in ((first, variant_first, True), (second, variant_second, False)):
        product_id = orders.sf.record_create(
            "Product2", {"Name": item.name, "BigCommerceProductId__c": f"sandbox:{item.id}:{variant.id}"}
        )
        entry_id = orders.sf.record_create(
            "PricebookEntry",
            {"Pricebook2Id": standard, "Product2Id": product_id, "UnitPrice": 1, "IsActive": active},
        )
        existing[item.id] = (product_id, entry_id)
    created = make_order(
        orders,
        {
            "email": "reuse@example.com",
            "products": [
                {"product_id": first.id, "variant_id": variant_first.id},
                {"product_id": second.id, "variant_id": variant_second.id},
            ],
        },
    )
    orders.warm_up()
    _, costs = orders.deliver("store/order/created", created["id"])
    assert costs.salesforce == 3  # the customer's lookup, the entries query and the graph; no failure, no retry
    assert len(orders.records("Product2")) == 2 and len(orders.records("PricebookEntry")) == 2
    items = {item["Product2Id"]: item for item in orders.items_of(orders.order_record(created["id"])["Id"])}
    for product_id, entry_id in existing.values():
        assert items[product_id]["PricebookEntryId"] == entry_id
        assert orders.sf.record("PricebookEntry", entry_id)["IsActive"] is True
    assert set(KnownProduct.objects.values_list("pricebook_entry_id", flat=True)) == {e for _, e in existing.values()}


def test_flags_leave_out_what_they_switch_off(orders):
    flags_set(payment_details=False, tax_shipping_breakdown=False, fulfillment_status=False, refunds=False)
    product = physical_products(orders, 1)[0]
    created = make_order(
        orders,
        {
            "email": "flags@example.com",
            "status_id": 11,
            "payment_method": "PayPal",
            "products": [{"product_id": product.id}],
        },
    )
    orders.bc.shipment_create(created["id"], tracking_number="TRACK-1")
    orders.bc.refund_create(created["id"], "1.00")
    _, costs = orders.deliver("store/order/created", created["id"])
    assert costs.bigcommerce == 1  # shipped, but fulfillment is off: no /shipments
    record = orders.order_record(created["id"])
    for field in ("PaymentMethod__c", "TransactionId__c", "Subtotal__c", "TaxTotal__c", "ShippingTotal__c"):
        assert record[field] is None, field
    assert record["TrackingNumber__c"] is None and record["Refunded_Amount__c"] is None
    assert cents(record["Grand_Total__c"]) == cents(created["total_inc_tax"])


def test_direct_sync_writes_its_audit_entry(orders):
    product = physical_products(orders, 1)[0]
    created = make_order(orders, {"email": "audit@example.com", "products": [{"product_id": product.id}]})
    before = orders.sf.api_calls_counted()  # the harness's set-up read the field lengths (once per process)
    result = order_sync(store=orders.store, order_id=created["id"])
    [entry] = AuditLog.objects.all()
    assert entry.operation == "ORDER_SYNC" and entry.status == "success"
    assert entry.bigcommerce_id == str(created["id"])
    record = orders.order_record(created["id"])
    assert record["Id"] in entry.salesforce_ids and record["AccountId"] in entry.salesforce_ids
    # login excluded: the customer's lookup by email, pricebook, describe, entries query, graph
    assert entry.salesforce_api_calls == orders.sf.api_calls_counted() - before == 5
    assert entry.bigcommerce_api_calls == 1
    assert entry.details["events"] == ["Created"] and result.details == entry.details

    # A sync with nothing new still leaves its (cheap) entry.
    order_sync(store=orders.store, order_id=created["id"])
    latest = AuditLog.objects.order_by("-id").first()
    assert latest.details["unchanged"] is True and latest.salesforce_api_calls == 0
    assert Decimal(str(orders.one("Account")["CLV__c"])) == cents(created["total_inc_tax"])


def test_remembered_customer_is_fetched_again_after_a_customer_webhook(orders):
    customer = orders.bc.customer_create(first_name="Grace", last_name="Hopper", email="grace@example.com", company="")
    product = physical_products(orders, 1)[0]
    first = make_order(orders, {"customer_id": customer["id"], "products": [{"product_id": product.id}]})
    _, costs = orders.deliver("store/order/created", first["id"])
    assert costs.bigcommerce_paths[-1] == "/stores/sandbox/v3/customers"

    # The customer renames herself; intake stores the store/customer/updated webhook.
    orders.bc.customer_update(customer["id"], last_name="Murray Hopper")
    WebhookEventFactory(store=orders.store, scope="store/customer/updated", resource_id=str(customer["id"]))
    second = make_order(orders, {"customer_id": customer["id"], "products": [{"product_id": product.id}]})
    _, costs = orders.deliver("store/order/created", second["id"])
    assert costs.bigcommerce_paths == [f"/stores/sandbox/v2/orders/{second['id']}", "/stores/sandbox/v3/customers"]
    assert orders.one("Contact")["LastName"] == "Murray Hopper"

    # Remembered again: the next order needs only the order request.
    third = make_order(orders, {"customer_id": customer["id"], "products": [{"product_id": product.id}]})
    _, costs = orders.deliver("store/order/created", third["id"])
    assert costs.bigcommerce == 1
