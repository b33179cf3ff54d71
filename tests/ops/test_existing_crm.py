"""Day one on a CRM that already holds the store's people: a backfill and a live run adopt, never duplicate.

300 hand-made records (100 Accounts, 100 Contacts under them, 100 Leads; no external ids, created
with the stand-in's ``records_create``), a third of them matching the store's customers by email in
varied case. Then ``backfill_run`` (customers and orders) and live orders and abandoned carts as
webhooks through the intake. Every stand-in rule stays on (duplicate rules included).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections import Counter
from typing import Any

import pytest

from orders.backfill import BackfillFilters, backfill_run
from orders.models import SyncedOrder
from sync.models import WebhookEvent
from sync.services.webhooks import webhook_event_process, webhook_event_receive, webhook_request_sign

pytestmark = pytest.mark.django_db(transaction=False)

FIXTURES = {
    "store/order/created": "store_order_created",
    "store/cart/abandoned": "store_cart_abandoned",
}


@pytest.fixture
def wired(sandbox_store, salesforce_sandbox, settings):
    from django.core.cache import cache

    from sync.salesforce import salesforce_client_reset

    cache.clear()
    settings.SALESFORCE = {
        **settings.SALESFORCE,
        "LOGIN_URL": salesforce_sandbox.url,
        "CA_BUNDLE": salesforce_sandbox.ca_path,
    }
    salesforce_client_reset()
    yield sandbox_store
    salesforce_client_reset()


def vary_case(email: str, index: int) -> str:
    return [email.upper(), email.title(), email.capitalize()][index % 3]


def deliver(store, own_fixture, scope: str, resource_id: Any) -> WebhookEvent:
    payload = copy.deepcopy(own_fixture(FIXTURES[scope]))
    payload["data"]["id"] = resource_id
    payload["hash"] = hashlib.sha1(json.dumps(payload["data"], separators=(",", ":")).encode()).hexdigest()
    payload["created_at"] = int(time.time())
    payload["producer"] = f"stores/{store.store_hash}"
    body = json.dumps(payload, separators=(",", ":")).encode()
    received = webhook_event_receive(
        store_hash=store.store_hash, body=body, headers=webhook_request_sign(store=store, body=body)
    )
    assert received.status_code == 200, received.detail
    webhook_event_process(event_id=received.event_id)
    return WebhookEvent.objects.get(pk=received.event_id)


def test_backfill_and_live_run_adopt_existing_crm_people(wired, bigcommerce_sandbox, salesforce_sandbox, own_fixture):
    shop, org = bigcommerce_sandbox.app, salesforce_sandbox.app
    shop.generate(21, 150, 200, 0)
    shop.configure(rate_limit_quota=100_000)
    state = shop.state()
    people = sorted({customer["email"].lower() for customer in state["customers"]})
    assert len(people) >= 100

    # The CRM as a merchant's team built it: 100 Accounts, a Contact in each, 100 Leads.
    accounts = org.records_create("Account", [{"Name": f"Hand-made account {n}"} for n in range(100)])
    contact_emails = [vary_case(email, n) for n, email in enumerate(people[:50])] + [
        f"someone.else{n}@crm-only.example" for n in range(50)
    ]
    contacts = org.records_create(
        "Contact",
        [
            {"LastName": f"Person {n}", "Email": email, "AccountId": accounts[n]}
            for n, email in enumerate(contact_emails)
        ],
    )
    lead_emails = [vary_case(email, n) for n, email in enumerate(people[50:100])] + [
        f"prospect{n}@crm-only.example" for n in range(50)
    ]
    leads = org.records_create(
        "Lead",
        [{"LastName": f"Lead {n}", "Company": f"Co {n}", "Email": email} for n, email in enumerate(lead_emails)],
    )

    # duplicate_rule_action stays as shipped (allow_save): customers of one company share its name, which
    # the standard Account rule flags; people are checked below by counting, which no setting can mask.
    summary = backfill_run(store=wired, filters=BackfillFilters(customers=True), shipments=False)
    assert summary.customers_synced == len(state["customers"])
    # Orders fail only for their currency (the stand-in org has one, as most orgs do).
    assert all("CURRENCY_UNSUPPORTED" in reason for reason in summary.failed.values()), summary.failed

    # Live: new orders of matched and unmatched people (guest checkouts of registered customers among
    # them: the generated history has such orders too), and abandoned carts, as webhooks.
    products = [product for product in shop._data.catalog if product.type == "physical"][:2]
    live_emails = [people[3].upper(), people[60], "brand.new@shop.example", people[120]]
    for email in live_emails:
        order = shop.order_create(
            {"customer_id": 0, "email": email, "currency_code": "USD", "products": [{"product_id": products[0].id}]}
        )
        event = deliver(wired, own_fixture, "store/order/created", order["id"])
        assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    for value, email in (("12.00", people[7]), ("15.00", people[70]), ("900.00", people[8].upper())):
        cart = shop.cart_create(
            {
                "customer_id": 0,
                "email": email,
                "currency_code": "USD",
                "items": [{"name": "Board", "sku": "B-1", "list_price": value}],
            }
        )
        event = deliver(wired, own_fixture, "store/cart/abandoned", cart["id"])
        assert event.status == WebhookEvent.Status.DONE, event.last_error_message

    # No duplicate person: one Contact per email, one Lead per email, one Account per customer key.
    per_email = Counter((row["Email"] or "").lower() for row in org.records("Contact"))
    assert {email: n for email, n in per_email.items() if n > 1} == {}
    per_lead = Counter((row["Email"] or "").lower() for row in org.records("Lead"))
    assert {email: n for email, n in per_lead.items() if n > 1} == {}
    per_key = Counter(row["BigCommerceCustomerId__c"] for row in org.records("Account"))
    assert {key: n for key, n in per_key.items() if key and n > 1} == {}

    # Every match adopted: same Id, now carrying b2s's external id, and its Account too.
    registered = {customer["email"].lower(): customer["id"] for customer in state["customers"]}
    for n in range(50):
        contact = org.record("Contact", contacts[n])
        assert contact is not None and contact["BigCommerceCustomerId__c"] == f"sandbox:{registered[people[n]]}"
        account = org.record("Account", accounts[n])
        assert account["BigCommerceCustomerId__c"] == contact["BigCommerceCustomerId__c"]
        assert contact["AccountId"] == accounts[n]
        for row in SyncedOrder.objects.filter(account_key=contact["BigCommerceCustomerId__c"]):
            assert row.account_id == accounts[n]  # their orders (backfilled and live) are on the adopted Account
    # Carts: the high-value one's Opportunity is on the adopted Account; the low-value ones made no Lead.
    [opportunity] = org.records("Opportunity")
    assert opportunity["AccountId"] == accounts[8]
    tasks = {task["WhoId"] for task in org.records("Task")}
    assert contacts[7] in tasks
    for n in range(50, 100):  # CRM-only people are left alone
        assert org.record("Contact", contacts[n])["BigCommerceCustomerId__c"] is None
    # The Leads of the store's customers were converted into their Account and Contact (now b2s's), the
    # others left alone; none was added for a person who had one.
    assert sorted(row["Id"] for row in org.records("Lead")) == sorted(leads)
    for n, lead_id in enumerate(leads):
        lead = org.record("Lead", lead_id)
        if n < 50:
            assert lead["IsConverted"] is True, lead_id
            contact = org.record("Contact", lead["ConvertedContactId"])
            assert contact["BigCommerceCustomerId__c"] == f"sandbox:{registered[people[50 + n]]}"
        else:
            assert not lead["IsConverted"]

    # The others created: every registered customer has exactly one Contact with its key.
    keys = Counter(row["BigCommerceCustomerId__c"] for row in org.records("Contact"))
    for customer_id in registered.values():
        assert keys[f"sandbox:{customer_id}"] == 1
