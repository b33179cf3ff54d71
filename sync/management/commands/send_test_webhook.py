"""``manage.py send_test_webhook --store HASH --scope store/order/created --id 123 [--url URL]``.

Signs and posts a callback exactly as BigCommerce would (the store's authentication mode and
secret), to this b2s or another one; prints the answer. The secret itself is never printed.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sync.selectors import store_get
from sync.services.webhooks import webhook_payload_build, webhook_request_sign

DEFAULT_URL = "http://127.0.0.1:8000"


def endpoint_url(*, url: str, store_hash: str) -> str:
    """The endpoint for ``store_hash`` under a b2s base URL (a full endpoint URL is kept)."""
    if "/webhooks/" in url:
        return url
    return f"{url.rstrip('/')}/webhooks/bigcommerce/{store_hash}/"


class Command(BaseCommand):
    help = "Sign and post a test webhook as BigCommerce would."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--store", required=True, help="The store hash.")
        parser.add_argument("--scope", required=True, help="e.g. store/order/created")
        parser.add_argument("--id", required=True, help="data.id: a number, or a cart's UUID.")
        parser.add_argument("--url", default=DEFAULT_URL, help=f"b2s base URL or endpoint URL (default {DEFAULT_URL}).")
        parser.add_argument("--data", default="", help="Extra data members as JSON, e.g. '{\"orderId\": 5}'.")
        parser.add_argument("--ca-bundle", default="", help="CA bundle to verify an https URL.")
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, *args: Any, **options: Any) -> None:
        store = store_get(store_hash=options["store"])
        if store is None:
            raise CommandError(f"No store with hash {options['store']!r}.")
        resource_id: int | str = int(options["id"]) if options["id"].isdigit() else options["id"]
        try:
            extra = json.loads(options["data"]) if options["data"] else {}
        except ValueError:
            raise CommandError("--data is not JSON.") from None
        if not isinstance(extra, dict):
            raise CommandError("--data must be a JSON object.")
        payload = webhook_payload_build(store=store, scope=options["scope"], resource_id=resource_id, extra=extra)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **webhook_request_sign(store=store, body=body)}
        url = endpoint_url(url=options["url"], store_hash=store.store_hash)
        try:
            response = requests.post(
                url, data=body, headers=headers, timeout=options["timeout"], verify=options["ca_bundle"] or True
            )
        except requests.RequestException as error:
            raise CommandError(f"Could not post to {url}: {type(error).__name__}") from None
        self.stdout.write(f"POST {url} {payload['scope']} data.id={resource_id} hash={payload['hash']}")
        self.stdout.write(f"-> HTTP {response.status_code} {response.text[:200]}".rstrip())
        if not 200 <= response.status_code < 300:
            raise CommandError(f"b2s answered {response.status_code}.")
