"""``orders_sync_batch`` with sObject Collections (batches of 50 orders and more), against both stand-ins.

Each test reads the stand-ins' own request counters and the records field by field: edits of
orders already synced, a record that fails (only its orders fail, nothing is recorded for them,
the next run converges them), lost local state and a batch sent again after a failed request (the
state is read back and the orders converge without duplicates), products that exist in Salesforce
already, platform events, and a batch that does not read shipments.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.models import CustomerValues, LedgerEntry
from audit.models import AuditLog
from orders.batches import orders_sync_batch
from orders.models import KnownProduct, SyncedOrder, SyncedOrderItem
from sync.bigcommerce import bigcommerce_client
from sync.customers import guest_key_value
from sync.salesforce import SalesforceClient, SalesforceError
from tests.orders.test_order_sync import assert_items_match, assert_order_matches, cents, make_order, physical_products

pytestmark = pytest.mark.django_db

PRODUCTS = 8


def dollar_orders(orders, count: int) -> list[int]:
    """``count`` US-dollar orders: a third by 4 registered customers, the rest by 7 repeat guests;
    1-3 lines from 8 products; every fifth Pending (Draft in Salesforce), the rest Awaiting
    Fulfillment (Activated)."""
    products = physical_products(orders, PRODUCTS)
    customers = [orders.bc.customer_create(email=f"buyer{index}@example.com")["id"] for index in range(4)]
    ids = []
    for index in range(count):
        spec = {
            "status_id": 1 if index % 5 == 0 else 11,
            "products": [
                {"product_id": products[(index + offset) % PRODUCTS].id, "quantity": 1 + offset}
                for offset in range(1 + index % 3)
            ],
        }
        if index % 3 == 0:
            spec["customer_id"] = customers[index % 4]
        else:
            spec["email"] = f"guest{index % 7}@example.com"
        ids.append(make_order(orders, spec)["id"])
    return ids


def fetched(orders, ids: list[int]) -> list[dict]:
    """The orders as the backfill reads them: the order list with the consignments' lines."""
    wanted = set(ids)
    rows = [row for row in bigcommerce_client(orders.store).orders_iter(sort="id:asc") if row["id"] in wanted]
    assert len(rows) == len(wanted)
    return rows


def batch(orders, ids: list[int], **options):
    """Run one batch; answer its result and the Salesforce requests the stand-in counted."""
    rows = fetched(orders, ids)
    before = orders.sf.api_calls_counted()
    result = orders_sync_batch(store=orders.store, orders=rows, events=options.pop("events", False), **options)
    return result, orders.sf.api_calls_counted() - before


def assert_converged(orders, ids: list[int]) -> None:
    """Exactly one Order per BigCommerce order, with its fields, items and status; the local rows match."""
    keys = [record["BigCommerceOrderId__c"] for record in orders.records("Order")]
    assert sorted(keys) == sorted(f"sandbox:{order_id}" for order_id in ids)
    for order_id in ids:
        bc_order = orders.bc.order_get(order_id)
        record = orders.order_record(order_id)
        assert_order_matches(orders, bc_order, record, account_id=record["AccountId"])
        assert_items_match(orders, order_id, record)
        assert record["Status"] == ("Draft" if bc_order["status_id"] == 1 else "Activated")
        synced = SyncedOrder.objects.get(order_id=order_id)
        assert synced.salesforce_id == record["Id"] and synced.account_id == record["AccountId"]
        account = orders.sf.record("Account", record["AccountId"])
        assert account["BigCommerceCustomerId__c"] == synced.account_key
        assert {row.salesforce_id for row in synced.items.all()} == {
            item["Id"] for item in orders.items_of(record["Id"])
        }
    lines = sum(len(orders.lines(order_id)) for order_id in ids)
    assert len(orders.records("OrderItem")) == lines == SyncedOrderItem.objects.count()
    # One product and one standard price book entry per product, however they came to exist.
    assert len(orders.records("Product2")) == len(orders.records("PricebookEntry")) == PRODUCTS


def test_a_batch_of_new_orders_then_edits_of_synced_ones(orders):
    ids = dollar_orders(orders, 60)
    orders.warm_up()
    first, spent = batch(orders, ids)
    assert first.mode == "collections" and first.failed == {} and set(first.results) == set(ids)
    # Composite 1: Product2, PricebookEntry, Account, Contact and Order collections; composite 2, which
    # needs the new entries' ids: OrderItems and the Orders' status. Before them, one composite of queries
    # looks for the batch's new customers in the CRM by email.
    assert spent == first.composite_requests + 1 == 3
    assert_converged(orders, ids)
    assert KnownProduct.objects.count() == PRODUCTS
    assert LedgerEntry.objects.filter(order_id__in=ids).count() == 60
    assert AuditLog.objects.filter(bigcommerce_id__in=[str(i) for i in ids], status="success").count() == 60
    assert all(result.details["batch"] == "collections" for result in first.results.values())

    # Edits: lines of an activated order replaced, a Pending order now awaiting fulfillment, a discount.
    products = physical_products(orders, PRODUCTS)
    activated, pending, discounted = ids[1], ids[5], ids[2]
    before = orders.order_record(activated)
    old_items = {item["Id"] for item in orders.items_of(before["Id"])}
    orders.bc.order_update(activated, products=[{"product_id": products[7].id, "quantity": 4}])
    orders.bc.order_status_set(pending, 11)
    orders.bc.order_update(discounted, discount_amount="1.00")

    second, spent = batch(orders, ids)
    assert second.failed == {} and second.order_graphs == 3
    assert sum(1 for result in second.results.values() if result.details["unchanged"]) == 57
    # Account, Contact, Order, OrderItem delete, OrderItem and status collections: six, so two requests.
    assert spent == second.composite_requests == 2
    assert_converged(orders, ids)
    after = orders.order_record(activated)
    assert after["Id"] == before["Id"] and after["Status"] == "Activated"
    assert not old_items & {item["Id"] for item in orders.items_of(after["Id"])}
    assert all(orders.sf.record("OrderItem", item_id) is None for item_id in old_items)
    assert orders.order_record(pending)["Status"] == "Activated"
    assert cents(orders.order_record(discounted)["Discount_Total__c"]) == Decimal("1.00")

    third, spent = batch(orders, ids)
    assert spent == 0 and all(result.details["unchanged"] for result in third.results.values())


def test_a_failed_record_fails_only_its_orders_and_the_next_run_converges_them(orders):
    ids = dollar_orders(orders, 55)
    product = physical_products(orders, 1)[0]
    # Salesforce refuses this email on the Contact (INVALID_EMAIL_ADDRESS): the guest's two orders fail.
    bad = [
        make_order(orders, {"email": "nobody@localhost", "status_id": 11, "products": [{"product_id": product.id}]})[
            "id"
        ]
        for _ in range(2)
    ]
    orders.warm_up()
    result, _ = batch(orders, ids + bad)

    assert set(result.failed) == set(bad) and set(result.results) == set(ids)
    for reason in result.failed.values():
        key = "sandbox:" + guest_key_value("nobody@localhost")
        assert reason.startswith(f"Contact {key}: INVALID_EMAIL_ADDRESS"), reason
    # Nothing is recorded locally for them (no Order or item ids, no audit success) but the ledger, which
    # describes BigCommerce's orders (recorded before the request): nothing claims their analytics were pushed.
    assert not SyncedOrder.objects.filter(order_id__in=bad).exists()
    [bad_key] = set(LedgerEntry.objects.filter(order_id__in=bad).values_list("customer_key", flat=True))
    assert CustomerValues.objects.get(customer_key=bad_key).pushed_values is None
    assert not AuditLog.objects.filter(bigcommerce_id__in=[str(i) for i in bad]).exists()
    # In Salesforce they have no Order: each names its Contact (BillToContact, by the external id the
    # refused Contact never got), so its upsert fails with it, and the later requests left them out.
    for order_id in bad:
        assert orders.records("Order", BigCommerceOrderId__c=f"sandbox:{order_id}") == []

    # The merchant corrects the email; the next run converges the two orders (no duplicate Order).
    for order_id in bad:
        orders.bc.order_update(order_id, email="somebody@example.com")
    again, _ = batch(orders, ids + bad)
    assert again.failed == {}
    # Nothing of theirs to read back: their Orders are created now (the refresh of Orders that exist
    # without a local record: test_a_batch_sent_again_after_a_failed_request_converges).
    assert again.refreshed == 0
    assert_converged(orders, ids + bad)
    for order_id in bad:
        assert SyncedOrder.objects.get(order_id=order_id).account_key == "sandbox:" + guest_key_value(
            "somebody@example.com"
        )


def test_lost_local_state_is_read_back_and_converged(orders):
    ids = dollar_orders(orders, 60)
    orders.warm_up()
    batch(orders, ids)
    # The local database lost everything it knew (a restore from an old backup).
    SyncedOrderItem.objects.all().delete()
    SyncedOrder.objects.all().delete()
    KnownProduct.objects.all().delete()
    # Meanwhile an order's lines changed: one kept, one gone, one new.
    products = physical_products(orders, PRODUCTS)
    changed = ids[4]  # two lines: products 4 and 5
    orders.bc.order_update(changed, products=[{"product_id": products[4].id}, {"product_id": products[0].id}])

    result, spent = batch(orders, ids)

    assert result.failed == {} and result.refreshed == 60
    # Pass 1: composite [Product2, PricebookEntry (all DUPLICATE_VALUE), Account, Contact, Order], the
    # entries query, composite [OrderItem (the existing items refuse OrderId), status]; the state read
    # back (one composite of two queries); pass 2: [Account, Contact, Order, delete, OrderItem], [status].
    assert spent == 6
    assert_converged(orders, ids)
    assert KnownProduct.objects.count() == PRODUCTS
    assert len(orders.items_of(orders.order_record(changed)["Id"])) == 2

    again, spent = batch(orders, ids)
    assert spent == 0 and again.refreshed == 0


def test_a_batch_sent_again_after_a_failed_request_converges(orders, monkeypatch):
    ids = dollar_orders(orders, 60)
    orders.warm_up()
    real_composite = SalesforceClient.composite
    sent = []

    def flaky(self, subrequests, *, all_or_none=True):
        sent.append(len(subrequests))
        if len(sent) == 3:  # 1: the customers' lookup, 2: the first collections, 3: the items
            raise SalesforceError("Salesforce request POST composite failed: ConnectionError", code="NETWORK_ERROR")
        return real_composite(self, subrequests, all_or_none=all_or_none)

    monkeypatch.setattr(SalesforceClient, "composite", flaky)
    with pytest.raises(SalesforceError) as raised:
        batch(orders, ids)
    assert raised.value.transient
    # The first request wrote Draft Orders; nothing is recorded locally but the ledger (BigCommerce's
    # orders, recorded before the requests), and no customer's analytics are claimed pushed.
    assert len(orders.records("Order")) == 60 and orders.records("OrderItem") == []
    assert not SyncedOrder.objects.exists() and LedgerEntry.objects.count() == 60
    assert not CustomerValues.objects.exclude(pushed_values=None).exists()
    monkeypatch.setattr(SalesforceClient, "composite", real_composite)

    result, _ = batch(orders, ids)
    assert result.failed == {} and result.refreshed == 60
    assert_converged(orders, ids)


def test_products_that_exist_in_salesforce_are_found_and_activated(orders):
    products = physical_products(orders, PRODUCTS)
    standard = orders.sf.org.standard_pricebook_id
    existing = {}
    for product, active in ((products[0], True), (products[1], False)):
        variant = product.variants[0] if product.variants else None
        key = f"sandbox:{product.id}:{variant.id if variant else 0}"
        product_id = orders.sf.record_create("Product2", {"Name": product.name, "BigCommerceProductId__c": key})
        entry_id = orders.sf.record_create(
            "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product_id, "UnitPrice": 1, "IsActive": active}
        )
        existing[product_id] = entry_id
    ids = dollar_orders(orders, 55)
    orders.warm_up()

    result, spent = batch(orders, ids)

    assert result.failed == {}
    # The customers' lookup, [Product2, PricebookEntry (two DUPLICATE_VALUE), Account, Contact, Order],
    # the entries query, [activation, OrderItem, status].
    assert spent == 4
    assert_converged(orders, ids)
    for product_id, entry_id in existing.items():
        assert orders.sf.record("PricebookEntry", entry_id)["IsActive"] is True
        assert KnownProduct.objects.get(product2_id=product_id).pricebook_entry_id == entry_id
        items = [item for item in orders.records("OrderItem") if item["Product2Id"] == product_id]
        assert items and all(item["PricebookEntryId"] == entry_id for item in items)


def test_platform_events_when_asked(orders):
    ids = dollar_orders(orders, 50)
    shipped = [ids[1], ids[2]]
    for order_id in shipped:
        orders.bc.shipment_create(order_id, tracking_number=f"1Z{order_id:08d}")
    orders.warm_up()

    result, spent = batch(orders, ids, events=True)

    assert result.failed == {}
    # The events carry the Order and Account ids, so they go in a request of their own, last (after the
    # customers' lookup and two collection requests).
    assert spent == result.composite_requests + 1 == 4
    created = orders.sf.platform_events("BigCommerce_Order_Created__e")
    assert sorted(event["fields"]["BigCommerceOrderId__c"] for event in created) == sorted(
        f"sandbox:{order_id}" for order_id in ids
    )
    for event in created:
        record = orders.one("Order", BigCommerceOrderId__c=event["fields"]["BigCommerceOrderId__c"])
        assert event["fields"]["OrderId__c"] == record["Id"]
        assert event["fields"]["AccountId__c"] == record["AccountId"]
        assert cents(event["fields"]["TotalAmount__c"]) == cents(record["Grand_Total__c"])
    shipped_events = orders.sf.platform_events("BigCommerce_Order_Shipped__e")
    assert sorted(event["fields"]["BigCommerceOrderId__c"] for event in shipped_events) == sorted(
        f"sandbox:{order_id}" for order_id in shipped
    )
    assert orders.sf.platform_events("BigCommerce_Order_Updated__e") == []
    assert SyncedOrder.objects.filter(created_event_sent=True).count() == 50
    for order_id in shipped:
        assert orders.order_record(order_id)["TrackingNumber__c"] == f"1Z{order_id:08d}"

    again, spent = batch(orders, ids, events=True)
    assert spent == 0 and all(result.details["unchanged"] for result in again.results.values())
    assert len(orders.sf.platform_events("BigCommerce_Order_Created__e")) == 50


def test_shipments_not_read_leave_tracking_to_the_next_webhook(orders):
    ids = dollar_orders(orders, 50)
    shipped = [ids[1], ids[2], ids[3]]
    for order_id in shipped:
        orders.bc.shipment_create(order_id, tracking_number=f"1Z{order_id:08d}")
    orders.warm_up()
    calls_before = len(orders.bc.calls())

    result, _ = batch(orders, ids, shipments=False)

    assert result.failed == {}
    assert (result.shipment_requests, result.shipments_skipped) == (0, 3)
    assert not [call for call in orders.bc.calls()[calls_before:] if call["path"].endswith("/shipments")]
    for order_id in shipped:
        record = orders.order_record(order_id)
        assert record["TrackingNumber__c"] is None and record["Shipping_Carrier__c"] is None
        # The shipped date is the order's own, so it is written.
        assert record["Shipped_Date__c"] is not None
        assert SyncedOrder.objects.get(order_id=order_id).shipment_fields == {}

    # The order's next webhook reads the shipments (nothing remembered) and writes the tracking number.
    _, costs = orders.deliver("store/order/updated", shipped[0])
    assert sum(path.endswith("/shipments") for path in costs.bigcommerce_paths) == 1
    assert orders.order_record(shipped[0])["TrackingNumber__c"] == f"1Z{shipped[0]:08d}"


def test_anonymous_orders_share_the_guest_account(orders):
    """Neither a customer nor an email: one shared Account and no Contact. The first request then has
    room to spare after the Orders, yet the items wait for the next one (they need the new entries' ids)."""
    products = physical_products(orders, PRODUCTS)
    ids = [
        make_order(orders, {"email": "", "status_id": 11, "products": [{"product_id": products[index % PRODUCTS].id}]})[
            "id"
        ]
        for index in range(50)
    ]
    orders.warm_up()

    result, spent = batch(orders, ids)

    assert result.failed == {}
    # [Product2, PricebookEntry, Account, Order], then [OrderItem, status].
    assert spent == result.composite_requests == 2
    assert_converged(orders, ids)
    [account] = orders.records("Account")
    assert (account["BigCommerceCustomerId__c"], account["Name"]) == ("sandbox:guest-checkouts", "Guest Checkouts")
    assert orders.records("Contact") == []
