"""Factories of the orders app: orders as last written to Salesforce."""

from __future__ import annotations

import factory
import factory.fuzzy
from django.utils import timezone
from factory.django import DjangoModelFactory

from orders.models import SyncedOrder

from .sync import StoreFactory


class SyncedOrderFactory(DjangoModelFactory[SyncedOrder]):
    """An order the order sync wrote to Salesforce, with an Order Id in Salesforce's 18-character form."""

    class Meta:
        model = SyncedOrder

    store = factory.SubFactory(StoreFactory)
    order_id = factory.Sequence(lambda n: 100 + n)
    salesforce_id = factory.Sequence(lambda n: f"801{n:015d}")
    account_key = factory.Sequence(lambda n: f"customer-{n}")
    account_id = factory.Sequence(lambda n: f"001{n:015d}")
    sf_status = "Activated"
    bc_status_id = 11
    grand_total = factory.fuzzy.FuzzyDecimal(5, 4000)  # floats for the bounds: FuzzyDecimal draws with uniform()
    order_date = factory.LazyFunction(timezone.now)
    currency = "USD"
