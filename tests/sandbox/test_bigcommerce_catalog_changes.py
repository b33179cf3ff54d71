"""Catalog changes in the BigCommerce stand-in (control API and Python API): the v3 answers that follow
them (validated against the catalog OpenAPI files), the ``store/product/*`` and ``store/sku/*`` callbacks
they fire (compared with the example fixtures and the callback schemas), the orders that follow them, and
``catalog_churn`` / the demo's ``catalog_drive``.

The default store's products are 77-106; 107 and 108 were deleted, so the next product created is 109.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator

from b2s.sandbox_demo import StoreControl, catalog_drive
from sandbox.bigcommerce.receiver import WebhookReceiver
from tests.sandbox.openapi import response_schema, validate
from tests.sandbox.test_bigcommerce_catalog import VARIANT, specs

__all__ = ["specs"]  # the OpenAPI files, a fixture shared with test_bigcommerce_catalog

HEADERS = {"X-Webhook-Secret": "catalog-secret"}


@pytest.fixture
def app(bigcommerce_sandbox):
    return bigcommerce_sandbox.app


@pytest.fixture
def session(bigcommerce_sandbox) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = bigcommerce_sandbox.ca_path
    session.headers["X-Auth-Token"] = "sandbox-token"
    return session


@pytest.fixture
def control(bigcommerce_sandbox, session):
    def call(method: str, path: str, body: Any = None, expected: int = 200) -> Any:
        answer = session.request(method, f"{bigcommerce_sandbox.url}/__sandbox__/{path}", json=body)
        assert answer.status_code == expected, (path, answer.status_code, answer.text[:300])
        return answer.json()

    return call


@pytest.fixture
def catalog(bigcommerce_sandbox, session):
    def get(path: str, expected: int = 200, **params: Any) -> Any:
        answer = session.get(f"{bigcommerce_sandbox.url}/stores/sandbox/v3/catalog{path}", params=params)
        assert answer.status_code == expected, (path, answer.status_code, answer.text[:300])
        return answer.json()

    return get


def _same_shape(actual: Any, expected: Any, where: str = "") -> None:
    assert type(actual) is type(expected), f"{where}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert set(actual) == set(expected), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for key in expected:
            _same_shape(actual[key], expected[key], f"{where}.{key}")


def _fired(app) -> list[tuple[str, dict[str, Any]]]:
    return [(event["payload"]["scope"], event["payload"]["data"]) for event in app.events()]


def test_a_product_lifecycle_fires_product_and_sku_callbacks(
    shared_dir: Path, specs, app, control, catalog, bigcommerce_webhook_receiver: WebhookReceiver
):
    receiver = bigcommerce_webhook_receiver
    for scope in ("store/product/*", "store/sku/*"):
        app.hook_create(scope, receiver.url, headers=HEADERS)
    product_schema = response_schema(specs["products"], "/catalog/products/{product_id}")

    created = control("POST", "products", {"name": "Trail Mug", "price": "18.50", "sku": "TM-1"}, expected=201)
    assert created["id"] == 109 and created["sku"] == "TM-1" and created["price"] == 18.5
    [base] = created["variants"]
    assert created["base_variant_id"] == base["id"] and base["sku"] == "TM-1" and base["sku_id"] is None
    assert catalog("/products/109", include="variants")["data"] == created

    control(
        "POST",
        "products/109",
        {"name": "Trail Mug XL", "price": "21.00", "description": "<p>Big &amp; bold</p>", "is_visible": False},
    )
    answer = catalog("/products/109", include="variants")
    validate(specs["products"], product_schema, answer)
    product = answer["data"]
    assert (product["name"], product["price"], product["description"], product["is_visible"]) == (
        "Trail Mug XL",
        21.0,
        "<p>Big &amp; bold</p>",
        False,
    )
    assert product["date_modified"] >= created["date_modified"]

    # The first option variant replaces the base variant: the product now has options.
    red = control(
        "POST", "products/109/variants", {"option_name": "Color", "option_value": "Red", "price": "23.00"}, expected=201
    )
    blue = control("POST", "products/109/variants", {"option_name": "Color", "option_value": "Blue"}, expected=201)
    assert red["id"] != base["id"] and (red["sku"], blue["sku"]) == ("TM-1-RED", "TM-1-BLU")
    assert (red["price"], red["calculated_price"], blue["price"], blue["calculated_price"]) == (23.0, 23.0, None, 21.0)
    assert red["option_values"] == [
        {"id": red["option_values"][0]["id"], "label": "Red", "option_id": 209, "option_display_name": "Color"}
    ]
    product = catalog("/products/109", include="variants")["data"]
    assert product["base_variant_id"] is None and [v["id"] for v in product["variants"]] == [red["id"], blue["id"]]
    catalog(f"/products/109/variants/{base['id']}", expected=404)

    repriced = control("POST", f"products/109/variants/{red['id']}", {"price": "24.00"})
    assert repriced["price"] == 24.0
    listing = catalog("/products/109/variants")
    validate(specs["variants"], response_schema(specs["variants"], "/catalog/products/{product_id}/variants"), listing)
    assert [v["price"] for v in listing["data"]] == [24.0, None]

    control("DELETE", f"products/109/variants/{blue['id']}")
    assert [v["id"] for v in catalog("/products/109/variants")["data"]] == [red["id"]]
    assert control("DELETE", "products/109") == {"deleted": 109}
    catalog("/products/109", expected=404)
    assert 109 not in [p["id"] for p in catalog("/products", limit=250)["data"]]

    def sku(variant: dict[str, Any]) -> dict[str, Any]:
        return {"type": "sku", "id": variant["sku_id"], "sku": {"product_id": 109, "variant_id": variant["id"]}}

    product_109 = {"type": "product", "id": 109}
    expected = [
        ("store/product/created", product_109),
        ("store/product/updated", product_109),
        ("store/sku/created", sku(red)),
        ("store/product/updated", product_109),  # the base variant was replaced
        ("store/sku/created", sku(blue)),
        ("store/sku/updated", sku(red)),
        ("store/sku/deleted", sku(blue)),
        ("store/product/deleted", product_109),
    ]
    assert _fired(app) == expected
    assert isinstance(red["sku_id"], int) and red["sku_id"] != blue["sku_id"]

    app.deliveries_wait()
    payloads = receiver.payloads()
    assert Counter(json.dumps(p["data"], sort_keys=True) for p in payloads) == Counter(
        json.dumps(data, sort_keys=True) for _, data in expected
    )
    webhook_spec = yaml.safe_load((shared_dir / "specs" / "bigcommerce" / "webhooks.v3.yml").read_text())
    fixtures = shared_dir / "fixtures" / "bigcommerce" / "webhooks"
    for payload in payloads:
        name = "store_" + "_".join(payload["scope"].split("/")[1:])
        _same_shape(payload, json.loads((fixtures / f"{name}.json").read_text()), payload["scope"])
        schema = {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "components": webhook_spec["components"]}
        assert not list(OAS30Validator(schema).iter_errors(payload)), payload
        assert payload["producer"] == "stores/sandbox"
        assert payload["hash"] == hashlib.sha1(json.dumps(payload["data"], separators=(",", ":")).encode()).hexdigest()
    assert all(callback.headers.get("X-Webhook-Secret") == "catalog-secret" for callback in receiver.callbacks)


def test_a_product_created_with_variants_and_refused_changes(specs, app, control, catalog):
    made = app.product_create(
        name="Field Jacket",
        price="120.00",
        description="Waxed cotton",
        variants=[
            {"option_name": "Size", "option_value": "M"},
            {"option_name": "Size", "option_value": "L", "price": "130.00", "sku": "FJ-LARGE"},
        ],
    )
    assert [(v["sku"], v["price"], v["calculated_price"]) for v in made["variants"]] == [
        ("FJ-109-M", None, 120.0),
        ("FJ-LARGE", 130.0, 130.0),
    ]
    assert [scope for scope, _ in _fired(app)] == ["store/product/created", "store/sku/created", "store/sku/created"]
    validate(
        specs["products"],
        response_schema(specs["products"], "/catalog/products/{product_id}"),
        catalog("/products/109"),
    )
    for variant in made["variants"]:
        validate(specs["variants"], VARIANT, variant)

    fired = len(app.events())
    refused = [
        ("POST", "products", {"name": "No price"}, 400),
        ("POST", "products", {"name": "Copy", "price": "1.00", "sku": "fj-large"}, 400),  # SKUs ignore case
        ("POST", "products/109", {"colour": "red"}, 400),
        ("POST", "products/109", {"price": "-1"}, 400),
        ("POST", "products/109", {"sku": "OCT-77"}, 400),  # product 77's SKU
        ("POST", "products/5000", {"name": "Ghost"}, 404),
        ("POST", "products/109/variants", {"option_name": "Color", "option_value": "Red"}, 400),  # Size only
        ("POST", "products/109/variants", {"option_name": "Size", "option_value": "m"}, 400),  # exists
        ("POST", f"products/109/variants/{made['variants'][0]['id']}", {"sku": "FJ-LARGE"}, 400),
        ("DELETE", "products/77/variants/100", None, 400),  # a base variant goes with its product
        ("DELETE", "products/107", None, 404),  # deleted already
    ]
    for method, path, body, status in refused:
        assert "error" in control(method, path, body, expected=status)
    assert len(app.events()) == fired
    assert catalog("/products/109", include="variants")["data"]["variants"] == made["variants"]

    # A product's own SKU may stay as it is.
    assert control("POST", "products/109", {"sku": "FJ-109", "name": "Field Jacket"})["sku"] == "FJ-109"
    # Deleting the last option variant leaves the product without options: a new base variant.
    first, second = made["variants"]
    app.variant_delete(109, first["id"])
    after = app.variant_delete(109, second["id"])
    [base] = after["variants"]
    assert (base["sku"], base["sku_id"], base["option_values"], after["base_variant_id"]) == (
        "FJ-109",
        None,
        [],
        base["id"],
    )
    assert base["id"] not in (first["id"], second["id"])
    assert [scope for scope, _ in _fired(app)][-4:] == [
        "store/product/updated",
        "store/sku/deleted",
        "store/sku/deleted",
        "store/product/updated",
    ]
    # A base variant is its product: its price change is the product's and fires product/updated.
    changed = app.variant_update(109, base["id"], price="99.00")
    assert (changed["price"], changed["calculated_price"]) == (None, 99.0)
    assert catalog("/products/109")["data"]["price"] == 99.0
    assert _fired(app)[-1] == ("store/product/updated", {"type": "product", "id": 109})


def test_orders_and_carts_follow_the_catalog(app):
    app.product_update(77, name="Organic Cotton Tee (2025)", price="30.00")
    order = app.order_create(
        products=[{"product_id": 77, "quantity": 2}], currency_code="EUR", tax_rate="0", coupon_code=""
    )
    [line] = next(entry["lines"] for entry in app.state()["orders"] if entry["order"]["id"] == order["id"])
    assert (line["name"], line["product_id"], line["variant_id"], line["sku"]) == (
        "Organic Cotton Tee (2025)",
        77,
        100,  # product 77 has no options: its base variant
        "OCT-77",
    )
    assert line["base_price"] == "27.6000"  # 30.00 USD at the store's 0.92 EUR rate

    blanket = next(p for p in app.state()["products"] if p["id"] == 104)
    queen = next(v for v in blanket["variants"] if v["option_values"][0]["label"] == "Queen")
    cart = app.cart_create(
        customer_id=0, email="", currency_code="USD", items=[{"product_id": 104, "variant_id": queen["id"]}]
    )
    [item] = cart["line_items"]["physical_items"]
    assert (item["variant_id"], item["sku"], item["list_price"]) == (queen["id"], "HWB-104-QUE", 189.0)
    converted = app.cart_convert(cart["id"], tax_rate="0")
    [line] = next(entry["lines"] for entry in app.state()["orders"] if entry["order"]["id"] == converted["id"])
    assert (line["variant_id"], line["sku"], line["base_price"]) == (queen["id"], "HWB-104-QUE", "189.0000")
    assert line["product_options"][0]["display_value"] == "Queen"

    # Random orders never sell hidden or deleted products.
    app.product_delete(78)
    for product_id in range(79, 104):
        if product_id != 80:
            app.product_update(product_id, is_visible=False)
    for _ in range(5):
        placed = app.order_create({})
        lines = next(entry["lines"] for entry in app.state()["orders"] if entry["order"]["id"] == placed["id"])
        assert {line["product_id"] for line in lines} - {0} <= {77, 80}


def test_catalog_churn_is_repeatable_and_leaves_a_valid_catalog(specs, app, control, catalog):
    first = app.catalog_churn(changes=40, seed=11)
    first_events = _fired(app)
    app.reset()
    assert control("POST", "catalog/churn", {"changes": 40, "seed": 11}) == first
    assert _fired(app) == first_events
    assert len(first) == 40 and len({change["action"] for change in first}) >= 6

    products = catalog("/products", limit=250, include="variants")
    validate(specs["products"], response_schema(specs["products"], "/catalog/products"), products)
    live = {p["id"]: p for p in products["data"]}
    assert sum(p["is_visible"] for p in live.values()) >= 10
    for change in first:
        if change["action"] == "delete":
            assert change["product_id"] not in live
            catalog(f"/products/{change['product_id']}", expected=404)
    deleted = {c["product_id"] for c in first if c["action"] == "delete"}
    # Every change fired at least one callback about its product.
    ids = {data["id"] if data["type"] == "product" else data["sku"]["product_id"] for _, data in first_events}
    assert all(change["product_id"] in ids for change in first if "refused" not in change)
    # The last price a product was given is the one the API shows (unless it was deleted).
    last_price: dict[int, str] = {}
    for change in first:
        if change["action"] == "price":
            last_price[change["product_id"]] = change["price"]
    for product_id, price in last_price.items():
        if product_id not in deleted:
            assert live[product_id]["price"] == float(price)
    for product in live.values():
        assert product["variants"], "every product keeps at least one variant"
        for variant in product["variants"]:
            validate(specs["products"], VARIANT, variant)


def test_catalog_drive_changes_the_catalog_through_the_control_api(bigcommerce_sandbox, app):
    control = StoreControl(base_url=bigcommerce_sandbox.url, ca_bundle=bigcommerce_sandbox.ca_path)
    said: list[str] = []
    changes = catalog_drive(control=control, seconds=0.3, tick=0.1, seed=5, say=said.append)
    assert 2 <= len(changes) <= 4 and len(said) == len(changes)
    assert said[0] == f"  catalog: {changes[0]['action']} product {changes[0]['product_id']}"
    assert len(app.events()) >= len(changes)
    # The same seeds give the same changes.
    app.reset()
    again = catalog_drive(control=control, seconds=0.3, tick=0.1, seed=5, say=said.append)
    assert again[: min(len(again), len(changes))] == changes[: min(len(again), len(changes))]
