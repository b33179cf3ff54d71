"""Benchmark: the operations dashboard over a million webhook events in PostgreSQL.

    .venv/bin/python bench/dashboard.py [--events 1000000] [--days 30] [--runs 5] [--database-url URL] [--keep]
    .venv/bin/python bench/dashboard.py --explain     # also print the plans of the live queries

Drops and creates the database at ``--database-url`` (default ``postgres://postgres@127.0.0.1:5432/bench_dashboard``),
migrates it, and writes ``--events`` webhook events spread evenly over the last ``--days`` days across three
stores and five scopes with one INSERT ... SELECT over generate_series (90 % done, 2 % failed, 1 % dead, 4 %
ignored, 2 % skipped, the newest 1,500 waiting or running; synced latencies from 50 ms to a minute), and one
audit entry per finished event (done, skipped, failed, dead; with Salesforce and BigCommerce call counts and
two error messages). Then it runs the hourly roll-up once over the whole span, as the schedule would have
built it hour by hour, and times, as the median of ``--runs`` runs:

- ``dashboard_get`` + ``dashboard_series`` (every figure and the chart's series) for each window, for every
  store and for one store, and the admin index page that shows them (rendered by the test client);
- a /metrics scrape (the same figures as totals per store and scope);
- the in-run references: ``SELECT count(*)`` over the events table, and the same window's counts computed
  from the events without the roll-ups (``event_stats_by_hour`` over the window).

It exits non-zero when the dashboard's figures disagree with the un-rolled-up counts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench_setup import django_bootstrap, postgres_drop, postgres_recreate  # noqa: E402  (beside this script)

SCOPES = (
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
    "store/customer/updated",
    "store/shipment/created",
)
EVENTS_SQL = """
INSERT INTO sync_webhookevent (
    store_id, scope, resource_type, resource_id, hash, event_created_at, body, headers, received_at, status,
    attempts, last_error_type, last_error_message, last_error_code, next_attempt_at, started_at, finished_at,
    duration_ms
)
SELECT
    (%(stores)s::bigint[])[1 + i %% 3], (%(scopes)s::text[])[1 + (i / 7) %% 5], 'order', i::text, md5(i::text), i,
    '{}'::jsonb, '{}'::jsonb, received, status, 1, '', '',
    CASE status WHEN 'failed' THEN 'SALESFORCE_UNAVAILABLE' WHEN 'dead' THEN 'LEASE_EXPIRED' ELSE '' END,
    CASE WHEN status = 'failed' THEN received + interval '5 minutes' END,
    CASE WHEN status IN ('pending', 'ignored') THEN NULL ELSE received END,
    CASE WHEN status IN ('pending', 'processing', 'ignored') THEN NULL ELSE received + latency END,
    CASE WHEN status IN ('pending', 'processing', 'ignored') THEN NULL
         ELSE (extract(epoch FROM latency) * 1000)::int END
FROM generate_series(1, %(events)s) AS i
CROSS JOIN LATERAL (SELECT %(now)s::timestamptz - (i::float8 / %(events)s) * %(span)s * interval '1 second' AS received,
                           interval '1 millisecond' * 50 * power(1.8, (i::bigint * 7919) %% 13) AS latency) AS times
CROSS JOIN LATERAL (SELECT CASE
    WHEN i <= 1500 THEN CASE WHEN i %% 4 = 0 THEN 'processing' ELSE 'pending' END
    WHEN i %% 100 < 2 THEN 'failed' WHEN i %% 100 = 2 THEN 'dead' WHEN i %% 100 < 7 THEN 'ignored'
    WHEN i %% 100 < 9 THEN 'skipped' ELSE 'done' END AS status) AS outcome
"""
AUDIT_SQL = """
INSERT INTO audit_auditlog (
    created_at, operation, store_id, bigcommerce_id, salesforce_ids, status, error, error_code, attempt,
    duration_ms, salesforce_api_calls, bigcommerce_api_calls, event_id, details
)
SELECT finished_at, 'ORDER_SYNC', store_id, resource_id, '[]'::jsonb,
    CASE status WHEN 'done' THEN 'success' WHEN 'skipped' THEN 'skipped' ELSE 'failed' END,
    CASE WHEN status IN ('failed', 'dead') THEN
        CASE WHEN id %% 3 = 0 THEN 'Salesforce answered 503' ELSE 'Read timed out after 30 s' END ELSE '' END,
    last_error_code, 1, COALESCE(duration_ms, 0), 1 + id %% 3, id %% 2, id, '{}'::jsonb
FROM sync_webhookevent WHERE status IN ('done', 'skipped', 'failed', 'dead')
"""


def median_ms(function: Callable[[], object], runs: int) -> float:
    """The median wall time of ``runs`` calls, in ms (after one untimed warm-up call)."""
    function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_dashboard")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--explain", action="store_true", help="Print the plans of the live queries.")
    args = parser.parse_args()

    postgres_recreate(args.database_url)
    try:
        return bench(args)
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            postgres_drop(args.database_url)


def bench(args: argparse.Namespace) -> int:
    django_bootstrap(prefix="b2s-bench-dashboard-", database_url=args.database_url)
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from ops import rules as r
    from ops.models import HourlyStat
    from ops.selectors import StatCounts, dashboard_get, dashboard_series, event_stats_by_hour
    from ops.services import hourly_stats_rollup
    from sync.models import Store

    now = timezone.now()
    stores = [Store.objects.create(name=f"Bench {n}", store_hash=f"bench{n}") for n in range(3)]
    started = time.monotonic()
    with connection.cursor() as cursor:
        parameters = {
            "stores": [store.pk for store in stores],
            "scopes": list(SCOPES),
            "events": args.events,
            "now": now,
            "span": args.days * 86400,
        }
        cursor.execute(EVENTS_SQL, parameters)
        cursor.execute(AUDIT_SQL, {})
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM audit_auditlog")
        audit_rows = cursor.fetchone()[0]
    print(
        f"setup: {args.events:,} events over {args.days} days, {audit_rows:,} audit entries ({time.monotonic() - started:.1f} s)"
    )

    started = time.monotonic()
    written = hourly_stats_rollup(since=now - timedelta(days=args.days + 1), until=now)
    rollup_seconds = time.monotonic() - started
    started = time.monotonic()
    hourly_stats_rollup(since=now - timedelta(hours=1), until=now)
    print(
        f"roll-up: {written:,} hourly rows for the whole span in {rollup_seconds:.1f} s; "
        f"the scheduled run (last 2 hours) {(time.monotonic() - started) * 1000:.0f} ms"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ops_hourlystat")

    if args.explain:
        explain(now)

    def count_all() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sync_webhookevent")
            return cursor.fetchone()[0]

    reference_count_ms = median_ms(count_all, args.runs)
    admin = User.objects.create_superuser("bench", password="bench-password")
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    failures = 0
    print(
        f"\n{'window':<7} {'store':<6} {'figures ms':>10} {'page ms':>8} {'queries':>7} {'no roll-up ms':>13} {'count(*) ms':>11}  ratio"
    )
    for window in r.WINDOWS.values():
        for store in (None, stores[0]):
            figures_ms = median_ms(
                lambda store=store, window=window: (
                    dashboard_get(store=store, window=window),
                    dashboard_series(store=store, window=window),
                ),
                args.runs,
            )
            query = f"?window={window.key}" + (f"&store={store.pk}" if store else "")
            page_ms = median_ms(lambda query=query: client.get(f"/admin/{query}"), args.runs)
            with CaptureQueriesContext(connection) as queries:
                client.get(f"/admin/{query}")

            def unrolled(store=store, window=window) -> StatCounts:
                total = StatCounts()
                moment = timezone.now()
                for counts in event_stats_by_hour(
                    since=moment - window.span, until=moment, store_id=store.pk if store else None
                ).values():
                    total.add(counts)
                return total

            unrolled_ms = median_ms(unrolled, args.runs)
            moment = timezone.now()
            shown = dashboard_get(store=store, window=window, now=moment)
            live = StatCounts()
            for counts in event_stats_by_hour(
                since=moment - window.span, until=moment, store_id=store.pk if store else None
            ).values():
                live.add(counts)
            if (shown.received.value, shown.synced.value, shown.failed.value, shown.dead.value) != (
                live.received,
                live.synced,
                live.failed,
                live.dead,
            ):
                failures += 1
                print(f"MISMATCH {window.key} {store}: dashboard {shown.received.value} vs events {live.received}")
            print(
                f"{window.key:<7} {'one' if store else 'all':<6} {figures_ms:>10.1f} {page_ms:>8.1f} "
                f"{len(queries):>7} {unrolled_ms:>13.1f} {reference_count_ms:>11.1f}  "
                f"{figures_ms / reference_count_ms:.2f}x count(*), {figures_ms / unrolled_ms:.2f}x no roll-up"
            )
    metrics_ms = median_ms(lambda: client.get("/metrics"), args.runs)
    print(f"\n/metrics scrape: {metrics_ms:.1f} ms ({metrics_ms / reference_count_ms:.2f}x count(*))")
    print(f"hourly rows: {HourlyStat.objects.count():,}; events: {count_all():,}")
    return 1 if failures else 0


def explain(now) -> None:
    """The plans of the dashboard's live queries over a 7-day window for every store."""
    from django.db import connection

    from audit.models import AuditLog
    from sync.models import IntakeRejection, WebhookEvent

    since = now - timedelta(days=7)
    querysets = {
        "backlog": WebhookEvent.objects.filter(status__in=["pending", "processing"]).values("status"),
        "dead": WebhookEvent.objects.filter(status="dead").values("id"),
        "errors": AuditLog.objects.filter(status="failed", created_at__gte=since, created_at__lt=now).values(
            "error_code"
        ),
        "auth": IntakeRejection.objects.filter(reason="authentication", minute__gte=since).values("count"),
        "received edge": WebhookEvent.objects.filter(received_at__gte=now - timedelta(minutes=30)).values("scope"),
        "finished edge": WebhookEvent.objects.filter(finished_at__gte=now - timedelta(minutes=30)).values("scope"),
    }
    for name, queryset in querysets.items():
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n    ".join(row[0] for row in cursor.fetchall())
        print(f"{name}:\n    {plan}")


if __name__ == "__main__":
    raise SystemExit(main())
