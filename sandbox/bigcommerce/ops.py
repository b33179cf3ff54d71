"""State changes shared by the generator and the live stand-in: shipping, refunding, re-statusing.

Each function changes the store records only; the caller holds the store lock and fires webhooks.
Invalid requests raise ``ValueError`` with a message fit for a 400 answer.
"""

from __future__ import annotations

import random
import string
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.bigcommerce.store import (
    ORDER_STATUSES,
    ZERO,
    Order,
    Refund,
    RefundItem,
    Shipment,
    StoreData,
    line_discounts,
    money,
    order_refundable,
    order_totals,
)

# Payment provider ids as BigCommerce names them in refund payments.
PROVIDER_BY_METHOD = {
    "Credit Card": "braintree",
    "PayPal": "paypalcommerce",
    "Test Payment Gateway": "testgateway",
    "Cash on Delivery": "cod",
    "Manual": "custom",
}
OFFLINE_METHODS = {"Cash on Delivery", "Manual", "Cash"}


def tracking_number(rng: random.Random, provider: str) -> str:
    if provider == "ups":
        return "1Z" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    if provider == "royalmail":
        return "RM" + "".join(rng.choice(string.digits) for _ in range(9)) + "GB"
    return "".join(rng.choice(string.digits) for _ in range(12))


def status_set(order: Order, status_id: int, *, now: datetime) -> int:
    """Set an order's status; return the previous one."""
    if status_id not in ORDER_STATUSES:
        raise ValueError(f"unknown status_id {status_id!r} (0-14)")
    previous = order.status_id
    order.status_id = status_id
    order.date_modified = max(order.date_modified, now)
    return previous


def _item_request(entry: dict[str, Any]) -> tuple[int, int]:
    """``(order_product_id, quantity)`` of one requested item of a shipment or refund (quantity defaults to 1)."""
    try:
        return int(entry["order_product_id"]), int(entry.get("quantity", 1))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError("items need order_product_id and quantity") from exc


def shipment_add(
    data: StoreData,
    order: Order,
    *,
    rng: random.Random,
    now: datetime,
    items: list[dict[str, Any]] | None = None,
    tracking: str | None = None,
    shipping_provider: str = "ups",
    tracking_carrier: str = "",
    comments: str = "",
    shipping_method: str | None = None,
    tracking_link: str = "",
    merchant_shipping_cost: Decimal = ZERO,
) -> Shipment:
    """Ship some (``items``: ``[{order_product_id, quantity}]``) or all remaining physical units.

    The order becomes Shipped (2) when every physical unit has shipped, else Partially Shipped (3);
    a refunded or partially refunded order keeps its refund status.
    """
    if order.shipping is None:
        raise ValueError(f"order {order.id} has no shipping address")
    physical = {line.id: line for line in order.lines if line.type == "physical"}
    wanted: list[tuple[int, int]] = []
    if items is None:
        wanted = [(line.id, line.quantity - line.quantity_shipped) for line in physical.values()]
        wanted = [(line_id, quantity) for line_id, quantity in wanted if quantity > 0]
    else:
        asked: dict[int, int] = {}
        for entry in items:
            line_id, quantity = _item_request(entry)
            if line_id not in physical:
                raise ValueError(f"order {order.id} has no physical line {line_id}")
            if quantity < 1:
                raise ValueError(f"cannot ship {quantity} of line {line_id}")
            asked[line_id] = asked.get(line_id, 0) + quantity
        for line_id, quantity in asked.items():
            line = physical[line_id]
            left = line.quantity - line.quantity_shipped
            if quantity > left:
                raise ValueError(f"cannot ship {quantity} of line {line_id}: {left} left to ship")
            wanted.append((line_id, quantity))
    if not wanted:
        raise ValueError(f"order {order.id} has nothing left to ship")
    for line_id, quantity in wanted:
        physical[line_id].quantity_shipped += quantity
    shipment = Shipment(
        id=data.counters.take("shipment"),
        order_id=order.id,
        date_created=now,
        tracking_number=tracking if tracking is not None else tracking_number(rng, shipping_provider),
        shipping_provider=shipping_provider,
        tracking_carrier=tracking_carrier,
        shipping_method=order.shipping.shipping_method if shipping_method is None else shipping_method,
        comments=comments,
        order_address_id=order.shipping.id,
        items=[(line_id, physical[line_id].product_id, quantity) for line_id, quantity in wanted],
        tracking_link=tracking_link,
        merchant_shipping_cost=merchant_shipping_cost,
    )
    order.shipments.append(shipment)
    order.date_shipped = now
    order.date_modified = max(order.date_modified, now)
    if order.status_id not in (4, 14):
        everything = all(line.quantity_shipped >= line.quantity for line in physical.values())
        order.status_id = 2 if everything else 3
    return shipment


def refund_add(
    data: StoreData,
    order: Order,
    *,
    now: datetime,
    amount: Any = None,
    items: list[dict[str, Any]] | None = None,
    reason: str = "",
) -> Refund:
    """Refund an order: ``items`` (``[{order_product_id, quantity}]``), an ``amount``, or (neither) in full.

    ``refunded_amount`` and the lines' refund fields follow; the status becomes Refunded (4) when
    nothing is left to refund, else Partially Refunded (14).
    """
    refundable = order_refundable(order)
    if refundable <= 0:
        raise ValueError(f"order {order.id} is already fully refunded")
    refund_items: list[RefundItem] = []
    line_updates: list[tuple[Any, int, Decimal]] = []
    if items:
        discounts = line_discounts(order)
        lines = {line.id: line for line in order.lines}
        total = ZERO
        for entry in items:
            line_id, quantity = _item_request(entry)
            line = lines.get(line_id)
            if line is None:
                raise ValueError(f"order {order.id} has no line {line_id}")
            if quantity < 1 or line.quantity_refunded + quantity > line.quantity:
                raise ValueError(f"cannot refund {quantity} of line {line_id}")
            paid = line.total_inc_tax - sum((d["amount"] for d in discounts[line_id]), ZERO)
            part = money(paid * quantity / line.quantity)
            total += part
            refund_items.append(RefundItem("PRODUCT", line_id, quantity, None, reason))
            line_updates.append((line, quantity, part))
        total = min(total, refundable)
    elif amount is None:
        total = refundable
        refund_items.append(RefundItem("ORDER", order.id, None, total, reason))
    else:
        total = money(amount)
        if total <= 0 or total > refundable:
            raise ValueError(f"refund amount must be above 0 and at most {refundable} (what is left)")
        refund_items.append(RefundItem("ORDER", order.id, None, total, reason))
    if total <= 0:
        raise ValueError("nothing to refund")
    totals = order_totals(order)
    tax = money(total * totals.total_tax / totals.total_inc_tax) if totals.total_inc_tax else ZERO
    for line, quantity, part in line_updates:
        line.quantity_refunded += quantity
        line.refund_amount += part
    refund = Refund(
        id=data.counters.take("refund"),
        order_id=order.id,
        created=now,
        reason=reason,
        total_amount=total,
        total_tax=tax,
        items=refund_items,
        payment_id=data.counters.take("refund_payment"),
        provider_id=PROVIDER_BY_METHOD.get(order.payment_method, "custom"),
        offline=order.payment_method in OFFLINE_METHODS,
    )
    order.refunds.append(refund)
    data.refunds[refund.id] = refund
    order.status_id = 4 if order_refundable(order) <= 0 else 14
    order.date_modified = max(order.date_modified, now)
    return refund
