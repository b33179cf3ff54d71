"""Rule ``enhanced_commerce_orders``: the org setting Enhanced Commerce Orders is on, so the price-affecting
fields of an activated order's products (Quantity, UnitPrice) cannot change, and no product can be added,
even with Edit Activated Orders (Salesforce Help, "Editing and Deletion Considerations for Order Products").
The rule switch is the setting: switched off, the org is one without Enhanced Commerce Orders.
"""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import draft_order_create


@pytest.fixture
def activated(salesforce_sandbox, salesforce_client):
    """An activated order with one order product (2 x 10.00): dict of ids."""
    ids = draft_order_create(salesforce_sandbox.app, quantity=2, item_fields={"BigCommerceOrderItemId__c": "line-1"})
    order = ids["order"]
    assert salesforce_client.patch(f"sobjects/Order/{order}", json={"Status": "Activated"}).status_code == 204
    return {"order": order, "item": ids["item"], "entry": ids["entry"]}


def _error(fields):
    return [
        {
            "message": "With Enhanced Commerce Orders, you can't add order products to an activated order or change "
            "their price-affecting fields (Quantity, UnitPrice).",
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "fields": fields,
        }
    ]


def test_price_fields_are_locked_after_activation_even_with_the_permission(
    salesforce_sandbox, salesforce_client, activated
):
    app = salesforce_sandbox.app
    assert app.user_permissions()["EditActivatedOrders"] is True
    item = f"sobjects/OrderItem/{activated['item']}"
    quantity = salesforce_client.patch(item, json={"Quantity": 3})
    assert (quantity.status_code, quantity.json()) == (400, _error(["Quantity"]))
    price = salesforce_client.patch(item, json={"UnitPrice": 9.5, "Description": "discounted"})
    assert (price.status_code, price.json()) == (400, _error(["UnitPrice"]))
    added = salesforce_client.post(
        "sobjects/OrderItem/",
        json={"OrderId": activated["order"], "PricebookEntryId": activated["entry"], "Quantity": 1, "UnitPrice": 10},
    )
    assert (added.status_code, added.json()[0]["errorCode"]) == (400, "FIELD_INTEGRITY_EXCEPTION")
    stored = app.record("OrderItem", activated["item"])
    assert (stored["Quantity"], stored["UnitPrice"], stored["Description"]) == (2, 10, None)
    assert app.record("Order", activated["order"])["TotalAmount"] == 20.0
    # Other fields stay editable, and an upsert that repeats the stored prices changes nothing.
    upsert = salesforce_client.patch(
        "sobjects/OrderItem/BigCommerceOrderItemId__c/line-1",
        json={"Quantity": 2, "UnitPrice": 10, "Description": "gift"},
    )
    assert upsert.status_code == 200, upsert.text
    assert app.record("OrderItem", activated["item"])["Description"] == "gift"


def test_rule_off_prices_change_with_the_permission_only(salesforce_sandbox, salesforce_client, activated):
    app = salesforce_sandbox.app
    switched = salesforce_client.session.post(
        f"{salesforce_client.url}/__sandbox__/rules", json={"enhanced_commerce_orders": False}, timeout=10
    )
    assert switched.json()["enhanced_commerce_orders"] is False
    item = f"sobjects/OrderItem/{activated['item']}"
    assert salesforce_client.patch(item, json={"Quantity": 3}).status_code == 204
    assert app.record("Order", activated["order"])["TotalAmount"] == 30.0
    added = salesforce_client.post(
        "sobjects/OrderItem/",
        json={"OrderId": activated["order"], "PricebookEntryId": activated["entry"], "Quantity": 1, "UnitPrice": 5},
    )
    assert added.status_code == 201, added.text
    assert app.record("Order", activated["order"])["TotalAmount"] == 35.0
    # Without Edit Activated Orders the permission rule still refuses the edit.
    app.user_permissions_set(EditActivatedOrders=False)
    refused = salesforce_client.patch(item, json={"Quantity": 4})
    assert (refused.status_code, refused.json()[0]["errorCode"]) == (400, "FIELD_INTEGRITY_EXCEPTION")
    assert "Edit Activated Orders" in refused.json()[0]["message"]
