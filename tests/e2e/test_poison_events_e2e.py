"""End to end: odd but authentic deliveries posted to a live b2s, processed by a real django-q2 cluster.

Whatever an accepted event holds, it reaches a final state (done, skipped, ignored, failed without a
retry due, dead) within a bound, and the sweep then has nothing left to re-queue.
"""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from orders.services import ORDER_SCOPES, SHIPMENT_SCOPES
from sync.customers import CUSTOMER_SCOPES
from sync.models import Store, WebhookEvent
from sync.services.webhooks import webhook_events_sweep, webhook_payload_build, webhook_request_sign
from tests.e2e.conftest import live_store_create, wait_for
from tests.intake.test_fuzz import json_values

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "e2e-poison-secret-0123456789"

# (scope, data.id, extra data): authentic deliveries no handler can make sense of.
ODD_DELIVERIES = [
    ("store/shipment/created", 12, {"orderId": "not-a-number"}),
    ("store/shipment/created", 13, {"orderId": "9" * 64}),  # the longest the edge accepts
    ("store/customer/address/updated", 5, {"address": {"customer_id": "c" * 64}}),
    ("store/customer/address/created", 6, {"address": ["not", "an", "object"]}),
    ("store/order/updated", "x" * 64, {}),
    ("store/order/created", -1, {"status": {"previous_status_id": None}}),
    ("store/customer/updated", 0, {}),
    ("store/cart/converted", "d-odd", {"orderId": "also-not-a-number"}),
]


@pytest.fixture
def store(bigcommerce_sandbox, live_server, transactional_db) -> Store:
    return live_store_create(bigcommerce_sandbox=bigcommerce_sandbox, live_server=live_server, secret=SECRET, scopes=())


def final(event: WebhookEvent) -> bool:
    if event.status == WebhookEvent.Status.FAILED:
        return event.next_attempt_at is None
    return event.status in ("done", "skipped", "ignored", "dead")


def test_every_accepted_odd_event_reaches_a_final_state(store, live_server, qcluster, salesforce_sandbox):
    url = f"{live_server.url}/webhooks/bigcommerce/{store.store_hash}/"
    accepted = 0
    for number, (scope, resource_id, extra) in enumerate(ODD_DELIVERIES):
        payload = webhook_payload_build(
            store=store, scope=scope, resource_id=resource_id, extra=extra, created_at=1700000000 + number
        )
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **webhook_request_sign(store=store, body=body)}
        response = requests.post(url, data=body, headers=headers, timeout=10)
        assert response.status_code < 500, (scope, response.status_code, response.text)
        accepted += response.status_code == 200
    assert accepted >= 6  # the edge takes most of them: they are well-formed callbacks
    assert WebhookEvent.objects.count() == accepted

    def all_final() -> bool:
        if qcluster.process.poll() is not None:
            pytest.fail(f"qcluster died:\n{qcluster.log()}")
        return all(final(event) for event in WebhookEvent.objects.all())

    wait_for(all_final, timeout=90, what="every event to reach a final state")
    for event in WebhookEvent.objects.all():
        if event.status in ("failed", "dead"):
            assert event.last_error_type and event.last_error_message, event
            assert event.attempts >= 1
    assert webhook_events_sweep() == 0  # nothing left for the sweep to take again


# Every scope b2s handles, a product one (ignored), and one nobody handles.
FUZZ_SCOPES = [
    *ORDER_SCOPES,
    *SHIPMENT_SCOPES,
    *CUSTOMER_SCOPES,
    "store/order/refund/created",
    "store/cart/abandoned",
    "store/cart/converted",
    "store/product/updated",
    "store/unknown/thing",
]
resource_ids = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=64)
extras = st.dictionaries(
    st.sampled_from(["orderId", "order_id", "status", "address", "refund", "cartId", "customer_id"]),
    json_values,
    max_size=3,
)


@st.composite
def deliveries(draw) -> list[tuple[str, object, dict]]:
    return draw(st.lists(st.tuples(st.sampled_from(FUZZ_SCOPES), resource_ids, extras), min_size=40, max_size=40))


@hypothesis_settings(
    max_examples=1,  # one batch of 40 generated callbacks: each example costs a cluster run
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=deliveries())
def test_fuzzed_accepted_events_all_reach_a_final_state(store, live_server, qcluster, salesforce_sandbox, batch):
    """Generated authentic callbacks: whatever the edge accepts, a real cluster brings to a final state."""
    WebhookEvent.objects.all().delete()
    url = f"{live_server.url}/webhooks/bigcommerce/{store.store_hash}"  # the spelling without the slash
    accepted = 0
    for number, (scope, resource_id, extra) in enumerate(batch):
        payload = webhook_payload_build(
            store=store, scope=scope, resource_id=resource_id, extra=extra, created_at=1700000000 + number
        )
        body = json.dumps(payload, allow_nan=True).encode()
        headers = {"Content-Type": "application/json", **webhook_request_sign(store=store, body=body)}
        response = requests.post(url, data=body, headers=headers, timeout=10)
        assert response.status_code < 500, (scope, resource_id, extra, response.status_code, response.text)
        accepted += response.status_code == 200
    # Most generated callbacks are well-formed: the cluster has real work, and nothing refused was stored.
    assert accepted >= 20 and WebhookEvent.objects.count() == accepted

    def all_final() -> bool:
        if qcluster.process.poll() is not None:
            pytest.fail(f"qcluster died:\n{qcluster.log()}")
        return all(final(event) for event in WebhookEvent.objects.all())

    wait_for(all_final, timeout=120, what="every generated event to reach a final state")
    assert webhook_events_sweep() == 0
