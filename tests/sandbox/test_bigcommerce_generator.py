"""The store generator: deterministic, realistic, and every order's money consistent to the cent."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from decimal import Decimal

import pytest

from sandbox.bigcommerce import BigCommerceSandbox, cli, generate
from sandbox.bigcommerce.render import cart_v3, customer_v3, order_products_v2, order_v2, refund_v3, shipment_v2
from sandbox.bigcommerce.store import StoreData

BASE = "https://api.example/stores/sandbox"


def _dump(data: StoreData) -> str:
    """Every generated record as the API would render it."""
    return json.dumps(
        {
            "customers": [customer_v3(c, include=frozenset({"addresses"})) for c in data.customers.values()],
            "orders": [
                {
                    "order": order_v2(o, BASE),
                    "lines": order_products_v2(o),
                    "shipments": [shipment_v2(o, s) for s in o.shipments],
                    "refunds": [refund_v3(r, single=True) for r in o.refunds],
                }
                for o in data.orders.values()
            ],
            "carts": [cart_v3(c) for c in data.carts.values()],
        },
        sort_keys=True,
    )


def test_same_seed_same_store_other_seed_other_store():
    first = _dump(generate(5, 30, 120, 15))
    assert first == _dump(generate(5, 30, 120, 15))
    assert first != _dump(generate(6, 30, 120, 15))


@pytest.fixture(scope="module")
def big_store() -> StoreData:
    return generate(2024, 120, 500, 60)


def D(value: str) -> Decimal:
    return Decimal(value)


def test_money_is_consistent_to_the_cent_across_500_orders(big_store):
    assert len(big_store.orders) == 500
    for order in big_store.orders.values():
        body = order_v2(order, BASE)
        lines = order_products_v2(order)
        for key, value in body.items():
            if key.endswith(("_tax", "_cost", "_amount", "_discount")) and isinstance(value, str):
                assert value.endswith("00") and len(value.split(".")[1]) == 4, (order.id, key, value)
        for line in lines:
            quantity = line["quantity"]
            assert D(line["price_inc_tax"]) == D(line["price_ex_tax"]) + D(line["price_tax"])
            assert D(line["total_ex_tax"]) == D(line["price_ex_tax"]) * quantity
            assert D(line["total_inc_tax"]) == D(line["price_inc_tax"]) * quantity
            assert D(line["total_tax"]) == D(line["price_tax"]) * quantity
            applied = sum((D(d["amount"]) for d in line["applied_discounts"]), D("0"))
            assert D(line["discounted_total_inc_tax"]) == D(line["total_inc_tax"]) - applied
        subtotal_ex = sum((D(line["total_ex_tax"]) for line in lines), D("0"))
        subtotal_inc = sum((D(line["total_inc_tax"]) for line in lines), D("0"))
        wrapping = sum((D(line["wrapping_cost_inc_tax"]) for line in lines), D("0"))
        assert D(body["subtotal_ex_tax"]) == subtotal_ex
        assert D(body["subtotal_inc_tax"]) == subtotal_inc
        assert D(body["subtotal_tax"]) == subtotal_inc - subtotal_ex
        assert D(body["wrapping_cost_inc_tax"]) == wrapping
        for kind in ("shipping_cost", "handling_cost", "wrapping_cost"):
            assert D(body[f"{kind}_inc_tax"]) == D(body[f"{kind}_ex_tax"]) + D(body[f"{kind}_tax"])
        discounts = D(body["discount_amount"]) + D(body["coupon_discount"])
        total = (
            D(body["subtotal_inc_tax"])
            + D(body["shipping_cost_inc_tax"])
            + D(body["handling_cost_inc_tax"])
            + D(body["wrapping_cost_inc_tax"])
            - discounts
        )
        assert D(body["total_inc_tax"]) == total, order.id
        tax = (
            D(body["subtotal_tax"])
            + D(body["shipping_cost_tax"])
            + D(body["handling_cost_tax"])
            + D(body["wrapping_cost_tax"])
        )
        assert D(body["total_tax"]) == tax
        assert D(body["total_ex_tax"]) == total - tax
        assert sum((D(line["discounted_total_inc_tax"]) for line in lines), D("0")) == subtotal_inc - discounts
        assert D(body["total_inc_tax"]) > 0
        # Refunds add up and agree with the status.
        refunded = sum((r.total_amount for r in order.refunds), D("0"))
        assert D(body["refunded_amount"]) == refunded <= total
        if body["status_id"] == 4:
            assert refunded == total and body["payment_status"] == "refunded"
        elif body["status_id"] == 14:
            assert 0 < refunded < total
        else:
            assert refunded == 0
        line_refunds = sum((D(line["refund_amount"]) for line in lines), D("0"))
        assert line_refunds <= refunded
        # Shipments agree with the lines and the status.
        shipped = sum(quantity for s in order.shipments for _, _, quantity in s.items)
        assert body["items_shipped"] == shipped == sum(line["quantity_shipped"] for line in lines)
        assert body["items_total"] == sum(line["quantity"] for line in lines)
        if body["status_id"] in (2, 10):
            physical = sum(line["quantity"] for line in lines if line["type"] == "physical")
            assert shipped == physical and body["date_shipped"]
        if body["status_id"] == 3:
            assert 0 < shipped < body["items_total"]


def test_generated_store_is_realistic(big_store):
    orders = list(big_store.orders.values())
    assert {o.status_id for o in orders} == set(range(15))
    guests = [o for o in orders if o.customer_id == 0]
    assert 0.15 < len(guests) / len(orders) < 0.45
    assert all("@" in o.billing.email for o in guests)
    guest_emails = Counter(o.billing.email for o in guests)
    assert any(count > 1 for count in guest_emails.values()), "no guest ordered twice with one email"
    registered_emails = {c.email for c in big_store.customers.values()}
    assert any(email in registered_emails for email in guest_emails), "no guest reuses a customer's email"
    assert {o.currency_code for o in orders} == {"USD", "EUR", "GBP"}
    assert Counter(o.currency_code for o in orders).most_common(1)[0][0] == "USD"
    line_counts = Counter(len(o.lines) for o in orders)
    assert set(line_counts) == {1, 2, 3, 4, 5}
    lines = [line for o in orders for line in o.lines]
    assert any(line.product_id == 0 for line in lines), "no custom items"
    assert any(line.options for line in lines), "no variants"
    assert any(line.quantity > 1 for line in lines)
    assert any(line.type == "digital" for line in lines)
    assert any(o.discount_amount for o in orders) and any(o.coupons for o in orders)
    assert any(o.tax_rate for o in orders) and any(not o.tax_rate for o in orders)
    assert any(o.shipping_cost_ex_tax for o in orders) and any(not o.shipping_cost_ex_tax for o in orders)
    refunds = [r for o in orders for r in o.refunds]
    assert {item.item_type for r in refunds for item in r.items} == {"ORDER", "PRODUCT"}
    dates = [o.date_created for o in sorted(orders, key=lambda o: o.id)]
    assert dates == sorted(dates)
    carts = list(big_store.carts.values())
    assert any(c.cart_amount > 100 for c in carts) and any(c.cart_amount < 100 for c in carts)
    assert any(c.customer_id == 0 and c.email == "" for c in carts), "no anonymous guest cart"
    assert any(c.customer_id == 0 and c.email for c in carts)
    assert any(c.customer_id for c in carts)
    assert len({c.email.lower() for c in big_store.customers.values()}) == len(big_store.customers)


def test_generation_uses_no_wall_clock():
    data = generate(9, 10, 40, 5)
    from sandbox.bigcommerce.generator import DEFAULT_BASE_DATE

    moments = [o.date_modified for o in data.orders.values()] + [c.updated_time for c in data.carts.values()]
    assert max(moments) <= DEFAULT_BASE_DATE


def test_cli_options_build_a_generated_store():
    parser = argparse.ArgumentParser()
    cli.arguments_add(parser)
    args = parser.parse_args(
        ["--seed", "1", "--orders", "20", "--store-hash", "h1", "--access-token", "t1", "--rate-limit-quota", "7"]
    )
    app = cli.app_build(args)
    assert isinstance(app, BigCommerceSandbox)
    assert app.store_hash == "h1" and app.settings.access_token == "t1" and app.settings.rate_limit_quota == 7
    counts = app.state()["counts"]
    assert counts["orders"] == 20 and counts["customers"] == 50 and counts["carts"] == 20
    assert cli.app_build(parser.parse_args([])).state()["counts"]["orders"] == 0
    app.reset()  # back to the generated store, not an empty one
    assert app.state()["counts"]["orders"] == 20
