"""Benchmark: the backfill's speed and its Salesforce cost, over a network-like latency.

    .venv/bin/python bench/backfill.py [--orders 2000] [--latency-ms 100] [--quota 450] [--no-shipments]
                                       [--batch-size 1000] [--database-url URL]

A store of ``--orders`` past orders (US dollars; about 200 registered customers and repeat guests;
1-4 lines from the stand-in's catalog; two in five shipped, one in twenty partly refunded) is loaded
with ``backfill_run``, the service behind ``manage.py backfill``. Both stand-ins are served over
HTTPS and add ``--latency-ms`` to every API request. BigCommerce's rate limit is a Pro plan's
(``--quota`` requests per 30 s); the backfill waits it out like any real run.

A warm-up backfills the first 50 orders (the catalog's products get created in Salesforce then, as
in any store whose products were synced before); the measured run loads all of them (the warm-up's
50 are already there and count as unchanged). Requests are read from the stand-ins' own counters.
``--no-shipments`` runs the backfill without reading shipped orders' tracking numbers (one
BigCommerce request per shipped order otherwise).
Exits non-zero when an order is missing from Salesforce or duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench_setup import django_bootstrap  # noqa: E402  (beside this script)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--quota", type=int, default=450, help="BigCommerce requests per 30 s window")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-shipments", action="store_true", help="Do not read tracking numbers (/shipments).")
    parser.add_argument("--batch-size", type=int, default=0, help="Orders per Salesforce batch (default: b2s's).")
    parser.add_argument("--database-url", default="", help="Default: a temporary SQLite file.")
    args = parser.parse_args()

    workdir = django_bootstrap(prefix="b2s-bench-backfill-", database_url=args.database_url)
    database_url = os.environ["DATABASE_URL"]
    from django.conf import settings

    from orders.backfill import BackfillFilters, backfill_run
    from sandbox.bigcommerce.app import BigCommerceSandbox
    from sandbox.salesforce import SalesforceSandbox
    from sandbox.server import ServerThread
    from sync.models import Store

    salesforce = ServerThread(SalesforceSandbox(), tls_dir=workdir / "sf-tls").start()
    bigcommerce_app = BigCommerceSandbox(rate_limit_quota=args.quota)
    bigcommerce = ServerThread(bigcommerce_app, tls_dir=workdir / "bc-tls").start()
    try:
        settings.SALESFORCE = {**settings.SALESFORCE, "LOGIN_URL": salesforce.url, "CA_BUNDLE": salesforce.ca_path}
        settings.BIGCOMMERCE_CA_BUNDLE = bigcommerce.ca_path
        store = Store.objects.create(
            name="Bench",
            store_hash=bigcommerce_app.store_hash,
            api_base_url=bigcommerce.url,
            access_token="sandbox-token",
            webhook_secret="bench-backfill-secret-0123456789",
        )
        rng = random.Random(args.seed)
        customers = [bigcommerce_app.customer_create(email=f"buyer{index}@example.com")["id"] for index in range(200)]
        catalog = [product for product in bigcommerce_app._data.catalog if product.type == "physical"]
        now = time.time()
        ids = []
        for index in range(args.orders):
            spec = {
                "customer_id": rng.choice(customers) if rng.random() < 0.6 else 0,
                "currency_code": "USD",
                "status_id": 11,
                "date_created": int(now - (args.orders - index) * 3600 * 4),
                "products": [
                    {"product_id": product.id, "quantity": rng.randint(1, 3)}
                    for product in rng.sample(catalog, rng.randint(1, 4))
                ],
            }
            if spec["customer_id"] == 0:
                spec["email"] = f"guest{index % 300}@example.com"
            order_id = bigcommerce_app.order_create(spec)["id"]
            ids.append(order_id)
            if rng.random() < 0.4:
                bigcommerce_app.shipment_create(order_id)
            if rng.random() < 0.05:
                bigcommerce_app.refund_create(order_id, "5.00")

        warm = time.monotonic()
        backfill_run(store=store, filters=BackfillFilters(ids=tuple(ids[:50])))
        warm_seconds = time.monotonic() - warm

        salesforce.app.fault_add("latency", latency_ms=args.latency_ms)
        bigcommerce_app.fault_add(kind="latency", latency_ms=int(args.latency_ms))
        sf_before, bc_before = salesforce.app.api_calls_counted(), len(bigcommerce_app.calls())
        started = time.monotonic()
        options = {"shipments": not args.no_shipments}
        if args.batch_size:
            options["batch_size"] = args.batch_size
        summary = backfill_run(store=store, filters=BackfillFilters(), **options)
        seconds = time.monotonic() - started
        sf_spent = salesforce.app.api_calls_counted() - sf_before
        bc_calls = bigcommerce_app.calls()[bc_before:]
        per_path = Counter(
            "list" if call["path"].endswith("/v2/orders") else call["path"].rsplit("/", 1)[-1] for call in bc_calls
        )
        keys = Counter(record["BigCommerceOrderId__c"] for record in salesforce.app.records("Order"))
        missing = [order_id for order_id in ids if keys.get(f"{store.store_hash}:{order_id}") != 1]
        result = {
            "orders": args.orders,
            "latency_ms": args.latency_ms,
            "shipments": not args.no_shipments,
            "batch_size": args.batch_size or None,
            "bigcommerce_quota": args.quota,
            "seconds": round(seconds, 1),
            "orders_per_second": round(args.orders / seconds, 1),
            "salesforce_requests": sf_spent,
            "salesforce_requests_per_1000_orders": round(sf_spent / args.orders * 1000, 1),
            "bigcommerce_requests": len(bc_calls),
            "bigcommerce_requests_per_1000_orders": round(len(bc_calls) / args.orders * 1000, 1),
            "rate_limited_answers": sum(1 for call in bc_calls if call["status"] == 429),
            "shipment_requests": summary.shipment_requests,
            "shipments_skipped": summary.shipments_skipped,
            "synced": summary.synced,
            "unchanged": summary.unchanged,
            "failed": len(summary.failed),
            "missing_or_duplicated": len(missing),
        }
        print(f"orders: {args.orders} (warm-up of 50 in {warm_seconds:.1f} s created the catalog's products)")
        print(f"added latency: {args.latency_ms:.0f} ms on every Salesforce and BigCommerce call")
        print(f"BigCommerce quota: {args.quota} requests / 30 s; database: {database_url.split(':', 1)[0]}")
        print(f"wall time: {seconds:.1f} s  ->  {result['orders_per_second']} orders/second")
        print(
            f"Salesforce requests: {sf_spent} ({result['salesforce_requests_per_1000_orders']} per 1,000 orders; "
            "analytics recompute included)"
        )
        print(
            f"BigCommerce requests: {len(bc_calls)} ({result['bigcommerce_requests_per_1000_orders']} per 1,000 "
            f"orders: {dict(per_path.most_common(4))}; {result['rate_limited_answers']} answered 429)"
        )
        print(
            f"tracking numbers: {summary.shipment_requests} /shipments requests, "
            f"{summary.shipments_skipped} shipped orders not read"
        )
        print(f"synced {summary.synced}, unchanged {summary.unchanged}, failed {len(summary.failed)}")
        results = PROJECT / "bench" / "results"
        results.mkdir(exist_ok=True)
        name = "backfill-no-shipments.json" if args.no_shipments else "backfill.json"
        (results / name).write_text(json.dumps(result, indent=2) + "\n")
        if missing or summary.failed:
            print(f"WRONG: {len(missing)} orders missing or duplicated, {len(summary.failed)} failed")
            return 1
        return 0
    finally:
        salesforce.stop()
        bigcommerce.stop()
        bigcommerce_app.close()


if __name__ == "__main__":
    sys.exit(main())
