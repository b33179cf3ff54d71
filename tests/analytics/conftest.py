"""Fixtures of the analytics tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from analytics.services import LedgerOrder
from sync.models import FeatureFlag, Store, SyncSetting, Threshold
from tests.factories.sync import StoreFactory

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(db) -> Store:
    # A fixed hash: tests spell customer keys out ("an1:1").
    return StoreFactory(store_hash="an1", timezone="UTC")


@pytest.fixture
def order() -> Callable[..., LedgerOrder]:
    """Build a LedgerOrder: ``order(1, "120.00")`` with optional date, refund, status."""

    def build(
        order_id: int,
        gross: str,
        *,
        refunded: str = "0",
        status_id: int = 11,
        date: datetime | None = None,
        currency: str = "USD",
    ) -> LedgerOrder:
        return LedgerOrder(
            order_id=order_id,
            order_date=date or datetime(2025, 6, 1, 10, 0, tzinfo=UTC),
            gross_total=Decimal(gross),
            refunded_amount=Decimal(refunded),
            status_id=status_id,
            currency=currency,
        )

    return build


@pytest.fixture
def flag_set(db) -> Callable[[str, bool], None]:
    def set_flag(key: str, enabled: bool) -> None:
        row = FeatureFlag.objects.get(key=key)
        row.enabled = enabled
        row.save()  # the signal bumps the configuration version

    return set_flag


@pytest.fixture
def threshold_set(db) -> Callable[[str, str], None]:
    def set_threshold(key: str, value: str) -> None:
        row = Threshold.objects.get(key=key)
        row.value = Decimal(value)
        row.save()

    return set_threshold


@pytest.fixture
def rfm_mode(db) -> Callable[[str], None]:
    def set_mode(mode: str) -> None:
        row = SyncSetting.objects.get(key="rfm_mode")
        row.value = mode
        row.save()

    return set_mode


@pytest.fixture
def push_faked(monkeypatch) -> list:
    """Replace the Salesforce push with a recorder that reports every Account as accepted.

    For tests about what the recompute stores; the real push runs against the stand-in elsewhere.
    """
    from analytics import services

    sent: list = []

    def fake_push(pending, *, result, started_at, progress):
        sent.extend(pending)
        result.method = "fake"
        result.pushed += len(pending)
        services._pushed_remember(pending, started_at=started_at)

    monkeypatch.setattr(services, "_push", fake_push)
    return sent


@pytest.fixture
def salesforce(salesforce_wired, monkeypatch):
    """The process-wide Salesforce client pointed at the freshly reset stand-in; yields the stand-in."""
    from analytics import services

    monkeypatch.setattr(services, "BULK_POLL_SECONDS", 0.05)
    return salesforce_wired
