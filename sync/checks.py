"""System checks of the sync app (registered when the app is ready)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db import DatabaseError, connections
from django.db.migrations.recorder import MigrationRecorder

from sync.fields import ENCRYPTING_MIGRATION, KEYS_ENV, SecretUndecryptable
from sync.models import Store


@checks.register(checks.Tags.database)
def secrets_readable_check(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every stored secret opens with a configured key (runs with ``migrate`` and ``check --database``).

    Skipped until the migration that encrypts the secrets is applied (before it they are plain text).
    """
    errors: list[checks.CheckMessage] = []
    for alias in databases or []:
        try:
            if ("sync", ENCRYPTING_MIGRATION) not in MigrationRecorder(connections[alias]).applied_migrations():
                continue
            for store in Store.objects.using(alias).order_by("pk"):
                for name in Store.ENCRYPTED_FIELDS:
                    try:
                        getattr(store, name)
                    except SecretUndecryptable as error:
                        errors.append(checks.Error(str(error), hint=f"Set {KEYS_ENV}.", id="sync.E010"))
        except DatabaseError:  # no database yet: migrate creates it
            continue
    return errors
