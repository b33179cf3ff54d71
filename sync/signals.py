"""Invalidate the configuration accessor whenever a configuration row or a store changes."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from sync.config import config, config_version_bump
from sync.models import (
    FeatureFlag,
    FieldMapping,
    OrderStatusMapping,
    SalesforceOrderFieldWriteback,
    SalesforceOrderStatusMapping,
    Store,
    SyncSetting,
    Threshold,
)

# Store too: the webhook endpoint serves stores from the accessor's per-version cache (selectors.py), so a
# deactivation or a new secret saved in the admin reaches every process within CONFIG_CHECK_SECONDS.
CONFIG_MODELS = (
    FeatureFlag,
    Threshold,
    SyncSetting,
    FieldMapping,
    OrderStatusMapping,
    SalesforceOrderStatusMapping,
    SalesforceOrderFieldWriteback,
    Store,
)


def configuration_changed(sender: type, **kwargs: Any) -> None:
    """Bump the shared version (other processes) and drop this process's snapshot."""
    if not kwargs.get("raw"):
        config_version_bump()
        # A rolled-back edit must not linger in this process either.
        transaction.on_commit(config.invalidate)


# Connected per model: a post_delete receiver for every sender would turn off Django's fast delete
# (one DELETE statement) for every model, order lines included.
for model in CONFIG_MODELS:
    post_save.connect(configuration_changed, sender=model, dispatch_uid=f"config-save-{model.__name__}")
    post_delete.connect(configuration_changed, sender=model, dispatch_uid=f"config-delete-{model.__name__}")
