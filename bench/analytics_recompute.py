"""Benchmark: the daily analytics recompute over generated customers against the Salesforce stand-in.

    .venv/bin/python bench/analytics_recompute.py [--customers 5000] [--changed 437] [--database-url URL]

Uses a throw-away SQLite database (or ``--database-url``), serves the stand-in over HTTPS on a
free port, generates a ledger of 1 to 4 orders per customer and the Accounts the order sync
would have created, then times four runs:

1. first run: nothing pushed yet, every Account changes (one Bulk API 2.0 job above the threshold);
2. same day again: nothing changed, nothing sent;
3. ``--changed`` customers place an order: sObject Collections of 200;
4. thirty days later: recency moves for many customers.

It prints, per run, the wall time, the customers, the changed and pushed Accounts and the
Salesforce requests (the client's count and the stand-in's own count).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench_setup import django_bootstrap  # noqa: E402  (beside this script)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--changed", type=int, default=437)
    parser.add_argument("--database-url", default="", help="Default: a temporary SQLite file.")
    args = parser.parse_args()

    workdir = django_bootstrap(prefix="b2s-bench-analytics-", database_url=args.database_url)
    from django.conf import settings

    from analytics import services
    from analytics.models import LedgerEntry
    from analytics.services import analytics_recompute
    from sandbox.salesforce import SalesforceSandbox
    from sandbox.server import ServerThread
    from sync.models import Store
    from sync.salesforce import salesforce_client_reset
    from tests.analytics.payloads import accounts_seed, customer_key
    from tests.factories.analytics import ledger_customers_create

    server = ServerThread(SalesforceSandbox(), tls_dir=workdir / "tls").start()
    try:
        settings.SALESFORCE = {
            **settings.SALESFORCE,
            "SANDBOX": True,
            "LOGIN_URL": server.url,
            "CA_BUNDLE": server.ca_path,
            "AUTH": "client_credentials",
            "CLIENT_ID": "sandbox-client",
            "CLIENT_SECRET": "sandbox-secret",
            "API_VERSION": "64.0",
        }
        services.BULK_POLL_SECONDS = 0.1
        salesforce_client_reset()
        now = datetime.now(UTC).replace(microsecond=0)
        store, _ = Store.objects.get_or_create(store_hash="bench", defaults={"name": "Bench store"})
        LedgerEntry.objects.filter(store=store).delete()
        started = time.monotonic()
        next_order = ledger_customers_create(store=store, customers=args.customers, now=now)
        accounts_seed(server.app, store=store, customers=args.customers)
        print(
            f"setup: {args.customers} customers, {LedgerEntry.objects.filter(store=store).count()} ledger orders, "
            f"{args.customers} Accounts in the stand-in ({time.monotonic() - started:.1f} s)"
        )
        print(
            f"{'run':<34} {'seconds':>8} {'customers':>9} {'changed':>8} {'pushed':>7} {'requests':>8} {'stand-in':>8}  method"
        )

        def run(label: str, when: datetime) -> None:
            before = server.app.api_calls_counted()
            began = time.monotonic()
            result = analytics_recompute(store=store, now=when)
            seconds = time.monotonic() - began
            counted = server.app.api_calls_counted() - before
            print(
                f"{label:<34} {seconds:>8.2f} {result.customers:>9} {result.changed:>8} {result.pushed:>7} "
                f"{result.requests:>8} {counted:>8}  {result.method or '-'}"
                + (f" ({len(result.bulk_jobs)} job)" if result.bulk_jobs else "")
                + (
                    f" bound ceil(changed/200)={math.ceil(result.changed / 200)}"
                    if result.method == "collections"
                    else ""
                )
            )
            if result.failed:
                print(f"  {result.failed} failed: {result.errors[:3]}")

        run("1. first run (all changed)", now)
        run("2. same day, nothing changed", now)
        changed = [customer_key(store, number) for number in range(1, args.customers + 1, 7)][: args.changed]
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                store=store,
                customer_key=key,
                order_id=next_order + index,
                order_date=now,
                gross_total=Decimal("19.99"),
                refunded_amount=Decimal("0"),
                net_total=Decimal("19.99"),
                status_id=11,
                counted=True,
                currency="USD",
            )
            for index, key in enumerate(changed)
        )
        run(f"3. {len(changed)} customers ordered", now)
        run("4. thirty days later", now + timedelta(days=30))
    finally:
        server.stop()
        salesforce_client_reset()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
