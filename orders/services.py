"""Order sync: one BigCommerce order → Account, Contact, products, Order, OrderItems and events.

The whole order is one composite graph request: the customer's Account (with the
analytics fields) and Contact, any product the service has not seen yet (Product2 and an
active standard PricebookEntry), the Order (Draft), its items (new, changed, vanished),
the Order's status, and the platform events. What Salesforce holds is remembered locally
(``KnownProduct``, ``SyncedOrder``, ``SyncedOrderItem``, ``KnownCustomer``), so:

* Salesforce: **1 request** per order whose products are known; **2** when some are not
  (one query for entries that already exist in Salesforce, then the graph). An unchanged
  order (a redelivery, two events for one change) needs **none**. Recovery from a local
  state that does not match Salesforce (a crash between the request and the local commit,
  a record deleted by a user, two workers creating one product) costs one composite
  request of two queries and one more graph.
* BigCommerce: **1 request** (``GET /v2/orders/{id}`` with the consignments' lines). More
  only when the order brings news: a registered customer not seen before (``/v3/customers``),
  units shipped since the last sync (``/shipments``, for tracking numbers), or an order
  whose consignments carry no lines (``/products``). A shipment event for an order already
  synced fetches ``/shipments`` only.
* Refunds: the order's own ``refunded_amount`` (in the one order request) feeds
  ``Refunded_Amount__c``, ``BC_Status__c`` and the analytics' net totals. ``refund_get``
  would be a second request and would add nothing the Order shows, so it is not called.
* Currency: ``CurrencyIsoCode`` is set (Order and new price book entries) when the org has
  the field. A single-currency org is taken to use the store's default currency: an order in
  another currency fails permanently (``CURRENCY_UNSUPPORTED``) rather than landing with
  amounts in the wrong currency.
* Batches (``orders_sync_batch``, used by the backfill): from ``batch_collections_min_orders``
  orders on, the same per-order decisions go to Salesforce as sObject Collections in composite
  requests (``orders.collections``), about one request per 150 orders.
* Without ``order_line_items`` the Order carries no items, and Salesforce cannot activate an
  order without items: such orders stay Draft whatever their status mapping says.
* Activated orders are written as a production org allows (``order_write_plan``): a new Order is
  inserted Draft and activated by a Status-only update after its items; an activated order is edited
  in place (needs the Edit Activated Orders permission, which ``salesforce_check`` verifies), reopened
  to Draft while its items change (its products cannot be deleted, nor, with Enhanced Commerce
  Orders, repriced, while activated) and moved to another Account only while Draft.
* Graph nodes are listed in the order they must run; those that need an earlier node's result name it
  (``@{order.id}``, ``@{account.id}``). Salesforce documents no collation for composite graphs
  (``collateSubrequests`` is a parameter of the composite resource only, which b2s sets to false).
* Platform events carry ``EventKey__c`` (``event_key``): the same for a repeat, so a subscriber drops
  it. Created is never published twice: a new Order is inserted, so a retry after a lost local save
  fails that insert (nothing published) and is sent as an update.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote

from django.db import transaction
from django.utils import timezone

from analytics.services import (
    AccountSettled,
    LedgerOrder,
    SettleCheck,
    account_fields_settle,
    accounts_fields_settle,
    customer_account_fields,
    customers_account_fields,
    ledger_order_record,
    ledger_orders_record,
)
from audit.models import AuditLog
from audit.services import audit_record
from orders.documents import (
    LinesUnavailable,
    fingerprint,
    mapping_reads_shipments,
    mapping_reads_tracking,
    order_document,
    order_lines,
    product_key,
    shipment_fields,
    shipped_quantity,
)
from orders.links import cart_opportunities, ship_to_is_billing_person
from orders.models import KnownProduct, SyncedOrder, SyncedOrderItem
from orders.writeback_rules import fields_mirrored, status_target
from sync.bigcommerce import BigCommerceNotFound, bigcommerce_calls_counted, bigcommerce_client, money
from sync.config import config
from sync.customers import (
    EXTERNAL_ID_FIELD as CUSTOMER_EXTERNAL_ID,
)
from sync.customers import (
    CustomerIdentity,
    CustomerMatch,
    account_contact_subrequests,
    customer_document_from_billing,
    customer_documents,
    customer_identity,
    customer_identity_resolved,
    customer_link_remember,
    customers_leads_convert,
    customers_match,
)
from sync.handlers import HandlerResult, SkipEvent, scope_operation
from sync.mapping import mappings_apply, parse_datetime_any
from sync.models import CustomerLink, WebhookEvent
from sync.salesforce import (
    SalesforceError,
    graph_error,
    salesforce_calls_counted,
    salesforce_client,
    salesforce_truncations_take,
    soql_quote,
)

if TYPE_CHECKING:
    from sync.models import Store
    from sync.salesforce import SalesforceClient

logger = logging.getLogger(__name__)

ORDER_SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
    "store/order/archived",
    "store/order/refund/created",
)
SHIPMENT_SCOPES = ("store/shipment/created", "store/shipment/updated")
ARCHIVED_SCOPE = "store/order/archived"
# Events a live burst syncs together (``order_events_handle_together``); archive and shipment events
# keep their own cheap paths (no order fetch when the order is already in Salesforce).
BATCHED_SCOPES = tuple(scope for scope in ORDER_SCOPES if scope != ARCHIVED_SCOPE)

ORDER_EXTERNAL_ID = "BigCommerceOrderId__c"
ITEM_EXTERNAL_ID = "BigCommerceOrderItemId__c"
PRODUCT_EXTERNAL_ID = "BigCommerceProductId__c"
EVENT_CREATED = "BigCommerce_Order_Created__e"
EVENT_UPDATED = "BigCommerce_Order_Updated__e"
EVENT_SHIPPED = "BigCommerce_Order_Shipped__e"

# Fields the sync sets itself (or Salesforce computes): an admin mapping never overrides them.
# The links to the customer's Contact and the cart's Opportunity are Salesforce ids b2s knows, not
# BigCommerce data (orders.links): fixed, like AccountId, never a mapping's.
CONTACT_LINK_FIELDS = ("BillToContactId", "ShipToContactId")
ORDER_LINK_FIELDS = frozenset({*CONTACT_LINK_FIELDS, "OpportunityId"})
ORDER_CONTROLLED_FIELDS = frozenset(
    {"Id", "TotalAmount", "OrderNumber", "StatusCode", "ActivatedDate", "ActivatedById", ORDER_EXTERNAL_ID}
    | ORDER_LINK_FIELDS
)
ITEM_CONTROLLED_FIELDS = frozenset(
    {"Id", "OrderId", "PricebookEntryId", "Product2Id", "TotalPrice", "ListPrice", "OrderItemNumber", ITEM_EXTERNAL_ID}
)
# Graph failures that mean "what this service remembers no longer matches Salesforce": refresh and retry once.
RECOVERABLE_CODES = frozenset(
    {
        "DUPLICATE_VALUE",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "FIELD_INTEGRITY_EXCEPTION",
        "NOT_FOUND",
        "ENTITY_IS_DELETED",
        "REQUIRED_FIELD_MISSING",
        "INVALID_CROSS_REFERENCE_KEY",
        "MALFORMED_ID",
    }
)
# What a real org answers when a write to an activated order is refused (permission, or an order rule).
ACTIVATED_REFUSALS = frozenset({"FIELD_INTEGRITY_EXCEPTION", "INSUFFICIENT_ACCESS_OR_READONLY", "INSUFFICIENT_ACCESS"})
# Salesforce may collate graph nodes (same method and object run together, in an order of its own)
# unless a node references another or carries HTTP headers ("Composite Subrequest": subrequests with
# valid HTTP headers are not collated). A DELETE cannot reference anything, and activation must follow
# the items it has no reference to: the nodes of the order's sequence carry this header, which changes
# nothing (duplicate rules do not apply to orders; allowSave=false is the default), to run as sent.
ORDER_SEQUENCE_HEADERS = {"Sforce-Duplicate-Rule-Header": "allowSave=false"}
# Composite graph limits per request (Salesforce: 75 graphs, 500 nodes in one payload).
GRAPHS_PER_REQUEST = 75
NODES_PER_REQUEST = 500
QUERY_CHUNK = 100  # external ids per IN (...) list, to keep the query URL short
# Batches of at least this many orders go as sObject Collections (admin-editable threshold).
COLLECTIONS_MIN_KEY = "batch_collections_min_orders"
CENT = Decimal("0.01")
CUSTOM_PRODUCT_NAME = "Custom item"


class OrderSyncError(SalesforceError):
    """An order Salesforce cannot take as it is (e.g. its currency in a single-currency org); permanent."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, status=0, code=code, transient=False)


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass
class ItemState:
    """An OrderItem as Salesforce holds it (as far as this service knows)."""

    salesforce_id: str
    product_key: str
    fingerprint: str = ""  # "" = unknown: rewrite it


@dataclass
class OrderState:
    """The Order as Salesforce holds it: from the local rows, or refreshed from Salesforce."""

    salesforce_id: str = ""
    activated: bool = False
    items: dict[int, ItemState] = field(default_factory=dict)
    synced: SyncedOrder | None = None
    refreshed: bool = False
    account_key: str = ""  # refreshed: the external id of the Order's Account in Salesforce

    @property
    def exists(self) -> bool:
        return bool(self.salesforce_id)


def _state_local(synced: SyncedOrder | None) -> OrderState:
    if synced is None:
        return OrderState()
    items = {
        row.order_product_id: ItemState(row.salesforce_id, row.product_key, row.fingerprint)
        for row in synced.items.all()
    }
    # A merchant's own status (written back to BigCommerce) counts by its category.
    activated = config.status_category(synced.sf_status) == "Activated"
    return OrderState(synced.salesforce_id, activated, items, synced)


@dataclass
class PreparedOrder:
    """One order with everything its graph needs from BigCommerce and the local ledger."""

    order: dict[str, Any]
    order_id: int
    event_scope: str
    document: dict[str, Any]
    lines: list[dict[str, Any]]
    identity: CustomerIdentity
    customer_document: dict[str, Any]
    currency: str  # CurrencyIsoCode to send; "" in a single-currency org
    ledger: LedgerOrder
    shipped_quantity: int
    shipments: dict[str, Any]
    archived: bool
    account_extra: dict[str, Any] | None = None  # the Account analytics this order's graph carries
    customer_match: CustomerMatch | None = None  # existing CRM records of the customer (sync.customers)
    ledger_changed: bool = False  # recording it changed its customer's ledger (see _ledger_stage)
    shipments_fetched: bool = False  # /shipments was requested for this order
    shipments_skipped: bool = False  # it would have been, but the caller said not to (tracking left as is)
    cart_id: str = ""  # the BigCommerce cart the order was placed from ("" when unknown)
    opportunity_id: str = ""  # that cart's Opportunity (cart recovery's), linked as OpportunityId
    # The Order's status in Salesforce when the caller knows it better than the last sync (the write-back).
    salesforce_status: str = ""


@dataclass
class ProductRefs:
    """Where each (product key, currency) gets its PricebookEntry Id from, and what to remember after."""

    entries: dict[tuple[str, str], str] = field(default_factory=dict)  # id or "@{ref.id}"
    nodes: list[dict[str, Any]] = field(default_factory=list)
    # (key, currency, Product2 Id or ref, PricebookEntry Id or ref) to remember once the graph succeeded.
    remember: list[tuple[str, str, str, str]] = field(default_factory=list)


@dataclass
class OrderGraph:
    """One order's composite graph and what to record when it succeeds."""

    prepared: PreparedOrder
    state: OrderState
    graph_id: str
    nodes: list[dict[str, Any]]
    fingerprint: str
    target_status: str
    item_refs: dict[int, tuple[str, str, str]]  # order product id → (referenceId, product key, fingerprint)
    kept_items: list[int]
    deleted_items: list[int]
    products: ProductRefs
    events: list[str]
    # Written-back fields this sync makes agree on both sides (``fields_mirrored``), remembered with the order.
    mirrored: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        synced = self.state.synced
        opportunity = self.prepared.opportunity_id
        return bool(
            synced is not None
            and not self.state.refreshed
            and synced.fingerprint == self.fingerprint
            and (not opportunity or synced.opportunity_id == opportunity)
            and not self.events
            and not self.products.nodes
        )


@dataclass
class BatchResult:
    """What ``orders_sync_batch`` did: per-order results and failures, and the requests spent."""

    results: dict[int, HandlerResult] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    salesforce_requests: int = 0
    bigcommerce_requests: int = 0
    mode: str = "graphs"  # "graphs" (one composite graph per order) or "collections"
    order_graphs: int = 0  # orders sent (unchanged ones are not)
    order_nodes: int = 0
    order_requests: int = 0  # composite graph requests that carried them
    composite_requests: int = 0  # collections mode: composite requests of sObject Collections
    collection_records: int = 0  # collections mode: records sent in them
    refreshed: int = 0  # collections mode: orders whose Salesforce state was read and sent again
    shipment_requests: int = 0  # BigCommerce /shipments requests (tracking numbers)
    shipments_skipped: int = 0  # shipped orders whose tracking numbers were not read (shipments=False)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _cents(value: Any) -> Decimal:
    return money(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _chunks(values: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _sobject_url(client: SalesforceClient, path: str) -> str:
    return client.url(f"sobjects/{path}")


def _upsert_url(client: SalesforceClient, sobject: str, external_field: str, value: str) -> str:
    return _sobject_url(client, f"{sobject}/{external_field}/{quote(value, safe='')}")


def _node(method: str, url: str, reference: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"method": method, "url": url, "referenceId": reference}
    if body is not None:
        node["body"] = body
    return node


def _salesforce_datetime(value: Any) -> str | None:
    moment = parse_datetime_any(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000") if moment else None


def _multi_currency(client: SalesforceClient) -> bool:
    return "CurrencyIsoCode" in client.field_names("Order")


def _order_currency(client: SalesforceClient, order: dict[str, Any]) -> str:
    """The CurrencyIsoCode to send, or "" in a single-currency org (where it must be the store's)."""
    code = str(order.get("currency_code") or "").upper()
    if _multi_currency(client):
        return code
    store_default = str(order.get("store_default_currency_code") or order.get("default_currency_code") or "").upper()
    if code and store_default and code != store_default:
        raise OrderSyncError(
            f"Order {order.get('id')} is in {code} but the Salesforce org has a single currency (Order has no "
            f"CurrencyIsoCode field), taken to be the store's default currency {store_default}. Enable multiple "
            "currencies in Salesforce to sync orders in other currencies.",
            code="CURRENCY_UNSUPPORTED",
        )
    return ""


def order_event_id(event: WebhookEvent) -> int:
    data = (event.body or {}).get("data") or {}
    if event.scope in SHIPMENT_SCOPES:
        order_id = data.get("orderId") or data.get("order_id")
        if not order_id:
            raise SkipEvent(f"{event.scope} without data.orderId")
        return int(order_id)
    return int(data.get("id") or event.resource_id)


# --------------------------------------------------------------------------------------------
# BigCommerce side: customers, lines, shipments
# --------------------------------------------------------------------------------------------


def _lines_of(store: Store, order: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        return order_lines(order)
    except LinesUnavailable as why:
        logger.info("Fetching lines separately: %s", why)
        return bigcommerce_client(store).order_products(int(order["id"]))


def _shipments_of(
    store: Store,
    order: dict[str, Any],
    quantity: int,
    synced: SyncedOrder | None,
    event_scope: str,
    *,
    fetch: bool = True,
) -> tuple[dict[str, Any], str]:
    """Tracking fields: fetched only when something shipped since they were last read.

    Answers (fields, how): how is "" (nothing to read or remembered), "fetched" (one
    ``/shipments`` request) or "skipped" (``fetch`` is False: the fields stay unknown).
    """
    if quantity <= 0 or not config.flag("fulfillment_status"):
        return {}, ""
    if (
        synced is not None
        and synced.shipped_quantity == quantity
        and synced.shipment_fields
        and event_scope not in SHIPMENT_SCOPES
    ):
        return dict(synced.shipment_fields), ""
    if not fetch:
        return {}, "skipped"
    return shipment_fields(bigcommerce_client(store).order_shipments(int(order["id"]))), "fetched"


def _order_prepare(
    *,
    store: Store,
    order: dict[str, Any],
    event_scope: str,
    synced: SyncedOrder | None,
    customers: dict[int, dict[str, Any]],
    client: SalesforceClient,
    fetch_shipments: bool = True,
) -> PreparedOrder:
    order_id = int(order["id"])
    currency = _order_currency(client, order)
    lines = _lines_of(store, order)
    quantity = shipped_quantity(order, lines)
    shipments, shipments_how = _shipments_of(store, order, quantity, synced, event_scope, fetch=fetch_shipments)
    billing = order.get("billing_address") or {}
    customer_id = int(order.get("customer_id") or 0)
    identity = customer_identity(store=store, customer_id=customer_id, email=billing.get("email") or "")
    if identity.kind == "registered" and customer_id in customers:
        customer_document = customers[customer_id]
    else:
        # A guest, or a registered customer deleted since: the order's billing address describes them.
        customer_document = customer_document_from_billing(billing)
    order_date = parse_datetime_any(order.get("date_created")) or timezone.now()
    ledger = LedgerOrder(
        order_id=order_id,
        order_date=order_date,
        gross_total=_cents(order.get("total_inc_tax")),
        refunded_amount=_cents(order.get("refunded_amount")),
        status_id=int(order.get("status_id") or 0),
        currency=str(order.get("currency_code") or "").upper(),
    )
    archived = bool(order.get("is_deleted")) if "is_deleted" in order else event_scope == ARCHIVED_SCOPE
    return PreparedOrder(
        order=order,
        order_id=order_id,
        event_scope=event_scope,
        document=order_document(order, shipments=shipments),
        lines=lines,
        identity=identity,
        customer_document=customer_document,
        currency=currency,
        ledger=ledger,
        shipped_quantity=quantity,
        shipments=shipments,
        archived=archived,
        shipments_fetched=shipments_how == "fetched",
        shipments_skipped=shipments_how == "skipped",
        cart_id=str(order.get("cart_id") or ""),
    )


def _opportunities_attach(store: Store, prepared: Iterable[PreparedOrder]) -> None:
    """Give each order its cart's Opportunity (one local read for all of them, no request)."""
    entries = [entry for entry in prepared if entry.cart_id]
    found = cart_opportunities(store=store, cart_ids=[entry.cart_id for entry in entries])
    for entry in entries:
        entry.opportunity_id = found.get(entry.cart_id, "")


# --------------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------------


def _line_unit_price(store: Store, line: dict[str, Any]) -> Decimal:
    values = mappings_apply(config.field_mappings("OrderItem"), line, tz=store.tz)
    price = values.get("UnitPrice")
    return _cents(price if price is not None else line.get("price_inc_tax"))


def _products_needed(store: Store, prepared: Iterable[PreparedOrder]) -> dict[tuple[str, str], dict[str, Any]]:
    needed: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in prepared:
        for line in entry.lines:
            needed.setdefault((product_key(store.store_hash, line), entry.currency), line)
    return needed


def _products_known(store: Store, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], KnownProduct]:
    wanted = set(keys)
    # Only active ones: an entry the catalog deactivated must be looked up and activated to take order items.
    rows = KnownProduct.objects.filter(store=store, product_key__in={key for key, _ in wanted}, active=True)
    return {(row.product_key, row.currency): row for row in rows if (row.product_key, row.currency) in wanted}


def _entries_soql(pricebook_id: str, keys: list[str], multi_currency: bool) -> str:
    currency = ", CurrencyIsoCode" if multi_currency else ""
    listed = ", ".join(soql_quote(key) for key in keys)
    # Every value is a quoted, escaped SOQL literal (soql_quote); the names are constants.
    return (
        f"SELECT Id, Product2Id, Product2.{PRODUCT_EXTERNAL_ID}, IsActive{currency} FROM PricebookEntry "  # noqa: S608
        f"WHERE Pricebook2Id = {soql_quote(pricebook_id)} AND Product2.{PRODUCT_EXTERNAL_ID} IN ({listed})"
    )


def _entries_parse(records: list[dict[str, Any]], multi_currency: bool) -> dict[tuple[str, str], tuple[str, str, bool]]:
    """(key, currency) → (Product2 Id, PricebookEntry Id, active) from a PricebookEntry query."""
    found: dict[tuple[str, str], tuple[str, str, bool]] = {}
    for record in records:
        product = record.get("Product2") or {}
        key = product.get(PRODUCT_EXTERNAL_ID)
        if not key:
            continue
        currency = str(record.get("CurrencyIsoCode") or "") if multi_currency else ""
        found[(key, currency)] = (record["Product2Id"], record["Id"], bool(record.get("IsActive")))
    return found


def _entries_query(
    client: SalesforceClient, pricebook_id: str, keys: set[str], multi_currency: bool
) -> dict[tuple[str, str], tuple[str, str, bool]]:
    found: dict[tuple[str, str], tuple[str, str, bool]] = {}
    for chunk in _chunks(sorted(keys), QUERY_CHUNK):
        found.update(_entries_parse(client.query(_entries_soql(pricebook_id, chunk, multi_currency)), multi_currency))
    return found


def order_written_token() -> str:
    """The fingerprint of a product an order wrote (active, from the line's values): no catalog digest equals
    it, so the catalog's next event rewrites the product, and it is new each time, so a catalog sync that
    read the row before this write can tell (``orders.catalog._remember``)."""
    return f"order:{uuid.uuid4().hex}"


def _products_remember(store: Store, rows: Iterable[tuple[str, str, str, str]]) -> None:
    for key, currency, product2_id, entry_id in rows:
        KnownProduct.objects.update_or_create(
            store=store,
            product_key=key,
            currency=currency,
            defaults={
                "product2_id": product2_id,
                "pricebook_entry_id": entry_id,
                "active": True,
                "fingerprint": order_written_token(),
            },
        )


def _products_forget(store: Store, keys: Iterable[tuple[str, str]]) -> None:
    for key, currency in keys:
        KnownProduct.objects.filter(store=store, product_key=key, currency=currency).delete()


def _product_body(
    store: Store, key: str, line: dict[str, Any], *, active: bool = True, description: str | None = None
) -> dict[str, Any]:
    """The Product2 fields of one product/variant, from an order line or a catalog variant document.

    The one product plan of order sync and catalog sync (``orders.catalog``): Name, ProductCode (the
    SKU), IsActive, the catalog's Description, then the admin's Product2 mappings over the document.
    """
    custom = key.endswith(":custom")
    body: dict[str, Any] = {"IsActive": active}
    if custom:
        body["Name"] = CUSTOM_PRODUCT_NAME
    else:
        name = line.get("name") or line.get("sku") or f"Product {line.get('product_id')}"
        body["Name"] = str(name)[:255]
        if line.get("sku"):
            body["ProductCode"] = str(line["sku"])[:255]
    if description is not None:
        body["Description"] = description
    extra = mappings_apply(config.field_mappings("Product2"), line, tz=store.tz)
    body.update({name: value for name, value in extra.items() if value not in (None, "")})
    body.pop(PRODUCT_EXTERNAL_ID, None)
    body.pop("Id", None)
    return body


def _product_nodes(
    *,
    store: Store,
    client: SalesforceClient,
    pricebook_id: str,
    index: int,
    key: str,
    currency: str,
    line: dict[str, Any],
    existing: tuple[str, str, bool] | None,
    prefix: str = "",
) -> tuple[list[dict[str, Any]], str, tuple[str, str, str, str]]:
    """Nodes that make one product usable: (nodes, entry id or reference, what to remember)."""
    if existing is not None:
        product2_id, entry_id, _ = existing
        # The entry exists but is inactive: an inactive entry cannot take order items.
        node = _node(
            "PATCH", _sobject_url(client, f"PricebookEntry/{entry_id}"), f"{prefix}act{index}", {"IsActive": True}
        )
        return [node], entry_id, (key, currency, product2_id, entry_id)
    product_ref, entry_ref = f"{prefix}prod{index}", f"{prefix}pbe{index}"
    entry_body: dict[str, Any] = {
        "Pricebook2Id": pricebook_id,
        "Product2Id": f"@{{{product_ref}.id}}",
        "UnitPrice": _line_unit_price(store, line),
        "IsActive": True,
    }
    if currency:
        entry_body["CurrencyIsoCode"] = currency
    nodes = [
        _node(
            "PATCH",
            _upsert_url(client, "Product2", PRODUCT_EXTERNAL_ID, key),
            product_ref,
            _product_body(store, key, line),
        ),
        _node("POST", _sobject_url(client, "PricebookEntry"), entry_ref, entry_body),
    ]
    return nodes, f"@{{{entry_ref}.id}}", (key, currency, f"@{{{product_ref}.id}}", f"@{{{entry_ref}.id}}")


def _products_planned(
    *,
    store: Store,
    client: SalesforceClient,
    pricebook_id: str,
    work: dict[tuple[str, str], tuple[dict[str, Any], tuple[str, str, bool] | None]],
) -> list[tuple[tuple[str, str], list[dict[str, Any]], str, tuple[str, str, str, str]]]:
    """The nodes of each product to create or repair, numbered in a stable order: (pair, nodes, entry id or
    reference, what to remember)."""
    return [
        (
            pair,
            *_product_nodes(
                store=store,
                client=client,
                pricebook_id=pricebook_id,
                index=index,
                key=pair[0],
                currency=pair[1],
                line=line,
                existing=existing,
            ),
        )
        for index, (pair, (line, existing)) in enumerate(sorted(work.items()))
    ]


def _products_resolve(
    *,
    store: Store,
    client: SalesforceClient,
    pricebook_id: str,
    needed: dict[tuple[str, str], dict[str, Any]],
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], tuple[dict[str, Any], tuple[str, str, bool] | None]]]:
    """Entry ids for the known products, and the work left: (key, currency) → (line, existing inactive entry).

    Products not remembered locally are looked up in Salesforce first (one query), so a product
    that exists there already is reused rather than failing the order with DUPLICATE_VALUE.
    """
    known = _products_known(store, needed)
    entries = {pair: row.pricebook_entry_id for pair, row in known.items()}
    unknown = {pair: line for pair, line in needed.items() if pair not in entries}
    if not unknown:
        return entries, {}
    found = _entries_query(client, pricebook_id, {key for key, _ in unknown}, _multi_currency(client))
    return _entries_apply(store, unknown, found, entries)


def _entries_apply(
    store: Store,
    unknown: dict[tuple[str, str], dict[str, Any]],
    found: dict[tuple[str, str], tuple[str, str, bool]],
    entries: dict[tuple[str, str], str],
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], tuple[dict[str, Any], tuple[str, str, bool] | None]]]:
    """Remember the active entries Salesforce already has; the rest is work (create, or activate)."""
    active = [(key, cur, found[(key, cur)][0], found[(key, cur)][1]) for key, cur in unknown if (key, cur) in found]
    active = [row for row in active if found[(row[0], row[1])][2]]
    _products_remember(store, active)
    for key, currency, _, entry_id in active:
        entries[(key, currency)] = entry_id
    work = {pair: (line, found.get(pair)) for pair, line in unknown.items() if pair not in entries}
    return entries, work


# --------------------------------------------------------------------------------------------
# The graph of one order
# --------------------------------------------------------------------------------------------


def _item_fields(store: Store, line: dict[str, Any]) -> dict[str, Any]:
    values = mappings_apply(config.field_mappings("OrderItem"), line, tz=store.tz)
    return {name: value for name, value in values.items() if name not in ITEM_CONTROLLED_FIELDS}


def _order_body(
    *, store: Store, prepared: PreparedOrder, pricebook_id: str, status: str, account: bool, contact: bool
) -> dict[str, Any]:
    """The Order's fields; ``account``: send AccountId (only a Draft order may change it, see ``_order_graph``);
    ``contact``: the graph upserts the customer's Contact under the order's Account (``orders.links``)."""
    mappings = config.field_mappings("Order")
    if prepared.shipments_skipped:
        # Shipments not read: leave the tracking fields as Salesforce holds them rather than blank them.
        dated = bool(prepared.order.get("date_shipped"))
        mappings = [m for m in mappings if not mapping_reads_tracking(m, order_has_date_shipped=dated)]
    values = mappings_apply(mappings, prepared.document, tz=store.tz)
    body = {name: value for name, value in values.items() if name not in ORDER_CONTROLLED_FIELDS}
    if account:
        body["AccountId"] = "@{account.id}"
    body.update(
        {
            "Pricebook2Id": pricebook_id,
            "Status": status,
            "BigCommerce_Store__c": store.store_hash,
            "Archived__c": prepared.archived,
        }
    )
    if prepared.currency:
        body["CurrencyIsoCode"] = prepared.currency
    # Always both, null when not linked: b2s owns these links, and a Contact left from an earlier customer
    # would not belong to the order's Account any more.
    billing = prepared.order.get("billing_address") or {}
    ships_to_billing = ship_to_is_billing_person(billing, prepared.document.get("shipping_addresses") or [])
    body["BillToContactId"] = "@{contact.id}" if contact else None
    body["ShipToContactId"] = "@{contact.id}" if contact and ships_to_billing else None
    if prepared.opportunity_id:
        body["OpportunityId"] = prepared.opportunity_id
    return body


def _contact_under_account(nodes: list[dict[str, Any]]) -> bool:
    """Whether the customer's nodes upsert a Contact placed under the upserted Account (see orders.links)."""
    return any(
        node["referenceId"] == "contact" and (node.get("body") or {}).get("AccountId") == "@{account.id}"
        for node in nodes
    )


def event_key(*, store_hash: str, order_id: int, kind: str, content: str = "") -> str:
    """The EventKey__c of an order event: the same store, order, kind and content always give the same key.

    Created is keyed by the order alone (one per order, ever); Updated by the content fingerprint sent,
    Shipped by the shipment fields: a retried or redelivered event repeats its key, so a subscriber
    drops what it has already seen.
    """
    return fingerprint([store_hash, int(order_id), kind, content])


def _event_node(
    client: SalesforceClient, store: Store, prepared: PreparedOrder, name: str, kind: str, content: str
) -> dict[str, Any]:
    body = {
        "EventKey__c": event_key(store_hash=store.store_hash, order_id=prepared.order_id, kind=kind, content=content),
        "EventType__c": kind,
        "OrderId__c": "@{order.id}",
        "BigCommerceOrderId__c": store.external_id(prepared.order_id),
        "AccountId__c": "@{account.id}",
        "TotalAmount__c": prepared.ledger.gross_total,
        "OrderDate__c": _salesforce_datetime(prepared.order.get("date_created")),
    }
    return _node("POST", _sobject_url(client, name), f"event{kind}", body)


@dataclass(frozen=True)
class OrderWritePlan:
    """How the Order node writes the Order, by what a real org allows (see ``order_write_plan``)."""

    create: bool  # insert (nothing known of the Order) rather than upsert
    upsert_status: str  # Status the Order write sets; a "status" node sets the target after the items
    account: bool  # AccountId goes in the Order write
    move: bool  # a separate AccountId update after the Order write reopened the order


def order_write_plan(
    *, exists: bool, activated: bool, items_change: bool, account_moves: bool, target: str
) -> OrderWritePlan:
    """What the Order write looks like, by Salesforce's rules for orders (no I/O).

    * A new Order is inserted Draft (a new order's status must be in the Draft category).
    * Activation is an update that sets Status alone: a Draft order writes its fields as Draft, then
      the "status" node activates it after its items.
    * An activated order whose items change goes back to Draft first (order products of an activated
      order cannot be deleted, and with Enhanced Commerce Orders their Quantity and UnitPrice cannot
      change), then is activated again. Setting an activated order's Status back to Draft is an edit of
      an activated order: it needs the Edit Activated Orders permission, as does every other write to an
      activated order (a status change, tracking fields, the archive flag, a refund).
    * AccountId can change only while the order is Draft: it is sent only to a Draft (or new) order.
      An activated order whose customer changed is reopened like an order whose items change, moved to
      the new customer's Account by a separate update, and activated again.
    """
    if not exists:
        return OrderWritePlan(create=True, upsert_status="Draft", account=True, move=False)
    if not activated:
        return OrderWritePlan(create=False, upsert_status="Draft", account=True, move=False)
    reopen = items_change or account_moves
    return OrderWritePlan(create=False, upsert_status="Draft" if reopen else target, account=False, move=account_moves)


def _account_moves(state: OrderState, prepared: PreparedOrder) -> bool:
    """Whether the order now belongs to another customer than the one its Order was last written for."""
    known = state.synced.account_key if state.synced is not None else state.account_key
    return bool(known) and known != prepared.identity.key


def _order_graph(
    *,
    store: Store,
    client: SalesforceClient,
    prepared: PreparedOrder,
    state: OrderState,
    pricebook_id: str,
    products: ProductRefs,
    events_enabled: bool,
) -> OrderGraph:
    """Build one order's graph (see the module docstring for the sequence)."""
    nodes: list[dict[str, Any]] = account_contact_subrequests(
        store=store,
        identity=prepared.identity,
        document=prepared.customer_document,
        account_extra=prepared.account_extra,
        match=prepared.customer_match,
    )
    nodes.extend(products.nodes)
    items_on = config.flag("order_line_items")
    item_nodes: list[dict[str, Any]] = []
    delete_nodes: list[dict[str, Any]] = []
    item_refs: dict[int, tuple[str, str, str]] = {}
    kept: list[int] = []
    deleted: list[int] = []
    item_content: dict[str, Any] = {}
    if items_on:
        present: set[int] = set()
        for line in prepared.lines:
            line_id = int(line["id"])
            present.add(line_id)
            key = product_key(store.store_hash, line)
            fields = _item_fields(store, line)
            digest = fingerprint([key, prepared.currency, fields])
            item_content[str(line_id)] = digest
            existing = state.items.get(line_id)
            reference = f"item{line_id}"
            url = _upsert_url(client, "OrderItem", ITEM_EXTERNAL_ID, store.external_id(line_id))
            if existing is not None and existing.product_key == key:
                if existing.fingerprint == digest:
                    kept.append(line_id)
                    continue
                # OrderId and PricebookEntryId are create-only: an existing item gets the rest.
                item_nodes.append(_node("PATCH", url, reference, fields))
            else:
                if existing is not None:  # same line id, other product: replace the item
                    delete_nodes.append(
                        _node("DELETE", _sobject_url(client, f"OrderItem/{existing.salesforce_id}"), f"del{line_id}")
                    )
                body = {"OrderId": "@{order.id}", "PricebookEntryId": products.entries[(key, prepared.currency)]}
                body.update(fields)
                item_nodes.append(_node("PATCH", url, reference, body))
            item_refs[line_id] = (reference, key, digest)
        for line_id, existing in state.items.items():
            if line_id not in present:
                delete_nodes.append(
                    _node("DELETE", _sobject_url(client, f"OrderItem/{existing.salesforce_id}"), f"del{line_id}")
                )
                deleted.append(line_id)
        has_items = bool(prepared.lines)
    else:
        kept = list(state.items)
        has_items = bool(state.items)
    items_change = bool(item_nodes or delete_nodes)
    status_id = int(prepared.order.get("status_id") or 0)
    current = prepared.salesforce_status or (state.synced.sf_status if state.synced is not None else "")
    coarse = config.status_rule(status_id).sf_status
    target = (
        status_target(
            bc_status_id=status_id, coarse_status=coarse, salesforce_status=current, mapped=config.writeback_statuses()
        )
        if has_items
        else "Draft"
    )
    plan = order_write_plan(
        exists=state.exists,
        activated=state.activated,
        items_change=items_change,
        account_moves=_account_moves(state, prepared),
        target=target,
    )
    order_body = _order_body(
        store=store,
        prepared=prepared,
        pricebook_id=pricebook_id,
        status=plan.upsert_status,
        account=plan.account,
        contact=_contact_under_account(nodes),
    )
    # The new customer's Contact goes with the new Account: in the "move" write when the Account moves there.
    moved_links = {name: order_body[name] for name in CONTACT_LINK_FIELDS if plan.move and name in order_body}
    write_body = {name: value for name, value in order_body.items() if name not in moved_links}
    order_key = store.external_id(prepared.order_id)
    if plan.create:
        # Insert, not upsert: if an earlier sync created the Order and its local record was lost (a crash
        # before the local save), the insert fails the whole graph (DUPLICATE_VALUE, so no second Created
        # event) and _order_send refreshes from Salesforce and sends the order as an update.
        nodes.append(
            _node("POST", _sobject_url(client, "Order"), "order", {ORDER_EXTERNAL_ID: order_key, **write_body})
        )
    else:
        nodes.append(_node("PATCH", _upsert_url(client, "Order", ORDER_EXTERNAL_ID, order_key), "order", write_body))
    if plan.move:
        # Draft now (the write above reopened it): the Account may change.
        move_body = {"AccountId": "@{account.id}", **moved_links}
        nodes.append(_node("PATCH", _sobject_url(client, "Order/@{order.id}"), "move", move_body))
    nodes.extend(delete_nodes)
    nodes.extend(item_nodes)
    if plan.upsert_status != target:
        # Activation carries Status alone (Salesforce: the only field an activating update may set).
        nodes.append(_node("PATCH", _sobject_url(client, "Order/@{order.id}"), "status", {"Status": target}))
    for node in nodes:
        reference = node["referenceId"]
        if reference in ("order", "move", "status") or reference.startswith(("del", "item")):
            node["httpHeaders"] = dict(ORDER_SEQUENCE_HEADERS)
    analytics = set(prepared.account_extra or {})
    content = {
        # The customer's own fields, not the analytics: those move with the customer's other orders,
        # whose syncs push them; time-driven changes are the daily recompute's. Keyed by the customer,
        # not by how the record is addressed (an adopted record is written by Id, with the external id in
        # its body; later by external id): the same customer and fields give the same fingerprint.
        "customer": [
            prepared.identity.key,
            *(
                (
                    node["referenceId"],
                    {
                        name: value
                        for name, value in (node.get("body") or {}).items()
                        if name not in analytics and name != CUSTOMER_EXTERNAL_ID
                    },
                )
                for node in nodes
                if node["referenceId"] in ("account", "contact")
            ),
        ],
        # The same whatever the write plan (AccountId sent or not): the plan follows Salesforce's state.
        # OpportunityId is compared on its own (``OrderGraph.unchanged``): cart recovery may link it later.
        "order": {
            **{name: value for name, value in order_body.items() if name != "OpportunityId"},
            "AccountId": "@{account.id}",
            "Status": target,
        },
        "items": item_content,
    }
    digest = fingerprint(content)
    synced = state.synced
    events: list[str] = []
    # An Order Salesforce has although nothing is remembered of it was written by a sync whose local
    # save was lost: that sync published its events (or ran without them, as a backfill does).
    lost_record = synced is None and state.exists
    if events_enabled and config.flag("platform_events") and not lost_record:
        if synced is None:
            events.append("Created")
        elif digest != synced.fingerprint:
            events.append("Updated")
        if prepared.shipments.get("tracking_numbers") or prepared.shipped_quantity > 0:
            previous = synced.shipment_fields if synced is not None else {}
            if prepared.shipments and prepared.shipments != previous:
                events.append("Shipped")
    names = {"Created": EVENT_CREATED, "Updated": EVENT_UPDATED, "Shipped": EVENT_SHIPPED}
    contents = {"Created": "", "Updated": digest, "Shipped": fingerprint(prepared.shipments)}
    for kind in events:
        nodes.append(_event_node(client, store, prepared, names[kind], kind, contents[kind]))
    return OrderGraph(
        prepared=prepared,
        state=state,
        graph_id=f"order{prepared.order_id}",
        nodes=nodes,
        fingerprint=digest,
        target_status=target,
        item_refs=item_refs,
        kept_items=kept,
        deleted_items=deleted,
        products=products,
        events=events,
        mirrored=fields_mirrored(
            order_body=order_body,
            order=prepared.order,
            fields=[(row.sf_field, row.bc_field) for row in config.writeback_fields(enabled_only=False)],
        ),
    )


def _resolved(reference: str, bodies: dict[str, Any]) -> str:
    """An id, or the id a ``@{ref.id}`` reference resolved to in the graph's answers."""
    if reference.startswith("@{") and reference.endswith(".id}"):
        body = bodies.get(reference[2:-4]) or {}
        return str(body.get("id") or "")
    return reference


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


def _graph_bodies(result: dict[str, Any]) -> dict[str, Any]:
    responses = (result.get("graphResponse") or {}).get("compositeResponse") or []
    return {response.get("referenceId"): response.get("body") for response in responses}


@overload
def _order_record(
    *,
    store: Store,
    graph: OrderGraph,
    bodies: dict[str, Any],
    salesforce_calls: int,
    bigcommerce_calls: int,
    started: float,
    audit: bool,
    details: dict[str, Any],
) -> HandlerResult: ...


@overload
def _order_record(
    *,
    store: Store,
    sent: Sequence[tuple[OrderGraph, dict[str, Any]]],
    salesforce_calls: int,
    bigcommerce_calls: int,
    started: float,
    audit: bool,
    details: dict[str, Any],
) -> dict[int, HandlerResult]: ...


def _order_record(
    *,
    store: Store,
    graph: OrderGraph | None = None,
    bodies: dict[str, Any] | None = None,
    sent: Sequence[tuple[OrderGraph, dict[str, Any]]] = (),
    salesforce_calls: int,
    bigcommerce_calls: int,
    started: float,
    audit: bool,
    details: dict[str, Any],
) -> HandlerResult | dict[int, HandlerResult]:
    """Settle the Accounts' analytics, then remember what Salesforce holds now and the audit entries, in one transaction.

    One order (``graph`` with its answers ``bodies``): its HandlerResult. A batch (``sent``: the
    graphs with their answers, in the order they ran): {order id: HandlerResult}, recorded as if
    one by one, but with one transaction and a few statements for the whole batch (a backfill
    batch of 1,000 orders spent most of its local time on per-order statements and commits).
    The orders are in the ledger already (``_ledger_stage`` / ``_batch_account_extras``, before the request).
    """
    recorded = [(graph, bodies or {})] if graph is not None else list(sent)
    ids: list[tuple[str, str, str]] = []  # (Order, Account, Contact) of each
    for each, answers in recorded:
        synced = each.state.synced
        ids.append(
            (
                _resolved("@{order.id}", answers) if answers else each.state.salesforce_id,
                _resolved("@{account.id}", answers) if answers else (synced.account_id if synced else ""),
                _resolved("@{contact.id}", answers),
            )
        )
    settled = _analytics_settle(
        store=store,
        orders=[
            (each.prepared, bool(answers), account)
            for (each, answers), (_, account, _) in zip(recorded, ids, strict=True)
        ],
    )
    results: dict[int, HandlerResult] = {}
    entries: list[AuditLog] = []
    with transaction.atomic():
        remembered = [
            [
                (key, currency, _resolved(product, answers), _resolved(entry, answers))
                for key, currency, product, entry in each.products.remember
            ]
            for each, answers in recorded
        ]
        # Many orders of a batch remember the same products and customers: identical writes are made
        # once, at the place of the last of them, which leaves every row as the writes in sequence do.
        products = [row for rows in remembered for row in rows]
        _products_remember(store, list(reversed(dict.fromkeys(reversed(products)))))
        links = [
            (each.prepared.identity.key, each.prepared.customer_match, account, contact)
            for (each, _), (_, account, contact) in zip(recorded, ids, strict=True)
        ]
        # A customer Salesforce had nothing of (no match: most of a backfill's) is remembered as
        # ``customer_link_remember`` does it, an upsert of its link, here one statement for each run
        # of such customers; any other case goes through ``customer_link_remember`` in its turn.
        unique = list(reversed(dict.fromkeys(reversed(links))))
        for first_seen, run in itertools.groupby(unique, key=lambda link: link[1] is None):
            if not first_seen:
                for key, match, account, contact in run:
                    customer_link_remember(store=store, key=key, match=match, account_id=account, contact_id=contact)
                continue
            created = {
                key: CustomerLink(
                    store=store,
                    customer_key=key,
                    matched=CustomerLink.Matched.CREATED,
                    account_id=account,
                    contact_id=contact,
                )
                for key, _, account, contact in run
            }
            CustomerLink.objects.bulk_create(
                list(created.values()),
                update_conflicts=True,
                unique_fields=["store", "customer_key"],
                update_fields=[
                    "matched",
                    "account_id",
                    "contact_id",
                    "lead_id",
                    "keep_contact_account",
                    "person_account",
                    "updated_at",
                ],
            )
        rows: list[SyncedOrder] = []
        for (each, _), (order_sf_id, account_sf_id, _) in zip(recorded, ids, strict=True):
            prepared, synced = each.prepared, each.state.synced
            rows.append(
                SyncedOrder(
                    store=store,
                    order_id=prepared.order_id,
                    salesforce_id=order_sf_id,
                    account_key=prepared.identity.key,
                    account_id=account_sf_id,
                    sf_status=each.target_status,
                    bc_status_id=prepared.ledger.status_id,
                    grand_total=prepared.ledger.gross_total,
                    order_date=prepared.ledger.order_date,
                    currency=prepared.ledger.currency,
                    archived=prepared.archived,
                    created_event_sent=bool(synced and synced.created_event_sent) or "Created" in each.events,
                    shipped_quantity=prepared.shipped_quantity,
                    shipment_fields=prepared.shipments,
                    fingerprint=each.fingerprint,
                    opportunity_id=prepared.opportunity_id or (synced.opportunity_id if synced else ""),
                    writeback_values={**(synced.writeback_values if synced else {}), **each.mirrored},
                    # When Salesforce was last written (backfill tells live syncs from its own by it).
                    synced_at=timezone.now(),
                )
            )
        # INSERT .. ON CONFLICT DO UPDATE .. RETURNING id, many rows a statement: update_or_create
        # costs a locking read, a savepoint, a write and a release for each. An unchanged order
        # already recorded keeps its synced_at: those go in a statement of their own.
        columns = [
            "salesforce_id",
            "account_key",
            "account_id",
            "sf_status",
            "bc_status_id",
            "grand_total",
            "order_date",
            "currency",
            "archived",
            "created_event_sent",
            "shipped_quantity",
            "shipment_fields",
            "fingerprint",
            "opportunity_id",
            "writeback_values",
        ]
        kept_time = [not answers and each.state.synced is not None for each, answers in recorded]
        # An order twice in a batch: its last recording is the one that stays (one upsert cannot write a row twice).
        final = sorted({each.prepared.order_id: index for index, (each, _) in enumerate(recorded)}.values())
        for keep, update_fields in ((False, [*columns, "synced_at"]), (True, columns)):
            group = [rows[index] for index in final if kept_time[index] is keep]
            if group:
                SyncedOrder.objects.bulk_create(
                    group, update_conflicts=True, unique_fields=["store", "order_id"], update_fields=update_fields
                )
        changed = [(recorded[index][0], recorded[index][1], rows[index]) for index in final if recorded[index][1]]
        # Lines no longer in their order: the orders' lines read by order (its index finds them; with
        # the store too, a planner may scan the store's lines), those not kept deleted by id. A batch
        # of new orders has none: one read, no DELETE (not a DELETE per order).
        kept_lines = {row.pk: set(each.kept_items) | set(each.item_refs) for each, _, row in changed}
        stale = [
            item_id
            for start in range(0, len(changed), QUERY_CHUNK * 5)
            for item_id, order_pk, line_id in SyncedOrderItem.objects.filter(
                order__in=[row.pk for _, _, row in changed[start : start + QUERY_CHUNK * 5]]
            ).values_list("pk", "order_id", "order_product_id")
            if line_id not in kept_lines[order_pk]
        ]
        for start in range(0, len(stale), QUERY_CHUNK * 5):
            SyncedOrderItem.objects.filter(pk__in=stale[start : start + QUERY_CHUNK * 5]).delete()
        items: dict[int, SyncedOrderItem] = {}
        for each, answers, row in changed:
            for line_id, (reference, key, digest) in each.item_refs.items():
                items[line_id] = SyncedOrderItem(
                    store=store,
                    order=row,
                    order_product_id=line_id,
                    salesforce_id=_resolved(f"@{{{reference}.id}}", answers),
                    product_key=key,
                    fingerprint=digest,
                )
        # Every line in one upsert (a line moved from another order follows its new one).
        SyncedOrderItem.objects.bulk_create(
            list(items.values()),
            update_conflicts=True,
            unique_fields=["store", "order_product_id"],
            update_fields=["order", "salesforce_id", "product_key", "fingerprint"],
        )
        for index, (each, answers) in enumerate(recorded):
            prepared, unchanged = each.prepared, not answers
            touched = [value for value in ids[index] if value]
            touched.extend(entry for _, _, _, entry in remembered[index])
            if not unchanged:
                touched.extend(
                    _resolved(f"@{{{reference}.id}}", answers) for reference, _, _ in each.item_refs.values()
                )
            calls = salesforce_calls
            order_details = dict(details)
            analytics = settled[index]
            if analytics is not None:
                calls += analytics.corrections
                order_details["analytics"] = analytics.details()
            order_details.update(
                {
                    "scope": prepared.event_scope,
                    "customer_key": prepared.identity.key,
                    "status": each.target_status,
                    "unchanged": unchanged,
                    "events": each.events if not unchanged else [],
                    "items": {
                        "written": len(each.item_refs),
                        "kept": len(each.kept_items),
                        "deleted": len(each.deleted_items),
                    },
                    "products_created": len(each.products.remember),
                    "salesforce_requests": calls,
                    "bigcommerce_requests": bigcommerce_calls,
                }
            )
            operation = scope_operation(prepared.event_scope) if prepared.event_scope else "ORDER_SYNC"
            if audit and graph is not None:
                audit_record(
                    operation=operation,
                    store=store,
                    bigcommerce_id=str(prepared.order_id),
                    status="success",
                    salesforce_ids=touched,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    salesforce_api_calls=calls,
                    bigcommerce_api_calls=bigcommerce_calls,
                    details=order_details,
                )
            elif audit:
                entries.append(
                    AuditLog(
                        operation=operation,
                        store=store,
                        bigcommerce_id=str(prepared.order_id)[:64],
                        salesforce_ids=[str(value) for value in touched if value],
                        status=AuditLog.Status.SUCCESS,
                        duration_ms=max(0, int((time.monotonic() - started) * 1000)),
                        salesforce_api_calls=max(0, calls),
                        bigcommerce_api_calls=max(0, bigcommerce_calls),
                        details=order_details,
                    )
                )
            results[prepared.order_id] = HandlerResult(
                operation, str(prepared.order_id), [value for value in touched if value], order_details
            )
        # A batch's entries, as ``audit_record`` writes them one by one, in one INSERT per 500: the
        # first takes what the batch shortened (the later ones would find nothing), none while the
        # audit trail is off.
        truncated = salesforce_truncations_take() if entries else []
        if entries and config.flag("audit_trail"):
            if truncated:
                first = entries[0]
                first.details = {**first.details, "truncated": [*first.details.get("truncated", []), *truncated]}
            AuditLog.objects.bulk_create(entries, batch_size=500)
    if graph is not None:
        return results[graph.prepared.order_id]
    return results


# --------------------------------------------------------------------------------------------
# One order
# --------------------------------------------------------------------------------------------


def _state_refresh(
    *,
    store: Store,
    client: SalesforceClient,
    prepared: PreparedOrder,
    synced: SyncedOrder | None,
    pricebook_id: str,
) -> tuple[OrderState, dict[tuple[str, str], tuple[str, str, bool]]]:
    """Read the Order, its items and the order's price book entries from Salesforce (one composite request)."""
    order_key = store.external_id(prepared.order_id)
    keys = sorted({product_key(store.store_hash, line) for line in prepared.lines})
    multi = _multi_currency(client)
    # The Order itself (whether it exists, activated or not) and its items. The only values are quoted literals.
    order_soql = (
        f"SELECT Id, StatusCode, Account.{CUSTOMER_EXTERNAL_ID} FROM Order "  # noqa: S608
        f"WHERE {ORDER_EXTERNAL_ID} = {soql_quote(order_key)}"
    )
    items_soql = (
        f"SELECT Id, {ITEM_EXTERNAL_ID}, Product2.{PRODUCT_EXTERNAL_ID}, OrderId, Order.StatusCode "  # noqa: S608
        f"FROM OrderItem WHERE Order.{ORDER_EXTERNAL_ID} = {soql_quote(order_key)}"
    )
    # Independent reads: their order of execution does not matter.
    subrequests = [
        _node("GET", client.url("query") + "?q=" + quote(order_soql), "order"),
        _node("GET", client.url("query") + "?q=" + quote(items_soql), "orderstate"),
    ]
    if keys:
        entries_soql = _entries_soql(pricebook_id, keys, multi)
        subrequests.append(_node("GET", client.url("query") + "?q=" + quote(entries_soql), "entries"))
    responses = {item["referenceId"]: item for item in client.composite(subrequests, all_or_none=False)}
    for item in responses.values():
        if int(item.get("httpStatusCode") or 0) >= 400:
            raise SalesforceError(
                f"Refreshing order {prepared.order_id} from Salesforce failed: {item.get('body')}",
                status=int(item["httpStatusCode"]),
                code="REFRESH_FAILED",
                body=item.get("body"),
            )
    records = (responses["orderstate"].get("body") or {}).get("records") or []
    state = OrderState(synced=synced, refreshed=True)
    for order_record in (responses["order"].get("body") or {}).get("records") or []:
        state.salesforce_id = order_record["Id"]
        state.activated = order_record.get("StatusCode") == "Activated"
        state.account_key = str((order_record.get("Account") or {}).get(CUSTOMER_EXTERNAL_ID) or "")
    prefix = f"{store.store_hash}:"
    for item in records:
        state.salesforce_id = item["OrderId"]
        state.activated = (item.get("Order") or {}).get("StatusCode") == "Activated"
        value = str(item.get(ITEM_EXTERNAL_ID) or "")
        if not value.startswith(prefix) or not value[len(prefix) :].isdigit():
            continue  # an item someone added by hand: not ours to change
        key = str((item.get("Product2") or {}).get(PRODUCT_EXTERNAL_ID) or "")
        state.items[int(value[len(prefix) :])] = ItemState(item["Id"], key, "")
    entries = {}
    if "entries" in responses:
        entries = _entries_parse((responses["entries"].get("body") or {}).get("records") or [], multi)
    return state, entries


def _single_products(
    *,
    store: Store,
    client: SalesforceClient,
    pricebook_id: str,
    prepared: PreparedOrder,
    refreshed_entries: dict[tuple[str, str], tuple[str, str, bool]] | None = None,
) -> ProductRefs:
    """The order's products: known ones by id, the rest created inside the order's own graph."""
    refs = ProductRefs()
    if not config.flag("order_line_items"):
        return refs
    needed = _products_needed(store, [prepared])
    if refreshed_entries is None:
        entries, work = _products_resolve(store=store, client=client, pricebook_id=pricebook_id, needed=needed)
    else:
        # After a failure nothing remembered about these products is trusted: Salesforce's answer is.
        _products_forget(store, needed)
        entries, work = _entries_apply(store, needed, refreshed_entries, {})
    refs.entries.update(entries)
    for pair, nodes, entry, remember in _products_planned(
        store=store, client=client, pricebook_id=pricebook_id, work=work
    ):
        refs.nodes.extend(nodes)
        refs.entries[pair] = entry
        refs.remember.append(remember)
    return refs


def _ledger_stage(store: Store, prepared: PreparedOrder) -> None:
    """Record the order in the ledger (committed) BEFORE Salesforce is called.

    Other workers syncing an order of the same customer then compute from a ledger with this
    order in flight, and this sync's check after its write sees theirs (``account_fields_settle``).
    """
    prepared.ledger_changed = ledger_order_record(
        store=store, customer_key=prepared.identity.key, order=prepared.ledger
    )


def _account_extra(store: Store, prepared: PreparedOrder) -> dict[str, Any]:
    """The Account analytics of the full ledger (this order is staged in it already)."""
    return customer_account_fields(store=store, customer_key=prepared.identity.key)


def _analytics_settle(
    *, store: Store, orders: Sequence[tuple[PreparedOrder, bool, str]]
) -> list[AccountSettled | None]:
    """Correct each order's Account if the ledger changed while its write was in flight (None: nothing to check).

    ``orders``: (the order, whether its graph was sent, its Account id), in the order they ran.
    A graph that carried the analytics is checked once Salesforce answered (no request unless
    another order of the customer got in between). An unchanged order is checked only when
    recording it changed the ledger, so an unchanged redelivery costs nothing. A batch's checks
    are made together (``accounts_fields_settle``: one transaction, as if one by one).
    """
    checks: dict[int, SettleCheck] = {}
    for index, (prepared, sent, account_id) in enumerate(orders):
        if sent and prepared.account_extra:
            checks[index] = SettleCheck(prepared.identity.key, prepared.account_extra, account_id)
        elif not sent and prepared.ledger_changed:
            checks[index] = SettleCheck(prepared.identity.key, None, account_id)
    if len(orders) == 1:
        # One order (a live sync): its check in a transaction of its own, as ever.
        results = [
            account_fields_settle(
                store=store, customer_key=check.customer_key, sent=check.sent, account_id=check.account_id
            )
            for check in checks.values()
        ]
    else:
        results = accounts_fields_settle(store=store, checks=list(checks.values()))
    by_index = dict(zip(checks, results, strict=True))
    return [by_index.get(index) for index in range(len(orders))]


def _graph_send(client: SalesforceClient, graph: OrderGraph) -> tuple[dict[str, Any], SalesforceError | None]:
    result = client.composite_graph([{"graphId": graph.graph_id, "compositeRequest": graph.nodes}])[0]
    error = graph_error(result)
    return (_graph_bodies(result) if error is None else {}), error


def _order_send(
    *,
    store: Store,
    client: SalesforceClient,
    prepared: PreparedOrder,
    synced: SyncedOrder | None,
    pricebook_id: str,
    events_enabled: bool = True,
) -> tuple[OrderGraph, dict[str, Any]]:
    """Build and send one order's graph; when Salesforce does not match the local state, refresh and resend once.

    The graph fails with a stale-state error: an item that already exists, a record deleted by a
    user, a product created meanwhile, or, for an order this service has no local record of, the
    Order's insert (DUPLICATE_VALUE: an earlier sync created it and its local save was lost, e.g. a
    crash right after the request). A failed graph wrote nothing and published nothing; the refresh
    finds the Order and the items the graph did not know of, and the second graph updates it (no
    Created event: the earlier sync published it) and deletes the items BigCommerce no longer has.
    """

    def build(state: OrderState, products: ProductRefs, events: bool) -> OrderGraph:
        return _order_graph(
            store=store,
            client=client,
            prepared=prepared,
            state=state,
            pricebook_id=pricebook_id,
            products=products,
            events_enabled=events,
        )

    graph = build(
        _state_local(synced),
        _single_products(store=store, client=client, pricebook_id=pricebook_id, prepared=prepared),
        events_enabled,
    )
    if graph.unchanged:
        return graph, {}
    bodies, error = _graph_send(client, graph)
    if error is None:
        return graph, bodies
    if error.transient or error.code not in RECOVERABLE_CODES:
        raise _activated_hint(error, graph.state)
    logger.info(
        "Order %s: Salesforce does not match the local state (%s: %s); refreshing and retrying once",
        prepared.order_id,
        error.code,
        error.message,
    )
    state, entries = _state_refresh(
        store=store, client=client, prepared=prepared, synced=synced, pricebook_id=pricebook_id
    )
    products = _single_products(
        store=store, client=client, pricebook_id=pricebook_id, prepared=prepared, refreshed_entries=entries
    )
    graph = build(state, products, events_enabled)
    bodies, error = _graph_send(client, graph)
    if error is not None:
        if error.code == "DUPLICATE_VALUE":
            # Another worker is creating the same product, customer or order right now: try again
            # later, when what it created can be found.
            error.transient = True
        raise _activated_hint(error, graph.state)
    return graph, bodies


def _activated_hint(error: SalesforceError, state: OrderState) -> SalesforceError:
    """A refused write to an activated order most often means the user lacks Edit Activated Orders: say so."""
    if state.activated and not error.transient and error.code in ACTIVATED_REFUSALS:
        error.message = (
            f"{error.message} (the Order is activated: writing to it needs the user permission Edit Activated "
            "Orders, granted by the permission set B2S_Integration; manage.py salesforce_check verifies it)"
        )
    return error


def _synced_get(store: Store, order_id: int) -> SyncedOrder | None:
    return SyncedOrder.objects.filter(store=store, order_id=order_id).prefetch_related("items").first()


def order_sync(
    *,
    store: Store,
    order_id: int,
    event_scope: str = "",
    order: dict | None = None,
    audit: bool = True,
    salesforce_status: str = "",
) -> HandlerResult:
    """Converge Salesforce to the order's current state in BigCommerce (see the module docstring).

    ``salesforce_status``: the Order's status in Salesforce now, when the caller read it (the write-back),
    so a merchant's own status that means the order's BigCommerce status is kept (``status_target``).

    ``order`` is an already-fetched ``GET /v2/orders/{id}`` body (with consignments), else it is
    fetched. ``event_scope`` steers the cheap paths (shipment and archive events). ``audit=False``
    when the caller writes the audit entry itself (webhook processing does, from the result).
    Raises SkipEvent when there is nothing to sync, SalesforceError (OrderSyncError included) or
    BigCommerceError when the sync failed (each says whether it is transient).
    """
    started = time.monotonic()
    with salesforce_calls_counted() as sf_calls, bigcommerce_calls_counted() as bc_calls:
        synced = _synced_get(store, order_id)
        if order is None and event_scope in SHIPMENT_SCOPES and synced is not None:
            return _shipment_sync(store=store, synced=synced, event_scope=event_scope, audit=audit, started=started)
        if order is None:
            try:
                order = bigcommerce_client(store).order_get(order_id)
            except BigCommerceNotFound:
                if event_scope == ARCHIVED_SCOPE and synced is not None:
                    return _archive_mark(store=store, synced=synced, audit=audit, started=started)
                raise SkipEvent(f"Order {order_id} does not exist in BigCommerce.") from None
        client = salesforce_client()
        customer_id = int(order.get("customer_id") or 0)
        customers = customer_documents(store=store, customer_ids={customer_id}) if customer_id else {}
        prepared = _order_prepare(
            store=store, order=order, event_scope=event_scope, synced=synced, customers=customers, client=client
        )
        _opportunities_attach(store, [prepared])
        prepared.salesforce_status = salesforce_status
        found = customers_match(store=store, client=client, identities=[prepared.identity])
        match = customers_leads_convert(client=client, matches=found).get(prepared.identity.key)
        prepared.customer_match = match
        prepared.identity = customer_identity_resolved(prepared.identity, match)
        _ledger_stage(store, prepared)
        prepared.account_extra = _account_extra(store, prepared)
        pricebook_id = client.standard_pricebook_id()
        graph, bodies = _order_send(
            store=store, client=client, prepared=prepared, synced=synced, pricebook_id=pricebook_id
        )
        return _order_record(
            store=store,
            graph=graph,
            bodies=bodies,
            salesforce_calls=sf_calls.count,
            bigcommerce_calls=bc_calls.count,
            started=started,
            audit=audit,
            details={"recovered": graph.state.refreshed},
        )


# --------------------------------------------------------------------------------------------
# Shipment and archive events for an order already in Salesforce
# --------------------------------------------------------------------------------------------


def _audit_success(
    *,
    audit: bool,
    operation: str,
    store: Store,
    synced: SyncedOrder,
    started: float,
    salesforce_calls: int,
    bigcommerce_calls: int,
    details: dict[str, Any],
) -> None:
    if audit:
        audit_record(
            operation=operation,
            store=store,
            bigcommerce_id=str(synced.order_id),
            status="success",
            salesforce_ids=[synced.salesforce_id],
            duration_ms=int((time.monotonic() - started) * 1000),
            salesforce_api_calls=salesforce_calls,
            bigcommerce_api_calls=bigcommerce_calls,
            details=details,
        )


def _shipment_sync(
    *, store: Store, synced: SyncedOrder, event_scope: str, audit: bool, started: float
) -> HandlerResult:
    """Tracking fields and the Shipped event from ``/shipments`` alone (the order itself did not change)."""
    operation = scope_operation(event_scope)
    with salesforce_calls_counted() as sf_calls, bigcommerce_calls_counted() as bc_calls:
        shipments = bigcommerce_client(store).order_shipments(synced.order_id)
        fields = shipment_fields(shipments) if shipments else {}
        if not config.flag("fulfillment_status") or fields == (synced.shipment_fields or {}):
            details: dict[str, Any] = {"scope": event_scope, "unchanged": True}
            _audit_success(
                audit=audit,
                operation=operation,
                store=store,
                synced=synced,
                started=started,
                salesforce_calls=0,
                bigcommerce_calls=bc_calls.count,
                details=details,
            )
            return HandlerResult(operation, str(synced.order_id), [synced.salesforce_id], details)
        client = salesforce_client()
        document = {"date_shipped": "", **fields}
        body = {
            mapping.sf_field: mapping.value(document, tz=store.tz)
            for mapping in config.field_mappings("Order")
            if mapping_reads_shipments(mapping)
        }
        nodes = [_node("PATCH", _sobject_url(client, f"Order/{synced.salesforce_id}"), "order", body)]
        events: list[str] = []
        if config.flag("platform_events") and (fields.get("tracking_numbers") or fields.get("quantity")):
            events.append("Shipped")
            event_body = {
                # The same key as the order graph gives these shipment fields (see event_key).
                "EventKey__c": event_key(
                    store_hash=store.store_hash, order_id=synced.order_id, kind="Shipped", content=fingerprint(fields)
                ),
                "EventType__c": "Shipped",
                "OrderId__c": synced.salesforce_id,
                "BigCommerceOrderId__c": store.external_id(synced.order_id),
                "AccountId__c": synced.account_id or None,
                "TotalAmount__c": synced.grand_total,
                "OrderDate__c": _salesforce_datetime(synced.order_date),
            }
            nodes.append(_node("POST", _sobject_url(client, EVENT_SHIPPED), "eventShipped", event_body))
        result = client.composite_graph([{"graphId": f"ship{synced.order_id}", "compositeRequest": nodes}])[0]
        error = graph_error(result)
        if error is not None:
            if error.code in ("NOT_FOUND", "ENTITY_IS_DELETED"):
                # The Order is gone from Salesforce: rebuild it from the full order.
                SyncedOrder.objects.filter(pk=synced.pk).delete()
                return order_sync(store=store, order_id=synced.order_id, event_scope=event_scope, audit=audit)
            raise error
        details = {
            "scope": event_scope,
            "unchanged": False,
            "events": events,
            "tracking_numbers": fields.get("tracking_numbers", ""),
            "salesforce_requests": sf_calls.count,
            "bigcommerce_requests": bc_calls.count,
        }
        with transaction.atomic():
            SyncedOrder.objects.filter(pk=synced.pk).update(
                shipment_fields=fields, shipped_quantity=int(fields.get("quantity") or 0), synced_at=timezone.now()
            )
            _audit_success(
                audit=audit,
                operation=operation,
                store=store,
                synced=synced,
                started=started,
                salesforce_calls=sf_calls.count,
                bigcommerce_calls=bc_calls.count,
                details=details,
            )
    return HandlerResult(operation, str(synced.order_id), [synced.salesforce_id], details)


def _archive_mark(*, store: Store, synced: SyncedOrder, audit: bool, started: float) -> HandlerResult:
    """An archived order BigCommerce no longer answers for: mark the Order archived, never delete it."""
    with salesforce_calls_counted() as sf_calls, bigcommerce_calls_counted() as bc_calls:
        salesforce_client().request("PATCH", f"sobjects/Order/{synced.salesforce_id}", json={"Archived__c": True})
        details = {"scope": ARCHIVED_SCOPE, "archived": True}
        with transaction.atomic():
            SyncedOrder.objects.filter(pk=synced.pk).update(archived=True, synced_at=timezone.now())
            _audit_success(
                audit=audit,
                operation="ORDER_SYNC",
                store=store,
                synced=synced,
                started=started,
                salesforce_calls=sf_calls.count,
                bigcommerce_calls=bc_calls.count,
                details=details,
            )
    return HandlerResult("ORDER_SYNC", str(synced.order_id), [synced.salesforce_id], details)


def _batch_account_extras(store: Store, prepared: list[PreparedOrder], pending: list[OrderGraph]) -> None:
    """Record every order of the batch in the ledger, then put the analytics on each customer's last changed graph.

    Recorded before Salesforce is called, like a single order (``_ledger_stage``): the values come
    from the full ledger, this batch's other orders and any order of the customer in flight
    elsewhere included. Graphs run in order, so one graph per customer carries the analytics fields
    (and is the one ``_order_record`` settles).
    """
    # One transaction and a few statements for the whole batch (not a lock and an upsert per order).
    changed = ledger_orders_record(store=store, orders=[(entry.identity.key, entry.ledger) for entry in prepared])
    for entry, entry_changed in zip(prepared, changed, strict=True):
        entry.ledger_changed = entry_changed
    last_graph: dict[str, OrderGraph] = {}
    for graph in pending:
        last_graph[graph.prepared.identity.key] = graph
    # The customers' values from one read of their ledgers (``_account_extra`` for each, batched).
    extras = customers_account_fields(store=store, customer_keys=list(last_graph))
    for key, graph in last_graph.items():
        last = graph.prepared
        last.account_extra = extras[key]
        account = next(node for node in graph.nodes if node["referenceId"] == "account")
        account["body"] = {**account.get("body", {}), **last.account_extra}
