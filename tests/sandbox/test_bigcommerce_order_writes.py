"""Order writes on the BigCommerce stand-in: ``PUT /v2/orders/{id}`` and ``POST /v2/orders/{id}/shipments``.

Answers validate against orders.v2.oas2.yml (``updateOrder`` 200, ``createOrderShipments`` 201); refused
requests answer the v2 error array with BigCommerce's messages; each accepted write fires the webhooks the
real store fires, counts against the rate-limit quota and shows in ``calls``.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.bigcommerce.receiver import WebhookReceiver
from tests.sandbox.openapi import response_schema, validate
from tests.sandbox.test_bigcommerce_openapi import specs  # noqa: F401 (a fixture)

HEADERS = {"X-Webhook-Secret": "s3cret-value"}


@pytest.fixture
def app(bigcommerce_sandbox):
    return bigcommerce_sandbox.app


@pytest.fixture
def api(bigcommerce_sandbox) -> Any:
    session = requests.Session()
    session.trust_env = False
    session.verify = bigcommerce_sandbox.ca_path
    session.headers.update({"X-Auth-Token": "sandbox-token", "Accept": "application/json"})
    base = f"{bigcommerce_sandbox.url}/stores/sandbox/v2"

    def call(method: str, path: str, body: Any = None, *, raw: str | None = None) -> requests.Response:
        if raw is not None:
            return session.request(method, base + path, data=raw, headers={"Content-Type": "application/json"})
        return session.request(method, base + path, json=body)

    return call


@pytest.fixture
def order(app) -> dict[str, Any]:
    """An order awaiting fulfilment: line A (2 x 20.00, physical), line B (1 x 15.00, physical), line C (digital)."""
    made = app.order_create(
        {
            "products": [
                {"name": "Widget A", "price_ex_tax": "20.00", "quantity": 2},
                {"name": "Widget B", "price_ex_tax": "15.00", "quantity": 1},
                {"name": "E-book", "price_ex_tax": "5.00", "quantity": 1, "type": "digital"},
            ],
            "tax_rate": "0",
            "shipping_cost_ex_tax": "5.00",
            "discount_amount": "0",
            "coupon_code": "",
            "status_id": 11,
        }
    )
    state = next(o for o in app.state()["orders"] if o["order"]["id"] == made["id"])
    return {
        "id": made["id"],
        "lines": {line["name"]: line["id"] for line in state["lines"]},
        "address_id": state["shipping_addresses"][0]["id"],
    }


def _hooked(app, receiver: WebhookReceiver) -> None:
    for scope in ("store/order/*", "store/shipment/*"):
        app.hook_create(scope, receiver.url, headers=HEADERS)


def _fired(app, receiver: WebhookReceiver, count: int) -> list[dict[str, Any]]:
    """The payloads fired since the order was created, in the order fired; the receiver got each of them
    (deliveries run concurrently and BigCommerce guarantees no order, so arrival order is not compared)."""
    app.deliveries_wait(10)
    fired = [event["payload"] for event in app.events()[1:]]  # [0]: the order's store/order/created
    assert len(fired) == count
    received = sorted((callback.json() for callback in receiver.wait_for(count)), key=lambda p: str(p))
    assert received == sorted(fired, key=lambda p: str(p))
    return fired


def _error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert isinstance(body, list) and len(body) == 1 and body[0]["status"] == status
    return body[0]


# ---------------------------------------------------------------- PUT /v2/orders/{id}
def test_put_status_answers_the_order_and_fires_status_updated_then_updated(
    specs,  # noqa: F811
    app,
    api,
    order,
    bigcommerce_webhook_receiver,
):
    _hooked(app, bigcommerce_webhook_receiver)
    response = api("PUT", f"/orders/{order['id']}", {"status_id": 5, "staff_notes": "cancelled by support"})
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    validate(specs["orders_v2"], response_schema(specs["orders_v2"], "/orders/{order_id}", method="put"), body)
    assert (body["status_id"], body["status"], body["staff_notes"]) == (5, "Cancelled", "cancelled by support")
    assert app.order_get(order["id"])["status_id"] == 5

    payloads = _fired(app, bigcommerce_webhook_receiver, 2)
    assert [p["scope"] for p in payloads] == ["store/order/statusUpdated", "store/order/updated"]
    assert payloads[0]["data"] == {
        "type": "order",
        "id": order["id"],
        "status": {"previous_status_id": 11, "new_status_id": 5},
    }
    assert payloads[1]["data"] == {"type": "order", "id": order["id"]}


def test_put_without_a_status_change_fires_only_updated(app, api, order, bigcommerce_webhook_receiver):
    _hooked(app, bigcommerce_webhook_receiver)
    response = api(
        "PUT",
        f"/orders/{order['id']}",
        {"status_id": 11, "customer_message": "Leave at the door", "billing_address": {"phone": "555-0100"}},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["customer_message"] == "Leave at the door" and body["billing_address"]["phone"] == "555-0100"
    assert [p["scope"] for p in _fired(app, bigcommerce_webhook_receiver, 1)] == ["store/order/updated"]
    assert [e["payload"]["scope"] for e in app.events()][-1] == "store/order/updated"
    assert "store/order/statusUpdated" not in [e["payload"]["scope"] for e in app.events()[1:]]


def test_put_money_fields_accept_float_string_and_integer_and_recompute_totals(app, api, order):
    # Lines 2 x 20.00 + 15.00 + 5.00 = 60.00, no tax; shipping 5.00 → total 65.00 before the change.
    assert app.order_get(order["id"])["total_inc_tax"] == "65.0000"
    response = api("PUT", f"/orders/{order['id']}", {"shipping_cost_ex_tax": 7, "discount_amount": "2.50"})
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    # 60.00 + 7.00 - 2.50
    assert (body["shipping_cost_ex_tax"], body["discount_amount"], body["total_inc_tax"]) == (
        "7.0000",
        "2.5000",
        "64.5000",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status_id": 15}, "The field 'status_id' is invalid."),
        ({"status_id": "5"}, "The field 'status_id' is invalid."),
        ({"status_id": True}, "The field 'status_id' is invalid."),
        ({"staff_notes": 12}, "The field 'staff_notes' is invalid."),
        ({"shipping_cost_ex_tax": "-1.00"}, "The field 'shipping_cost_ex_tax' is invalid."),
        ({"discount_amount": "lots"}, "The field 'discount_amount' is invalid."),
        ({"customer_id": 424242}, "The field 'customer_id' is invalid."),
        ({"channel_id": 99}, "The field 'channel_id' is invalid."),
        ({"billing_address": {"email": "not-an-address"}}, "The field 'billing_address.email' is invalid."),
        (
            {"id": 5},
            "The field 'id' cannot be written to. Please remove it from your request before trying again.",
        ),
        (
            {"status": "Shipped"},
            "The field 'status' cannot be written to. Please remove it from your request before trying again.",
        ),
        (
            {"default_currency_code": "EUR"},
            "The field 'default_currency_code' cannot be written to. Please remove it from your request before "
            "trying again.",
        ),
    ],
)
def test_put_refuses_invalid_and_read_only_fields_and_changes_nothing(app, api, order, body, message):
    before = app.order_get(order["id"])
    error = _error(api("PUT", f"/orders/{order['id']}", body), 400)
    assert error["message"] == message
    assert app.order_get(order["id"]) == before
    assert not app.events()[1:], "a refused write fires nothing"


def test_put_a_valid_field_next_to_an_invalid_one_changes_nothing(app, api, order):
    _error(api("PUT", f"/orders/{order['id']}", {"staff_notes": "x", "status_id": 99}), 400)
    assert app.order_get(order["id"])["staff_notes"] == ""


def test_put_fields_the_sandbox_does_not_emulate_answer_501(app, api, order):
    error = _error(api("PUT", f"/orders/{order['id']}", {"products": [{"id": 1, "quantity": 0}]}), 501)
    assert error["message"] == "The sandbox does not emulate writing 'products' on an order."


def test_put_unknown_order_is_404_and_bad_json_is_400(specs, api):  # noqa: F811
    response = api("PUT", "/orders/999999", {"status_id": 2})
    error = _error(response, 404)
    assert error == {"status": 404, "message": "The requested resource was not found."}
    assert _error(api("PUT", "/orders/999999", raw="{nope"), 400)["message"] == "Input is invalid."


def test_put_an_empty_body_answers_the_order_unchanged_and_fires_nothing(app, api, order):
    response = api("PUT", f"/orders/{order['id']}", {})
    assert response.status_code == 200 and response.json()["status_id"] == 11
    assert len(app.events()) == 1  # store/order/created only


# ---------------------------------------------------------------- POST /v2/orders/{id}/shipments
def test_partial_then_full_shipment_moves_the_status_and_fires_the_callbacks(
    specs,  # noqa: F811
    app,
    api,
    order,
    bigcommerce_webhook_receiver,
):
    _hooked(app, bigcommerce_webhook_receiver)
    first = api(
        "POST",
        f"/orders/{order['id']}/shipments",
        {
            "order_address_id": order["address_id"],
            "items": [{"order_product_id": order["lines"]["Widget A"], "quantity": 1}],
            "tracking_number": "1Z999AA10123456784",
            "shipping_provider": "ups",
            "tracking_carrier": "ups",
            "comments": "first box",
        },
    )
    assert first.status_code == 201, first.text[:500]
    shipment = first.json()
    spec = specs["orders_v2"]
    validate(spec, response_schema(spec, "/orders/{order_id}/shipments", "201", method="post"), shipment)
    assert (shipment["order_id"], shipment["order_address_id"], shipment["tracking_number"]) == (
        order["id"],
        order["address_id"],
        "1Z999AA10123456784",
    )
    assert (shipment["shipping_provider"], shipment["tracking_carrier"], shipment["comments"]) == (
        "ups",
        "ups",
        "first box",
    )
    assert [(i["order_product_id"], i["quantity"]) for i in shipment["items"]] == [(order["lines"]["Widget A"], 1)]
    after_first = app.order_get(order["id"])
    assert (after_first["status_id"], after_first["items_shipped"]) == (3, 1)

    second = api(
        "POST",
        f"/orders/{order['id']}/shipments",
        {
            "order_address_id": order["address_id"],
            "items": [
                {"order_product_id": order["lines"]["Widget A"], "quantity": 1},
                {"order_product_id": order["lines"]["Widget B"], "quantity": 1},
            ],
            "tracking_number": "9400100000000000000000",
            "shipping_provider": "usps",
        },
    )
    assert second.status_code == 201, second.text[:500]
    after_second = app.order_get(order["id"])
    assert (after_second["status_id"], after_second["items_shipped"]) == (2, 3)

    payloads = _fired(app, bigcommerce_webhook_receiver, 6)
    scopes = [p["scope"] for p in payloads]
    assert scopes == [
        "store/shipment/created",
        "store/order/statusUpdated",
        "store/order/updated",
        "store/shipment/created",
        "store/order/statusUpdated",
        "store/order/updated",
    ]
    assert payloads[0]["data"] == {"type": "shipment", "id": shipment["id"], "orderId": order["id"]}
    assert payloads[1]["data"]["status"] == {"previous_status_id": 11, "new_status_id": 3}
    assert payloads[4]["data"]["status"] == {"previous_status_id": 3, "new_status_id": 2}
    listed = api("GET", f"/orders/{order['id']}/shipments").json()
    assert [s["tracking_number"] for s in listed] == ["1Z999AA10123456784", "9400100000000000000000"]


def test_a_shipment_of_a_refunded_order_keeps_the_refund_status(app, api, order):
    app.refund_create(order["id"], "10.00")
    assert app.order_get(order["id"])["status_id"] == 14
    response = api(
        "POST",
        f"/orders/{order['id']}/shipments",
        {
            "order_address_id": order["address_id"],
            "items": [{"order_product_id": order["lines"]["Widget B"], "quantity": 1}],
        },
    )
    assert response.status_code == 201
    assert app.order_get(order["id"])["status_id"] == 14
    assert response.json()["tracking_number"] == ""  # none given: none invented


@pytest.mark.parametrize(
    ("make_body", "message"),
    [
        (lambda o: {"items": [{"order_product_id": o["lines"]["Widget A"], "quantity": 1}]},
         "The required field 'order_address_id' was not supplied."),
        (lambda o: {"order_address_id": o["address_id"]}, "The required field 'items' was not supplied."),
        (lambda o: {"order_address_id": o["address_id"] + 1000,
                    "items": [{"order_product_id": o["lines"]["Widget A"], "quantity": 1}]},
         "The field 'order_address_id' is invalid."),
        (lambda o: {"order_address_id": o["address_id"],
                    "items": [{"order_product_id": o["lines"]["Widget A"], "quantity": 3}]},
         "The field 'items' is invalid."),
        (lambda o: {"order_address_id": o["address_id"],
                    "items": [{"order_product_id": o["lines"]["Widget A"], "quantity": 1},
                              {"order_product_id": o["lines"]["Widget A"], "quantity": 2}]},
         "The field 'items' is invalid."),
        (lambda o: {"order_address_id": o["address_id"],
                    "items": [{"order_product_id": o["lines"]["E-book"], "quantity": 1}]},
         "The field 'items' is invalid."),
        (lambda o: {"order_address_id": o["address_id"],
                    "items": [{"order_product_id": 987654, "quantity": 1}]},
         "The field 'items' is invalid."),
        (lambda o: {"order_address_id": o["address_id"], "items": []}, "The field 'items' is invalid."),
        (lambda o: {"order_address_id": o["address_id"],
                    "items": [{"order_product_id": o["lines"]["Widget A"], "quantity": 0}]},
         "The field 'items.quantity' is invalid."),
        (lambda o: {"order_address_id": o["address_id"],
                    "items": [{"order_product_id": o["lines"]["Widget A"], "product_id": 0, "quantity": 1}]},
         "The field 'product_id' cannot be written to. Please remove it from your request before trying again."),
        (lambda o: {"order_address_id": o["address_id"], "tracking_number": "X" * 51,
                    "items": [{"order_product_id": o["lines"]["Widget A"], "quantity": 1}]},
         "The field 'tracking_number' is invalid."),
    ],
)  # fmt: skip
def test_refused_shipments_answer_400_and_ship_nothing(app, api, order, make_body, message):
    error = _error(api("POST", f"/orders/{order['id']}/shipments", make_body(order)), 400)
    assert error["message"] == message
    state = next(o for o in app.state()["orders"] if o["order"]["id"] == order["id"])
    assert state["shipments"] == [] and state["order"]["status_id"] == 11
    assert all(line["quantity_shipped"] == 0 for line in state["lines"])
    assert len(app.events()) == 1


def test_shipping_what_was_already_shipped_is_refused(app, api, order):
    body = {
        "order_address_id": order["address_id"],
        "items": [{"order_product_id": order["lines"]["Widget B"], "quantity": 1}],
    }
    assert api("POST", f"/orders/{order['id']}/shipments", body).status_code == 201
    error = _error(api("POST", f"/orders/{order['id']}/shipments", body), 400)
    assert error["message"] == "The field 'items' is invalid."
    assert "0 left to ship" in error["details"]["invalid_reason"]
    assert len(app.state()["orders"][0]["shipments"]) == 1


def test_shipment_of_an_unknown_order_is_404(api):
    body = {"order_address_id": 1, "items": [{"order_product_id": 1, "quantity": 1}]}
    assert _error(api("POST", "/orders/999999/shipments", body), 404)["message"] == (
        "The requested resource was not found."
    )


# ---------------------------------------------------------------- quota and calls
def test_writes_count_against_the_quota_and_show_in_calls(app, api, order):
    app.configure(rate_limit_quota=3)
    put = api("PUT", f"/orders/{order['id']}", {"status_id": 9})
    assert put.headers["X-Rate-Limit-Requests-Left"] == "2"
    post = api(
        "POST",
        f"/orders/{order['id']}/shipments",
        {
            "order_address_id": order["address_id"],
            "items": [{"order_product_id": order["lines"]["Widget B"], "quantity": 1}],
        },
    )
    assert post.status_code == 201 and post.headers["X-Rate-Limit-Requests-Left"] == "1"
    refused = api("PUT", f"/orders/{order['id']}", {"status_id": 99})
    assert refused.status_code == 400 and refused.headers["X-Rate-Limit-Requests-Left"] == "0"
    limited = api("PUT", f"/orders/{order['id']}", {"status_id": 5})
    assert limited.status_code == 429
    assert app.order_get(order["id"])["status_id"] == 3  # the 429'd write changed nothing
    calls = [(c["method"], c["path"].rsplit("/v2", 1)[1], c["status"], c["counted"]) for c in app.calls()]
    assert calls == [
        ("PUT", f"/orders/{order['id']}", 200, True),
        ("POST", f"/orders/{order['id']}/shipments", 201, True),
        ("PUT", f"/orders/{order['id']}", 400, True),
        ("PUT", f"/orders/{order['id']}", 429, False),
    ]


def test_an_injected_fault_on_a_write_changes_nothing(app, api, order):
    app.fault_add(method="PUT", path=f"/orders/{order['id']}", status=500, count=1)
    assert api("PUT", f"/orders/{order['id']}", {"status_id": 5}).status_code == 500
    assert app.order_get(order["id"])["status_id"] == 11
    assert api("PUT", f"/orders/{order['id']}", {"status_id": 5}).status_code == 200
