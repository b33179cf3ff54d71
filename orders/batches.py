"""Several orders at once: a live burst (the drain's batch handler) and the backfill.

The same per-order decisions as ``orders.services`` (one order's plan, its graph, its recording), made
once for a set of orders and sent to Salesforce together: sObject Collections in composite requests
(``orders.collections``) from ``batch_collections_min_orders`` orders on, else packed composite graphs.
This module sits above both, so neither imports the other back. The steps tests stand in for (recording,
the analytics staging) are called through their module, ``services.<name>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from orders import services
from orders.collections import orders_sync_collections
from orders.models import SyncedOrder
from orders.services import (
    COLLECTIONS_MIN_KEY,
    GRAPHS_PER_REQUEST,
    NODES_PER_REQUEST,
    BatchResult,
    OrderGraph,
    OrderSyncError,
    PreparedOrder,
    ProductRefs,
    _graph_bodies,
    _opportunities_attach,
    _order_graph,
    _order_prepare,
    _products_needed,
    _products_planned,
    _products_remember,
    _products_resolve,
    _resolved,
    _state_local,
    customer_documents,
    order_sync,
)
from sync.bigcommerce import bigcommerce_calls_counted
from sync.config import config
from sync.customers import customer_identity_resolved, customers_leads_convert, customers_match
from sync.salesforce import (
    SalesforceError,
    chunks_bounded,
    graph_error,
    salesforce_calls_counted,
    salesforce_client,
)

if TYPE_CHECKING:
    from sync.models import Store
    from sync.salesforce import SalesforceClient

logger = logging.getLogger(__name__)


def _batch_products(
    *, store: Store, client: SalesforceClient, pricebook_id: str, prepared: list[PreparedOrder]
) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    """Make every product of the batch usable before the orders: (entry ids, products that failed)."""
    if not config.flag("order_line_items"):
        return {}, set()
    needed = _products_needed(store, prepared)
    entries, work = _products_resolve(store=store, client=client, pricebook_id=pricebook_id, needed=needed)
    failed: set[tuple[str, str]] = set()
    graphs = [
        (pair, {"graphId": f"product{index}", "compositeRequest": nodes}, remember)
        for index, (pair, nodes, _, remember) in enumerate(
            _products_planned(store=store, client=client, pricebook_id=pricebook_id, work=work)
        )
    ]
    for chunk in _payloads(graphs, lambda item: len(item[1]["compositeRequest"])):
        results = client.composite_graph([graph for _, graph, _ in chunk])
        for (pair, _, remember), result in zip(chunk, results, strict=True):
            error = graph_error(result)
            if error is not None:
                logger.warning("Product %s could not be created: %s", pair[0], error)
                failed.add(pair)
                continue
            bodies = _graph_bodies(result)
            key, currency, product, entry = remember
            entry_id = _resolved(entry, bodies)
            _products_remember(store, [(key, currency, _resolved(product, bodies), entry_id)])
            entries[pair] = entry_id
    return entries, failed


def _payloads(items: list[Any], size_of: Callable[[Any], int]) -> Iterable[list[Any]]:
    """Group graphs into requests within Salesforce's per-request limits (75 graphs, 500 nodes)."""
    return chunks_bounded(items, max_items=GRAPHS_PER_REQUEST, max_weight=NODES_PER_REQUEST, weight=size_of)


def orders_sync_batch(
    *,
    store: Store,
    orders: list[dict],
    events: bool = True,
    audit: bool = True,
    shipments: bool = True,
    collections_min: int | None = None,
) -> BatchResult:
    """Sync several already-fetched orders (``GET /v2/orders`` with the consignments' lines).

    BigCommerce: one ``/v3/customers`` request for all unseen registered customers (plus lines as
    in ``order_sync``, and ``/shipments`` for orders shipped since last read unless ``shipments``
    is False: their tracking fields are then left as Salesforce holds them).

    Salesforce, for a batch of at least ``collections_min`` orders (default: the
    ``batch_collections_min_orders`` threshold): sObject Collections packed into composite
    requests (see ``orders.collections``), about 1,000 records a request. Smaller batches: one
    query for unknown products, their creation as one graph per product, then one graph per order,
    packed into as few requests as Salesforce's limits allow (75 graphs and 500 nodes per request);
    an order whose graph fails is retried on its own through ``order_sync`` (with its recovery).

    Either way each order is recorded locally (ids, ledger, audit) only when everything Salesforce
    was sent for it succeeded; a failed order is in ``failed`` with the reason and is left for the
    next run. ``events=False`` publishes no platform events (a backfill of history);
    ``audit=False`` writes no per-order audit entries (the caller writes its own summary entry).
    """
    batch = BatchResult()
    started = time.monotonic()
    with salesforce_calls_counted() as sf_calls, bigcommerce_calls_counted() as bc_calls:
        client = salesforce_client()
        order_ids = [int(order["id"]) for order in orders]
        synced_rows = {
            row.order_id: row
            for row in SyncedOrder.objects.filter(store=store, order_id__in=order_ids).prefetch_related("items")
        }
        customers = customer_documents(
            store=store, customer_ids={int(order.get("customer_id") or 0) for order in orders}
        )
        prepared: list[PreparedOrder] = []
        for order in orders:
            order_id = int(order["id"])
            try:
                prepared.append(
                    _order_prepare(
                        store=store,
                        order=order,
                        event_scope="",
                        synced=synced_rows.get(order_id),
                        customers=customers,
                        client=client,
                        fetch_shipments=shipments,
                    )
                )
            except OrderSyncError as error:
                batch.failed[order_id] = str(error)
        _opportunities_attach(store, prepared)
        found = customers_match(store=store, client=client, identities=[entry.identity for entry in prepared])
        matches = customers_leads_convert(client=client, matches=found)
        for entry in prepared:
            entry.customer_match = matches.get(entry.identity.key)
            entry.identity = customer_identity_resolved(entry.identity, entry.customer_match)
        batch.shipment_requests = sum(1 for entry in prepared if entry.shipments_fetched)
        batch.shipments_skipped = sum(1 for entry in prepared if entry.shipments_skipped)
        pricebook_id = client.standard_pricebook_id()
        minimum = collections_min if collections_min is not None else int(config.threshold(COLLECTIONS_MIN_KEY))
        retry: list[PreparedOrder] = []
        if prepared and len(orders) >= minimum:
            batch.mode = "collections"
            sent, failed = orders_sync_collections(
                store=store,
                client=client,
                pricebook_id=pricebook_id,
                prepared=prepared,
                synced_rows=synced_rows,
                events=events,
                batch=batch,
            )
            batch.failed.update(failed)
        else:
            sent, retry = _batch_graphs(
                store=store,
                client=client,
                pricebook_id=pricebook_id,
                prepared=prepared,
                synced_rows=synced_rows,
                events=events,
                batch=batch,
            )
        share_sf = sf_calls.count / max(1, len(sent))
        share_bc = bc_calls.count / max(1, len(orders))
        # The whole batch recorded at once (as if order by order, in the order the graphs ran).
        batch.results.update(
            services._order_record(
                store=store,
                sent=sent,
                salesforce_calls=round(share_sf),
                bigcommerce_calls=round(share_bc),
                started=started,
                audit=audit,
                details={"batch": batch.mode},
            )
        )
        for entry in retry:
            try:
                batch.results[entry.order_id] = order_sync(
                    store=store, order_id=entry.order_id, order=entry.order, audit=audit
                )
            except SalesforceError as error:
                batch.failed[entry.order_id] = str(error)
        batch.salesforce_requests = sf_calls.count
        batch.bigcommerce_requests = bc_calls.count
    return batch


def _batch_graphs(
    *,
    store: Store,
    client: SalesforceClient,
    pricebook_id: str,
    prepared: list[PreparedOrder],
    synced_rows: dict[int, SyncedOrder],
    events: bool,
    batch: BatchResult,
) -> tuple[list[tuple[OrderGraph, dict[str, Any]]], list[PreparedOrder]]:
    """The graph path of a small batch: (graphs to record with their answers, orders to retry alone)."""
    entries, failed_products = _batch_products(store=store, client=client, pricebook_id=pricebook_id, prepared=prepared)
    graphs: list[OrderGraph] = []
    retry: list[PreparedOrder] = []
    for entry in prepared:
        if failed_products & set(_products_needed(store, [entry])):
            retry.append(entry)
            continue
        refs = ProductRefs(entries=dict(entries))
        graph = _order_graph(
            store=store,
            client=client,
            prepared=entry,
            state=_state_local(synced_rows.get(entry.order_id)),
            pricebook_id=pricebook_id,
            products=refs,
            events_enabled=events,
        )
        graphs.append(graph)
    sent: list[tuple[OrderGraph, dict[str, Any]]] = [(graph, {}) for graph in graphs if graph.unchanged]
    pending = [graph for graph in graphs if not graph.unchanged]
    services._batch_account_extras(store, prepared, pending)
    batch.order_graphs = len(pending)
    batch.order_nodes = sum(len(graph.nodes) for graph in pending)
    for chunk in _payloads(pending, lambda graph: len(graph.nodes)):
        batch.order_requests += 1
        results = client.composite_graph(
            [{"graphId": graph.graph_id, "compositeRequest": graph.nodes} for graph in chunk]
        )
        for graph, result in zip(chunk, results, strict=True):
            error = graph_error(result)
            if error is None:
                sent.append((graph, _graph_bodies(result)))
            elif error.transient:
                batch.failed[graph.prepared.order_id] = str(error)
            else:
                retry.append(graph.prepared)
    return sent, retry
