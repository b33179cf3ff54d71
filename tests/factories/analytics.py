"""Factories of the analytics app: ledger entries, customer values, RFM edges and a seeded customer population."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import factory
import factory.fuzzy
import factory.random
from django.utils import timezone
from factory.django import DjangoModelFactory

from analytics.models import CustomerValues, LedgerEntry, RfmEdges
from sync.models import Store

from .sync import StoreFactory

CENT = Decimal("0.01")
NOT_COUNTING = (0, 4, 5, 6)  # the seeded status rules that do not count toward the analytics
PARTIALLY_REFUNDED = 14
# Mostly completed and awaiting fulfilment, some shipped, a few cancelled or partially refunded.
STATUS_MIX = (10, 10, 10, 11, 2, 2, 5, 14)


def _days_before(now: datetime) -> datetime:
    """A moment in the 400 days before ``now``: customers who bought recently and long ago."""
    rng = factory.random.randgen  # factory-boy's generator, so a reseed makes the dates repeat too
    return now - timedelta(days=rng.randint(0, 400), minutes=rng.randint(0, 1440))


class LedgerEntryFactory(DjangoModelFactory[LedgerEntry]):
    """One order of one customer as the order sync records it.

    ``now`` (a parameter) anchors the random order date; a status of 14 (Partially Refunded) refunds a
    quarter unless ``refunded_amount`` is given; ``counted`` follows the seeded status rules.
    """

    class Meta:
        model = LedgerEntry

    class Params:
        now = factory.LazyFunction(timezone.now)

    store = factory.SubFactory(StoreFactory)
    customer_key = factory.LazyAttributeSequence(lambda entry, n: entry.store.external_id(n))
    order_id = factory.Sequence(lambda n: n + 1)
    order_date = factory.LazyAttribute(lambda entry: _days_before(entry.now))
    gross_total = factory.fuzzy.FuzzyDecimal(5, 4000)
    status_id = 11
    refunded_amount = factory.LazyAttribute(
        lambda entry: (entry.gross_total / 4).quantize(CENT) if entry.status_id == PARTIALLY_REFUNDED else Decimal("0")
    )
    net_total = factory.LazyAttribute(lambda entry: entry.gross_total - entry.refunded_amount)
    counted = factory.LazyAttribute(lambda entry: entry.status_id not in NOT_COUNTING)
    currency = "USD"


class CustomerValuesFactory(DjangoModelFactory[CustomerValues]):
    """A customer's derived analytics; the model's defaults are a customer with no counted order."""

    class Meta:
        model = CustomerValues

    store = factory.SubFactory(StoreFactory)
    customer_key = factory.LazyAttributeSequence(lambda values, n: values.store.external_id(n))


class RfmEdgesFactory(DjangoModelFactory[RfmEdges]):
    """A store's quintile edges as the daily recompute stores them (scores 2..5, money as decimal strings)."""

    class Meta:
        model = RfmEdges

    store = factory.SubFactory(StoreFactory)
    customers = 250
    recency_days = [365, 180, 90, 30]
    frequency_orders = [1, 2, 3, 5]
    monetary_values = ["50.00", "150.00", "400.00", "1000.00"]
    computed_at = factory.LazyFunction(timezone.now)


def ledger_customers_create(
    *, store: Store, customers: int, now: datetime, seed: int = 6, first_order_id: int = 1
) -> int:
    """1 to 4 orders per customer ``store.external_id(1..customers)``, 5.00 to 4,000.00 each, over the past
    400 days; a few cancelled or refunded. Bulk inserted (thousands of rows for the recompute tests and the
    benchmark) and the same for the same seed.

    Returns the next free order id.
    """
    # Reseeded for repeatable populations, then restored: other tests' Faker values stay their own.
    saved = factory.random.get_random_state()
    factory.random.reseed_random(seed)
    try:
        rng = factory.random.randgen
        rows: list[LedgerEntry] = []
        order_id = first_order_id
        for number in range(1, customers + 1):
            for _ in range(rng.randint(1, 4)):
                rows.append(
                    LedgerEntryFactory.build(
                        store=store,
                        customer_key=store.external_id(number),
                        order_id=order_id,
                        now=now,
                        status_id=rng.choice(STATUS_MIX),
                    )
                )
                order_id += 1
    finally:
        factory.random.set_random_state(saved)
    LedgerEntry.objects.bulk_create(rows, batch_size=2000)
    return order_id
