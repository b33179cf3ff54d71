"""The pure rules: tiers, RFM in both modes, tags, segments, the Account fields."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from analytics import rules as r
from sync.seeds import ORDER_STATUSES

TODAY = date(2025, 6, 30)
NOT_COUNTING = {status_id for status_id, _name, _sf, counts in ORDER_STATUSES if not counts}


def rules(**overrides) -> r.Rules:
    base = r.Rules(
        status_lookup=lambda status_id: status_id not in NOT_COUNTING,
        refunds=True,
        silver_min=Decimal("1000"),
        gold_min=Decimal("5000"),
        platinum_min=Decimal("10000"),
        churn_risk_days=90,
        rfm_mode=r.RFM_FIXED,
        recency_days=(30, 60, 90, 180),
        frequency_orders=(10, 5, 3, 2),
        flags={flag: True for flag in r.FIELDS_BY_FLAG},
    )
    return replace(base, **overrides)


def facts(clv: str = "100.00", orders: int = 1, days_ago: int | None = 0) -> r.CustomerFacts:
    last = TODAY - timedelta(days=days_ago) if days_ago is not None and orders else None
    return r.CustomerFacts(clv=Decimal(clv), total_orders=orders, last_order_date=last)


@pytest.mark.parametrize(
    ("clv", "tier"),
    [
        ("0.00", "Bronze"),
        ("999.99", "Bronze"),
        ("1000.00", "Silver"),
        ("4999.99", "Silver"),
        ("5000.00", "Gold"),
        ("9999.99", "Gold"),
        ("10000.00", "Platinum"),
    ],
)
def test_tier_floors_are_inclusive(clv, tier):
    assert r.tier_for(Decimal(clv), rules=rules()) == tier


@pytest.mark.parametrize(
    ("days_ago", "score"),
    [(0, 5), (30, 5), (31, 4), (60, 4), (61, 3), (90, 3), (91, 2), (180, 2), (181, 1), (5000, 1)],
)
def test_fixed_recency_breakpoints(days_ago, score):
    assert r.rfm_fixed(facts(days_ago=days_ago), rules=rules(), today=TODAY)[0] == score


@pytest.mark.parametrize(("orders", "score"), [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (9, 4), (10, 5), (250, 5)])
def test_fixed_frequency_breakpoints(orders, score):
    assert r.rfm_fixed(facts(orders=orders), rules=rules(), today=TODAY)[1] == score


@pytest.mark.parametrize(
    ("clv", "score"),
    [
        ("0.00", 1),
        ("0.01", 2),
        ("999.99", 2),
        ("1000.00", 3),
        ("4999.99", 3),
        ("5000.00", 4),
        ("9999.99", 4),
        ("10000.00", 5),
    ],
)
def test_fixed_monetary_breakpoints_follow_the_tier_floors(clv, score):
    assert r.rfm_fixed(facts(clv=clv), rules=rules(), today=TODAY)[2] == score


def test_fixed_breakpoints_follow_edited_thresholds():
    edited = rules(recency_days=(7, 14, 21, 28), frequency_orders=(4, 3, 2, 1), silver_min=Decimal("50"))
    assert r.rfm_fixed(facts(clv="50.00", orders=1, days_ago=8), rules=edited, today=TODAY) == (4, 2, 3)
    assert r.rfm_fixed(facts(clv="49.99", orders=4, days_ago=29), rules=edited, today=TODAY) == (1, 5, 2)


def test_no_counted_order_scores_111_in_both_modes():
    nothing = facts(clv="0.00", orders=0, days_ago=None)
    assert r.rfm_fixed(nothing, rules=rules(), today=TODAY) == (1, 1, 1)
    edges = r.QuintileEdges((100, 50, 20, 5), (1, 2, 3, 4), tuple(Decimal(v) for v in ("1", "2", "3", "4")))
    assert r.rfm_quintile(nothing, edges=edges, today=TODAY) == (1, 1, 1)


def test_quintile_edges_of_ten_distinct_values_split_them_in_pairs():
    values = list(range(1, 11))
    edges = r.quintile_edges_from(values)
    assert edges == (2, 4, 6, 8)
    scores = [1 + sum(1 for edge in edges if value > edge) for value in values]
    assert scores == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_quintile_edges_of_five_values_give_each_its_own_score():
    assert r.quintile_edges_from([10, 20, 30, 40, 50]) == (10, 20, 30, 40)


def test_quintile_ties_share_the_lower_score():
    # Six one-time buyers, two with 2 orders, one with 5 and one with 10.
    edges = r.quintile_edges_from([1, 1, 1, 1, 1, 1, 2, 2, 5, 10])
    assert edges == (1, 1, 1, 2)
    score = {n: 1 + sum(1 for edge in edges if n > edge) for n in (1, 2, 5, 10)}
    # 1 + floor(5 * strictly-worse / n): nobody beats a one-time buyer; 6 of 10 are below 2 orders.
    assert score == {1: 1, 2: 4, 5: 5, 10: 5}
    assert r.quintile_edges_from([3, 3, 3]) == (3, 3, 3, 3)
    assert r.quintile_edges_from([]) == ()


def test_quintile_scores_of_a_population_across_every_edge():
    population = [facts(clv=f"{100 * n}.00", orders=n, days_ago=10 * (10 - n)) for n in range(1, 11)]
    edges = r.quintile_edges(population, today=TODAY)
    assert edges.recency_days == (80, 60, 40, 20)  # days, most first: a customer must have fewer
    assert edges.frequency_orders == (2, 4, 6, 8)
    assert edges.monetary_values == tuple(Decimal(v) for v in ("200.00", "400.00", "600.00", "800.00"))
    scores = [r.rfm_quintile(f, edges=edges, today=TODAY) for f in population]
    expected_each = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores == [(s, s, s) for s in expected_each]
    # Just past and just at an edge: strictly beating is what counts.
    assert r.rfm_quintile(facts(clv="200.01", orders=3, days_ago=59), edges=edges, today=TODAY) == (3, 2, 2)
    assert r.rfm_quintile(facts(clv="200.00", orders=2, days_ago=60), edges=edges, today=TODAY) == (2, 1, 1)


def test_quintile_population_ignores_customers_without_counted_orders():
    population = [facts(clv="0.00", orders=0, days_ago=None)] * 5 + [facts(clv="10.00", orders=1, days_ago=3)]
    edges = r.quintile_edges(population, today=TODAY)
    assert edges.frequency_orders == (1, 1, 1, 1)


def test_tags_and_their_stable_order():
    assert r.tags_for(facts(clv="10000.00", orders=1), tier="Platinum", rules=rules(), today=TODAY) == (
        "VIP",
        "First-Time Buyer",
    )
    assert r.tags_for(facts(orders=2, days_ago=89), tier="Bronze", rules=rules(), today=TODAY) == ()
    assert r.tags_for(facts(orders=2, days_ago=90), tier="Bronze", rules=rules(), today=TODAY) == ("At-Risk",)
    # One order, however old, is a first-time buyer, not a churning repeat customer.
    assert r.tags_for(facts(orders=1, days_ago=400), tier="Bronze", rules=rules(), today=TODAY) == ("First-Time Buyer",)
    assert r.tags_for(facts(clv="0", orders=0, days_ago=None), tier="Bronze", rules=rules(), today=TODAY) == ()


@pytest.mark.parametrize(
    ("orders", "scores", "segment"),
    [
        (0, (1, 1, 1), "No orders"),
        (12, (5, 5, 4), "Champions"),
        (12, (5, 5, 3), "Loyal"),
        (3, (3, 3, 2), "Loyal"),
        (1, (5, 1, 2), "New"),
        (2, (4, 2, 2), "Promising"),
        (2, (3, 2, 2), "Needs attention"),
        (3, (2, 3, 2), "At risk"),
        (5, (1, 4, 5), "At risk"),
        (2, (2, 2, 2), "Hibernating"),
        (1, (1, 1, 2), "Lost"),
    ],
)
def test_segments(orders, scores, segment):
    recency, frequency, monetary = scores
    assert r.segment_for(total_orders=orders, recency=recency, frequency=frequency, monetary=monetary) == segment


def test_every_score_combination_has_a_segment():
    for recency in range(1, 6):
        for frequency in range(1, 6):
            for monetary in range(1, 6):
                assert (
                    r.segment_for(total_orders=1, recency=recency, frequency=frequency, monetary=monetary) in r.SEGMENTS
                )


def test_customer_facts_count_status_and_refunds():
    tz = ZoneInfo("America/New_York")
    when = datetime(2025, 6, 1, 2, 30, tzinfo=UTC)  # still 31 May in New York
    orders = [
        r.OrderFacts(1, when, Decimal("100.00"), Decimal("0"), 11),
        r.OrderFacts(2, when + timedelta(days=3), Decimal("50.00"), Decimal("50.00"), 14),  # fully refunded
        r.OrderFacts(3, when + timedelta(days=5), Decimal("80.00"), Decimal("0"), 5),  # cancelled
        r.OrderFacts(4, when - timedelta(days=1), Decimal("0.00"), Decimal("0"), 10),  # a free order counts
        r.OrderFacts(5, when - timedelta(days=2), Decimal("40.00"), Decimal("15.50"), 14),
    ]
    result = r.customer_facts(orders, rules=rules(), tz=tz)
    assert result == r.CustomerFacts(clv=Decimal("124.50"), total_orders=3, last_order_date=date(2025, 5, 31))
    ignoring_refunds = r.customer_facts(orders, rules=rules(refunds=False), tz=tz)
    assert ignoring_refunds.clv == Decimal("190.00")
    assert ignoring_refunds.total_orders == 4


def test_average_order_value_rounds_half_up():
    derived = r.derive(facts(clv="100.00", orders=8), rules=rules(), edges=None, today=TODAY)
    assert derived.average_order_value == Decimal("12.50")
    derived = r.derive(facts(clv="0.05", orders=2), rules=rules(), edges=None, today=TODAY)
    assert derived.average_order_value == Decimal("0.03")  # 0.025 → 0.03, not banker's 0.02


def test_account_fields_per_flag():
    derived = r.derive(facts(clv="10000.00", orders=1, days_ago=0), rules=rules(), edges=None, today=TODAY)
    every = r.account_fields(derived, rules=rules())
    assert every == {
        "CLV__c": Decimal("10000.00"),
        "Total_Orders__c": 1,
        "Average_Order_Value__c": Decimal("10000.00"),
        "Last_Order_Date__c": "2025-06-30",
        "Customer_Tier__c": "Platinum",
        "RFM_Score__c": "515",
        "Customer_Tags__c": "VIP;First-Time Buyer",
    }
    for flag, names in r.FIELDS_BY_FLAG.items():
        flags = {key: key != flag for key in r.FIELDS_BY_FLAG}
        fields = r.account_fields(derived, rules=rules(flags=flags))
        assert not set(names) & set(fields)
        assert set(fields) == set(every) - set(names)


def test_fields_changed_compares_only_present_fields():
    current = {"CLV__c": Decimal("10.5"), "Total_Orders__c": 1}
    assert r.fields_changed(current, None) == {"CLV__c": "10.50", "Total_Orders__c": 1}
    assert r.fields_changed(current, {"CLV__c": "10.50", "Total_Orders__c": 1, "RFM_Score__c": "111"}) == {}
    assert r.fields_changed(current, {"CLV__c": "10.49", "Total_Orders__c": 1}) == {"CLV__c": "10.50"}
