"""Reads that cart recovery shares between its services, tasks and admin."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from analytics.models import LedgerEntry
from orders.models import SyncedOrder
from recovery.models import Cart
from sync.models import Store


def cart_local_get(*, store: Store, cart_id: str) -> Cart | None:
    """The local record of a cart, or None when b2s never saw it."""
    return Cart.objects.filter(store=store, cart_id=cart_id).select_related("store").first()


def carts_opportunities(store: Store, cart_ids: Collection[str]) -> dict[str, str]:
    """cart id → the Opportunity Id cart recovery made of it (carts with one only): an order placed from the
    cart links it (lent to the order sync through ``orders.links.cart_opportunities_provide``)."""
    rows = Cart.objects.filter(store=store, cart_id__in=list(cart_ids)).exclude(opportunity_id="")
    return dict(rows.values_list("cart_id", "opportunity_id"))


def carts_expirable(*, cutoff: datetime, opportunities: bool, leads: bool) -> QuerySet[Cart]:
    """Open carts abandoned at or before ``cutoff`` whose Opportunity (and/or Lead) is to be closed.

    Which carts are open is known locally; nothing is asked of Salesforce.
    """
    kinds = Q(pk__in=[])
    if opportunities:
        kinds |= ~Q(opportunity_id="")
    if leads:
        kinds |= Q(opportunity_id="") & ~Q(lead_id="")
    return (
        Cart.objects.filter(state=Cart.State.OPEN, abandoned_at__lte=cutoff)
        .filter(kinds)
        .select_related("store")
        .order_by("abandoned_at", "id")
    )


@dataclass(frozen=True)
class KnownOrder:
    """What b2s already knows about an order from the order sync or the analytics ledger."""

    total: Decimal
    salesforce_id: str
    source: str


def order_known(*, store: Store, order_id: int) -> KnownOrder | None:
    """The order's total (and Salesforce Order id) when the order has already synced; None otherwise."""
    synced = SyncedOrder.objects.filter(store=store, order_id=order_id).first()
    if synced is not None:
        return KnownOrder(total=synced.grand_total, salesforce_id=synced.salesforce_id, source="synced_order")
    entry = LedgerEntry.objects.filter(store=store, order_id=order_id).first()
    if entry is not None:
        return KnownOrder(total=entry.gross_total, salesforce_id="", source="ledger")
    return None
