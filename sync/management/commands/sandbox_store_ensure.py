"""Point b2s at the local BigCommerce stand-in (sandbox mode only)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from b2s.env import SANDBOX_BIGCOMMERCE_PORT
from sync.services.stores import SandboxOnly, store_sandbox_ensure


class Command(BaseCommand):
    help = "Create or update the 'sandbox' store that talks to the local BigCommerce stand-in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default=f"https://127.0.0.1:{SANDBOX_BIGCOMMERCE_PORT}")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            store, created = store_sandbox_ensure(api_base_url=options["url"])
        except SandboxOnly as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{'Created' if created else 'Updated'} store {store}.")
