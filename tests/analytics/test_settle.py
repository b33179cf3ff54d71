"""account_fields_settle: after an order sync's write, the Account ends with the full ledger's values.

Against the Salesforce stand-in (every strict rule on); expected values from the ledger through the
pure rules (``ledger_account_fields``).
"""

from __future__ import annotations

import pytest

import analytics.services as services
from analytics.models import CustomerValues
from analytics.services import account_fields_settle, customer_account_fields, ledger_order_record

from .conftest import NOW
from .payloads import account_analytics, accounts_seed, customer_key, ledger_account_fields

pytestmark = pytest.mark.django_db


def account_of(app, key: str) -> dict:
    [account] = [record for record in app.records("Account") if record["BigCommerceCustomerId__c"] == key]
    return account


def account_patches(app) -> int:
    """Account PATCHes the stand-in received (the client's once-per-process reads are not corrections)."""
    return sum(1 for call in app.calls if call["method"] == "PATCH" and "/sobjects/Account/" in call["path"])


def pushed(store, key: str) -> dict | None:
    return CustomerValues.objects.get(store=store, customer_key=key).pushed_values


def expected(store, key: str) -> dict:
    return ledger_account_fields(store, key, today=NOW.date())


@pytest.fixture
def customer(store, salesforce):
    [account_id] = accounts_seed(salesforce.app, store=store, customers=1)
    return customer_key(store, 1), account_id


def test_values_equal_to_the_full_ledger_cost_nothing_and_are_remembered(store, order, salesforce, customer):
    key, account_id = customer
    ledger_order_record(store=store, customer_key=key, order=order(1, "10.00"), now=NOW)
    sent = customer_account_fields(store=store, customer_key=key, now=NOW)
    settled = account_fields_settle(store=store, customer_key=key, sent=sent, account_id=account_id, now=NOW)
    assert (settled.corrections, settled.settled) == (0, True)
    assert salesforce.app.api_calls_counted() == 0  # no request at all
    assert pushed(store, key) == expected(store, key)


@pytest.mark.parametrize("by", ["id", "external id"])
def test_an_order_recorded_meanwhile_is_corrected_with_one_patch(store, order, salesforce, customer, by):
    key, account_id = customer
    ledger_order_record(store=store, customer_key=key, order=order(1, "10.00"), now=NOW)
    sent = customer_account_fields(store=store, customer_key=key, now=NOW)
    # While this sync's write was in flight, another worker recorded the customer's second order.
    ledger_order_record(store=store, customer_key=key, order=order(2, "990.00"), now=NOW)
    settled = account_fields_settle(
        store=store, customer_key=key, sent=sent, account_id=account_id if by == "id" else "", now=NOW
    )
    assert (settled.corrections, settled.settled) == (1, True)
    assert account_patches(salesforce.app) == 1
    want = expected(store, key)
    assert (want["Total_Orders__c"], want["CLV__c"], want["Customer_Tier__c"]) == (2, "1000.00", "Silver")
    assert account_analytics(account_of(salesforce.app, key), list(want)) == want
    assert pushed(store, key) == want
    assert len(salesforce.app.records("Account")) == 1


def test_nothing_sent_compares_what_was_pushed(store, order, salesforce, customer):
    key, account_id = customer
    ledger_order_record(store=store, customer_key=key, order=order(1, "10.00"), now=NOW)
    assert (
        account_fields_settle(store=store, customer_key=key, sent=None, account_id=account_id, now=NOW).corrections == 1
    )
    assert account_analytics(account_of(salesforce.app, key), list(expected(store, key))) == expected(store, key)
    # Pushed now equals the ledger: a second check costs nothing.
    assert (
        account_fields_settle(store=store, customer_key=key, sent=None, account_id=account_id, now=NOW).corrections == 0
    )
    assert account_patches(salesforce.app) == 1


def test_a_ledger_that_keeps_changing_stops_at_the_bound_and_forgets_what_was_pushed(
    store, order, salesforce, customer, monkeypatch
):
    key, account_id = customer
    ledger_order_record(store=store, customer_key=key, order=order(1, "10.00"), now=NOW)
    sent = customer_account_fields(store=store, customer_key=key, now=NOW)
    account_fields_settle(store=store, customer_key=key, sent=sent, account_id=account_id, now=NOW)
    real_patch = services._account_patch
    next_order = iter(range(2, 100))

    def patch_while_another_order_arrives(**kwargs):
        real_patch(**kwargs)
        ledger_order_record(store=store, customer_key=key, order=order(next(next_order), "1.00"), now=NOW)

    monkeypatch.setattr(services, "_account_patch", patch_while_another_order_arrives)
    monkeypatch.setattr(services, "SETTLE_CORRECTIONS_MAX", 2)
    ledger_order_record(store=store, customer_key=key, order=order(50, "5.00"), now=NOW)
    settled = account_fields_settle(store=store, customer_key=key, sent=sent, account_id=account_id, now=NOW)
    assert (settled.corrections, settled.settled) == (2, False)
    assert "daily recompute" in settled.note
    assert account_patches(salesforce.app) == 2
    assert pushed(store, key) is None  # unknown: the daily recompute sends the values
    assert services.analytics_recompute(store=store, now=NOW).pushed == 1
    assert account_analytics(account_of(salesforce.app, key), list(expected(store, key))) == expected(store, key)


def test_a_failed_correction_leaves_what_was_pushed_unknown(store, order, salesforce, customer):
    key, account_id = customer
    ledger_order_record(store=store, customer_key=key, order=order(1, "10.00"), now=NOW)
    with salesforce.app.lock:
        salesforce.app.org.delete("Account", account_id)
        salesforce.app.org.commit()
    settled = account_fields_settle(store=store, customer_key=key, sent={}, account_id=account_id, now=NOW)
    assert (settled.corrections, settled.settled) == (1, False)
    assert "correction failed" in settled.note
    assert pushed(store, key) is None
