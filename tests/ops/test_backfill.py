"""``manage.py backfill`` against both stand-ins: batching, checkpoint and resume, live overlap."""

from __future__ import annotations

import io
import json
import re
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

import orders.backfill as order_backfill
from orders.backfill import BackfillFilters, BackfillProgress, backfill_run
from orders.management.commands.backfill import ProgressPrinter
from orders.models import SyncedOrder
from sync.models import WebhookEvent
from sync.services.webhooks import webhook_event_process, webhook_event_receive
from tests.factories.orders import SyncedOrderFactory

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def stores(sandbox_store, salesforce_sandbox, settings):
    """b2s pointed at both stand-ins; the BigCommerce store has no orders yet."""
    from django.core.cache import cache

    from sync.salesforce import salesforce_client_reset

    # The standard price book's id is cached; each test's stand-in org is a new one.
    cache.clear()
    settings.SALESFORCE = {
        **settings.SALESFORCE,
        "LOGIN_URL": salesforce_sandbox.url,
        "CA_BUNDLE": salesforce_sandbox.ca_path,
    }
    salesforce_client_reset()
    yield sandbox_store
    salesforce_client_reset()


def _generate(
    bigcommerce_sandbox, *, orders: int, customers: int = 120, seed: int = 11, quota: int = 100_000
) -> list[dict]:
    """A generated store; the rate limit is raised (a Pro plan has 450) unless a test studies it."""
    bigcommerce_sandbox.app.generate(seed, customers, orders, 0)
    bigcommerce_sandbox.app.configure(rate_limit_quota=quota)
    return [entry["order"] for entry in bigcommerce_sandbox.app.state()["orders"]]


def _syncable(orders: list[dict]) -> set[int]:
    """Orders a single-currency org can hold (the stand-in org has one currency, like most orgs)."""
    return {
        order["id"]
        for order in orders
        if not order["is_deleted"] and order["currency_code"] == order["store_default_currency_code"]
    }


def _salesforce_orders(salesforce_sandbox) -> Counter:
    return Counter(record["BigCommerceOrderId__c"] for record in salesforce_sandbox.app.records("Order"))


def _assert_no_duplicate_and_no_gap(salesforce_sandbox, wanted: set[int]) -> None:
    counts = _salesforce_orders(salesforce_sandbox)
    duplicates = {key: count for key, count in counts.items() if count > 1}
    assert duplicates == {}, f"duplicated orders: {duplicates}"
    assert set(counts) == {f"sandbox:{order_id}" for order_id in wanted}
    items = Counter(record["BigCommerceOrderItemId__c"] for record in salesforce_sandbox.app.records("OrderItem"))
    assert all(count == 1 for count in items.values()), "duplicated order items"


def _backfill(*args: str) -> str:
    out = io.StringIO()
    call_command("backfill", "--store", "sandbox", *args, stdout=out)
    return out.getvalue()


def test_backfill_of_2000_orders_is_batched(stores, bigcommerce_sandbox, salesforce_sandbox):
    orders = _generate(bigcommerce_sandbox, orders=2000)
    wanted = _syncable(orders)
    assert len(wanted) > 1400
    # The catalog's products exist in Salesforce already ("known products"): a first small run creates them.
    first = sorted(wanted)[:60]
    backfill_run(store=stores, filters=BackfillFilters(ids=tuple(first)))
    calls_before = salesforce_sandbox.app.api_calls_counted()
    bc_calls_before = len(bigcommerce_sandbox.app.calls())

    summary = backfill_run(store=stores, filters=BackfillFilters())

    requests = salesforce_sandbox.app.api_calls_counted() - calls_before
    assert summary.salesforce_requests == requests
    assert summary.synced + summary.unchanged == len(wanted), summary.skip_reasons
    assert summary.unchanged == len(first)
    assert set(summary.failed) == {o["id"] for o in orders if not o["is_deleted"]} - wanted
    assert all("CURRENCY_UNSUPPORTED" in reason or "currency" in reason for reason in summary.failed.values())
    _assert_no_duplicate_and_no_gap(salesforce_sandbox, wanted)
    # BigCommerce: the list walked 250 at a time with the consignments' lines, to the empty (204) end.
    listing = [
        call for call in bigcommerce_sandbox.app.calls()[bc_calls_before:] if call["path"].endswith("/v2/orders")
    ]
    assert len(listing) == len(orders) // 250 + 1
    assert all("consignments.line_items" in json.dumps(call) for call in listing)
    # Analytics were recomputed once, at the end: every synced customer's Account carries them.
    assert summary.analytics is not None
    accounts = salesforce_sandbox.app.records("Account")
    assert sum(1 for account in accounts if account.get("CLV__c") is not None) >= len(accounts) - 1
    # No platform events for history.
    assert salesforce_sandbox.app.platform_events() == []
    # Batched: at most one Salesforce request per 100 orders (the budget), analytics included
    # (one per order would be 2,000; one composite graph per order, 75 a request, was 29).
    print(f"backfill of {len(orders)} orders: {requests} Salesforce requests")
    assert requests <= len(orders) / 100, f"{requests} Salesforce requests for {len(orders)} orders"
    # Shipped orders' tracking numbers were read, one /shipments request each, and the summary says so.
    shipments = [
        call for call in bigcommerce_sandbox.app.calls()[bc_calls_before:] if call["path"].endswith("/shipments")
    ]
    assert summary.shipment_requests == len(shipments) > 0


def test_an_interrupted_backfill_resumes_without_duplicate_or_gap(stores, bigcommerce_sandbox, salesforce_sandbox):
    orders = _generate(bigcommerce_sandbox, orders=320, seed=5)
    wanted = _syncable(orders)
    pages_seen = []

    def interrupt(state: BackfillProgress) -> None:
        pages_seen.append(state.done)
        if len(pages_seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill_run(store=stores, filters=BackfillFilters(), progress=interrupt, page_size=100, batch_size=100)
    from orders.models import BackfillRun

    run = BackfillRun.objects.get()
    assert run.status == "interrupted"
    assert run.last_order_id == sorted(o["id"] for o in orders if not o["is_deleted"])[199]
    synced_before = set(_salesforce_orders(salesforce_sandbox))
    assert synced_before == {f"sandbox:{i}" for i in wanted if i <= run.last_order_id}

    checkpoint = run.last_order_id
    calls_before = len(bigcommerce_sandbox.app.calls())
    output = _backfill("--resume")
    assert f"resumed after order {run.last_order_id}" in output
    run.refresh_from_db()
    assert run.status == "done"
    _assert_no_duplicate_and_no_gap(salesforce_sandbox, wanted)
    # The resumed run read only what was left: the listing started after the checkpoint.
    listings = [c for c in bigcommerce_sandbox.app.calls()[calls_before:] if c["path"].endswith("/v2/orders")]
    assert listings
    assert f"min_id={checkpoint + 1}" in listings[0]["query"]
    assert SyncedOrder.objects.filter(store=stores).count() == len(wanted)
    with pytest.raises(CommandError, match="No unfinished backfill"):
        _backfill("--resume")


def test_a_backfill_overlapping_live_webhooks(stores, bigcommerce_sandbox, salesforce_sandbox, monkeypatch):
    """Live order changes during the backfill: the final Salesforce state is BigCommerce's current one."""
    orders = _generate(bigcommerce_sandbox, orders=300, seed=7)
    wanted = sorted(_syncable(orders))
    app = bigcommerce_sandbox.app
    by_page = sorted(o["id"] for o in orders if not o["is_deleted"])
    early = wanted[10]  # page 1
    racing = next(i for i in wanted if by_page[100] <= i < by_page[199])  # page 2
    waiting_one = wanted[-20]  # page 3
    received: list[int] = []

    def live(scope: str, data: dict) -> int:
        body = json.dumps(
            {
                "scope": scope,
                "store_id": "1000001",
                "data": data,
                "hash": f"h{len(received)}",
                "created_at": 1700000000 + len(received),
                "producer": "stores/sandbox",
            }
        ).encode()
        result = webhook_event_receive(
            store_hash="sandbox", body=body, headers={"X-B2S-Webhook-Secret": "test-webhook-secret"}
        )
        received.append(result.event_id)
        return result.event_id

    def during(state: BackfillProgress) -> None:
        if state.done != 100:
            return
        # An order of the finished first page is refunded; its webhook is processed at once.
        app.refund_create(early, "5.00")
        webhook_event_process(event_id=live("store/order/updated", {"type": "order", "id": early}))
        # A webhook still waiting in the queue when the backfill reaches its order (page 3).
        app.order_status_set(waiting_one, 2)
        live("store/order/statusUpdated", {"type": "order", "id": waiting_one})

    real_batch = order_backfill.orders_sync_batch

    def racing_batch(*, store, orders, **options):
        # Page 2 was read before this order shipped; the live webhook wins the race to Salesforce,
        # then the backfill writes the page's older state.
        if any(order["id"] == racing for order in orders):
            app.order_status_set(racing, 2)
            webhook_event_process(event_id=live("store/order/statusUpdated", {"type": "order", "id": racing}))
        return real_batch(store=store, orders=orders, **options)

    monkeypatch.setattr(order_backfill, "orders_sync_batch", racing_batch)
    summary = backfill_run(store=stores, filters=BackfillFilters(), progress=during, page_size=100, batch_size=100)
    assert summary.skip_reasons == {waiting_one: "a live webhook is syncing it"}
    # The live event that lost the race to the older page was queued again...
    assert summary.live_resynced == 1
    rerun = WebhookEvent.objects.get(pk=received[-1])
    assert rerun.status == WebhookEvent.Status.PENDING
    # ... and the worker runs it, and the waiting one, as it would.
    for event_id in (received[-1], received[1]):
        webhook_event_process(event_id=event_id)
        assert WebhookEvent.objects.get(pk=event_id).status == WebhookEvent.Status.DONE
    _assert_no_duplicate_and_no_gap(salesforce_sandbox, set(wanted))
    by_key = {record["BigCommerceOrderId__c"]: record for record in salesforce_sandbox.app.records("Order")}
    current = {entry["order"]["id"]: entry["order"] for entry in app.state()["orders"]}
    for order_id in (early, racing, waiting_one):
        record = by_key[f"sandbox:{order_id}"]
        assert record["BC_Status__c"] == current[order_id]["status"], order_id
        assert float(record["Refunded_Amount__c"] or 0) == float(current[order_id]["refunded_amount"]), order_id
    assert current[racing]["status"] == "Shipped"


def test_an_order_synced_live_after_the_page_was_read_is_left_to_the_live_path(stores):
    from datetime import timedelta

    from django.utils import timezone

    from orders.backfill import _live_busy

    read_at = timezone.now() - timedelta(seconds=5)
    SyncedOrderFactory(store=stores, order_id=7)  # synced just now: after the page was read
    SyncedOrderFactory(store=stores, order_id=8, synced_at=read_at - timedelta(minutes=5))
    busy = _live_busy(stores, [{"id": 7, "customer_id": 0}, {"id": 8, "customer_id": 0}], fetched_at=read_at)
    assert busy == {7: "synced live while the backfill read it"}


def test_dry_run_writes_nothing(stores, bigcommerce_sandbox, salesforce_sandbox):
    orders = _generate(bigcommerce_sandbox, orders=300, seed=2)
    output = _backfill("--dry-run")
    assert f"orders: {len([o for o in orders if not o['is_deleted']])} new" in output
    assert salesforce_sandbox.app.records("Order") == []
    from orders.models import BackfillRun

    assert not BackfillRun.objects.exists()


def test_ids_and_dates_filter_and_customers(stores, bigcommerce_sandbox, salesforce_sandbox):
    orders = _generate(bigcommerce_sandbox, orders=200, customers=30, seed=3)
    wanted = sorted(_syncable(orders))[:3]
    output = _backfill("--ids", ",".join(map(str, [*wanted, 999999])), "--customers")
    assert "orders: 3 synced" in output
    assert "skipped order 999999: not found in BigCommerce" in output
    assert "customers: 30 synced" in output
    assert set(_salesforce_orders(salesforce_sandbox)) == {f"sandbox:{i}" for i in wanted}
    registered = {r["BigCommerceCustomerId__c"] for r in salesforce_sandbox.app.records("Contact")}
    assert {f"sandbox:{c['id']}" for c in bigcommerce_sandbox.app.state()["customers"]} <= registered

    from email.utils import parsedate_to_datetime

    def day_of(order: dict):
        return parsedate_to_datetime(order["date_created"]).date()

    dated = sorted((o for o in orders if not o["is_deleted"]), key=lambda order: order["id"])
    since, until = day_of(dated[50]), day_of(dated[150])
    output = _backfill("--since", since.isoformat(), "--until", until.isoformat(), "--dry-run")
    expected = [o["id"] for o in dated if since <= day_of(o) <= until]
    fresh = [order_id for order_id in expected if order_id not in wanted]
    assert 80 < len(expected) < 150
    assert f"orders: {len(fresh)} new, {len(expected) - len(fresh)} already synced" in output


def test_a_page_of_customers_is_one_salesforce_request(stores, bigcommerce_sandbox, salesforce_sandbox):
    from orders.backfill import customers_sync_batch
    from sync.bigcommerce import bigcommerce_client
    from sync.salesforce import salesforce_client

    _generate(bigcommerce_sandbox, orders=10, customers=120, seed=12)
    rows = bigcommerce_client(stores).request("GET", "/v3/customers", params={"include": "addresses", "limit": 250})[
        "data"
    ]
    assert len(rows) == 120
    rows[0]["email"] = "nobody@localhost"  # Salesforce refuses it on the Contact
    salesforce_client().field_limits({"Account", "Contact"})  # once per process: not the page's cost
    before = salesforce_sandbox.app.api_calls_counted()
    synced, failed = customers_sync_batch(store=stores, customers=rows)
    # One composite of queries looking for the 120 customers in the CRM by email (100 an IN list), then an
    # Account and a Contact collection in one composite request (a graph per customer took 2).
    assert salesforce_sandbox.app.api_calls_counted() - before == 2
    assert synced == 119 and list(failed) == [rows[0]["id"]]
    assert "INVALID_EMAIL_ADDRESS" in failed[rows[0]["id"]]
    contacts = {record["BigCommerceCustomerId__c"]: record for record in salesforce_sandbox.app.records("Contact")}
    assert set(contacts) == {f"sandbox:{row['id']}" for row in rows[1:]}
    accounts = {record["Id"]: record for record in salesforce_sandbox.app.records("Account")}
    for contact in contacts.values():
        assert accounts[contact["AccountId"]]["BigCommerceCustomerId__c"] == contact["BigCommerceCustomerId__c"]


def test_shipments_cost_is_shown_and_can_be_skipped(stores, bigcommerce_sandbox, salesforce_sandbox):
    orders = _generate(bigcommerce_sandbox, orders=300, seed=8)
    wanted = _syncable(orders)
    shipped = {o["id"] for o in orders if o["id"] in wanted and o["items_shipped"] > 0}
    assert shipped
    before = len(bigcommerce_sandbox.app.calls())
    output = _backfill("--no-shipments")
    calls = bigcommerce_sandbox.app.calls()[before:]
    assert not [call for call in calls if call["path"].endswith("/shipments")]
    assert f"tracking numbers not read for {len(shipped)} shipped orders (--no-shipments)" in output
    _assert_no_duplicate_and_no_gap(salesforce_sandbox, wanted)
    by_key = {record["BigCommerceOrderId__c"]: record for record in salesforce_sandbox.app.records("Order")}
    assert all(by_key[f"sandbox:{order_id}"]["TrackingNumber__c"] is None for order_id in shipped)
    # The order list (two pages, one batch) and the customers: a handful of requests for 300 orders.
    assert len(calls) <= 2 + 1 + 3 + 3  # list pages, the count, customers (50 a request), margin

    # With shipments (the default) their cost is stated: one request per shipped order.
    SyncedOrder.objects.all().delete()
    before = len(bigcommerce_sandbox.app.calls())
    output = _backfill()
    fetched = [c for c in bigcommerce_sandbox.app.calls()[before:] if c["path"].endswith("/shipments")]
    assert len(fetched) == len(shipped)
    assert f"of the BigCommerce requests, {len(shipped)} read shipped orders' tracking numbers" in output
    by_key = {record["BigCommerceOrderId__c"]: record for record in salesforce_sandbox.app.records("Order")}
    assert all(by_key[f"sandbox:{order_id}"]["TrackingNumber__c"] for order_id in shipped)


def test_plain_progress_lines_when_not_a_terminal(stores, bigcommerce_sandbox):
    _generate(bigcommerce_sandbox, orders=300, seed=4)
    output = _backfill("--dry-run")
    lines = [line for line in output.splitlines() if line.startswith("backfill orders:")]
    assert lines
    assert re.match(r"backfill orders: 300/300 \(100%\), [0-9.]+/s, ETA 0:00; 300 synced", lines[-1]), lines[-1]
    assert "\r" not in output


def test_the_rate_limit_is_waited_out(stores, bigcommerce_sandbox, salesforce_sandbox):
    """A small quota in a short window: the backfill waits for the window instead of failing."""
    orders = _generate(bigcommerce_sandbox, orders=260, seed=9, quota=40)
    bigcommerce_sandbox.app.configure(rate_limit_window_ms=1500)
    summary = backfill_run(store=stores, filters=BackfillFilters())
    limited = [call for call in bigcommerce_sandbox.app.calls() if call["status"] == 429]
    assert summary.synced == len(_syncable(orders))
    _assert_no_duplicate_and_no_gap(salesforce_sandbox, _syncable(orders))
    assert len(bigcommerce_sandbox.app.calls()) > 40  # more requests than one window allows were needed
    assert len(limited) <= 3


def test_the_terminal_bar_shows_records_rate_and_eta():
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=True)
    state = BackfillProgress("orders", done=500, total=2000, synced=480, failed=20)
    state.started -= 10  # ten seconds in: 50 orders a second
    printer(state)
    printer.close()
    text = stream.getvalue()
    # Records, rate and ETA (ten seconds in, 50 a second: 30 seconds left), drawn in place.
    assert text.startswith("\rorders ") and "500/2000" in text
    assert re.search(r" 50\.0+/s ", text) and "ETA 00:30" in text
    assert "480 synced" in text and "20 failed" in text and text.endswith("\n")
