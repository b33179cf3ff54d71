"""Webhooks fired by the BigCommerce stand-in: shape, headers, signatures, retries, duplicates, order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from openapi_schema_validator import OAS30Validator

from sandbox.bigcommerce.receiver import WebhookReceiver

HEADERS = {"X-Webhook-Secret": "s3cret-value"}


@pytest.fixture
def app(bigcommerce_sandbox):
    return bigcommerce_sandbox.app


@pytest.fixture
def receiver(bigcommerce_webhook_receiver) -> WebhookReceiver:
    return bigcommerce_webhook_receiver


def _hooks(app, receiver, *scopes: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [app.hook_create(scope, receiver.url, headers=headers) for scope in scopes]


def _same_shape(actual: Any, expected: Any, where: str = "") -> None:
    """Same keys, recursively, and the same JSON types (int stays int, string stays string)."""
    assert type(actual) is type(expected), f"{where}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert set(actual) == set(expected), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for key in expected:
            _same_shape(actual[key], expected[key], f"{where}.{key}")


def _order_spec(**extra: Any) -> dict[str, Any]:
    return {
        "products": [{"name": "Widget", "price_ex_tax": "20.00", "quantity": 2}],
        "tax_rate": "0",
        "shipping_cost_ex_tax": "5.00",
        "discount_amount": "0",
        "coupon_code": "",
        **extra,
    }


def _api(server) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = server.ca_path
    session.headers["X-Auth-Token"] = "sandbox-token"
    return session


def test_each_callback_matches_the_fixtures_and_the_callback_schema(
    shared_dir: Path, bigcommerce_sandbox, app, receiver
):
    webhook_spec = yaml.safe_load((shared_dir / "specs" / "bigcommerce" / "webhooks.v3.yml").read_text())
    fixtures_dir = shared_dir / "fixtures" / "bigcommerce" / "webhooks"
    _hooks(app, receiver, "store/order/*", "store/cart/*", "store/shipment/*", "store/customer/*", headers=HEADERS)

    customer = app.customer_create(email="fan@example.com")
    app.customer_update(customer["id"], phone="555-000-1111")
    order = app.order_create(_order_spec(customer_id=customer["id"], status_id=0))
    app.order_status_set(order["id"], 11)
    app.order_update(order["id"], staff_notes="gift")
    shipment = app.shipment_create(order["id"])
    refund = app.refund_create(order["id"], "10.00")
    app.order_archive(order["id"])
    cart = app.cart_create(customer_id=0, email="", items=[{"product_id": 77, "quantity": 1}])
    app.cart_abandon(cart["id"])
    converted = app.cart_convert(cart["id"], email="late@example.com")
    app.deliveries_wait()

    payloads = receiver.payloads()
    scopes = Counter(p["scope"] for p in payloads)
    assert scopes == Counter(
        {
            "store/customer/created": 1,
            "store/customer/updated": 1,
            "store/order/created": 2,
            "store/order/statusUpdated": 3,  # 0 -> 11, shipped 11 -> 2, refunded 2 -> 14
            "store/order/updated": 4,
            "store/shipment/created": 1,
            "store/order/refund/created": 1,
            "store/order/archived": 1,
            "store/cart/created": 1,
            "store/cart/updated": 1,  # creation also fires updated, as BigCommerce documents
            "store/cart/abandoned": 1,
            "store/cart/converted": 1,
        }
    )
    assert all(callback.headers.get("X-Webhook-Secret") == "s3cret-value" for callback in receiver.callbacks)
    assert all(callback.headers.get("Content-Type") == "application/json" for callback in receiver.callbacks)
    checked = set()
    for payload in payloads:
        scope = payload["scope"]
        name = "store_" + "_".join(scope.split("/")[1:])
        fixture_path = fixtures_dir / f"{name}.json"
        if fixture_path.exists():
            fixture = json.loads(fixture_path.read_text())
            _same_shape(payload, fixture, scope)
            checked.add(scope)
        schema = {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "components": webhook_spec["components"]}
        errors = list(OAS30Validator(schema).iter_errors(payload))
        assert not errors, (scope, [e.message for e in errors])
        assert list(payload) == ["scope", "store_id", "data", "hash", "created_at", "producer"]
        assert payload["store_id"].isdigit() and payload["producer"] == "stores/sandbox"
        expected_hash = hashlib.sha1(json.dumps(payload["data"], separators=(",", ":")).encode()).hexdigest()
        assert payload["hash"] == expected_hash
    assert len(checked) == 10  # every scope with an upstream example fixture was compared to it

    by_scope = {p["scope"]: p["data"] for p in payloads}
    assert by_scope["store/shipment/created"] == {"type": "shipment", "id": shipment["id"], "orderId": order["id"]}
    assert by_scope["store/order/refund/created"]["refund"] == {"refund_id": refund["id"]}
    assert by_scope["store/cart/converted"] == {"type": "cart", "id": cart["id"], "orderId": converted["id"]}
    assert by_scope["store/cart/abandoned"] == {"type": "cart", "id": cart["id"]}
    statuses = sorted(
        (p["data"]["status"]["previous_status_id"], p["data"]["status"]["new_status_id"])
        for p in payloads
        if p["scope"] == "store/order/statusUpdated"
    )
    assert statuses == [(0, 11), (2, 14), (11, 2)]
    # The converted cart is gone, as the reference says.
    cart_answer = _api(bigcommerce_sandbox).get(f"{bigcommerce_sandbox.url}/stores/sandbox/v3/carts/{cart['id']}")
    assert cart_answer.status_code == 404
    deliveries = app.deliveries()
    assert len(deliveries) == len(payloads) and all(d["ok"] and d["status"] == 200 for d in deliveries)


def test_address_changes_fire_address_events_not_customer_updated(app, receiver):
    _hooks(app, receiver, "store/customer/*")
    customer = app.customer_create(email="moves@example.com", addresses=[])
    app.customer_update(customer["id"], addresses=[{"city": "Denver"}])
    app.deliveries_wait()
    # Deliveries run in parallel (BigCommerce guarantees no order either): select by scope.
    others = [p for p in receiver.payloads() if p["scope"] != "store/customer/created"]
    assert [p["scope"] for p in others] == ["store/customer/address/updated"]
    assert others[0]["data"]["address"] == {"customer_id": customer["id"]}


def test_signatures_verify(app, receiver):
    app.configure(sign_standard=True, legacy_secret="legacy-shared-secret")
    hook = _hooks(app, receiver, "store/order/created")[0]
    app.order_create(_order_spec())
    app.deliveries_wait()
    callback = receiver.callbacks[0]
    message_id, timestamp = callback.headers["Webhook-Id"], callback.headers["Webhook-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 300
    signed = f"{message_id}.{timestamp}.".encode() + callback.body
    expected = "v1," + base64.b64encode(hmac.new(b"sandbox-client-secret", signed, hashlib.sha256).digest()).decode()
    assert callback.headers["Webhook-Signature"] == expected
    legacy = hmac.new(b"legacy-shared-secret", callback.body, hashlib.sha256).hexdigest()
    assert callback.headers["X-Bc-Webhook-Signature"] == legacy
    # Per hook: standard signing off and the legacy secret replaced.
    app.hook_signing_set(hook["id"], sign_standard=False, legacy_secret="per-hook")
    app.order_create(_order_spec())
    app.deliveries_wait()
    second = receiver.callbacks[1]
    assert "Webhook-Signature" not in second.headers
    assert second.headers["X-Bc-Webhook-Signature"] == hmac.new(b"per-hook", second.body, hashlib.sha256).hexdigest()


def test_client_secret_is_configurable(bigcommerce_sandbox, receiver):
    app = bigcommerce_sandbox.app
    app.configure(sign_standard=True, client_secret="another-secret")
    _hooks(app, receiver, "store/order/created")
    app.order_create(_order_spec())
    app.deliveries_wait()
    callback = receiver.callbacks[0]
    signed = f"{callback.headers['Webhook-Id']}.{callback.headers['Webhook-Timestamp']}.".encode() + callback.body
    digest = base64.b64encode(hmac.new(b"another-secret", signed, hashlib.sha256).digest()).decode()
    assert callback.headers["Webhook-Signature"] == f"v1,{digest}"


def test_failed_deliveries_are_retried_with_the_same_body_until_success(app, receiver):
    hook = _hooks(app, receiver, "store/order/created")[0]
    receiver.statuses(500, 503, 404)
    app.order_create(_order_spec())
    app.deliveries_wait()
    records = app.deliveries()
    assert [(r["attempt"], r["status"], r["ok"]) for r in records] == [
        (1, 500, False),
        (2, 503, False),
        (3, 404, False),
        (4, 200, True),
    ]
    assert len({callback.body for callback in receiver.callbacks}) == 1  # same event, same hash
    assert app.state()["hooks"] == [{**hook, "updated_at": app.state()["hooks"][0]["updated_at"]}]
    assert app.state()["hooks"][0]["is_active"] is True


def test_hook_is_deactivated_after_the_last_retry(bigcommerce_sandbox, receiver):
    app = bigcommerce_sandbox.app
    app.configure(retry_factor=1_000_000)  # the whole 48-hour schedule in about 0.2 s
    hook = _hooks(app, receiver, "store/order/*")[0]
    receiver.default_status = 500
    app.order_create(_order_spec())
    app.deliveries_wait()
    records = app.deliveries()
    assert [r["attempt"] for r in records] == list(range(1, 13))  # first try + 11 retries
    assert not any(r["ok"] for r in records)
    answer = _api(bigcommerce_sandbox).get(f"{bigcommerce_sandbox.url}/stores/sandbox/v3/hooks/{hook['id']}")
    assert answer.json()["data"]["is_active"] is False
    receiver.default_status = 200
    app.order_create(_order_spec())
    app.deliveries_wait()
    assert len(receiver.callbacks) == 12  # an inactive hook gets nothing


def test_unreachable_destination_is_recorded_and_retried(app):
    app.configure(retry_factor=1_000_000)
    app.hook_create("store/order/created", "http://127.0.0.1:9/nothing-listens-here")
    app.order_create(_order_spec())
    app.deliveries_wait()
    records = app.deliveries()
    assert len(records) == 12
    assert all(r["status"] is None and "ConnectionError" in r["error"] for r in records)
    assert app.state()["hooks"][0]["is_active"] is False


def test_destination_tls_verification_is_configurable(app, tmp_path):
    tls_receiver = WebhookReceiver(tls_dir=tmp_path).start()
    try:
        app.configure(retry_factor=1_000_000)
        app.hook_create("store/order/created", tls_receiver.url)
        app.order_create(_order_spec())
        app.deliveries_wait()
        assert "SSLError" in (app.deliveries()[0]["error"] or "")  # unknown CA: refused
        app.reset()
        app.configure(verify_tls=str(tmp_path / "ca.pem"))
        app.hook_create("store/order/created", tls_receiver.url)
        app.order_create(_order_spec())
        app.deliveries_wait()
        assert app.deliveries()[0]["status"] == 200
    finally:
        tls_receiver.stop()


def test_duplicates_keep_body_hash_and_message_id(app, receiver):
    app.configure(duplicate_probability=1.0, sign_standard=True)
    _hooks(app, receiver, "store/order/created", "store/order/updated")
    order = app.order_create(_order_spec())
    app.order_update(order["id"], staff_notes="x")
    app.deliveries_wait()
    assert len(receiver.callbacks) == 4
    by_body: dict[bytes, list[Any]] = {}
    for callback in receiver.callbacks:
        by_body.setdefault(callback.body, []).append(callback)
    assert sorted(len(group) for group in by_body.values()) == [2, 2]
    for group in by_body.values():
        assert len({c.headers["Webhook-Id"] for c in group}) == 1
        assert len({c.json()["hash"] for c in group}) == 1
    assert sum(r["duplicate"] for r in app.deliveries()) == 2


def test_reorder_reverse_sends_updated_before_created(app, receiver):
    # A long hold: only deliveries_wait releases the batch, however slow the machine.
    app.configure(reorder="reverse", reorder_hold_ms=60_000)
    _hooks(app, receiver, "store/order/*")
    order = app.order_create(_order_spec())
    app.order_update(order["id"], staff_notes="changed")
    app.deliveries_wait()
    assert [p["scope"] for p in receiver.payloads()] == ["store/order/updated", "store/order/created"]


def _shuffled_sequence(app, receiver, *, seed: int) -> list[tuple[str, Any]]:
    app.configure(reorder="shuffle", reorder_window=100, reorder_hold_ms=60_000, delivery_seed=seed)
    _hooks(app, receiver, "store/customer/created")
    for n in range(8):
        app.customer_create(email=f"c{n}@example.com")
    app.deliveries_wait()
    return [(p["scope"], p["data"]["id"]) for p in receiver.payloads()]


def test_reorder_shuffle_is_deterministic_under_a_seed(app, receiver):
    first = _shuffled_sequence(app, receiver, seed=3)
    assert sorted(first) == [("store/customer/created", n) for n in range(1, 9)]
    assert first != sorted(first)
    app.reset()
    receiver.clear()
    assert _shuffled_sequence(app, receiver, seed=3) == first
    app.reset()
    receiver.clear()
    assert _shuffled_sequence(app, receiver, seed=4) != first


def test_held_deliveries_are_released_after_the_hold_time(app, receiver):
    app.configure(reorder="shuffle", reorder_window=100, reorder_hold_ms=50)
    _hooks(app, receiver, "store/order/created")
    app.order_create(_order_spec())
    assert len(receiver.wait_for(1, timeout=5)) == 1  # released by the timer, without deliveries_wait


def test_inactive_and_deleted_hooks_get_nothing(bigcommerce_sandbox, app, receiver):
    active, inactive, deleted = _hooks(app, receiver, "store/order/created", "store/order/*", "store/*")
    session = _api(bigcommerce_sandbox)
    hooks_url = f"{bigcommerce_sandbox.url}/stores/sandbox/v3/hooks"
    assert session.put(f"{hooks_url}/{inactive['id']}", json={"is_active": False}).status_code == 200
    assert session.delete(f"{hooks_url}/{deleted['id']}").status_code == 200
    app.order_create(_order_spec())
    app.deliveries_wait()
    assert [d["hook_id"] for d in app.deliveries()] == [active["id"]]
    assert app.events()[-1]["hook_ids"] == [active["id"]]
    assert len(receiver.callbacks) == 1


def test_mutations_fire_even_without_hooks_and_events_are_logged(app):
    app.order_create(_order_spec())
    events = app.events()
    assert [e["payload"]["scope"] for e in events] == ["store/order/created"]
    assert events[0]["hook_ids"] == []
    assert app.deliveries_wait(timeout=1) is True
