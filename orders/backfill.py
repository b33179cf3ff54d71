"""Backfill: load a store's history into Salesforce in batches (``manage.py backfill``).

Orders are walked in ascending id order, 250 a page (``include=consignments.line_items``, to the
204 end; the BigCommerce client honours the rate limit). Pages are gathered into batches of
``batch_size`` orders (1,000 by default) and each batch goes to Salesforce through the order sync's
batch function (sObject Collections in composite requests, about 1,000 records a request), so history
costs about one Salesforce request per 150 orders instead of one per order. After each batch the
checkpoint (:class:`sync.models.BackfillRun`) records the highest order id done: ``--resume``
continues from there, retrying first the orders that failed.

BigCommerce: one list request per 250 orders, one ``/v3/customers`` per 50 customers not seen before,
and one ``/shipments`` per shipped order (the list answer has no tracking numbers). Those are most of
the BigCommerce requests of a store that ships (about 400 per 1,000 orders when two in five shipped);
``shipments=False`` (``--no-shipments``) skips them: the Orders get no tracking number or carrier
(the live path reads them at the order's next webhook) and cost one request per 250 orders.

Live webhooks during a backfill: both paths upsert by the same external ids, so nothing is duplicated.
To keep the newer state winning, a page leaves out orders that a live event is about to sync (or just
synced), and live events for the page's orders that finished while the page was on its way are run
again afterwards, so the last write to Salesforce is always a fresh one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from email.utils import format_datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from analytics.services import analytics_recompute
from audit.services import audit_record
from orders.batches import orders_sync_batch
from orders.catalog import FLAG as CATALOG_FLAG
from orders.catalog import products_sync
from orders.collections import customers_upsert_collections
from orders.models import BackfillRun, SyncedOrder
from sync.bigcommerce import BigCommerceError, BigCommerceNotFound, bigcommerce_calls_counted, bigcommerce_client
from sync.config import config
from sync.customers import (
    account_contact_subrequests,
    customer_document_from_customer,
    customer_identity,
    customer_link_remember,
    customers_leads_convert,
    customers_match,
)
from sync.models import KnownCustomer, Store, WebhookEvent
from sync.salesforce import SalesforceError, salesforce_calls_counted, salesforce_client
from sync.services.webhooks import event_lock_keys, webhook_events_replay
from sync.usage import api_budget_status

logger = logging.getLogger(__name__)

PAGE_SIZE = 250
# Orders per Salesforce batch: 4 pages. Bigger batches fill the composite requests better (the last
# collection of each kind is partly empty); the checkpoint moves once per batch.
BATCH_SIZE = 1000
CUSTOMER_PAGE_SIZE = 250
LIVE_WAIT_SECONDS = 60.0
LIVE_MARGIN = timedelta(seconds=5)
FAILURES_KEPT = 500
# A page that meets a transient error (BigCommerce's rate limit, a 5xx, a network error, Salesforce's
# UNABLE_TO_LOCK_ROW ...) is tried again: writes are upserts by external id, so a repeat is harmless.
PAGE_ATTEMPTS = 8
BACKOFF_MAX_SECONDS = 60.0


class BackfillError(Exception):
    """The backfill cannot start (nothing to resume, bad filters)."""


class BackfillPaused(BackfillError):
    """The API-budget guard pauses Salesforce writes: the run stopped between batches, its checkpoint kept."""


def _budget_check(*, dry_run: bool) -> None:
    """Stop politely before a batch while the API-budget guard pauses Salesforce writes (a dry run writes nothing).

    Stopping, not waiting: the backfill is the largest spender of the org's daily budget, and a resumed run
    (``--resume``) continues from the checkpoint without repeating a batch.
    """
    if dry_run:
        return
    budget = api_budget_status()
    if budget.paused:
        raise BackfillPaused(
            f"{budget.reason} The backfill stopped between batches; the checkpoint is saved: run the same "
            "command with --resume once the budget allows."
        )


@dataclass(frozen=True)
class BackfillFilters:
    """Which history to load."""

    since: datetime | None = None
    until: datetime | None = None
    ids: tuple[int, ...] = ()
    customers: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "ids": list(self.ids),
            "customers": self.customers,
        }

    def key(self) -> str:
        """Identifies runs with the same filters (a resume continues the latest of them)."""
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()

    def order_params(self) -> dict[str, Any]:
        """``/v2/orders`` filters (dates in RFC 2822, like v2 writes them)."""
        params: dict[str, Any] = {"sort": "id:asc"}
        if self.since:
            params["min_date_created"] = format_datetime(self.since.astimezone(UTC))
        if self.until:
            params["max_date_created"] = format_datetime(self.until.astimezone(UTC))
        return params


def filter_date_parse(value: str, *, store: Store, end: bool = False) -> datetime:
    """``YYYY-MM-DD`` (a day in the store's time zone; ``end`` = its last second) or an ISO date-time."""
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, day_time.max if end else day_time.min, tzinfo=store.tz)
            return moment.replace(microsecond=0)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BackfillError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO date-time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=store.tz)


@dataclass
class BackfillProgress:
    """Where a running backfill is, for progress displays."""

    phase: str  # "customers" or "orders"
    done: int = 0
    total: int | None = None
    synced: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-6)

    @property
    def rate(self) -> float:
        """Records per second so far."""
        return self.done / self.elapsed

    @property
    def eta_seconds(self) -> float | None:
        if not self.total or not self.done:
            return None
        return max(self.total - self.done, 0) / self.rate


ProgressCallback = Callable[[BackfillProgress], None]


@dataclass
class BackfillSummary:
    """What a backfill did."""

    dry_run: bool
    run_id: int | None = None
    status: str = "done"
    resumed_from: int = 0
    synced: int = 0
    unchanged: int = 0
    skipped_earlier: int = 0  # skipped by the run this one resumes
    failed: dict[int, str] = field(default_factory=dict)
    skip_reasons: dict[int, str] = field(default_factory=dict)
    customers_synced: int = 0
    customers_failed: dict[int, str] = field(default_factory=dict)
    live_resynced: int = 0
    salesforce_requests: int = 0
    bigcommerce_requests: int = 0
    shipment_requests: int = 0  # of the BigCommerce requests: /shipments (tracking numbers)
    shipments_skipped: int = 0  # shipped orders whose tracking numbers were not read (--no-shipments)
    seconds: float = 0.0
    analytics: Any = None  # analytics.services.RecomputeResult

    @property
    def skipped(self) -> int:
        return self.skipped_earlier + len(self.skip_reasons)

    @property
    def orders(self) -> int:
        return self.synced + self.unchanged + self.skipped + len(self.failed)


# ---------------------------------------------------------------------------------------------
# Reading BigCommerce
# ---------------------------------------------------------------------------------------------
def _pages(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    page: list[dict[str, Any]] = []
    for row in rows:
        page.append(row)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


def _batches(pages: Iterator[list[dict[str, Any]]], size: int) -> Iterator[tuple[list[dict[str, Any]], datetime]]:
    """Whole pages gathered into batches of at least ``size`` orders (the last may be smaller).

    Each batch comes with the moment before its first page was read (what live events are
    compared with).
    """
    while True:
        fetched_at = timezone.now()
        batch: list[dict[str, Any]] = []
        for page in pages:
            batch.extend(page)
            if len(batch) >= size:
                break
        if not batch:
            return
        yield batch, fetched_at


def _transient(error: BaseException) -> float | None:
    """Seconds to wait before trying again after ``error``, or None when trying again will not help."""

    if isinstance(error, BigCommerceError | SalesforceError) and error.transient:
        return getattr(error, "retry_after_seconds", None) or 0.0
    return None


# Doubling from one second to a minute; a server's own retry time wins when it asks for longer.
_backoff = wait_exponential(multiplier=1, max=BACKOFF_MAX_SECONDS)


def _retry_wait(retry_state: RetryCallState) -> float:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    asked = (_transient(error) if error else None) or 0.0
    return max(asked, _backoff(retry_state))


def _retrying(call: Callable[[], Any], *, what: str) -> Any:
    """``call()``, waiting out rate limits and transient failures (the client waits only briefly itself)."""

    def retry_log(retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.info("Backfill: %s met %s; trying again in %.1f s", what, type(error).__name__, wait)

    retrying = Retrying(
        retry=retry_if_exception(lambda error: _transient(error) is not None),
        stop=stop_after_attempt(PAGE_ATTEMPTS),
        wait=_retry_wait,
        before_sleep=retry_log,
        reraise=True,  # the caller sees the last error itself, not tenacity's RetryError
    )
    return retrying(call)


def _orders_by_id(client: Any, ids: Iterable[int], skipped: dict[int, str]) -> Iterator[dict[str, Any]]:

    for order_id in ids:
        try:
            yield _retrying(functools.partial(client.order_get, order_id), what=f"order {order_id}")
        except BigCommerceNotFound:
            skipped[order_id] = "not found in BigCommerce"


def _order_pages(client: Any, *, params: dict[str, Any], after_id: int, size: int) -> Iterator[list[dict[str, Any]]]:
    """The order list in ascending id order, a page at a time, to the empty (204) or short page.

    Keyset paging (``min_id`` after the last id seen) rather than page numbers: orders placed during
    the walk cannot shift a page, and the checkpoint is the same number.
    """
    while True:
        query = {**params, "min_id": after_id + 1, "limit": size}
        rows = _retrying(functools.partial(client.orders_list, **query), what="the order list") or []
        if rows:
            yield rows
            after_id = max(int(row["id"]) for row in rows)
        if len(rows) < size:
            return


def _customer_pages(client: Any, *, after_id: int) -> Iterator[list[dict[str, Any]]]:
    """Registered customers with an id above ``after_id``, a page at a time, ascending."""
    page = 1
    while True:
        query = {"page": page, "limit": CUSTOMER_PAGE_SIZE, "include": "addresses"}
        body = _retrying(functools.partial(client.request, "GET", "/v3/customers", params=query), what="customers")
        body = body or {}
        rows = sorted(body.get("data") or [], key=lambda row: int(row["id"]))
        fresh = [row for row in rows if int(row["id"]) > after_id]
        if fresh:
            yield fresh
        pagination = (body.get("meta") or {}).get("pagination") or {}
        if not rows or page >= int(pagination.get("total_pages") or 1):
            return
        page += 1


# ---------------------------------------------------------------------------------------------
# Live webhooks overlapping the backfill
# ---------------------------------------------------------------------------------------------
def _order_keys(orders: list[dict[str, Any]]) -> set[str]:
    keys = {f"order:{int(order['id'])}" for order in orders}
    keys |= {f"customer:{int(order['customer_id'])}" for order in orders if int(order.get("customer_id") or 0)}
    return keys


def _events_touching(store: Store, keys: set[str], **filters: Any) -> list[tuple[WebhookEvent, str]]:
    """Each event holding one of ``keys``, with the first such key."""

    ids = {key.partition(":")[2] for key in keys}
    candidates = WebhookEvent.objects.filter(store=store, **filters).filter(
        Q(resource_id__in=ids)
        | Q(scope__startswith="store/shipment/")
        | Q(scope__startswith="store/customer/address/")
        | Q(scope="store/cart/converted")
    )
    touching = []
    for event in candidates:
        held = [key for key in event_lock_keys(event) if key in keys]
        if held:
            touching.append((event, held[0]))
    return touching


def _live_busy(store: Store, orders: list[dict[str, Any]], *, fetched_at: datetime) -> dict[int, str]:
    """Orders of the page that the live path is about to sync, or synced after the page was read."""
    busy: dict[int, str] = {}
    statuses = [WebhookEvent.Status.PENDING, WebhookEvent.Status.PROCESSING]
    keys = {f"order:{int(order['id'])}" for order in orders}
    for _, key in _events_touching(store, keys, status__in=statuses):
        busy[int(key.partition(":")[2])] = "a live webhook is syncing it"
    newer = SyncedOrder.objects.filter(
        store=store, order_id__in=[int(order["id"]) for order in orders], synced_at__gte=fetched_at
    ).values_list("order_id", flat=True)
    for order_id in newer:
        busy.setdefault(int(order_id), "synced live while the backfill read it")
    return busy


def _live_resync(store: Store, orders: list[dict[str, Any]], *, since: datetime) -> int:
    """Run again the live events for these orders that finished while the page was on its way."""

    keys = _order_keys(orders)
    deadline = time.monotonic() + LIVE_WAIT_SECONDS
    while True:
        # A cart's conversion reads the order but writes only the cart's records: nothing to re-run.
        touching = _events_touching(store, keys, received_at__gte=since)
        events = [event for event, _ in touching if event.scope != "store/cart/converted"]
        running = [event for event in events if event.status == WebhookEvent.Status.PROCESSING]
        if not running or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    done = [event.pk for event in events if event.status == WebhookEvent.Status.DONE]
    if not done:
        return 0
    logger.info("Backfill: re-running %s live event(s) that overlapped the page", len(done))
    return webhook_events_replay(events=WebhookEvent.objects.filter(pk__in=done))


# ---------------------------------------------------------------------------------------------
# Writing Salesforce
# ---------------------------------------------------------------------------------------------
def customers_sync_batch(
    *, store: Store, customers: list[dict[str, Any]], fetched_at: datetime | None = None
) -> tuple[int, dict[int, str]]:
    """Upsert registered customers' Accounts and Contacts as sObject Collections (one request a page).

    Returns (synced, {customer id: reason}). The customers' documents are remembered (as the order
    sync remembers them, ``fetched_at`` = when the page was read), so the orders that follow need not
    fetch them again.
    """

    fetched_at = fetched_at or timezone.now()
    client = salesforce_client()
    identities = {
        int(customer["id"]): customer_identity(
            store=store, customer_id=int(customer["id"]), email=customer.get("email") or ""
        )
        for customer in customers
    }
    # Existing CRM records of the page's customers not seen before: one lookup request per 100 of them.
    found = customers_match(store=store, client=client, identities=identities.values())
    matches = customers_leads_convert(client=client, matches=found)
    planned: list[tuple[int, list[dict[str, Any]]]] = []
    for customer in customers:
        customer_id = int(customer["id"])
        identity = identities[customer_id]
        document = customer_document_from_customer(customer)
        KnownCustomer.objects.update_or_create(
            store=store, customer_id=customer_id, defaults={"document": document, "fetched_at": fetched_at}
        )
        nodes = account_contact_subrequests(
            store=store, identity=identity, document=document, match=matches.get(identity.key)
        )
        planned.append((customer_id, nodes))
    failed = customers_upsert_collections(store=store, client=client, customers=planned)
    for customer_id, identity in identities.items():
        if customer_id not in failed:
            customer_link_remember(store=store, key=identity.key, match=matches.get(identity.key))
    return len(planned) - len(failed), failed


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
def _run_start(*, store: Store, filters: BackfillFilters, resume: bool) -> Any:

    if resume:
        run = (
            BackfillRun.objects.filter(store=store, filters_key=filters.key())
            .exclude(status=BackfillRun.Status.DONE)
            .order_by("-started_at", "-id")
            .first()
        )
        if run is None:
            raise BackfillError(
                f"No unfinished backfill of store {store.store_hash} with these filters to resume; "
                "run it without --resume."
            )
        run.status = BackfillRun.Status.RUNNING
        run.last_error = ""
        run.save(update_fields=["status", "last_error", "updated_at"])
        return run
    return BackfillRun.objects.create(store=store, filters=filters.as_json(), filters_key=filters.key())


@contextmanager
def _outcome_recorded(run: Any, summary: BackfillSummary, started: float) -> Iterator[None]:
    """A run's end as its checkpoint says it: interrupted (Ctrl-C, the API-budget guard) or failed with the
    error, which is raised again; the checkpoint is kept for ``--resume``. The summary's time in every case."""
    try:
        yield
    except KeyboardInterrupt:
        summary.status = "interrupted"
        _checkpoint(run, summary, status="interrupted", last_error="interrupted (Ctrl-C)")
        raise
    except BackfillPaused as paused:
        summary.status = "interrupted"
        _checkpoint(run, summary, status="interrupted", last_error=str(paused)[:2000])
        raise
    except Exception as error:
        summary.status = "failed"
        _checkpoint(run, summary, status="failed", last_error=f"{type(error).__name__}: {error}"[:2000])
        raise
    finally:
        summary.seconds = time.monotonic() - started


def _checkpoint(
    run: Any,
    summary: BackfillSummary,
    *,
    last_order_id: int | None = None,
    last_product_id: int | None = None,
    **extra: Any,
) -> None:
    if run is None:
        return
    if last_order_id is not None:
        run.last_order_id = max(run.last_order_id, last_order_id)
    if last_product_id is not None:
        run.last_product_id = max(run.last_product_id, last_product_id)
    failures = {str(key): value[:300] for key, value in list(summary.failed.items())[:FAILURES_KEPT]}
    run.synced, run.unchanged, run.skipped = summary.synced, summary.unchanged, summary.skipped
    run.failed, run.failures = len(summary.failed), failures
    run.customers_synced = summary.customers_synced
    run.salesforce_requests, run.bigcommerce_requests = summary.salesforce_requests, summary.bigcommerce_requests
    for name, value in extra.items():
        setattr(run, name, value)
    run.save()


def _summary_resumed(run: Any) -> BackfillSummary:
    summary = BackfillSummary(dry_run=False, run_id=run.pk, resumed_from=run.last_order_id)
    summary.synced, summary.unchanged, summary.skipped_earlier = run.synced, run.unchanged, run.skipped
    summary.failed = {int(key): value for key, value in (run.failures or {}).items()}
    summary.customers_synced = run.customers_synced
    summary.salesforce_requests, summary.bigcommerce_requests = run.salesforce_requests, run.bigcommerce_requests
    return summary


def _batch_apply(
    *,
    store: Store,
    page: list[dict[str, Any]],
    summary: BackfillSummary,
    fetched_at: datetime,
    events: bool,
    shipments: bool = True,
) -> None:
    """Sync one batch (or the dry-run count of it) and fold the outcome into ``summary``."""

    busy = _live_busy(store, page, fetched_at=fetched_at)
    for order_id, reason in busy.items():
        summary.skip_reasons[order_id] = reason
        summary.failed.pop(order_id, None)
    todo = [order for order in page if int(order["id"]) not in busy]
    if summary.dry_run:
        known = set(
            SyncedOrder.objects.filter(store=store, order_id__in=[int(o["id"]) for o in todo]).values_list(
                "order_id", flat=True
            )
        )
        summary.synced += sum(1 for order in todo if int(order["id"]) not in known)
        summary.unchanged += len(known)
        return
    if not todo:
        return
    result = orders_sync_batch(store=store, orders=todo, events=events, shipments=shipments)
    summary.shipment_requests += result.shipment_requests
    summary.shipments_skipped += result.shipments_skipped
    for order_id, handled in result.results.items():
        summary.failed.pop(int(order_id), None)
        if handled.details.get("unchanged"):
            summary.unchanged += 1
        else:
            summary.synced += 1
    for order_id, reason in result.failed.items():
        summary.failed[int(order_id)] = reason
    # Events received just before the page was read may have fetched older data and written after it.
    summary.live_resynced += _live_resync(store, todo, since=fetched_at - LIVE_MARGIN)


def _page_apply(
    *,
    store: Store,
    page: list[dict[str, Any]],
    summary: BackfillSummary,
    fetched_at: datetime,
    events: bool,
    shipments: bool = True,
) -> None:
    """``_batch_apply`` with transient failures waited out; the summary changes only once it succeeded."""
    import copy

    def attempt() -> BackfillSummary:
        trial = copy.deepcopy(summary)
        _batch_apply(store=store, page=page, summary=trial, fetched_at=fetched_at, events=events, shipments=shipments)
        return trial

    done = _retrying(attempt, what=f"the page after order {int(page[0]['id']) - 1}")
    summary.__dict__.update(done.__dict__)


def backfill_run(
    *,
    store: Store,
    filters: BackfillFilters,
    dry_run: bool = False,
    resume: bool = False,
    events: bool = False,
    progress: ProgressCallback | None = None,
    page_size: int = PAGE_SIZE,
    batch_size: int = BATCH_SIZE,
    shipments: bool = True,
) -> BackfillSummary:
    """Load the store's history (customers with ``filters.customers``, then orders) into Salesforce.

    BigCommerce pages of ``page_size`` orders are gathered into batches of ``batch_size`` for
    ``orders_sync_batch``; checkpointed after every batch; analytics recomputed once at the end.
    ``events`` publishes platform events for history too (off: the history is not news).
    ``shipments`` reads each shipped order's ``/shipments`` for its tracking numbers (one
    BigCommerce request per shipped order; see the module docstring). On an error or Ctrl-C the
    checkpoint is kept (status ``failed``/``interrupted``) and the error raised.
    """

    if dry_run and resume:
        raise BackfillError("--dry-run and --resume do not combine.")
    run = None if dry_run else _run_start(store=store, filters=filters, resume=resume)
    summary = _summary_resumed(run) if resume else BackfillSummary(dry_run=dry_run, run_id=run and run.pk)
    sf_before, bc_before = summary.salesforce_requests, summary.bigcommerce_requests
    started = time.monotonic()
    client = bigcommerce_client(store)
    with _outcome_recorded(run, summary, started):
        with salesforce_calls_counted() as sf_calls, bigcommerce_calls_counted() as bc_calls:

            def costs() -> None:
                summary.salesforce_requests = sf_before + sf_calls.count
                summary.bigcommerce_requests = bc_before + bc_calls.count

            if filters.customers:
                state = BackfillProgress("customers")
                after = run.last_customer_id if run else 0
                read_at = timezone.now()
                for page in _customer_pages(client, after_id=after):
                    _budget_check(dry_run=dry_run)
                    if dry_run:
                        state.done += len(page)
                    else:
                        synced, failed = _retrying(
                            functools.partial(customers_sync_batch, store=store, customers=page, fetched_at=read_at),
                            what="customers",
                        )
                        summary.customers_synced += synced
                        summary.customers_failed.update(failed)
                        state.done += len(page)
                        state.synced, state.failed = summary.customers_synced, len(summary.customers_failed)
                        costs()
                        _checkpoint(run, summary, last_customer_id=max(int(row["id"]) for row in page))
                    if progress:
                        progress(state)
                    read_at = timezone.now()
            after_id = run.last_order_id if run else 0
            state = BackfillProgress("orders")
            if filters.ids:
                wanted = sorted({order_id for order_id in filters.ids if order_id > after_id})
                state.total = len(wanted)
            else:
                params = filters.order_params()
                params.pop("sort")
                count_params = {**params, **({"min_id": after_id + 1} if after_id else {})}
                state.total = _retrying(lambda: client.orders_count(**count_params), what="the order count")
            if run is not None and not resume:
                run.total = state.total
                run.save(update_fields=["total", "updated_at"])
            # A resumed run first retries what failed before, then continues after the checkpoint.
            retry_ids = sorted(summary.failed) if resume else []
            if retry_ids:
                retry_pages = _pages(_orders_by_id(client, retry_ids, summary.skip_reasons), page_size)
                for batch, fetched_at in _batches(retry_pages, batch_size):
                    _budget_check(dry_run=dry_run)
                    _page_apply(
                        store=store,
                        page=batch,
                        summary=summary,
                        fetched_at=fetched_at,
                        events=events,
                        shipments=shipments,
                    )
                for order_id in summary.skip_reasons:
                    summary.failed.pop(order_id, None)
                costs()
                _checkpoint(run, summary)
            if filters.ids:
                pages = _pages(_orders_by_id(client, wanted, summary.skip_reasons), page_size)
            else:
                pages = _order_pages(client, params=filters.order_params(), after_id=after_id, size=page_size)
            for batch, fetched_at in _batches(pages, batch_size):
                _budget_check(dry_run=dry_run)
                _page_apply(
                    store=store, page=batch, summary=summary, fetched_at=fetched_at, events=events, shipments=shipments
                )
                costs()
                _checkpoint(run, summary, last_order_id=max(int(order["id"]) for order in batch))
                state.done += len(batch)
                state.synced, state.unchanged = summary.synced, summary.unchanged
                state.skipped, state.failed = summary.skipped, len(summary.failed)
                if progress:
                    progress(state)
            costs()
        summary.seconds = time.monotonic() - started
        if not dry_run:
            with salesforce_calls_counted() as analytics_calls:
                summary.analytics = analytics_recompute(store=store)
            summary.salesforce_requests += analytics_calls.count
            _checkpoint(run, summary, status="done", finished_at=timezone.now())
            _audit(store=store, summary=summary, filters=filters)
        return summary


def _audit(
    *, store: Store, summary: BackfillSummary, filters: BackfillFilters, extra: dict[str, Any] | None = None
) -> None:
    audit_record(
        operation="BACKFILL",
        store=store,
        bigcommerce_id=store.store_hash,
        status="success" if not summary.failed else "failed",
        error=f"{len(summary.failed)} order(s) failed" if summary.failed else "",
        duration_ms=int(summary.seconds * 1000),
        salesforce_api_calls=summary.salesforce_requests,
        bigcommerce_api_calls=summary.bigcommerce_requests,
        details={
            "run": summary.run_id,
            "filters": {**filters.as_json(), **(extra or {})},
            "synced": summary.synced,
            "unchanged": summary.unchanged,
            "skipped": summary.skipped,
            "failed": len(summary.failed),
            "customers_synced": summary.customers_synced,
            "live_resynced": summary.live_resynced,
            "shipment_requests": summary.shipment_requests,
            "shipments_skipped": summary.shipments_skipped,
        },
    )


# ---------------------------------------------------------------------------------------------
# The catalog (``backfill --products``)
# ---------------------------------------------------------------------------------------------
PRODUCT_FILTERS: dict[str, Any] = {"products": True}


def _products_filters_key() -> str:
    return hashlib.sha256(json.dumps(PRODUCT_FILTERS, sort_keys=True).encode()).hexdigest()


def _products_run_start(*, store: Store, resume: bool) -> BackfillRun:
    key = _products_filters_key()
    if resume:
        run = (
            BackfillRun.objects.filter(store=store, filters_key=key)
            .exclude(status=BackfillRun.Status.DONE)
            .order_by("-started_at", "-id")
            .first()
        )
        if run is None:
            raise BackfillError(
                f"No unfinished products backfill of store {store.store_hash} to resume; run it without --resume."
            )
        run.status, run.last_error = BackfillRun.Status.RUNNING, ""
        run.save(update_fields=["status", "last_error", "updated_at"])
        return run
    return BackfillRun.objects.create(store=store, filters=PRODUCT_FILTERS, filters_key=key)


def _products_apply(*, store: Store, products: dict[int, dict[str, Any] | None], summary: BackfillSummary) -> None:
    result = _retrying(functools.partial(products_sync, store=store, products=products), what="products")
    for product_id in products:
        summary.failed.pop(product_id, None)
    summary.synced += len(result.written)
    summary.unchanged += len(result.unchanged)
    summary.failed.update({product_id: str(error) for product_id, error in result.failed.items()})


def products_backfill_run(
    *,
    store: Store,
    dry_run: bool = False,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    page_size: int = PAGE_SIZE,
) -> BackfillSummary:
    """Load the store's catalog into Salesforce: 250 products a page with their variants (``orders.catalog``).

    Each page is one ``products_sync``: about one composite request of sObject Collections per 1,000 records
    (a Product2 per variant and an entry per currency). Checkpointed after every page (``last_product_id``);
    ``resume`` retries the products that failed, then continues after the checkpoint. Products already equal in
    Salesforce cost nothing (``KnownProduct.fingerprint``). Deleted products are not listed: their
    ``store/product/deleted`` webhook deactivates them.
    """
    if dry_run and resume:
        raise BackfillError("--dry-run and --resume do not combine.")
    if not dry_run and not config.flag(CATALOG_FLAG):
        raise BackfillError("Catalog sync is off (feature flag catalog_sync): turn it on to backfill products.")
    run = None if dry_run else _products_run_start(store=store, resume=resume)
    summary = _summary_resumed(run) if run is not None and resume else BackfillSummary(dry_run=dry_run)
    summary.run_id = run.pk if run is not None else None
    if run is not None and resume:
        summary.resumed_from = run.last_product_id
    sf_before, bc_before = summary.salesforce_requests, summary.bigcommerce_requests
    started = time.monotonic()
    client = bigcommerce_client(store)
    state = BackfillProgress("products")
    with _outcome_recorded(run, summary, started):
        with salesforce_calls_counted() as sf_calls, bigcommerce_calls_counted() as bc_calls:

            def costs() -> None:
                summary.salesforce_requests = sf_before + sf_calls.count
                summary.bigcommerce_requests = bc_before + bc_calls.count

            retry_ids = sorted(summary.failed) if resume else []
            if retry_ids:
                fetched = _retrying(lambda: client.products_by_id(retry_ids), what="failed products")
                _products_apply(store=store, products={pid: fetched.get(pid) for pid in retry_ids}, summary=summary)
                costs()
                _checkpoint(run, summary)
            after_id = run.last_product_id if run is not None else 0
            while True:
                _budget_check(dry_run=dry_run)
                page, remaining = _retrying(
                    functools.partial(client.products_page, after_id=after_id, limit=page_size), what="products"
                )
                if state.total is None:
                    state.total = remaining
                    if run is not None and not resume:
                        run.total = remaining
                        run.save(update_fields=["total", "updated_at"])
                if not page:
                    break
                if dry_run:
                    summary.synced += len(page)
                else:
                    _products_apply(store=store, products={int(row["id"]): row for row in page}, summary=summary)
                after_id = max(int(row["id"]) for row in page)
                costs()
                _checkpoint(run, summary, last_product_id=after_id)
                state.done += len(page)
                state.synced, state.unchanged, state.failed = summary.synced, summary.unchanged, len(summary.failed)
                if progress:
                    progress(state)
                if len(page) < page_size:
                    break
            costs()
        summary.seconds = time.monotonic() - started
        if run is not None:
            _checkpoint(run, summary, status="done", finished_at=timezone.now())
            _audit(store=store, summary=summary, filters=BackfillFilters(), extra=PRODUCT_FILTERS)
        return summary
