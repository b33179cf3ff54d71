"""Services that create or change stores outside the admin."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from sync.models import Store

SANDBOX_STORE_HASH = "sandbox"


class SandboxOnly(Exception):
    """Refused: Salesforce credentials are configured, so this is no local run."""


def store_sandbox_ensure(*, api_base_url: str) -> tuple[Store, bool]:
    """Create or update the store that talks to the local BigCommerce stand-in; ``(store, created)``.

    Only in sandbox mode, so a deployment with real credentials never gains a store with the
    stand-in's well-known token and secret.
    """
    if not settings.SALESFORCE["SANDBOX"]:
        raise SandboxOnly("Salesforce credentials are configured: the sandbox store is for local runs only.")
    return Store.objects.update_or_create(
        store_hash=SANDBOX_STORE_HASH,
        defaults={
            "name": "Sandbox store",
            "api_base_url": api_base_url,
            "access_token": "sandbox-token",
            "webhook_secret": "sandbox-webhook-secret",
            "is_active": True,
        },
    )


@dataclass(frozen=True)
class SecretsReencrypted:
    """What ``secrets_reencrypt`` rewrote: counts only, never a value."""

    stores: int
    secrets: int


def secrets_reencrypt() -> SecretsReencrypted:
    """Rewrite every store secret with the first key of ``FIELD_ENCRYPTION_KEYS`` (after adding a new key).

    Reading decrypts with any configured key; writing encrypts with the first. A secret no key opens
    raises ``SecretUndecryptable`` naming the store, and nothing is rewritten (one transaction).
    ``update()`` keeps ``updated_at`` and the rotation bookkeeping of ``save()`` untouched.
    """
    stores = secrets = 0
    with transaction.atomic():
        for store in Store.objects.select_for_update().order_by("pk"):
            values = {name: getattr(store, name) for name in Store.ENCRYPTED_FIELDS}
            Store.objects.filter(pk=store.pk).update(**values)
            stores += 1
            secrets += sum(1 for value in values.values() if value)
    return SecretsReencrypted(stores=stores, secrets=secrets)
