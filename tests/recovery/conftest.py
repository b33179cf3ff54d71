"""Fixtures of the cart-recovery tests: b2s wired to both stand-ins, and a delivery harness.

``recovery`` creates carts in the BigCommerce stand-in through its Python API, delivers this
project's own cart webhook fixtures (tests/fixtures/webhooks) through the real intake
(receive → process, synchronously), and reads the Salesforce stand-in's request counter.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from sync.models import Store, WebhookEvent

WEBHOOK_SECRET = "recovery-webhook-secret-0123456789"
FIXTURES = {"store/cart/abandoned": "store_cart_abandoned", "store/cart/converted": "store_cart_converted"}


@pytest.fixture
def org(salesforce_wired):
    """b2s's Salesforce settings pointed at the freshly reset stand-in; yields the stand-in's app."""
    return salesforce_wired.app


@pytest.fixture
def store(sandbox_store_make) -> Store:
    """The b2s Store of the BigCommerce stand-in's default store (time zone Europe/Berlin), trusting its CA."""
    return sandbox_store_make(webhook_secret=WEBHOOK_SECRET, timezone="Europe/Berlin")


@dataclass
class Recovery:
    """The harness: the two stand-ins and the b2s store between them."""

    store: Store
    shop: Any  # BigCommerceSandbox
    org: Any  # SalesforceSandbox
    own_fixture: Any
    baseline: int = 0  # requests counted before the test (the set-up's once-per-process reads)

    # -- BigCommerce side ---------------------------------------------------------------------
    def cart(self, value: str | None = None, *, email: str | None = None, customer_id: int = 0, **spec: Any) -> dict:
        """A cart in the stand-in; ``value`` makes it one custom item of exactly that price.

        ``email`` None leaves the stand-in's rule: a registered customer's email, none for a guest.
        """
        spec.setdefault("currency_code", "USD")
        if value is not None:
            spec.setdefault("items", [{"name": "Walnut serving board", "sku": "WSB-1", "list_price": value}])
        spec["customer_id"] = customer_id
        if email is not None:
            spec["email"] = email
        return self.shop.cart_create(spec)

    def customer(self, **fields: Any) -> dict:
        return self.shop.customer_create(**fields)

    def cart_quantity_set(self, cart_id: str, quantity: int) -> None:
        """Change a cart's first line, as a shopper would."""
        lines = self.shop.cart_get(cart_id)["line_items"]
        first = next(line for group in lines.values() for line in group)
        self.shop.cart_update(cart_id, items=[{"id": first["id"], "quantity": quantity}])

    # -- deliveries ---------------------------------------------------------------------------
    def payload(self, scope: str, cart_id: str, *, created_at: int | None = None, **data: Any) -> dict:
        """This project's fixture for ``scope``, re-pointed at the cart (hash recomputed as BigCommerce does)."""
        payload = copy.deepcopy(self.own_fixture(FIXTURES[scope]))
        payload["data"]["id"] = cart_id
        payload["data"].update(data)
        payload["hash"] = hashlib.sha1(json.dumps(payload["data"], separators=(",", ":")).encode()).hexdigest()
        payload["created_at"] = int(time.time()) if created_at is None else created_at
        payload["store_id"] = self.store.store_id
        payload["producer"] = f"stores/{self.store.store_hash}"
        return payload

    def deliver(self, payload: dict) -> WebhookEvent | None:
        """POST-equivalent delivery through the intake, then process synchronously; None for a duplicate."""
        from sync.services.webhooks import webhook_event_process, webhook_event_receive, webhook_request_sign

        body = json.dumps(payload, separators=(",", ":")).encode()
        received = webhook_event_receive(
            store_hash=self.store.store_hash, body=body, headers=webhook_request_sign(store=self.store, body=body)
        )
        assert received.status_code == 200, received.detail
        if received.duplicate:
            return None
        webhook_event_process(event_id=received.event_id)
        return WebhookEvent.objects.get(pk=received.event_id)

    def abandon(self, cart_id: str, *, created_at: int | None = None) -> WebhookEvent | None:
        return self.deliver(self.payload("store/cart/abandoned", cart_id, created_at=created_at))

    def convert_webhook(self, cart_id: str, order_id: int, *, created_at: int | None = None) -> WebhookEvent | None:
        return self.deliver(self.payload("store/cart/converted", cart_id, created_at=created_at, orderId=order_id))

    # -- Salesforce side ----------------------------------------------------------------------
    def requests(self) -> int:
        """Requests the Salesforce stand-in counted against the API limit so far (after the set-up's
        once-per-process read of field lengths)."""
        return self.org.api_calls_counted() - self.baseline

    def records(self, sobject: str) -> list[dict]:
        return self.org.records(sobject)

    def one(self, sobject: str) -> dict:
        records = self.records(sobject)
        assert len(records) == 1, f"{len(records)} {sobject} records"
        return records[0]


@pytest.fixture
def recovery(store, org, bigcommerce_sandbox, own_fixture) -> Recovery:
    from sync.salesforce import salesforce_field_lengths_warm

    harness = Recovery(store=store, shop=bigcommerce_sandbox.app, org=org, own_fixture=own_fixture)
    salesforce_field_lengths_warm()  # once per process (issue 11): not a cost of the carts under test
    harness.baseline = org.api_calls_counted()
    return harness
