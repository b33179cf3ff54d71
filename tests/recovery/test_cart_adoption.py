"""Cart shoppers already in the CRM: a Contact gets no Lead, a Lead is reused (strict stand-in, every rule on)."""

from __future__ import annotations

import pytest

from recovery.models import Cart
from sync.customers import customer_identity
from sync.models import CustomerLink, WebhookEvent
from sync.salesforce import salesforce_client

pytestmark = pytest.mark.django_db


def test_low_value_cart_of_a_shopper_who_is_a_contact_makes_no_lead(recovery):
    account_id = recovery.org.record_create("Account", {"Name": "Shopper Holdings"})
    contact_id = recovery.org.record_create(
        "Contact", {"LastName": "Shopper", "Email": "Known.Shopper@Example.com", "AccountId": account_id}
    )
    cart = recovery.cart("12.00", email="known.shopper@example.com")

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert recovery.records("Lead") == []
    assert [row["Id"] for row in recovery.records("Contact")] == [contact_id]
    assert [row["Id"] for row in recovery.records("Account")] == [account_id]
    contact = recovery.org.record("Contact", contact_id)
    assert contact["BigCommerceCustomerId__c"] and contact["AccountId"] == account_id
    task = next(row for row in recovery.records("Task"))
    assert task["WhoId"] == contact_id and task["WhatId"] == account_id
    local = Cart.objects.get(cart_id=cart["id"])
    assert local.lead_id == "" and local.contact_id == contact_id and local.task_id == task["Id"]


def test_cart_of_a_shopper_known_by_a_lead_reuses_it(recovery):
    lead_id = recovery.org.record_create(
        "Lead", {"LastName": "Prospect", "Company": "Prospect Ltd", "Email": "PROSPECT@example.com"}
    )
    cart = recovery.cart("12.00", email="prospect@example.com")

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    leads = recovery.records("Lead")
    assert [row["Id"] for row in leads] == [lead_id]
    assert leads[0]["LastName"] == "Prospect" and leads[0]["Company"] == "Prospect Ltd"  # the person is kept
    assert leads[0]["AbandonedCartId__c"] == f"{recovery.store.store_hash}:{cart['id']}"
    assert Cart.objects.get(cart_id=cart["id"]).lead_id == lead_id
    assert CustomerLink.objects.get(store=recovery.store).lead_id == lead_id

    # A second cart of the same shopper: the same Lead, and no lookup (remembered).
    second = recovery.cart("15.00", email="prospect@example.com")
    before = recovery.requests()
    event = recovery.abandon(second["id"])
    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert [row["Id"] for row in recovery.records("Lead")] == [lead_id]
    assert recovery.requests() - before == 1


def test_cart_of_a_customer_b2s_already_synced_goes_to_their_contact_untouched(recovery):
    customer = recovery.customer(first_name="Ada", last_name="Known", email="ada.known@example.com", company="Engines")
    account_id = recovery.org.record_create("Account", {"Name": "Engines Ltd (as sales keep it)"})
    contact_id = recovery.org.record_create(
        "Contact", {"LastName": "Known", "Email": "ada.known@example.com", "AccountId": account_id}
    )
    key = customer_identity(store=recovery.store, customer_id=customer["id"], email=customer["email"]).key
    # As an earlier order left them: the records carry the key and b2s remembers their ids.
    client = salesforce_client()
    client.request("PATCH", f"sobjects/Account/{account_id}", json={"BigCommerceCustomerId__c": key})
    client.request("PATCH", f"sobjects/Contact/{contact_id}", json={"BigCommerceCustomerId__c": key})
    CustomerLink.objects.create(store=recovery.store, customer_key=key, account_id=account_id, contact_id=contact_id)
    cart = recovery.cart("12.00", customer_id=customer["id"])
    before = recovery.requests()

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert recovery.requests() - before == 1  # remembered: no lookup, nothing but the Task (and event)
    assert recovery.records("Lead") == []
    assert recovery.org.record("Account", account_id)["Name"] == "Engines Ltd (as sales keep it)"
    task = recovery.one("Task")
    assert (task["WhoId"], task["WhatId"]) == (contact_id, account_id)
    local = Cart.objects.get(cart_id=cart["id"])
    assert (local.contact_id, local.account_id, local.lead_id) == (contact_id, account_id, "")


def test_cart_of_a_backfilled_customer_finds_their_records_by_key(recovery):
    from orders.backfill import customers_sync_batch
    from sync.bigcommerce import bigcommerce_client

    customer = recovery.customer(first_name="Bea", last_name="Backfilled", email="bea@example.com")
    rows = bigcommerce_client(recovery.store).request(
        "GET", "/v3/customers", params={"include": "addresses", "id:in": customer["id"]}
    )["data"]
    assert customers_sync_batch(store=recovery.store, customers=rows) == (1, {})
    link = CustomerLink.objects.get(store=recovery.store)
    assert not link.contact_id  # the backfill remembers the customer, not the ids
    contact = recovery.one("Contact")
    cart = recovery.cart("12.00", customer_id=customer["id"])

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert recovery.records("Lead") == [] and len(recovery.records("Contact")) == 1
    task = recovery.one("Task")
    assert (task["WhoId"], task["WhatId"]) == (contact["Id"], contact["AccountId"])
    assert recovery.org.record("Contact", contact["Id"])["LastName"] == "Backfilled"
