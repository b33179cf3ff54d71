"""Catalog sync with both stand-ins over HTTPS: product and SKU webhooks converge Product2 records (one per
variant) and their standard price book entries, within one Salesforce request per product event.

Counts come from the stand-ins' own counters. The once-per-process reads (standard price book, the Order and
PricebookEntry describes, the written objects' field lengths, the store's currencies) are taken before counting.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from decimal import Decimal
from typing import Any

import pytest

from orders.catalog_rules import html_text
from orders.models import KnownProduct
from sandbox.bigcommerce.store import Product, ProductVariant
from sync.bigcommerce import bigcommerce_client
from sync.handlers import handler_for
from tests.factories.sync import WebhookEventFactory
from tests.orders.conftest import Costs
from tests.orders.test_order_sync import cents, make_order

pytestmark = pytest.mark.django_db

RATES = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79")}
_created_at = itertools.count(1_765_000_000)


class Catalog:
    """Change the BigCommerce stand-in's catalog and deliver product/SKU webhooks to the catalog handler."""

    def __init__(self, orders) -> None:
        self.orders = orders
        self.bc = orders.bc
        self.sf = orders.sf
        self.store = orders.store

    def product(self, product_id: int) -> Product:
        found = self.bc._data.product(product_id)
        assert found is not None
        return found

    def with_options(self) -> Product:
        return next(p for p in self.bc._data.catalog if p.is_visible and any(not v.is_base for v in p.variants))

    def without_options(self) -> Product:
        return next(p for p in self.bc._data.catalog if p.is_visible and p.variants[0].is_base)

    def warm_up(self) -> None:
        from sync.salesforce import salesforce_client

        self.orders.warm_up()
        client = salesforce_client()
        client.describe("PricebookEntry")
        client.field_limits({"Product2", "PricebookEntry"})
        bigcommerce_client(self.store).currencies()

    def deliver(self, scope: str, product_id: int, variant_id: int = 0) -> tuple[Any, Costs]:
        if scope.startswith("store/sku/"):
            data: dict[str, Any] = {"type": "sku", "id": variant_id + 1000, "sku": {"product_id": product_id, "variant_id": variant_id}}
        else:
            data = {"type": "product", "id": product_id}
        body = {
            "scope": scope,
            "store_id": self.bc.store_id,
            "data": data,
            "hash": hashlib.sha1(json.dumps(data, separators=(",", ":")).encode()).hexdigest(),
            "created_at": next(_created_at),
            "producer": f"stores/{self.store.store_hash}",
        }
        event = WebhookEventFactory(
            store=self.store,
            scope=scope,
            resource_type=data["type"],
            resource_id=str(data["id"]),
            hash=body["hash"],
            event_created_at=body["created_at"],
            body=body,
        )
        handler = handler_for(scope)
        assert handler is not None
        before_sf, before_bc = self.sf.api_calls_counted(), len(self.bc.calls())
        result = handler(event)
        calls = self.bc.calls()[before_bc:]
        return result, Costs(self.sf.api_calls_counted() - before_sf, len(calls), [call["path"] for call in calls])

    def products2(self, product_id: int) -> dict[str, dict[str, Any]]:
        prefix = f"{self.store.store_hash}:{product_id}:"
        return {
            row["BigCommerceProductId__c"]: row
            for row in self.sf.records("Product2")
            if str(row.get("BigCommerceProductId__c") or "").startswith(prefix)
        }

    def entries(self, product2_id: str) -> dict[str, dict[str, Any]]:
        return {
            str(row.get("CurrencyIsoCode") or ""): row
            for row in self.sf.records("PricebookEntry")
            if row["Product2Id"] == product2_id
        }


@pytest.fixture
def catalog(orders) -> Catalog:
    return Catalog(orders)


def _multi_currency_org(catalog: Catalog) -> None:
    for sobject in ("Order", "OrderItem", "PricebookEntry"):
        catalog.sf.schema.field_add(sobject, "CurrencyIsoCode", "picklist", picklist=["USD", "EUR", "GBP"])


def assert_product_matches(catalog: Catalog, product: Product, *, currencies: tuple[str, ...] = ("",)) -> None:
    """Salesforce equals the catalog, field by field: one Product2 per variant and an entry per currency."""
    records = catalog.products2(product.id)
    assert sorted(records) == sorted(f"sandbox:{product.id}:{variant.id}" for variant in product.variants)
    for variant in product.variants:
        record = records[f"sandbox:{product.id}:{variant.id}"]
        name = product.name if variant.is_base else f"{product.name} ({variant.option_value})"
        assert record["Name"] == name
        assert record["ProductCode"] == variant.sku
        assert record["Description"] == (html_text(product.description) or None)
        assert record["IsActive"] is product.is_visible
        entries = catalog.entries(record["Id"])
        assert sorted(entries) == sorted(currencies)
        price = variant.price if variant.price is not None else product.price
        for currency, entry in entries.items():
            rate = RATES[currency] if currency else Decimal(1)
            assert cents(entry["UnitPrice"]) == cents(price * rate), (currency, entry["UnitPrice"], price)
            assert entry["IsActive"] is product.is_visible


def test_product_created_one_request_then_none_when_unchanged(catalog):
    catalog.warm_up()
    product = catalog.with_options()
    result, costs = catalog.deliver("store/product/created", product.id)
    assert (costs.salesforce, costs.bigcommerce) == (1, 1), costs
    assert costs.bigcommerce_paths == [f"/stores/sandbox/v3/catalog/products/{product.id}"]
    assert_product_matches(catalog, product)
    assert result.operation == "PRODUCT_SYNC" and result.details["variants_written"] == len(product.variants)

    _, again = catalog.deliver("store/product/updated", product.id)
    assert (again.salesforce, again.bigcommerce) == (0, 1)
