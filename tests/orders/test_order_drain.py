"""Live bursts: order events drained from the inbox together share their BigCommerce and Salesforce requests.

The events are stored as intake stores them and taken by ``webhook_events_drain`` (what a worker's drain
task runs), against both stand-ins over HTTPS; costs are read from the stand-ins' own counters.
"""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from orders import handlers as order_handlers
from sync.models import WebhookEvent
from sync.services.webhooks import webhook_events_drain
from tests.orders.test_order_budget import generated_dollar_orders
from tests.orders.test_order_sync import assert_items_match

pytestmark = pytest.mark.django_db

BURST = 40


@pytest.fixture
def drain(settings, django_capture_on_commit_callbacks):
    def run() -> int:
        settings.WEBHOOK_DRAIN_LINGER_SECONDS = 0
        with django_capture_on_commit_callbacks(execute=True):
            return webhook_events_drain(size=200, wait_seconds=0)

    return run


def order_fetches(calls: list[dict]) -> list[str]:
    return [call["path"] for call in calls if "/v2/orders" in call["path"] and not call["path"].endswith("/shipments")]


def test_a_burst_of_order_events_shares_its_requests(orders, drain):
    generated = generated_dollar_orders(orders, BURST)
    orders.warm_up()
    events = [orders.event("store/order/created", order["id"]) for order in generated]
    before_sf, before_bc = orders.sf.api_calls_counted(), len(orders.bc.calls())
    assert drain() == BURST
    sf_spent, bc_calls = orders.sf.api_calls_counted() - before_sf, orders.bc.calls()[before_bc:]

    assert set(WebhookEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("status", flat=True)) == {"done"}
    for order in generated:
        assert_items_match(orders, order["id"], orders.order_record(order["id"]))
    # BigCommerce: the orders read by id range (250 a request), never one by one; one /v3/customers for
    # the unseen customers; /shipments only for shipped orders (tracking numbers).
    ids = sorted(order["id"] for order in generated)
    fetches = order_fetches(bc_calls)
    assert fetches == [f"/stores/{orders.bc.store_hash}/v2/orders"] * len(fetches)
    assert len(fetches) <= (ids[-1] - ids[0]) // 250 + 1
    shipped = sum(1 for order in generated if order["items_shipped"] > 0)
    customers = sum(1 for call in bc_calls if call["path"].endswith("/v3/customers"))
    assert len(bc_calls) == len(fetches) + customers + shipped
    assert customers <= 1
    # Salesforce: a handful of composite requests for the whole burst, against 1-3 per order one by one.
    assert sf_spent <= 8, sf_spent
    entries = AuditLog.objects.filter(event__in=events, status="success")
    assert entries.count() == BURST
    assert {entry.details.get("batch") for entry in entries} == {"graphs"}  # under the collections threshold (50)
    assert sum(entry.salesforce_api_calls for entry in entries) <= sf_spent + BURST  # shared out, rounded

    # The same events delivered again (a redelivery of each): nothing changed, nothing written.
    again = [orders.event("store/order/updated", order["id"]) for order in generated]
    before_sf = orders.sf.api_calls_counted()
    assert drain() == BURST
    assert orders.sf.api_calls_counted() - before_sf == 0
    assert set(WebhookEvent.objects.filter(pk__in=[e.pk for e in again]).values_list("status", flat=True)) == {"done"}


def test_events_of_one_order_in_one_batch_share_one_sync(orders, drain):
    generated = generated_dollar_orders(orders, 3)
    orders.warm_up()
    first, second = generated[0]["id"], generated[1]["id"]
    events = [
        orders.event("store/order/created", first),
        orders.event("store/order/statusUpdated", first),
        orders.event("store/order/created", second),
    ]
    before_bc = len(orders.bc.calls())
    assert drain() == 3
    assert [WebhookEvent.objects.get(pk=event.pk).status for event in events] == ["done"] * 3
    assert len(order_fetches(orders.bc.calls()[before_bc:])) == 1  # one list request for both orders
    orders.order_record(first)  # exactly one Order each
    orders.order_record(second)


def test_orders_the_list_leaves_out_and_failed_batches_run_on_their_own(orders, drain, monkeypatch):
    generated = generated_dollar_orders(orders, 3)
    orders.warm_up()
    missing = orders.event("store/order/created", 9_999_999)  # not in the store: the list does not return it
    present = [orders.event("store/order/created", order["id"]) for order in generated[:2]]
    assert drain() == 3
    missing.refresh_from_db()
    assert (missing.status, missing.last_error_message) == ("skipped", "Order 9999999 does not exist in BigCommerce.")
    assert {WebhookEvent.objects.get(pk=event.pk).status for event in present} == {"done"}

    def broken(**kwargs):
        raise RuntimeError("the batch broke")

    monkeypatch.setattr(order_handlers, "orders_sync_batch", broken)
    later = [orders.event("store/order/updated", order["id"]) for order in generated]
    assert drain() == 3
    # Each ran through its own handler (which does not use the batch) and finished.
    assert {WebhookEvent.objects.get(pk=event.pk).status for event in later} == {"done"}
