"""The Order/OrderItem documents built from one order request: consignment shapes, and the fallbacks."""

from __future__ import annotations

import pytest

from orders.documents import (
    LinesUnavailable,
    order_document,
    order_lines,
    product_key,
    shipment_fields,
    shipping_addresses,
)
from orders.services import order_sync
from tests.orders.test_order_sync import assert_items_match, make_order

LINE = {"id": 7, "product_id": 80, "variant_id": 101, "name": "Tee", "quantity": 1, "price_inc_tax": "10.0000"}
DIGITAL = {"id": 8, "product_id": 99, "variant_id": 150, "name": "E-book", "quantity": 1, "price_inc_tax": "9.9900"}


def test_lines_from_every_consignment_kind_and_the_legacy_structure():
    shipping = {"id": 3, "first_name": "Jo", "street_1": "1 Main St", "city": "Austin", "line_items": [LINE]}
    pickup = {
        "id": 4,
        "pickup_method_display_name": "Pick Up",
        "location": {"name": "Store 1", "address_line_1": "2 High St", "city": "Leeds", "postal_code": "LS1"},
        "line_items": [],
    }
    modern = {
        "id": 1,
        "items_total": 2,
        "consignments": {
            "shipping": [shipping],
            "pickups": [pickup],
            "downloads": [
                {"recipient_email": "a@example.com", "line_items": DIGITAL}
            ],  # one object, as in the spec example
            "email": {"gift_certificates": []},
        },
    }
    assert [line["id"] for line in order_lines(modern)] == [7, 8]
    addresses = shipping_addresses(modern)
    assert [a["city"] for a in addresses] == ["Austin", "Leeds"] and "line_items" not in addresses[0]
    assert addresses[1]["street_1"] == "2 High St" and addresses[1]["zip"] == "LS1"

    legacy = {
        "id": 1,
        "items_total": 2,
        "consignments": [{"shipping": [shipping]}, {"downloads": [{"line_items": [DIGITAL]}]}],
    }
    assert [line["id"] for line in order_lines(legacy)] == [7, 8]
    assert order_document(legacy, shipments={})["shipping_addresses"][0]["city"] == "Austin"


def test_lines_unavailable_when_the_consignments_carry_links_or_are_missing():
    links = {
        "id": 1,
        "items_total": 1,
        "consignments": {"shipping": [{"line_items": [{"url": "x", "resource": "/orders/1/products/7"}]}]},
    }
    with pytest.raises(LinesUnavailable):
        order_lines(links)
    with pytest.raises(LinesUnavailable):
        order_lines({"id": 1, "items_total": 1})
    with pytest.raises(LinesUnavailable):
        order_lines({"id": 1, "items_total": 2, "consignments": {"shipping": []}})
    assert order_lines({"id": 1, "items_total": 0, "consignments": {"shipping": []}}) == []


def test_product_keys_and_shipment_fields():
    assert product_key("h", LINE) == "h:80:101"
    assert product_key("h", {"product_id": 0, "variant_id": 0}) == "h:custom"
    fields = shipment_fields(
        [
            {
                "id": 2,
                "tracking_number": "B",
                "shipping_provider": "usps",
                "shipping_provider_display_name": "USPS",
                "tracking_carrier": "",
                "date_created": "Tue, 02 Jan 2024 10:00:00 +0000",
                "items": [{"quantity": 1}],
            },
            {
                "id": 1,
                "tracking_number": "A",
                "shipping_provider": "ups",
                "tracking_carrier": "ups",
                "date_created": "Mon, 01 Jan 2024 10:00:00 +0000",
                "items": [{"quantity": 2}],
            },
            {
                "id": 3,
                "tracking_number": "A",
                "shipping_provider": "ups",
                "tracking_carrier": "ups",
                "date_created": "Mon, 01 Jan 2024 09:00:00 +0000",
                "items": [],
            },
        ]
    )
    assert fields["tracking_numbers"] == "A, B"  # by shipment id, each once
    assert fields["tracking_carriers"] == "ups, USPS"
    assert fields["date_shipped"].startswith("2024-01-02T10:00:00") and fields["quantity"] == 3


@pytest.mark.django_db
def test_physical_and_digital_lines_and_the_products_fallback(orders):
    catalog = orders.bc._data.catalog
    physical = next(p for p in catalog if p.type == "physical")
    digital = next(p for p in catalog if p.type == "digital")
    created = make_order(
        orders, {"email": "mixed@example.com", "products": [{"product_id": physical.id}, {"product_id": digital.id}]}
    )
    _, costs = orders.deliver("store/order/created", created["id"])
    assert costs.bigcommerce == 1
    record = orders.order_record(created["id"])
    assert_items_match(orders, created["id"], record)  # the download's line came from its consignment

    # An order body without usable consignments (e.g. from a list call without the include): /products.
    other = make_order(orders, {"email": "mixed@example.com", "products": [{"product_id": physical.id, "quantity": 2}]})
    body = orders.bc.order_get(other["id"])
    assert "consignments" not in body
    before = len(orders.bc.calls())
    order_sync(store=orders.store, order_id=other["id"], order=body)
    assert [call["path"] for call in orders.bc.calls()[before:]] == [
        f"/stores/sandbox/v2/orders/{other['id']}/products"
    ]
    assert_items_match(orders, other["id"], orders.order_record(other["id"]))
