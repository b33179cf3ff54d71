"""The field-mapping language: paths, combinations, transforms."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from sync.mapping import mapping_compile, mappings_apply

ORDER = {
    "id": 250,
    "date_created": "Tue, 05 Mar 2019 23:40:11 +0000",
    "discount_amount": "1.1050",
    "coupon_discount": "2.0000",
    "total_inc_tax": "62.6793",
    "payment_provider_id": None,
    "billing_address": {"street_1": "12 Main St", "street_2": "", "city": "Austin"},
    "shipping_addresses": [{"zip": "78701", "street_1": "1 A", "street_2": "Unit 4"}],
}


def value(source: str, transform: str = "", default: str = "", document=ORDER, tz: str = "UTC"):
    mapping = mapping_compile(sf_field="X", source_path=source, transform=transform, default=default)
    return mappings_apply([mapping], document, tz=ZoneInfo(tz))["X"]


def test_paths_with_indexes_and_missing_steps():
    assert value("billing_address.city") == "Austin"
    assert value("shipping_addresses[0].zip") == "78701"
    assert value("shipping_addresses[1].zip") is None
    assert value("nothing.here") is None


def test_money_is_exact_and_rounded_half_up():
    assert value("total_inc_tax", "money") == Decimal("62.68")
    assert value("discount_amount + coupon_discount", "money") == Decimal("3.11")


def test_text_parts_are_joined_skipping_empty_ones():
    assert value("billing_address.street_1 + billing_address.street_2", "lines") == "12 Main St"
    assert value("shipping_addresses[0].street_1 + shipping_addresses[0].street_2", "lines") == "1 A\nUnit 4"


def test_alternatives_take_the_first_non_empty():
    customer = {"company": "", "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}
    assert value("company || first_name + last_name || email", "str", document=customer) == "Ann Lee"
    assert value("company || email", document={"company": "Acme", "email": "x"}) == "Acme"


def test_dates_follow_the_store_time_zone():
    assert value("date_created", "date") == "2019-03-05"
    assert value("date_created", "date", tz="Australia/Sydney") == "2019-03-06"
    assert value("date_created", "datetime") == "2019-03-05T23:40:11.000+0000"


def test_format_truncate_upper_and_default():
    assert value("id", "format:BigCommerce order #{}") == "BigCommerce order #250"
    assert value("billing_address.city", "upper|truncate:3") == "AUS"
    assert value("payment_provider_id", "str", default="n/a") == "n/a"


@pytest.mark.parametrize(
    ("source", "transform"),
    [
        ("billing_address..city", ""),
        ("a[x]", ""),
        ("1abc", ""),
        ("id", "shout"),
        ("id", "truncate:abc"),
        ("id", "format:no placeholder"),
        ("", ""),
    ],
)
def test_unparseable_paths_and_transforms_are_refused(source, transform):
    with pytest.raises(ValidationError):
        mapping_compile(sf_field="X", source_path=source, transform=transform)
