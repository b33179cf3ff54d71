"""The BigCommerce stand-in's REST API over real HTTPS: auth, errors, filters, paging, quota, faults."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
import requests

from sandbox.bigcommerce.app import ControlError

TOKEN = "sandbox-token"


class Client:
    """A ``requests`` session that verifies the stand-in's CA, like the product's client must."""

    def __init__(self, server: Any, token: str | None = TOKEN) -> None:
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = server.ca_path
        if token is not None:
            self.session.headers["X-Auth-Token"] = token
        self.url = server.url
        self.base = f"{server.url}/stores/sandbox"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.base + path, params=params)

    def control(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(method, f"{self.url}/__sandbox__/{path}", json=body)


@pytest.fixture
def client(bigcommerce_sandbox) -> Client:
    return Client(bigcommerce_sandbox)


@pytest.fixture
def app(bigcommerce_sandbox):
    return bigcommerce_sandbox.app


def _order(app, **spec: Any) -> dict[str, Any]:
    """An order whose every money input is given (the stand-in would generate what is left out)."""
    base = {
        "products": [{"name": "Widget", "price_ex_tax": "10.00", "quantity": 1}],
        "tax_rate": "0",
        "shipping_cost_ex_tax": "0",
        "handling_cost_ex_tax": "0",
        "wrapping_cost_ex_tax": "0",
        "discount_amount": "0",
        "coupon_code": "",
    }
    return app.order_create({**base, **spec})


# ----------------------------------------------------------------------------- auth and errors
def test_missing_or_wrong_token_is_401_in_each_versions_format(bigcommerce_sandbox):
    for token in (None, "wrong-token"):
        client = Client(bigcommerce_sandbox, token=token)
        v2 = client.get("/v2/orders")
        assert v2.status_code == 401
        body = v2.json()
        assert isinstance(body, list) and body[0]["status"] == 401 and body[0]["message"]
        v3 = client.get("/v3/customers")
        assert v3.status_code == 401
        assert v3.json()["status"] == 401 and v3.json()["title"] and v3.json()["type"]
        # Rate-limit headers ride on every answer, even refused ones.
        assert v3.headers["X-Rate-Limit-Requests-Quota"] == "150"
    calls = bigcommerce_sandbox.app.calls()
    assert [call["status"] for call in calls] == [401, 401, 401, 401]
    assert not any(call["counted"] for call in calls)


def test_token_and_store_hash_are_configurable(tmp_path):
    from sandbox.bigcommerce import BigCommerceSandbox
    from sandbox.server import ServerThread

    server = ServerThread(BigCommerceSandbox(store_hash="abc123", access_token="other"), tls_dir=tmp_path).start()
    try:
        session = requests.Session()
        session.trust_env = False
        session.verify = server.ca_path
        ok = session.get(f"{server.url}/stores/abc123/v2/orders/count", headers={"X-Auth-Token": "other"})
        assert ok.status_code == 200 and ok.json()["count"] == 0
        assert session.get(f"{server.url}/stores/abc123/v2/orders", headers={"X-Auth-Token": TOKEN}).status_code == 401
        wrong_hash = session.get(f"{server.url}/stores/sandbox/v2/orders", headers={"X-Auth-Token": "other"})
        assert wrong_hash.status_code == 404
        assert wrong_hash.json() == [{"status": 404, "message": "The requested resource was not found."}]
    finally:
        server.stop()


def test_unknown_store_hash_and_unknown_records_are_404(client, app):
    v3_unknown_store = client.session.get(f"{client.url}/stores/nope/v3/customers")
    assert v3_unknown_store.status_code == 404 and v3_unknown_store.json()["status"] == 404
    missing_order = client.get("/v2/orders/424242")
    assert missing_order.status_code == 404
    assert missing_order.json() == [{"status": 404, "message": "The requested resource was not found."}]
    for sub in ("products", "shipping_addresses", "shipments", "consignments"):
        assert client.get(f"/v2/orders/424242/{sub}").status_code == 404
    missing_cart = client.get("/v3/carts/0b1c2d3e-0000-4000-8000-000000000000")
    assert missing_cart.status_code == 404
    assert missing_cart.json()["status"] == 404 and missing_cart.json()["title"] == "Cart not found"
    missing_hook = client.get("/v3/hooks/777")
    assert missing_hook.status_code == 404
    assert missing_hook.json() == {
        "status": 404,
        "title": "Webhook with id [777] not found",
        "type": "/api-docs/getting-started/api-status-codes",
    }
    assert client.get("/v3/orders/payment_actions/refunds/99").status_code == 404
    assert client.get("/v3/orders/424242/payment_actions/refunds").status_code == 404
    assert client.session.post(client.base + "/v2/orders").status_code == 405


# ----------------------------------------------------------------------------- v2 orders
def test_empty_order_page_and_no_shipments_answer_204_without_body(client, app):
    empty = client.get("/v2/orders")
    assert empty.status_code == 204 and empty.content == b""
    order = _order(app)
    assert client.get("/v2/orders").status_code == 200
    page_two = client.get("/v2/orders", page=2)
    assert page_two.status_code == 204 and page_two.content == b""
    shipments = client.get(f"/v2/orders/{order['id']}/shipments")
    assert shipments.status_code == 204 and shipments.content == b""
    assert client.get(f"/v2/orders/{order['id']}/coupons").status_code == 204
    app.shipment_create(order["id"], tracking_number="1Z999")
    shipped = client.get(f"/v2/orders/{order['id']}/shipments")
    assert shipped.status_code == 200 and shipped.json()[0]["tracking_number"] == "1Z999"


def test_order_money_and_links_follow_bigcommerce(client, app):
    order = app.order_create(
        {
            "customer_id": 0,
            "email": "guest@example.com",
            "tax_rate": "0.0825",
            "currency_code": "USD",
            "products": [
                {"product_id": 77, "price_ex_tax": "19.99", "quantity": 3},
                {"name": "Custom Engraving", "price_ex_tax": "12.00", "quantity": 1},
            ],
            "shipping_cost_ex_tax": "7.99",
            "handling_cost_ex_tax": "0",
            "wrapping_cost_ex_tax": "0",
            "discount_amount": "5.00",
            "coupon_code": "SAVE5",
            "coupon_discount": "5.00",
            "cart_id": None,
        }
    )
    body = client.get(f"/v2/orders/{order['id']}").json()
    assert body["customer_id"] == 0 and body["billing_address"]["email"] == "guest@example.com"
    # 19.99 * 1.0825 = 21.64 per unit (tax 1.65); 12.00 -> 12.99 (tax 0.99); shipping 7.99 -> 8.65 (0.66).
    assert body["subtotal_ex_tax"] == "71.9700"
    assert body["subtotal_inc_tax"] == "77.9100"
    assert body["subtotal_tax"] == "5.9400"
    assert body["shipping_cost_inc_tax"] == "8.6500"
    assert body["total_inc_tax"] == "76.5600"  # 77.91 + 8.65 - 5.00 - 5.00
    assert body["total_tax"] == "6.6000"
    assert body["total_ex_tax"] == "69.9600"
    assert body["cart_id"] is None  # the reference: cart_id is nullable (the OpenAPI file says string)
    assert body["date_shipped"] == "" and body["refunded_amount"] == "0.0000"
    assert body["date_created"].endswith("+0000") and body["date_created"][3:5] == ", "
    products_link = body["products"]
    assert products_link["resource"] == f"/orders/{order['id']}/products"
    lines = client.session.get(products_link["url"]).json()
    assert [line["total_inc_tax"] for line in lines] == ["64.9200", "12.9900"]
    assert lines[1]["product_id"] == 0
    assert sum(Decimal(line["discounted_total_inc_tax"]) for line in lines) == Decimal("67.91")
    shipping_link = body["shipping_addresses"]
    assert client.session.get(shipping_link["url"]).json()[0]["cost_inc_tax"] == "8.6500"
    coupons = client.session.get(body["coupons"]["url"]).json()
    assert coupons[0]["code"] == "SAVE5"


def test_order_filters_sort_and_paging(client, app):
    app.customer_create(email="ann@example.com", first_name="Ann", last_name="Lee")
    dates = ["2024-01-10T10:00:00+00:00", "2024-02-10T10:00:00+00:00", "2024-03-10T10:00:00+00:00"]
    first = _order(app, customer_id=1, date_created=dates[0], status_id=11, payment_method="PayPal")
    second = _order(app, customer_id=0, email="Guest@Example.com", date_created=dates[1], status_id=2, cart_id="cart-2")
    third = _order(
        app,
        customer_id=1,
        date_created=dates[2],
        status_id=11,
        channel_id=2,
        products=[{"name": "Big", "price_ex_tax": "300.00", "quantity": 1}],
    )
    archived = _order(app, customer_id=0, date_created=dates[2])
    app.order_archive(archived["id"])

    def ids(**params: Any) -> list[int]:
        response = client.get("/v2/orders", **params)
        if response.status_code == 204:
            return []
        assert response.status_code == 200, response.text
        return [order["id"] for order in response.json()]

    all_ids = [first["id"], second["id"], third["id"]]
    assert ids() == all_ids  # archived orders are hidden by default
    assert ids(is_deleted="true") == [archived["id"]]
    assert ids(min_id=second["id"]) == all_ids[1:]
    assert ids(max_id=second["id"]) == all_ids[:2]
    assert ids(min_total="100") == [third["id"]]
    assert ids(max_total="100") == all_ids[:2]
    assert ids(customer_id=1) == [first["id"], third["id"]]
    assert ids(customer_id=0) == [second["id"]]
    assert ids(email="guest@example.com") == [second["id"]]
    assert ids(status_id=2) == [second["id"]]
    assert ids(cart_id="cart-2") == [second["id"]]
    assert ids(payment_method="PayPal") == [first["id"]]
    assert ids(channel_id=2) == [third["id"]]
    assert ids(min_date_created="Sat, 10 Feb 2024 10:00:00 +0000") == all_ids[1:]
    assert ids(max_date_created="2024-02-10T10:00:00Z") == all_ids[:2]
    assert ids(min_date_created="2024-02-01", max_date_created="2024-02-28T00:00:00-05:00") == [second["id"]]
    app.order_update(first["id"], staff_notes="touched", date_modified="2024-06-01T00:00:00+00:00")
    assert ids(min_date_modified="Sat, 01 Jun 2024 00:00:00 +0000") == [first["id"]]
    assert ids(max_date_modified="2024-05-01T00:00:00Z") == all_ids[1:]
    assert ids(sort="date_created:desc") == list(reversed(all_ids))
    assert ids(sort="id:desc", limit=2) == [third["id"], second["id"]]
    assert ids(sort="id:desc", limit=2, page=2) == [first["id"]]
    assert ids(sort="status_id:asc") == [second["id"], first["id"], third["id"]]
    assert client.get("/v2/orders", sort="colour:asc").status_code == 400
    assert client.get("/v2/orders", min_id="abc").status_code == 400
    assert client.get("/v2/orders", min_date_created="not a date").status_code == 400
    count = client.get("/v2/orders/count").json()
    by_status = {status["id"]: status["count"] for status in count["statuses"]}
    assert count["count"] == 3 and by_status[11] == 2 and by_status[2] == 1 and len(by_status) == 15
    assert client.get("/v2/orders/count", customer_id=1).json()["count"] == 2


def test_order_list_limit_defaults_to_50_and_caps_at_250(client, app):
    app.generate(3, 5, 260, 0)
    assert len(client.get("/v2/orders").json()) == 50
    assert len(client.get("/v2/orders", limit=1000).json()) == 250
    assert len(client.get("/v2/orders", limit=250, page=2).json()) == 10


def test_products_are_paged_50_by_default(client, app):
    order = _order(app, products=[{"name": f"Item {n}", "price_ex_tax": "1.00", "quantity": 1} for n in range(55)])
    lines = client.get(f"/v2/orders/{order['id']}/products")
    assert lines.status_code == 200 and len(lines.json()) == 50
    assert len(client.get(f"/v2/orders/{order['id']}/products", page=2).json()) == 5
    assert client.get(f"/v2/orders/{order['id']}/products", page=3).status_code == 204
    assert [line["name"] for line in client.get(f"/v2/orders/{order['id']}/products", limit=2, page=3).json()] == [
        "Item 4",
        "Item 5",
    ]


def test_one_get_gives_order_lines_and_shipping_address(client, app):
    order = _order(
        app,
        products=[
            {"name": "Mug", "price_ex_tax": "8.00", "quantity": 2},
            {"name": "E-book", "price_ex_tax": "5.00", "quantity": 1, "type": "digital"},
        ],
        shipping_address={"first_name": "Trish", "city": "Austin", "zip": "78751"},
    )
    body = client.get(
        f"/v2/orders/{order['id']}", include="consignments.line_items", consignment_structure="object"
    ).json()
    shipping = body["consignments"]["shipping"]
    assert len(shipping) == 1
    assert shipping[0]["first_name"] == "Trish" and shipping[0]["zip"] == "78751"
    assert [line["name"] for line in shipping[0]["line_items"]] == ["Mug"]
    assert shipping[0]["line_items"][0]["total_inc_tax"] == "16.0000"
    downloads = body["consignments"]["downloads"]
    assert [line["name"] for line in downloads[0]["line_items"]] == ["E-book"]
    links = client.get(f"/v2/orders/{order['id']}", include="consignments", consignment_structure="object").json()
    assert set(links["consignments"]["shipping"][0]["line_items"][0]) == {"url", "resource"}
    legacy = client.get(f"/v2/orders/{order['id']}", include="consignments").json()
    assert isinstance(legacy["consignments"], list)


# ----------------------------------------------------------------------------- v3
def test_customers_filters_include_and_pagination(client, app):
    for n in range(1, 6):
        app.customer_create(email=f"person{n}@example.com", first_name=f"P{n}", last_name="Doe")
    page = client.get("/v3/customers", limit=2, page=2).json()
    assert [c["id"] for c in page["data"]] == [3, 4]
    pagination = page["meta"]["pagination"]
    assert pagination["total"] == 5 and pagination["total_pages"] == 3 and pagination["current_page"] == 2
    assert pagination["links"]["next"] == "?page=3&limit=2" and pagination["links"]["previous"] == "?page=1&limit=2"
    by_id = client.get("/v3/customers", **{"id:in": "2,4"}).json()["data"]
    assert [c["id"] for c in by_id] == [2, 4] and "addresses" not in by_id[0]
    by_email = client.get("/v3/customers", **{"email:in": "PERSON3@example.com"}, include="addresses").json()
    assert [c["id"] for c in by_email["data"]] == [3]
    assert "addresses" in by_email["data"][0]
    none = client.get("/v3/customers", **{"id:in": "999"}).json()
    assert none["data"] == [] and none["meta"]["pagination"]["total"] == 0
    assert client.get("/v3/customers", **{"id:in": "x"}).status_code == 422


def test_converted_cart_is_gone(client, app):
    cart = app.cart_create(customer_id=0, email="", items=[{"product_id": 78, "quantity": 1}])
    fetched = client.get(f"/v3/carts/{cart['id']}")
    assert fetched.status_code == 200 and fetched.json()["data"]["email"] == ""
    order = app.cart_convert(cart["id"], email="buyer@example.com")
    assert client.get(f"/v3/carts/{cart['id']}").status_code == 404
    assert order["cart_id"] == cart["id"] and order["billing_address"]["email"] == "buyer@example.com"
    found = client.get("/v2/orders", cart_id=cart["id"]).json()
    assert [o["id"] for o in found] == [order["id"]]


def test_refunds_update_the_order_and_are_readable(client, app):
    order = _order(app, products=[{"name": "A", "price_ex_tax": "30.00", "quantity": 2}], shipping_cost_ex_tax="5.00")
    line_id = client.get(f"/v2/orders/{order['id']}/products").json()[0]["id"]
    partial = app.refund_create(order["id"], items=[{"order_product_id": line_id, "quantity": 1}], reason="broken")
    assert partial["total_amount"] == 30.0
    body = client.get(f"/v2/orders/{order['id']}").json()
    assert body["status_id"] == 14 and body["refunded_amount"] == "30.0000"
    assert body["payment_status"] == "partially refunded"
    line = client.get(f"/v2/orders/{order['id']}/products").json()[0]
    assert line["quantity_refunded"] == 1 and line["refund_amount"] == "30.0000" and not line["is_refunded"]
    rest = app.refund_create(order["id"])
    assert rest["total_amount"] == 35.0
    body = client.get(f"/v2/orders/{order['id']}").json()
    assert body["status_id"] == 4 and body["refunded_amount"] == body["total_inc_tax"] == "65.0000"
    with pytest.raises(ControlError, match="fully refunded"):
        app.refund_create(order["id"], "1.00")
    listed = client.get(f"/v3/orders/{order['id']}/payment_actions/refunds").json()["data"]
    assert [r["id"] for r in listed] == [partial["id"], rest["id"]]
    single = client.get(f"/v3/orders/payment_actions/refunds/{partial['id']}").json()["data"]
    assert single["items"] == [
        {"item_type": "PRODUCT", "item_id": line_id, "quantity": 1, "requested_amount": None, "reason": "broken"}
    ]
    everything = client.get("/v3/orders/payment_actions/refunds", **{"order_id:in": str(order["id"])}).json()
    assert len(everything["data"]) == 2


def test_hooks_crud(client, app):
    post = client.session.post
    created = post(
        client.base + "/v3/hooks",
        json={"scope": "store/order/created", "destination": "https://example.com/a", "headers": {"X-Key": "k"}},
    )
    assert created.status_code == 200
    hook = created.json()["data"]
    assert hook["is_active"] is True and hook["headers"] == {"X-Key": "k"} and hook["store_hash"] == "sandbox"
    assert hook["client_id"] and isinstance(hook["created_at"], int)
    other = post(client.base + "/v3/hooks", json={"scope": "store/cart/*", "destination": "https://example.com/b"})
    assert other.json()["data"]["headers"] is None
    duplicate = post(
        client.base + "/v3/hooks", json={"scope": "store/order/created", "destination": "https://example.com/a"}
    )
    assert duplicate.status_code == 422 and "scope" in duplicate.json()["errors"]
    missing = post(client.base + "/v3/hooks", json={"scope": "store/order/created"})
    assert missing.status_code == 422
    assert missing.json()["errors"] == {"destination": "error.path.missing."}
    assert post(client.base + "/v3/hooks", data="{not json").status_code == 400
    assert len(client.get("/v3/hooks").json()["data"]) == 2
    assert [h["id"] for h in client.get("/v3/hooks", scope="store/cart/*").json()["data"]] == [
        other.json()["data"]["id"]
    ]
    assert [h["id"] for h in client.get("/v3/hooks", destination="https://example.com/a").json()["data"]] == [
        hook["id"]
    ]
    updated = client.session.put(f"{client.base}/v3/hooks/{hook['id']}", json={"is_active": False})
    assert updated.status_code == 200 and updated.json()["data"]["is_active"] is False
    assert [h["id"] for h in client.get("/v3/hooks", is_active="false").json()["data"]] == [hook["id"]]
    assert client.session.put(f"{client.base}/v3/hooks/{hook['id']}", json={}).status_code == 422
    deleted = client.session.delete(f"{client.base}/v3/hooks/{hook['id']}")
    assert deleted.status_code == 200 and deleted.json()["data"]["id"] == hook["id"]
    assert client.get(f"/v3/hooks/{hook['id']}").status_code == 404
    assert client.session.delete(f"{client.base}/v3/hooks/{hook['id']}").status_code == 404


def test_strict_destinations_require_https_on_443(client, app):
    app.configure(strict_destinations=True)
    refused = client.session.post(
        client.base + "/v3/hooks", json={"scope": "store/order/created", "destination": "http://127.0.0.1:8000/h"}
    )
    assert refused.status_code == 422 and "destination" in refused.json()["errors"]
    accepted = client.session.post(
        client.base + "/v3/hooks", json={"scope": "store/order/created", "destination": "https://example.com/h"}
    )
    assert accepted.status_code == 200


# ----------------------------------------------------------------------------- quota, faults, calls
def test_quota_headers_and_429_when_spent(client, app):
    app.configure(rate_limit_quota=3, rate_limit_window_ms=60_000)
    lefts = []
    for _ in range(3):
        response = client.get("/v2/orders/count")
        assert response.status_code == 200
        assert response.headers["X-Rate-Limit-Requests-Quota"] == "3"
        assert response.headers["X-Rate-Limit-Time-Window-Ms"] == "60000"
        lefts.append(int(response.headers["X-Rate-Limit-Requests-Left"]))
    assert lefts == [2, 1, 0]
    refused = client.get("/v3/customers")
    assert refused.status_code == 429
    assert refused.json()["status"] == 429
    assert refused.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert 0 < int(refused.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 60_000
    assert client.get("/v2/orders").json()[0]["status"] == 429  # v2 format
    calls = app.calls()
    assert [c["counted"] for c in calls] == [True, True, True, False, False]
    assert [c["status"] for c in calls] == [200, 200, 200, 429, 429]


def test_quota_window_rolls_over(client, app):
    app.configure(rate_limit_quota=1, rate_limit_window_ms=2000)
    assert client.get("/v2/orders/count").status_code == 200
    refused = client.get("/v2/orders/count")
    assert refused.status_code == 429
    # Wait as a client should: for X-Rate-Limit-Time-Reset-Ms.
    time.sleep(int(refused.headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000 + 0.05)
    fresh = client.get("/v2/orders/count")
    assert fresh.status_code == 200 and fresh.headers["X-Rate-Limit-Requests-Left"] == "0"


def test_fault_statuses_with_path_method_and_count(client, app):
    app.fault_add(kind="status", status=500, path=r"/v2/orders/count$", count=1)
    first = client.get("/v2/orders/count")
    assert first.status_code == 500
    assert first.json() == [{"status": 500, "message": "Internal Server Error"}]
    assert "X-Rate-Limit-Requests-Left" in first.headers
    assert client.get("/v2/orders/count").status_code == 200  # spent after one
    app.fault_add(status=503, path="/v3/", method="GET")
    unavailable = client.get("/v3/customers")
    assert unavailable.status_code == 503 and unavailable.json()["title"] == "Service Unavailable"
    assert client.get("/v2/orders/count").status_code == 200  # other path untouched
    app.faults_clear()
    app.fault_add(status=429, path="/v2/")
    load = client.get("/v2/orders/count")
    assert load.status_code == 429
    # Platform load: no rate-limit headers and not counted (a quota 429 carries them).
    assert "X-Rate-Limit-Requests-Left" not in load.headers
    assert app.calls()[-1]["counted"] is False
    app.faults_clear()
    app.fault_add(status=500, probability=0.0)
    assert all(client.get("/v2/orders/count").status_code == 200 for _ in range(5))
    app.faults_clear()
    app.fault_add(status=503, probability=0.5)
    runs = []
    for _ in range(2):
        app.configure(fault_seed=4)  # the same seed replays the same draws
        runs.append([client.get("/v2/orders/count").status_code for _ in range(12)])
    assert runs[0] == runs[1]
    assert 200 in runs[0] and 503 in runs[0]


def test_fault_latency_fixed_and_random(client, app):
    app.fault_add(kind="latency", latency_ms=250, path="/v2/orders/count", count=1)
    started = time.monotonic()
    assert client.get("/v2/orders/count").status_code == 200
    assert time.monotonic() - started >= 0.25
    app.fault_add(kind="latency", latency_ms=[100, 200], count=1)
    started = time.monotonic()
    assert client.get("/v3/customers").status_code == 200
    assert time.monotonic() - started >= 0.1


def test_fault_dropped_connection(client, app):
    app.fault_add(kind="drop", path="/v2/orders$", count=1)
    with pytest.raises(requests.ConnectionError):
        client.get("/v2/orders")
    assert client.get("/v2/orders").status_code == 204
    assert [c["status"] for c in app.calls()] == [None, 204]


def test_faults_validate_their_spec(app):
    for spec in ({"kind": "boom"}, {"status": 418}, {"latency_ms": [5, 1]}, {"status": 500, "probability": 2}):
        with pytest.raises(ValueError):
            app.fault_add(**spec)


# ----------------------------------------------------------------------------- control API over HTTP
def test_control_api_over_http(client, app):
    created = client.control("POST", "orders", {"status_id": 1})
    assert created.status_code == 201
    order_id = created.json()["id"]
    assert created.json()["status_id"] == 1
    assert client.control("POST", f"orders/{order_id}/status", {"status_id": 11}).json()["status_id"] == 11
    assert client.control("POST", f"orders/{order_id}/shipments", {}).status_code == 201
    assert client.control("POST", f"orders/{order_id}/refunds", {"amount": "1.00"}).json()["total_amount"] == 1.0
    assert client.control("POST", f"orders/{order_id}", {"staff_notes": "hi"}).json()["staff_notes"] == "hi"
    assert client.control("POST", f"orders/{order_id}", {"colour": "red"}).status_code == 400
    assert client.control("POST", "orders/999999/status", {"status_id": 2}).status_code == 404
    assert client.control("POST", f"orders/{order_id}/archive").json()["is_deleted"] is True
    customer = client.control("POST", "customers", {"email": "c@example.com"}).json()
    assert client.control("POST", f"customers/{customer['id']}", {"first_name": "Zed"}).json()["first_name"] == "Zed"
    assert client.control("POST", "customers", {"email": "C@example.com"}).status_code == 400
    cart = client.control("POST", "carts", {"amount_band": "above"}).json()
    assert cart["cart_amount"] > 100
    assert client.control("POST", f"carts/{cart['id']}/abandon").status_code == 200
    converted = client.control("POST", f"carts/{cart['id']}/convert", {"email": "x@example.com"})
    assert converted.status_code == 200 and converted.json()["cart_id"] == cart["id"]
    assert client.control("POST", "faults", {"status": 503, "count": 1}).json()[0]["status"] == 503
    assert len(client.control("GET", "faults").json()) == 1
    client.get("/v2/orders/count")
    calls = client.control("GET", "calls").json()
    assert calls[-1] == {**calls[-1], "method": "GET", "path": "/stores/sandbox/v2/orders/count", "status": 503}
    state = client.control("GET", "state").json()
    assert state["counts"]["orders"] == 2 and state["counts"]["customers"] == 1
    assert state["settings"]["access_token"] == "***"
    assert client.control("POST", "config", {"rate_limit_quota": 5}).json()["rate_limit_quota"] == 5
    assert client.control("POST", "config", {"nonsense": 1}).status_code == 400
    assert (
        client.control("POST", "generate", {"seed": 2, "customers": 3, "orders": 4, "carts": 1}).json()["orders"] == 4
    )
    assert client.control("POST", "reset").json()["counts"]["orders"] == 0
    assert client.control("GET", "calls").json() == []
    assert client.control("GET", "deliveries").json() == []
    assert client.control("POST", "deliveries/wait", {"timeout": 1}).json() == {"pending": 0}


def test_order_update_recomputes_totals_and_a_failed_update_changes_nothing(client, app):
    order = _order(app)
    updated = app.order_update(
        order["id"], products=[{"name": "Lamp", "price_ex_tax": "40.00", "quantity": 2}], shipping_cost_ex_tax="6.00"
    )
    assert updated["subtotal_inc_tax"] == "80.0000" and updated["total_inc_tax"] == "86.0000"
    lines = client.get(f"/v2/orders/{order['id']}/products").json()
    assert [(line["name"], line["quantity"]) for line in lines] == [("Lamp", 2)]
    with pytest.raises(ControlError) as failure:
        app.order_update(order["id"], staff_notes="must not stick", discount_amount="500.00")
    assert failure.value.status == 400
    after = client.get(f"/v2/orders/{order['id']}").json()
    assert after["staff_notes"] == "" and after["discount_amount"] == "0.0000" and after["total_inc_tax"] == "86.0000"
