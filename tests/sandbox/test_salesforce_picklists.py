"""Picklist values an admin adds in Setup, through the Salesforce stand-in's control API.

A real org's Order Status picklist holds the merchant's own values ("Shipped", "Cancelled"), each in a status
category, Draft or Activated (the OrderStatus object's StatusCode); an Order's StatusCode is derived from its
Status value's category, and the order rules (activation, a new order in the Draft category) key on it.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.sandbox.conftest import draft_order_create


@pytest.fixture
def app(salesforce_sandbox):
    return salesforce_sandbox.app


@pytest.fixture
def control(salesforce_sandbox):
    session = requests.Session()
    session.trust_env = False
    session.verify = salesforce_sandbox.ca_path

    def call(method: str, action: str, body: Any = None) -> requests.Response:
        return session.request(method, f"{salesforce_sandbox.url}/__sandbox__/{action}", json=body, timeout=10)

    return call


def _status_values(salesforce_client) -> list[str]:
    answer = salesforce_client.get("sobjects/Order/describe")
    assert answer.status_code == 200
    (status,) = [field for field in answer.json()["fields"] if field["name"] == "Status"]
    return [value["value"] for value in status["picklistValues"]]


def test_order_status_values_with_their_category_set_the_orders_status_code(app, control, salesforce_client):
    answer = control(
        "POST",
        "picklists/Order/Status",
        {"values": [{"value": "Shipped", "category": "Activated"}, {"value": "On Hold", "category": "Draft"}]},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"values": ["Draft", "Activated", "Shipped", "On Hold"]}
    assert _status_values(salesforce_client) == ["Draft", "Activated", "Shipped", "On Hold"]
    ids = draft_order_create(app)
    # Through the API, as the integration user: the category decides the StatusCode and the activation.
    shipped = salesforce_client.patch(f"sobjects/Order/{ids['order']}", json={"Status": "Shipped"})
    assert shipped.status_code == 204, shipped.text
    record = app.record("Order", ids["order"])
    assert (record["Status"], record["StatusCode"], record["ActivatedById"]) == (
        "Shipped",
        "Activated",
        app.org.user_id,
    )
    held = salesforce_client.patch(f"sobjects/Order/{ids['order']}", json={"Status": "On Hold"})
    assert held.status_code == 204, held.text
    record = app.record("Order", ids["order"])
    assert (record["Status"], record["StatusCode"], record["ActivatedById"]) == ("On Hold", "Draft", None)


def test_a_new_order_in_an_activated_category_value_is_refused_as_a_real_org_does(app, control, salesforce_client):
    control("POST", "picklists/Order/Status", {"values": [{"value": "Shipped", "category": "Activated"}]})
    account = app.record_create("Account", {"Name": "Buyer"})

    answer = salesforce_client.post(
        "sobjects/Order", json={"AccountId": account, "EffectiveDate": "2025-01-15", "Status": "Shipped"}
    )

    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"values": ["Shipped"]}, "need a category"),
        ({"values": [{"value": "Shipped", "category": "Closed"}]}, "need a category"),
        ({"values": [{"value": "draft", "category": "Draft"}]}, "already has the value"),
        ({"values": [{"value": "", "category": "Draft"}]}, "is not a picklist value"),
        ({"values": [{"value": "Shipped", "colour": "red"}]}, "a picklist value is"),
        ({"value": "Shipped"}, "takes"),
    ],
)
def test_a_bad_value_is_refused_and_nothing_is_added(app, control, body, message):
    answer = control("POST", "picklists/Order/Status", body)

    assert answer.status_code == 400
    assert message in answer.json()["error"]
    assert app.schema["Order"].fields["Status"].picklist == ["Draft", "Activated"]


def test_other_picklists_take_plain_values_and_reset_removes_what_was_added(app, control):
    answer = control("POST", "picklists/Account/Industry", {"values": ["Wholesale"]})
    assert answer.json() == {"values": ["Retail", "Technology", "Other", "Wholesale"]}
    refused = control("POST", "picklists/Account/Industry", {"values": [{"value": "Mining", "category": "Draft"}]})
    assert refused.status_code == 400 and "have no category" in refused.json()["error"]
    assert control("POST", "picklists/Account/Name", {"values": ["X"]}).status_code == 400  # not a picklist
    assert control("POST", "picklists/Account/Nope__c", {"values": ["X"]}).status_code == 400

    app.picklist_values_add("Order", "Status", [{"value": "Shipped", "category": "Activated"}])
    app.reset()

    assert app.schema["Account"].fields["Industry"].picklist == ["Retail", "Technology", "Other"]
    assert app.schema["Order"].fields["Status"].picklist == ["Draft", "Activated"]
    assert app.schema["Order"].fields["Status"].categories == {"Draft": "Draft", "Activated": "Activated"}
