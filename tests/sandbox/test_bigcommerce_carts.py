"""Cart changes in the BigCommerce stand-in: ``cart_update`` (Python and control API), money, webhooks."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator

from sandbox.bigcommerce.app import ControlError

BASE_TIME = "2025-06-01T10:00:00+00:00"


@pytest.fixture
def app(bigcommerce_sandbox):
    return bigcommerce_sandbox.app


@pytest.fixture
def http(bigcommerce_sandbox) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = bigcommerce_sandbox.ca_path
    session.headers["X-Auth-Token"] = "sandbox-token"
    return session


def _cart(app, **spec: Any) -> dict[str, Any]:
    """A USD guest cart with one custom line of 40.00 and one catalog line (product 77) of 25.00 x 2."""
    base = {
        "customer_id": 0,
        "email": "shopper@example.com",
        "currency_code": "USD",
        "created_time": BASE_TIME,
        "updated_time": BASE_TIME,
        "items": [
            {"name": "Engraving", "sku": "ENG-1", "list_price": "40.00", "quantity": 1},
            {"product_id": 77, "quantity": 2, "list_price": "25.00"},
        ],
    }
    return app.cart_create({**base, **spec})


def _lines(cart: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for group in cart["line_items"].values() for line in group]


def _line(cart: dict[str, Any], **match: Any) -> dict[str, Any]:
    return next(line for line in _lines(cart) if all(line.get(k) == v for k, v in match.items()))


def _assert_money_adds_up(cart: dict[str, Any]) -> None:
    """base = Σ extended sale prices (custom lines: extended list price); cart = base - discounts."""
    total = Decimal("0")
    for kind, lines in cart["line_items"].items():
        for line in lines:
            key = "extended_list_price" if kind == "custom_items" else "extended_sale_price"
            total += Decimal(str(line[key]))
    assert Decimal(str(cart["base_amount"])) == total
    discounts = Decimal(str(cart["discount_amount"])) + sum(
        (Decimal(str(c["discounted_amount"])) for c in cart["coupons"]), Decimal("0")
    )
    assert Decimal(str(cart["cart_amount"])) == total - discounts


def test_quantity_change_recomputes_the_money_and_the_updated_time(app, http, bigcommerce_sandbox):
    cart = _cart(app)
    assert cart["cart_amount"] == 90.0
    catalog_line = _line(cart, product_id=77)

    updated = app.cart_update(cart["id"], items=[{"id": catalog_line["id"], "quantity": 5}])

    line = _line(updated, id=catalog_line["id"])
    assert line["quantity"] == 5 and line["extended_sale_price"] == 125.0 and line["extended_list_price"] == 125.0
    assert (updated["base_amount"], updated["cart_amount"]) == (165.0, 165.0)
    _assert_money_adds_up(updated)
    # The other line is untouched; the cart is newer than before.
    assert _line(updated, name="Engraving")["quantity"] == "1"
    assert datetime.fromisoformat(updated["updated_time"]) > datetime.fromisoformat(BASE_TIME)
    assert updated["created_time"] == cart["created_time"]
    fetched = http.get(f"{bigcommerce_sandbox.url}/stores/sandbox/v3/carts/{cart['id']}")
    assert fetched.status_code == 200 and fetched.json()["data"] == updated == app.cart_get(cart["id"])


def test_lines_added_changed_and_removed_with_discounts(app):
    cart = _cart(app, discount_amount="10.00", coupon_code="SAVE5", coupon_discount="5.00")
    assert cart["cart_amount"] == 75.0
    custom = _line(cart, name="Engraving")
    catalog_line = _line(cart, product_id=77)

    updated = app.cart_update(
        cart["id"],
        items=[
            {"id": custom["id"], "quantity": 0},  # removed
            {"id": catalog_line["id"], "sale_price": "20.00"},  # a price change
            {"name": "Gift box", "list_price": "7.50", "quantity": 2},  # a new custom line
            {"product_id": 78, "quantity": 1, "list_price": "30.00"},  # a new catalog line
        ],
        updated_time="2025-06-01T11:30:00+00:00",
    )
    assert all(line["id"] != custom["id"] for line in _lines(updated))
    assert _line(updated, id=catalog_line["id"])["extended_sale_price"] == 40.0
    assert _line(updated, name="Gift box")["extended_list_price"] == 15.0
    assert _line(updated, product_id=78)["sale_price"] == 30.0
    assert updated["base_amount"] == 85.0 and updated["cart_amount"] == 70.0
    assert updated["updated_time"] == "2025-06-01T11:30:00+00:00"
    _assert_money_adds_up(updated)

    # Discounts may not exceed the lines: the update is refused and nothing changes.
    with pytest.raises(ControlError) as refused:
        app.cart_update(cart["id"], discount_amount="90.00")
    assert refused.value.status == 400 and "exceed" in refused.value.message
    assert app.cart_get(cart["id"]) == updated

    # Customer, email, discount and coupon changes.
    customer = app.customer_create(email="member@example.com")
    signed_in = app.cart_update(cart["id"], customer_id=customer["id"], discount_amount="0", coupon_code="")
    assert (signed_in["customer_id"], signed_in["email"]) == (customer["id"], "member@example.com")
    assert signed_in["coupons"] == [] and signed_in["discounts"] == [] and signed_in["cart_amount"] == 85.0


def test_refused_updates_change_nothing(app):
    cart = _cart(app)
    line = _line(cart, product_id=77)
    cases = [
        ({"items": [{"id": "no-such-line", "quantity": 1}]}, 404),
        ({"items": [{"id": line["id"], "quantity": -1}]}, 400),
        ({"items": [{"id": line["id"], "colour": "red"}]}, 400),
        ({"items": [{"name": "No price"}]}, 400),
        ({"items": [{"id": line["id"], "quantity": 9}, {"product_id": 999999, "quantity": 1}]}, 400),
        ({"email": "not-an-email"}, 400),
        ({"customer_id": 424242}, 400),
        ({"currency_code": "EUR"}, 400),
    ]
    for fields, status in cases:
        with pytest.raises(ControlError) as raised:
            app.cart_update(cart["id"], **fields)
        assert raised.value.status == status, fields
    assert app.cart_get(cart["id"]) == cart
    with pytest.raises(ControlError) as missing:
        app.cart_update("0b1c2d3e-0000-4000-8000-000000000000", email="x@example.com")
    assert missing.value.status == 404


def test_removing_the_last_line_deletes_the_cart(app, http, bigcommerce_sandbox, bigcommerce_webhook_receiver):
    receiver = bigcommerce_webhook_receiver
    app.hook_create("store/cart/*", receiver.url)
    cart = _cart(app, items=[{"name": "Only", "list_price": "10.00"}])
    app.deliveries_wait()
    before = len(receiver.payloads())

    app.cart_update(cart["id"], items=[{"id": _lines(cart)[0]["id"], "quantity": 0}])
    app.deliveries_wait()

    assert http.get(f"{bigcommerce_sandbox.url}/stores/sandbox/v3/carts/{cart['id']}").status_code == 404
    scopes = [payload["scope"] for payload in receiver.payloads()[before:]]
    # Deliveries run in parallel, as BigCommerce's do: which arrives first is not promised.
    assert sorted(scopes) == ["store/cart/deleted", "store/cart/lineItem/deleted", "store/cart/updated"]


def test_control_api_updates_a_cart(app, http, bigcommerce_sandbox):
    cart = _cart(app)
    line = _line(cart, product_id=77)
    url = f"{bigcommerce_sandbox.url}/__sandbox__/carts/{cart['id']}"

    answer = http.post(url, json={"items": [{"id": line["id"], "quantity": 3}], "email": "new@example.com"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cart_amount"] == 115.0 and body["email"] == "new@example.com"
    assert body == app.cart_get(cart["id"])

    assert http.post(url, json={"items": [{"id": "nope", "quantity": 1}]}).status_code == 404
    bad = http.post(url, json={"colour": "red"})
    assert bad.status_code == 400 and "unknown cart fields" in bad.json()["error"]
    missing = http.post(f"{bigcommerce_sandbox.url}/__sandbox__/carts/nope", json={"email": "a@example.com"})
    assert missing.status_code == 404


def test_cart_update_webhooks_match_the_callback_schema(shared_dir: Path, app, bigcommerce_webhook_receiver):
    receiver = bigcommerce_webhook_receiver
    spec = yaml.safe_load((shared_dir / "specs" / "bigcommerce" / "webhooks.v3.yml").read_text())
    app.hook_create("store/cart/*", receiver.url)
    cart = _cart(app)
    custom, catalog_line = _line(cart, name="Engraving"), _line(cart, product_id=77)
    app.deliveries_wait()
    before = len(receiver.payloads())

    app.cart_update(
        cart["id"],
        items=[
            {"id": catalog_line["id"], "quantity": 4},
            {"id": custom["id"], "quantity": 0},
            {"name": "Gift box", "list_price": "7.50"},
        ],
        coupon_code="WELCOME",
        coupon_discount="3.00",
    )
    app.cart_update(cart["id"], coupon_discount="4.00")  # the same coupon: no couponApplied
    app.deliveries_wait()

    payloads = receiver.payloads()[before:]
    assert Counter(p["scope"] for p in payloads) == Counter(
        {
            "store/cart/lineItem/updated": 1,
            "store/cart/lineItem/deleted": 1,
            "store/cart/lineItem/created": 1,
            "store/cart/couponApplied": 1,
            "store/cart/updated": 2,
        }
    )
    current = app.cart_get(cart["id"])
    for payload in payloads:
        name = "store_" + "_".join(payload["scope"].split("/")[1:])
        schema = {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "components": spec["components"]}
        errors = list(OAS30Validator(schema).iter_errors(payload))
        assert not errors, (payload["scope"], [e.message for e in errors])
        data = payload["data"]
        if "lineItem" in payload["scope"]:
            assert data["type"] == "cart_line_item" and data["cartId"] == cart["id"]
        else:
            assert data["type"] == "cart" and data["id"] == cart["id"]
    created = next(p["data"] for p in payloads if p["scope"] == "store/cart/lineItem/created")
    assert created["id"] == _line(current, name="Gift box")["id"]
    coupon = next(p["data"] for p in payloads if p["scope"] == "store/cart/couponApplied")
    assert coupon["couponId"] == int(current["coupons"][0]["id"])
    assert current["cart_amount"] == 100.0 + 7.5 - 4.0


def test_updated_time_never_precedes_creation(app):
    cart = _cart(app)
    updated = app.cart_update(cart["id"], email="early@example.com", updated_time="2020-01-01T00:00:00+00:00")
    assert updated["updated_time"] == cart["created_time"]
    assert datetime.fromisoformat(updated["updated_time"]).tzinfo is not None
    assert datetime.fromisoformat(updated["updated_time"]) == datetime(2025, 6, 1, 10, tzinfo=UTC)
