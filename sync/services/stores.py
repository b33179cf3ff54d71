"""Services that create or change stores outside the admin."""

from __future__ import annotations

from django.conf import settings

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
