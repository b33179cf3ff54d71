"""Rule ``activated_orders``: an activated order's products cannot be deleted (even with Edit Activated
Orders), and an order's AccountId changes only while it is Draft.

Salesforce Help, "Editing and Deletion Considerations for Order Products" ("After an order ... is
activated, you can't delete its order products. But you can still edit an order product's fields.") and
"Editing and Deletion Limitations for Orders" ("you can change its Account field only when ... the order
is in Draft status").
"""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import draft_order_create


@pytest.fixture
def order(salesforce_sandbox):
    """A Draft order with one order product, and a second account: dict of ids."""
    ids = draft_order_create(salesforce_sandbox.app, order_fields={"BigCommerceOrderId__c": "100"})
    other = salesforce_sandbox.app.record_create("Account", {"Name": "Other buyer"})
    return {"order": ids["order"], "item": ids["item"], "account": ids["account"], "other": other}


def _activate(client, order_id):
    answer = client.patch(f"sobjects/Order/{order_id}", json={"Status": "Activated"})
    assert answer.status_code == 204, answer.text


def test_products_of_an_activated_order_cannot_be_deleted_even_with_the_permission(
    salesforce_sandbox, salesforce_client, order
):
    app = salesforce_sandbox.app
    assert app.user_permissions()["EditActivatedOrders"] is True
    _activate(salesforce_client, order["order"])
    answer = salesforce_client.delete(f"sobjects/OrderItem/{order['item']}")
    assert answer.status_code == 400
    assert answer.json() == [
        {
            "message": "You can't delete order products from an activated order. Set the order's Status back to "
            "Draft first.",
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "fields": [],
        }
    ]
    assert app.record("OrderItem", order["item"]) is not None
    collection = salesforce_client.delete("composite/sobjects", params={"ids": order["item"]})
    assert collection.json()[0]["errors"][0]["statusCode"] == "FIELD_INTEGRITY_EXCEPTION"
    # Back to Draft, the product can go.
    assert salesforce_client.patch(f"sobjects/Order/{order['order']}", json={"Status": "Draft"}).status_code == 204
    assert salesforce_client.delete(f"sobjects/OrderItem/{order['item']}").status_code == 204


def test_account_of_an_order_changes_only_while_draft(salesforce_sandbox, salesforce_client, order):
    app = salesforce_sandbox.app
    _activate(salesforce_client, order["order"])
    moved = salesforce_client.patch(f"sobjects/Order/{order['order']}", json={"AccountId": order["other"]})
    assert moved.status_code == 400
    assert moved.json() == [
        {
            "message": "You can change the account of an order only while the order is in Draft status.",
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "fields": ["AccountId"],
        }
    ]
    assert app.record("Order", order["order"])["AccountId"] == order["account"]
    # The same value, as an upsert sends it again, is no change.
    upsert = salesforce_client.patch(
        "sobjects/Order/BigCommerceOrderId__c/100", json={"AccountId": order["account"], "Description": "paid"}
    )
    assert upsert.status_code == 200, upsert.text
    # A Draft order may move to another account.
    assert salesforce_client.patch(f"sobjects/Order/{order['order']}", json={"Status": "Draft"}).status_code == 204
    draft = salesforce_client.patch(f"sobjects/Order/{order['order']}", json={"AccountId": order["other"]})
    assert draft.status_code == 204
    assert app.record("Order", order["order"])["AccountId"] == order["other"]


def test_rule_off_activated_products_delete_and_account_moves(salesforce_sandbox, salesforce_client, order):
    app = salesforce_sandbox.app
    switched = salesforce_client.session.post(
        f"{salesforce_client.url}/__sandbox__/rules", json={"activated_orders": False}, timeout=10
    )
    assert switched.json()["activated_orders"] is False
    _activate(salesforce_client, order["order"])
    moved = salesforce_client.patch(f"sobjects/Order/{order['order']}", json={"AccountId": order["other"]})
    assert moved.status_code == 204
    assert salesforce_client.delete(f"sobjects/OrderItem/{order['item']}").status_code == 204
    assert app.record("OrderItem", order["item"]) is None
