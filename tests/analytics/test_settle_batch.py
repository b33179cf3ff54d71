"""accounts_fields_settle and customers_account_fields: a batch's checks give what the checks one by one give.

Against the Salesforce stand-in (every strict rule on); expected values from the ledger through the
pure rules (``ledger_account_fields``).
"""

from __future__ import annotations

import pytest

from analytics.services import (
    SettleCheck,
    accounts_fields_settle,
    customer_account_fields,
    customers_account_fields,
    ledger_order_record,
)

from .conftest import NOW
from .payloads import account_analytics, accounts_seed, customer_key
from .test_settle import account_of, account_patches, expected, pushed

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(store, salesforce):
    ids = accounts_seed(salesforce.app, store=store, customers=3)
    return [(customer_key(store, number), account_id) for number, account_id in enumerate(ids, start=1)]


def test_the_batch_values_are_each_customers_values(store, order, customers):
    for number, (key, _) in enumerate(customers, start=1):
        for index in range(number):
            ledger_order_record(store=store, customer_key=key, order=order(number * 10 + index, "40.00"), now=NOW)
    keys = [key for key, _ in customers] + ["nobody:1"]
    values = customers_account_fields(store=store, customer_keys=keys, now=NOW)
    assert values == {key: customer_account_fields(store=store, customer_key=key, now=NOW) for key in keys}


def test_values_equal_to_the_ledger_cost_nothing_and_are_remembered(store, order, salesforce, customers):
    for number, (key, _) in enumerate(customers, start=1):
        ledger_order_record(store=store, customer_key=key, order=order(number, "10.00"), now=NOW)
    sent = {key: customer_account_fields(store=store, customer_key=key, now=NOW) for key, _ in customers}
    checks = [SettleCheck(key, sent[key], account_id) for key, account_id in customers]

    settled = accounts_fields_settle(store=store, checks=checks, now=NOW)

    assert [(result.corrections, result.settled) for result in settled] == [(0, True)] * 3
    assert salesforce.app.api_calls_counted() == 0
    assert all(pushed(store, key) == expected(store, key) for key, _ in customers)


def test_a_customer_changed_meanwhile_is_corrected_the_others_are_not(store, order, salesforce, customers):
    (first, first_id), (second, second_id), _ = customers
    ledger_order_record(store=store, customer_key=first, order=order(1, "10.00"), now=NOW)
    ledger_order_record(store=store, customer_key=second, order=order(2, "10.00"), now=NOW)
    sent = {key: customer_account_fields(store=store, customer_key=key, now=NOW) for key in (first, second)}
    # While the batch's write was in flight, another worker recorded the second customer's next order.
    ledger_order_record(store=store, customer_key=second, order=order(3, "990.00"), now=NOW)
    checks = [
        SettleCheck(first, sent[first], first_id),
        SettleCheck(second, sent[second], second_id),
        SettleCheck(second, None, second_id),  # a later order of that customer, unchanged but recorded
    ]

    settled = accounts_fields_settle(store=store, checks=checks, now=NOW)

    assert [(result.corrections, result.settled) for result in settled] == [(0, True), (1, True), (0, True)]
    assert account_patches(salesforce.app) == 1
    want = expected(store, second)
    assert want["Total_Orders__c"] == 2
    assert account_analytics(account_of(salesforce.app, second), list(want)) == want
    assert pushed(store, second) == want and pushed(store, first) == expected(store, first)


def test_nothing_sent_compares_what_was_pushed(store, order, salesforce, customers):
    (key, account_id), *_ = customers
    ledger_order_record(store=store, customer_key=key, order=order(1, "10.00"), now=NOW)

    [settled] = accounts_fields_settle(store=store, checks=[SettleCheck(key, None, account_id)], now=NOW)

    assert settled.corrections == 1 and account_patches(salesforce.app) == 1
    assert account_analytics(account_of(salesforce.app, key), list(expected(store, key))) == expected(store, key)
