"""Reads for the analytics dashboard: aggregates of the stored customer values and the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum

from analytics import rules as r
from analytics.models import CustomerValues, LedgerEntry
from sync.models import KnownCustomer, Store

# Lower bounds of the CLV histogram's bins (the last bin is open-ended).
HISTOGRAM_EDGES: tuple[Decimal, ...] = tuple(
    Decimal(edge) for edge in ("0", "100", "250", "500", "1000", "2500", "5000", "10000", "25000")
)
TIERS: tuple[str, ...] = (r.BRONZE, r.SILVER, r.GOLD, r.PLATINUM)
TOP_CUSTOMERS = 10


@dataclass
class TierRow:
    tier: str
    customers: int
    clv: Decimal


@dataclass
class HistogramBin:
    label: str
    low: Decimal
    high: Decimal | None
    customers: int


@dataclass
class TopCustomer:
    """A customer of the top list, named as a person reads it rather than by the external key."""

    customer_key: str
    name: str
    clv: Decimal
    total_orders: int
    tier: str
    rfm_score: str


@dataclass
class DashboardData:
    """Everything the dashboard shows, for one store or all."""

    store: Store | None
    customers: int = 0
    buyers: int = 0
    total_clv: Decimal = r.ZERO
    counted_orders: int = 0
    ledger_orders: int = 0
    average_clv: Decimal = r.ZERO
    computed_at: datetime | None = None
    tiers: list[TierRow] = field(default_factory=list)
    segments: list[tuple[str, int]] = field(default_factory=list)
    histogram: list[HistogramBin] = field(default_factory=list)
    top: list[TopCustomer] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)  # of the ledger's orders: the amounts' currency

    @property
    def currency(self) -> str:
        """The one currency every amount is in; "" when the orders mix currencies (or none is known)."""
        return self.currencies[0] if len(self.currencies) == 1 else ""


def _money_label(value: Decimal) -> str:
    return f"{int(value):,}"


def dashboard_data(*, store: Store | None) -> DashboardData:
    """Tier distribution, RFM segments, CLV histogram and top customers (a handful of aggregate queries)."""
    values = CustomerValues.objects.all()
    ledger = LedgerEntry.objects.all()
    if store is not None:
        values = values.filter(store=store)
        ledger = ledger.filter(store=store)
    data = DashboardData(store=store)

    bins = list(zip(HISTOGRAM_EDGES, (*HISTOGRAM_EDGES[1:], None), strict=True))
    aggregates = {
        "customers": Count("id"),
        "buyers": Count("id", filter=Q(total_orders__gt=0)),
        "total_clv": Sum("clv"),
        "counted_orders": Sum("total_orders"),
        "computed_at": Max("computed_at"),
    }
    for index, (low, high) in enumerate(bins):
        condition = Q(clv__gte=low) if high is None else Q(clv__gte=low, clv__lt=high)
        aggregates[f"bin{index}"] = Count("id", filter=condition)
    totals = values.aggregate(**aggregates)
    data.customers = totals["customers"] or 0
    data.buyers = totals["buyers"] or 0
    data.total_clv = r.money(totals["total_clv"] or r.ZERO)
    data.counted_orders = totals["counted_orders"] or 0
    data.computed_at = totals["computed_at"]
    data.average_clv = r.money(data.total_clv / data.buyers) if data.buyers else r.ZERO
    data.ledger_orders = ledger.count()
    data.histogram = [
        HistogramBin(
            label=f"{_money_label(low)} to {_money_label(high)}" if high is not None else f"{_money_label(low)}+",
            low=low,
            high=high,
            customers=totals[f"bin{index}"] or 0,
        )
        for index, (low, high) in enumerate(bins)
    ]

    by_tier: dict[str, Any] = {
        row["tier"]: row for row in values.values("tier").annotate(n=Count("id"), clv_sum=Sum("clv"))
    }
    data.tiers = [
        TierRow(tier, by_tier.get(tier, {}).get("n", 0), r.money(by_tier.get(tier, {}).get("clv_sum") or r.ZERO))
        for tier in TIERS
    ]
    by_segment = dict(values.values_list("segment").annotate(n=Count("id")))
    data.segments = [(segment, by_segment.get(segment, 0)) for segment in r.SEGMENTS]
    top = list(values.filter(total_orders__gt=0).order_by("-clv", "customer_key")[:TOP_CUSTOMERS])
    names = customer_names(keys=[row.customer_key for row in top])
    data.top = [
        TopCustomer(row.customer_key, names[row.customer_key], row.clv, row.total_orders, row.tier, row.rfm_score)
        for row in top
    ]
    data.currencies = sorted(
        currency for currency in ledger.exclude(currency="").values_list("currency", flat=True).distinct()
    )
    return data


def customer_names(*, keys: list[str]) -> dict[str, str]:
    """A readable name per customer key: a registered customer's name (or email) from the stored BigCommerce
    document, else "Customer #id"; a guest is keyed by a digest of the email, so it stays "Guest" and the
    digest's first characters (b2s keeps no guest's email)."""
    registered: dict[tuple[str, int], str] = {}
    for key in keys:
        store_hash, _, rest = key.partition(":")
        if rest.isdigit():
            registered[(store_hash, int(rest))] = key
    documents = {
        registered[(store_hash, customer_id)]: document
        for store_hash, customer_id, document in KnownCustomer.objects.filter(
            customer_id__in={customer_id for _, customer_id in registered},
            store__store_hash__in={store_hash for store_hash, _ in registered},
        ).values_list("store__store_hash", "customer_id", "document")
        if (store_hash, customer_id) in registered
    }
    names: dict[str, str] = {}
    for key in keys:
        _, _, rest = key.partition(":")
        if rest.isdigit():
            document = documents.get(key) or {}
            person = " ".join(str(document.get(part) or "").strip() for part in ("first_name", "last_name")).strip()
            names[key] = person or str(document.get("email") or "") or f"Customer #{rest}"
        elif rest.startswith("guest:"):
            names[key] = f"Guest {rest.removeprefix('guest:')[:8]}…"
        elif rest == "guest-checkouts":
            names[key] = "Guest checkouts"
        else:
            names[key] = key
    return names
