"""End to end, analytics under contention: 20 customers x 5 orders placed at the same moment, 4 workers.

The BigCommerce stand-in holds every order's webhook back and then fires them all at once, each
customer's five side by side, at a live b2s; a real django-q2 cluster with four workers syncs them.
Afterwards every Account's analytics in the Salesforce stand-in equal the values the pure rules
(``analytics.rules``) compute from the ledger, with no daily recompute run; the ledger itself equals
BigCommerce's orders. The corrections this cost (extra Account PATCHes) are counted and reported.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from analytics.models import CustomerValues, LedgerEntry
from audit.models import AuditLog
from orders.models import SyncedOrder
from sync.models import Store, WebhookEvent
from tests.analytics.payloads import account_analytics, ledger_account_fields
from tests.e2e.conftest import live_store_create, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "e2e-analytics-secret-0123456789"
CUSTOMERS = 20
ORDERS_EACH = 5
WORKERS = "4"
CENT = Decimal("0.01")


def cents(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


@pytest.fixture
def store(bigcommerce_sandbox, live_server, transactional_db) -> Store:
    return live_store_create(
        bigcommerce_sandbox=bigcommerce_sandbox, live_server=live_server, secret=SECRET, scopes=("store/order/*",)
    )


def settled(cluster, expected: int) -> bool:
    if cluster.process.poll() is not None:
        pytest.fail(f"qcluster died:\n{cluster.log()}")
    rows = list(WebhookEvent.objects.values_list("status", "next_attempt_at"))
    return len(rows) >= expected and not any(status in ("pending", "processing") or due for status, due in rows)


def test_concurrent_orders_of_each_customer_end_with_the_ledgers_values(
    store, qcluster_start, bigcommerce_sandbox, salesforce_sandbox
):
    bc, sf = bigcommerce_sandbox.app, salesforce_sandbox.app
    cluster = qcluster_start(Q_WORKERS=WORKERS)
    rng = random.Random(11)
    # Every delivery is held until all orders exist, then all go at once (newest first: each
    # customer's five orders stay side by side in the queue, so the workers take them together).
    total = CUSTOMERS * ORDERS_EACH
    bc.configure(reorder="reverse", reorder_window=total + 1, reorder_hold_ms=600_000)
    catalog = [product for product in bc._data.catalog if product.type == "physical"]
    created: list[int] = []
    for index in range(CUSTOMERS):
        customer_id = bc.customer_create(email=f"together{index}@example.com")["id"]
        for _ in range(ORDERS_EACH):
            spec = {
                "customer_id": customer_id,
                "currency_code": "USD",
                # Mostly counted statuses, some not (Cancelled), so counting is part of the check.
                "status_id": rng.choice((11, 11, 11, 10, 2, 5)),
                "products": [
                    {"product_id": product.id, "quantity": rng.randint(1, 3)}
                    for product in rng.sample(catalog, rng.randint(1, 3))
                ],
            }
            created.append(bc.order_create(spec)["id"])
    sf_before = len(sf.calls)
    bc.deliveries_release()
    bc.deliveries_wait(timeout=120)
    wait_for(lambda: settled(cluster, total), timeout=300, what="every order event")

    events = list(WebhookEvent.objects.all())
    assert {event.status for event in events} == {"done"}, cluster.log()
    assert not AuditLog.objects.filter(operation=AuditLog.Operation.ANALYTICS_RECOMPUTE).exists()

    # The ledger is BigCommerce's truth: one row per order, its total to the cent.
    state = {entry["order"]["id"]: entry["order"] for entry in bc.state()["orders"]}
    ledger = {row.order_id: row for row in LedgerEntry.objects.filter(store=store)}
    assert sorted(ledger) == sorted(created)
    for order_id in created:
        assert cents(ledger[order_id].gross_total) == cents(state[order_id]["total_inc_tax"])

    # What the exact values cost: the corrections (Account PATCHes after an order's own write).
    analytics = [
        entry.details["analytics"]
        for entry in AuditLog.objects.filter(status="success", event__isnull=False)
        if "analytics" in (entry.details or {})
    ]
    corrections = sum(item["corrections"] for item in analytics)
    print(
        f"\n{CUSTOMERS} customers x {ORDERS_EACH} orders, {WORKERS} workers: {corrections} correction PATCHes "
        f"({corrections / total:.2f} per order; {len(sf.calls) - sf_before} Salesforce requests in all); "
        f"corrections per sync: {sorted(item['corrections'] for item in analytics if item['corrections'])}"
    )
    assert all(item["settled"] for item in analytics), [item for item in analytics if not item["settled"]]

    keys = set(SyncedOrder.objects.filter(store=store).values_list("account_key", flat=True))
    assert len(keys) == CUSTOMERS
    accounts = {account["BigCommerceCustomerId__c"]: account for account in sf.records("Account")}
    repeat_buyers = 0
    for key in sorted(keys):
        expected = ledger_account_fields(store, key)
        repeat_buyers += expected["Total_Orders__c"] > 1
        assert account_analytics(accounts[key], list(expected)) == expected, key
        # What b2s remembers as pushed is what Salesforce holds: the daily recompute finds nothing.
        assert CustomerValues.objects.get(store=store, customer_key=key).pushed_values == expected, key
    assert repeat_buyers >= CUSTOMERS // 2  # the contended case really happened for most customers

    patches = [
        call
        for call in sf.calls[sf_before:]
        if call["method"] == "PATCH" and "/sobjects/Account/" in call["path"] and call["status"] == 204
    ]
    assert len(patches) == corrections
