"""The write-back's rules without I/O: the poll's query and window, the status, shipment and field decisions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orders.writeback_rules import (
    FieldDecision,
    carrier_fields,
    change_delivery_key,
    field_decide,
    field_remembered,
    fields_mirrored,
    order_key_split,
    poll_requests_per_day,
    poll_since,
    poll_soql,
    salesforce_datetime_parse,
    shipment_decide,
    status_decide,
    status_target,
    tracking_numbers_split,
    unshipped_items,
)
from sync.salesforce import SalesforceToken

USER = "005000000000001AAA"


def test_the_poll_query_excludes_b2s_and_follows_the_checkpoint():
    since = datetime(2026, 5, 1, 12, 30, 7, 900_000, tzinfo=UTC)
    soql = poll_soql(
        fields=["Status", "TrackingNumber__c", "Status"],
        user_id=USER,
        since=since,
        external_id_field="BigCommerceOrderId__c",
    )
    assert soql == (
        "SELECT Id, BigCommerceOrderId__c, SystemModstamp, LastModifiedById, Status, TrackingNumber__c FROM Order"
        " WHERE BigCommerceOrderId__c != null AND LastModifiedById != '005000000000001AAA'"
        " AND SystemModstamp >= 2026-05-01T12:30:07Z ORDER BY SystemModstamp, Id"
    )
    with pytest.raises(ValueError):
        poll_soql(fields=[], user_id="x' OR Id != '", since=since, external_id_field="BigCommerceOrderId__c")


def test_the_window_reaches_back_by_the_overlap_to_the_whole_second():
    checkpoint = datetime(2026, 5, 1, 12, 30, 7, 900_000, tzinfo=UTC)
    now = datetime(2026, 5, 1, 13, 0, 0, tzinfo=UTC)
    assert poll_since(checkpoint=checkpoint, now=now, overlap_seconds=120) == datetime(
        2026, 5, 1, 12, 28, 7, tzinfo=UTC
    )
    assert poll_since(checkpoint=None, now=now, overlap_seconds=120) == datetime(2026, 5, 1, 12, 58, 0, tzinfo=UTC)


def test_a_change_is_keyed_by_order_and_stamp_to_the_millisecond():
    stamp = salesforce_datetime_parse("2026-05-01T12:30:07.123+0000")
    assert stamp == datetime(2026, 5, 1, 12, 30, 7, 123_000, tzinfo=UTC)
    record = {"attributes": {"type": "Order"}, "Id": "801000000000001AAA", "Status": "Shipped"}
    hash_, created_at = change_delivery_key(record=record, modstamp=stamp)
    assert created_at == 1777638607123
    assert hash_.startswith("801000000000001AAA:") and len(hash_) == 18 + 1 + 40 <= 64
    # Read again unchanged (the overlap): the same key; changed again within the same second: another key.
    assert change_delivery_key(record={**record, "attributes": {}}, modstamp=stamp)[0] == hash_
    assert change_delivery_key(record={**record, "Status": "Cancelled"}, modstamp=stamp)[0] != hash_
    assert order_key_split("my-store:1042") == ("my-store", 1042)
    assert order_key_split("1042") is None and order_key_split("store:abc") is None


def test_the_daily_cost_of_polling():
    assert poll_requests_per_day(interval_seconds=60) == 1440
    assert poll_requests_per_day(interval_seconds=300) == 288
    assert poll_requests_per_day(interval_seconds=10) == 1440  # django-q2's minute is the floor


@pytest.mark.parametrize(
    ("sf_status", "mapped", "synced_sf", "synced_bc", "bc_now", "rule", "expected"),
    [
        ("Shipped", 2, "Activated", 11, 11, "flag", (True, "changed in Salesforce", False, False)),
        (
            "Shipped",
            None,
            "Activated",
            11,
            11,
            "flag",
            (False, "Salesforce status 'Shipped' is not mapped", False, False),
        ),
        ("Activated", 11, "Activated", 11, 9, "flag", (False, "the status did not change in Salesforce", False, False)),
        ("Shipped", 2, "Activated", 11, 2, "flag", (False, "BigCommerce already has this status", False, True)),
        ("Shipped", 2, "Activated", 11, 9, "salesforce_wins", (True, "conflict: Salesforce wins", True, False)),
        ("Shipped", 2, "Activated", 11, 9, "bigcommerce_wins", (False, "conflict: bigcommerce_wins", True, False)),
        ("Shipped", 2, "Activated", 11, 9, "flag", (False, "conflict: flag", True, False)),
    ],
)
def test_status_decision(sf_status, mapped, synced_sf, synced_bc, bc_now, rule, expected):
    decision = status_decide(
        sf_status=sf_status,
        mapped_bc_status=mapped,
        synced_sf_status=synced_sf,
        synced_bc_status=synced_bc,
        bc_status_now=bc_now,
        rule=rule,
    )
    write, reason, conflict, present = expected
    assert (decision.write, decision.conflict, decision.present) == (write, conflict, present)
    assert decision.reason.startswith(reason)


def test_the_order_sync_keeps_a_merchant_status_that_means_the_bigcommerce_status():
    mapped = {"Shipped": 2, "Cancelled": 5}
    assert (
        status_target(bc_status_id=2, coarse_status="Activated", salesforce_status="Shipped", mapped=mapped)
        == "Shipped"
    )
    # BigCommerce moved on (refunded): the merchant's status no longer says what the order is.
    assert (
        status_target(bc_status_id=4, coarse_status="Activated", salesforce_status="Shipped", mapped=mapped)
        == "Activated"
    )
    assert status_target(bc_status_id=2, coarse_status="Activated", salesforce_status="", mapped=mapped) == "Activated"


@pytest.mark.parametrize(
    ("sf", "synced", "bc", "rule", "left", "expected"),
    [
        ("1Z1", "", [], "flag", 3, ("1Z1", False, False, [])),
        ("1Z1, 1Z2", "", [], "flag", 3, ("1Z1", False, False, ["1Z2"])),
        ("1Z1", "1Z1", ["1Z1"], "flag", 0, ("", False, False, [])),  # synced before: not news
        ("1Z1", "", ["1Z1"], "flag", 0, ("", False, True, [])),  # a retry after the shipment was created
        ("1Z2", "1Z1", ["1Z1", "BC9"], "flag", 1, ("", True, False, [])),  # BigCommerce shipped too
        ("1Z2", "1Z1", ["1Z1", "BC9"], "salesforce_wins", 1, ("1Z2", True, False, [])),
        ("1Z2", "1Z1", ["1Z1", "BC9"], "salesforce_wins", 0, ("", True, False, [])),  # nothing left to ship
        ("1Z2", "1Z1", ["1Z1", "BC9"], "bigcommerce_wins", 1, ("", True, False, [])),
    ],
)
def test_shipment_decision(sf, synced, bc, rule, left, expected):
    decision = shipment_decide(
        sf_tracking=sf, synced_tracking=synced, bc_tracking=bc, rule=rule, unshipped_quantity=left
    )
    number, conflict, present, left_out = expected
    assert (decision.tracking_number, decision.conflict, decision.present, decision.left_out) == (
        number,
        conflict,
        present,
        left_out,
    )


def test_tracking_numbers_carriers_and_unshipped_items():
    assert tracking_numbers_split(" 1Z1, 1Z2;1Z1\n") == ["1Z1", "1Z2"]
    assert tracking_numbers_split(None) == []
    assert carrier_fields("UPS") == {"shipping_provider": "ups"}
    assert carrier_fields("Royal Mail") == {"tracking_carrier": "royal-mail"}
    assert carrier_fields("royalmail") == {"shipping_provider": "royalmail"}
    assert carrier_fields("") == {} and carrier_fields("Ünknown & Co") == {}
    products = [
        {"id": 1, "quantity": 3, "quantity_shipped": 1, "order_address_id": 7},
        {"id": 2, "quantity": 1, "quantity_shipped": 1, "order_address_id": 7},
        {"id": 3, "quantity": 2, "quantity_shipped": 0, "order_address_id": 8},
    ]
    assert unshipped_items(products, address_id=7) == [{"order_product_id": 1, "quantity": 2}]
    assert unshipped_items(products, address_id=None) == [
        {"order_product_id": 1, "quantity": 2},
        {"order_product_id": 3, "quantity": 2},
    ]


def test_the_login_answer_names_the_integration_user():
    token = SalesforceToken(
        "t", "https://x", 0.0, identity_url="https://login.example/id/00D000000000001AAA/005000000000001AAA"
    )
    assert (token.org_id, token.user_id) == ("00D000000000001AAA", "005000000000001AAA")
    assert (SalesforceToken("t", "https://x", 0.0).user_id, SalesforceToken("t", "https://x", 0.0).org_id) == ("", "")


# -- admin-chosen fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sf_value", "bc_value", "remembered", "rule", "expected"),
    [
        # Known values: Salesforce changed, BigCommerce did not → write.
        ("new", "old", {"sf": "old", "bc": "old"}, "flag", (True, "changed in Salesforce", False, False)),
        # Salesforce did not change (BigCommerce did: the order sync's business, not the write-back's).
        (
            "old",
            "other",
            {"sf": "old", "bc": "old"},
            "flag",
            (False, "Description did not change in Salesforce", False, False),
        ),
        # BigCommerce has it already (a retry after the PUT, or both typed the same).
        ("new", "new", {"sf": "old", "bc": "old"}, "flag", (False, "BigCommerce already has this value", False, True)),
        # Both changed: the rule.
        (
            "new",
            "theirs",
            {"sf": "old", "bc": "old"},
            "salesforce_wins",
            (True, "conflict: Salesforce wins", True, False),
        ),
        (
            "new",
            "theirs",
            {"sf": "old", "bc": "old"},
            "bigcommerce_wins",
            (False, "conflict: bigcommerce_wins", True, False),
        ),
        ("new", "theirs", {"sf": "old", "bc": "old"}, "flag", (False, "conflict: flag", True, False)),
        # Cleared in Salesforce once its value is known: a change (null counts as "").
        (None, "old", {"sf": "old", "bc": "old"}, "flag", (True, "changed in Salesforce", False, False)),
        # Never seen in Salesforce: a filled value that differs is a change, a blank one never.
        ("typed", "store's", {}, "flag", (True, "changed in Salesforce", False, False)),
        (None, "store's", {}, "flag", (False, "Description did not change in Salesforce", False, False)),
        (
            "",
            "store's",
            {"bc": "store's"},
            "salesforce_wins",
            (False, "Description did not change in Salesforce", False, False),
        ),
        # Too long for BigCommerce: not written.
        (
            "x" * 11,
            "",
            {"sf": "", "bc": ""},
            "flag",
            (False, "longer than the 10 characters staff_notes takes", False, False),
        ),
    ],
)
def test_a_field_is_written_when_salesforce_changed_it_and_the_rule_settles_a_conflict(
    sf_value, bc_value, remembered, rule, expected
):
    decision = field_decide(
        sf_field="Description",
        bc_field="staff_notes",
        sf_value=sf_value,
        bc_value=bc_value,
        remembered=remembered,
        max_length=10,
        rule=rule,
    )
    assert (decision.write, decision.reason, decision.conflict, decision.present) == expected


@pytest.mark.parametrize(
    ("decision", "bc_value", "remembered", "expected"),
    [
        (
            FieldDecision("D", "staff_notes", True, "changed", "new"),
            "old",
            {"sf": "old", "bc": "old"},
            {"sf": "new", "bc": "new"},
        ),
        (FieldDecision("D", "staff_notes", False, "there", "new", present=True), "new", {}, {"sf": "new", "bc": "new"}),
        # BigCommerce won a conflict: each side as it is, settled.
        (
            FieldDecision("D", "staff_notes", False, "c", "new", conflict=True),
            "theirs",
            {"sf": "old", "bc": "old"},
            {"sf": "new", "bc": "theirs"},
        ),
        # Nothing changed in Salesforce: a store change since the last agreement stays a change.
        (
            FieldDecision("D", "staff_notes", False, "same", "old"),
            "theirs",
            {"sf": "old", "bc": "old"},
            {"sf": "old", "bc": "old"},
        ),
        (FieldDecision("D", "staff_notes", False, "same", ""), "store's", {}, {"sf": "", "bc": "store's"}),
    ],
)
def test_what_a_settled_field_remembers(decision, bc_value, remembered, expected):
    assert field_remembered(decision=decision, bc_value=bc_value, remembered=remembered) == expected


def test_the_order_sync_remembers_only_the_fields_it_writes_to_salesforce():
    mirrored = fields_mirrored(
        order_body={"description": "note", "Name": "BigCommerce order #7", "PoNumber": None},
        order={"staff_notes": "note", "external_order_id": None, "customer_message": "hi"},
        fields=[("Description", "staff_notes"), ("PoNumber", "external_order_id"), ("Custom__c", "customer_message")],
    )
    assert mirrored == {"Description": {"sf": "note", "bc": "note"}, "PoNumber": {"sf": "", "bc": ""}}
