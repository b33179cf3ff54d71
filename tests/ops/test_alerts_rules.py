"""The alert rules: which conditions hold for given counts and thresholds (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ops.alert_rules import (
    API_BUDGET_KEY,
    API_PAUSED_KEY,
    AlertFacts,
    AlertThresholds,
    StoreBacklog,
    StoreOutcomes,
    alert_conditions,
)
from ops.models import Alert
from sync.rules import budget_guard_decide
from sync.usage import ApiBudgetStatus

Kind = Alert.Kind
THRESHOLDS = AlertThresholds(
    window_minutes=15,
    failure_rate_percent=Decimal(20),
    failure_min_events=10,
    backlog_age_seconds=900,
    auth_failures=20,
    api_budget_percent=Decimal(80),
)


def budget(used: int | None, limit: int | None = 100_000, *, guard: str = "auto", ceiling: int = 90) -> ApiBudgetStatus:
    paused, reason = budget_guard_decide(used=used, limit=limit, ceiling_percent=ceiling, override=guard)
    return ApiBudgetStatus(
        paused=paused,
        reason=reason,
        used=used,
        limit=limit,
        share=used / limit if used is not None and limit else None,
        ceiling=Decimal(ceiling),
        override=guard,
        read_at=datetime(2026, 5, 1, 12, tzinfo=UTC),
    )


def keys(facts: AlertFacts) -> list[tuple[str, str]]:
    return [(condition.kind, condition.key) for condition in alert_conditions(facts, THRESHOLDS)]


def test_nothing_holds_on_a_quiet_window():
    facts = AlertFacts(
        outcomes=[StoreOutcomes("store1", finished=40, failed=2, dead=0)],
        backlogs=[],
        auth_failures={"store1": 3},
        api_budget=budget(10_000),
    )
    assert alert_conditions(facts, THRESHOLDS) == []


def test_one_dead_event_is_an_alert_for_its_store_with_the_count_and_name():
    facts = AlertFacts(
        outcomes=[StoreOutcomes("store1", finished=3, failed=1, dead=1), StoreOutcomes("store2", 5, 2, 2)],
        store_names={"store1": "Acme Outdoor"},
    )
    conditions = alert_conditions(facts, THRESHOLDS)
    assert [(c.kind, c.key) for c in conditions] == [(Kind.DEAD_EVENTS, "store1"), (Kind.DEAD_EVENTS, "store2")]
    assert conditions[0].summary.startswith("Acme Outdoor (store1): 1 event dead-lettered in the last 15 min")
    assert conditions[1].summary.startswith("store2: 2 events dead-lettered in the last 15 min")


@pytest.mark.parametrize(
    ("finished", "failed", "holds"),
    [
        (10, 2, False),  # 20% is not above 20%
        (10, 3, True),  # 30%
        (9, 9, False),  # under the 10 events a rate is judged on
        (40, 9, True),  # 22.5%
    ],
)
def test_a_failure_rate_holds_above_the_threshold_with_enough_events(finished, failed, holds):
    facts = AlertFacts(outcomes=[StoreOutcomes("store1", finished=finished, failed=failed, dead=0)])
    assert keys(facts) == ([(Kind.FAILURE_RATE, "store1")] if holds else [])


def test_the_failure_rate_summary_carries_the_numbers():
    facts = AlertFacts(outcomes=[StoreOutcomes("store1", finished=40, failed=9, dead=0)])
    (condition,) = alert_conditions(facts, THRESHOLDS)
    assert condition.summary == "store1: 9 of 40 events failed in the last 15 min (22.5%, alert above 20%)."


def test_a_backlog_holds_when_its_oldest_event_waited_longer_than_the_threshold():
    facts = AlertFacts(
        backlogs=[StoreBacklog("store1", oldest_age_seconds=900, waiting=3), StoreBacklog("store2", 1500.4, 7)]
    )
    conditions = alert_conditions(facts, THRESHOLDS)
    assert [(c.kind, c.key) for c in conditions] == [(Kind.BACKLOG_AGE, "store2")]
    assert conditions[0].summary == (
        "store2: the oldest waiting event has waited 25 min (alert over 15 min); 7 events waiting longer than that."
    )


def test_authentication_failures_hold_above_the_threshold_per_store_and_for_unknown_stores():
    facts = AlertFacts(auth_failures={"store1": 20, "store2": 21, "": 500})
    conditions = alert_conditions(facts, THRESHOLDS)
    assert [(c.kind, c.key) for c in conditions] == [(Kind.AUTH_FAILURES, ""), (Kind.AUTH_FAILURES, "store2")]
    assert conditions[0].summary.startswith("unknown store: 500 webhook deliveries failed authentication")
    assert conditions[1].summary.startswith("store2: 21 webhook deliveries failed authentication in the last 15 min")


def test_api_use_over_the_alert_share_says_writes_continue_below_the_ceiling():
    (condition,) = alert_conditions(AlertFacts(api_budget=budget(85_000)), THRESHOLDS)
    assert (condition.kind, condition.key) == (Kind.API_BUDGET, API_BUDGET_KEY)
    assert condition.summary == (
        "Salesforce API use is 85,000 of 100,000 daily requests (85%, alert at 80%); writes continue "
        "(guard auto, ceiling 90%)."
    )


def test_api_use_under_the_alert_share_holds_nothing_and_no_reading_holds_nothing():
    assert keys(AlertFacts(api_budget=budget(79_999))) == []
    assert keys(AlertFacts(api_budget=budget(None, None))) == []


def test_the_guard_pausing_writes_raises_its_own_alert_next_to_the_usage_one():
    conditions = alert_conditions(AlertFacts(api_budget=budget(90_000)), THRESHOLDS)
    assert [(c.kind, c.key) for c in conditions] == [
        (Kind.API_BUDGET, API_BUDGET_KEY),
        (Kind.API_BUDGET, API_PAUSED_KEY),
    ]
    assert "Salesforce writes are paused (guard auto, ceiling 90%)" in conditions[0].summary
    assert conditions[1].summary.startswith("Salesforce writes are paused: API use 90% reached the 90% ceiling.")


def test_a_guard_set_to_pause_alerts_even_with_little_use_and_write_never_pauses():
    (condition,) = alert_conditions(AlertFacts(api_budget=budget(1_000, guard="pause")), THRESHOLDS)
    assert (condition.kind, condition.key) == (Kind.API_BUDGET, API_PAUSED_KEY)
    assert "the api_budget_guard setting is 'pause'" in condition.summary
    assert keys(AlertFacts(api_budget=budget(99_000, guard="write"))) == [(Kind.API_BUDGET, API_BUDGET_KEY)]


def test_conditions_come_sorted_by_kind_then_key():
    facts = AlertFacts(
        outcomes=[StoreOutcomes("b", 10, 10, 10), StoreOutcomes("a", 10, 10, 1)],
        backlogs=[StoreBacklog("a", 1000, 1)],
    )
    assert keys(facts) == [
        (Kind.BACKLOG_AGE, "a"),
        (Kind.DEAD_EVENTS, "a"),
        (Kind.DEAD_EVENTS, "b"),
        (Kind.FAILURE_RATE, "a"),
        (Kind.FAILURE_RATE, "b"),
    ]
