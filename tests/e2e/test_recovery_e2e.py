"""End to end: the BigCommerce stand-in abandons 100 carts and converts 30; a live b2s and a real
django-q2 cluster turn them into exactly the expected Opportunities, Leads and Tasks."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from audit.models import AuditLog
from recovery.models import Cart
from sync.models import Store, WebhookEvent
from tests.e2e.conftest import live_store_create, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "e2e-recovery-secret-0123456789"
SCOPES = ("store/cart/abandoned", "store/cart/converted", "store/order/created")


@pytest.fixture
def store(bigcommerce_sandbox, live_server, transactional_db) -> Store:
    return live_store_create(
        bigcommerce_sandbox=bigcommerce_sandbox, live_server=live_server, secret=SECRET, scopes=SCOPES
    )


def settled(cluster, expected: int) -> bool:
    """``expected`` events stored, and every one at an end state."""
    if cluster.process.poll() is not None:
        pytest.fail(f"qcluster died:\n{cluster.log()}")
    rows = list(WebhookEvent.objects.values_list("status", "next_attempt_at"))
    return len(rows) >= expected and not any(s in ("pending", "processing") or n for s, n in rows)


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_one_hundred_carts_abandoned_thirty_converted(store, qcluster, bigcommerce_sandbox, salesforce_sandbox):
    bc, sf = bigcommerce_sandbox.app, salesforce_sandbox.app
    customers = [
        bc.customer_create(first_name=f"Reg{i}", last_name="Shopper", email=f"reg{i}@example.com") for i in range(10)
    ]
    # 100 carts: registered and guest, above and below 100 (both edges), and some nobody can follow up.
    carts, expect = [], {}
    for i in range(100):
        value = ["100.00", "99.99", "250.00", "40.00", "500.01"][i % 5]
        spec = {"currency_code": "USD", "items": [{"name": f"Item {i}", "sku": f"SKU-{i}", "list_price": value}]}
        if i % 10 == 0:
            spec["customer_id"] = customers[i // 10]["id"]
        elif i % 7 == 3:
            spec.update(customer_id=0, email="")  # no email, no customer: skipped
        else:
            spec.update(customer_id=0, email=f"guest{i}@example.com")
        cart = bc.cart_create(spec)
        carts.append(cart)
        if spec.get("email") == "":
            expect[cart["id"]] = "skipped"
        else:
            expect[cart["id"]] = "Opportunity" if Decimal(value) >= 100 else "Lead"

    for cart in carts:
        bc.cart_abandon(cart["id"])
    bc.deliveries_wait(timeout=60)
    wait_for(lambda: settled(qcluster, 100), timeout=120, what="100 abandonments")

    statuses = Counter(WebhookEvent.objects.filter(scope="store/cart/abandoned").values_list("status", flat=True))
    skipped = [cid for cid, kind in expect.items() if kind == "skipped"]
    assert statuses == Counter({"done": 100 - len(skipped), "skipped": len(skipped)}), qcluster.log()

    # 30 carts are bought: 27 followed-up ones and 3 that were skipped.
    followed = [c["id"] for c in carts if expect[c["id"]] != "skipped"]
    bought = followed[:27] + skipped[:3]
    orders = {cart_id: bc.cart_convert(cart_id) for cart_id in bought}
    bc.deliveries_wait(timeout=60)
    wait_for(lambda: settled(qcluster, 100 + 2 * len(bought)), timeout=120, what="30 conversions and their orders")
    conversions = Counter(WebhookEvent.objects.filter(scope="store/cart/converted").values_list("status", flat=True))
    assert conversions == Counter({"done": 27, "skipped": 3}), qcluster.log()
    failed = WebhookEvent.objects.filter(status="failed").values_list("scope", "last_error_code", "last_error_message")
    assert not failed.exists(), list(failed)

    opportunities = {o["Cart_ID__c"]: o for o in sf.records("Opportunity")}
    contacts = {c["Id"]: c["AccountId"] for c in sf.records("Contact")}
    synced_orders = {o["BigCommerceOrderId__c"]: o for o in sf.records("Order")}
    leads = {lead["AbandonedCartId__c"]: lead for lead in sf.records("Lead")}
    tasks = {t["BigCommerceCartId__c"]: t for t in sf.records("Task")}
    key = store.external_id
    assert set(opportunities) == {key(c) for c, kind in expect.items() if kind == "Opportunity"}
    assert set(leads) == {key(c) for c, kind in expect.items() if kind == "Lead"}
    assert set(tasks) == {key(c) for c in followed}
    assert len(sf.records("Task")) == len(followed)  # one Task per cart, never two
    for cart_id in followed:
        won = cart_id in orders
        task = tasks[key(cart_id)]
        assert task["Status"] == ("Completed" if won else "Not Started"), cart_id
        if expect[cart_id] == "Opportunity":
            opportunity = opportunities[key(cart_id)]
            assert opportunity["StageName"] == ("Closed Won" if won else "Prospecting"), cart_id
            assert task["WhatId"] == opportunity["Id"]
            if won:
                assert _money(opportunity["Amount"]) == _money(orders[cart_id]["total_inc_tax"])
        else:
            lead = leads[key(cart_id)]
            assert lead["Status"] == ("Closed - Converted" if won else "Open - Not Contacted"), cart_id
            # A bought cart's Lead is really converted (convertLead), into its order's Account and Contact.
            assert lead["IsConverted"] is won, cart_id
            if won:
                order = synced_orders[key(orders[cart_id]["id"])]
                assert lead["ConvertedAccountId"] == order["AccountId"], cart_id
                assert contacts[lead["ConvertedContactId"]] == order["AccountId"], cart_id
                assert not lead["ConvertedOpportunityId"], cart_id
            # Salesforce moves a converted Lead's activities to its Contact.
            assert task["WhoId"] in (lead["Id"], lead["ConvertedContactId"])
    assert len(sf.platform_events("BigCommerce_Cart_Abandoned__e")) == len(followed)

    local = Counter(Cart.objects.values_list("state", flat=True))
    assert local == Counter({"open": len(followed) - 27, "converted": 30, "skipped": len(skipped) - 3})
    # One Salesforce request per won Opportunity; a Lead's conversion adds convertLead (and, once, the org's
    # converted status).
    conversions = list(AuditLog.objects.filter(operation="CART_CONVERSION", status="success"))
    assert len(conversions) == 27
    won_leads = [audit for audit in conversions if audit.details["record"] == "lead"]
    # Whichever of the order's sync and the cart's conversion runs first converts the Lead; the other finds it done.
    assert won_leads and {audit.details["lead"] for audit in won_leads} <= {"converted", "already_converted"}
    won = Counter(a.salesforce_api_calls for a in conversions if a.details["record"] == "opportunity")
    # A worker process that has not written an Opportunity yet also reads its describe (field lengths),
    # once: at most one conversion per worker (2) carries that read.
    assert set(won) <= {1, 2} and won[2] <= 2 and won[1] >= 1, won
    # Exactly one convertLead per bought cart's Lead, never a second (nor a refused one).
    assert sum(1 for call in sf.calls if "/services/Soap/" in call["path"]) == len(won_leads)
    calls = list(
        AuditLog.objects.filter(operation="CART_SYNC", status="success").values_list("salesforce_api_calls", flat=True)
    )
    # Every shopper here is new to the CRM: one lookup (is the shopper already a Contact or Lead?) and one
    # composite write per abandonment. Each worker process also describes the objects it writes, once, for
    # their field lengths (at most one request per object per worker).
    assert len(calls) == len(followed) and min(calls) == 2
    described = {"Account", "Contact", "Lead", "Opportunity", "Task"}
    assert sum(calls) - 2 * len(followed) <= 2 * len(described)
