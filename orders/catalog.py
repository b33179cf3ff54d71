"""Catalog sync: BigCommerce products stay current in Salesforce as Product2 records with standard price book entries.

* **One Product2 per variant** (``orders.catalog_rules.catalog_variants``), keyed by ``BigCommerceProductId__c`` =
  ``{store_hash}:{product_id}:{variant_id}``: the key order sync gives the products of order lines, so the two
  share one product plan (``orders.services._product_body``) and one memory (``KnownProduct``). An order for a
  product the catalog synced finds it remembered: no product request.
* **Fields**: Name (product name and the variant's option values), ProductCode (variant SKU, else the
  product's), Description (plain text of the HTML description, fitted to the field by the client), IsActive
  (the product is visible), then the admin's Product2 field mappings over the variant document.
* **Prices**: a standard PricebookEntry per currency: in a multi-currency org, each currency the org has
  active that the store sells in (``GET /v2/currencies``, cached for an hour), at the store's exchange rate
  from the catalog price (variant price, else product price); in a single-currency org one entry without a
  currency.
* **Deleted** (a product BigCommerce no longer has, a variant gone from its product): Product2 and entries
  deactivated, never deleted (orders reference them). Hidden: the same, while the product stays.
* **Requests**: a product event costs one BigCommerce request (the product with its variants) and one
  Salesforce composite request of sObject Collections (Product2 upsert by external id, entries updated by id,
  new entries created with the Product2 by external id), none when nothing changed since the last write
  (``KnownProduct.fingerprint``). Many products (the backfill, a burst) share composites: up to 5 collections
  of 200 records each. An entry Salesforce has but b2s does not remember (created by hand, or a lost
  database) answers DUPLICATE_VALUE: one query finds it and one more composite updates it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q

from audit.services import audit_record
from orders.catalog_rules import CatalogVariant, catalog_variants, product_key_prefix, variant_prices
from orders.documents import fingerprint
from orders.models import KnownProduct
from orders.services import PRODUCT_EXTERNAL_ID, _entries_query, _multi_currency, _node, _product_body
from sync.bigcommerce import BigCommerceNotFound, bigcommerce_calls_counted, bigcommerce_client, money
from sync.config import config
from sync.handlers import HandlerResult, SkipEvent
from sync.salesforce import (
    SalesforceError,
    error_from_body,
    salesforce_calls_counted,
    salesforce_client,
    save_result_error,
)

if TYPE_CHECKING:
    from sync.models import Store, WebhookEvent
    from sync.salesforce import SalesforceClient

logger = logging.getLogger(__name__)

PRODUCT_SCOPES = ("store/product/created", "store/product/updated", "store/product/deleted")
SKU_SCOPES = ("store/sku/created", "store/sku/updated", "store/sku/deleted")
# store/product/inventory/updated and store/sku/inventory/updated are not handled (so not registered): stock
# levels are not on Product2, and a stock change would cost a product fetch for nothing.
CATALOG_SCOPES = (*PRODUCT_SCOPES, *SKU_SCOPES)
OPERATION = "PRODUCT_SYNC"
FLAG = "catalog_sync"
COMPOSITE_COLLECTIONS_MAX = 5  # sObject Collections subrequests per composite request (Salesforce's limit)
COLLECTION_RECORDS_MAX = 200
KINDS = ("product", "update", "entry")  # the order they are sent in: entries name their Product2 by external id


@dataclass
class Op:
    """One record to write: ``kind`` product (upsert by external id), update (by Id) or entry (create)."""

    kind: str
    record: dict[str, Any]
    product_id: int
    key: str
    pair: tuple[str, str] | None = None


@dataclass
class Remember:
    """What a (key, currency) will be remembered as once its writes succeed."""

    product2_id: str
    entry_id: str
    active: bool
    fingerprint: str


@dataclass
class CatalogResult:
    """What ``products_sync`` did, by product id, and the requests spent."""

    written: dict[int, int] = field(default_factory=dict)  # product id → Product2 records written or deactivated
    unchanged: set[int] = field(default_factory=set)
    failed: dict[int, SalesforceError] = field(default_factory=dict)
    deactivated: dict[int, int] = field(default_factory=dict)  # product id → variants deactivated
    product_ids: dict[str, str] = field(default_factory=dict)  # key → Product2 Id (written ones)
    salesforce_requests: int = 0
    composite_requests: int = 0
    records: int = 0


# --------------------------------------------------------------------------------------------
# Currencies
# --------------------------------------------------------------------------------------------


def catalog_currencies(*, store: Store, client: SalesforceClient) -> dict[str, Decimal]:
    """{CurrencyIsoCode: exchange rate from the store's default currency}; {"": 1} in a single-currency org.

    Multi-currency: the org's active currencies (the PricebookEntry CurrencyIsoCode picklist, from the
    cached describe) the store sells in (``/v2/currencies``, enabled, with their exchange rates).
    """
    if not _multi_currency(client):
        return {"": Decimal(1)}
    org = {
        str(value.get("value"))
        for entry in client.describe("PricebookEntry").get("fields", [])
        if entry.get("name") == "CurrencyIsoCode"
        for value in entry.get("picklistValues") or []
        if value.get("active", True)
    }
    rates: dict[str, Decimal] = {}
    for row in bigcommerce_client(store).currencies():
        if row.get("enabled") is False:
            continue
        code = str(row.get("currency_code") or "").upper()
        rate = money(row.get("currency_exchange_rate") or (1 if row.get("is_default") else 0))
        if code in org and rate > 0:
            rates[code] = rate
    return rates


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


def _known_rows(store: Store, product_ids: Iterable[int]) -> dict[tuple[str, str], KnownProduct]:
    prefixes = [product_key_prefix(store.store_hash, product_id) for product_id in sorted(set(product_ids))]
    if not prefixes:
        return {}
    matches = reduce(or_, (Q(product_key__startswith=prefix) for prefix in prefixes))
    rows = KnownProduct.objects.filter(matches, store=store)
    return {(row.product_key, row.currency): row for row in rows}


@dataclass
class CatalogPlan:
    """The records to send for a set of products, and what to remember once they succeed."""

    ops: dict[str, list[Op]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    remember: dict[tuple[str, str], Remember] = field(default_factory=dict)
    keys_of: dict[int, set[str]] = field(default_factory=dict)  # product id → keys it writes or deactivates
    deactivated: dict[int, int] = field(default_factory=dict)


def catalog_plan(
    *,
    store: Store,
    pricebook_id: str,
    products: dict[int, dict[str, Any] | None],
    rates: dict[str, Decimal],
    known: dict[tuple[str, str], KnownProduct],
) -> CatalogPlan:
    """The writes that make Salesforce equal to ``products`` (None: deleted in BigCommerce); no I/O."""
    plan = CatalogPlan()
    by_product: dict[int, list[KnownProduct]] = {}
    for row in known.values():
        product_id = int(row.product_key.split(":")[1])
        by_product.setdefault(product_id, []).append(row)
    for product_id, product in sorted(products.items()):
        variants: list[CatalogVariant] = catalog_variants(store.store_hash, product) if product else []
        present = {variant.key for variant in variants}
        for variant in variants:
            _variant_plan(plan, store=store, pricebook_id=pricebook_id, variant=variant, rates=rates, known=known)
        gone = sorted(
            (row for row in by_product.get(product_id, []) if row.product_key not in present and row.active),
            key=lambda row: (row.product_key, row.currency),
        )
        deactivated_keys: set[str] = set()
        for row in gone:
            if row.product_key not in deactivated_keys:
                deactivated_keys.add(row.product_key)
                record = {"attributes": {"type": "Product2"}, "Id": row.product2_id, "IsActive": False}
                plan.ops["update"].append(Op("update", record, product_id, row.product_key))
            entry = {"attributes": {"type": "PricebookEntry"}, "Id": row.pricebook_entry_id, "IsActive": False}
            pair = (row.product_key, row.currency)
            plan.ops["update"].append(Op("update", entry, product_id, row.product_key, pair))
            plan.remember[pair] = Remember(row.product2_id, row.pricebook_entry_id, False, "")
        if deactivated_keys:
            plan.deactivated[product_id] = len(deactivated_keys)
        keys = {op.key for kind in KINDS for op in plan.ops[kind] if op.product_id == product_id}
        plan.keys_of[product_id] = keys
    return plan


def _variant_plan(
    plan: CatalogPlan,
    *,
    store: Store,
    pricebook_id: str,
    variant: CatalogVariant,
    rates: dict[str, Decimal],
    known: dict[tuple[str, str], KnownProduct],
) -> None:
    body = _product_body(store, variant.key, variant.document, active=variant.active, description=variant.description)
    product_planned = False
    for currency, price in sorted(variant_prices(variant.price, rates).items()):
        pair = (variant.key, currency)
        digest = fingerprint([body, str(price), currency])
        row = known.get(pair)
        if row is not None and row.fingerprint == digest:
            continue
        if not product_planned:
            product_planned = True
            record = {"attributes": {"type": "Product2"}, PRODUCT_EXTERNAL_ID: variant.key, **body}
            plan.ops["product"].append(Op("product", record, variant.product_id, variant.key))
        if row is not None:
            entry = {
                "attributes": {"type": "PricebookEntry"},
                "Id": row.pricebook_entry_id,
                "UnitPrice": price,
                "IsActive": variant.active,
            }
            plan.ops["update"].append(Op("update", entry, variant.product_id, variant.key, pair))
            plan.remember[pair] = Remember(row.product2_id, row.pricebook_entry_id, variant.active, digest)
        else:
            entry = {
                "attributes": {"type": "PricebookEntry"},
                "Pricebook2Id": pricebook_id,
                "Product2": {PRODUCT_EXTERNAL_ID: variant.key},
                "UnitPrice": price,
                "IsActive": variant.active,
            }
            if currency:
                entry["CurrencyIsoCode"] = currency
            plan.ops["entry"].append(Op("entry", entry, variant.product_id, variant.key, pair))
            plan.remember[pair] = Remember("", "", variant.active, digest)


# --------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------


def _composites(ops: dict[str, list[Op]]) -> list[list[tuple[str, list[Op]]]]:
    """Chunks of up to 200 records, kinds in order, up to 5 chunks a composite request."""
    chunks = [
        (kind, ops[kind][start : start + COLLECTION_RECORDS_MAX])
        for kind in KINDS
        for start in range(0, len(ops[kind]), COLLECTION_RECORDS_MAX)
    ]
    return [
        chunks[start : start + COMPOSITE_COLLECTIONS_MAX] for start in range(0, len(chunks), COMPOSITE_COLLECTIONS_MAX)
    ]


def _subrequest(client: SalesforceClient, index: int, kind: str, ops: list[Op]) -> dict[str, Any]:
    body = {"allOrNone": False, "records": [op.record for op in ops]}
    if kind == "product":
        url = client.url(f"composite/sobjects/Product2/{PRODUCT_EXTERNAL_ID}")
        return _node("PATCH", url, f"{kind}{index}", body)
    if kind == "update":
        return _node("PATCH", client.url("composite/sobjects"), f"{kind}{index}", body)
    return _node("POST", client.url("composite/sobjects"), f"{kind}{index}", body)


def _error_named(error: SalesforceError, op: Op) -> SalesforceError:
    """The error of one record, saying which (the transient flag kept: a locked row is retried)."""
    what = {
        "product": "Product2",
        "update": str(op.record.get("attributes", {}).get("type")),
        "entry": "PricebookEntry",
    }
    return SalesforceError(
        f"{what[op.kind]} {op.key}: {error.message}",
        status=error.status,
        code=error.code,
        fields=error.fields,
        transient=error.transient,
    )


def _send(
    client: SalesforceClient, ops: dict[str, list[Op]], result: CatalogResult, entries: dict[tuple[str, str], str]
) -> list[Op]:
    """Send the ops; answers: Product2 ids into ``result``, new entry ids into ``entries``; returns duplicates."""
    duplicates: list[Op] = []
    for request in _composites(ops):
        chunks = [(kind, [op for op in chunk if op.product_id not in result.failed]) for kind, chunk in request]
        chunks = [(kind, chunk) for kind, chunk in chunks if chunk]
        if not chunks:
            continue
        subrequests = [_subrequest(client, index, kind, chunk) for index, (kind, chunk) in enumerate(chunks)]
        responses = client.composite(subrequests, all_or_none=False)
        result.composite_requests += 1
        result.records += sum(len(chunk) for _, chunk in chunks)
        by_reference = {response.get("referenceId"): response for response in responses}
        for subrequest, (_, chunk) in zip(subrequests, chunks, strict=True):
            response = by_reference.get(subrequest["referenceId"]) or {}
            status, body = int(response.get("httpStatusCode") or 0), response.get("body")
            if status >= 400 or not isinstance(body, list):
                refused = error_from_body(body, status=status or 500)
                for op in chunk:
                    result.failed.setdefault(op.product_id, _error_named(refused, op))
                continue
            for op, answer in zip(chunk, body, strict=False):
                error = save_result_error(answer)
                if error is not None and op.kind == "entry" and error.code == "DUPLICATE_VALUE":
                    duplicates.append(op)
                elif error is not None:
                    result.failed.setdefault(op.product_id, _error_named(error, op))
                elif op.kind == "product":
                    result.product_ids[op.key] = str(answer.get("id") or "")
                elif op.kind == "entry" and op.pair is not None:
                    entries[op.pair] = str(answer.get("id") or "")
    return duplicates


def _duplicates_resolve(
    *,
    client: SalesforceClient,
    pricebook_id: str,
    duplicates: list[Op],
    plan: CatalogPlan,
    result: CatalogResult,
    entries: dict[tuple[str, str], str],
) -> None:
    """Entries Salesforce has already (not remembered here): found by one query, then updated by id."""
    found = _entries_query(client, pricebook_id, {op.key for op in duplicates}, _multi_currency(client))
    updates: dict[str, list[Op]] = {kind: [] for kind in KINDS}
    for op in duplicates:
        if op.pair is None or op.pair not in found:
            missing = SalesforceError(
                "Salesforce answered DUPLICATE_VALUE but the query found no such entry.",
                status=409,
                code="DUPLICATE_VALUE",
            )
            result.failed.setdefault(op.product_id, _error_named(missing, op))
            continue
        product2_id, entry_id, _ = found[op.pair]
        result.product_ids.setdefault(op.key, product2_id)
        record = {
            "attributes": {"type": "PricebookEntry"},
            "Id": entry_id,
            "UnitPrice": op.record["UnitPrice"],
            "IsActive": op.record["IsActive"],
        }
        updates["update"].append(Op("update", record, op.product_id, op.key, op.pair))
        entries[op.pair] = entry_id
    _send(client, updates, result, entries)


def _remember(
    store: Store,
    plan: CatalogPlan,
    result: CatalogResult,
    entries: dict[tuple[str, str], str],
    known: dict[tuple[str, str], KnownProduct],
) -> None:
    """Remember what was written, unless an order rewrote a product since ``known`` was read.

    An order creating the same new product at the same moment may have upserted its own values (the
    line's name, active) after ours; its memory then carries a fresh order token (``ORDER_WRITTEN``), so a
    row whose fingerprint is no longer the one read, or that appeared meanwhile, is left as the order wrote
    it: the product's next event finds no matching fingerprint and writes the catalog's values again.
    """
    rows: dict[tuple[str, str], KnownProduct] = {}
    for (key, currency), remembered in plan.remember.items():
        product_id = int(key.split(":")[1])
        if product_id in result.failed:
            continue
        product2_id = result.product_ids.get(key) or remembered.product2_id
        entry_id = entries.get((key, currency)) or remembered.entry_id
        if not product2_id or not entry_id:
            continue
        rows[(key, currency)] = KnownProduct(
            store=store,
            product_key=key,
            currency=currency,
            product2_id=product2_id,
            pricebook_entry_id=entry_id,
            active=remembered.active,
            fingerprint=remembered.fingerprint,
        )
    if not rows:
        return
    with transaction.atomic():
        current = {
            (row.product_key, row.currency): row
            for row in KnownProduct.objects.select_for_update().filter(
                store=store, product_key__in={key for key, _ in rows}
            )
        }
        updates: list[KnownProduct] = []
        for pair, row in rows.items():
            now, read = current.get(pair), known.get(pair)
            if now is None:
                continue  # inserted below (unless an order inserts it first)
            if read is None or now.fingerprint != read.fingerprint:
                continue  # an order wrote it since we read: its values may be the newer ones in Salesforce
            row.pk = now.pk
            updates.append(row)
        KnownProduct.objects.bulk_update(
            updates, ["product2_id", "pricebook_entry_id", "active", "fingerprint"], batch_size=500
        )
        KnownProduct.objects.bulk_create(
            [row for pair, row in rows.items() if pair not in current], ignore_conflicts=True, batch_size=500
        )


def products_sync(*, store: Store, products: dict[int, dict[str, Any] | None]) -> CatalogResult:
    """Converge Salesforce to ``products`` ({product id: v3 product with variants, or None when deleted})."""
    result = CatalogResult()
    with salesforce_calls_counted() as calls:
        client = salesforce_client()
        pricebook_id = client.standard_pricebook_id()
        rates = catalog_currencies(store=store, client=client)
        known = _known_rows(store, products)
        plan = catalog_plan(store=store, pricebook_id=pricebook_id, products=products, rates=rates, known=known)
        entries: dict[tuple[str, str], str] = {}
        duplicates = _send(client, plan.ops, result, entries)
        if duplicates:
            _duplicates_resolve(
                client=client,
                pricebook_id=pricebook_id,
                duplicates=duplicates,
                plan=plan,
                result=result,
                entries=entries,
            )
        _remember(store, plan, result, entries, known)
        for product_id in products:
            if product_id in result.failed:
                continue
            keys = plan.keys_of.get(product_id) or set()
            if keys:
                result.written[product_id] = len(keys)
            else:
                result.unchanged.add(product_id)
        result.deactivated = {pid: count for pid, count in plan.deactivated.items() if pid not in result.failed}
    result.salesforce_requests = calls.count
    return result


# --------------------------------------------------------------------------------------------
# One product (a webhook)
# --------------------------------------------------------------------------------------------


def catalog_event_product_id(event: WebhookEvent) -> int:
    """The product an event is about: ``data.id`` of a product event, ``data.sku.product_id`` of a SKU event."""
    data = (event.body or {}).get("data") or {}
    if event.scope.startswith("store/sku/"):
        value = (data.get("sku") or {}).get("product_id")
    else:
        value = data.get("id") or event.resource_id
    try:
        product_id = int(value or 0)
    except (TypeError, ValueError):
        product_id = 0
    if product_id <= 0:
        raise SkipEvent(f"{event.scope} without a product id")
    return product_id


def _flag_check() -> None:
    if not config.flag(FLAG):
        raise SkipEvent("Catalog sync is off (feature flag catalog_sync).")


def _product_result(
    *, store: Store, product_id: int, scope: str, result: CatalogResult, bigcommerce_requests: int, deleted: bool
) -> HandlerResult:
    if product_id in result.failed:
        raise result.failed[product_id]
    prefix = product_key_prefix(store.store_hash, product_id)
    details = {
        "scope": scope,
        "deleted": deleted,
        "unchanged": product_id in result.unchanged,
        "variants_written": result.written.get(product_id, 0),
        "variants_deactivated": result.deactivated.get(product_id, 0),
        "salesforce_requests": result.salesforce_requests,
        "bigcommerce_requests": bigcommerce_requests,
    }
    ids = sorted({value for key, value in result.product_ids.items() if key.startswith(prefix)})
    return HandlerResult(OPERATION, str(product_id), ids, details)


def product_sync(*, store: Store, product_id: int, event_scope: str = "", audit: bool = True) -> HandlerResult:
    """Converge one product's Product2 records and entries to BigCommerce (see the module docstring)."""
    _flag_check()
    started = time.monotonic()
    with bigcommerce_calls_counted() as bc_calls:
        try:
            product: dict[str, Any] | None = bigcommerce_client(store).product_get(product_id)
        except BigCommerceNotFound:
            product = None
        result = products_sync(store=store, products={product_id: product})
    handled = _product_result(
        store=store,
        product_id=product_id,
        scope=event_scope,
        result=result,
        bigcommerce_requests=bc_calls.count,
        deleted=product is None,
    )
    if audit:
        audit_record(
            operation=OPERATION,
            store=store,
            bigcommerce_id=str(product_id),
            status="success",
            salesforce_ids=handled.salesforce_ids,
            duration_ms=int((time.monotonic() - started) * 1000),
            salesforce_api_calls=result.salesforce_requests,
            bigcommerce_api_calls=bc_calls.count,
            details=handled.details,
        )
    return handled


def catalog_events_sync(*, store: Store, events: list[WebhookEvent]) -> dict[int, HandlerResult | Exception]:
    """Product and SKU events claimed together: their products read by ``id:in`` and converged in one plan."""
    if not config.flag(FLAG):
        return {}  # each event's own handler skips it
    by_product: dict[int, list[WebhookEvent]] = {}
    for event in events:
        try:
            by_product.setdefault(catalog_event_product_id(event), []).append(event)
        except SkipEvent:
            continue  # the single handler says what is wrong with it
    if not by_product:
        return {}
    with bigcommerce_calls_counted() as bc_calls:
        fetched = bigcommerce_client(store).products_by_id(by_product)
    # id:in leaves out the products that do not exist: deleted ones, deactivated like a 404.
    products: dict[int, dict[str, Any] | None] = {product_id: fetched.get(product_id) for product_id in by_product}
    result = products_sync(store=store, products=products)
    outcomes: dict[int, HandlerResult | Exception] = {}
    for product_id, product_events in by_product.items():
        for event in product_events:
            try:
                outcome: HandlerResult | Exception = _product_result(
                    store=store,
                    product_id=product_id,
                    scope=event.scope,
                    result=result,
                    bigcommerce_requests=bc_calls.count,
                    deleted=products[product_id] is None,
                )
            except SalesforceError as error:
                outcome = error
            outcomes[event.pk] = outcome
    return outcomes
