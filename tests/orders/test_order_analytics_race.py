"""Two orders of one customer synced at the same moment: the Account ends with the full ledger's analytics.

The interleavings are forced deterministically by running the second order's whole sync inside a
hook of the first one's: between its computing the Account values and sending them, and between
Salesforce applying its write and its local recording. The expected values come from the ledger
through the pure rules (``analytics.rules``), never from the code under test.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import orders.services as order_module
from analytics.models import CustomerValues
from orders.batches import orders_sync_batch
from orders.models import SyncedOrder
from sync.bigcommerce import bigcommerce_client
from tests.analytics.payloads import account_analytics, ledger_account_fields
from tests.orders.test_order_sync import cents, make_order, physical_products

pytestmark = pytest.mark.django_db


def two_orders_of_one_customer(orders) -> tuple[dict, dict]:
    products = physical_products(orders, 2)
    # Another buyer's order makes both products known, so each order below is one graph request.
    warm = make_order(
        orders, {"email": "earlier.buyer@example.com", "products": [{"product_id": p.id} for p in products]}
    )
    orders.deliver("store/order/created", warm["id"])
    spec = {"email": "same.moment@example.com", "status_id": 11}
    first = make_order(orders, {**spec, "products": [{"product_id": products[0].id, "quantity": 2}]})
    second = make_order(orders, {**spec, "products": [{"product_id": products[1].id, "quantity": 3}]})
    return first, second


def assert_account_equals_ledger(orders, first: dict, second: dict) -> str:
    key = SyncedOrder.objects.get(order_id=first["id"]).account_key
    assert SyncedOrder.objects.get(order_id=second["id"]).account_key == key
    expected = ledger_account_fields(orders.store, key)
    # Independent of the rules: both orders count, and the lifetime value is their sum in BigCommerce.
    total = cents(first["total_inc_tax"]) + cents(second["total_inc_tax"])
    assert (expected["Total_Orders__c"], Decimal(expected["CLV__c"])) == (2, total)
    account = orders.one("Account", BigCommerceCustomerId__c=key)
    assert account_analytics(account, list(expected)) == expected
    # And what b2s remembers as pushed is what Salesforce holds (the daily recompute has nothing to do).
    assert CustomerValues.objects.get(store=orders.store, customer_key=key).pushed_values == expected
    return key


@pytest.fixture
def fresh_orders(orders):
    """Two new orders of one guest, their products known to b2s."""
    orders.warm_up()
    return two_orders_of_one_customer(orders)


def test_the_other_order_lands_first_then_the_stale_write_is_corrected(orders, fresh_orders, monkeypatch):
    """A computes its values, B syncs whole, A sends its (now stale) values last: A corrects with one PATCH."""
    first, second = fresh_orders
    real_send = order_module._order_send
    inner: list[Any] = []

    def send_after_the_other(**kwargs):
        if kwargs["prepared"].order_id == first["id"] and not inner:
            inner.append(orders.deliver("store/order/created", second["id"]))
        return real_send(**kwargs)

    monkeypatch.setattr(order_module, "_order_send", send_after_the_other)
    result, costs = orders.deliver("store/order/created", first["id"])
    monkeypatch.undo()

    assert_account_equals_ledger(orders, first, second)
    (second_result, second_costs) = inner[0]
    assert second_result.details["analytics"] == {"corrections": 0, "settled": True}
    assert result.details["analytics"] == {"corrections": 1, "settled": True}
    print(f"A: {costs.salesforce} Salesforce requests (1 correction); B: {second_costs.salesforce}")


def test_the_other_order_lands_last_then_nothing_is_corrected_by_it(orders, fresh_orders, monkeypatch):
    """A's write lands, then B syncs whole before A records anything: B already counts A's order."""
    first, second = fresh_orders
    real_graph_send = order_module._graph_send
    inner: list[Any] = []

    def other_after_the_write(client, graph):
        answer = real_graph_send(client, graph)
        if graph.prepared.order_id == first["id"] and not inner:
            inner.append(orders.deliver("store/order/created", second["id"]))
        return answer

    monkeypatch.setattr(order_module, "_graph_send", other_after_the_write)
    result, _ = orders.deliver("store/order/created", first["id"])
    monkeypatch.undo()

    assert_account_equals_ledger(orders, first, second)
    second_result, _ = inner[0]
    assert second_result.details["analytics"] == {"corrections": 0, "settled": True}
    # A sent one order's values and saw the ledger grew: one PATCH, harmless (the same values as B's).
    assert result.details["analytics"] == {"corrections": 1, "settled": True}

    # Redelivered afterwards: the ledger does not change, so nothing is corrected.
    for order in (first, second):
        again, _ = orders.deliver("store/order/updated", order["id"])
        assert again.details.get("analytics", {}).get("corrections", 0) == 0, (order["id"], again.details)
    assert_account_equals_ledger(orders, first, second)


def test_a_correction_beyond_the_bound_is_left_to_the_recompute(orders, fresh_orders, monkeypatch):
    """When the ledger keeps changing, the sync stops after the bound and forgets what it pushed."""
    import analytics.services as analytics_services

    first, second = fresh_orders
    monkeypatch.setattr(analytics_services, "SETTLE_CORRECTIONS_MAX", 0)
    real_send = order_module._order_send
    inner: list[Any] = []

    def send_after_the_other(**kwargs):
        if kwargs["prepared"].order_id == first["id"] and not inner:
            inner.append(orders.deliver("store/order/created", second["id"]))
        return real_send(**kwargs)

    monkeypatch.setattr(order_module, "_order_send", send_after_the_other)
    result, _ = orders.deliver("store/order/created", first["id"])
    monkeypatch.undo()

    analytics = result.details["analytics"]
    assert analytics["settled"] is False and analytics["corrections"] == 0 and "daily recompute" in analytics["note"]
    key = SyncedOrder.objects.get(order_id=first["id"]).account_key
    assert CustomerValues.objects.get(store=orders.store, customer_key=key).pushed_values is None
    account = orders.one("Account", BigCommerceCustomerId__c=key)
    assert account["Total_Orders__c"] == 1  # stale, and b2s knows it does not know what Salesforce holds


def test_a_live_order_synced_while_a_batch_is_in_flight(orders, fresh_orders, monkeypatch):
    """The backfill's batch computed the customer's values; a live order syncs whole before the batch sends."""
    first, second = fresh_orders
    listed = [order for order in bigcommerce_client(orders.store).orders_list(limit=250) if order["id"] == first["id"]]
    real_extras = order_module._batch_account_extras
    inner: list[Any] = []

    def live_order_after_the_batch_computed(store, prepared, pending):
        real_extras(store, prepared, pending)
        inner.append(orders.deliver("store/order/created", second["id"]))

    monkeypatch.setattr(order_module, "_batch_account_extras", live_order_after_the_batch_computed)
    batch = orders_sync_batch(store=orders.store, orders=listed, events=False, collections_min=len(listed) + 1)
    monkeypatch.undo()

    assert batch.mode == "graphs" and batch.failed == {} and inner
    assert_account_equals_ledger(orders, first, second)
    assert batch.results[first["id"]].details["analytics"] == {"corrections": 1, "settled": True}
