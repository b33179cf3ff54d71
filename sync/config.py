"""The one cached accessor for admin-edited configuration.

Every process keeps a snapshot of flags, thresholds, settings, field and status
mappings. Saving any of them in the admin bumps ``ConfigVersion``; each process
checks that counter at most every ``CONFIG_CHECK_SECONDS`` and reloads when it
moved, so web processes and workers pick up an edit within seconds. The process
that saved reloads at once.

    from sync.config import config
    config.flag("platform_events")
    config.threshold("opportunity_min_value")
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from sync.mapping import CompiledMapping, mapping_compile


@dataclass(frozen=True)
class StatusRule:
    """What a BigCommerce status means on the Salesforce side."""

    bc_status_id: int
    name: str
    sf_status: str
    counts_toward_analytics: bool


@dataclass(frozen=True)
class WritebackField:
    """A Salesforce Order field written back to a BigCommerce order field (``SalesforceOrderFieldWriteback``)."""

    sf_field: str
    bc_field: str
    enabled: bool


@dataclass
class _Snapshot:
    version: int
    flags: dict[str, bool] = field(default_factory=dict)
    thresholds: dict[str, Decimal] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    mappings: dict[str, list[tuple[str, CompiledMapping]]] = field(default_factory=dict)
    statuses: dict[int, StatusRule] = field(default_factory=dict)
    # Salesforce status → (BigCommerce status id, category), for the write-back.
    writeback_statuses: dict[str, tuple[int, str]] = field(default_factory=dict)
    writeback_fields: list[WritebackField] = field(default_factory=list)
    # Values derived from other admin-edited rows (the webhook endpoint's stores), filled on demand.
    derived: dict[str, dict] = field(default_factory=dict)


# An unmapped status (BigCommerce may add one) syncs as an activated, counted order.
_DEFAULT_STATUS = ("Activated", True)


class ConfigAccessor:
    """Thread-safe, version-checked snapshot of the configuration tables."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._checked_at = 0.0

    # -- reading ----------------------------------------------------------------------------
    def flag(self, key: str) -> bool:
        """Whether the feature flag ``key`` is on."""
        flags = self._current().flags
        if key not in flags:
            raise KeyError(f"Unknown feature flag {key!r}; known: {', '.join(sorted(flags))}")
        return flags[key]

    def threshold(self, key: str) -> Decimal:
        """The threshold ``key`` as an exact Decimal."""
        thresholds = self._current().thresholds
        if key not in thresholds:
            raise KeyError(f"Unknown threshold {key!r}; known: {', '.join(sorted(thresholds))}")
        return thresholds[key]

    def setting(self, key: str) -> str:
        """The named setting ``key`` (RFM mode, guest account name, ...)."""
        values = self._current().settings
        if key not in values:
            raise KeyError(f"Unknown setting {key!r}; known: {', '.join(sorted(values))}")
        return values[key]

    def field_mappings(self, sf_object: str) -> list[CompiledMapping]:
        """The enabled mappings for ``sf_object`` whose feature flag (if any) is on."""
        snapshot = self._current()
        return [
            mapping
            for flag, mapping in snapshot.mappings.get(sf_object, [])
            if not flag or snapshot.flags.get(flag, False)
        ]

    def status_rule(self, bc_status_id: int) -> StatusRule:
        """The Salesforce status and analytics rule for a BigCommerce status id."""
        rule = self._current().statuses.get(int(bc_status_id))
        if rule is None:
            sf_status, counts = _DEFAULT_STATUS
            return StatusRule(int(bc_status_id), f"Status {bc_status_id}", sf_status, counts)
        return rule

    def writeback_status(self, sf_status: str) -> int | None:
        """The BigCommerce status id a Salesforce Order status is written back as, or None (not mapped)."""
        mapped = self._current().writeback_statuses.get(sf_status)
        return mapped[0] if mapped else None

    def writeback_statuses(self) -> dict[str, int]:
        """Every mapped Salesforce status and its BigCommerce status id."""
        return {name: status_id for name, (status_id, _category) in self._current().writeback_statuses.items()}

    def writeback_fields(self, *, enabled_only: bool = True) -> list[WritebackField]:
        """The Salesforce Order fields written back to BigCommerce (the enabled rows, or every row)."""
        return [row for row in self._current().writeback_fields if row.enabled or not enabled_only]

    def status_category(self, sf_status: str) -> str:
        """Draft or Activated: the category of an Order status (b2s's own two, or a mapped merchant status)."""
        if sf_status in ("Draft", "Activated"):
            return sf_status
        mapped = self._current().writeback_statuses.get(sf_status)
        return mapped[1] if mapped else "Activated"

    def per_version(self, name: str) -> dict:
        """A dict for values read from admin-edited rows, emptied when the configuration version moves.

        Whatever is kept in it is dropped in every process within ``CONFIG_CHECK_SECONDS`` of a bump
        (at once in the process that bumped), so a model whose saves bump the version (signals.py) can
        be served from it.
        """
        return self._current().derived.setdefault(name, {})

    # -- freshness --------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Drop this process's snapshot; the next read reloads."""
        with self._lock:
            self._snapshot = None
            self._checked_at = 0.0

    def _current(self) -> _Snapshot:
        now = time.monotonic()
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and now - self._checked_at < settings.CONFIG_CHECK_SECONDS:
                return snapshot
            version = _version_read()
            if snapshot is None or snapshot.version != version:
                snapshot = _snapshot_load(version)
                self._snapshot = snapshot
            self._checked_at = now
            return snapshot


def _version_read() -> int:
    from sync.models import ConfigVersion

    return ConfigVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def _snapshot_load(version: int) -> _Snapshot:
    from sync.models import (
        FeatureFlag,
        FieldMapping,
        OrderStatusMapping,
        SalesforceOrderFieldWriteback,
        SalesforceOrderStatusMapping,
        SyncSetting,
        Threshold,
    )

    snapshot = _Snapshot(version=version)
    snapshot.flags = dict(FeatureFlag.objects.values_list("key", "enabled"))
    snapshot.thresholds = {key: Decimal(value) for key, value in Threshold.objects.values_list("key", "value")}
    snapshot.settings = dict(SyncSetting.objects.values_list("key", "value"))
    mappings: dict[str, list[tuple[str, CompiledMapping]]] = defaultdict(list)
    for row in FieldMapping.objects.filter(enabled=True).order_by("sf_object", "sf_field"):
        compiled = mapping_compile(
            sf_field=row.sf_field, source_path=row.source_path, transform=row.transform, default=row.default
        )
        mappings[row.sf_object].append((row.feature_flag, compiled))
    snapshot.mappings = dict(mappings)
    snapshot.statuses = {
        row.bc_status_id: StatusRule(row.bc_status_id, row.bc_status_name, row.sf_status, row.counts_toward_analytics)
        for row in OrderStatusMapping.objects.all()
    }
    snapshot.writeback_statuses = {
        row.sf_status: (row.bc_status_id, row.category) for row in SalesforceOrderStatusMapping.objects.all()
    }
    snapshot.writeback_fields = [
        WritebackField(row.sf_field, row.bc_field, row.enabled)
        for row in SalesforceOrderFieldWriteback.objects.order_by("bc_field")
    ]
    return snapshot


def config_version_bump() -> None:
    """Tell every process that the configuration changed, and reload this one's at once."""
    from django.db.models import F

    from sync.models import ConfigVersion

    if not ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1):
        ConfigVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    config.invalidate()


config = ConfigAccessor()
