"""Payloads, not model rows: Salesforce Accounts for the generated customers, and the Account values their
ledger rows should give.

The ledger rows themselves come from tests.factories.analytics (factory-boy).
"""

from __future__ import annotations

from datetime import date
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
