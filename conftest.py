"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

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
def own_fixture():
    """Load one of the project's own webhook fixtures by scope (``tests/fixtures/webhooks``)."""
    import json

    def load(name: str) -> dict:
        return json.loads((PROJECT_DIR / "tests" / "fixtures" / "webhooks" / f"{name}.json").read_text())

    return load


@pytest.fixture(autouse=True)
def _configuration_fresh():
    """Each test starts from the database's configuration, not a snapshot a rolled-back test left."""
    from sync.config import config

    config.invalidate()
    yield
    config.invalidate()
