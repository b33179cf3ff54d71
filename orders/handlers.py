"""The order feature's entries in the inbox's dispatch tables (``sync.handlers``): thin, each calls a service."""

from __future__ import annotations

from orders.batches import orders_sync_batch
from orders.catalog import CATALOG_SCOPES, catalog_event_product_id, catalog_events_sync, product_sync
from orders.services import (
    BATCHED_SCOPES,
    ORDER_SCOPES,
    SHIPMENT_SCOPES,
    order_event_id,
    order_sync,
)
from orders.writeback import order_writeback
from orders.writeback_rules import WRITEBACK_SCOPE
from sync.bigcommerce import bigcommerce_client
from sync.handlers import BatchOutcome, HandlerResult, SkipEvent, batch_handler_register, handler_register
from sync.models import Store, WebhookEvent


@handler_register(*ORDER_SCOPES, *SHIPMENT_SCOPES)
def order_event_handle(event: WebhookEvent) -> HandlerResult:
    """store/order/* and store/shipment/*: converge the order in Salesforce to its current state."""
    # Webhook processing writes the audit entry from the result (with the requests it counted).
    return order_sync(store=event.store, order_id=order_event_id(event), event_scope=event.scope, audit=False)


@batch_handler_register(*BATCHED_SCOPES)
def order_events_handle_together(store: Store, events: list[WebhookEvent]) -> dict[int, BatchOutcome]:
    """Order events claimed together (a live burst): one converge for all their orders.

    The orders are read with the order list (``orders_by_id``: one request per 250 neighbouring ids) and
    synced by ``orders_sync_batch``, as the backfill does, so a burst shares its BigCommerce and
    Salesforce requests; events of one order get that order's one result. An order the list leaves out,
    or one the batch could not sync, is left to the single handler (its own fetch, its recovery and its
    error classification).
    """
    by_order: dict[int, list[WebhookEvent]] = {}
    for event in events:
        try:
            by_order.setdefault(order_event_id(event), []).append(event)
        except (SkipEvent, TypeError, ValueError):
            continue  # the single handler says what is wrong with it
    orders = bigcommerce_client(store).orders_by_id(by_order)
    if not orders:
        return {}
    batch = orders_sync_batch(store=store, orders=list(orders.values()), audit=False)
    return {event.pk: result for order_id, result in batch.results.items() for event in by_order.get(order_id, ())}


@handler_register(*CATALOG_SCOPES)
def catalog_event_handle(event: WebhookEvent) -> HandlerResult:
    """store/product/* and store/sku/*: converge the product's Product2 records and price book entries."""
    return product_sync(
        store=event.store, product_id=catalog_event_product_id(event), event_scope=event.scope, audit=False
    )


@batch_handler_register(*CATALOG_SCOPES)
def catalog_events_handle_together(store: Store, events: list[WebhookEvent]) -> dict[int, BatchOutcome]:
    """Product and SKU events claimed together (a bulk edit): one ``id:in`` read and one plan for their products."""
    return catalog_events_sync(store=store, events=events)


@handler_register(WRITEBACK_SCOPE)
def order_writeback_handle(event: WebhookEvent) -> HandlerResult:
    """An Order changed in Salesforce by someone other than b2s (stored by the poll): write it to BigCommerce."""
    return order_writeback(event=event)
