"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["sandbox.salesforce.fixtures", "sandbox.bigcommerce.fixtures"]

PROJECT_DIR = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ``../shared`` folder of facts; tests that need it skip where it is absent."""
    path = PROJECT_DIR.parent / "shared"
    if not (path / "reference").is_dir():
        pytest.skip(f"{path} is absent (a user's own clone): nothing to validate against")
    return path


@pytest.fixture
def own_fixture() -> Callable[[str], dict]:
    """Load one of the project's own webhook fixtures by scope (``tests/fixtures/webhooks``)."""
    import json

    def load(name: str) -> dict:
        return json.loads((PROJECT_DIR / "tests" / "fixtures" / "webhooks" / f"{name}.json").read_text())

    return load


@pytest.fixture(autouse=True)
def _configuration_fresh() -> Iterator[None]:
    """Each test starts from the database's configuration, not a snapshot a rolled-back test left."""
    from sync.config import config

    config.invalidate()
    yield
    config.invalidate()


@pytest.fixture(autouse=True)
def _doorbell_fresh() -> None:
    """Each test starts as a fresh process would: its first stored event rings for a drain."""
    from sync.services.webhooks import inbox_doorbell_reset

    inbox_doorbell_reset()


@pytest.fixture(autouse=True)
def _api_usage_fresh() -> Iterator[None]:
    """Each test starts with no API usage reading in the process (a reading left high would pause the inbox)."""
    from sync.usage import api_usage_reset

    api_usage_reset()
    yield
    api_usage_reset()


@pytest.fixture
def salesforce_wired(salesforce_sandbox: Any, settings: Any) -> Iterator[Any]:
    """b2s's Salesforce settings pointed at the freshly reset stand-in, with no cached client or ids.

    Yields the stand-in's ServerThread (``.url``, ``.ca_path``, ``.app``).
    """
    from django.core.cache import cache

    from sync.salesforce import salesforce_client_reset

    settings.SALESFORCE = {
        **settings.SALESFORCE,
        "SANDBOX": True,
        "AUTH": "client_credentials",
        "LOGIN_URL": salesforce_sandbox.url,
        "CLIENT_ID": "sandbox-client",
        "CLIENT_SECRET": "sandbox-secret",
        "CA_BUNDLE": salesforce_sandbox.ca_path,
        "API_VERSION": "64.0",
    }
    cache.clear()  # ids cached for the previous test's org (the standard price book)
    salesforce_client_reset()
    yield salesforce_sandbox
    salesforce_client_reset()
    cache.clear()


@pytest.fixture
def bigcommerce_wired(bigcommerce_sandbox: Any, settings: Any) -> Iterator[Any]:
    """b2s's BigCommerce clients trusting the stand-in's CA, none cached; yields the stand-in's ServerThread."""
    from sync.bigcommerce import bigcommerce_clients_reset

    settings.BIGCOMMERCE_CA_BUNDLE = bigcommerce_sandbox.ca_path
    bigcommerce_clients_reset()
    yield bigcommerce_sandbox
    bigcommerce_clients_reset()


@pytest.fixture
def sandbox_store_make(bigcommerce_wired: Any, db: None) -> Callable[..., Any]:
    """``make(**fields)``: the b2s Store of the BigCommerce stand-in's default store, trusting its CA."""
    from sync.models import Store
    from tests.factories.sync import StoreFactory

    def make(**fields: object) -> Store:
        # The stand-in's own hash and id: its webhooks and API paths name them.
        defaults: dict[str, object] = {
            "store_hash": bigcommerce_wired.app.store_hash,
            "store_id": bigcommerce_wired.app.store_id,
            "api_base_url": bigcommerce_wired.url,
            "access_token": "sandbox-token",
        }
        return StoreFactory(**{**defaults, **fields})

    return make
