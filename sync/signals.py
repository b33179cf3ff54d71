"""Invalidate the configuration accessor whenever a configuration row changes."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from sync.config import config, config_version_bump
from sync.models import FeatureFlag, FieldMapping, OrderStatusMapping, SyncSetting, Threshold

CONFIG_MODELS = (FeatureFlag, Threshold, SyncSetting, FieldMapping, OrderStatusMapping)


@receiver(post_save)
@receiver(post_delete)
def configuration_changed(sender: type, **kwargs: Any) -> None:
    """Bump the shared version (other processes) and drop this process's snapshot."""
    if sender in CONFIG_MODELS and not kwargs.get("raw"):
        config_version_bump()
        # A rolled-back edit must not linger in this process either.
        transaction.on_commit(config.invalidate)
