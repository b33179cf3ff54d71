"""Command-line options of ``python -m sandbox bigcommerce`` (the shared ``__main__`` adds --port/--tls-dir)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from sandbox.bigcommerce.app import BigCommerceSandbox
from sandbox.bigcommerce.generator import DEFAULT_BASE_DATE


def _date(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def arguments_add(parser: argparse.ArgumentParser) -> None:
    """Add the BigCommerce stand-in's options."""
    group = parser.add_argument_group("store")
    group.add_argument("--store-hash", default="sandbox", help="store hash in /stores/{hash}/ (default: sandbox)")
    group.add_argument("--access-token", default="sandbox-token", help="accepted X-Auth-Token")
    group.add_argument("--store-id", default="1000001", help="numeric store id sent in webhook callbacks")
    group.add_argument("--client-id", default="sandbox-client-id", help="client_id shown on hooks")
    group.add_argument(
        "--client-secret",
        default="sandbox-client-secret",
        help="key of the Standard Webhooks signature (webhook-signature)",
    )
    data = parser.add_argument_group("generated data (any of these fills the store)")
    data.add_argument("--seed", type=int, default=None, help="random seed of the generator (default 0)")
    data.add_argument("--customers", type=int, default=None, help="registered customers (default 50)")
    data.add_argument("--orders", type=int, default=None, help="orders (default 200)")
    data.add_argument("--carts", type=int, default=None, help="open carts (default 20)")
    data.add_argument(
        "--base-date",
        type=_date,
        default=DEFAULT_BASE_DATE,
        help="generated data lies before this ISO date (default 2025-06-01T12:00Z)",
    )
    limits = parser.add_argument_group("API limits")
    limits.add_argument("--rate-limit-quota", type=int, default=150, help="requests per window (default 150)")
    limits.add_argument("--rate-limit-window-ms", type=int, default=30_000, help="window length (default 30000)")
    hooks = parser.add_argument_group("webhook deliveries")
    hooks.add_argument(
        "--retry-factor", type=float, default=1.0, help="divide BigCommerce's retry delays by this (default 1)"
    )
    hooks.add_argument("--sign-standard", action="store_true", help="add Standard Webhooks signature headers")
    hooks.add_argument("--legacy-secret", default=None, help="add X-BC-Webhook-Signature keyed with this secret")
    hooks.add_argument("--duplicate-probability", type=float, default=0.0, help="send an event twice this often")
    hooks.add_argument("--reorder", choices=("shuffle", "reverse"), default=None, help="deliver out of order")
    hooks.add_argument("--no-verify-tls", action="store_true", help="do not verify the destination's TLS certificate")
    hooks.add_argument("--ca-bundle", default=None, help="verify destinations against this CA bundle")
    hooks.add_argument("--strict-destinations", action="store_true", help="accept only https destinations on port 443")


def app_build(args: argparse.Namespace) -> BigCommerceSandbox:
    """Build the WSGI app from parsed options."""
    generated = any(value is not None for value in (args.seed, args.customers, args.orders, args.carts))
    counts: dict[str, Any] = {}
    if generated:
        counts = {
            "seed": args.seed if args.seed is not None else 0,
            "customers": args.customers if args.customers is not None else 50,
            "orders": args.orders if args.orders is not None else 200,
            "carts": args.carts if args.carts is not None else 20,
            "base_date": args.base_date,
        }
    verify: bool | str = args.ca_bundle or not args.no_verify_tls
    return BigCommerceSandbox(
        store_hash=args.store_hash,
        store_id=args.store_id,
        client_id=args.client_id,
        access_token=args.access_token,
        client_secret=args.client_secret,
        rate_limit_quota=args.rate_limit_quota,
        rate_limit_window_ms=args.rate_limit_window_ms,
        retry_factor=args.retry_factor,
        sign_standard=args.sign_standard,
        legacy_secret=args.legacy_secret,
        duplicate_probability=args.duplicate_probability,
        reorder=args.reorder,
        verify_tls=verify,
        strict_destinations=args.strict_destinations,
        **counts,
    )
