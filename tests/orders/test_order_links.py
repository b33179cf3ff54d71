"""Connected records (issue 16): an Order links its customer's Contact (BillToContactId, ShipToContactId when
it ships to that person) in the requests its sync makes anyway, one by one, in batches, and on a later sync
of an Order written before the links existed."""

from __future__ import annotations

import pytest

from orders.batches import orders_sync_batch
from orders.models import SyncedOrder
from sync.bigcommerce import bigcommerce_client
from sync.customers import guest_key_value

pytestmark = pytest.mark.django_db


def _physical(orders) -> list[dict]:
    product = next(product for product in orders.bc._data.catalog if product.type == "physical")
    return [{"product_id": product.id, "quantity": 1}]


def _contact(orders, key: str) -> dict:
    return orders.one("Contact", BigCommerceCustomerId__c=key)


def test_a_registered_customers_order_is_billed_and_shipped_to_their_contact(orders):
    customer = orders.bc.customer_create(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    created = orders.bc.order_create(
        {"customer_id": customer["id"], "currency_code": "USD", "products": _physical(orders), "shipping_address": {}}
    )
    orders.warm_up()

    _, costs = orders.deliver("store/order/created", created["id"])

    # The budget of a first order of an unseen customer with unknown products, unchanged by the links.
    assert costs.salesforce == 3
    record = orders.order_record(created["id"])
    contact = _contact(orders, f"sandbox:{customer['id']}")
    assert contact["AccountId"] == record["AccountId"]
    assert record["BillToContactId"] == record["ShipToContactId"] == contact["Id"]
    assert record["OpportunityId"] is None  # not placed from a cart recovery knows


def test_a_guest_gift_ships_to_no_contact(orders):
    created = orders.bc.order_create(
        {
            "customer_id": 0,
            "currency_code": "USD",
            "email": "Grace@Example.com",
            "billing_address": {"first_name": "Grace", "last_name": "Hopper"},
            "shipping_address": {"first_name": "Alan", "last_name": "Turing"},
            "products": _physical(orders),
        }
    )
    orders.warm_up()

    orders.deliver("store/order/created", created["id"])

    record = orders.order_record(created["id"])
    contact = _contact(orders, f"sandbox:{guest_key_value('grace@example.com')}")
    assert (contact["LastName"], contact["AccountId"]) == ("Hopper", record["AccountId"])
    # b2s makes no Contact of a gift recipient: the billing person is the Contact, the ship-to stays empty.
    assert record["BillToContactId"] == contact["Id"]
    assert record["ShipToContactId"] is None


def test_an_order_synced_before_the_links_gains_them_on_its_next_sync(orders):
    customer = orders.bc.customer_create(first_name="Edsger", last_name="Dijkstra", email="ewd@example.com")
    created = orders.bc.order_create(
        {"customer_id": customer["id"], "currency_code": "USD", "products": _physical(orders), "shipping_address": {}}
    )
    orders.warm_up()
    orders.deliver("store/order/created", created["id"])
    record = orders.order_record(created["id"])
    # As an earlier version left it: no links in Salesforce, the fingerprint of a body without them.
    with orders.sf.lock:
        orders.sf.org.seed_update("Order", record["Id"], {"BillToContactId": None, "ShipToContactId": None})
        orders.sf.org.commit()
    assert orders.order_record(created["id"])["BillToContactId"] is None
    SyncedOrder.objects.filter(order_id=created["id"]).update(fingerprint="0" * 64)

    _, costs = orders.deliver("store/order/updated", created["id"])

    assert costs.salesforce == 1  # the order's one graph, as any changed order
    contact = _contact(orders, f"sandbox:{customer['id']}")
    assert orders.order_record(created["id"])["BillToContactId"] == contact["Id"]
    # Converged: the next delivery sends nothing.
    _, again = orders.deliver("store/order/updated", created["id"])
    assert again.salesforce == 0


@pytest.mark.parametrize("collections_min", [1, 1000], ids=["collections", "graphs"])
def test_a_batch_links_every_orders_contact(orders, collections_min):
    customer = orders.bc.customer_create(first_name="Barbara", last_name="Liskov", email="liskov@example.com")
    registered = orders.bc.order_create(
        {"customer_id": customer["id"], "currency_code": "USD", "products": _physical(orders), "shipping_address": {}}
    )
    guest = orders.bc.order_create(
        {
            "customer_id": 0,
            "currency_code": "USD",
            "email": "katherine@example.com",
            "billing_address": {"first_name": "Katherine", "last_name": "Johnson"},
            "shipping_address": {},
            "products": _physical(orders),
        }
    )
    orders.warm_up()
    wanted = {registered["id"], guest["id"]}
    rows = [row for row in bigcommerce_client(orders.store).orders_iter(sort="id:asc") if row["id"] in wanted]

    result = orders_sync_batch(store=orders.store, orders=rows, events=False, collections_min=collections_min)

    assert result.failed == {}
    assert result.mode == ("collections" if collections_min == 1 else "graphs")
    for order_id, key in (
        (registered["id"], f"sandbox:{customer['id']}"),
        (guest["id"], f"sandbox:{guest_key_value('katherine@example.com')}"),
    ):
        record, contact = orders.order_record(order_id), _contact(orders, key)
        assert contact["AccountId"] == record["AccountId"]
        assert record["BillToContactId"] == record["ShipToContactId"] == contact["Id"]
