"""Webhook handlers of cart recovery, registered in the intake's dispatch table at import."""

from __future__ import annotations

from datetime import UTC, datetime

from recovery.services import cart_abandonment_sync, cart_conversion_sync
from sync.handlers import HandlerResult, SkipEvent, handler_register
from sync.models import WebhookEvent


def event_moment(event: WebhookEvent) -> datetime:
    """When BigCommerce raised the event (its ``created_at``), else when b2s received it.

    The abandonment time comes from the delivery, not the clock, so a redelivery or a retry
    days later computes the same due date and close date.
    """
    if event.event_created_at:
        return datetime.fromtimestamp(event.event_created_at, tz=UTC)
    return event.received_at


def _data(event: WebhookEvent) -> dict:
    data = (event.body or {}).get("data")
    return data if isinstance(data, dict) else {}


@handler_register("store/cart/abandoned")
def cart_abandoned_handle(event: WebhookEvent) -> HandlerResult:
    """``store/cart/abandoned``: an Opportunity or Lead plus a recovery Task."""
    cart_id = str(_data(event).get("id") or event.resource_id or "").strip()
    if not cart_id:
        raise SkipEvent("The callback carries no cart id.")
    return cart_abandonment_sync(store=event.store, cart_id=cart_id, abandoned_at=event_moment(event))


@handler_register("store/cart/converted")
def cart_converted_handle(event: WebhookEvent) -> HandlerResult:
    """``store/cart/converted``: close the cart's Opportunity (won) or Lead (converted) and its Task."""
    data = _data(event)
    cart_id = str(data.get("id") or event.resource_id or "").strip()
    try:
        order_id = int(data["orderId"])
    except (KeyError, TypeError, ValueError):
        raise SkipEvent("The conversion callback carries no orderId.") from None
    if not cart_id:
        raise SkipEvent("The callback carries no cart id.")
    return cart_conversion_sync(store=event.store, cart_id=cart_id, order_id=order_id, converted_at=event_moment(event))
