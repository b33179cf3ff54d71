"""A known history of the operations console: events, audit entries, refused deliveries and API usage
readings at given times, whose dashboard figures the tests compute by hand (see tests/ops/test_dashboard_*)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from audit.models import AuditLog
from ops.models import Alert
from sync.models import ApiUsageSample, IntakeRejection, Store, WebhookEvent

from .audit import AuditLogFactory
from .sync import StoreFactory, WebhookEventFactory

NOW = datetime(2026, 6, 10, 12, 30, tzinfo=UTC)


class AlertFactory(DjangoModelFactory[Alert]):
    """An open alert about dead events of a store."""

    class Meta:
        model = Alert

    kind = Alert.Kind.DEAD_EVENTS
    key = factory.Sequence(lambda n: f"store{n}")
    summary = factory.LazyAttribute(lambda alert: f"Dead events in {alert.key}")
    last_seen_at = factory.LazyFunction(timezone.now)


ORDER = "store/order/created"
CUSTOMER = "store/customer/updated"


@dataclass
class History:
    alpha: Store
    beta: Store
    events: dict[int, WebhookEvent]


def at(day: int, hour: int, minute: int, second: float = 0.0) -> datetime:
    """A moment of June 2026 (UTC)."""
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC) + timedelta(seconds=second)


def _event(store: Store, scope: str, received: datetime, status: str, latency_ms: float | None = None) -> WebhookEvent:
    finished = received + timedelta(milliseconds=latency_ms) if latency_ms is not None else None
    return WebhookEventFactory(
        store=store,
        scope=scope,
        received_at=received,
        finished_at=finished,
        status=status,
        next_attempt_at=finished + timedelta(minutes=5) if status == "failed" and finished else None,
    )


def _audit(
    store: Store | None,
    created: datetime,
    *,
    event: WebhookEvent | None = None,
    status: str = "success",
    code: str = "",
    error: str = "",
    salesforce: int = 0,
    bigcommerce: int = 0,
) -> AuditLog:
    entry = AuditLogFactory(
        store=store,
        event=event,
        status=status,
        error_code=code,
        error=error,
        salesforce_api_calls=salesforce,
        bigcommerce_api_calls=bigcommerce,
    )
    AuditLog.objects.filter(pk=entry.pk).update(created_at=created)  # created_at is auto_now_add
    return entry


def history_create() -> History:
    """The history the figures of tests/ops/test_dashboard_figures.py are computed from (NOW is 10 June 12:30).

    Numbered events (store, scope, received, status, latency):
      1 alpha order 11:10 done 40 ms        2 alpha order 11:20 done 200 ms     3 alpha order 10:05 done 1.5 s
      4 alpha order 12:10 done 80 ms        5 alpha order 12:15 failed (retry)  6 alpha customer 09:00 dead
      7 alpha customer 12:20 pending        8 alpha customer 12:25 processing   9 alpha order 12:00 ignored
     10 alpha order 11:30 skipped          11 beta order 12:05 done 7 s        12 beta order 11:50 pending
     13 beta order 9 June 10:00 done 300 ms                 14 beta customer 12:29 dead (after 0.5 s)
     15 alpha order 11:29 done 120 s (finished 11:31)       16 alpha order 9 June 12:40 done 900 ms
     17 alpha order 9 June 12:20 done 100 ms                18 beta customer 1 June 08:00 dead
    """
    alpha = StoreFactory(name="Alpha", store_hash="alpha")
    beta = StoreFactory(name="Beta", store_hash="beta")
    spec = {
        1: (alpha, ORDER, at(10, 11, 10), "done", 40),
        2: (alpha, ORDER, at(10, 11, 20), "done", 200),
        3: (alpha, ORDER, at(10, 10, 5), "done", 1500),
        4: (alpha, ORDER, at(10, 12, 10), "done", 80),
        5: (alpha, ORDER, at(10, 12, 15), "failed", 60_000),
        6: (alpha, CUSTOMER, at(10, 9, 0), "dead", 4000),
        7: (alpha, CUSTOMER, at(10, 12, 20), "pending", None),
        8: (alpha, CUSTOMER, at(10, 12, 25), "processing", None),
        9: (alpha, ORDER, at(10, 12, 0), "ignored", None),
        10: (alpha, ORDER, at(10, 11, 30), "skipped", 500),
        11: (beta, ORDER, at(10, 12, 5), "done", 7000),
        12: (beta, ORDER, at(10, 11, 50), "pending", None),
        13: (beta, ORDER, at(9, 10, 0), "done", 300),
        14: (beta, CUSTOMER, at(10, 12, 29), "dead", 500),
        15: (alpha, ORDER, at(10, 11, 29), "done", 120_000),
        16: (alpha, ORDER, at(9, 12, 40), "done", 900),
        17: (alpha, ORDER, at(9, 12, 20), "done", 100),
        18: (beta, CUSTOMER, at(1, 8, 0), "dead", 1000),
    }
    events = {number: _event(*fields) for number, fields in spec.items()}
    _audit(alpha, at(10, 11, 10), event=events[1], salesforce=3, bigcommerce=1)
    unavailable = {"status": "failed", "code": "SF_UNAVAILABLE"}
    _audit(
        alpha,
        at(10, 12, 16),
        event=events[5],
        **unavailable,
        error="Salesforce answered 503",
        salesforce=2,
        bigcommerce=1,
    )
    _audit(alpha, at(10, 9, 0), event=events[6], **unavailable, error="Salesforce answered 503", salesforce=1)
    _audit(alpha, at(10, 10, 5), event=events[3], **unavailable, error="Salesforce timed out")
    invalid = {"status": "failed", "code": "VALIDATION", "error": "Required field missing: LastName"}
    _audit(beta, at(10, 12, 29), event=events[14], **invalid, salesforce=1, bigcommerce=2)
    _audit(beta, at(9, 10, 0), event=events[13], **invalid, salesforce=5)
    _audit(None, at(10, 11, 0), salesforce=10)  # no store (not in the roll-ups)
    authentication = IntakeRejection.Reason.AUTHENTICATION
    IntakeRejection.objects.create(store_hash="alpha", reason=authentication, minute=at(10, 12, 10), count=4)
    IntakeRejection.objects.create(store_hash="alpha", reason=authentication, minute=at(9, 12, 0), count=7)
    IntakeRejection.objects.create(store_hash="", reason=authentication, minute=at(10, 11, 0), count=2)
    IntakeRejection.objects.create(
        store_hash="beta", reason=IntakeRejection.Reason.BAD_REQUEST, minute=at(10, 12, 0), count=5
    )
    salesforce = ApiUsageSample.Service.SALESFORCE
    ApiUsageSample.objects.create(service=salesforce, used=10_000, limit=100_000, recorded_at=at(9, 12, 0))
    ApiUsageSample.objects.create(service=salesforce, used=45_000, limit=100_000, recorded_at=at(10, 12, 0))
    ApiUsageSample.objects.create(
        service=ApiUsageSample.Service.BIGCOMMERCE,
        store=alpha,
        used=120,
        limit=450,
        window_seconds=30,
        recorded_at=at(10, 12, 20),
    )
    return History(alpha=alpha, beta=beta, events=events)
