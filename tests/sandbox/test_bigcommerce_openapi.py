"""Every BigCommerce stand-in answer the product uses validates against BigCommerce's OpenAPI files.

Schemas are taken from the documented operation's response (``paths → responses → schema``), with
``$ref``s resolved inside each file and formats (``date-time``) checked.

One documented defect of the files is worked around, narrowly: unions of a link object
(``*_Resource``: ``{url, resource}``, nothing required) with a full schema are declared ``oneOf``, but any
object matches a link schema with no required property, so *no* value can ever satisfy such a ``oneOf``
(e.g. ``order.consignments``, ``consignment.line_items``). Those unions are validated as ``anyOf``, and
the consignments are then checked on their own, strictly, against ``orderConsignment_Get`` with every
line against ``orderProducts`` (which forbids unknown keys).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.sandbox.openapi import response_schema, validate

SPEC_FILES = {
    "orders_v2": "orders.v2.oas2.yml",
    "orders_v3": "orders.v3.yml",
    "carts": "carts.v3.yml",
    "customers": "customers.v3.yml",
    "webhooks": "webhooks.v3.yml",
}


def _loosen_link_unions(node: Any) -> None:
    """Turn ``oneOf`` unions that include a link (``*_Resource``) schema into ``anyOf`` (see the docstring)."""
    if isinstance(node, dict):
        alternatives = node.get("oneOf")
        if alternatives and any("_Resource" in json.dumps(alternative) for alternative in alternatives):
            node["anyOf"] = node.pop("oneOf")
        for value in node.values():
            _loosen_link_unions(value)
    elif isinstance(node, list):
        for value in node:
            _loosen_link_unions(value)


@pytest.fixture(scope="module")
def specs(shared_dir: Path) -> dict[str, dict[str, Any]]:
    loaded = {}
    for name, filename in SPEC_FILES.items():
        spec = yaml.safe_load((shared_dir / "specs" / "bigcommerce" / filename).read_text())
        assert spec["openapi"].startswith("3.0"), f"{filename} is not OpenAPI 3.0"
        spec = copy.deepcopy(spec)
        _loosen_link_unions(spec)
        loaded[name] = spec
    return loaded


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


@pytest.fixture
def api(bigcommerce_sandbox):
    session = requests.Session()
    session.trust_env = False
    session.verify = bigcommerce_sandbox.ca_path
    session.headers.update({"X-Auth-Token": "sandbox-token", "Accept": "application/json"})
    base = f"{bigcommerce_sandbox.url}/stores/sandbox"

    def get(path: str, expected: int = 200, **params: Any) -> Any:
        response = session.request("GET", base + path, params=params)
        assert response.status_code == expected, (path, response.status_code, response.text[:500])
        return response.json() if response.content else None

    get.session = session
    get.base = base
    return get


@pytest.fixture
def store(bigcommerce_sandbox):
    """A generated store with variety: guests, discounts, coupons, custom lines, shipments, refunds."""
    app = bigcommerce_sandbox.app
    app.generate(11, 15, 80, 12)
    return app


def _strict_consignments(spec: dict[str, Any], consignments: dict[str, Any], *, full_lines: bool) -> None:
    validate(spec, component("orderConsignment_Get"), consignments)
    for group in (consignments["shipping"], consignments["downloads"]):
        for consignment in group:
            for line in consignment["line_items"]:
                if full_lines:
                    validate(spec, component("orderProducts"), line)
                else:
                    assert set(line) == {"url", "resource"}
                    validate(spec, component("products_Resource"), line)


def test_order_list_with_consignment_lines_validates(specs, api, store):
    spec = specs["orders_v2"]
    orders = api("/v2/orders", limit=250, include="consignments.line_items,fees", consignment_structure="object")
    assert len(orders) == 80
    validate(spec, response_schema(spec, "/orders"), orders)
    for order in orders:
        assert isinstance(order["fees"], list)
        _strict_consignments(spec, order["consignments"], full_lines=True)
    # The default answer (no include) too, on a page in the middle.
    plain = api("/v2/orders", limit=30, page=2, sort="date_created:desc")
    validate(spec, response_schema(spec, "/orders"), plain)
    assert "consignments" not in plain[0]


def test_single_order_validates_with_and_without_includes(specs, api, store):
    spec = specs["orders_v2"]
    schema = response_schema(spec, "/orders/{order_id}")
    refunded = next(o["order"]["id"] for o in store.state()["orders"] if o["refunds"])
    for order_id in (100, 137, refunded):
        validate(spec, schema, api(f"/v2/orders/{order_id}"))
        full = api(f"/v2/orders/{order_id}", include="consignments.line_items", consignment_structure="object")
        validate(spec, schema, full)
        _strict_consignments(spec, full["consignments"], full_lines=True)
        linked = api(f"/v2/orders/{order_id}", include="consignments", consignment_structure="object")
        validate(spec, schema, linked)
        _strict_consignments(spec, linked["consignments"], full_lines=False)
        consignments = api(f"/v2/orders/{order_id}/consignments", include="consignments.line_items")
        validate(spec, response_schema(spec, "/orders/{order_id}/consignments"), consignments)
        _strict_consignments(spec, consignments, full_lines=True)


def test_order_products_shipping_addresses_shipments_coupons_count_validate(specs, api, store):
    spec = specs["orders_v2"]
    state = store.state()["orders"]
    shipped = [o["order"]["id"] for o in state if o["shipments"]][:6]
    custom = [o["order"]["id"] for o in state if any(line["product_id"] == 0 for line in o["lines"])][:3]
    variants = [o["order"]["id"] for o in state if any(line["product_options"] for line in o["lines"])][:3]
    coupons = [o["order"]["id"] for o in state if o["coupons"]][:3]
    assert shipped and custom and variants and coupons, "the generated store lacks variety"
    for order_id in {*shipped, *custom, *variants, *coupons}:
        validate(spec, response_schema(spec, "/orders/{order_id}/products"), api(f"/v2/orders/{order_id}/products"))
        validate(
            spec,
            response_schema(spec, "/orders/{order_id}/shipping_addresses"),
            api(f"/v2/orders/{order_id}/shipping_addresses"),
        )
    for order_id in shipped:
        validate(spec, response_schema(spec, "/orders/{order_id}/shipments"), api(f"/v2/orders/{order_id}/shipments"))
    for order_id in coupons:
        validate(spec, response_schema(spec, "/orders/{order_id}/coupons"), api(f"/v2/orders/{order_id}/coupons"))
    count = api("/v2/orders/count")
    validate(spec, response_schema(spec, "/orders/count"), count)
    assert count["count"] == 80 and sum(status["count"] for status in count["statuses"]) == 80


def test_v2_error_body_validates(specs, api, store):
    spec = specs["orders_v2"]
    body = api("/v2/orders/999999/consignments", expected=404)
    validate(spec, response_schema(spec, "/orders/{order_id}/consignments", "404"), body)
    assert body == [{"status": 404, "message": "The requested resource was not found."}]


def test_carts_validate(specs, api, store):
    spec = specs["carts"]
    schema = response_schema(spec, "/carts/{cartId}")
    made = store.cart_create(
        customer_id=0,
        email="",
        items=[{"product_id": 77, "quantity": 2}, {"name": "Engraving", "list_price": "12.00", "quantity": 1}],
    )
    # A changed cart validates too: a line's quantity, a new line, a coupon.
    first = next(line for line in made["line_items"]["physical_items"] + made["line_items"]["digital_items"])
    store.cart_update(
        made["id"],
        items=[{"id": first["id"], "quantity": 3}, {"product_id": 78, "quantity": 1}],
        coupon_code="WELCOME",
        coupon_discount="2.00",
    )
    carts = store.state()["carts"]
    assert any(cart["line_items"]["custom_items"] for cart in carts)
    assert any(cart["line_items"]["digital_items"] for cart in carts)
    for cart in carts:
        body = api(f"/v3/carts/{cart['id']}")
        validate(spec, schema, body)
        assert body["data"] == cart


def test_customers_validate(specs, api, store):
    spec = specs["customers"]
    schema = response_schema(spec, "/customers")
    body = api("/v3/customers", include="addresses", limit=10)
    validate(spec, schema, body)
    assert body["meta"]["pagination"]["total"] == 15 and len(body["data"]) == 10
    body = api("/v3/customers", **{"id:in": "2,5,9"})
    validate(spec, schema, body)
    assert [customer["id"] for customer in body["data"]] == [2, 5, 9]


def test_refunds_validate(specs, api, store):
    spec = specs["orders_v3"]
    refunds = api("/v3/orders/payment_actions/refunds", limit=250)
    validate(spec, response_schema(spec, "/orders/payment_actions/refunds"), refunds)
    assert refunds["data"], "the generated store has no refunds"
    kinds = {item["item_type"] for refund in refunds["data"] for item in refund["items"]}
    assert {"ORDER", "PRODUCT"} <= kinds
    for refund in refunds["data"]:
        single = api(f"/v3/orders/payment_actions/refunds/{refund['id']}")
        validate(spec, response_schema(spec, "/orders/payment_actions/refunds/{refund_id}"), single)
        per_order = api(f"/v3/orders/{refund['order_id']}/payment_actions/refunds")
        validate(spec, response_schema(spec, "/orders/{order_id}/payment_actions/refunds"), per_order)
        assert refund["id"] in [entry["id"] for entry in per_order["data"]]


def test_hooks_validate(specs, api, bigcommerce_sandbox):
    spec = specs["webhooks"]
    session, base = api.session, api.base
    created = session.post(
        base + "/v3/hooks",
        json={"scope": "store/order/*", "destination": "https://example.com/hook", "headers": {"X-Secret": "s"}},
    )
    assert created.status_code == 200
    validate(spec, response_schema(spec, "/hooks", method="post"), created.json())
    hook_id = created.json()["data"]["id"]
    validate(spec, response_schema(spec, "/hooks"), api("/v3/hooks"))
    validate(spec, response_schema(spec, "/hooks/{webhook_id}"), api(f"/v3/hooks/{hook_id}"))
    updated = session.put(base + f"/v3/hooks/{hook_id}", json={"is_active": False})
    validate(spec, response_schema(spec, "/hooks/{webhook_id}", method="put"), updated.json())
    missing = api("/v3/hooks/12345", expected=404)
    validate(spec, response_schema(spec, "/hooks/{webhook_id}", "404"), missing)
    invalid = session.post(base + "/v3/hooks", json={"scope": "store/order/created"})
    assert invalid.status_code == 422
    validate(spec, response_schema(spec, "/hooks", "422", method="post"), invalid.json())
    deleted = session.delete(base + f"/v3/hooks/{hook_id}")
    validate(spec, response_schema(spec, "/hooks/{webhook_id}", method="delete"), deleted.json())
