"""Sync again now: a fresh inbox event that makes a resource's handler re-read it from BigCommerce and converge.

Replay re-runs an event as it was received; a resync stores a *new* event about the resource's current
state (an order or a customer "updated", a cart's abandonment or conversion again), so it goes through the
same processing as a delivery: the per-resource lease, retries, the audit entry and the event's history.
Every handler re-reads its resource from BigCommerce (an order, a customer, a cart), so the event's body
only names the resource.

A resync is not a delivery from BigCommerce: its hash is ``resync:<random>``, never BigCommerce's digest
of ``data``, so it cannot collide with a delivery (the unique constraint on store, scope, hash and
``created_at``) nor with another resync, and the ``X-B2S-Resync`` header names who asked for it.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from sync.models import Store, WebhookEvent
from sync.services.webhooks import inbox_doorbell_ring

logger = logging.getLogger(__name__)

RESYNC_HEADER = "X-B2S-Resync"
ORDER_UPDATED = "store/order/updated"
CUSTOMER_UPDATED = "store/customer/updated"
CART_ABANDONED = "store/cart/abandoned"
CART_CONVERTED = "store/cart/converted"


class ResyncUnsupported(ValueError):
    """The event names no resource b2s can read again (an ignored scope, a body without the id)."""


@dataclass(frozen=True)
class ResyncTarget:
    """What a resync event says: its scope, the resource and the extra ``data`` its handler reads."""

    scope: str
    resource_type: str
    resource_id: str
    extra: dict[str, Any] = field(default_factory=dict)
    # The moment the handler takes from the event (a cart's abandonment); None: now.
    created_at: int | None = None


@dataclass(frozen=True)
class ResyncCount:
    """How many events a bulk resync stored, and how many it could not resync (their ids)."""

    created: list[int]
    unsupported: list[int]


def _data(event: WebhookEvent) -> dict[str, Any]:
    data = (event.body or {}).get("data")
    return data if isinstance(data, dict) else {}


def _identifier(value: Any) -> str:
    text = "" if value is None or isinstance(value, bool) else str(value).strip()
    return text if text and len(text) <= 64 else ""


def resync_target(event: WebhookEvent) -> ResyncTarget:
    """The resource ``event`` is about, as a resync names it; raises ResyncUnsupported.

    Shipments and refunds resync their order; address events their customer; a cart keeps its event's
    moment (the abandonment a handler dates the follow-up Task from) and, once converted, its order.
    """
    data = _data(event)
    scope = event.scope
    if scope.startswith("store/shipment/"):
        order_id = _identifier(data.get("orderId") or data.get("order_id"))
        if order_id:
            return ResyncTarget(ORDER_UPDATED, "order", order_id)
    elif scope.startswith("store/order/"):
        order_id = _identifier(data.get("id") or event.resource_id)
        if order_id:
            return ResyncTarget(ORDER_UPDATED, "order", order_id)
    elif scope.startswith("store/customer/"):
        address = data.get("address")
        from_address = address.get("customer_id") if isinstance(address, dict) else None
        customer_id = _identifier(from_address or (None if "address" in scope else data.get("id") or event.resource_id))
        if customer_id:
            return ResyncTarget(CUSTOMER_UPDATED, "customer", customer_id)
    elif scope in (CART_ABANDONED, CART_CONVERTED):
        cart_id = _identifier(data.get("id") or event.resource_id)
        moment = event.event_created_at or int(event.received_at.timestamp())
        if cart_id and scope == CART_ABANDONED:
            return ResyncTarget(CART_ABANDONED, "cart", cart_id, created_at=moment)
        order_id = _identifier(data.get("orderId"))
        if cart_id and order_id:
            return ResyncTarget(CART_CONVERTED, "cart", cart_id, {"orderId": int(order_id)}, created_at=moment)
    raise ResyncUnsupported(f"Event {event.pk} ({scope}) names no order, customer or cart to read again.")


def resource_resync(*, store: Store, target: ResyncTarget, requested_by: str = "") -> WebhookEvent:
    """Store a pending event for ``target`` and ring for a drain; returns the new event."""
    digest = f"resync:{uuid.uuid4().hex}"
    created_at = int(time.time()) if target.created_at is None else target.created_at
    data: dict[str, Any] = {"type": target.resource_type, "id": target.resource_id, **target.extra}
    body = {
        "scope": target.scope,
        "store_id": store.store_id or "0",
        "data": data,
        "hash": digest,
        "created_at": created_at,
        "producer": f"stores/{store.store_hash}",
    }
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            store=store,
            scope=target.scope,
            resource_type=target.resource_type,
            resource_id=target.resource_id,
            hash=digest,
            event_created_at=created_at,
            body=body,
            headers={RESYNC_HEADER: f"requested by {requested_by or 'b2s'}"},
            status=WebhookEvent.Status.PENDING,
        )
        transaction.on_commit(lambda: inbox_doorbell_ring(force=True))
    logger.info("Resync of %s %s for store %s: event %s", target.resource_type, target.resource_id, store.pk, event.pk)
    return event


def webhook_event_resync(*, event: WebhookEvent, requested_by: str = "") -> WebhookEvent:
    """Sync again the resource ``event`` is about (see ``resync_target``); raises ResyncUnsupported."""
    return resource_resync(store=event.store, target=resync_target(event), requested_by=requested_by)


def webhook_events_resync(*, events: QuerySet[WebhookEvent], requested_by: str = "") -> ResyncCount:
    """Sync again the resources of several events, each resource once."""
    created: list[int] = []
    unsupported: list[int] = []
    seen: set[tuple[int, str, str]] = set()
    for event in events.select_related("store").order_by("pk"):
        try:
            target = resync_target(event)
        except ResyncUnsupported:
            unsupported.append(event.pk)
            continue
        key = (event.store_id, target.scope, target.resource_id)
        if key in seen:
            continue
        seen.add(key)
        created.append(resource_resync(store=event.store, target=target, requested_by=requested_by).pk)
    return ResyncCount(created=created, unsupported=unsupported)


def order_resync(*, store: Store, order_id: int, requested_by: str = "") -> WebhookEvent:
    """Sync an order again (re-read from BigCommerce, converged in Salesforce)."""
    return resource_resync(
        store=store, target=ResyncTarget(ORDER_UPDATED, "order", str(order_id)), requested_by=requested_by
    )


def cart_resync(
    *,
    store: Store,
    cart_id: str,
    abandoned_at: datetime | None,
    order_id: int | None = None,
    converted_at: datetime | None = None,
    requested_by: str = "",
) -> WebhookEvent:
    """Sync a cart again: its conversion when it became an order, else its abandonment (at the same moment).

    Keeping the recorded moment makes the handler treat it as the same abandonment (no new platform event,
    no second count), only brought up to date with the cart's current contents.
    """
    if order_id:
        moment = converted_at or abandoned_at
        target = ResyncTarget(
            CART_CONVERTED, "cart", cart_id, {"orderId": order_id}, int(moment.timestamp()) if moment else None
        )
    else:
        target = ResyncTarget(
            CART_ABANDONED, "cart", cart_id, created_at=int(abandoned_at.timestamp()) if abandoned_at else None
        )
    return resource_resync(store=store, target=target, requested_by=requested_by)
