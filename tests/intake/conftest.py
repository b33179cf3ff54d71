"""Fixtures of the intake tests: stores in each authentication mode, and b2s wired to the stand-ins."""

from __future__ import annotations

import json

import pytest

from sync import handlers
from sync.models import Store, WebhookEvent
from sync.services.webhooks import webhook_event_process, webhook_event_receive, webhook_events_drain
from tests.factories.sync import StoreFactory

HEADER_SECRET = "header-secret-0123456789"
HMAC_SECRET = "legacy-hmac-secret-0123456789"
CLIENT_SECRET = "standard-client-secret-0123456789"


@pytest.fixture
def header_store(db) -> Store:
    """A store authenticating callbacks with a custom header secret."""
    return StoreFactory(
        store_hash="hdrstore",
        store_id="1025646",
        access_token="token-header-store-0123456789",
        webhook_auth_mode=Store.WebhookAuth.HEADER,
        webhook_header_name="X-B2S-Webhook-Secret",
        webhook_secret=HEADER_SECRET,
    )


@pytest.fixture
def standard_store(db) -> Store:
    """A store authenticating callbacks with Standard Webhooks signatures (client secret)."""
    return StoreFactory(
        store_hash="stdstore",
        store_id="2000002",
        client_secret=CLIENT_SECRET,
        webhook_auth_mode=Store.WebhookAuth.STANDARD_WEBHOOKS,
    )


@pytest.fixture
def legacy_store(db) -> Store:
    """A store authenticating callbacks with X-BC-Webhook-Signature."""
    return StoreFactory(
        store_hash="legstore",
        webhook_auth_mode=Store.WebhookAuth.LEGACY_HMAC,
        webhook_secret=HMAC_SECRET,
    )


def callback(store: Store, *, scope: str = "store/customer/created", resource_id=32, **overrides) -> dict:
    """A callback body as BigCommerce sends it for ``store``."""
    from sync.services.webhooks import webhook_payload_build

    payload = webhook_payload_build(store=store, scope=scope, resource_id=resource_id, created_at=1561481571)
    payload.update(overrides)
    return payload


def encode(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


@pytest.fixture
def salesforce_settings(salesforce_wired):
    """b2s's Salesforce settings pointed at the stand-in; the process-wide client rebuilt around it."""
    return salesforce_wired


@pytest.fixture
def sandbox_store(sandbox_store_make) -> Store:
    """The b2s Store of the BigCommerce stand-in's default store, trusting its CA."""
    return sandbox_store_make(webhook_secret=HEADER_SECRET)


@pytest.fixture
def receive(sandbox_store, django_capture_on_commit_callbacks):
    """Receive a callback through the real service (tasks land in OrmQ)."""

    def run(scope: str, resource_id, **overrides) -> WebhookEvent:
        payload = callback(sandbox_store, scope=scope, resource_id=resource_id, **overrides)
        with django_capture_on_commit_callbacks(execute=True):
            result = webhook_event_receive(
                store_hash=sandbox_store.store_hash,
                body=encode(payload),
                headers={"X-B2S-Webhook-Secret": HEADER_SECRET},
            )
        assert result.status_code == 200, result
        return WebhookEvent.objects.get(pk=result.event_id)

    return run


@pytest.fixture
def process(django_capture_on_commit_callbacks):
    """Process an event and run what it deferred to commit (retry scheduling)."""

    def run(event: WebhookEvent) -> WebhookEvent:
        with django_capture_on_commit_callbacks(execute=True):
            webhook_event_process(event_id=event.pk)
        event.refresh_from_db()
        return event

    return run


@pytest.fixture
def drain(django_capture_on_commit_callbacks, settings):
    """Run one drain as a worker would (no lingering), and what it deferred to commit; returns how many it claimed."""

    def run(*, size: int = 200) -> int:
        settings.WEBHOOK_DRAIN_LINGER_SECONDS = 0
        with django_capture_on_commit_callbacks(execute=True):
            return webhook_events_drain(size=size, wait_seconds=0)

    return run


@pytest.fixture
def test_handler():
    """Register handlers for test scopes; removed afterwards."""
    added: list[str] = []

    def register(scope: str, function):
        handlers.handlers_load()
        handlers.handler_register(scope)(function)
        added.append(scope)
        return function

    yield register
    for scope in added:
        handlers.HANDLERS.pop(scope, None)
