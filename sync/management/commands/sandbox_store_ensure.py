"""Point b2s at the local BigCommerce stand-in (sandbox mode only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from b2s.env import SANDBOX_BIGCOMMERCE_PORT
from sync.models import Store


class Command(BaseCommand):
    help = "Create or update the 'sandbox' store that talks to the local BigCommerce stand-in."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default=f"https://127.0.0.1:{SANDBOX_BIGCOMMERCE_PORT}")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SALESFORCE["SANDBOX"]:
            raise CommandError("Salesforce credentials are configured: the sandbox store is for local runs only.")
        store, created = Store.objects.update_or_create(
            store_hash="sandbox",
            defaults={
                "name": "Sandbox store",
                "api_base_url": options["url"],
                "access_token": "sandbox-token",
                "webhook_secret": "sandbox-webhook-secret",
                "is_active": True,
            },
        )
        self.stdout.write(f"{'Created' if created else 'Updated'} store {store}.")
