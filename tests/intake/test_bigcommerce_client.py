"""sync.bigcommerce against the BigCommerce stand-in over HTTPS, and the exact parsers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sync.bigcommerce import (
    BigCommerceError,
    BigCommerceNotFound,
    bigcommerce_calls_counted,
    bigcommerce_client,
    bigcommerce_datetime,
    money,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def bc(sandbox_store):
    return bigcommerce_client(sandbox_store)


@pytest.fixture
def app(bigcommerce_sandbox):
    return bigcommerce_sandbox.app


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("62.6793", Decimal("62.6793")),
        ("0.0000", Decimal("0")),
        (" 10.10 ", Decimal("10.10")),
        ("", Decimal("0")),
        (None, Decimal("0")),
        (62.5, Decimal("62.5")),
        (0.1, Decimal("0.1")),
        (7, Decimal(7)),
        (Decimal("1.005"), Decimal("1.005")),
    ],
)
def test_money_is_exact(value, expected):
    assert money(value) == expected
    assert str(money("0.1") + money("0.2")) == "0.3"


@pytest.mark.parametrize("value", ["abc", True, "1,5"])
def test_money_refuses_non_numbers(value):
    with pytest.raises(ValueError):
        money(value)


def test_dates_rfc2822_and_iso():
    assert bigcommerce_datetime("Tue, 05 Mar 2019 21:40:11 +0000") == datetime(2019, 3, 5, 21, 40, 11, tzinfo=UTC)
    assert bigcommerce_datetime("2019-03-05T21:40:11Z") == datetime(2019, 3, 5, 21, 40, 11, tzinfo=UTC)
    assert bigcommerce_datetime("") is None and bigcommerce_datetime(None) is None


def test_orders_products_shipments_and_counting(bc, app):
    assert bc.orders_list() == []  # an empty page answers 204
    customer = app.customer_create(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    first = app.order_create(customer_id=customer["id"], status_id=11)
    for _ in range(4):
        app.order_create(customer_id=0)
    with bigcommerce_calls_counted() as counter:
        order = bc.order_get(first["id"])
        lines = bc.order_products(first["id"])
    assert counter.count == 2
    assert order["id"] == first["id"] and order["customer_id"] == customer["id"]
    assert isinstance(order["total_inc_tax"], str) and money(order["total_inc_tax"]) > 0
    assert "consignments" in order
    assert lines and all(line["order_id"] == first["id"] for line in lines)
    assert bc.order_shipments(first["id"]) == []  # 204: none
    with bigcommerce_calls_counted() as counter:
        orders = list(bc.orders_iter(limit=2))
    assert len(orders) == 5 and counter.count == 3
    assert bc.orders_count() == 5
    assert bigcommerce_datetime(order["date_created"]).tzinfo is not None


def test_not_found_v2_and_v3(bc):
    with pytest.raises(BigCommerceNotFound) as caught:
        bc.order_get(987654)
    assert caught.value.status == 404 and caught.value.transient is False
    assert "not found" in caught.value.title.lower()
    with pytest.raises(BigCommerceNotFound):
        bc.cart_get("00000000-0000-0000-0000-000000000000")


def test_customers_by_id_with_addresses(bc, app):
    ada = app.customer_create(first_name="Ada", last_name="L", email="ada@example.com", addresses=[{}])
    bob = app.customer_create(first_name="Bob", last_name="B", email="bob@example.com")
    found = bc.customers_get([ada["id"], bob["id"], 999])
    assert set(found) == {ada["id"], bob["id"]}
    assert found[ada["id"]]["email"] == "ada@example.com"
    assert found[ada["id"]]["addresses"]


def test_hooks_crud(bc):
    created = bc.hook_create(
        {"scope": "store/order/*", "destination": "https://b2s.example/webhooks/x/", "is_active": True}
    )
    assert created["id"] and created["scope"] == "store/order/*"
    assert [hook["id"] for hook in bc.hooks_list()] == [created["id"]]
    updated = bc.hook_update(created["id"], {"is_active": False})
    assert updated["is_active"] is False
    assert bc.hook_delete(created["id"])["id"] == created["id"]
    assert bc.hooks_list() == []


def test_rate_limit_is_honoured_before_it_is_hit(bc, app):
    app.configure(rate_limit_quota=3, rate_limit_window_ms=1500)
    for _ in range(8):
        bc.orders_list()
    statuses = [call["status"] for call in app.calls()]
    assert len(statuses) == 8 and 429 not in statuses


def test_rate_limit_429_with_a_long_reset_is_transient_with_retry_after(bc, app):
    app.configure(rate_limit_quota=2, rate_limit_window_ms=60_000)
    bc.orders_list()
    bc.orders_list()
    with pytest.raises(BigCommerceError) as caught:
        bc.orders_list()
    assert caught.value.status == 429 and caught.value.transient is True
    assert 30 < caught.value.retry_after_seconds <= 60


def test_platform_429_without_headers_is_transient(bc, app):
    app.fault_add(kind="status", status=429, count=1)
    with pytest.raises(BigCommerceError) as caught:
        bc.orders_list()
    assert caught.value.status == 429 and caught.value.transient and caught.value.retry_after_seconds is None
    assert bc.orders_list() == []


@pytest.mark.parametrize(("fault", "status"), [({"kind": "status", "status": 503}, 503), ({"kind": "drop"}, 0)])
def test_server_errors_and_network_failures_are_transient(bc, app, fault, status):
    app.fault_add(count=1, **fault)
    with pytest.raises(BigCommerceError) as caught:
        bc.orders_list()
    assert caught.value.status == status and caught.value.transient is True


def test_a_wrong_token_is_permanent_and_never_in_the_message(sandbox_store):
    sandbox_store.access_token = "wrong-token-value-123"
    sandbox_store.save()
    client = bigcommerce_client(sandbox_store)
    with pytest.raises(BigCommerceError) as caught:
        client.orders_list()
    assert caught.value.status == 401 and caught.value.transient is False
    assert "wrong-token-value-123" not in str(caught.value)


def test_clients_are_cached_per_store_version(sandbox_store):
    client = bigcommerce_client(sandbox_store)
    assert bigcommerce_client(sandbox_store) is client
    sandbox_store.name = "Renamed"
    sandbox_store.save()
    assert bigcommerce_client(sandbox_store) is not client
