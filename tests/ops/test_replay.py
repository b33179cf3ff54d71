"""``manage.py replay``: which events each filter re-queues."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from sync.management.commands.replay import ids_parse, since_parse
from sync.models import WebhookEvent
from sync.selectors import webhook_events_select
from tests.factories.sync import StoreFactory, WebhookEventFactory

pytestmark = pytest.mark.django_db

S = WebhookEvent.Status


@pytest.fixture
def events(db):
    """Events of two stores in every interesting status, received at different times."""
    # Fixed hashes: the tests select stores by them (--store storea).
    store = StoreFactory(store_hash="storea")
    other = StoreFactory(store_hash="storeb")
    now = timezone.now()
    rows = {}
    specs = [
        ("failed_order", store, "store/order/created", S.FAILED, 1),
        ("failed_cart", store, "store/cart/abandoned", S.FAILED, 30),
        ("dead_order", store, "store/order/updated", S.DEAD, 2),
        ("dead_old", store, "store/order/created", S.DEAD, 24 * 10),
        ("done_order", store, "store/order/created", S.DONE, 1),
        ("pending_order", store, "store/order/created", S.PENDING, 1),
        ("other_failed", other, "store/order/created", S.FAILED, 1),
    ]
    for number, (name, owner, scope, status, hours_ago) in enumerate(specs, start=1):
        rows[name] = WebhookEventFactory(
            store=owner,
            scope=scope,
            resource_id=str(number),
            status=status,
            attempts=3,
            last_error_message="boom" if status in {S.FAILED, S.DEAD} else "",
            received_at=now - timedelta(hours=hours_ago),
        )
    return rows


def _replay(*args: str) -> str:
    out = io.StringIO()
    call_command("replay", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _status(event: WebhookEvent) -> str:
    event.refresh_from_db()
    return event.status


def test_default_requeues_failed_and_dead(events):
    output = _replay()
    assert "Re-queued 5 of 5" in output
    for name in ("failed_order", "failed_cart", "dead_order", "dead_old", "other_failed"):
        assert _status(events[name]) == S.PENDING, name
    assert _status(events["done_order"]) == S.DONE


def test_failed_only(events):
    assert "Re-queued 3 of 3" in _replay("--failed")
    assert _status(events["dead_order"]) == S.DEAD
    assert _status(events["failed_cart"]) == S.PENDING


def test_dead_only_since_a_duration(events):
    assert "Re-queued 1 of 1" in _replay("--dead", "--since", "2d")
    assert _status(events["dead_order"]) == S.PENDING
    assert _status(events["dead_old"]) == S.DEAD


def test_scope_and_store_filters(events):
    # Without --failed/--dead the default statuses (failed and dead) apply within the scope and store.
    assert "Re-queued 2 of 2" in _replay("--scope", "store/order/created", "--store", "storea")
    assert _status(events["failed_order"]) == S.PENDING
    assert _status(events["dead_old"]) == S.PENDING
    assert _status(events["other_failed"]) == S.FAILED
    assert _status(events["dead_order"]) == S.DEAD
    assert _status(events["pending_order"]) == S.PENDING
    assert _status(events["done_order"]) == S.DONE


def test_ids_select_any_status(events):
    ids = f"{events['done_order'].pk},{events['dead_order'].pk}"
    assert "Re-queued 2 of 2" in _replay("--ids", ids)
    assert _status(events["done_order"]) == S.PENDING
    assert _status(events["failed_order"]) == S.FAILED


def test_ids_with_a_status_filter_intersect(events):
    output = _replay("--failed", "--ids", str(events["done_order"].pk), str(events["failed_cart"].pk))
    assert "Re-queued 1 of 1" in output
    assert _status(events["done_order"]) == S.DONE


def test_dry_run_requeues_nothing(events):
    output = _replay("--dry-run")
    assert "Would re-queue 5 event(s)" in output
    assert _status(events["failed_order"]) == S.FAILED


def test_nothing_matches(events):
    assert "Re-queued 0 of 0" in _replay("--scope", "store/customer/created")


def test_bad_arguments_are_errors(events):
    with pytest.raises(CommandError):
        _replay("--since", "yesterday-ish")
    with pytest.raises(CommandError):
        _replay("--ids", "1,x")


def test_since_and_ids_parsing():
    now = timezone.now()
    assert since_parse("6h", now=now) == now - timedelta(hours=6)
    assert since_parse("2024-05-01").date().isoformat() == "2024-05-01"
    assert since_parse("2024-05-01T10:00:00+02:00").utcoffset() == timedelta(hours=2)
    assert ids_parse(["1,2", "3"]) == [1, 2, 3]


def test_selection_is_oldest_first(events):
    received = list(webhook_events_select().values_list("received_at", flat=True))
    assert received == sorted(received)


def test_an_event_being_processed_is_counted_but_not_requeued(events):
    busy = events["pending_order"]
    WebhookEvent.objects.filter(pk=busy.pk).update(status=S.PROCESSING, started_at=timezone.now())
    output = _replay("--ids", str(busy.pk), str(events["failed_cart"].pk))
    assert "Re-queued 1 of 2" in output
    assert _status(busy) == S.PROCESSING
