"""Pure analytics rules: from a customer's ledger facts to tier, RFM, tags and Account fields.

No database access here: the services load the facts and the configuration once
and call these functions for every customer, which keeps the daily recompute of
thousands of customers cheap and every rule testable on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

BRONZE, SILVER, GOLD, PLATINUM = "Bronze", "Silver", "Gold", "Platinum"

TAG_VIP = "VIP"
TAG_FIRST_TIME = "First-Time Buyer"
TAG_AT_RISK = "At-Risk"
TAG_ORDER = (TAG_VIP, TAG_FIRST_TIME, TAG_AT_RISK)  # the stable order of Customer_Tags__c
TAG_SEPARATOR = ";"

RFM_FIXED, RFM_QUINTILE = "fixed", "quintile"

# The Account fields, grouped by the feature flag that puts them on the Account.
FIELDS_BY_FLAG: dict[str, tuple[str, ...]] = {
    "customer_lifetime_value": ("CLV__c", "Total_Orders__c", "Average_Order_Value__c", "Last_Order_Date__c"),
    "customer_segmentation": ("Customer_Tier__c",),
    "rfm_analysis": ("RFM_Score__c",),
    "customer_tags": ("Customer_Tags__c",),
}
ACCOUNT_FIELDS: tuple[str, ...] = tuple(name for names in FIELDS_BY_FLAG.values() for name in names)

# Segments from the R and F scores (M only separates champions); the first matching row wins.
SEGMENT_NO_ORDERS = "No orders"
SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "New",
    "Promising",
    "Needs attention",
    "At risk",
    "Hibernating",
    "Lost",
    SEGMENT_NO_ORDERS,
)


@dataclass(frozen=True)
class OrderFacts:
    """What the rules need of one ledger order."""

    order_id: int
    order_date: datetime
    gross_total: Decimal
    refunded_amount: Decimal
    status_id: int


@dataclass(frozen=True)
class CustomerFacts:
    """A customer's counted orders, summed."""

    clv: Decimal
    total_orders: int
    last_order_date: date | None


@dataclass(frozen=True)
class QuintileEdges:
    """Per dimension, the value a customer must strictly beat for scores 2, 3, 4 and 5."""

    recency_days: tuple[int, ...] = ()
    frequency_orders: tuple[int, ...] = ()
    monetary_values: tuple[Decimal, ...] = ()


@dataclass
class Rules:
    """The configuration the analytics read, taken from ``sync.config`` once per computation."""

    status_lookup: Callable[[int], bool]  # status id → counts toward analytics
    refunds: bool
    silver_min: Decimal
    gold_min: Decimal
    platinum_min: Decimal
    churn_risk_days: int
    rfm_mode: str
    recency_days: tuple[int, int, int, int]  # at or below → 5, 4, 3, 2
    frequency_orders: tuple[int, int, int, int]  # at or above → 5, 4, 3, 2
    flags: dict[str, bool]
    _statuses: dict[int, bool] = field(default_factory=dict, repr=False)

    def status_counts(self, status_id: int) -> bool:
        """Whether orders in this status count (looked up once per status and computation)."""
        counts = self._statuses.get(status_id)
        if counts is None:
            counts = self._statuses[status_id] = bool(self.status_lookup(status_id))
        return counts

    def fields_enabled(self) -> bool:
        """Whether any analytics field goes to Salesforce at all."""
        return any(self.flags.get(flag, False) for flag in FIELDS_BY_FLAG)


@dataclass(frozen=True)
class Derived:
    """Everything b2s derives for one customer."""

    clv: Decimal
    total_orders: int
    average_order_value: Decimal
    last_order_date: date | None
    tier: str
    recency_score: int
    frequency_score: int
    monetary_score: int
    tags: tuple[str, ...]
    segment: str

    @property
    def rfm_score(self) -> str:
        return f"{self.recency_score}{self.frequency_score}{self.monetary_score}"

    @property
    def tags_text(self) -> str:
        return TAG_SEPARATOR.join(self.tags)


def money(value: Decimal) -> Decimal:
    """Round half-up to cents."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def order_net(order: OrderFacts, *, rules: Rules) -> Decimal:
    """The order's contribution to lifetime value: gross less refunds (refunds ignored when their flag is off)."""
    refunded = order.refunded_amount if rules.refunds else ZERO
    return max(money(order.gross_total - refunded), ZERO)


def order_counts(order: OrderFacts, *, rules: Rules) -> bool:
    """Whether the order counts: its status counts and it is not fully refunded."""
    if not rules.status_counts(order.status_id):
        return False
    refunded = order.refunded_amount if rules.refunds else ZERO
    # A zero-value order with no refund is a real (free) order, not a refunded one.
    return not (refunded > 0 and refunded >= order.gross_total)


def customer_facts(orders: Iterable[OrderFacts], *, rules: Rules, tz: ZoneInfo) -> CustomerFacts:
    """Sum a customer's counted orders; the last order date is the order's own date in the store's zone."""
    clv = ZERO
    total = 0
    last: datetime | None = None
    for order in orders:
        if not order_counts(order, rules=rules):
            continue
        clv += order_net(order, rules=rules)
        total += 1
        if last is None or order.order_date > last:
            last = order.order_date
    return CustomerFacts(
        clv=money(clv), total_orders=total, last_order_date=last.astimezone(tz).date() if last else None
    )


def tier_for(clv: Decimal, *, rules: Rules) -> str:
    """Bronze below the Silver floor; each floor is inclusive."""
    if clv >= rules.platinum_min:
        return PLATINUM
    if clv >= rules.gold_min:
        return GOLD
    if clv >= rules.silver_min:
        return SILVER
    return BRONZE


def recency_days(facts: CustomerFacts, *, today: date) -> int | None:
    """Whole days since the last counted order (a future-dated order counts as today)."""
    if facts.last_order_date is None:
        return None
    return max((today - facts.last_order_date).days, 0)


def rfm_fixed(facts: CustomerFacts, *, rules: Rules, today: date) -> tuple[int, int, int]:
    """Scores from the fixed breakpoints of the field mapping (thresholds ``rfm_*``)."""
    if facts.total_orders == 0:
        return 1, 1, 1
    days = recency_days(facts, today=today)
    recency = 1
    for score, limit in zip((5, 4, 3, 2), rules.recency_days, strict=True):
        if days is not None and days <= limit:
            recency = score
            break
    frequency = 1
    for score, minimum in zip((5, 4, 3, 2), rules.frequency_orders, strict=True):
        if facts.total_orders >= minimum:
            frequency = score
            break
    return recency, frequency, monetary_score(facts.clv, rules=rules)


def monetary_score(clv: Decimal, *, rules: Rules) -> int:
    """5 Platinum, 4 Gold, 3 Silver, 2 Bronze with any spend, 1 none."""
    if clv <= 0:
        return 1
    return {PLATINUM: 5, GOLD: 4, SILVER: 3, BRONZE: 2}[tier_for(clv, rules=rules)]


def quintile_edges_from(values: Sequence[Any]) -> tuple[Any, ...]:
    """Edges for scores 2..5 from one dimension's values, sorted worst first.

    The edge for score s is the value at 1-based position ceil((s-1)·n/5): a customer
    scores 1 + the number of edges its value strictly beats, i.e. 1 + floor(5·w/n)
    where w is how many customers are strictly worse. Ties share the lower score.
    """
    n = len(values)
    if n == 0:
        return ()
    return tuple(values[math.ceil((score - 1) * n / 5) - 1] for score in (2, 3, 4, 5))


def quintile_edges(population: Iterable[CustomerFacts], *, today: date) -> QuintileEdges:
    """The store's edges from its customers with at least one counted order."""
    buyers = [facts for facts in population if facts.total_orders > 0]
    days = sorted((recency_days(facts, today=today) or 0 for facts in buyers), reverse=True)  # most days = worst
    return QuintileEdges(
        recency_days=quintile_edges_from(days),
        frequency_orders=quintile_edges_from(sorted(facts.total_orders for facts in buyers)),
        monetary_values=quintile_edges_from(sorted(facts.clv for facts in buyers)),
    )


def rfm_quintile(facts: CustomerFacts, *, edges: QuintileEdges, today: date) -> tuple[int, int, int]:
    """Scores by the store's quintile edges; a customer without counted orders scores 111."""
    if facts.total_orders == 0:
        return 1, 1, 1
    days = recency_days(facts, today=today) or 0
    return (
        1 + sum(1 for edge in edges.recency_days if days < edge),
        1 + sum(1 for edge in edges.frequency_orders if facts.total_orders > edge),
        1 + sum(1 for edge in edges.monetary_values if facts.clv > Decimal(edge)),
    )


def tags_for(facts: CustomerFacts, *, tier: str, rules: Rules, today: date) -> tuple[str, ...]:
    """VIP (Platinum), First-Time Buyer (exactly one order), At-Risk (repeat buyer quiet for the churn days)."""
    tags: list[str] = []
    if tier == PLATINUM:
        tags.append(TAG_VIP)
    if facts.total_orders == 1:
        tags.append(TAG_FIRST_TIME)
    days = recency_days(facts, today=today)
    if facts.total_orders > 1 and days is not None and days >= rules.churn_risk_days:
        tags.append(TAG_AT_RISK)
    return tuple(tag for tag in TAG_ORDER if tag in tags)


def segment_for(*, total_orders: int, recency: int, frequency: int, monetary: int) -> str:
    """The dashboard segment of an RFM score (the table is in docs/analytics.md)."""
    if total_orders == 0:
        return SEGMENT_NO_ORDERS
    if recency >= 4 and frequency >= 4 and monetary >= 4:
        return "Champions"
    if recency >= 3 and frequency >= 3:
        return "Loyal"
    if recency >= 4 and frequency == 1:
        return "New"
    if recency >= 4:
        return "Promising"
    if recency == 3:
        return "Needs attention"
    if frequency >= 3:
        return "At risk"
    if recency == 2:
        return "Hibernating"
    return "Lost"


def derive(facts: CustomerFacts, *, rules: Rules, edges: QuintileEdges | None, today: date) -> Derived:
    """Every derived value of one customer."""
    tier = tier_for(facts.clv, rules=rules)
    if rules.rfm_mode == RFM_QUINTILE:
        recency, frequency, monetary = rfm_quintile(facts, edges=edges or QuintileEdges(), today=today)
    else:
        recency, frequency, monetary = rfm_fixed(facts, rules=rules, today=today)
    aov = money(facts.clv / facts.total_orders) if facts.total_orders else ZERO
    return Derived(
        clv=facts.clv,
        total_orders=facts.total_orders,
        average_order_value=aov,
        last_order_date=facts.last_order_date,
        tier=tier,
        recency_score=recency,
        frequency_score=frequency,
        monetary_score=monetary,
        tags=tags_for(facts, tier=tier, rules=rules, today=today),
        segment=segment_for(total_orders=facts.total_orders, recency=recency, frequency=frequency, monetary=monetary),
    )


def account_fields(derived: Derived, *, rules: Rules) -> dict[str, Any]:
    """The Account analytics fields whose feature flag is on (Decimals for money, ISO text for the date)."""
    values: dict[str, Any] = {
        "CLV__c": derived.clv,
        "Total_Orders__c": derived.total_orders,
        "Average_Order_Value__c": derived.average_order_value,
        "Last_Order_Date__c": derived.last_order_date.isoformat() if derived.last_order_date else None,
        "Customer_Tier__c": derived.tier,
        "RFM_Score__c": derived.rfm_score,
        # None clears the field in Salesforce; an empty string would not in a bulk job.
        "Customer_Tags__c": derived.tags_text or None,
    }
    return {
        name: values[name] for flag, names in FIELDS_BY_FLAG.items() if rules.flags.get(flag, False) for name in names
    }


def wire_value(value: Any) -> Any:
    """A field value as JSON-safe data for remembering what was pushed (Decimal → '12.30')."""
    if isinstance(value, Decimal):
        return str(money(value))
    return value


def fields_wire(fields: dict[str, Any]) -> dict[str, Any]:
    """All field values as JSON-safe data."""
    return {name: wire_value(value) for name, value in fields.items()}


def fields_changed(current: dict[str, Any], pushed: dict[str, Any] | None) -> dict[str, Any]:
    """The fields (JSON-safe) whose value differs from what Salesforce was last sent.

    Only fields the flags put on the Account are compared: switching a flag off does
    not make every Account 'changed'.
    """
    pushed = pushed or {}
    wire = fields_wire(current)
    return {name: value for name, value in wire.items() if name not in pushed or pushed[name] != value}
