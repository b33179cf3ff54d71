"""Fixtures of the order-sync tests: b2s wired to both stand-ins over HTTPS, and webhook deliveries.

``orders`` is the harness the tests use: it creates orders in the BigCommerce stand-in through
its Python API, delivers this project's own webhook fixtures (tests/fixtures/webhooks) to the
order handler synchronously, and reads both stand-ins' request counters.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

import pytest

from sync.handlers import HandlerResult
from sync.models import Store, WebhookEvent
from tests.factories.sync import WebhookEventFactory

SCOPE_FIXTURES = {
    "store/order/created": "store_order_created",
    "store/order/updated": "store_order_updated",
    "store/order/statusUpdated": "store_order_statusUpdated",
    "store/order/archived": "store_order_archived",
    "store/order/refund/created": "store_order_refund_created",
    "store/shipment/created": "store_shipment_created",
    "store/shipment/updated": "store_shipment_updated",
}


@pytest.fixture
def org(salesforce_wired):
    """b2s's Salesforce settings pointed at the freshly reset stand-in, with no cached ids."""
    return salesforce_wired


@pytest.fixture
def store(sandbox_store_make) -> Store:
    """The b2s Store of the BigCommerce stand-in's default store, trusting its CA."""
    return sandbox_store_make(webhook_secret="order-tests-secret", timezone="America/New_York")


@dataclass
class Costs:
    """Requests one step made, read from the stand-ins' own counters."""

    salesforce: int
    bigcommerce: int
    bigcommerce_paths: list[str]


class Harness:
    """Create orders in the BigCommerce stand-in and deliver webhooks for them to the order handler."""

    def __init__(self, *, store: Store, bigcommerce, salesforce, own_fixture) -> None:
        self.store = store
        self.bc = bigcommerce.app
        self.sf = salesforce.app
        self._fixture = own_fixture
        self._created_at = itertools.count(1_764_930_000)

    # -- webhooks ---------------------------------------------------------------------------
    def payload(self, scope: str, order_id: int, **data: Any) -> dict[str, Any]:
        """This project's fixture for ``scope``, pointed at ``order_id`` (hash recomputed like BigCommerce)."""
        body = copy.deepcopy(self._fixture(SCOPE_FIXTURES[scope]))
        assert body["scope"] == scope
        if body["data"]["type"] == "shipment":
            body["data"]["orderId"] = order_id
        else:
            body["data"]["id"] = order_id
        body["data"].update(data)
        body["store_id"] = self.bc.store_id
        body["hash"] = hashlib.sha1(json.dumps(body["data"], separators=(",", ":")).encode()).hexdigest()
        body["created_at"] = next(self._created_at)
        return body

    def event(self, scope: str, order_id: int, **data: Any) -> WebhookEvent:
        """The stored inbox row for one delivery (as intake stores it)."""
        body = self.payload(scope, order_id, **data)
        return WebhookEventFactory(
            store=self.store,
            scope=scope,
            resource_type=body["data"]["type"],
            resource_id=str(body["data"]["id"]),
            hash=body["hash"],
            event_created_at=body["created_at"],
            body=body,
        )

    def deliver(self, scope: str, order_id: int, **data: Any) -> tuple[HandlerResult, Costs]:
        """Run the registered handler for one webhook, synchronously; answer its result and cost."""
        from sync.handlers import handler_for

        handler = handler_for(scope)
        assert handler is not None, f"no handler registered for {scope}"
        event = self.event(scope, order_id, **data)
        before_sf, before_bc = self.sf.api_calls_counted(), len(self.bc.calls())
        result = handler(event)
        calls = self.bc.calls()[before_bc:]
        return result, Costs(self.sf.api_calls_counted() - before_sf, len(calls), [call["path"] for call in calls])

    # -- Salesforce state --------------------------------------------------------------------
    def records(self, sobject: str, **where: Any) -> list[dict[str, Any]]:
        rows = self.sf.records(sobject)
        return [row for row in rows if all(row.get(key) == value for key, value in where.items())]

    def one(self, sobject: str, **where: Any) -> dict[str, Any]:
        rows = self.records(sobject, **where)
        assert len(rows) == 1, f"{len(rows)} {sobject} records match {where}"
        return rows[0]

    def order_record(self, order_id: int) -> dict[str, Any]:
        return self.one("Order", BigCommerceOrderId__c=f"{self.store.store_hash}:{order_id}")

    def items_of(self, order_sf_id: str) -> list[dict[str, Any]]:
        return sorted(self.records("OrderItem", OrderId=order_sf_id), key=lambda row: row["BigCommerceOrderItemId__c"])

    def warm_up(self) -> None:
        """The once-per-process reads (standard price book, Order describe, the written objects' field
        lengths), so counts show per-order cost."""
        from sync.salesforce import salesforce_client, salesforce_field_lengths_warm

        client = salesforce_client()
        client.standard_pricebook_id()
        client.field_names("Order")
        salesforce_field_lengths_warm()

    # -- BigCommerce state ------------------------------------------------------------------
    def lines(self, order_id: int) -> list[dict[str, Any]]:
        state = self.bc.state()
        for entry in state["orders"]:
            if entry["order"]["id"] == order_id:
                return entry["lines"]
        raise KeyError(order_id)


@pytest.fixture
def orders(store, org, bigcommerce_sandbox, own_fixture) -> Harness:
    """The harness (see the module docstring), with the written objects' field lengths read: a once-per-process
    read (issue 11) that per-order counts leave out."""
    from sync.salesforce import salesforce_field_lengths_warm

    salesforce_field_lengths_warm()
    return Harness(store=store, bigcommerce=bigcommerce_sandbox, salesforce=org, own_fixture=own_fixture)
