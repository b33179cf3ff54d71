"""Benchmark: orders per minute from webhook to Salesforce, and API requests per order.

    .venv/bin/python bench/order_sync.py [--orders 300] [--workers 4] [--latency-ms 100]
        [--warmup 20] [--database-url URL] [--quota 450] [--quiet 10]

    # the issue's flash sale: a Standard plan's quota (150 requests / 30 s), 600 orders at once
    .venv/bin/python bench/order_sync.py --orders 600 --quota 150

The whole path, as in production: the BigCommerce stand-in fires ``store/order/created`` for each
new order at a live b2s web server (this process, plain HTTP on loopback), which stores the event
(the inbox row is the queue entry) and rings for a drain; a real ``manage.py qcluster`` (``--workers``
processes) claims the events in batches, reads the orders and writes them to the Salesforce stand-in. Both stand-ins are served over HTTPS and add ``--latency-ms`` to
every API request (their latency faults), which is what a real network and real APIs cost.

A warm-up of ``--warmup`` orders runs first (each worker logs in and reads the standard price book
and the Order describe once per process; the first orders meet an empty catalog). Then
``--orders`` orders are created at once; the clock runs from the first webhook to the last event
done. Requests are read from the stand-ins' own counters for the measured orders only, and requests
BigCommerce answered 429 are counted. The reference printed beside the result is what the quota allows
when orders are read one by one (one request each: 2 x quota orders a minute). Then ``--quiet`` lone
orders, one every 3 s, give the quiet-time latency from the stored webhook to the order in Salesforce.

The orders are generated like a real store's: 60 % registered customers (25 of them), the rest
guests, 1-4 lines from the stand-in's catalog of ~30 products (~60 variants), all in US dollars.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench_setup import bench_store_create, django_bootstrap, order_spec  # noqa: E402  (beside this script)

SECRET = "bench-orders-secret-0123456789"
PREDECESSOR = "Node.js predecessor (published): about 100 orders/minute, 3-6 Salesforce API requests per order"


def order_specs(rng: random.Random, catalog: list, customers: list[int], count: int, offset: int) -> list[dict]:
    return [order_spec(rng, catalog, customers, guest=(index + offset) % 60) for index in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--database-url", default="", help="Default: a temporary SQLite file.")
    parser.add_argument(
        "--quota", type=int, default=450, help="BigCommerce requests per 30 s (150: Standard, 450: Pro plan)."
    )
    parser.add_argument(
        "--quiet", type=int, default=10, help="Lone orders afterwards, one every 3 s, for the quiet-time latency."
    )
    args = parser.parse_args()

    workdir = django_bootstrap(prefix="b2s-bench-orders-", database_url=args.database_url)
    database_url = os.environ["DATABASE_URL"]
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per webhook otherwise

    from django.core.handlers.wsgi import WSGIHandler
    from django.db.models import Q
    from werkzeug.serving import make_server

    from sandbox.bigcommerce.app import BigCommerceSandbox
    from sandbox.salesforce import SalesforceSandbox
    from sandbox.server import ServerThread
    from sync.models import WebhookEvent

    salesforce = ServerThread(SalesforceSandbox(), tls_dir=workdir / "sf-tls").start()
    bigcommerce_app = BigCommerceSandbox(rate_limit_quota=args.quota)
    bigcommerce = ServerThread(bigcommerce_app, tls_dir=workdir / "bc-tls").start()
    web = make_server("127.0.0.1", 0, WSGIHandler(), threaded=True)
    web_thread = threading.Thread(target=web.serve_forever, daemon=True)
    web_thread.start()
    cluster = None
    try:
        store = bench_store_create(bigcommerce_app, api_base_url=bigcommerce.url, webhook_secret=SECRET)
        destination = f"http://127.0.0.1:{web.server_port}/webhooks/bigcommerce/{store.store_hash}/"
        bigcommerce_app.hook_create("store/order/*", destination, headers={"X-B2S-Webhook-Secret": SECRET})

        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("SALESFORCE_", "BIGCOMMERCE_", "Q_", "REDIS_URL"))
        }
        env.update(
            DATABASE_URL=database_url,
            SALESFORCE_LOGIN_URL=salesforce.url,
            SALESFORCE_CA_BUNDLE=salesforce.ca_path,
            BIGCOMMERCE_CA_BUNDLE=bigcommerce.ca_path,
            Q_WORKERS=str(args.workers),
            LOG_LEVEL="WARNING",
        )
        log = (workdir / "qcluster.log").open("w")
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

        rng = random.Random(42)
        customers = [bigcommerce_app.customer_create(email=f"buyer{index}@example.com")["id"] for index in range(25)]
        catalog = [product for product in bigcommerce_app._data.catalog if product.type == "physical"]

        def run(count: int, offset: int) -> tuple[float, list[int]]:
            specs = order_specs(rng, catalog, customers, count, offset)
            started = time.monotonic()
            ids = [bigcommerce_app.order_create(spec)["id"] for spec in specs]
            deadline = started + args.timeout
            wanted = {str(order_id) for order_id in ids}
            while time.monotonic() < deadline:
                if cluster.poll() is not None:
                    raise SystemExit(f"qcluster exited; see {workdir / 'qcluster.log'}")
                done = set(
                    WebhookEvent.objects.filter(resource_id__in=wanted, status="done").values_list(
                        "resource_id", flat=True
                    )
                )
                # "failed" with a next attempt is a transient failure waiting for its retry.
                failed = (
                    WebhookEvent.objects.filter(resource_id__in=wanted)
                    .filter(Q(status="dead") | Q(status="failed", next_attempt_at__isnull=True))
                    .count()
                )
                if failed:
                    raise SystemExit(f"{failed} events failed; see {workdir / 'qcluster.log'}")
                if done >= wanted:
                    return time.monotonic() - started, ids
                time.sleep(0.05)
            raise SystemExit(f"timed out; see {workdir / 'qcluster.log'}")

        warm_seconds, _ = run(args.warmup, 0)
        salesforce.app.fault_add("latency", latency_ms=args.latency_ms)
        bigcommerce_app.fault_add(kind="latency", latency_ms=int(args.latency_ms))
        sf_before, bc_before = salesforce.app.api_calls_counted(), len(bigcommerce_app.calls())
        seconds, ids = run(args.orders, args.warmup)
        sf_spent = salesforce.app.api_calls_counted() - sf_before
        sf_kinds = collections.Counter(
            f"{call['method']} {call['path'].split('/data/')[-1].split('/', 1)[-1]}"
            for call in [call for call in salesforce.app.calls if call["counted"]][-sf_spent:]
        )
        bc_calls = bigcommerce_app.calls()[bc_before:]
        orders_in_salesforce = sum(
            1 for record in salesforce.app.records("Order") if int(record["BigCommerceOrderId__c"].split(":")[1]) in ids
        )
        customers_calls = sum(1 for call in bc_calls if call["path"].endswith("/v3/customers"))
        print(f"orders: {args.orders} (after a warm-up of {args.warmup} in {warm_seconds:.1f} s)")
        print(
            f"workers: {args.workers}; added latency: {args.latency_ms:.0f} ms on every Salesforce and BigCommerce call"
        )
        print(f"database: {database_url.split(':', 1)[0]}")
        print(f"wall time, first webhook to last order in Salesforce: {seconds:.1f} s")
        print(f"throughput: {args.orders / seconds * 60:.0f} orders/minute")
        print(f"Salesforce API requests: {sf_spent} ({sf_spent / args.orders:.2f} per order)")
        print("  by resource: " + ", ".join(f"{kind} {count}" for kind, count in sf_kinds.most_common(6)))
        print(
            f"BigCommerce API requests: {len(bc_calls)} ({len(bc_calls) / args.orders:.2f} per order; "
            f"{customers_calls} of them /v3/customers for customers not seen before)"
        )
        retried = WebhookEvent.objects.filter(resource_id__in=[str(i) for i in ids], attempts__gt=1).count()
        received = WebhookEvent.objects.filter(resource_id__in=[str(i) for i in ids]).values_list(
            "received_at", flat=True
        )
        spread = (max(received) - min(received)).total_seconds()
        print(f"webhooks: {len(received)} received over {spread:.1f} s (the stand-in fires them as orders are placed)")
        refused = sum(1 for call in bc_calls if call["status"] == 429)
        print(f"BigCommerce requests answered 429: {refused} (quota {args.quota} per 30 s)")
        print(
            f"reference: fetching orders one by one (1 BigCommerce request each), the quota allows at most "
            f"{args.quota * 2} orders/minute; this run: {args.orders / seconds * 60 / (args.quota * 2):.1f} times that"
        )
        print(f"Orders in Salesforce: {orders_in_salesforce} of {args.orders} ({retried} needed a retry)")
        latencies = []
        for number in range(args.quiet):
            time.sleep(3)
            _, (quiet_id,) = run(1, args.warmup + args.orders + number)
            event = WebhookEvent.objects.get(resource_id=str(quiet_id), scope="store/order/created")
            latencies.append((event.finished_at - event.received_at).total_seconds())
        if latencies:
            latencies.sort()
            print(
                f"quiet time, one order every 3 s ({len(latencies)}): webhook stored → order in Salesforce "
                f"p50 {statistics.median(latencies):.2f} s, max {latencies[-1]:.2f} s"
            )
        print(PREDECESSOR)
        return 0 if orders_in_salesforce == args.orders else 1
    finally:
        if cluster is not None and cluster.poll() is None:
            cluster.terminate()
            try:
                cluster.wait(timeout=20)
            except subprocess.TimeoutExpired:
                cluster.kill()
        web.shutdown()
        salesforce.stop()
        bigcommerce.stop()
        bigcommerce_app.close()


if __name__ == "__main__":
    raise SystemExit(main())
