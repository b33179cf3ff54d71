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
            data: dict[str, Any] = {
                "type": "sku",
                "id": variant_id + 1000,
                "sku": {"product_id": product_id, "variant_id": variant_id},
            }
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


def test_rename_and_price_change_in_three_currencies(catalog):
    _multi_currency_org(catalog)
    catalog.warm_up()
    product = catalog.without_options()
    _, created = catalog.deliver("store/product/created", product.id)
    assert created.salesforce == 1
    assert_product_matches(catalog, product, currencies=("EUR", "GBP", "USD"))
    [variant] = product.variants
    record = catalog.products2(product.id)[f"sandbox:{product.id}:{variant.id}"]
    entries = catalog.entries(record["Id"])
    # 19.99 USD (hand-computed): EUR at 0.92 and GBP at 0.79, rounded half up to the cent.
    product.name, product.price, product.description = "Renamed <b>Mug</b>", Decimal("19.99"), "<p>New&nbsp;text</p>"
    _, renamed = catalog.deliver("store/product/updated", product.id)
    assert renamed.salesforce == 1
    record = catalog.products2(product.id)[f"sandbox:{product.id}:{variant.id}"]
    assert record["Name"] == "Renamed <b>Mug</b>" and record["Description"] == "New text"
    after = catalog.entries(record["Id"])
    assert {code: cents(entry["UnitPrice"]) for code, entry in after.items()} == {
        "USD": Decimal("19.99"),
        "EUR": Decimal("18.39"),
        "GBP": Decimal("15.79"),
    }
    # Updated in place: the same entries, not new ones.
    assert {code: entry["Id"] for code, entry in after.items()} == {
        code: entry["Id"] for code, entry in entries.items()
    }
    assert_product_matches(catalog, product, currencies=("EUR", "GBP", "USD"))


def test_variant_added_then_removed(catalog):
    catalog.warm_up()
    product = catalog.with_options()
    catalog.deliver("store/product/created", product.id)
    template = product.variants[-1]
    added = ProductVariant(
        id=9001,
        sku=f"{product.sku}-XXL",
        option_name=template.option_name,
        option_value="XXL",
        option_id=template.option_id,
        value_id=9901,
        sku_id=9801,
        price=Decimal("42.50"),
    )
    product.variants.append(added)
    _, costs = catalog.deliver("store/sku/created", product.id, added.id)
    assert (costs.salesforce, costs.bigcommerce) == (1, 1)
    assert_product_matches(catalog, product)
    new = catalog.products2(product.id)[f"sandbox:{product.id}:9001"]
    assert new["Name"] == f"{product.name} (XXL)" and new["ProductCode"] == f"{product.sku}-XXL"
    assert cents(catalog.entries(new["Id"])[""]["UnitPrice"]) == Decimal("42.50")

    product.variants.remove(added)
    result, costs = catalog.deliver("store/sku/deleted", product.id, added.id)
    assert costs.salesforce == 1 and result.details["variants_deactivated"] == 1
    gone = catalog.sf.record("Product2", new["Id"])
    assert gone["IsActive"] is False  # deactivated, never deleted
    assert catalog.entries(new["Id"])[""]["IsActive"] is False
    others = {key: row for key, row in catalog.products2(product.id).items() if key != f"sandbox:{product.id}:9001"}
    assert others and all(row["IsActive"] for row in others.values())
    row = KnownProduct.objects.get(product_key=f"sandbox:{product.id}:9001")
    assert row.active is False


def test_hidden_then_deleted_product_is_deactivated(catalog):
    catalog.warm_up()
    product = catalog.with_options()
    catalog.deliver("store/product/created", product.id)
    product.is_visible = False
    _, costs = catalog.deliver("store/product/updated", product.id)
    assert costs.salesforce == 1
    assert_product_matches(catalog, product)  # every variant and entry inactive

    product.is_visible = True
    catalog.deliver("store/product/updated", product.id)
    assert_product_matches(catalog, product)

    catalog.bc._data.catalog.remove(product)
    catalog.bc._data.deleted_products[product.id] = product
    result, costs = catalog.deliver("store/product/deleted", product.id)
    assert (costs.salesforce, costs.bigcommerce) == (1, 1)
    assert result.details["deleted"] is True and result.details["variants_deactivated"] == len(product.variants)
    records = catalog.products2(product.id)
    assert len(records) == len(product.variants)  # still there
    assert not any(row["IsActive"] for row in records.values())
    assert not any(entry["IsActive"] for row in records.values() for entry in catalog.entries(row["Id"]).values())
    _, again = catalog.deliver("store/product/deleted", product.id)
    assert again.salesforce == 0


def test_order_for_a_catalog_product_costs_no_product_request(catalog):
    catalog.warm_up()
    product = catalog.with_options()
    catalog.deliver("store/product/created", product.id)
    products_before = len(catalog.sf.records("Product2"))
    entries_before = len(catalog.sf.records("PricebookEntry"))
    first, second = product.variants[0], product.variants[1]
    order = make_order(
        catalog.orders,
        {"email": "shopper@example.com", "products": [{"product_id": product.id, "variant_id": first.id}]},
    )
    result, costs = catalog.orders.deliver("store/order/created", order["id"])
    # The shopper's first order: one lookup of existing CRM records, then the graph; no entry query.
    assert costs.salesforce == 2, costs
    assert result.details["products_created"] == 0
    repeat = make_order(
        catalog.orders,
        {"email": "shopper@example.com", "products": [{"product_id": product.id, "variant_id": second.id}]},
    )
    result, costs = catalog.orders.deliver("store/order/created", repeat["id"])
    assert costs.salesforce == 1, costs  # the graph alone
    assert result.details["products_created"] == 0
    assert len(catalog.sf.records("Product2")) == products_before
    assert len(catalog.sf.records("PricebookEntry")) == entries_before
    for created, variant in ((order, first), (repeat, second)):
        record = catalog.orders.order_record(created["id"])
        [item] = catalog.orders.items_of(record["Id"])
        expected = catalog.products2(product.id)[f"sandbox:{product.id}:{variant.id}"]
        assert item["Product2Id"] == expected["Id"]


def test_order_product_then_catalog_event_adopts_it(catalog):
    """A product an order created first is rewritten by the catalog (same key), not duplicated."""
    catalog.warm_up()
    product = catalog.without_options()
    order = make_order(catalog.orders, {"email": "first@example.com", "products": [{"product_id": product.id}]})
    catalog.orders.deliver("store/order/created", order["id"])
    [before] = catalog.products2(product.id).values()
    _, costs = catalog.deliver("store/product/updated", product.id)
    assert costs.salesforce == 1  # the entry is remembered from the order: updated by id
    assert_product_matches(catalog, product)
    [after] = catalog.products2(product.id).values()
    assert after["Id"] == before["Id"]
    assert len(catalog.entries(after["Id"])) == 1


def test_unremembered_entry_is_found_and_updated(catalog):
    """An entry Salesforce has that b2s forgot (a lost database): DUPLICATE_VALUE, one query, one update."""
    catalog.warm_up()
    product = catalog.without_options()
    catalog.deliver("store/product/created", product.id)
    KnownProduct.objects.all().delete()
    product.price = Decimal("77.70")
    _, costs = catalog.deliver("store/product/updated", product.id)
    assert costs.salesforce == 3  # the composite, the entry query, the update
    assert_product_matches(catalog, product)
    assert KnownProduct.objects.count() == 1


def test_events_together_share_requests(catalog):
    from orders.handlers import catalog_events_handle_together

    catalog.warm_up()
    chosen = [p for p in catalog.bc._data.catalog if p.is_visible][:5]
    events = []
    for product in chosen:
        events.append(_event(catalog, "store/product/created", product.id))
    before_sf, before_bc = catalog.sf.api_calls_counted(), len(catalog.bc.calls())
    outcomes = catalog_events_handle_together(catalog.store, events)
    assert catalog.sf.api_calls_counted() - before_sf == 1
    assert len(catalog.bc.calls()) - before_bc == 1  # one id:in read
    assert sorted(outcomes) == sorted(event.pk for event in events)
    for product in chosen:
        assert_product_matches(catalog, product)


def test_flag_off_skips(catalog):
    from sync.handlers import SkipEvent
    from sync.models import FeatureFlag

    FeatureFlag.objects.filter(key="catalog_sync").update(enabled=False)
    from sync.config import config

    config.invalidate()
    with pytest.raises(SkipEvent):
        catalog.deliver("store/product/created", catalog.without_options().id)
    assert catalog.sf.records("Product2") == []


def _event(catalog: Catalog, scope: str, product_id: int):
    data = {"type": "product", "id": product_id}
    return WebhookEventFactory(
        store=catalog.store,
        scope=scope,
        resource_type="product",
        resource_id=str(product_id),
        hash=f"h{product_id}{scope}",
        event_created_at=next(_created_at),
        body={"scope": scope, "data": data},
    )


def test_order_for_a_hidden_product_activates_its_entry_not_its_product(catalog):
    """An order for a product the catalog hid (a control-panel order may sell one): Salesforce refuses an order
    item on an inactive price book entry, so the order activates the entry; the Product2 stays inactive (the
    catalog's state; an order item does not need an active product), and the next catalog event deactivates
    the entry again."""
    catalog.warm_up()
    product = catalog.without_options()
    product.is_visible = False
    catalog.deliver("store/product/created", product.id)
    [variant] = product.variants
    record = catalog.products2(product.id)[f"sandbox:{product.id}:{variant.id}"]
    assert record["IsActive"] is False and catalog.entries(record["Id"])[""]["IsActive"] is False

    order = make_order(catalog.orders, {"email": "hidden@example.com", "products": [{"product_id": product.id}]})
    _, costs = catalog.orders.deliver("store/order/created", order["id"])
    # The CRM lookup, the entry query (the remembered entry is inactive), the graph with the activation.
    assert costs.salesforce == 3, costs
    [item] = catalog.orders.items_of(catalog.orders.order_record(order["id"])["Id"])
    entry = catalog.entries(record["Id"])[""]
    assert item["PricebookEntryId"] == entry["Id"] and entry["IsActive"] is True
    assert catalog.sf.record("Product2", record["Id"])["IsActive"] is False
    assert len(catalog.products2(product.id)) == 1

    _, again = catalog.deliver("store/product/updated", product.id)
    assert again.salesforce == 1  # the order's write is not the catalog's: rewritten
    assert_product_matches(catalog, product)  # Product2 and entry inactive again


def test_an_order_writing_the_product_mid_sync_keeps_the_catalog_from_remembering_stale_values(catalog, monkeypatch):
    """The race of a new product ordered before its catalog event is handled: the order's upsert may land in
    Salesforce after the catalog's (its line's name wins there). Whatever the order, the catalog must not record
    its fingerprint over the order's write, so the product's next event writes the catalog's values again."""
    import orders.catalog as catalog_module
    from orders.services import _products_remember

    catalog.warm_up()
    product = catalog.without_options()
    [variant] = product.variants
    key = f"sandbox:{product.id}:{variant.id}"
    send = catalog_module._send

    def send_then_an_order_writes(client, ops, result, entries):
        answer = send(client, ops, result, entries)
        record = catalog.products2(product.id)[key]
        # The order's upsert lands now, with the line's values, and the order remembers the product.
        with catalog.sf.lock:  # as the integration user, like the order's own request
            catalog.sf.org.update("Product2", record["Id"], {"Name": "Order line name"})
        entry = catalog.entries(record["Id"])[""]
        _products_remember(catalog.store, [(key, "", record["Id"], entry["Id"])])
        return answer

    monkeypatch.setattr(catalog_module, "_send", send_then_an_order_writes)
    _, first = catalog.deliver("store/product/created", product.id)
    assert first.salesforce == 1
    assert catalog.products2(product.id)[key]["Name"] == "Order line name"  # the order's write won in Salesforce
    assert KnownProduct.objects.get(store=catalog.store, product_key=key).fingerprint.startswith("order:")

    monkeypatch.setattr(catalog_module, "_send", send)
    _, again = catalog.deliver("store/product/updated", product.id)
    assert again.salesforce == 1  # not "unchanged": the catalog's values are written again
    assert_product_matches(catalog, product)
    _, settled = catalog.deliver("store/product/updated", product.id)
    assert settled.salesforce == 0
