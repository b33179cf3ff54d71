"""Fixtures of the operations tests: a b2s store wired to the BigCommerce stand-in."""

from __future__ import annotations

import pytest

from sync.models import Store


@pytest.fixture
def sandbox_store(sandbox_store_make) -> Store:
    """The b2s Store row for the stand-in's default store (no store id checked), trusting its CA."""
    return sandbox_store_make(store_id="", webhook_secret="test-webhook-secret")
