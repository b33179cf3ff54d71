"""Factories of the sync app: stores, stored webhook deliveries and the customers known in Salesforce."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from sync.models import CustomerLink, Store, WebhookEvent


class StoreFactory(DjangoModelFactory[Store]):
    """A BigCommerce store; the hash is unique per row, the name a realistic shop name.

    Secrets and the store id default to empty like a freshly added store; tests that authenticate pass their own.
    """

    class Meta:
        model = Store

    name = factory.Faker("company")
    # A sequence, not Faker: store_hash is unique and a collision would fail a test at random.
    store_hash = factory.Sequence(lambda n: f"store{n}")
    # store_id stays blank (the model's default: webhooks' store id not checked); tests of that check set one.
    timezone = "UTC"


class WebhookEventFactory(DjangoModelFactory[WebhookEvent]):
    """A stored delivery as intake stores it; ``body`` is the callback BigCommerce sent for it."""

    class Meta:
        model = WebhookEvent

    store = factory.SubFactory(StoreFactory)
    scope = "store/order/created"
    # The resource type is the scope's second part ("store/order/created" → "order"), as intake derives it.
    resource_type = factory.LazyAttribute(lambda event: event.scope.split("/")[1])
    resource_id = factory.Sequence(lambda n: str(100 + n))
    hash = factory.Faker("sha1")
    # Unique per row with the hash: the (store, scope, hash, event_created_at) delivery key.
    event_created_at = factory.Sequence(lambda n: 1_561_481_571 + n)
    body = factory.LazyAttribute(
        lambda event: {
            "scope": event.scope,
            "store_id": event.store.store_id,
            "data": {"type": event.resource_type, "id": _resource_id_wire(event.resource_id)},
            "hash": event.hash,
            "created_at": event.event_created_at,
            "producer": f"stores/{event.store.store_hash}",
        }
    )


def _resource_id_wire(resource_id: str) -> int | str:
    """BigCommerce sends numeric ids as numbers and cart ids (UUIDs) as strings."""
    return int(resource_id) if resource_id.isdigit() else resource_id


class CustomerLinkFactory(DjangoModelFactory[CustomerLink]):
    """A customer the order sync created in Salesforce: an Account and a Contact with 18-character Ids."""

    class Meta:
        model = CustomerLink

    store = factory.SubFactory(StoreFactory)
    customer_key = factory.LazyAttributeSequence(lambda link, n: link.store.external_id(n))
    account_id = factory.Sequence(lambda n: f"001{n:015d}")
    contact_id = factory.Sequence(lambda n: f"003{n:015d}")
