"""Activated orders against a stand-in as strict as a production org, every rule on.

Salesforce Help, "Editing and Deletion Considerations for Order Products" and "... for Orders":
editing an activated order (its fields, its Status, its products) needs Edit Activated Orders;
order products of an activated order cannot be deleted; with Enhanced Commerce Orders their
Quantity and UnitPrice cannot change; AccountId changes only while the order is Draft. Each test
shows the rule biting a direct write, then b2s converging anyway (the effect read from the stand-in).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.batches import orders_sync_batch
from orders.documents import fingerprint
from orders.models import SyncedOrder
from orders.services import event_key, order_write_plan
from sync.config import config
from sync.models import SyncSetting
from sync.salesforce import DUPLICATE_FAIL, DUPLICATE_RULE_SETTING, SalesforceError, salesforce_client
from tests.orders.test_order_batch import fetched
from tests.orders.test_order_sync import assert_items_match, assert_order_matches, make_order, physical_products

pytestmark = pytest.mark.django_db

RULES = ("permission_sets", "activated_orders", "enhanced_commerce_orders")


@pytest.fixture
def strict(orders):
    """The harness, with the order rules asserted on (they are after every reset)."""
    rules = orders.sf.rules
    assert all(rules[name] for name in RULES), rules
    assert orders.sf.user_permissions()["EditActivatedOrders"] is True
    return orders


def activated_order(orders, email: str, lines: list[tuple[int, int]]) -> tuple[dict, dict]:
    """A BigCommerce order in an Activated status, synced: (BigCommerce order, Salesforce Order)."""
    created = make_order(
        orders,
        {
            "email": email,
            "status_id": 11,
            "products": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in lines],
        },
    )
    orders.deliver("store/order/created", created["id"])
    record = orders.order_record(created["id"])
    assert record["Status"] == "Activated" and record["StatusCode"] == "Activated"
    return created, record


def refused(method: str, path: str, body: dict | None = None) -> SalesforceError:
    """A direct write the org refuses (the rule is on)."""
    with pytest.raises(SalesforceError) as raised:
        salesforce_client().request(method, path, json=body)
    return raised.value


def event_keys(orders, name: str) -> list[str]:
    return [event["fields"]["EventKey__c"] for event in orders.sf.platform_events(name)]


def test_the_write_plan_follows_the_org_rules():
    """Pure rules: new Orders inserted Draft, activation by Status alone, AccountId only while Draft."""
    new = order_write_plan(exists=False, activated=False, items_change=True, account_moves=False, target="Activated")
    assert (new.create, new.upsert_status, new.account, new.move) == (True, "Draft", True, False)
    draft = order_write_plan(exists=True, activated=False, items_change=False, account_moves=True, target="Activated")
    assert (draft.create, draft.upsert_status, draft.account, draft.move) == (False, "Draft", True, False)
    kept = order_write_plan(exists=True, activated=True, items_change=False, account_moves=False, target="Activated")
    assert (kept.upsert_status, kept.account, kept.move) == ("Activated", False, False)
    back = order_write_plan(exists=True, activated=True, items_change=False, account_moves=False, target="Draft")
    assert (back.upsert_status, back.account) == ("Draft", False)
    reopened = order_write_plan(exists=True, activated=True, items_change=True, account_moves=False, target="Activated")
    assert (reopened.upsert_status, reopened.account, reopened.move) == ("Draft", False, False)
    moved = order_write_plan(exists=True, activated=True, items_change=False, account_moves=True, target="Activated")
    assert (moved.upsert_status, moved.account, moved.move) == ("Draft", False, True)


def test_editing_lines_of_an_activated_order(strict):
    """Quantities change (Enhanced Commerce Orders locks them on an activated order): reopened, edited, activated."""
    products = physical_products(strict, 2)
    created, before = activated_order(strict, "lines@example.com", [(products[0].id, 1), (products[1].id, 2)])
    item = strict.items_of(before["Id"])[0]
    error = refused("PATCH", f"sobjects/OrderItem/{item['Id']}", {"Quantity": 7})
    assert "Enhanced Commerce Orders" in error.message

    strict.bc.order_update(
        created["id"], products=[{"product_id": products[0].id, "quantity": 4}, {"product_id": products[1].id}]
    )
    result, _ = strict.deliver("store/order/updated", created["id"])

    after = strict.order_record(created["id"])
    assert after["Id"] == before["Id"] and after["StatusCode"] == "Activated"
    assert_items_match(strict, created["id"], after)
    assert sorted(Decimal(str(item["Quantity"])) for item in strict.items_of(after["Id"])) == [1, 4]
    assert result.details["events"] == ["Updated"]
    assert len(event_keys(strict, "BigCommerce_Order_Updated__e")) == 1


def test_removing_a_line_of_an_activated_order(strict):
    products = physical_products(strict, 3)
    created, before = activated_order(
        strict, "remove@example.com", [(products[0].id, 1), (products[1].id, 1), (products[2].id, 1)]
    )
    victim = strict.items_of(before["Id"])[2]
    error = refused("DELETE", f"sobjects/OrderItem/{victim['Id']}")
    assert "delete order products" in error.message
    assert strict.sf.record("OrderItem", victim["Id"]) is not None

    strict.bc.order_update(created["id"], products=[{"product_id": products[0].id}, {"product_id": products[1].id}])
    result, _ = strict.deliver("store/order/updated", created["id"])

    after = strict.order_record(created["id"])
    assert after["StatusCode"] == "Activated"
    assert len(strict.items_of(after["Id"])) == 2
    assert_items_match(strict, created["id"], after)
    assert result.details["items"]["deleted"] + result.details["items"]["written"] >= 1


def test_status_changes_and_shipment_of_an_activated_order(strict):
    """Every later event edits the activated order: allowed with Edit Activated Orders, in place."""
    products = physical_products(strict, 1)
    created, before = activated_order(strict, "status@example.com", [(products[0].id, 2)])
    first_activated = before["ActivatedDate"]

    strict.bc.order_status_set(created["id"], 9)  # Awaiting Shipment: still Activated
    strict.deliver("store/order/statusUpdated", created["id"])
    record = strict.order_record(created["id"])
    assert record["BC_Status__c"] == "Awaiting Shipment" and record["StatusCode"] == "Activated"
    assert record["ActivatedDate"] == first_activated  # edited in place, never reopened

    shipment = strict.bc.shipment_create(created["id"], tracking_number="1Z999AA10123456784")
    strict.deliver("store/shipment/created", created["id"], id=shipment["id"])
    record = strict.order_record(created["id"])
    assert record["TrackingNumber__c"] == "1Z999AA10123456784" and record["StatusCode"] == "Activated"
    # Keyed by the shipment fields, as an order graph carrying the same shipment would key it.
    shipped = fingerprint(SyncedOrder.objects.get(order_id=created["id"]).shipment_fields)
    expected = event_key(store_hash="sandbox", order_id=created["id"], kind="Shipped", content=shipped)
    assert event_keys(strict, "BigCommerce_Order_Shipped__e") == [expected]

    strict.bc.order_status_set(created["id"], 7)  # Awaiting Payment: Draft (deactivation is an edit too)
    strict.deliver("store/order/statusUpdated", created["id"])
    record = strict.order_record(created["id"])
    assert record["StatusCode"] == "Draft" and record["TrackingNumber__c"] == "1Z999AA10123456784"
    assert SyncedOrder.objects.get(order_id=created["id"]).sf_status == "Draft"

    strict.bc.order_archive(created["id"])
    strict.deliver("store/order/archived", created["id"])
    assert strict.order_record(created["id"])["Archived__c"] is True
    assert_order_matches(
        strict, strict.bc.order_get(created["id"]), strict.order_record(created["id"]), account_id=before["AccountId"]
    )


def test_refund_of_an_activated_order(strict):
    products = physical_products(strict, 1)
    created, _ = activated_order(strict, "refund@example.com", [(products[0].id, 2)])
    refund = strict.bc.refund_create(created["id"], "5.00")
    strict.deliver("store/order/refund/created", created["id"], refund={"refund_id": refund["id"]})
    record = strict.order_record(created["id"])
    assert Decimal(str(record["Refunded_Amount__c"])) == Decimal("5.00") and record["StatusCode"] == "Activated"


def test_a_customer_change_moves_an_activated_order(strict):
    """AccountId changes only while Draft: the order is reopened, moved, and activated again."""
    products = physical_products(strict, 1)
    created, before = activated_order(strict, "first.owner@example.com", [(products[0].id, 1)])
    other = strict.sf.record_create("Account", {"Name": "Someone else"})
    error = refused("PATCH", f"sobjects/Order/{before['Id']}", {"AccountId": other})
    assert "Draft" in error.message

    strict.bc.order_update(created["id"], billing_address={"email": "second.owner@example.com"})
    assert strict.bc.order_get(created["id"])["billing_address"]["email"] == "second.owner@example.com"
    strict.deliver("store/order/updated", created["id"])

    after = strict.order_record(created["id"])
    synced = SyncedOrder.objects.get(order_id=created["id"])
    [contact] = strict.records("Contact", Email="second.owner@example.com")
    assert after["Id"] == before["Id"] and after["AccountId"] == contact["AccountId"] != before["AccountId"]
    assert strict.sf.record("Account", after["AccountId"])["BigCommerceCustomerId__c"] == synced.account_key
    assert after["StatusCode"] == "Activated" and synced.account_id == after["AccountId"]


def test_without_edit_activated_orders_the_sync_fails_and_says_why(strict):
    products = physical_products(strict, 1)
    created, _ = activated_order(strict, "noperm@example.com", [(products[0].id, 1)])
    strict.sf.user_permissions_set(EditActivatedOrders=False)

    strict.bc.order_status_set(created["id"], 10)
    with pytest.raises(SalesforceError) as raised:
        strict.deliver("store/order/statusUpdated", created["id"])
    assert "Edit Activated Orders" in str(raised.value)
    assert "B2S_Integration" in str(raised.value) and "salesforce_check" in str(raised.value)  # b2s says what to do
    assert strict.order_record(created["id"])["BC_Status__c"] == "Awaiting Fulfillment"  # nothing written

    strict.sf.user_permissions_set(EditActivatedOrders=True)  # the admin grants it: the retry converges
    strict.deliver("store/order/statusUpdated", created["id"])
    assert strict.order_record(created["id"])["BC_Status__c"] == "Completed"


@pytest.mark.parametrize("mode", ["graphs", "collections"])
def test_a_batch_edits_activated_orders_as_the_org_allows(strict, mode):
    """The backfill's paths: lines removed and repriced, and a customer change, on activated orders."""
    products = physical_products(strict, 3)
    kept, _ = activated_order(strict, "batch.lines@example.com", [(products[0].id, 1), (products[1].id, 2)])
    moved, before = activated_order(strict, "batch.first@example.com", [(products[2].id, 1)])
    strict.bc.order_update(kept["id"], products=[{"product_id": products[0].id, "quantity": 5}])
    strict.bc.order_update(moved["id"], billing_address={"email": "batch.second@example.com"})

    rows = fetched(strict, [kept["id"], moved["id"]])
    result = orders_sync_batch(
        store=strict.store, orders=rows, events=False, collections_min=1 if mode == "collections" else 10_000
    )

    assert result.failed == {} and result.mode == mode
    record = strict.order_record(kept["id"])
    assert record["StatusCode"] == "Activated"
    assert_items_match(strict, kept["id"], record)
    assert [Decimal(str(item["Quantity"])) for item in strict.items_of(record["Id"])] == [5]
    after = strict.order_record(moved["id"])
    [contact] = strict.records("Contact", Email="batch.second@example.com")
    assert after["AccountId"] == contact["AccountId"] != before["AccountId"] and after["StatusCode"] == "Activated"


def test_the_order_sequence_runs_as_sent_when_salesforce_collates(strict):
    """Without the duplicate-rule header on every write (admin setting "fail"), graph nodes are collated:
    the order's own nodes still run as sent (reopen, deletes, items, activation) in one graph."""
    SyncSetting.objects.filter(key=DUPLICATE_RULE_SETTING).update(value=DUPLICATE_FAIL)
    config.invalidate()
    assert strict.sf.rules["collate_subrequests"] is True
    products = physical_products(strict, 3)
    created, _ = activated_order(strict, "collated@example.com", [(products[0].id, 1), (products[1].id, 1)])

    strict.bc.order_update(
        created["id"], products=[{"product_id": products[0].id, "quantity": 2}, {"product_id": products[2].id}]
    )
    result, _ = strict.deliver("store/order/updated", created["id"])

    assert result.details["recovered"] is False  # the first graph succeeded
    after = strict.order_record(created["id"])
    assert after["StatusCode"] == "Activated"
    assert_items_match(strict, created["id"], after)


def test_a_customer_change_after_the_local_record_was_lost(strict):
    """Nothing remembered: the Order's Account is read back with its state, and the order still moves."""
    products = physical_products(strict, 1)
    created, before = activated_order(strict, "lost.first@example.com", [(products[0].id, 1)])
    SyncedOrder.objects.all().delete()
    strict.bc.order_update(created["id"], billing_address={"email": "lost.second@example.com"})

    result, _ = strict.deliver("store/order/updated", created["id"])

    assert result.details["recovered"] is True and result.details["events"] == []
    after = strict.order_record(created["id"])
    [contact] = strict.records("Contact", Email="lost.second@example.com")
    assert after["AccountId"] == contact["AccountId"] != before["AccountId"] and after["StatusCode"] == "Activated"
    assert len(strict.records("Order")) == 1
