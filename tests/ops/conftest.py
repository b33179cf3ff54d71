"""Fixtures of the operations tests: a b2s store wired to the BigCommerce stand-in."""

from __future__ import annotations

import pytest

from sync.models import Store


@pytest.fixture
def sandbox_store(bigcommerce_sandbox, settings, db):
    """The b2s Store row for the stand-in's default store, trusting its CA."""
    from sync.bigcommerce import bigcommerce_clients_reset

    settings.BIGCOMMERCE_CA_BUNDLE = bigcommerce_sandbox.ca_path
    bigcommerce_clients_reset()
    store = Store.objects.create(
        name="Sandbox store",
        store_hash="sandbox",
        api_base_url=bigcommerce_sandbox.url,
        access_token="sandbox-token",
        webhook_secret="test-webhook-secret",
    )
    yield store
    bigcommerce_clients_reset()
