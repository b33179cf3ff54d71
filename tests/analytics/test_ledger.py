"""The ledger and the order sync's two calls, on the real database and configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.models import CustomerValues, LedgerEntry, RfmEdges
from analytics.services import (
    account_fields_settle,
    analytics_recompute,
    customer_account_fields,
    ledger_order_record,
)
from sync.models import OrderStatusMapping
from tests.factories.sync import StoreFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db

KEY = "an1:42"


def fields(store, key=KEY, **kwargs):
    return customer_account_fields(store=store, customer_key=key, now=kwargs.pop("now", NOW), **kwargs)


def record(store, order, key=KEY, **kwargs):
    return ledger_order_record(store=store, customer_key=key, order=order, now=kwargs.pop("now", NOW), **kwargs)


def derived(store, key=KEY) -> dict:
    row = CustomerValues.objects.get(store=store, customer_key=key)
    return {
        name: getattr(row, name)
        for name in (
            "clv",
            "total_orders",
            "average_order_value",
            "last_order_date",
            "tier",
            "rfm_score",
            "segment",
            "tags",
        )
    }


def test_replaying_an_order_any_number_of_times_changes_nothing(store, order):
    record(store, order(1, "120.00"))
    record(store, order(2, "30.55", date=datetime(2025, 6, 20, tzinfo=UTC)))
    first_fields = fields(store)
    first_values = derived(store)
    for _ in range(5):
        record(store, order(1, "120.00"))
        record(store, order(2, "30.55", date=datetime(2025, 6, 20, tzinfo=UTC)))
        assert fields(store, pending=order(2, "30.55", date=datetime(2025, 6, 20, tzinfo=UTC))) == first_fields
    assert derived(store) == first_values
    assert fields(store) == first_fields
    assert first_fields["CLV__c"] == Decimal("150.55")
    assert first_fields["Total_Orders__c"] == 2
    assert first_fields["Average_Order_Value__c"] == Decimal("75.28")  # 75.275 rounds half-up
    assert first_fields["Last_Order_Date__c"] == "2025-06-20"
    assert LedgerEntry.objects.filter(store=store).count() == 2


def test_an_edit_changes_clv_by_exactly_the_difference(store, order):
    record(store, order(1, "120.00"))
    record(store, order(2, "80.00"))
    before = fields(store)["CLV__c"]
    record(store, order(2, "93.37"))
    after = fields(store)["CLV__c"]
    assert after - before == Decimal("13.37")
    assert fields(store)["Total_Orders__c"] == 2


def test_a_refund_lowers_clv_by_the_refunded_amount(store, order):
    record(store, order(1, "500.00"))
    record(store, order(2, "700.00"))
    assert fields(store)["Customer_Tier__c"] == "Silver"
    before = fields(store)["CLV__c"]
    record(store, order(2, "700.00", refunded="250.10", status_id=14))
    assert before - fields(store)["CLV__c"] == Decimal("250.10")
    assert fields(store)["Customer_Tier__c"] == "Bronze"
    entry = LedgerEntry.objects.get(store=store, order_id=2)
    assert entry.net_total == Decimal("449.90")
    assert entry.counted is True


def test_a_full_refund_removes_the_order_from_the_counts(store, order):
    record(store, order(1, "40.00"))
    record(store, order(2, "60.00"))
    record(store, order(2, "60.00", refunded="60.00", status_id=14))
    result = fields(store)
    assert (result["CLV__c"], result["Total_Orders__c"]) == (Decimal("40.00"), 1)
    assert LedgerEntry.objects.get(store=store, order_id=2).counted is False


def test_a_cancelled_order_leaves_the_counts(store, order):
    record(store, order(1, "40.00"))
    before = fields(store)
    record(store, order(2, "999.00", status_id=5, date=datetime(2025, 6, 25, tzinfo=UTC)))
    assert fields(store) == before  # not even the last order date moves
    record(store, order(1, "40.00", status_id=5))  # cancelling the counted one empties the counts
    after = fields(store)
    assert (after["CLV__c"], after["Total_Orders__c"], after["Last_Order_Date__c"]) == (Decimal("0.00"), 0, None)
    assert after["RFM_Score__c"] == "111"


def test_updated_before_created_gives_the_same_values(store, order):
    # The sync reads the order's current state whatever event woke it, so an `updated` processed
    # before the `created` records the final state twice; the other way round records both states.
    created = order(7, "100.00", status_id=1)
    final = order(7, "110.00", status_id=11)
    record(store, created)
    record(store, final)
    right_order = fields(store), derived(store)

    other_store = StoreFactory()
    key = other_store.external_id(42)
    record(other_store, final, key=key)
    record(other_store, final, key=key)
    assert (fields(other_store, key=key), derived(other_store, key=key)) == right_order

    # Several orders recorded newest first give what oldest first gives.
    for order_id, day in ((9, 3), (8, 2)):
        record(other_store, order(order_id, "10.00", date=datetime(2025, 6, day, tzinfo=UTC)), key=key)
    for order_id, day in ((8, 2), (9, 3)):
        record(store, order(order_id, "10.00", date=datetime(2025, 6, day, tzinfo=UTC)))
    assert fields(other_store, key=key) == fields(store)


def test_pending_is_applied_in_memory_only(store, order):
    record(store, order(1, "100.00"))
    with_pending = fields(store, pending=order(2, "950.00"))
    assert with_pending["CLV__c"] == Decimal("1050.00")
    assert with_pending["Customer_Tier__c"] == "Silver"
    assert LedgerEntry.objects.filter(store=store).count() == 1
    assert derived(store)["clv"] == Decimal("100.00")
    # A pending edit of a recorded order replaces it rather than adding to it.
    assert fields(store, pending=order(1, "60.00"))["CLV__c"] == Decimal("60.00")
    # A brand-new customer needs no rows at all.
    assert fields(store, key="an1:new", pending=order(3, "5.00"))["Total_Orders__c"] == 1
    assert not CustomerValues.objects.filter(customer_key="an1:new").exists()


def test_an_order_that_changes_customer_moves_between_them(store, order):
    record(store, order(1, "100.00"), key="an1:guest:pat@example.com")
    record(store, order(2, "50.00"), key="an1:guest:pat@example.com")
    record(store, order(2, "50.00"), key="an1:77")
    assert derived(store, "an1:guest:pat@example.com")["clv"] == Decimal("100.00")
    assert derived(store, "an1:77")["clv"] == Decimal("50.00")
    assert LedgerEntry.objects.get(order_id=2).customer_key == "an1:77"


def test_status_rules_are_admin_editable(store, order):
    record(store, order(1, "100.00", status_id=12))  # Manual Verification Required counts by default
    assert fields(store)["Total_Orders__c"] == 1
    rule = OrderStatusMapping.objects.get(bc_status_id=12)
    rule.counts_toward_analytics = False
    rule.save()
    assert fields(store)["Total_Orders__c"] == 0
    # The stored `counted` column follows at the next recompute.
    result = analytics_recompute(store=store, dry_run=True, now=NOW)
    assert result.ledger_rows_recounted == 1
    assert LedgerEntry.objects.get(order_id=1).counted is True  # a dry run writes nothing


def test_pushed_values_are_remembered_only_by_the_settle_check(store, order):
    assert record(store, order(1, "100.00")) is True
    sent = fields(store)
    settled = account_fields_settle(store=store, customer_key=KEY, sent=sent, now=NOW)
    assert (settled.corrections, settled.settled) == (0, True)  # equal to the full ledger: no request
    row = CustomerValues.objects.get(store=store, customer_key=KEY)
    assert row.pushed_values["CLV__c"] == "100.00"
    assert row.pushed_values["Customer_Tags__c"] == "First-Time Buyer"
    assert record(store, order(2, "5.00")) is True  # recorded, nothing sent yet: what was pushed stays
    row.refresh_from_db()
    assert row.pushed_values["Total_Orders__c"] == 1
    assert row.total_orders == 2


def test_recording_says_whether_the_facts_changed(store, order):
    assert record(store, order(1, "100.00")) is True
    assert record(store, order(1, "100.00")) is False  # a redelivery
    assert record(store, order(1, "100.0")) is False  # the same amount
    assert record(store, order(1, "100.00", refunded="10.00")) is True
    assert record(store, order(1, "100.00", refunded="10.00", status_id=2)) is True
    assert record(store, order(1, "100.00", refunded="10.00", status_id=2), key="an1:43") is True  # moved


def test_flags_off_remove_their_fields(store, order, flag_set):
    record(store, order(1, "100.00"))
    assert set(fields(store)) == {
        "CLV__c",
        "Total_Orders__c",
        "Average_Order_Value__c",
        "Last_Order_Date__c",
        "Customer_Tier__c",
        "RFM_Score__c",
        "Customer_Tags__c",
    }
    flag_set("customer_tags", False)
    assert "Customer_Tags__c" not in fields(store)
    flag_set("rfm_analysis", False)
    assert "RFM_Score__c" not in fields(store)
    flag_set("customer_segmentation", False)
    assert "Customer_Tier__c" not in fields(store)
    assert set(fields(store)) == {"CLV__c", "Total_Orders__c", "Average_Order_Value__c", "Last_Order_Date__c"}
    flag_set("customer_lifetime_value", False)
    assert fields(store) == {}
    flag_set("rfm_analysis", True)
    assert set(fields(store)) == {"RFM_Score__c"}


def test_refunds_flag_off_uses_gross_totals(store, order, flag_set):
    record(store, order(1, "100.00", refunded="30.00", status_id=14))
    assert fields(store)["CLV__c"] == Decimal("70.00")
    flag_set("refunds", False)
    assert fields(store)["CLV__c"] == Decimal("100.00")


@pytest.mark.parametrize(
    ("total", "tier"),
    [
        ("999.99", "Bronze"),
        ("1000.00", "Silver"),
        ("4999.99", "Silver"),
        ("5000.00", "Gold"),
        ("9999.99", "Gold"),
        ("10000.00", "Platinum"),
    ],
)
def test_tier_boundaries_through_the_ledger(store, order, total, tier):
    # Two orders summing to the boundary: the tier reads the exact sum.
    half = (Decimal(total) / 2).quantize(Decimal("0.01"))
    record(store, order(1, str(half)))
    record(store, order(2, str(Decimal(total) - half)))
    assert fields(store)["Customer_Tier__c"] == tier
    assert derived(store)["tier"] == tier


def test_tier_floors_follow_the_thresholds(store, order, threshold_set):
    record(store, order(1, "750.00"))
    assert fields(store)["Customer_Tier__c"] == "Bronze"
    threshold_set("tier_silver_min", "750")
    assert fields(store)["Customer_Tier__c"] == "Silver"


@pytest.mark.parametrize(
    ("days", "recency"), [(30, "5"), (31, "4"), (60, "4"), (61, "3"), (90, "3"), (91, "2"), (180, "2"), (181, "1")]
)
def test_fixed_recency_breakpoints_through_the_ledger(store, order, days, recency):
    record(store, order(1, "10.00", date=NOW - timedelta(days=days)))
    assert fields(store)["RFM_Score__c"] == f"{recency}12"


@pytest.mark.parametrize(("orders", "at", "below"), [(2, "2", "1"), (3, "3", "2"), (5, "4", "3"), (10, "5", "4")])
def test_fixed_frequency_breakpoints_through_the_ledger(store, order, orders, at, below):
    for order_id in range(1, orders):
        record(store, order(order_id, "1.00"))
    assert fields(store)["RFM_Score__c"] == f"5{below}2"
    assert fields(store, pending=order(orders, "1.00"))["RFM_Score__c"] == f"5{at}2"
    record(store, order(orders, "1.00"))
    assert derived(store)["rfm_score"] == f"5{at}2"


def test_tags_appear_and_disappear_as_the_facts_change(store, order, push_faked):
    first_day = datetime(2025, 1, 10, 15, 0, tzinfo=UTC)
    with time_machine.travel(first_day, tick=False):
        record(store, order(1, "6000.00", date=first_day), now=None)
        assert fields(store, now=None)["Customer_Tags__c"] == "First-Time Buyer"
    second_day = first_day + timedelta(days=5)
    with time_machine.travel(second_day, tick=False):
        record(store, order(2, "4000.00", date=second_day), now=None)
        assert fields(store, now=None)["Customer_Tags__c"] == "VIP"  # Platinum now; no longer a first-timer
    with time_machine.travel(second_day + timedelta(days=89), tick=False):
        assert fields(store, now=None)["Customer_Tags__c"] == "VIP"
    with time_machine.travel(second_day + timedelta(days=90), tick=False):
        assert fields(store, now=None)["Customer_Tags__c"] == "VIP;At-Risk"
        analytics_recompute(store=store)  # the daily run stores it (Salesforce push tested elsewhere)
        assert derived(store)["tags"] == "VIP;At-Risk"
        record(store, order(2, "4000.00", date=second_day, refunded="4000.00", status_id=4), now=None)
        # A full refund: one order left, so a first-time buyer again, and Gold, so no longer VIP.
        assert fields(store, now=None)["Customer_Tags__c"] == "First-Time Buyer"
        assert derived(store)["tags"] == "First-Time Buyer"
    with time_machine.travel(second_day + timedelta(days=91), tick=False):
        record(store, order(3, "1.00", date=second_day + timedelta(days=91)), now=None)
        assert fields(store, now=None)["Customer_Tags__c"] is None
        assert derived(store)["tags"] == ""


def test_store_time_zone_decides_the_last_order_date(store, order):
    store.timezone = "Pacific/Auckland"
    store.save()
    record(store, order(1, "10.00", date=datetime(2025, 6, 1, 13, 0, tzinfo=UTC)))
    assert fields(store)["Last_Order_Date__c"] == "2025-06-02"


def test_quintile_mode_scores_across_the_store(store, order, rfm_mode, push_faked):
    rfm_mode("quintile")
    # Ten customers: customer n has n orders of 100.00, the last one 10·(10-n) days ago.
    order_id = 0
    for n in range(1, 11):
        for _ in range(n):
            order_id += 1
            when = NOW - timedelta(days=10 * (10 - n))
            record(store, order(order_id, "100.00", date=when), key=f"an1:{n}")
    result = analytics_recompute(store=store, dry_run=True, now=NOW)
    assert result.customers == 10
    analytics_recompute(store=store, now=NOW)  # stores the edges and the scores
    edges = RfmEdges.objects.get(store=store)
    assert edges.frequency_orders == [2, 4, 6, 8]
    assert edges.recency_days == [80, 60, 40, 20]
    assert edges.monetary_values == ["200.00", "400.00", "600.00", "800.00"]
    scores = {n: CustomerValues.objects.get(customer_key=f"an1:{n}").rfm_score for n in range(1, 11)}
    expected = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores == {n: str(expected[n - 1]) * 3 for n in range(1, 11)}
    # A live order is scored against the stored edges: 3 orders of 100.00, 59 days ago.
    pending = order(999, "100.00", date=NOW - timedelta(days=59))
    for i in range(2):
        record(store, order(1000 + i, "100.00", date=NOW - timedelta(days=70)), key="an1:new")
    assert fields(store, key="an1:new", pending=pending)["RFM_Score__c"] == "322"
    rfm_mode("fixed")
    assert fields(store, key="an1:new", pending=pending)["RFM_Score__c"] == "432"
