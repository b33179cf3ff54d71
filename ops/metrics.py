"""The Prometheus collector of /metrics: the dashboard's figures read from the database at each scrape, so
every process answers the same numbers (nothing is counted in process memory).

Counters are the roll-ups' all-time sums plus the current hour counted live. They follow the events' status:
a replay moves a dead event back to pending, so ``b2s_webhook_events_dead_total`` can step down, which
Prometheus's rate()/increase() read as a counter reset.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ops import rules as r
from ops.selectors import metric_totals

EVENT_COUNTERS = (
    ("received", "Webhook events received."),
    ("synced", "Webhook events written to Salesforce (by the hour they finished)."),
    ("failed", "Webhook events that failed (awaiting a retry, or failed for good), by the hour they finished."),
    ("dead", "Webhook events that ran out of attempts, by the hour they died."),
    ("ignored", "Webhook events ignored (no handler) or skipped (nothing to write)."),
)


class DashboardCollector(Collector):
    """Reads ops.selectors.metric_totals() once per scrape."""

    def collect(self) -> Iterator[Metric]:
        totals = metric_totals()
        store_scope = ["store", "scope"]
        for name, documentation in EVENT_COUNTERS:
            counter = CounterMetricFamily(f"b2s_webhook_events_{name}", documentation, labels=store_scope)
            for (store, scope), counts in sorted(totals.by_store_scope.items()):
                counter.add_metric([store, scope], getattr(counts, name))
            yield counter
        latency = HistogramMetricFamily(
            "b2s_sync_latency_seconds",
            "Webhook received to Salesforce written, of synced events.",
            labels=store_scope,
        )
        calls = {
            "salesforce": CounterMetricFamily(
                "b2s_salesforce_api_calls", "Salesforce API requests made by syncs (audit log).", labels=["store"]
            ),
            "bigcommerce": CounterMetricFamily(
                "b2s_bigcommerce_api_calls", "BigCommerce API requests made by syncs (audit log).", labels=["store"]
            ),
        }
        calls_by_store: dict[str, list[int]] = {}
        for (store, scope), counts in sorted(totals.by_store_scope.items()):
            if counts.latency_count:
                latency.add_metric(
                    [store, scope],
                    [(_le(bound), count) for bound, count in r.histogram_cumulative(counts.latency_buckets)],
                    sum_value=counts.latency_total_ms / 1000,
                )
            store_calls = calls_by_store.setdefault(store, [0, 0])
            store_calls[0] += counts.salesforce_calls
            store_calls[1] += counts.bigcommerce_calls
        yield latency
        for store, (salesforce, bigcommerce) in sorted(calls_by_store.items()):
            calls["salesforce"].add_metric([store], salesforce)
            calls["bigcommerce"].add_metric([store], bigcommerce)
        yield from calls.values()

        backlog = GaugeMetricFamily("b2s_backlog_events", "Webhook events waiting or running now.", labels=["store"])
        oldest = GaugeMetricFamily(
            "b2s_backlog_oldest_age_seconds",
            "How long the oldest waiting event has waited (0: none).",
            labels=["store"],
        )
        dead = GaugeMetricFamily("b2s_dead_events", "Webhook events dead now (waiting for a replay).", labels=["store"])
        for store in totals.store_hashes:
            count, age = totals.backlog.get(store, (0, None))
            backlog.add_metric([store], count)
            oldest.add_metric([store], age or 0.0)
            dead.add_metric([store], totals.dead.get(store, 0))
        yield from (backlog, oldest, dead)

        auth = CounterMetricFamily(
            "b2s_webhook_auth_failures",
            "Webhook deliveries refused for failed authentication (store empty: unknown).",
            labels=["store"],
        )
        for store, count in sorted(totals.auth_failures.items()):
            auth.add_metric([store], count)
        yield auth

        if totals.salesforce_usage is not None:
            sample = totals.salesforce_usage
            yield GaugeMetricFamily(
                "b2s_salesforce_api_daily_used",
                "The org's API requests in the last 24 h (Sforce-Limit-Info).",
                sample.used,
            )
            yield GaugeMetricFamily(
                "b2s_salesforce_api_daily_limit", "The org's daily API request limit (Sforce-Limit-Info).", sample.limit
            )
        quota_used = GaugeMetricFamily(
            "b2s_bigcommerce_api_quota_used", "Requests used in the store's current quota window.", labels=["store"]
        )
        quota_limit = GaugeMetricFamily(
            "b2s_bigcommerce_api_quota_limit", "Requests allowed in the store's quota window.", labels=["store"]
        )
        for sample in totals.bigcommerce_usage:
            hash_ = sample.store.store_hash if sample.store else ""
            quota_used.add_metric([hash_], sample.used)
            quota_limit.add_metric([hash_], sample.limit)
        yield from (quota_used, quota_limit)

        guard = totals.budget_guard
        if guard is not None:
            yield GaugeMetricFamily(
                "b2s_api_budget_paused",
                "1 while the API budget guard pauses Salesforce writes.",
                int(bool(guard.paused)),
            )


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


registry = CollectorRegistry(auto_describe=False)
registry.register(DashboardCollector())
