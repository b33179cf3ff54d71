"""Generated customers for the recompute tests and the benchmark (bulk inserts: fast), and expected values."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from analytics import rules as r
from analytics.models import LedgerEntry
from analytics.services import rules_current
from sync.models import Store

MONEY_FIELDS = ("CLV__c", "Average_Order_Value__c")


def customer_key(store: Store, number: int) -> str:
    return store.external_id(number)


def ledger_generate(*, store: Store, customers: int, now: datetime, seed: int = 6, first_order_id: int = 1) -> int:
    """1 to 4 orders per customer, 5.00 to 4,000.00 each, over the past 400 days; a few cancelled or refunded.

    Returns the next free order id.
    """
    rng = random.Random(seed)
    rows: list[LedgerEntry] = []
    order_id = first_order_id
    for number in range(1, customers + 1):
        for _ in range(rng.randint(1, 4)):
            gross = Decimal(rng.randint(500, 400_000)) / 100
            status_id = rng.choice((10, 10, 10, 11, 2, 2, 5, 14))
            refunded = (gross / 4).quantize(Decimal("0.01")) if status_id == 14 else Decimal("0.00")
            rows.append(
                LedgerEntry(
                    store=store,
                    customer_key=customer_key(store, number),
                    order_id=order_id,
                    order_date=now - timedelta(days=rng.randint(0, 400), minutes=rng.randint(0, 1440)),
                    gross_total=gross,
                    refunded_amount=refunded,
                    net_total=gross - refunded,
                    status_id=status_id,
                    counted=status_id != 5,
                    currency="USD",
                )
            )
            order_id += 1
    LedgerEntry.objects.bulk_create(rows, batch_size=2000)
    return order_id


def accounts_seed(sandbox_app, *, store: Store, customers: int) -> list[str]:
    """The Accounts the order sync would have created, straight into the stand-in (no API calls)."""
    return sandbox_app.records_create(
        "Account",
        [
            {"Name": f"Customer {number}", "BigCommerceCustomerId__c": customer_key(store, number)}
            for number in range(1, customers + 1)
        ],
    )


def ledger_account_fields(store: Store, customer_key: str, *, today: date | None = None) -> dict[str, Any]:
    """What the customer's Account should show: its ledger rows through the pure rules (JSON-safe values).

    Fixed RFM mode (the default); the tests compare it with what the Salesforce stand-in holds.
    """
    rules = rules_current()
    orders = [
        r.OrderFacts(row.order_id, row.order_date, row.gross_total, row.refunded_amount, row.status_id)
        for row in LedgerEntry.objects.filter(store=store, customer_key=customer_key)
    ]
    facts = r.customer_facts(orders, rules=rules, tz=store.tz)
    today = today or timezone.now().astimezone(store.tz).date()
    return r.fields_wire(r.account_fields(r.derive(facts, rules=rules, edges=None, today=today), rules=rules))


def account_analytics(account: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """An Account's analytics fields as the Salesforce stand-in holds them, in the same JSON-safe form."""
    values: dict[str, Any] = {}
    for name in names:
        value = account.get(name)
        if name in MONEY_FIELDS and value is not None:
            value = str(Decimal(str(value)).quantize(r.CENT))
        elif name == "Total_Orders__c" and value is not None:
            value = int(value)
        values[name] = value
    return values
