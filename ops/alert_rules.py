"""Which alert conditions hold, decided from facts already counted (no database, no clock, no I/O).

``alert_conditions`` turns the counts of the alert window (events finished per store, the oldest waiting
event per store, refused authentications per store, the Salesforce API reading) and the admin's thresholds
into conditions, each a kind, a key (what it is about) and a summary carrying the numbers. The service
(``ops.alerts``) loads the facts, opens, repeats and resolves ``Alert`` rows and sends the messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ops.models import Alert
from sync.usage import ApiBudgetStatus

Kind = Alert.Kind

# The keys of the org-wide API budget alerts: its use over the alert threshold, and writes being paused.
API_BUDGET_KEY = "salesforce"
API_PAUSED_KEY = "salesforce: writes paused"
UNKNOWN_STORE = "unknown store"


@dataclass(frozen=True)
class AlertThresholds:
    """The admin's alert thresholds (``alert_*`` and the guard's ceiling), as plain numbers."""

    window_minutes: int
    failure_rate_percent: Decimal
    failure_min_events: int
    backlog_age_seconds: int
    auth_failures: int
    api_budget_percent: Decimal


@dataclass(frozen=True)
class StoreOutcomes:
    """One store's events that finished in the window: processed at all, failed (dead included), dead."""

    store_hash: str
    finished: int
    failed: int
    dead: int


@dataclass(frozen=True)
class StoreBacklog:
    """One store's waiting events: the oldest one's age and how many wait longer than the alert threshold."""

    store_hash: str
    oldest_age_seconds: float
    waiting: int


def usage_percent(budget: ApiBudgetStatus) -> Decimal | None:
    """The org's API use as a percentage of its daily limit, or None without a reading (100 when the limit
    reads 0)."""
    if budget.used is None or budget.limit is None:
        return None
    return Decimal(100) if not budget.limit else Decimal(budget.used) * 100 / Decimal(budget.limit)


@dataclass(frozen=True)
class AlertFacts:
    """What the window held, counted by the service."""

    outcomes: list[StoreOutcomes] = field(default_factory=list)
    backlogs: list[StoreBacklog] = field(default_factory=list)
    # Refused authentications per store hash ("" when the hash named no store b2s knows).
    auth_failures: dict[str, int] = field(default_factory=dict)
    api_budget: ApiBudgetStatus | None = None
    # Names of the stores by hash, for summaries a person reads.
    store_names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Condition:
    """An alert condition holding now."""

    kind: str
    key: str
    summary: str


def alert_conditions(facts: AlertFacts, thresholds: AlertThresholds) -> list[Condition]:
    """Every condition that holds, in a stable order (kind, then key)."""
    conditions = [
        *_dead_events(facts, thresholds),
        *_failure_rates(facts, thresholds),
        *_backlogs(facts, thresholds),
        *_auth_failures(facts, thresholds),
        *_api_budget(facts, thresholds),
    ]
    return sorted(conditions, key=lambda condition: (condition.kind, condition.key))


def _store(facts: AlertFacts, store_hash: str) -> str:
    if not store_hash:
        return UNKNOWN_STORE
    name = facts.store_names.get(store_hash)
    return f"{name} ({store_hash})" if name else store_hash


def _window(thresholds: AlertThresholds) -> str:
    return _minutes(thresholds.window_minutes * 60)


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def _percent(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1')).normalize():f}%"


def _dead_events(facts: AlertFacts, thresholds: AlertThresholds) -> list[Condition]:
    # Any dead-lettered event: it will not be retried, someone has to replay or dismiss it.
    return [
        Condition(
            Kind.DEAD_EVENTS,
            row.store_hash,
            f"{_store(facts, row.store_hash)}: {row.dead} event{'s' if row.dead != 1 else ''} dead-lettered "
            f"in the last {_window(thresholds)} (no retries left; replay them from the audit log).",
        )
        for row in facts.outcomes
        if row.dead > 0
    ]


def _failure_rates(facts: AlertFacts, thresholds: AlertThresholds) -> list[Condition]:
    conditions = []
    for row in facts.outcomes:
        if row.finished == 0 or row.finished < thresholds.failure_min_events:
            continue
        rate = Decimal(row.failed) * 100 / Decimal(row.finished)
        if rate > thresholds.failure_rate_percent:
            conditions.append(
                Condition(
                    Kind.FAILURE_RATE,
                    row.store_hash,
                    f"{_store(facts, row.store_hash)}: {row.failed} of {row.finished} events failed in the last "
                    f"{_window(thresholds)} ({_percent(rate)}, alert above "
                    f"{_percent(thresholds.failure_rate_percent)}).",
                )
            )
    return conditions


def _backlogs(facts: AlertFacts, thresholds: AlertThresholds) -> list[Condition]:
    return [
        Condition(
            Kind.BACKLOG_AGE,
            row.store_hash,
            f"{_store(facts, row.store_hash)}: the oldest waiting event has waited {_minutes(row.oldest_age_seconds)} "
            f"(alert over {_minutes(thresholds.backlog_age_seconds)}); {row.waiting} event"
            f"{'s' if row.waiting != 1 else ''} waiting longer than that.",
        )
        for row in facts.backlogs
        if row.oldest_age_seconds > thresholds.backlog_age_seconds
    ]


def _auth_failures(facts: AlertFacts, thresholds: AlertThresholds) -> list[Condition]:
    return [
        Condition(
            Kind.AUTH_FAILURES,
            store_hash,
            f"{_store(facts, store_hash)}: {count} webhook deliveries failed authentication in the last "
            f"{_window(thresholds)} (alert above {thresholds.auth_failures}); a wrong or rotated secret, or "
            "someone guessing.",
        )
        for store_hash, count in sorted(facts.auth_failures.items())
        if count > thresholds.auth_failures
    ]


def _api_budget(facts: AlertFacts, thresholds: AlertThresholds) -> list[Condition]:
    budget = facts.api_budget
    if budget is None:
        return []
    conditions = []
    percent = usage_percent(budget)
    writes = "Salesforce writes are paused" if budget.paused else "writes continue"
    if percent is not None and percent >= thresholds.api_budget_percent:
        conditions.append(
            Condition(
                Kind.API_BUDGET,
                API_BUDGET_KEY,
                f"Salesforce API use is {budget.used:,} of {budget.limit:,} daily requests ({_percent(percent)}, "
                f"alert at {_percent(thresholds.api_budget_percent)}); {writes} "
                f"(guard {budget.override}, ceiling {_percent(budget.ceiling)}).",
            )
        )
    if budget.paused:
        reason = (
            "the api_budget_guard setting is 'pause'"
            if budget.override == "pause"
            else f"API use {_percent(percent or Decimal(0))} reached the {_percent(budget.ceiling)} ceiling"
        )
        conditions.append(
            Condition(
                Kind.API_BUDGET,
                API_PAUSED_KEY,
                f"Salesforce writes are paused: {reason}. Events wait and nothing fails; they resume by themselves "
                "when the guard lets writes through again.",
            )
        )
    return conditions
