"""The BigCommerce stand-in's v3 catalog: products, variants, paging, filters, 404s, validated against the
OpenAPI files (``products_catalog.v3.yml``, ``product-variants_catalog.v3.yml``).

Two documented defects of those files are worked around, narrowly:
- ``x-nullable`` (a Swagger 2 keyword) is used in the OpenAPI 3 ``/catalog/variants`` schema; it is read as
  ``nullable``, which is what it means.
- ``base_variant_id`` ("null for complex products"), ``option_set_id`` (null without an option set, as real
  answers show) and a variant's ``sku_id`` ("Null if it is a base variant") are declared plain integers
  although their descriptions say they can be null; those three properties are made nullable.

The default store (after ``reset``) has 30 live products, ids 77-106: 27 visible ones (77-103, some with
size or colour variants, 101-103 digital) and three hidden ones (104-106, two with variants carrying their
own prices); products 107 and 108 were deleted.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.sandbox.openapi import response_schema, validate

NULLABLE_PROPERTIES = {"base_variant_id", "option_set_id", "sku_id"}


def _loosen(node: Any) -> None:
    if isinstance(node, dict):
        if node.pop("x-nullable", False):
            node["nullable"] = True
        for name, schema in (node.get("properties") or {}).items():
            if name in NULLABLE_PROPERTIES and isinstance(schema, dict):
                schema["nullable"] = True
        for value in node.values():
            _loosen(value)
    elif isinstance(node, list):
        for value in node:
            _loosen(value)


@pytest.fixture(scope="module")
def specs(shared_dir: Path) -> dict[str, dict[str, Any]]:
    loaded = {}
    for name, filename in (("products", "products_catalog.v3.yml"), ("variants", "product-variants_catalog.v3.yml")):
        spec = copy.deepcopy(yaml.safe_load((shared_dir / "specs" / "bigcommerce" / filename).read_text()))
        assert spec["openapi"].startswith("3.0"), f"{filename} is not OpenAPI 3.0"
        _loosen(spec)
        loaded[name] = spec
    return loaded


VARIANT = {"$ref": "#/components/schemas/productVariant_Full"}


@pytest.fixture
def api(bigcommerce_sandbox):
    session = requests.Session()
    session.trust_env = False
    session.verify = bigcommerce_sandbox.ca_path
    session.headers.update({"X-Auth-Token": "sandbox-token", "Accept": "application/json"})
    base = f"{bigcommerce_sandbox.url}/stores/sandbox/v3/catalog"

    def get(path: str, expected: int = 200, **params: Any) -> Any:
        response = session.get(base + path, params=params)
        assert response.status_code == expected, (path, response.status_code, response.text[:500])
        return response.json()

    return get


def test_products_page_by_page_with_variants_validate(specs, api):
    spec = specs["products"]
    schema = response_schema(spec, "/catalog/products")
    everything = api("/products", limit=250, include="variants,images")
    validate(spec, schema, everything)
    for product in everything["data"]:
        for variant in product["variants"]:
            validate(spec, VARIANT, variant)
        assert product["images"] == []
    assert [p["id"] for p in everything["data"]] == list(range(77, 107))
    assert everything["meta"]["pagination"] == {
        "total": 30,
        "count": 30,
        "per_page": 250,
        "current_page": 1,
        "total_pages": 1,
        "links": {"current": "?include=variants,images&page=1&limit=250"},
    }
    second = api("/products", page=2, limit=7)
    validate(spec, schema, second)
    assert [p["id"] for p in second["data"]] == list(range(84, 91))
    assert "variants" not in second["data"][0]
    assert second["meta"]["pagination"] == {
        "total": 30,
        "count": 7,
        "per_page": 7,
        "current_page": 2,
        "total_pages": 5,
        "links": {"previous": "?page=1&limit=7", "current": "?page=2&limit=7", "next": "?page=3&limit=7"},
    }
    last = api("/products", page=5, limit=7)
    assert [p["id"] for p in last["data"]] == [105, 106] and "next" not in last["meta"]["pagination"]["links"]
    # Past the end: still 200, with an empty data array (v3 has no 204 for lists).
    beyond = api("/products", page=6, limit=7)
    validate(spec, schema, beyond)
    assert beyond["data"] == [] and beyond["meta"]["pagination"]["count"] == 0
    assert beyond["meta"]["pagination"]["total"] == 30
    # limit is capped at 250.
    assert api("/products", limit=1000)["meta"]["pagination"]["per_page"] == 250


def test_product_filters(specs, api):
    ids = lambda body: [p["id"] for p in body["data"]]  # noqa: E731
    assert ids(api("/products", **{"id:in": "77,104,107,999"})) == [77, 104]  # 107 was deleted
    assert ids(api("/products", is_visible="false")) == [104, 105, 106]
    assert api("/products", is_visible="true")["meta"]["pagination"]["total"] == 27
    # The main catalog was last modified by 2024-03-07; the hidden products were created on 2024-03-31.
    assert ids(api("/products", **{"date_modified:min": "2024-03-25T00:00:00Z"})) == [104, 105, 106]
    assert ids(api("/products", **{"id:min": "100", "id:max": "102"})) == [100, 101, 102]
    assert ids(api("/products", sku="ocT-77")) == [77]
    assert ids(api("/products", type="digital")) == [101, 102, 103]
    assert ids(api("/products", sort="id", direction="desc", limit=2)) == [106, 105]
    nothing = api("/products", **{"id:in": "999"})
    validate(specs["products"], response_schema(specs["products"], "/catalog/products"), nothing)
    assert nothing["data"] == [] and nothing["meta"]["pagination"]["total"] == 0


def test_single_products_simple_and_with_variants(specs, api, bigcommerce_sandbox):
    spec = specs["products"]
    schema = response_schema(spec, "/catalog/products/{product_id}")
    simple = api("/products/77", include="variants")
    validate(spec, schema, simple)
    catalog = {product.id: product for product in bigcommerce_sandbox.app._data.catalog}
    assert simple["meta"] == {}
    product = simple["data"]
    assert (product["name"], product["sku"], product["price"]) == ("Organic Cotton Tee", "OCT-77", 197.0)
    assert product["price"] == float(catalog[77].price)
    assert product["is_visible"] is True and product["description"].startswith("<p><strong>Organic Cotton Tee")
    # A product without options: one base variant, no SKU record of its own, the product's SKU.
    assert product["base_variant_id"] == 100
    [base] = product["variants"]
    assert (base["id"], base["sku"], base["sku_id"], base["option_values"]) == (100, "OCT-77", None, [])
    assert (base["price"], base["calculated_price"]) == (None, 197.0)

    hidden = api("/products/104", include="variants")["data"]
    validate(spec, schema, {"data": hidden, "meta": {}})
    assert (hidden["name"], hidden["is_visible"], hidden["price"], hidden["base_variant_id"]) == (
        "Heritage Wool Blanket",
        False,
        79.0,
        None,
    )
    variants = [
        (v["sku"], v["price"], v["calculated_price"], v["option_values"][0]["label"]) for v in hidden["variants"]
    ]
    assert variants == [
        ("HWB-104-THR", None, 79.0, "Throw"),  # no price of its own: the product's
        ("HWB-104-QUE", 189.0, 189.0, "Queen"),
        ("HWB-104-KIN", 219.0, 219.0, "King"),
    ]
    assert all(isinstance(v["sku_id"], int) for v in hidden["variants"])
    assert len({v["sku_id"] for v in hidden["variants"]}) == 3


def test_unknown_and_deleted_products_answer_404(specs, api):
    spec = specs["products"]
    for path in ("/products/107", "/products/5000", "/products/107/variants", "/products/77/variants/999"):
        body = api(path, expected=404)
        assert body == {
            "status": 404,
            "title": "The requested resource was not found.",
            "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
        }
        validate(spec, response_schema(spec, "/catalog/products/{product_id}", "404"), body)


def test_variant_endpoints_validate(specs, api):
    spec = specs["variants"]
    listing = api("/products/106/variants")
    validate(spec, response_schema(spec, "/catalog/products/{product_id}/variants"), listing)
    assert [(v["sku"], v["price"], v["calculated_price"]) for v in listing["data"]] == [
        ("LPS-106-BLA", 45.0, 45.0),
        ("LPS-106-NAT", None, 119.0),
    ]
    assert listing["meta"]["pagination"]["total"] == 2
    variant_id = listing["data"][1]["id"]
    single = api(f"/products/106/variants/{variant_id}")
    validate(spec, response_schema(spec, "/catalog/products/{product_id}/variants/{variant_id}"), single)
    assert single["data"] == listing["data"][1] and single["meta"] == {}

    every = api("/variants", limit=250)
    validate(spec, response_schema(spec, "/catalog/variants"), every)
    products = {p["id"]: p for p in api("/products", limit=250, include="variants")["data"]}
    assert every["data"] == sorted((v for p in products.values() for v in p["variants"]), key=lambda v: v["id"])
    assert every["meta"]["pagination"]["total"] == sum(len(p["variants"]) for p in products.values())
    some = api("/variants", **{"product_id:in": "104,77"})
    assert sorted({v["product_id"] for v in some["data"]}) == [77, 104] and len(some["data"]) == 4
    assert [v["product_id"] for v in api("/variants", sku="hwb-104-que")["data"]] == [104]


def test_order_lines_refer_to_the_catalog(bigcommerce_sandbox, api):
    """Every catalog line of a generated order names a live variant: its product, variant id and SKU; a
    product without options is sold as its base variant, as BigCommerce records it."""
    app = bigcommerce_sandbox.app
    app.generate(5, 10, 60, 0)
    products = {p["id"]: p for p in api("/products", limit=250, include="variants")["data"]}
    checked = 0
    for entry in app.state()["orders"]:
        order = entry["order"]
        for line in entry["lines"]:
            if line["product_id"] == 0:
                continue
            product = products[line["product_id"]]
            assert product["is_visible"], "random orders sell visible products only"
            variant = next(v for v in product["variants"] if v["id"] == line["variant_id"])
            assert line["sku"] == variant["sku"]
            if not variant["option_values"]:
                assert line["variant_id"] == product["base_variant_id"]
            if order["currency_code"] == "USD":
                assert float(line["base_price"]) == variant["calculated_price"]
            checked += 1
    assert checked > 60


def test_currencies_convert_the_catalog_price(bigcommerce_sandbox, api):
    """Catalog prices are in the default currency; the other transactional currencies are auto-converted
    at the store's rate, which is what orders in those currencies are priced with."""
    session = requests.Session()
    session.trust_env = False
    session.verify = bigcommerce_sandbox.ca_path
    answer = session.get(
        f"{bigcommerce_sandbox.url}/stores/sandbox/v2/currencies", headers={"X-Auth-Token": "sandbox-token"}
    )
    assert answer.status_code == 200
    rates = {c["currency_code"]: (c["is_default"], c["currency_exchange_rate"]) for c in answer.json()}
    assert rates == {"USD": (True, "1.0000000000"), "EUR": (False, "0.9200000000"), "GBP": (False, "0.7900000000")}
    app = bigcommerce_sandbox.app
    app.product_update(80, price="45.50")
    placed = app.order_create(products=[{"product_id": 80}], currency_code="GBP", tax_rate="0", coupon_code="")
    lines = next(entry["lines"] for entry in app.state()["orders"] if entry["order"]["id"] == placed["id"])
    assert api("/products/80")["data"]["price"] == 45.5
    assert lines[0]["base_price"] == "35.9500"  # 45.50 x 0.79 = 35.945, half up
