"""``manage.py register_webhooks``: one BigCommerce hook per handled scope, pointing at b2s."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sync.models import Store
from sync.selectors import store_get, stores_active
from sync.webhook_registration import (
    CREATE,
    DELETE,
    KEEP,
    REACTIVATE,
    UPDATE,
    RegistrationError,
    RegistrationResult,
    webhooks_list,
    webhooks_register,
    webhooks_unregister,
)


class Command(BaseCommand):
    help = (
        "Create or update exactly one BigCommerce webhook per scope b2s handles, pointing at "
        "{base-url}/webhooks/bigcommerce/{store_hash}/ with the store's authentication header; reactivate "
        "deactivated hooks and remove b2s hooks for scopes no longer handled. Idempotent. Run it after rotating a "
        "store's webhook secret: hooks still carrying the old secret are updated to the new one."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--store", metavar="HASH", help="Only this store (default: every active store).")
        parser.add_argument(
            "--base-url", metavar="URL", help="Where BigCommerce reaches b2s, e.g. https://b2s.example.com"
        )
        parser.add_argument("--list", action="store_true", help="Show each hook's state and change nothing.")
        parser.add_argument("--delete", action="store_true", help="Remove every b2s hook of the store(s).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change, change nothing.")
        parser.add_argument(
            "--allow-insecure",
            action="store_true",
            help="Accept an http:// base URL or a port other than 443 (local sandbox only).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from sync.bigcommerce import BigCommerceError

        if options["store"]:
            store = store_get(store_hash=options["store"])
            if store is None:
                raise CommandError(f"No store with hash {options['store']!r}.")
            stores = [store]
        else:
            stores = list(stores_active())
        if not stores:
            raise CommandError("No active store: add one in the admin first.")
        base_url = options["base_url"] or ""
        if not options["list"] and not base_url:
            raise CommandError("--base-url is required (the public HTTPS address of this b2s deployment).")
        try:
            for store in stores:
                if options["list"]:
                    self._list(store, base_url)
                elif options["delete"]:
                    result = webhooks_unregister(
                        store=store,
                        base_url=base_url,
                        dry_run=options["dry_run"],
                        allow_insecure=options["allow_insecure"],
                    )
                    self._report(result)
                else:
                    result = webhooks_register(
                        store=store,
                        base_url=base_url,
                        dry_run=options["dry_run"],
                        allow_insecure=options["allow_insecure"],
                    )
                    self._report(result)
        except RegistrationError as error:
            raise CommandError(str(error)) from None
        except BigCommerceError as error:
            raise CommandError(f"BigCommerce answered {error.status}: {error.title}") from None

    def _list(self, store: Store, base_url: str) -> None:
        self.stdout.write(f"Store {store.store_hash}:")
        states = webhooks_list(store=store, base_url=base_url)
        if not states:
            self.stdout.write("  no hooks")
        for state in states:
            hook_id = str(state.hook_id) if state.hook_id is not None else "-"
            owner = "b2s" if state.ours else "other"
            self.stdout.write(f"  {hook_id:>8}  {state.state:<11}  {owner:<5}  {state.scope:<32}  {state.destination}")

    def _report(self, result: RegistrationResult) -> None:
        prefix = "[dry run] would " if result.dry_run else ""
        self.stdout.write(f"Store {result.store_hash} → {result.destination}")
        for change in result.changes:
            if change.action == KEEP:
                continue
            hook = f" (hook {change.hook_id})" if change.hook_id is not None else ""
            self.stdout.write(f"  {prefix}{change.action} {change.scope}{hook}: {change.reason}")
        if not result.changed:
            self.stdout.write(f"  no change: {result.count(KEEP)} hook(s) already as wanted")
            return
        counts = ", ".join(
            f"{result.count(action)} {label}"
            for action, label in (
                (CREATE, "created"),
                (UPDATE, "updated"),
                (REACTIVATE, "reactivated"),
                (DELETE, "deleted"),
                (KEEP, "unchanged"),
            )
            if result.count(action)
        )
        self.stdout.write(f"  {'would be: ' if result.dry_run else ''}{counts}")
