"""Order sync, webhook by webhook, against both stand-ins over HTTPS: the Salesforce records field by field."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from orders.models import KnownProduct, SyncedOrder, SyncedOrderItem
from sync.customers import guest_key_value
from sync.mapping import parse_datetime_any
from sync.models import KnownCustomer
from sync.seeds import ORDER_STATUSES

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")
NEW_YORK = ZoneInfo("America/New_York")


def cents(value) -> Decimal:
    """A BigCommerce money string or a Salesforce number, to the cent."""
    return Decimal(str(value)).quantize(CENT)


def street(address: dict) -> str | None:
    lines = [part.strip() for part in (address.get("street_1"), address.get("street_2")) if (part or "").strip()]
    return "\n".join(lines) or None


def make_order(orders, spec: dict) -> dict:
    """An order in the BigCommerce stand-in: a US-dollar guest order unless ``spec`` says otherwise."""
    return orders.bc.order_create({"customer_id": 0, "currency_code": "USD", **spec})


def physical_products(orders, count: int) -> list:
    return [product for product in orders.bc._data.catalog if product.type == "physical"][:count]


def assert_order_matches(orders, bc_order: dict, record: dict, *, account_id: str) -> None:
    """Every mapped Order field equals the BigCommerce order (field-mapping.md)."""
    shipping = orders.bc.state()["orders"]
    shipping = next(entry for entry in shipping if entry["order"]["id"] == bc_order["id"])["shipping_addresses"]
    status_name = {row[0]: row for row in ORDER_STATUSES}[bc_order["status_id"]]
    created = parse_datetime_any(bc_order["date_created"])
    assert record["Name"] == f"BigCommerce order #{bc_order['id']}"
    assert record["BigCommerceOrderId__c"] == f"sandbox:{bc_order['id']}"
    assert record["EffectiveDate"] == created.astimezone(NEW_YORK).date().isoformat()
    assert record["BC_Status__c"] == bc_order["status"] == status_name[1]
    assert record["Subtotal__c"] is not None and cents(record["Subtotal__c"]) == cents(bc_order["subtotal_inc_tax"])
    assert cents(record["TaxTotal__c"]) == cents(bc_order["total_tax"])
    assert cents(record["ShippingTotal__c"]) == cents(bc_order["shipping_cost_inc_tax"])
    assert cents(record["Discount_Total__c"]) == cents(bc_order["discount_amount"]) + cents(bc_order["coupon_discount"])
    assert cents(record["Grand_Total__c"]) == cents(bc_order["total_inc_tax"])
    assert cents(record["Refunded_Amount__c"]) == cents(bc_order["refunded_amount"])
    assert record["PaymentMethod__c"] == bc_order["payment_method"]
    assert (record["TransactionId__c"] or "") == (bc_order["payment_provider_id"] or "")
    billing = bc_order["billing_address"]
    assert record["BillingStreet"] == street(billing)
    assert record["BillingCity"] == billing["city"]
    assert (record["BillingState"] or "") == billing["state"]
    assert record["BillingPostalCode"] == billing["zip"]
    assert record["BillingCountry"] == billing["country"]
    if shipping:
        assert record["ShippingStreet"] == street(shipping[0])
        assert record["ShippingCity"] == shipping[0]["city"]
        assert record["ShippingPostalCode"] == shipping[0]["zip"]
        assert record["ShippingCountry"] == shipping[0]["country"]
    assert record["BigCommerce_Store__c"] == "sandbox"
    assert record["Archived__c"] is bool(bc_order["is_deleted"])
    assert record["AccountId"] == account_id
    assert record["Pricebook2Id"] == orders.sf.org.standard_pricebook_id


def assert_items_match(orders, order_id: int, record: dict) -> None:
    """One OrderItem per BigCommerce line, each with its product and an active standard price book entry."""
    lines = sorted(orders.lines(order_id), key=lambda line: line["id"])
    items = orders.items_of(record["Id"])
    assert [item["BigCommerceOrderItemId__c"] for item in items] == sorted(f"sandbox:{line['id']}" for line in lines)
    by_key = {item["BigCommerceOrderItemId__c"]: item for item in items}
    for line in lines:
        item = by_key[f"sandbox:{line['id']}"]
        assert Decimal(str(item["Quantity"])) == line["quantity"]
        assert cents(item["UnitPrice"]) == cents(line["price_inc_tax"])
        assert item["Description"] == line["name"]
        entry = orders.sf.record("PricebookEntry", item["PricebookEntryId"])
        assert entry["Pricebook2Id"] == orders.sf.org.standard_pricebook_id and entry["IsActive"] is True
        product = orders.sf.record("Product2", entry["Product2Id"])
        if line["product_id"]:
            assert product["BigCommerceProductId__c"] == f"sandbox:{line['product_id']}:{line['variant_id']}"
            assert product["ProductCode"] == line["sku"]
            assert product["Name"] == line["name"]
        else:
            assert product["BigCommerceProductId__c"] == "sandbox:custom"
            assert product["Name"] == "Custom item"
    # Salesforce's own total is the sum of the items: BigCommerce's tax-inclusive subtotal.
    assert cents(record["TotalAmount"]) == sum((cents(line["total_inc_tax"]) for line in lines), Decimal("0"))


# -------------------------------------------------------------------------------------------------


def test_registered_customer_multi_line_order(orders):
    customer = orders.bc.customer_create(
        first_name="Ada", last_name="Lovelace", email="Ada.Lovelace@Example.com", company="", phone="+1 555 0100"
    )
    products = physical_products(orders, 3)
    spec = {
        "customer_id": customer["id"],
        "status_id": 11,
        "products": [{"product_id": product.id, "quantity": index + 1} for index, product in enumerate(products)],
        "shipping_cost_ex_tax": "9.99",
        "discount_amount": "5.00",
        "coupon_code": "SAVE5",
        "coupon_discount": "5.00",
        "tax_rate": "0.0825",
        "payment_method": "Credit Card",
        "payment_provider_id": "ch_123",
    }
    created = make_order(orders, spec)
    orders.warm_up()

    result, costs = orders.deliver("store/order/created", created["id"])

    # A customer not seen before: one lookup of existing CRM records by email; products unknown: one
    # query for existing entries; then the graph. BigCommerce: the order and the (unseen) registered customer.
    assert costs.salesforce == 3
    assert costs.bigcommerce_paths == ["/stores/sandbox/v2/orders/100", "/stores/sandbox/v3/customers"]
    bc_order = orders.bc.order_get(created["id"])
    account = orders.one("Account", BigCommerceCustomerId__c=f"sandbox:{customer['id']}")
    assert account["Name"] == "Ada Lovelace"
    assert account["Phone"] == "+1 555 0100"
    address = customer["addresses"][0] if customer["addresses"] else None
    if address:
        assert account["BillingCity"] == address["city"] and account["BillingPostalCode"] == address["postal_code"]
    contact = orders.one("Contact", BigCommerceCustomerId__c=f"sandbox:{customer['id']}")
    assert (contact["FirstName"], contact["LastName"], contact["Email"]) == (
        "Ada",
        "Lovelace",
        "ada.lovelace@example.com",
    )
    assert contact["AccountId"] == account["Id"]
    # The analytics rode in the same request: one counted order.
    assert cents(account["CLV__c"]) == cents(bc_order["total_inc_tax"])
    assert account["Total_Orders__c"] == 1
    assert account["Customer_Tags__c"] == "First-Time Buyer"

    record = orders.order_record(created["id"])
    assert record["Status"] == "Activated"
    assert_order_matches(orders, bc_order, record, account_id=account["Id"])
    assert_items_match(orders, created["id"], record)
    assert len(orders.records("Product2")) == 3 and len(orders.records("PricebookEntry")) == 3

    [event] = orders.sf.platform_events("BigCommerce_Order_Created__e")
    fields = event["fields"]
    assert fields["EventType__c"] == "Created"
    assert fields["OrderId__c"] == record["Id"] and fields["AccountId__c"] == account["Id"]
    assert fields["BigCommerceOrderId__c"] == "sandbox:100"
    assert cents(fields["TotalAmount__c"]) == cents(bc_order["total_inc_tax"])
    assert parse_datetime_any(fields["OrderDate__c"]) == parse_datetime_any(bc_order["date_created"])
    assert orders.sf.platform_events("BigCommerce_Order_Updated__e") == []

    # What the next order needs no request for.
    assert KnownCustomer.objects.filter(customer_id=customer["id"]).count() == 1
    assert KnownProduct.objects.count() == 3
    synced = SyncedOrder.objects.get(order_id=created["id"])
    assert synced.salesforce_id == record["Id"] and synced.sf_status == "Activated"
    assert SyncedOrderItem.objects.filter(order=synced).count() == 3
    assert result.operation == "ORDER_SYNC" and record["Id"] in result.salesforce_ids

    # The customer's second order with the same products: one request each side.
    second = make_order(orders, {**spec, "products": [{"product_id": products[0].id, "quantity": 1}]})
    _, costs = orders.deliver("store/order/created", second["id"])
    assert (costs.salesforce, costs.bigcommerce) == (1, 1)
    account = orders.one("Account", BigCommerceCustomerId__c=f"sandbox:{customer['id']}")
    assert account["Total_Orders__c"] == 2
    assert cents(account["CLV__c"]) == cents(bc_order["total_inc_tax"]) + cents(second["total_inc_tax"])


def test_guest_orders_with_one_email_share_one_account(orders):
    products = physical_products(orders, 1)
    first = make_order(orders, {"email": "guest.buyer@example.com", "products": [{"product_id": products[0].id}]})
    second = make_order(orders, {"email": "Guest.Buyer@EXAMPLE.com", "products": [{"product_id": products[0].id}]})
    _, first_costs = orders.deliver("store/order/created", first["id"])
    _, second_costs = orders.deliver("store/order/created", second["id"])
    # Guests need no customer request.
    assert first_costs.bigcommerce == 1 and second_costs.bigcommerce == 1
    assert second_costs.salesforce == 1  # the product is known now

    guest_key = "sandbox:" + guest_key_value("guest.buyer@example.com")
    account = orders.one("Account", BigCommerceCustomerId__c=guest_key)
    assert len(orders.records("Account")) == 1
    contact = orders.one("Contact")
    assert contact["Email"] == "guest.buyer@example.com" and contact["AccountId"] == account["Id"]
    billing = orders.bc.order_get(second["id"])["billing_address"]
    assert contact["LastName"] == billing["last_name"]
    for order in (first, second):
        assert orders.order_record(order["id"])["AccountId"] == account["Id"]
    assert orders.one("Account")["Total_Orders__c"] == 2

    # Neither a customer nor an email: the shared guest account, without a Contact.
    anonymous = make_order(orders, {"customer_id": 0, "email": "", "products": [{"product_id": products[0].id}]})
    orders.deliver("store/order/created", anonymous["id"])
    guest_account = orders.one("Account", BigCommerceCustomerId__c="sandbox:guest-checkouts")
    assert guest_account["Name"] == "Guest Checkouts"
    assert orders.order_record(anonymous["id"])["AccountId"] == guest_account["Id"]
    assert len(orders.records("Contact")) == 1


def test_custom_item_order(orders):
    product = physical_products(orders, 1)[0]
    created = make_order(
        orders,
        {
            "customer_id": 0,
            "email": "custom@example.com",
            "products": [
                {"product_id": product.id, "quantity": 1},
                {"name": "Custom Engraving", "price_ex_tax": "12.00", "quantity": 2},
            ],
            "tax_rate": "0.1",
        },
    )
    orders.deliver("store/order/created", created["id"])
    record = orders.order_record(created["id"])
    assert_order_matches(orders, orders.bc.order_get(created["id"]), record, account_id=orders.one("Account")["Id"])
    assert_items_match(orders, created["id"], record)
    custom = orders.one("Product2", BigCommerceProductId__c="sandbox:custom")
    engraving = next(item for item in orders.items_of(record["Id"]) if item["Description"] == "Custom Engraving")
    assert engraving["Product2Id"] == custom["Id"]
    assert cents(engraving["UnitPrice"]) == Decimal("13.20") and engraving["Quantity"] == 2

    # Another custom item later reuses the store's one custom product (known, so one request).
    other = make_order(
        orders, {"email": "custom@example.com", "products": [{"name": "Gift Message Card", "price_ex_tax": "3.50"}]}
    )
    _, costs = orders.deliver("store/order/created", other["id"])
    assert costs.salesforce == 1
    assert len(orders.records("Product2", BigCommerceProductId__c="sandbox:custom")) == 1
    [item] = orders.items_of(orders.order_record(other["id"])["Id"])
    assert item["Product2Id"] == custom["Id"] and item["Description"] == "Gift Message Card"


def _multi_currency_org(orders) -> None:
    for sobject in ("Order", "OrderItem", "PricebookEntry"):
        orders.sf.schema.field_add(sobject, "CurrencyIsoCode", "picklist", picklist=["USD", "EUR", "GBP"])


def test_multi_currency_org_gets_currency_iso_code(orders):
    _multi_currency_org(orders)
    first, second = physical_products(orders, 2)
    euro = make_order(
        orders, {"email": "eu@example.com", "currency_code": "EUR", "products": [{"product_id": first.id}]}
    )
    pound = make_order(
        orders, {"email": "gb@example.com", "currency_code": "GBP", "products": [{"product_id": second.id}]}
    )
    orders.deliver("store/order/created", euro["id"])
    orders.deliver("store/order/created", pound["id"])

    for created, code in ((euro, "EUR"), (pound, "GBP")):
        record = orders.order_record(created["id"])
        assert record["CurrencyIsoCode"] == code
        assert_order_matches(orders, orders.bc.order_get(created["id"]), record, account_id=record["AccountId"])
        assert_items_match(orders, created["id"], record)
        [item] = orders.items_of(record["Id"])
        entry = orders.sf.record("PricebookEntry", item["PricebookEntryId"])
        assert entry["CurrencyIsoCode"] == code
        assert cents(entry["UnitPrice"]) == cents(orders.lines(created["id"])[0]["price_inc_tax"])
    assert set(KnownProduct.objects.values_list("currency", flat=True)) == {"EUR", "GBP"}


def test_multi_currency_org_one_product_in_two_currencies(orders):
    _multi_currency_org(orders)
    product = physical_products(orders, 1)[0]
    euro = make_order(
        orders, {"email": "eu@example.com", "currency_code": "EUR", "products": [{"product_id": product.id}]}
    )
    dollar = make_order(
        orders, {"email": "us@example.com", "currency_code": "USD", "products": [{"product_id": product.id}]}
    )
    orders.deliver("store/order/created", euro["id"])
    orders.deliver("store/order/created", dollar["id"])
    entries = orders.records("PricebookEntry")
    assert sorted(entry["CurrencyIsoCode"] for entry in entries) == ["EUR", "USD"]
    assert len({entry["Product2Id"] for entry in entries}) == 1


def test_single_currency_org_refuses_an_order_in_another_currency(orders):
    from orders.services import OrderSyncError

    product = physical_products(orders, 1)[0]
    euro = make_order(
        orders, {"email": "eu@example.com", "currency_code": "EUR", "products": [{"product_id": product.id}]}
    )
    with pytest.raises(OrderSyncError) as raised:
        orders.deliver("store/order/created", euro["id"])
    assert raised.value.code == "CURRENCY_UNSUPPORTED" and raised.value.transient is False
    assert "EUR" in str(raised.value) and "USD" in str(raised.value)
    assert orders.records("Order") == [] and orders.records("Account") == []
    assert not SyncedOrder.objects.exists()


def test_updated_before_created(orders):
    product = physical_products(orders, 1)[0]
    created = make_order(
        orders, {"customer_id": 0, "email": "early@example.com", "products": [{"product_id": product.id}]}
    )
    orders.warm_up()

    first, costs = orders.deliver("store/order/updated", created["id"])
    record = orders.order_record(created["id"])
    assert_order_matches(orders, orders.bc.order_get(created["id"]), record, account_id=orders.one("Account")["Id"])
    assert first.details["events"] == ["Created"]
    assert len(orders.sf.platform_events("BigCommerce_Order_Created__e")) == 1

    late, costs = orders.deliver("store/order/created", created["id"])
    # Nothing changed since: no Salesforce request, no second Created event.
    assert late.details["unchanged"] is True and costs.salesforce == 0 and costs.bigcommerce == 1
    assert len(orders.records("Order")) == 1
    assert len(orders.sf.platform_events()) == 1


def test_same_webhook_three_times(orders):
    products = physical_products(orders, 2)
    created = make_order(orders, {"email": "thrice@example.com", "products": [{"product_id": p.id} for p in products]})
    spent = []
    for _ in range(3):
        _, costs = orders.deliver("store/order/created", created["id"])
        spent.append(costs.salesforce)
    assert spent[1:] == [0, 0]
    record = orders.order_record(created["id"])
    items = orders.items_of(record["Id"])
    assert len(items) == 2 and len({item["BigCommerceOrderItemId__c"] for item in items}) == 2
    assert len(orders.records("Order")) == 1 and len(orders.records("Account")) == 1
    assert len(orders.records("Product2")) == 2 and len(orders.records("PricebookEntry")) == 2
    assert len(orders.sf.platform_events()) == 1


def test_edit_of_an_activated_order_removes_and_adds_lines(orders):
    products = physical_products(orders, 3)
    created = make_order(
        orders,
        {
            "customer_id": 0,
            "email": "editor@example.com",
            "status_id": 11,
            "products": [{"product_id": products[0].id, "quantity": 1}, {"product_id": products[1].id, "quantity": 2}],
        },
    )
    orders.deliver("store/order/created", created["id"])
    before = orders.order_record(created["id"])
    assert before["Status"] == "Activated"
    old_items = {item["Id"] for item in orders.items_of(before["Id"])}

    orders.bc.order_update(
        created["id"],
        products=[{"product_id": products[0].id, "quantity": 3}, {"product_id": products[2].id, "quantity": 1}],
    )
    result, costs = orders.deliver("store/order/updated", created["id"])

    # One new product: query + graph (Draft, delete 2, add 2, Activated, Updated event in one graph).
    assert costs.salesforce == 2
    after = orders.order_record(created["id"])
    assert after["Id"] == before["Id"] and after["Status"] == "Activated"
    assert_order_matches(orders, orders.bc.order_get(created["id"]), after, account_id=before["AccountId"])
    assert_items_match(orders, created["id"], after)
    new_items = {item["Id"] for item in orders.items_of(after["Id"])}
    assert not (old_items & new_items)
    assert all(orders.sf.record("OrderItem", item_id) is None for item_id in old_items)
    assert result.details["items"] == {"written": 2, "kept": 0, "deleted": 2}
    assert [event["fields"]["EventType__c"] for event in orders.sf.platform_events()] == ["Created", "Updated"]

    # A change outside the lines (a discount): the activated order is updated in place.
    orders.bc.order_update(created["id"], discount_amount="3.00")
    _, costs = orders.deliver("store/order/updated", created["id"])
    assert costs.salesforce == 1
    again = orders.order_record(created["id"])
    edited = orders.bc.order_get(created["id"])
    assert cents(edited["discount_amount"]) == Decimal("3.00")
    assert cents(again["Discount_Total__c"]) == Decimal("3.00") + cents(edited["coupon_discount"])
    assert again["Status"] == "Activated"
    assert {item["Id"] for item in orders.items_of(again["Id"])} == new_items


def test_shipment(orders):
    products = physical_products(orders, 2)
    created = make_order(
        orders,
        {
            "customer_id": 0,
            "email": "ship@example.com",
            "status_id": 11,
            "products": [{"product_id": products[0].id, "quantity": 2}, {"product_id": products[1].id}],
        },
    )
    orders.deliver("store/order/created", created["id"])
    line = orders.lines(created["id"])[0]
    shipment = orders.bc.shipment_create(
        created["id"], items=[{"order_product_id": line["id"], "quantity": 1}], tracking_number="1Z999AA10123456784"
    )

    _, costs = orders.deliver("store/shipment/created", created["id"], id=shipment["id"])
    # An order already in Salesforce: only /shipments is read, and one graph is written.
    assert costs.bigcommerce_paths == [f"/stores/sandbox/v2/orders/{created['id']}/shipments"]
    assert costs.salesforce == 1
    record = orders.order_record(created["id"])
    assert record["TrackingNumber__c"] == "1Z999AA10123456784"
    assert record["Shipping_Carrier__c"] == "UPS"
    shipped = parse_datetime_any(shipment["date_created"]).astimezone(NEW_YORK).date().isoformat()
    assert record["Shipped_Date__c"] == shipped
    [event] = orders.sf.platform_events("BigCommerce_Order_Shipped__e")
    assert event["fields"]["OrderId__c"] == record["Id"] and event["fields"]["EventType__c"] == "Shipped"
    assert cents(event["fields"]["TotalAmount__c"]) == cents(created["total_inc_tax"])

    # The status change that follows: the shipped quantity is what was remembered, so no /shipments.
    _, costs = orders.deliver("store/order/statusUpdated", created["id"])
    assert costs.bigcommerce == 1
    record = orders.order_record(created["id"])
    assert record["BC_Status__c"] == "Partially Shipped" and record["Status"] == "Activated"
    assert record["TrackingNumber__c"] == "1Z999AA10123456784"
    assert len(orders.sf.platform_events("BigCommerce_Order_Shipped__e")) == 1

    # The rest ships; this time the order event arrives first and reads the new shipment itself.
    second = orders.bc.shipment_create(
        created["id"], tracking_number="9400100000000000000000", shipping_provider="usps"
    )
    _, costs = orders.deliver("store/order/updated", created["id"])
    assert costs.bigcommerce == 2  # the order, then /shipments: more units shipped than last time
    record = orders.order_record(created["id"])
    assert record["BC_Status__c"] == "Shipped"
    assert record["TrackingNumber__c"] == "1Z999AA10123456784, 9400100000000000000000"
    assert record["Shipping_Carrier__c"] == "UPS, USPS"
    assert len(orders.sf.platform_events("BigCommerce_Order_Shipped__e")) == 2
    # ... and its shipment event finds nothing new.
    late, costs = orders.deliver("store/shipment/created", created["id"], id=second["id"])
    assert late.details["unchanged"] is True and costs.salesforce == 0
    assert len(orders.sf.platform_events("BigCommerce_Order_Shipped__e")) == 2


def test_partial_then_full_refund(orders):
    product = physical_products(orders, 1)[0]
    created = make_order(
        orders,
        {"email": "refund@example.com", "status_id": 10, "products": [{"product_id": product.id, "quantity": 2}]},
    )
    orders.deliver("store/order/created", created["id"])
    total = cents(created["total_inc_tax"])

    refund = orders.bc.refund_create(created["id"], "10.00", reason="Goodwill")
    _, costs = orders.deliver("store/order/refund/created", created["id"], refund={"refund_id": refund["id"]})
    assert costs.bigcommerce_paths == [f"/stores/sandbox/v2/orders/{created['id']}"]  # no refund request
    assert costs.salesforce == 1
    record = orders.order_record(created["id"])
    assert cents(record["Refunded_Amount__c"]) == Decimal("10.00")
    assert record["BC_Status__c"] == "Partially Refunded" and record["Status"] == "Activated"
    assert cents(orders.one("Account")["CLV__c"]) == total - Decimal("10.00")

    refund = orders.bc.refund_create(created["id"])
    orders.deliver("store/order/refund/created", created["id"], refund={"refund_id": refund["id"]})
    record = orders.order_record(created["id"])
    assert cents(record["Refunded_Amount__c"]) == total
    assert record["BC_Status__c"] == "Refunded"
    # Refunded does not count toward the analytics: the customer has no counted order left.
    account = orders.one("Account")
    assert cents(account["CLV__c"]) == Decimal("0.00") and account["Total_Orders__c"] == 0
    assert cents(record["Grand_Total__c"]) == total  # the order's own total is unchanged


def test_archive_marks_and_never_deletes(orders):
    product = physical_products(orders, 1)[0]
    created = make_order(
        orders, {"customer_id": 0, "email": "archive@example.com", "products": [{"product_id": product.id}]}
    )
    orders.deliver("store/order/created", created["id"])
    orders.bc.order_archive(created["id"])
    orders.deliver("store/order/archived", created["id"])
    record = orders.order_record(created["id"])
    assert record["Archived__c"] is True
    assert len(orders.items_of(record["Id"])) == 1
    assert SyncedOrder.objects.get(order_id=created["id"]).archived is True
    assert orders.sf.org.deleted.get("Order", {}) == {}


def test_every_mapped_status(orders):
    product = physical_products(orders, 1)[0]
    expected = {status_id: (name, sf_status) for status_id, name, sf_status, _ in ORDER_STATUSES}
    for status_id in range(15):
        created = make_order(
            orders,
            {
                "customer_id": 0,
                "email": f"s{status_id}@example.com",
                "status_id": status_id,
                "products": [{"product_id": product.id}],
            },
        )
        orders.deliver("store/order/created", created["id"])
        record = orders.order_record(created["id"])
        assert (record["BC_Status__c"], record["Status"]) == expected[status_id], status_id

    # One order walking through every status: Draft ↔ Activated both ways, in place.
    walker = make_order(
        orders,
        {"customer_id": 0, "email": "walker@example.com", "status_id": 0, "products": [{"product_id": product.id}]},
    )
    orders.deliver("store/order/created", walker["id"])
    first_id = orders.order_record(walker["id"])["Id"]
    for status_id in [*range(1, 15), 0]:
        orders.bc.order_status_set(walker["id"], status_id)
        _, costs = orders.deliver("store/order/statusUpdated", walker["id"])
        assert costs.salesforce == 1
        record = orders.order_record(walker["id"])
        assert record["Id"] == first_id
        assert (record["BC_Status__c"], record["Status"]) == expected[status_id], status_id
        assert len(orders.items_of(first_id)) == 1


def test_line_items_flag_off_keeps_orders_draft(orders):
    from sync.models import FeatureFlag

    FeatureFlag.objects.filter(key="order_line_items").update(enabled=False)
    FeatureFlag.objects.filter(key="platform_events").update(enabled=False)
    from sync.config import config

    config.invalidate()
    product = physical_products(orders, 1)[0]
    created = make_order(
        orders,
        {"customer_id": 0, "email": "noitems@example.com", "status_id": 11, "products": [{"product_id": product.id}]},
    )
    orders.deliver("store/order/created", created["id"])
    record = orders.order_record(created["id"])
    # Salesforce cannot activate an order without items.
    assert record["Status"] == "Draft" and record["BC_Status__c"] == "Awaiting Fulfillment"
    assert orders.records("OrderItem") == [] and orders.records("Product2") == []
    assert orders.sf.platform_events() == []
    assert cents(record["Grand_Total__c"]) == cents(created["total_inc_tax"])
