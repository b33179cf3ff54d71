"""The data migration that rewrites ``{hash}:guest:{email}`` keys in every local table."""

from __future__ import annotations

import hashlib
import importlib

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from analytics.models import CustomerValues, LedgerEntry
from orders.models import SyncedOrder
from recovery.models import Cart
from tests.factories.analytics import CustomerValuesFactory, LedgerEntryFactory
from tests.factories.orders import SyncedOrderFactory
from tests.factories.recovery import CartFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("sync.migrations.0008_guest_keys_and_match_rules")


def historic_apps():
    """The models as that migration sees them (SyncedOrder was the sync app's then; the tables are the same)."""
    return MigrationLoader(connection).project_state(("sync", "0008_guest_keys_and_match_rules")).apps


def test_old_guest_keys_are_rewritten_everywhere_and_others_kept(store) -> None:
    old, registered = "sandbox:guest:pat@example.inc", "sandbox:42"
    new = "sandbox:guest:" + hashlib.sha256(b"pat@example.inc").hexdigest()[:32]
    for number, key in ((1, old), (2, registered)):
        # Only the keys matter here: every other value is the factories'.
        SyncedOrderFactory(store=store, order_id=number, account_key=key)
        LedgerEntryFactory(store=store, customer_key=key, order_id=number)
        CustomerValuesFactory(store=store, customer_key=key)
        CartFactory(store=store, customer_key=key)

    migration.guest_keys_rewrite(historic_apps(), None)

    for model, column in (
        (SyncedOrder, "account_key"),
        (LedgerEntry, "customer_key"),
        (CustomerValues, "customer_key"),
        (Cart, "customer_key"),
    ):
        assert sorted(model.objects.values_list(column, flat=True)) == sorted([new, registered]), model
    migration.guest_keys_rewrite(historic_apps(), None)  # a second run changes nothing
    assert SyncedOrder.objects.filter(account_key=new).count() == 1
