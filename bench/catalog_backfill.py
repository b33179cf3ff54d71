"""Benchmark: ``backfill --products``, its Salesforce requests per 1,000 products, over a network-like latency.

    .venv/bin/python bench/catalog_backfill.py [--products 2000] [--latency-ms 50] [--currencies 1|3]
                                               [--database-url URL]

The BigCommerce stand-in's catalog is grown to ``--products`` products (half with 3 size variants, half
with their base variant only: 2 Product2 records a product on average; one in ten hidden), then loaded with
``products_backfill_run``, the service behind ``manage.py backfill --products``. ``--currencies 3`` makes the
Salesforce stand-in multi-currency (USD, EUR, GBP): three price book entries per variant. Both stand-ins are
served over HTTPS with ``--latency-ms`` added to every API request. A second run of the same backfill
measures the unchanged case. Requests are read from the stand-ins' own counters.
Exits non-zero when a variant is missing from Salesforce or duplicated, or a product failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench_setup import django_bootstrap  # noqa: E402  (beside this script)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--currencies", type=int, choices=(1, 3), default=1)
    parser.add_argument("--database-url", default="", help="Default: a temporary SQLite file.")
    args = parser.parse_args()

    workdir = django_bootstrap(prefix="b2s-bench-catalog-", database_url=args.database_url)
    database_url = os.environ["DATABASE_URL"]
    from django.conf import settings
    from django.utils import timezone

    from orders.backfill import products_backfill_run
    from sandbox.bigcommerce import generator
    from sandbox.bigcommerce.app import BigCommerceSandbox
    from sandbox.salesforce import SalesforceSandbox
    from sandbox.server import ServerThread
    from sync.models import Store

    salesforce_app = SalesforceSandbox()
    if args.currencies == 3:
        salesforce_app.schema.multi_currency_enable(("USD", "EUR", "GBP"))
    salesforce = ServerThread(salesforce_app, tls_dir=workdir / "sf-tls").start()
    bigcommerce_app = BigCommerceSandbox(rate_limit_quota=100000)
    bigcommerce = ServerThread(bigcommerce_app, tls_dir=workdir / "bc-tls").start()
    try:
        settings.SALESFORCE = {**settings.SALESFORCE, "LOGIN_URL": salesforce.url, "CA_BUNDLE": salesforce.ca_path}
        settings.BIGCOMMERCE_CA_BUNDLE = bigcommerce.ca_path
        store = Store.objects.create(
            name="Bench",
            store_hash=bigcommerce_app.store_hash,
            api_base_url=bigcommerce.url,
            access_token="sandbox-token",
            webhook_secret="bench-catalog-secret-0123456789",
        )
        data = bigcommerce_app._data
        now = timezone.now()
        while len(data.catalog) < args.products:
            index = len(data.catalog)
            spec: dict = {
                "name": f"Bench Product {index}",
                "sku": f"BENCH-{index}",
                "price": f"{10 + index % 90}.{index % 100:02d}",
                "description": f"<p>Bench product <b>{index}</b> &amp; friends.</p>",
                "is_visible": index % 10 != 0,
            }
            if index % 2:
                spec["variants"] = [
                    {"option_name": "Size", "option_value": size, "sku": f"BENCH-{index}-{size}"} for size in "SML"
                ]
            data.catalog.append(generator.product_build(data, spec, now=now))
        del data.catalog[args.products :]
        variants = sum(len(product.variants) for product in data.catalog)

        salesforce.app.fault_add("latency", latency_ms=args.latency_ms)
        bigcommerce_app.fault_add(kind="latency", latency_ms=int(args.latency_ms))
        runs = []
        for label in ("first", "unchanged"):
            sf_before, bc_before = salesforce.app.api_calls_counted(), len(bigcommerce_app.calls())
            started = time.monotonic()
            summary = products_backfill_run(store=store)
            seconds = time.monotonic() - started
            runs.append(
                {
                    "run": label,
                    "seconds": round(seconds, 1),
                    "salesforce_requests": salesforce.app.api_calls_counted() - sf_before,
                    "bigcommerce_requests": len(bigcommerce_app.calls()) - bc_before,
                    "synced": summary.synced,
                    "unchanged": summary.unchanged,
                    "failed": len(summary.failed),
                }
            )
        keys = Counter(record["BigCommerceProductId__c"] for record in salesforce.app.records("Product2"))
        wanted = [f"{store.store_hash}:{p.id}:{v.id}" for p in data.catalog for v in p.variants]
        missing = [key for key in wanted if keys.get(key) != 1]
        entries = len(salesforce.app.records("PricebookEntry"))
        first = runs[0]
        result = {
            "products": args.products,
            "variants": variants,
            "currencies": args.currencies,
            "price_book_entries": entries,
            "latency_ms": args.latency_ms,
            "database": database_url.split(":", 1)[0],
            "runs": runs,
            "salesforce_requests_per_1000_products": round(first["salesforce_requests"] / args.products * 1000, 1),
            "bigcommerce_requests_per_1000_products": round(first["bigcommerce_requests"] / args.products * 1000, 1),
            "missing_or_duplicated": len(missing),
        }
        print(f"products: {args.products} ({variants} variants, {args.currencies} currencies, {entries} entries)")
        print(f"added latency: {args.latency_ms:.0f} ms on every call; database: {result['database']}")
        for run in runs:
            print(
                f"{run['run']}: {run['seconds']} s, {run['salesforce_requests']} Salesforce and "
                f"{run['bigcommerce_requests']} BigCommerce requests; synced {run['synced']}, "
                f"unchanged {run['unchanged']}, failed {run['failed']}"
            )
        print(
            f"Salesforce requests per 1,000 products: {result['salesforce_requests_per_1000_products']} "
            f"(BigCommerce: {result['bigcommerce_requests_per_1000_products']})"
        )
        results = PROJECT / "bench" / "results"
        results.mkdir(exist_ok=True)
        (results / f"catalog-backfill-{args.currencies}.json").write_text(json.dumps(result, indent=2) + "\n")
        if missing or any(run["failed"] for run in runs):
            print(f"WRONG: {len(missing)} variants missing or duplicated")
            return 1
        return 0
    finally:
        salesforce.stop()
        bigcommerce.stop()
        bigcommerce_app.close()


if __name__ == "__main__":
    sys.exit(main())
