"""Connected records in the stand-in: rule ``order_contacts`` (an Order's bill-to and ship-to Contacts are
people of its Account) and OpportunityContactRole as the object reference describes it (OpportunityId and
ContactId required, OpportunityId fixed once created, one primary per Opportunity, the same Contact may hold
several roles: "possible, but not recommended").
"""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import draft_order_create


@pytest.fixture
def people(salesforce_sandbox):
    """A Draft order of a buyer with a Contact, and another Account with its own Contact: ids by name."""
    app = salesforce_sandbox.app
    ids = draft_order_create(app)
    ids["contact"] = app.record_create("Contact", {"LastName": "Buyer", "AccountId": ids["account"]})
    ids["other"] = app.record_create("Account", {"Name": "Someone else"})
    ids["stranger"] = app.record_create("Contact", {"LastName": "Stranger", "AccountId": ids["other"]})
    return ids


def test_an_order_takes_contacts_of_its_account_only(salesforce_sandbox, salesforce_client, people):
    app = salesforce_sandbox.app
    order_url = f"sobjects/Order/{people['order']}"
    refused = salesforce_client.patch(order_url, json={"BillToContactId": people["stranger"]})
    assert refused.status_code == 400
    assert refused.json() == [
        {
            "message": "Bill To Contact ID: the contact must belong to the order's account.",
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "fields": ["BillToContactId"],
        }
    ]
    linked = {"BillToContactId": people["contact"], "ShipToContactId": people["contact"]}
    assert salesforce_client.patch(order_url, json=linked).status_code == 204
    assert app.record("Order", people["order"])["BillToContactId"] == people["contact"]
    # Moving the order to another Account while it keeps the old customer's Contact is refused too ...
    moved = salesforce_client.patch(order_url, json={"AccountId": people["other"]})
    assert moved.status_code == 400 and moved.json()[0]["fields"] == ["BillToContactId"]
    # ... and allowed with that Account's Contact in the same write.
    both = {"AccountId": people["other"], "BillToContactId": people["stranger"], "ShipToContactId": None}
    assert salesforce_client.patch(order_url, json=both).status_code == 204
    # Rule off: any Contact.
    app.rules_set(order_contacts=False)
    assert salesforce_client.patch(order_url, json={"BillToContactId": people["contact"]}).status_code == 204


def test_an_opportunity_contact_role_needs_both_ids_and_keeps_its_opportunity(
    salesforce_sandbox, salesforce_client, people
):
    app = salesforce_sandbox.app
    account = people["account"]
    opportunity = app.record_create(
        "Opportunity", {"Name": "Cart", "StageName": "Prospecting", "CloseDate": "2025-02-01", "AccountId": account}
    )
    missing = salesforce_client.post("sobjects/OpportunityContactRole/", json={"OpportunityId": opportunity})
    assert missing.status_code == 400 and missing.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert missing.json()[0]["fields"] == ["ContactId"]
    body = {"OpportunityId": opportunity, "ContactId": people["contact"], "IsPrimary": True, "Role": "Decision Maker"}
    first = salesforce_client.post("sobjects/OpportunityContactRole/", json=body).json()["id"]
    assert first.startswith("00K")
    # The same Contact again: allowed (Salesforce does not prevent it), and the newer primary wins.
    second = salesforce_client.post("sobjects/OpportunityContactRole/", json=body).json()["id"]
    roles = {row["Id"]: row for row in app.records("OpportunityContactRole")}
    assert set(roles) == {first, second}
    assert (roles[first]["IsPrimary"], roles[second]["IsPrimary"]) == (False, True)
    other = app.record_create(
        "Opportunity", {"Name": "Other", "StageName": "Prospecting", "CloseDate": "2025-02-01", "AccountId": account}
    )
    moved = salesforce_client.patch(f"sobjects/OpportunityContactRole/{first}", json={"OpportunityId": other})
    assert moved.status_code == 400 and moved.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    found = salesforce_client.get(
        "query",
        params={"q": "SELECT Id FROM OpportunityContactRole WHERE Opportunity.Name = 'Cart' AND IsPrimary = true"},
    ).json()
    assert [row["Id"] for row in found["records"]] == [second]
