"""Pure rules of cart recovery: due dates, priority, item lines, money."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from recovery import rules


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 12, 1), date(2025, 12, 2)),  # Monday → Tuesday
        (date(2025, 12, 4), date(2025, 12, 5)),  # Thursday → Friday
        (date(2025, 12, 5), date(2025, 12, 8)),  # Friday → Monday
        (date(2025, 12, 6), date(2025, 12, 8)),  # Saturday → Monday
        (date(2025, 12, 7), date(2025, 12, 8)),  # Sunday → Monday
    ],
)
def test_next_business_day(day, expected):
    assert rules.next_business_day(day) == expected


def test_local_date_uses_the_store_time_zone():
    # 23:30 UTC on a Friday is already Saturday in Berlin and still Friday in New York.
    moment = datetime(2025, 12, 5, 23, 30, tzinfo=UTC)
    assert rules.local_date(moment, ZoneInfo("Europe/Berlin")) == date(2025, 12, 6)
    assert rules.local_date(moment, ZoneInfo("America/New_York")) == date(2025, 12, 5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("500.00", "Normal"), ("500.01", "High"), ("499.99", "Normal"), ("10000", "High")],
)
def test_task_priority_is_high_strictly_above_the_threshold(value, expected):
    assert rules.task_priority(Decimal(value), Decimal("500")) == expected


def test_items_description_one_line_per_item_with_exact_prices():
    cart = {
        "line_items": {
            "physical_items": [{"name": "Openhouse No. 3", "quantity": 5, "sale_price": 27.95, "list_price": 29.95}],
            "digital_items": [{"name": "Field Guide", "quantity": 1, "sale_price": 9.99}],
            # Custom items carry only list_price, and the OpenAPI schema types it as a string.
            "custom_items": [{"name": "Rope Toy", "quantity": "2", "list_price": "5.9900"}],
            "gift_certificates": [{"name": "Happy Birthday", "amount": 50, "quantity": 1}],
        }
    }
    assert rules.items_description(cart).splitlines() == [
        "Openhouse No. 3 \u00d7 5 @ 27.95",
        "Field Guide \u00d7 1 @ 9.99",
        "Rope Toy \u00d7 2 @ 5.99",
        "Happy Birthday \u00d7 1 @ 50.00",
    ]


def test_salesforce_datetime_is_utc_with_milliseconds():
    moment = datetime(2025, 12, 5, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert rules.salesforce_datetime(moment) == "2025-12-05T08:30:00.000+0000"


def test_email_local_part_and_display_name():
    assert rules.email_local_part("Jane.Doe@example.com") == "Jane.Doe"
    assert rules.display_name({"first_name": "Jane", "last_name": ""}) == "Jane"
    assert rules.display_name({}) == ""


def test_the_cart_event_key_is_deterministic_per_cart_kind_and_abandonment():
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    key = rules.cart_event_key(cart_key="shop:cart-1", kind="Abandoned", abandoned_at=moment)
    same_instant = moment.astimezone(ZoneInfo("Europe/Berlin"))
    assert rules.cart_event_key(cart_key="shop:cart-1", kind="Abandoned", abandoned_at=same_instant) == key
    assert len(key) == 64 and int(key, 16) >= 0
    others = {
        rules.cart_event_key(cart_key="shop:cart-2", kind="Abandoned", abandoned_at=moment),
        rules.cart_event_key(cart_key="shop:cart-1", kind="Converted", abandoned_at=moment),
        rules.cart_event_key(cart_key="shop:cart-1", kind="Abandoned", abandoned_at=moment + timedelta(seconds=1)),
    }
    assert key not in others and len(others) == 3
