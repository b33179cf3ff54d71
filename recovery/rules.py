"""Pure rules of cart recovery: values, dates, texts. No I/O, so they are cheap to test."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sync.bigcommerce import money

CENT = Decimal("0.01")
ITEM_GROUPS = ("physical_items", "digital_items", "custom_items")
SATURDAY = 5
TIMES = "\u00d7"  # the multiplication sign, as in "name TIMES qty @ price"


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half up, as currency fields are stored."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def next_business_day(day: date) -> date:
    """The next Monday to Friday after ``day`` (Friday, Saturday and Sunday all lead to Monday)."""
    following = day + timedelta(days=1)
    while following.weekday() >= SATURDAY:
        following += timedelta(days=1)
    return following


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar date of ``moment`` in the store's time zone."""
    return moment.astimezone(tz).date()


def salesforce_datetime(moment: datetime) -> str:
    """A DateTime field value as Salesforce writes it: UTC with milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def task_priority(value: Decimal, high_from: Decimal) -> str:
    """High strictly above the high-priority threshold, else Normal."""
    return "High" if value > high_from else "Normal"


def cart_items(cart: dict[str, Any]) -> Iterable[tuple[str, int, Decimal]]:
    """(name, quantity, unit price) of every line of a v3 cart, gift certificates included."""
    line_items = cart.get("line_items") or {}
    for group in ITEM_GROUPS:
        for item in line_items.get(group) or []:
            # Custom items carry only list_price; catalog items are sold at sale_price.
            price = item.get("sale_price")
            if price is None or price == "":
                price = item.get("list_price")
            yield str(item.get("name") or item.get("sku") or "Item"), int(item.get("quantity") or 1), money(price)
    for certificate in line_items.get("gift_certificates") or []:
        name = str(certificate.get("name") or "Gift certificate")
        yield name, int(certificate.get("quantity") or 1), money(certificate.get("amount"))


def items_description(cart: dict[str, Any]) -> str:
    """One line per item: ``name {TIMES} qty @ price`` (the multiplication sign, as sales reps read it)."""
    return "\n".join(f"{name} {TIMES} {quantity} @ {cents(price)}" for name, quantity, price in cart_items(cart))


def display_name(document: dict[str, Any]) -> str:
    """The "First Last" of a customer document (empty when neither is known)."""
    first = str(document.get("first_name") or "").strip()
    last = str(document.get("last_name") or "").strip()
    return f"{first} {last}".strip()


def email_local_part(email: str) -> str:
    """What comes before the @; the fallback last name, never a made-up one."""
    return email.split("@", 1)[0].strip()


def cart_event_key(*, cart_key: str, kind: str, abandoned_at: datetime) -> str:
    """The platform event's EventKey__c: a SHA-256 hex of the store's cart key, the event kind and the
    abandonment time, so every publication of one abandonment (a retry included) carries the same key."""
    moment = abandoned_at.astimezone(UTC).isoformat(timespec="microseconds")
    return hashlib.sha256(f"{cart_key}|{kind}|{moment}".encode()).hexdigest()
