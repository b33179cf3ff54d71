"""Factories of the recovery app: carts."""

from __future__ import annotations

import factory
import factory.fuzzy
from factory.django import DjangoModelFactory

from recovery.models import Cart

from .sync import StoreFactory


class CartFactory(DjangoModelFactory[Cart]):
    """An open cart of a shopper; BigCommerce cart ids are UUIDs."""

    class Meta:
        model = Cart

    store = factory.SubFactory(StoreFactory)
    cart_id = factory.Faker("uuid4")
    value = factory.fuzzy.FuzzyDecimal(5, 500)
    currency = "USD"
    email = factory.Faker("email")
