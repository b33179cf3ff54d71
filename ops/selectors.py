"""Shared reads of the operations console: the dashboard's figures, its time series, the /metrics totals, and
the facts and thresholds the alerts judge.

Counts over past hours come from the hourly roll-ups (``HourlyStat``); the part of a window that is not a
whole rolled-up hour (its first partial hour and the current one) is counted live from the events, so a
figure is exact up to the roll-up's last run. The backlog, dead events, errors, authentication failures and
API usage are read live with indexed queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import (
    BigIntegerField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, TruncHour
from django.utils import timezone

from audit.models import AuditLog
from ops import links
from ops import rules as r
from ops.alert_rules import (
    AlertFacts,
    AlertThresholds,
    StoreBacklog,
    StoreOutcomes,
)
from ops.models import Alert, HourlyStat
from orders.models import WritebackCheckpoint
from orders.writeback import writeback_enabled
from orders.writeback_rules import poll_requests_per_day
from sync.config import config
from sync.health import HealthReason, health_reasons, health_status
from sync.models import ApiUsageSample, IntakeRejection, Store, WebhookEvent
from sync.usage import ApiBudgetStatus, api_budget_status

Status = WebhookEvent.Status
# Waiting or running: what the workers still have to do.
BACKLOG_STATUSES: tuple[str, ...] = (Status.PENDING, Status.PROCESSING)
# Nothing to write: ignored at the door (no handler) or skipped by the handler.
IGNORED_STATUSES: tuple[str, ...] = (Status.IGNORED, Status.SKIPPED)
# Outcomes of processing; ignored events (no handler) were never processed and do not dilute a failure rate.
PROCESSED = (Status.DONE, Status.SKIPPED, Status.FAILED, Status.DEAD)
TOP_ERROR_CODES = 10
TOP_MESSAGES = 3
COUNT_FIELDS: tuple[str, ...] = (
    "received",
    "synced",
    "failed",
    "dead",
    "ignored",
    "latency_total_ms",
    "salesforce_calls",
    "bigcommerce_calls",
)
# The series of a one-hour window is in 5-minute steps; longer windows are hourly.
FINE_STEP = timedelta(minutes=5)


@dataclass
class StatCounts:
    """What happened to one store's events of one scope in some period (an hour, a window)."""

    received: int = 0
    synced: int = 0
    failed: int = 0
    dead: int = 0
    ignored: int = 0
    latency_buckets: dict[str, int] = field(default_factory=dict)
    latency_total_ms: int = 0
    salesforce_calls: int = 0
    bigcommerce_calls: int = 0

    def add(self, other: StatCounts) -> StatCounts:
        """Add ``other``'s counts to these (in place)."""
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        r.histogram_add(self.latency_buckets, other.latency_buckets)
        return self

    @property
    def latency_count(self) -> int:
        return sum(self.latency_buckets.values())


# (store id, hour, scope)
StatKey = tuple[int, datetime, str]


def _latency() -> ExpressionWrapper:
    return ExpressionWrapper(F("finished_at") - F("received_at"), output_field=DurationField())


def _bucket_filters() -> dict[str, Q]:
    """One filter per histogram bucket of synced events: latency in (previous bound, bound]."""
    filters: dict[str, Q] = {}
    lower: timedelta | None = None
    for key, bound in zip(r.LATENCY_KEYS, (*r.LATENCY_BOUNDS_MS, None), strict=True):
        condition = Q(status=Status.DONE)
        if lower is not None:
            condition &= Q(latency__gt=lower)
        if bound is not None:
            upper = timedelta(milliseconds=bound)
            condition &= Q(latency__lte=upper)
            lower = upper
        filters[key] = condition
    return filters


def _milliseconds(value: timedelta | int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, timedelta):
        return round(value / timedelta(milliseconds=1))
    return round(value / 1000)  # a backend that answers a duration sum in microseconds


def event_stats_by_hour(*, since: datetime, until: datetime, store_id: int | None = None) -> dict[StatKey, StatCounts]:
    """Counts per store, hour and scope of [since, until), read from the events and the audit log.

    received and ignored (ignored or skipped) count by the hour the event was received; synced, failed and dead
    by the hour it finished, in its status now; the latency histogram (finished - received) is of synced
    events; API calls are the audit entries' of that hour (entries without a store are not counted).
    """
    stats: dict[StatKey, StatCounts] = {}

    def counts(key: tuple[int, datetime, str]) -> StatCounts:
        return stats.setdefault(key, StatCounts())

    events = WebhookEvent.objects.all()
    audit = AuditLog.objects.exclude(store=None)
    if store_id is not None:
        events = events.filter(store_id=store_id)
        audit = audit.filter(store_id=store_id)
    received = (
        events.filter(received_at__gte=since, received_at__lt=until)
        .values("store_id", "scope", hour=TruncHour("received_at", tzinfo=UTC))
        .annotate(received=Count("id"), ignored=Count("id", filter=Q(status__in=IGNORED_STATUSES)))
        .order_by()
    )
    for row in received:
        entry = counts((row["store_id"], row["hour"], row["scope"]))
        entry.received, entry.ignored = row["received"], row["ignored"]
    buckets = {f"bucket_{key}": Count("id", filter=condition) for key, condition in _bucket_filters().items()}
    finished = (
        events.filter(finished_at__gte=since, finished_at__lt=until)
        .alias(latency=_latency())
        .values("store_id", "scope", hour=TruncHour("finished_at", tzinfo=UTC))
        .annotate(
            synced=Count("id", filter=Q(status=Status.DONE)),
            failed=Count("id", filter=Q(status=Status.FAILED)),
            dead=Count("id", filter=Q(status=Status.DEAD)),
            latency_total=Sum("latency", filter=Q(status=Status.DONE)),
            **buckets,
        )
        .order_by()
    )
    for row in finished:
        entry = counts((row["store_id"], row["hour"], row["scope"]))
        entry.synced, entry.failed, entry.dead = row["synced"], row["failed"], row["dead"]
        entry.latency_total_ms = _milliseconds(row["latency_total"])
        entry.latency_buckets = {key: row[f"bucket_{key}"] for key in r.LATENCY_KEYS if row[f"bucket_{key}"]}
    calls = (
        audit.filter(created_at__gte=since, created_at__lt=until)
        .values("store_id", hour=TruncHour("created_at", tzinfo=UTC), scope=Coalesce(F("event__scope"), Value("")))
        .annotate(salesforce=Sum("salesforce_api_calls"), bigcommerce=Sum("bigcommerce_api_calls"))
        .order_by()
    )
    for row in calls:
        if row["salesforce"] or row["bigcommerce"]:
            entry = counts((row["store_id"], row["hour"], row["scope"]))
            entry.salesforce_calls, entry.bigcommerce_calls = row["salesforce"] or 0, row["bigcommerce"] or 0
    return stats


def _rolled_up(stats: QuerySet[HourlyStat], *groups: str) -> list[dict[str, Any]]:
    """The roll-ups' sums grouped by ``groups``, the latency histogram summed key by key in the database."""
    buckets = {
        f"bucket_{key}": Coalesce(Sum(Cast(KT(f"latency_buckets__{key}"), BigIntegerField())), 0)
        for key in r.LATENCY_KEYS
    }
    sums = {name: Coalesce(Sum(name), 0) for name in COUNT_FIELDS}
    return list(stats.values(*groups).annotate(**sums, **buckets).order_by())


def _counts_of(row: dict[str, Any]) -> StatCounts:
    counts = StatCounts(
        latency_buckets={key: int(row[f"bucket_{key}"]) for key in r.LATENCY_KEYS if row[f"bucket_{key}"]}
    )
    for name in COUNT_FIELDS:
        setattr(counts, name, int(row[name]))
    return counts


def window_stats_by_scope(*, store_id: int | None, since: datetime, until: datetime) -> dict[str, StatCounts]:
    """Counts per scope of [since, until): whole hours from the roll-ups, the partial hours at either end live."""
    whole_start, whole_end = r.hour_ceil(since), r.hour_floor(until)
    by_scope: dict[str, StatCounts] = {}
    live: list[tuple[datetime, datetime]] = [(since, until)]
    if whole_start < whole_end:
        live = [(since, whole_start), (whole_end, until)]
        stats = HourlyStat.objects.filter(hour__gte=whole_start, hour__lt=whole_end)
        if store_id is not None:
            stats = stats.filter(store_id=store_id)
        for row in _rolled_up(stats, "scope"):
            by_scope.setdefault(row["scope"], StatCounts()).add(_counts_of(row))
    for start, end in live:
        if start < end:
            for (_store, _hour, scope), counts in event_stats_by_hour(
                since=start, until=end, store_id=store_id
            ).items():
                by_scope.setdefault(scope, StatCounts()).add(counts)
    return by_scope


@dataclass(frozen=True)
class Figure:
    """One number of the dashboard and the admin list of the rows behind it."""

    value: int
    url: str


@dataclass(frozen=True)
class ScopeFigures:
    scope: str
    received: Figure
    synced: Figure
    failed: Figure
    dead: Figure
    success_rate: float | None


@dataclass(frozen=True)
class ErrorFigure:
    code: str
    count: Figure
    top_messages: list[tuple[str, int]]


@dataclass(frozen=True)
class ApiUsage:
    """The latest reading of a remote API's own usage counter."""

    service: str
    store: Store | None
    used: int
    limit: int
    share: float
    window_seconds: int
    recorded_at: datetime
    url: str


@dataclass(frozen=True)
class WritebackPoll:
    """The Salesforce → BigCommerce poll: on or off, its cost and how far it has read."""

    enabled: bool
    interval_seconds: int
    requests_per_day: int
    polled_at: datetime | None
    checkpoint: datetime | None
    requests: int
    changes: int


def writeback_poll_state() -> WritebackPoll:
    """What the write-back poll costs (one query a poll while a write-back flag is on) and where it is."""
    interval = int(config.threshold("writeback_poll_seconds"))
    enabled = writeback_enabled()
    checkpoint = WritebackCheckpoint.objects.order_by("-polled_at").first()
    return WritebackPoll(
        enabled=enabled,
        interval_seconds=interval,
        requests_per_day=poll_requests_per_day(interval_seconds=interval) if enabled else 0,
        polled_at=checkpoint.polled_at if checkpoint else None,
        checkpoint=checkpoint.modstamp if checkpoint else None,
        requests=checkpoint.requests if checkpoint else 0,
        changes=checkpoint.changes if checkpoint else 0,
    )


@dataclass(frozen=True)
class Dashboard:
    """Every figure of the operations dashboard for one store (or all) over one window."""

    store: Store | None
    window: r.Window
    since: datetime
    now: datetime
    received: Figure
    synced: Figure
    failed: Figure
    dead: Figure
    ignored: Figure
    success_rate: float | None
    scopes: list[ScopeFigures]
    backlog: Figure
    backlog_oldest_age_seconds: float | None
    dead_now: Figure
    latency_count: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    latency_url: str
    salesforce_calls: Figure
    salesforce_calls_per_hour: float
    bigcommerce_calls: Figure
    salesforce_usage: ApiUsage | None
    bigcommerce_usage: list[ApiUsage]
    budget_guard: ApiBudgetStatus
    errors: list[ErrorFigure]
    auth_failures: Figure
    writeback: WritebackPoll | None = None


@dataclass(frozen=True)
class ServiceState:
    """The line atop the dashboard: what /health says (with its reasons) and the alerts still open."""

    health: str  # ok | degraded
    reasons: list[HealthReason]
    open_alerts: int
    alerts_url: str


def service_state_get(*, now: datetime | None = None) -> ServiceState:
    """/health's verdict (Salesforce reachability from its cache: a page view never logs in) and open alerts."""
    reasons = health_reasons(now=now, salesforce_login=False)
    return ServiceState(
        health=health_status(reasons),
        reasons=reasons,
        open_alerts=Alert.objects.filter(state=Alert.State.OPEN).count(),
        alerts_url=links.open_alerts_url(),
    )


def backlog_read(*, store_id: int | None) -> tuple[int, datetime | None]:
    """Events waiting or running, and when the oldest of them was received."""
    events = WebhookEvent.objects.filter(status__in=BACKLOG_STATUSES)
    if store_id is not None:
        events = events.filter(store_id=store_id)
    row = events.aggregate(count=Count("id"), oldest=Min("received_at"))
    return row["count"], row["oldest"]


def dead_events_count(*, store_id: int | None) -> int:
    """Events that ran out of attempts and wait for a person (dead now, whenever they died)."""
    events = WebhookEvent.objects.filter(status=Status.DEAD)
    return (events.filter(store_id=store_id) if store_id is not None else events).count()


def salesforce_usage_latest() -> ApiUsageSample | None:
    """The latest Sforce-Limit-Info reading (the org's daily API requests; one org for every store)."""
    return ApiUsageSample.objects.filter(service=ApiUsageSample.Service.SALESFORCE).order_by("-recorded_at").first()


def bigcommerce_usage_latest(*, stores: list[Store]) -> list[ApiUsageSample]:
    """Each store's latest BigCommerce quota reading (stores without one are left out)."""
    samples = []
    for store in stores:
        sample = (
            ApiUsageSample.objects.filter(service=ApiUsageSample.Service.BIGCOMMERCE, store=store)
            .order_by("-recorded_at")
            .first()
        )
        if sample is not None:
            samples.append(sample)
    return samples


def auth_failures_count(*, store: Store | None, since: datetime, until: datetime) -> int:
    """Webhook deliveries refused for failed authentication in [since, until) (by the minute they came)."""
    rejections = IntakeRejection.objects.filter(
        reason=IntakeRejection.Reason.AUTHENTICATION, minute__gte=since, minute__lt=until
    )
    if store is not None:
        rejections = rejections.filter(store_hash=store.store_hash)
    return int(rejections.aggregate(total=Coalesce(Sum("count"), 0))["total"])


def errors_by_code(*, store_id: int | None, since: datetime, until: datetime) -> list[tuple[str, int, list]]:
    """The failed sync attempts of [since, until) by error code, most frequent first, each with its most
    frequent messages: [(code, attempts, [(message, attempts), ...]), ...]."""
    failures = AuditLog.objects.filter(status=AuditLog.Status.FAILED, created_at__gte=since, created_at__lt=until)
    if store_id is not None:
        failures = failures.filter(store_id=store_id)
    codes = list(
        failures.values("error_code").annotate(count=Count("id")).order_by("-count", "error_code")[:TOP_ERROR_CODES]
    )
    messages: dict[str, list[tuple[str, int]]] = {row["error_code"]: [] for row in codes}
    by_message = (
        failures.filter(error_code__in=list(messages))
        .values("error_code", "error")
        .annotate(count=Count("id"))
        .order_by("-count", "error")
    )
    for row in by_message:
        kept = messages[row["error_code"]]
        if len(kept) < TOP_MESSAGES:
            kept.append((row["error"], row["count"]))
    return [(row["error_code"], row["count"], messages[row["error_code"]]) for row in codes]


def _usage(sample: ApiUsageSample) -> ApiUsage:
    return ApiUsage(
        service=sample.service,
        store=sample.store,
        used=sample.used,
        limit=sample.limit,
        share=sample.share,
        window_seconds=sample.window_seconds,
        recorded_at=sample.recorded_at,
        url=links.usage_url(service=sample.service, store_id=sample.store_id),
    )


def dashboard_get(*, store: Store | None, window: r.Window, now: datetime | None = None) -> Dashboard:
    """The operations dashboard for ``store`` (None: every store) over ``window`` ending ``now``."""
    now = now or timezone.now()
    since = now - window.span
    store_id = store.pk if store is not None else None
    by_scope = window_stats_by_scope(store_id=store_id, since=since, until=now)
    total = StatCounts()
    for counts in by_scope.values():
        total.add(counts)

    def received_url(statuses: list[str] | None = None, scope: str = "") -> str:
        """The events received in the window."""
        return links.events_url(store_id=store_id, since=since, until=now, statuses=statuses or [], scope=scope)

    def finished_url(status: str, scope: str = "") -> str:
        """The events that finished in the window and are in ``status`` now."""
        return links.events_url(
            store_id=store_id, since=since, until=now, time_field="finished_at", statuses=[status], scope=scope
        )

    def scope_figures(scope: str, counts: StatCounts) -> ScopeFigures:
        return ScopeFigures(
            scope=scope,
            received=Figure(counts.received, received_url(scope=scope)),
            synced=Figure(counts.synced, finished_url(Status.DONE, scope=scope)),
            failed=Figure(counts.failed, finished_url(Status.FAILED, scope=scope)),
            dead=Figure(counts.dead, finished_url(Status.DEAD, scope=scope)),
            success_rate=r.success_rate(synced=counts.synced, failed=counts.failed, dead=counts.dead),
        )

    scopes = [
        scope_figures(scope, counts)
        for scope, counts in sorted(by_scope.items())
        if scope and (counts.received or counts.synced or counts.failed or counts.dead)
    ]
    backlog, oldest = backlog_read(store_id=store_id)
    salesforce_sample = salesforce_usage_latest()
    stores = [store] if store is not None else list(Store.objects.filter(is_active=True).order_by("name"))
    errors = [
        ErrorFigure(
            code=code,
            count=Figure(count, links.errors_url(store_id=store_id, since=since, until=now, code=code)),
            top_messages=messages,
        )
        for code, count, messages in errors_by_code(store_id=store_id, since=since, until=now)
    ]
    return Dashboard(
        store=store,
        window=window,
        since=since,
        now=now,
        received=Figure(total.received, received_url()),
        synced=Figure(total.synced, finished_url(Status.DONE)),
        failed=Figure(total.failed, finished_url(Status.FAILED)),
        dead=Figure(total.dead, finished_url(Status.DEAD)),
        ignored=Figure(total.ignored, received_url(statuses=list(IGNORED_STATUSES))),
        success_rate=r.success_rate(synced=total.synced, failed=total.failed, dead=total.dead),
        scopes=scopes,
        backlog=Figure(backlog, links.events_url(store_id=store_id, statuses=list(BACKLOG_STATUSES))),
        backlog_oldest_age_seconds=(now - oldest).total_seconds() if oldest else None,
        dead_now=Figure(dead_events_count(store_id=store_id), links.events_url(store_id=store_id, statuses=["dead"])),
        latency_count=total.latency_count,
        latency_p50_ms=r.histogram_percentile(total.latency_buckets, 0.50),
        latency_p95_ms=r.histogram_percentile(total.latency_buckets, 0.95),
        latency_p99_ms=r.histogram_percentile(total.latency_buckets, 0.99),
        latency_url=finished_url(Status.DONE),
        salesforce_calls=Figure(
            total.salesforce_calls, links.calls_url(store_id=store_id, since=since, until=now, service="salesforce")
        ),
        salesforce_calls_per_hour=total.salesforce_calls / window.hours,
        bigcommerce_calls=Figure(
            total.bigcommerce_calls, links.calls_url(store_id=store_id, since=since, until=now, service="bigcommerce")
        ),
        salesforce_usage=_usage(salesforce_sample) if salesforce_sample else None,
        bigcommerce_usage=[_usage(sample) for sample in bigcommerce_usage_latest(stores=stores)],
        budget_guard=api_budget_status(),
        errors=errors,
        auth_failures=Figure(
            auth_failures_count(store=store, since=since, until=now),
            links.auth_failures_url(store=store, since=since, until=now),
        ),
        writeback=writeback_poll_state(),
    )


@dataclass(frozen=True)
class SeriesPoint:
    """One step of the throughput and failures charts."""

    start: datetime
    received: int
    synced: int
    failed: int
    dead: int


def _fine_series(*, store_id: int | None, since: datetime, until: datetime) -> list[SeriesPoint]:
    """5-minute steps of [since, until), counted live (one query for received, one for finished)."""
    steps = []
    start = since
    while start < until:
        steps.append(start)
        start += FINE_STEP
    events = WebhookEvent.objects.all() if store_id is None else WebhookEvent.objects.filter(store_id=store_id)

    def step_q(name: str, start: datetime) -> Q:
        return Q(**{f"{name}__gte": start, f"{name}__lt": min(start + FINE_STEP, until)})

    received = events.filter(received_at__gte=since, received_at__lt=until).aggregate(
        **{f"r{index}": Count("id", filter=step_q("received_at", start)) for index, start in enumerate(steps)}
    )
    finished = events.filter(finished_at__gte=since, finished_at__lt=until).aggregate(
        **{
            f"{prefix}{index}": Count("id", filter=step_q("finished_at", start) & Q(status=status))
            for index, start in enumerate(steps)
            for prefix, status in (("s", Status.DONE), ("f", Status.FAILED), ("d", Status.DEAD))
        }
    )
    return [
        SeriesPoint(start, received[f"r{i}"], finished[f"s{i}"], finished[f"f{i}"], finished[f"d{i}"])
        for i, start in enumerate(steps)
    ]


def dashboard_series(*, store: Store | None, window: r.Window, now: datetime | None = None) -> list[SeriesPoint]:
    """Throughput and failures over ``window``: 5-minute steps for an hour, else one point per hour (the
    roll-ups' hours, the current hour live so far)."""
    now = now or timezone.now()
    store_id = store.pk if store is not None else None
    if window.hours == 1:
        return _fine_series(store_id=store_id, since=now - window.span, until=now)
    current = r.hour_floor(now)
    first = r.hour_floor(now - window.span)
    stats = HourlyStat.objects.filter(hour__gte=first, hour__lt=current)
    if store_id is not None:
        stats = stats.filter(store_id=store_id)
    by_hour = {
        row["hour"]: row
        for row in stats.values("hour")
        .annotate(received=Sum("received"), synced=Sum("synced"), failed=Sum("failed"), dead=Sum("dead"))
        .order_by()
    }
    live = StatCounts()
    for counts in event_stats_by_hour(since=current, until=now, store_id=store_id).values():
        live.add(counts)
    points = []
    for hour in r.hours_between(first, current):
        row = by_hour.get(hour, {})
        points.append(
            SeriesPoint(hour, row.get("received", 0), row.get("synced", 0), row.get("failed", 0), row.get("dead", 0))
        )
    points.append(SeriesPoint(current, live.received, live.synced, live.failed, live.dead))
    return points


@dataclass(frozen=True)
class MetricTotals:
    """Everything /metrics reports, read from the database at scrape time (right across processes)."""

    store_hashes: list[str]
    by_store_scope: dict[tuple[str, str], StatCounts]
    backlog: dict[str, tuple[int, float | None]]
    dead: dict[str, int]
    auth_failures: dict[str, int]
    salesforce_usage: ApiUsageSample | None
    bigcommerce_usage: list[ApiUsageSample]
    budget_guard: ApiBudgetStatus


def metric_totals(*, now: datetime | None = None) -> MetricTotals:
    """All-time counts per store hash and scope (roll-ups of past hours plus the current hour live) and the
    current gauges per store hash."""
    now = now or timezone.now()
    current = r.hour_floor(now)
    hashes = dict(Store.objects.values_list("pk", "store_hash"))
    by_store_scope: dict[tuple[str, str], StatCounts] = {}
    for row in _rolled_up(HourlyStat.objects.filter(hour__lt=current), "store_id", "scope"):
        key = (hashes.get(row["store_id"], ""), row["scope"])
        by_store_scope.setdefault(key, StatCounts()).add(_counts_of(row))
    for (store_id, _hour, scope), counts in event_stats_by_hour(since=current, until=now).items():
        by_store_scope.setdefault((hashes.get(store_id, ""), scope), StatCounts()).add(counts)
    backlog: dict[str, tuple[int, float | None]] = {}
    for row in (
        WebhookEvent.objects.filter(status__in=BACKLOG_STATUSES)
        .values("store_id")
        .annotate(count=Count("id"), oldest=Min("received_at"))
        .order_by()
    ):
        backlog[hashes.get(row["store_id"], "")] = (row["count"], (now - row["oldest"]).total_seconds())
    dead = {
        hashes.get(row["store_id"], ""): row["count"]
        for row in WebhookEvent.objects.filter(status=Status.DEAD)
        .values("store_id")
        .annotate(count=Count("id"))
        .order_by()
    }
    auth_failures = {
        row["store_hash"]: row["total"]
        for row in IntakeRejection.objects.filter(reason=IntakeRejection.Reason.AUTHENTICATION)
        .values("store_hash")
        .annotate(total=Sum("count"))
        .order_by()
    }
    return MetricTotals(
        store_hashes=sorted(hashes.values()),
        by_store_scope=by_store_scope,
        backlog=backlog,
        dead=dead,
        auth_failures=auth_failures,
        salesforce_usage=salesforce_usage_latest(),
        bigcommerce_usage=bigcommerce_usage_latest(stores=list(Store.objects.order_by("pk"))),
        budget_guard=api_budget_status(),
    )


def alert_thresholds() -> AlertThresholds:
    """The admin's alert thresholds."""
    return AlertThresholds(
        window_minutes=int(config.threshold("alert_window_minutes")),
        failure_rate_percent=config.threshold("alert_failure_rate_percent"),
        failure_min_events=int(config.threshold("alert_failure_min_events")),
        backlog_age_seconds=int(config.threshold("alert_backlog_age_seconds")),
        auth_failures=int(config.threshold("alert_auth_failures")),
        api_budget_percent=config.threshold("alert_api_budget_percent"),
    )


def alert_facts(*, now: datetime, thresholds: AlertThresholds) -> AlertFacts:
    """The counts the alert rules judge, in four indexed queries (and one for the stores' names)."""
    window_start = now - timedelta(minutes=thresholds.window_minutes)
    # Index (finished_at): the events that finished in the window, per store.
    outcomes = [
        StoreOutcomes(
            store_hash=row["store__store_hash"], finished=row["finished"], failed=row["failed"], dead=row["dead"]
        )
        for row in WebhookEvent.objects.filter(
            finished_at__gte=window_start, finished_at__lte=now, status__in=PROCESSED
        )
        .values("store__store_hash")
        .annotate(
            finished=Count("id"),
            failed=Count("id", filter=Q(status__in=(Status.FAILED, Status.DEAD))),
            dead=Count("id", filter=Q(status=Status.DEAD)),
        )
        .order_by("store__store_hash")
    ]
    # Index (status, received_at): only events already waiting longer than the threshold are read.
    waiting_since = now - timedelta(seconds=thresholds.backlog_age_seconds)
    backlogs = [
        StoreBacklog(
            store_hash=row["store__store_hash"],
            oldest_age_seconds=(now - row["oldest"]).total_seconds(),
            waiting=row["waiting"],
        )
        for row in WebhookEvent.objects.filter(status=Status.PENDING, received_at__lt=waiting_since)
        .values("store__store_hash")
        .annotate(oldest=Min("received_at"), waiting=Count("id"))
        .order_by("store__store_hash")
    ]
    # Index (minute): refused authentications per store, counted per minute at the door.
    auth_failures = dict(
        IntakeRejection.objects.filter(
            reason=IntakeRejection.Reason.AUTHENTICATION, minute__gte=window_start, minute__lte=now
        )
        .values("store_hash")
        .annotate(total=Sum("count"))
        .values_list("store_hash", "total")
    )
    hashes = {row.store_hash for row in outcomes} | {row.store_hash for row in backlogs} | set(auth_failures)
    store_names = dict(Store.objects.filter(store_hash__in=hashes - {""}).values_list("store_hash", "name"))
    return AlertFacts(
        outcomes=outcomes,
        backlogs=backlogs,
        auth_failures={store_hash: int(total) for store_hash, total in auth_failures.items()},
        api_budget=api_budget_status(),
        store_names=store_names,
    )
