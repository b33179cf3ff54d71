"""The sObject Collections path of ``orders_sync_batch``: a batch of orders in a few composite requests.

Why: one composite graph per order is about 6 nodes, and a graph request takes at most 500 nodes,
so about 75 orders a request. A ``POST /composite`` request takes up to 5 sObject Collections
subrequests of up to 200 records each (Salesforce: at most 25 subrequests, of which at most 5
collections or queries), so about 1,000 records a request. A backfilled order is 3 records plus one
per line (Order, its items, its status) and its customer's Account and Contact once per batch:
a batch of 1,000 orders costs about one request per 150 orders.

How: each order's graph is built exactly as the single-order path builds it (same decisions: which
items are new, changed, kept or gone, the target status, the fingerprint, the events; see
``orders.services._order_graph``), then its nodes become collection records. A reference to a record
written earlier in the batch becomes a relationship by external id
(``"Account": {"BigCommerceCustomerId__c": key}``, ``"Order": {"BigCommerceOrderId__c": key}``),
so no id has to come back before the next step. The records go in this order, each kind in chunks
of 200, up to 5 chunks a composite request (``allOrNone`` false: each chunk is its own transaction
and answers one SaveResult per record); subrequests of one composite run in the order sent only
because ``SalesforceClient.composite`` sends ``collateSubrequests: false`` (Salesforce collates
unrelated subrequests otherwise, from API 49.0), so a chunk sees what the chunks before it wrote:

0. ``adopt``: existing Accounts and Contacts found by email (``sync.customers.customers_match``) get
   the customer's external id, by Id, so the customer upserts below find them;
1. ``product``: Product2 upsert by ``BigCommerceProductId__c`` (products not known locally);
2. ``entry``: PricebookEntry create (standard price book, active, Product2 by external id). An entry
   that exists already answers DUPLICATE_VALUE: one query finds it (one inactive is activated);
3. ``account``: Account upsert, one per customer, with the analytics fields of all the batch's
   orders applied; 4. ``contact``: Contact upsert (Account by external id);
5. ``order``: Order upsert (Draft when its items change, else its mapped status; the Account only
   while Draft); ``move``: the new Account of a reopened order whose customer changed;
6. ``delete``: OrderItems of lines gone from BigCommerce (or moved to another product);
7. ``activate``: PricebookEntry activation (entries found inactive);
8. ``item``: OrderItem upsert (new: Order by external id and PricebookEntryId, in a later request
   than the entries it needs; changed: the mapped fields only);
9. ``status``: Order upsert setting the mapped status of orders that were Draft for their items;
10. ``event``: platform events, only when asked, after everything else (they carry the ids).

A record that fails fails its order (its customer's Account or Contact: all the customer's
orders), with the first Salesforce error as the reason; records of an order already failed are
not sent by later requests. Only orders whose every record succeeded are recorded locally; a
failed one is left for the next run, which converges it (every write is an upsert by external id,
or a delete).

Recovery, as the single path does it, but batched: an order that failed because the local state
does not match Salesforce (``RECOVERABLE_CODES``: an item deleted by a user, an item that exists
although not remembered, ...) or whose Order upsert answered ``created: false`` while nothing was
remembered about it (a lost database, or a batch sent again after a network error) has its
Salesforce state read (a composite of up to 5 queries, 100 orders each) and is sent once more
with that state: items that exist are updated, items Salesforce has and BigCommerce does not are
deleted.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from orders.documents import product_key
from orders.services import (
    CONTACT_LINK_FIELDS,
    ITEM_EXTERNAL_ID,
    ORDER_EXTERNAL_ID,
    PRODUCT_EXTERNAL_ID,
    QUERY_CHUNK,
    RECOVERABLE_CODES,
    BatchResult,
    ItemState,
    OrderGraph,
    OrderState,
    PreparedOrder,
    ProductRefs,
    _batch_account_extras,
    _chunks,
    _entries_apply,
    _entries_parse,
    _entries_query,
    _entries_soql,
    _line_unit_price,
    _multi_currency,
    _node,
    _order_graph,
    _product_body,
    _products_forget,
    _products_known,
    _products_needed,
    _resolved,
    _state_local,
)
from sync.customers import EXTERNAL_ID_FIELD as CUSTOMER_EXTERNAL_ID
from sync.salesforce import SalesforceError, error_from_body, save_result_error, soql_quote

if TYPE_CHECKING:
    from orders.models import SyncedOrder
    from sync.models import Store
    from sync.salesforce import SalesforceClient

logger = logging.getLogger(__name__)

# Salesforce limits of one composite request: 25 subrequests, at most 5 of them sObject
# Collections or queries; 200 records per collection.
COMPOSITE_COLLECTIONS_MAX = 5
COLLECTION_RECORDS_MAX = 200

KIND_ORDER = (
    "adopt",
    "product",
    "entry",
    "account",
    "contact",
    "order",
    "move",
    "delete",
    "activate",
    "item",
    "status",
    "event",
)
# Kinds whose answers (ids) a kind needs before its records can be written: they must come back in
# an earlier request. Everything else may share a request (subrequests run in order).
NEEDS_ANSWERS_OF = {"item": frozenset({"entry"}), "event": frozenset(KIND_ORDER) - {"event"}}
# Upserts: (sObject, external id field) of the collection URL.
UPSERT_TARGETS = {
    "product": ("Product2", PRODUCT_EXTERNAL_ID),
    "account": ("Account", CUSTOMER_EXTERNAL_ID),
    "contact": ("Contact", CUSTOMER_EXTERNAL_ID),
    "order": ("Order", ORDER_EXTERNAL_ID),
    "move": ("Order", ORDER_EXTERNAL_ID),
    "item": ("OrderItem", ITEM_EXTERNAL_ID),
    "status": ("Order", ORDER_EXTERNAL_ID),
}
LABELS = {
    "adopt": "Existing customer record",
    "product": "Product2",
    "entry": "PricebookEntry",
    "account": "Account",
    "contact": "Contact",
    "order": "Order",
    "move": "Order account",
    "delete": "OrderItem delete",
    "activate": "PricebookEntry activation",
    "item": "OrderItem",
    "status": "Order status",
    "event": "Platform event",
}
# Stands for the Id of a PricebookEntry created by this batch until it is known (never sent).
PENDING_ENTRY = "\x00entry\x00"


@dataclass
class Op:
    """One record of a collection operation, and the orders that fail when it fails."""

    kind: str
    record: Any  # the record (dict), or the record Id for "delete"
    owners: tuple[int, ...]
    label: str  # for error messages: the external id value or record id
    ref: str = ""  # "item{line id}" / "event{kind}": where the answer goes in the order's bodies
    pair: tuple[str, str] | None = None  # product key and currency ("product", "entry", "activate")


@dataclass
class Failure:
    """Why an order failed: the Salesforce error and a message naming the record."""

    error: SalesforceError
    text: str


@dataclass
class PassOutcome:
    """One pass over some orders: each order's graph, its answers (as graph bodies) or its failure."""

    graphs: list[OrderGraph] = field(default_factory=list)
    bodies: dict[int, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    failed: dict[int, Failure] = field(default_factory=dict)
    published: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    requests: int = 0
    records: int = 0


class _Pass:
    """Plans a pass as collection operations and sends them, packed, in composite requests."""

    def __init__(self, *, store: Store, client: SalesforceClient, pricebook_id: str) -> None:
        self.store = store
        self.client = client
        self.pricebook_id = pricebook_id
        self.out = PassOutcome()
        self.queues: dict[str, list[Op]] = {kind: [] for kind in KIND_ORDER}
        self.entries: dict[tuple[str, str], str] = {}  # PricebookEntry ids learnt in this pass
        self.product_ids: dict[str, str] = {}
        self.placeholders: dict[str, tuple[str, str]] = {}
        self.duplicates: list[Op] = []

    # -- planning ------------------------------------------------------------------------------
    def entry_placeholder(self, pair: tuple[str, str]) -> str:
        text = f"{PENDING_ENTRY}{pair[0]}\x00{pair[1]}"
        self.placeholders[text] = pair
        return text

    def plan_products(
        self, create: dict[tuple[str, str], dict[str, Any]], activate: dict[tuple[str, str], tuple[str, str, bool]]
    ) -> None:
        """Product2 + PricebookEntry for products to create, activation for inactive entries.

        Owners are the orders whose new items use them (found from the items' placeholders).
        """
        users: dict[tuple[str, str], list[int]] = defaultdict(list)
        for op in self.queues["item"]:
            value = op.record.get("PricebookEntryId")
            if isinstance(value, str) and value in self.placeholders:
                users[self.placeholders[value]].append(op.owners[0])
            elif isinstance(value, str):
                for pair, existing in activate.items():
                    if existing[1] == value:
                        users[pair].append(op.owners[0])
        product_owners: dict[str, set[int]] = defaultdict(set)
        for pair in create:
            product_owners[pair[0]].update(users.get(pair, []))
        for key, key_owners in sorted(product_owners.items()):
            if not key_owners:
                continue
            line = next(line for pair, line in create.items() if pair[0] == key)
            record: dict[str, Any] = {"attributes": {"type": "Product2"}, PRODUCT_EXTERNAL_ID: key}
            record.update(_product_body(self.store, key, line))
            self.queues["product"].append(Op("product", record, tuple(sorted(key_owners)), key, pair=(key, "")))
        for pair, line in sorted(create.items()):
            owners = tuple(sorted(set(users.get(pair, []))))
            if not owners:
                continue
            key, currency = pair
            record = {
                "attributes": {"type": "PricebookEntry"},
                "Pricebook2Id": self.pricebook_id,
                "Product2": {PRODUCT_EXTERNAL_ID: key},
                "UnitPrice": _line_unit_price(self.store, line),
                "IsActive": True,
            }
            if currency:
                record["CurrencyIsoCode"] = currency
            self.queues["entry"].append(Op("entry", record, owners, key, pair=pair))
        for pair, (product2_id, entry_id, _) in sorted(activate.items()):
            owners = tuple(sorted(set(users.get(pair, []))))
            if owners:
                self.product_ids.setdefault(pair[0], product2_id)
                self._activation_add(pair, entry_id, owners)

    def _activation_add(self, pair: tuple[str, str], entry_id: str, owners: tuple[int, ...]) -> None:
        record = {"attributes": {"type": "PricebookEntry"}, "Id": entry_id, "IsActive": True}
        self.queues["activate"].append(Op("activate", record, owners, entry_id, pair=pair))
        self.entries[pair] = entry_id

    def plan_graph(self, graph: OrderGraph, accounts: dict[str, list[Any]]) -> None:
        """Turn one order's graph nodes into collection records (see the module docstring)."""
        prepared = graph.prepared
        order_id = prepared.order_id
        order_key = self.store.external_id(order_id)
        customer = prepared.identity.key
        by_customer = {CUSTOMER_EXTERNAL_ID: customer}
        for node in graph.nodes:
            reference = node["referenceId"]
            body = dict(node.get("body") or {})
            if reference in ("account", "contact"):
                _customer_plan(accounts, reference, customer, node, order_id)
            elif reference == "order":
                # AccountId only where the graph sends it (a Draft order: see orders.services.order_write_plan).
                account = body.pop("AccountId", None) is not None
                # The customer's Contact, upserted earlier in the batch, by its external id (orders.links).
                record = {"attributes": {"type": "Order"}, ORDER_EXTERNAL_ID: order_key, **body}
                if account:
                    record["Account"] = dict(by_customer)
                _contact_links(record, by_customer)
                self.queues["order"].append(Op("order", record, (order_id,), order_key))
            elif reference == "move":
                record = {"attributes": {"type": "Order"}, ORDER_EXTERNAL_ID: order_key, "Account": dict(by_customer)}
                record.update({name: body[name] for name in CONTACT_LINK_FIELDS if name in body})
                _contact_links(record, by_customer)
                self.queues["move"].append(Op("move", record, (order_id,), order_key))
            elif reference.startswith("del"):
                record_id = node["url"].rstrip("/").rsplit("/", 1)[-1]
                self.queues["delete"].append(Op("delete", record_id, (order_id,), record_id))
            elif reference.startswith("item"):
                item_key = self.store.external_id(int(reference.removeprefix("item")))
                if body.pop("OrderId", None) is not None:
                    body["Order"] = {ORDER_EXTERNAL_ID: order_key}
                record = {"attributes": {"type": "OrderItem"}, ITEM_EXTERNAL_ID: item_key, **body}
                self.queues["item"].append(Op("item", record, (order_id,), item_key, ref=reference))
            elif reference == "status":
                record = {"attributes": {"type": "Order"}, ORDER_EXTERNAL_ID: order_key, "Status": body["Status"]}
                self.queues["status"].append(Op("status", record, (order_id,), order_key))
            elif reference.startswith("event"):
                name = node["url"].rstrip("/").rsplit("/", 1)[-1]
                record = {"attributes": {"type": name}, **body}
                self.queues["event"].append(Op("event", record, (order_id,), order_key, ref=reference))
            else:  # product nodes never reach here: products are planned per batch
                raise ValueError(f"Order {order_id}: no collection operation for graph node {reference!r}")

    def plan_customers(self, accounts: dict[str, list[Any]]) -> None:
        for name, (body, owners) in accounts.items():
            kind, _, customer = name.partition(":")
            if kind.startswith("adopt"):
                # An existing record found by email gets the external id first; the upsert below then finds it.
                self.queues["adopt"].append(Op("adopt", body, tuple(owners), customer))
                continue
            sobject = "Account" if kind == "account" else "Contact"
            record = {"attributes": {"type": sobject}, CUSTOMER_EXTERNAL_ID: customer, **body}
            self.queues[kind].append(Op(kind, record, tuple(owners), customer))

    # -- sending -------------------------------------------------------------------------------
    def _alive(self, op: Op) -> bool:
        return any(owner not in self.out.failed for owner in op.owners)

    def _next_request(self) -> list[tuple[str, list[Op]]]:
        """The next composite's chunks: kinds in order, within the limits and the dependencies."""
        chunks: list[tuple[str, list[Op]]] = []
        kinds: set[str] = set()
        for kind in KIND_ORDER:
            queue = self.queues[kind]
            queue[:] = [op for op in queue if self._alive(op)]
            if not queue:
                continue
            if kinds & NEEDS_ANSWERS_OF.get(kind, frozenset()):
                break
            if kind == "item":
                # Every entry has answered by now (or failed its orders): an item without one cannot go.
                for op in queue:
                    if self._entry_missing(op):
                        error = SalesforceError("No price book entry for the product.", status=400, code="NO_ENTRY")
                        self._fail(op, error)
                queue[:] = [op for op in queue if self._alive(op)]
                if not queue:
                    continue
            while queue and len(chunks) < COMPOSITE_COLLECTIONS_MAX:
                chunks.append((kind, queue[:COLLECTION_RECORDS_MAX]))
                del queue[:COLLECTION_RECORDS_MAX]
                kinds.add(kind)
            if queue or len(chunks) >= COMPOSITE_COLLECTIONS_MAX:
                break
        return chunks

    def _entry_missing(self, op: Op) -> bool:
        value = op.record.get("PricebookEntryId")
        return isinstance(value, str) and value in self.placeholders and self.placeholders[value] not in self.entries

    def _materialized(self, op: Op) -> Any:
        if op.kind == "item":
            value = op.record.get("PricebookEntryId")
            if isinstance(value, str) and value in self.placeholders:
                return {**op.record, "PricebookEntryId": self.entries[self.placeholders[value]]}
        if op.kind == "event":
            bodies = self.out.bodies[op.owners[0]]
            return {
                name: _resolved(value, bodies) if isinstance(value, str) else value for name, value in op.record.items()
            }
        return op.record

    def _subrequest(self, index: int, kind: str, ops: list[Op]) -> dict[str, Any]:
        reference = f"{kind}{index}"
        records = [self._materialized(op) for op in ops]
        if kind == "delete":
            url = self.client.url("composite/sobjects") + f"?ids={','.join(records)}&allOrNone=false"
            return _node("DELETE", url, reference)
        body = {"allOrNone": False, "records": records}
        if kind in ("entry", "event"):
            return _node("POST", self.client.url("composite/sobjects"), reference, body)
        if kind in ("activate", "adopt"):
            return _node("PATCH", self.client.url("composite/sobjects"), reference, body)
        sobject, external = UPSERT_TARGETS[kind]
        return _node("PATCH", self.client.url(f"composite/sobjects/{sobject}/{external}"), reference, body)

    def run(self) -> None:
        """Send every planned operation, a composite request at a time."""
        while True:
            chunks = self._next_request()
            if not chunks:
                return
            subrequests = [self._subrequest(index, kind, ops) for index, (kind, ops) in enumerate(chunks)]
            responses = self.client.composite(subrequests, all_or_none=False)
            self.out.requests += 1
            self.out.records += sum(len(ops) for _, ops in chunks)
            by_reference = {response.get("referenceId"): response for response in responses}
            for subrequest, (kind, ops) in zip(subrequests, chunks, strict=True):
                self._answer(kind, ops, by_reference.get(subrequest["referenceId"]) or {})
            self._duplicates_resolve()

    # -- answers -------------------------------------------------------------------------------
    def _fail(self, op: Op, error: SalesforceError) -> None:
        text = f"{LABELS[op.kind]} {op.label}: {error}"
        for owner in op.owners:
            self.out.failed.setdefault(owner, Failure(error, text))

    def _answer(self, kind: str, ops: list[Op], response: dict[str, Any]) -> None:
        status = int(response.get("httpStatusCode") or 0)
        body = response.get("body")
        if status >= 400 or not isinstance(body, list):
            # The whole collection was refused (a request-level error): every record of it failed.
            error = error_from_body(body, status=status or 500)
            for op in ops:
                self._fail(op, error)
            return
        for index, op in enumerate(ops):
            if index >= len(body) or not isinstance(body[index], dict):
                self._fail(op, SalesforceError("No SaveResult for this record.", status=500, code="NO_RESULT"))
                continue
            self._result(op, body[index])

    def _result(self, op: Op, result: dict[str, Any]) -> None:
        error = save_result_error(result)
        if error is not None:
            if op.kind == "entry" and error.code == "DUPLICATE_VALUE":
                self.duplicates.append(op)  # the entry exists: looked up after this request
            elif not (op.kind == "delete" and error.code == "ENTITY_IS_DELETED"):
                self._fail(op, error)
            return
        record_id = str(result.get("id") or "")
        if op.kind == "product":
            self.product_ids[op.label] = record_id
        elif op.kind == "entry" and op.pair is not None:
            self.entries[op.pair] = record_id
        elif op.kind in ("account", "contact"):
            for owner in op.owners:
                self.out.bodies[owner][op.kind] = {"id": record_id}
        elif op.kind == "order":
            self.out.bodies[op.owners[0]]["order"] = {"id": record_id, "created": result.get("created")}
            if result.get("created") is False:
                # The Order existed although nothing was remembered of it: the sync that created it
                # (and whose local save was lost) published its Created event. Events go last, so
                # this one is withdrawn before it is sent.
                self.queues["event"] = [
                    event
                    for event in self.queues["event"]
                    if not (event.owners == op.owners and event.ref == "eventCreated")
                ]
        elif op.kind == "item":
            self.out.bodies[op.owners[0]][op.ref] = {"id": record_id}
        elif op.kind == "event":
            self.out.published[op.owners[0]].append(op.ref.removeprefix("event"))

    def _duplicates_resolve(self) -> None:
        """Entries that existed already (DUPLICATE_VALUE): one query finds them; inactive ones get activated."""
        if not self.duplicates:
            return
        duplicates, self.duplicates = self.duplicates, []
        keys = {op.pair[0] for op in duplicates if op.pair is not None}
        found = _entries_query(self.client, self.pricebook_id, keys, _multi_currency(self.client))
        for op in duplicates:
            assert op.pair is not None
            existing = found.get(op.pair)
            if existing is None:
                self._fail(
                    op,
                    SalesforceError(
                        "The price book entry exists (DUPLICATE_VALUE) but a query does not find it.",
                        status=400,
                        code="DUPLICATE_VALUE",
                    ),
                )
                continue
            product2_id, entry_id, active = existing
            self.product_ids.setdefault(op.pair[0], product2_id)
            if active:
                self.entries[op.pair] = entry_id
            else:
                self._activation_add(op.pair, entry_id, op.owners)


def _contact_links(record: dict[str, Any], by_customer: dict[str, str]) -> None:
    """The customer's Contact, upserted earlier in the batch, by its external id (see orders.links)."""
    for name in CONTACT_LINK_FIELDS:
        if record.get(name) == "@{contact.id}":
            del record[name]
            record[name.removesuffix("Id")] = dict(by_customer)


def _customer_plan(accounts: dict[str, list[Any]], kind: str, customer: str, node: dict[str, Any], owner: int) -> None:
    """Merge one Account or Contact node of ``account_contact_subrequests`` into the batch's customer records.

    A node that adopts an existing record (an upsert by Id carrying the external id) also plans that
    record's update by Id (``adopt``, first in the batch), so the upsert by external id finds it.
    """
    body = dict(node.get("body") or {})
    if CUSTOMER_EXTERNAL_ID in body:
        sobject = "Account" if kind == "account" else "Contact"
        record_id = node["url"].rstrip("/").rsplit("/", 1)[-1]
        adopt = {"attributes": {"type": sobject}, "Id": record_id, CUSTOMER_EXTERNAL_ID: customer}
        adopted, adopters = accounts.setdefault(f"adopt{kind}:{customer}", [{}, []])
        adopted.update(adopt)
        adopters.append(owner)
    if kind == "contact" and body.pop("AccountId", None) is not None:
        body["Account"] = {CUSTOMER_EXTERNAL_ID: customer}
    merged, owners = accounts.setdefault(f"{kind}:{customer}", [{}, []])
    merged.update(body)  # a later order of the customer wins, as its graph would run last
    owners.append(owner)


# ------------------------------------------------------------------------------------------------
# Passes
# ------------------------------------------------------------------------------------------------


def _products_plan(
    store: Store, prepared: list[PreparedOrder], refreshed: dict[tuple[str, str], tuple[str, str, bool]] | None
) -> tuple[
    dict[tuple[str, str], str], dict[tuple[str, str], dict[str, Any]], dict[tuple[str, str], tuple[str, str, bool]]
]:
    """(known entry ids, products to create, entries to activate) for the pass's orders."""
    needed = _products_needed(store, prepared)
    if refreshed is None:
        entries = {pair: row.pricebook_entry_id for pair, row in _products_known(store, needed).items()}
        return entries, {pair: line for pair, line in needed.items() if pair not in entries}, {}
    # After a failure nothing remembered about these products is trusted: Salesforce's answer is.
    _products_forget(store, needed)
    entries, work = _entries_apply(store, needed, refreshed, {})
    create = {pair: line for pair, (line, existing) in work.items() if existing is None}
    activate = {pair: existing for pair, (_, existing) in work.items() if existing is not None}
    return entries, create, activate


def _collections_pass(
    *,
    store: Store,
    client: SalesforceClient,
    pricebook_id: str,
    prepared: list[PreparedOrder],
    states: dict[int, OrderState],
    events: dict[int, bool],
    batch_prepared: list[PreparedOrder] | None,
    refreshed_entries: dict[tuple[str, str], tuple[str, str, bool]] | None = None,
) -> PassOutcome:
    """Build the orders' graphs, send what changed as collections, and collect the answers.

    ``batch_prepared``: every order of the batch, to compute each customer's analytics fields with
    all of them applied (None in the recovery pass: the first pass computed them).
    """
    work = _Pass(store=store, client=client, pricebook_id=pricebook_id)
    known, create, activate = _products_plan(store, prepared, refreshed_entries)
    entries: dict[tuple[str, str], str] = dict(known)
    for pair in create:
        entries[pair] = work.entry_placeholder(pair)
    for pair, (_, entry_id, _) in activate.items():
        entries[pair] = entry_id
    for entry in prepared:
        graph = _order_graph(
            store=store,
            client=client,
            prepared=entry,
            state=states[entry.order_id],
            pricebook_id=pricebook_id,
            products=ProductRefs(entries=entries),
            events_enabled=events[entry.order_id],
        )
        work.out.graphs.append(graph)
    pending = [graph for graph in work.out.graphs if not graph.unchanged]
    if batch_prepared is not None:
        _batch_account_extras(store, batch_prepared, pending)
    accounts: dict[str, list[Any]] = {}
    for graph in pending:
        work.plan_graph(graph, accounts)
    work.plan_customers(accounts)
    work.plan_products(create, activate)
    work.run()
    # What to remember of the products this pass made usable, with the orders that used them.
    learnt = {pair: entry_id for pair, entry_id in work.entries.items() if pair[0] in work.product_ids}
    for graph in pending:
        used = {(product_key(store.store_hash, line), graph.prepared.currency) for line in graph.prepared.lines}
        graph.products = ProductRefs(
            entries=entries,
            remember=[
                (key, currency, work.product_ids[key], learnt[(key, currency)])
                for key, currency in sorted(used & set(learnt))
            ],
        )
    return work.out


def _orders_soql(keys: list[str]) -> str:
    listed = ", ".join(soql_quote(key) for key in keys)
    # Every value is a quoted, escaped SOQL literal (soql_quote); the names are constants.
    return (
        f"SELECT Id, StatusCode, {ORDER_EXTERNAL_ID}, Account.{CUSTOMER_EXTERNAL_ID} FROM Order "  # noqa: S608
        f"WHERE {ORDER_EXTERNAL_ID} IN ({listed})"
    )


def _items_soql(keys: list[str]) -> str:
    listed = ", ".join(soql_quote(key) for key in keys)
    # Every value is a quoted, escaped SOQL literal (soql_quote); the names are constants.
    return (
        f"SELECT Id, {ITEM_EXTERNAL_ID}, Product2.{PRODUCT_EXTERNAL_ID}, OrderId, Order.StatusCode, "  # noqa: S608
        f"Order.{ORDER_EXTERNAL_ID} FROM OrderItem WHERE Order.{ORDER_EXTERNAL_ID} IN ({listed})"
    )


def _states_refresh(
    *,
    store: Store,
    client: SalesforceClient,
    pricebook_id: str,
    prepared: list[PreparedOrder],
    synced_rows: dict[int, SyncedOrder],
) -> tuple[dict[int, OrderState], dict[tuple[str, str], tuple[str, str, bool]]]:
    """The orders' items and their products' entries as Salesforce holds them.

    Queries of 100 external ids each, up to 5 in one composite request.
    """
    multi = _multi_currency(client)
    order_keys = sorted(store.external_id(entry.order_id) for entry in prepared)
    product_keys = sorted({product_key(store.store_hash, line) for entry in prepared for line in entry.lines})
    # The Orders themselves (an Order without items exists too), then their items: independent reads.
    queries = [("orders", _orders_soql(chunk)) for chunk in _chunks(order_keys, QUERY_CHUNK)]
    queries += [("items", _items_soql(chunk)) for chunk in _chunks(order_keys, QUERY_CHUNK)]
    queries += [("entries", _entries_soql(pricebook_id, chunk, multi)) for chunk in _chunks(product_keys, QUERY_CHUNK)]
    records: dict[str, list[dict[str, Any]]] = {"orders": [], "items": [], "entries": []}
    for group in _chunks(queries, COMPOSITE_COLLECTIONS_MAX):
        subrequests = [
            _node("GET", client.url("query") + "?q=" + quote(soql), f"{kind}{index}")
            for index, (kind, soql) in enumerate(group)
        ]
        # Answers matched by referenceId, never by position.
        answers = {
            response.get("referenceId"): response for response in client.composite(subrequests, all_or_none=False)
        }
        for subrequest, (kind, _) in zip(subrequests, group, strict=True):
            response = answers.get(subrequest["referenceId"]) or {}
            status = int(response.get("httpStatusCode") or 500)  # no answer: a failure
            if status >= 400:
                error = error_from_body(response.get("body"), status=status)
                error.message = f"Reading the orders' state from Salesforce failed: {error.message}"
                raise error
            body = response.get("body") or {}
            records[kind].extend(body.get("records") or [])
            while not body.get("done", True) and body.get("nextRecordsUrl"):
                body = client.request("GET", body["nextRecordsUrl"]) or {}
                records[kind].extend(body.get("records") or [])
    states = {entry.order_id: OrderState(synced=synced_rows.get(entry.order_id), refreshed=True) for entry in prepared}
    prefix = f"{store.store_hash}:"
    for order in records["orders"]:
        order_value = str(order.get(ORDER_EXTERNAL_ID) or "")
        if not order_value.startswith(prefix) or not order_value[len(prefix) :].isdigit():
            continue
        state = states.get(int(order_value[len(prefix) :]))
        if state is not None:  # the Order exists (with or without items), activated or not
            state.salesforce_id = order["Id"]
            state.activated = order.get("StatusCode") == "Activated"
            state.account_key = str((order.get("Account") or {}).get(CUSTOMER_EXTERNAL_ID) or "")
    for item in records["items"]:
        order = item.get("Order") or {}
        order_value = str(order.get(ORDER_EXTERNAL_ID) or "")
        if not order_value.startswith(prefix) or not order_value[len(prefix) :].isdigit():
            continue
        state = states.get(int(order_value[len(prefix) :]))
        if state is None:
            continue
        state.salesforce_id = item["OrderId"]
        state.activated = order.get("StatusCode") == "Activated"
        value = str(item.get(ITEM_EXTERNAL_ID) or "")
        if not value.startswith(prefix) or not value[len(prefix) :].isdigit():
            continue  # an item someone added by hand: not ours to change
        key = str((item.get("Product2") or {}).get(PRODUCT_EXTERNAL_ID) or "")
        state.items[int(value[len(prefix) :])] = ItemState(item["Id"], key, "")
    return states, _entries_parse(records["entries"], multi)


def _needs_refresh(graph: OrderGraph, bodies: dict[str, Any]) -> bool:
    """An Order that existed in Salesforce although nothing was remembered about it."""
    state = graph.state
    order = bodies.get("order") or {}
    return state.synced is None and not state.refreshed and order.get("created") is False


def orders_sync_collections(
    *,
    store: Store,
    client: SalesforceClient,
    pricebook_id: str,
    prepared: list[PreparedOrder],
    synced_rows: dict[int, SyncedOrder],
    events: bool,
    batch: BatchResult,
) -> tuple[list[tuple[OrderGraph, dict[str, Any]]], dict[int, str]]:
    """Sync prepared orders as collections: (graphs to record with their answers, {order id: reason})."""
    states = {entry.order_id: _state_local(synced_rows.get(entry.order_id)) for entry in prepared}
    first = _collections_pass(
        store=store,
        client=client,
        pricebook_id=pricebook_id,
        prepared=prepared,
        states=states,
        events=dict.fromkeys(states, events),
        batch_prepared=prepared,
    )
    batch.composite_requests += first.requests
    batch.collection_records += first.records
    batch.order_graphs = sum(1 for graph in first.graphs if not graph.unchanged)
    sent: list[tuple[OrderGraph, dict[str, Any]]] = []
    failed: dict[int, str] = {}
    again: list[PreparedOrder] = []
    for graph in first.graphs:
        order_id = graph.prepared.order_id
        failure = first.failed.get(order_id)
        bodies = {} if graph.unchanged else first.bodies[order_id]
        if failure is not None:
            if not failure.error.transient and failure.error.code in RECOVERABLE_CODES:
                again.append(graph.prepared)
            else:
                failed[order_id] = failure.text
        elif not graph.unchanged and _needs_refresh(graph, bodies):
            again.append(graph.prepared)
        else:
            sent.append((graph, bodies))
    if not again:
        return sent, failed
    logger.info("%s order(s) of the batch do not match the local state: reading Salesforce's and resending", len(again))
    batch.refreshed = len(again)
    try:
        refreshed, entries = _states_refresh(
            store=store, client=client, pricebook_id=pricebook_id, prepared=again, synced_rows=synced_rows
        )
    except SalesforceError as error:
        if error.transient:
            raise
        failed.update((entry.order_id, str(error)) for entry in again)
        return sent, failed
    second = _collections_pass(
        store=store,
        client=client,
        pricebook_id=pricebook_id,
        prepared=again,
        states=refreshed,
        # Events the first pass published are not published twice.
        events={entry.order_id: events and not first.published.get(entry.order_id) for entry in again},
        batch_prepared=None,
        refreshed_entries=entries,
    )
    batch.composite_requests += second.requests
    batch.collection_records += second.records
    for graph in second.graphs:
        order_id = graph.prepared.order_id
        failure = second.failed.get(order_id)
        if failure is not None:
            failed[order_id] = failure.text
            continue
        graph.events = first.published.get(order_id) or graph.events
        sent.append((graph, {} if graph.unchanged else second.bodies[order_id]))
    return sent, failed


def customers_upsert_collections(
    *, store: Store, client: SalesforceClient, customers: list[tuple[int, list[dict[str, Any]]]]
) -> dict[int, str]:
    """Upsert customers' Accounts and Contacts as collections in composite requests: {customer id: reason}.

    ``customers``: (customer id, ``account_contact_subrequests(...)``) pairs. The Contact names its
    Account by external id, so both go in the same request (about 500 customers a request).
    """
    work = _Pass(store=store, client=client, pricebook_id="")
    accounts: dict[str, list[Any]] = {}
    for customer_id, nodes in customers:
        for node in nodes:
            body = node.get("body") or {}
            customer_key = body.get(CUSTOMER_EXTERNAL_ID) or unquote(node["url"].rstrip("/").rsplit("/", 1)[-1])
            _customer_plan(accounts, node["referenceId"], customer_key, node, customer_id)
    work.plan_customers(accounts)
    work.run()
    return {customer_id: failure.text for customer_id, failure in work.out.failed.items()}
