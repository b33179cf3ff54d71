"""The API-request budget, read from the stand-ins' own counters, over 50 generated orders.

Salesforce: at most 1 request per order whose products are known, at most 2 otherwise.
BigCommerce: 1 request per order, plus (counted and asserted exactly, not hidden) one
``/v3/customers`` for a registered customer b2s has not seen yet and one ``/shipments`` for an
order with shipped units that b2s has not read yet. The process-wide reads (standard price book,
Order describe) happen once per process and are taken before counting.
"""

from __future__ import annotations

import math

import pytest

from orders.batches import orders_sync_batch
from orders.documents import product_key
from orders.models import KnownProduct, SyncedOrder
from sync.bigcommerce import bigcommerce_client
from tests.orders.test_order_sync import assert_items_match, cents

pytestmark = pytest.mark.django_db

ORDERS = 50


def generated_dollar_orders(orders, count: int) -> list[dict]:
    """``count`` generated orders (every status, guests and customers, shipments, refunds) in the org's currency."""
    orders.bc.generate(seed=20251127, customers=15, orders=count * 2, carts=0)
    chosen = [entry["order"] for entry in orders.bc.state()["orders"] if entry["order"]["currency_code"] == "USD"]
    assert len(chosen) >= count
    return chosen[:count]


def test_fifty_orders_one_request_each_side(orders):
    generated = generated_dollar_orders(orders, ORDERS)
    orders.warm_up()
    customers_seen: set[int] = set()
    people_seen: set[object] = set()
    per_order_unseen: list[bool] = []
    per_order = []
    for order in generated:
        known = {(row.product_key, row.currency) for row in KnownProduct.objects.all()}
        needed = {(product_key("sandbox", line), "") for line in orders.lines(order["id"])}
        _, costs = orders.deliver("store/order/created", order["id"])

        # Plus one lookup of existing CRM records for a customer (with an email) not seen before.
        person = order["customer_id"] or order["billing_address"]["email"].lower()
        unseen = bool(order["customer_id"] or order["billing_address"]["email"]) and person not in people_seen
        salesforce_budget = (1 if needed <= known else 2) + unseen
        assert costs.salesforce <= salesforce_budget, (order["id"], costs)
        people_seen.add(person)
        per_order_unseen.append(unseen)
        new_customer = order["customer_id"] > 0 and order["customer_id"] not in customers_seen
        shipped = order["items_shipped"] > 0
        assert costs.bigcommerce == 1 + new_customer + shipped, (order["id"], costs.bigcommerce_paths)
        customers_seen.add(order["customer_id"])
        per_order.append((costs, needed <= known, new_customer, shipped))

    assert len(orders.records("Order")) == ORDERS
    for order in generated:
        record = orders.order_record(order["id"])
        assert cents(record["Grand_Total__c"]) == cents(order["total_inc_tax"])
        assert_items_match(orders, order["id"], record)
    known_orders = [
        costs
        for (costs, known, _, _), unseen in zip(per_order, per_order_unseen, strict=True)
        if known and not unseen  # a customer's first order also looks for them in the CRM
    ]
    plain = [costs for costs, _, new_customer, shipped in per_order if not new_customer and not shipped]
    assert len(known_orders) >= 10  # the catalog repeats: many orders find their products known
    assert all(costs.salesforce == 1 for costs in known_orders)
    assert all(costs.bigcommerce == 1 for costs in plain)

    # Every webhook again (a redelivery storm): nothing changed, so no Salesforce request at all,
    # and the remembered shipments and customers keep BigCommerce at one request per order.
    for order in generated:
        result, costs = orders.deliver("store/order/updated", order["id"])
        assert result.details["unchanged"] is True
        assert (costs.salesforce, costs.bigcommerce) == (0, 1), order["id"]


@pytest.mark.parametrize("mode", ["graphs", "collections"])
def test_batch_of_fifty_fetched_with_one_list_request(orders, mode):
    generated = generated_dollar_orders(orders, ORDERS)
    orders.warm_up()
    ids = {order["id"] for order in generated}
    sf_before, bc_before = orders.sf.api_calls_counted(), len(orders.bc.calls())
    listed = bigcommerce_client(orders.store).orders_list(limit=250, sort="id:asc")
    batch_orders = [order for order in listed if order["id"] in ids]
    assert len(batch_orders) == ORDERS
    # The default threshold (50 orders) sends this batch as collections; above it, as graphs.
    minimum = None if mode == "collections" else ORDERS + 1
    result = orders_sync_batch(store=orders.store, orders=batch_orders, events=False, collections_min=minimum)
    assert result.mode == mode

    assert result.failed == {} and set(result.results) == ids
    bc_calls = orders.bc.calls()[bc_before:]
    bc_paths = [call["path"] for call in bc_calls]
    customers = [path for path in bc_paths if path.endswith("/v3/customers")]
    shipments = [path for path in bc_paths if path.endswith("/shipments")]
    assert bc_paths.count("/stores/sandbox/v2/orders") == 1
    assert len(customers) == 1  # every unseen customer of the batch in one request
    assert len(shipments) == sum(1 for order in batch_orders if order["items_shipped"] > 0)

    sf_spent = orders.sf.api_calls_counted() - sf_before
    assert result.order_graphs == ORDERS
    if mode == "graphs":
        # Salesforce: the entries query, the new products (one request), then the orders in as few graph
        # requests as Salesforce's limits allow (500 nodes and 75 graphs a request).
        # One more: the lookup of the batch's new customers in the CRM (one composite of queries).
        assert sf_spent == result.salesforce_requests == 3 + result.order_requests
        assert result.order_requests == max(math.ceil(result.order_nodes / 500), math.ceil(ORDERS / 75))
    else:
        # Composite 1: Product2, PricebookEntry, Account, Contact and Order collections; composite 2 (it needs
        # the new entries' ids): OrderItems and the Orders' status. No query: no entry existed.
        items = sum(len(orders.lines(order_id)) for order_id in ids)
        assert items <= 4 * 200
        # Plus the lookup of the batch's new customers in the CRM (one composite of queries).
        assert sf_spent == result.salesforce_requests == result.composite_requests + 1 == 3
        assert all(call["path"].endswith("/composite") for call in orders.sf.calls[-sf_spent:])
        customers = {(o["customer_id"] or o["billing_address"]["email"].lower()) for o in batch_orders}
        # At least every Order, OrderItem and Account once (plus Contacts, products, statuses).
        assert result.collection_records >= ORDERS + items + len(customers)
    assert SyncedOrder.objects.count() == ORDERS
    assert len(orders.records("Order")) == ORDERS
    for order in generated:
        record = orders.order_record(order["id"])
        assert cents(record["Grand_Total__c"]) == cents(order["total_inc_tax"])
        assert_items_match(orders, order["id"], record)
    assert orders.sf.platform_events() == []
    # A customer with several orders in the batch gets the analytics of all of them (one graph carries them).
    from analytics.services import customer_account_fields

    accounts = orders.records("Account")
    repeat = [a for a in accounts if SyncedOrder.objects.filter(account_key=a["BigCommerceCustomerId__c"]).count() > 1]
    assert repeat
    for account in accounts:
        expected = customer_account_fields(store=orders.store, customer_key=account["BigCommerceCustomerId__c"])
        assert cents(account["CLV__c"]) == expected["CLV__c"], account["BigCommerceCustomerId__c"]
        assert account["Total_Orders__c"] == expected["Total_Orders__c"]
    print(
        f"batch of {ORDERS}: {sf_spent} Salesforce requests, {len(bc_paths)} BigCommerce requests, {result.order_nodes} nodes"
    )

    # A second batch with nothing new costs no Salesforce request.
    again = orders_sync_batch(store=orders.store, orders=batch_orders, events=False)
    assert again.failed == {} and again.salesforce_requests == 0
