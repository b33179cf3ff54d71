"""Refused webhook deliveries are counted per store, reason and minute; the answer to the sender is unchanged."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from sync.models import IntakeRejection, WebhookEvent
from sync.services.intake import intake_rejection_count
from tests.factories.sync import StoreFactory
from tests.intake.conftest import HEADER_SECRET, callback, encode

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _throttle_fresh():
    """The failed-authentication throttle counts in the cache, which outlives a test."""
    cache.clear()
    yield
    cache.clear()


def post(client: Client, store_hash: str, body: bytes, headers: dict[str, str] | None = None, **extra):
    return client.post(
        f"/webhooks/bigcommerce/{store_hash}/",
        data=body,
        content_type="application/json",
        headers=headers or {},
        **extra,
    )


def counts() -> dict[tuple[str, str], int]:
    return {(row.store_hash, row.reason): row.count for row in IntakeRejection.objects.all()}


def test_an_unknown_store_is_counted_without_its_hash(client, header_store):
    for invented in ("nosuchstore", "another-invented-hash"):
        response = post(client, invented, encode(callback(header_store)), {"X-B2S-Webhook-Secret": HEADER_SECRET})
        assert (response.status_code, response.json()) == (404, {"detail": "Unknown store."})
    assert counts() == {("", "unknown_store"): 2}
    assert not IntakeRejection.objects.exclude(store_hash="").exists()


def test_an_inactive_store_counts_as_unknown(client, header_store):
    header_store.is_active = False
    header_store.save()
    response = post(client, header_store.store_hash, encode(callback(header_store)))
    assert response.status_code == 404
    assert counts() == {("", "unknown_store"): 1}


def test_failed_authentication_is_counted_for_the_store(client, header_store):
    body = encode(callback(header_store))
    for headers in ({"X-B2S-Webhook-Secret": "wrong"}, {}):
        response = post(client, header_store.store_hash, body, headers)
        assert (response.status_code, response.json()) == (401, {"detail": "Authentication failed."})
    assert counts() == {(header_store.store_hash, "authentication"): 2}


def test_a_throttled_sender_is_counted_as_authentication(client, header_store, settings):
    settings.WEBHOOK_AUTH_FAILURE_LIMIT = 1
    body = encode(callback(header_store))
    statuses = [post(client, header_store.store_hash, body, {"X-B2S-Webhook-Secret": "wrong"}).status_code]
    statuses.append(post(client, header_store.store_hash, body, {"X-B2S-Webhook-Secret": "wrong"}).status_code)
    assert statuses == [401, 429]
    assert counts() == {(header_store.store_hash, "authentication"): 2}


def test_malformed_deliveries_are_bad_requests(client, header_store, settings):
    secret = {"X-B2S-Webhook-Secret": HEADER_SECRET}
    not_json = post(client, header_store.store_hash, b"{not json", secret)
    assert (not_json.status_code, not_json.json()) == (400, {"detail": "The body is not JSON."})
    no_scope = post(client, header_store.store_hash, encode({**callback(header_store), "scope": ""}), secret)
    assert (no_scope.status_code, no_scope.json()) == (400, {"detail": "Invalid callback: 'scope' is missing."})
    odd_length = post(client, header_store.store_hash, encode(callback(header_store)), secret, CONTENT_LENGTH="1e3")
    assert odd_length.json() == {"detail": "The Content-Length header is not a number."}
    settings.WEBHOOK_MAX_BODY_BYTES = 64
    too_large = post(client, header_store.store_hash, encode(callback(header_store)), secret)
    assert (too_large.status_code, too_large.json()) == (413, {"detail": "The body is too large."})
    assert counts() == {(header_store.store_hash, "bad_request"): 4}


def test_accepted_and_duplicate_deliveries_are_not_counted(client, header_store):
    body = encode(callback(header_store))
    for _ in range(2):
        assert post(client, header_store.store_hash, body, {"X-B2S-Webhook-Secret": HEADER_SECRET}).status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert counts() == {}


def test_counts_are_per_minute_store_and_reason():
    other = StoreFactory(store_hash="otherstore")
    for second in (0, 10, 59):
        intake_rejection_count(
            store_hash="otherstore", reason="authentication", now=datetime(2026, 3, 1, 12, 0, second, 500, tzinfo=UTC)
        )
    intake_rejection_count(
        store_hash="otherstore", reason="authentication", now=datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
    )
    intake_rejection_count(store_hash="otherstore", reason="bad_request", now=datetime(2026, 3, 1, 12, 1, tzinfo=UTC))
    rows = IntakeRejection.objects.order_by("minute", "reason").values_list("store_hash", "reason", "minute", "count")
    assert list(rows) == [
        (other.store_hash, "authentication", datetime(2026, 3, 1, 12, 0, tzinfo=UTC), 3),
        (other.store_hash, "authentication", datetime(2026, 3, 1, 12, 1, tzinfo=UTC), 1),
        (other.store_hash, "bad_request", datetime(2026, 3, 1, 12, 1, tzinfo=UTC), 1),
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_counts_of_one_minute_add_up():
    """Racing first inserts meet the unique constraint; the loser increments the winner's row."""
    minute = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    threads, per_thread = 6, 20
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def count() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                intake_rejection_count(store_hash="", reason="unknown_store", now=minute)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=count) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert list(IntakeRejection.objects.values_list("count", flat=True)) == [threads * per_thread]
