"""Rotating a webhook secret: the previous one works for a grace period; register_webhooks pushes the new one."""

from __future__ import annotations

import hashlib
import hmac
import io
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from sync.admin import StoreForm
from sync.models import Store, WebhookEvent
from sync.services.webhooks import webhook_request_sign
from tests.intake.conftest import HEADER_SECRET, HMAC_SECRET, callback, encode

pytestmark = pytest.mark.django_db

NEW_SECRET = "rotated-webhook-secret-abcdef0123"
GRACE = 3600


def _post(client: Client, store: Store, body: bytes, headers: dict[str, str]) -> int:
    return client.post(
        f"/webhooks/bigcommerce/{store.store_hash}/", data=body, content_type="application/json", headers=headers
    ).status_code


def _rotate(store: Store) -> Store:
    store = Store.objects.get(pk=store.pk)
    store.webhook_secret = NEW_SECRET
    store.save()
    return Store.objects.get(pk=store.pk)


def _rotated_ago(store: Store, seconds: float) -> None:
    Store.objects.filter(pk=store.pk).update(webhook_secret_rotated_at=timezone.now() - timedelta(seconds=seconds))


def test_a_change_keeps_the_previous_secret_a_resave_does_not(header_store):
    before = timezone.now()
    rotated = _rotate(header_store)
    assert rotated.webhook_secret == NEW_SECRET
    assert rotated.previous_webhook_secret == HEADER_SECRET
    assert rotated.webhook_secret_rotated_at >= before
    stamp = rotated.webhook_secret_rotated_at
    rotated.name = "Renamed"
    rotated.save()  # the secret did not change: no new rotation
    again = Store.objects.get(pk=header_store.pk)
    assert (again.previous_webhook_secret, again.webhook_secret_rotated_at) == (HEADER_SECRET, stamp)


def test_the_admin_form_rotates_and_blank_keeps(header_store):
    data = {
        "name": header_store.name,
        "store_hash": header_store.store_hash,
        "store_id": header_store.store_id,
        "api_base_url": header_store.api_base_url,
        "client_id": "",
        "webhook_auth_mode": header_store.webhook_auth_mode,
        "webhook_header_name": header_store.webhook_header_name,
        "timezone": "UTC",
        "is_active": "on",
    }
    form = StoreForm(data={**data, "webhook_secret": ""}, instance=Store.objects.get(pk=header_store.pk))
    assert form.is_valid(), form.errors
    form.save()
    kept = Store.objects.get(pk=header_store.pk)
    assert (kept.webhook_secret, kept.previous_webhook_secret) == (HEADER_SECRET, "")
    form = StoreForm(data={**data, "webhook_secret": NEW_SECRET}, instance=kept)
    assert form.is_valid(), form.errors
    form.save()
    rotated = Store.objects.get(pk=header_store.pk)
    assert (rotated.webhook_secret, rotated.previous_webhook_secret) == (NEW_SECRET, HEADER_SECRET)
    assert rotated.access_token == "token-header-store-0123456789"  # left blank: kept


@override_settings(WEBHOOK_SECRET_GRACE_SECONDS=GRACE)
def test_header_mode_accepts_the_previous_secret_within_the_grace_period(client, header_store):
    store = _rotate(header_store)
    body = encode(callback(store, resource_id=41))
    assert _post(client, store, body, {"X-B2S-Webhook-Secret": HEADER_SECRET}) == 200
    assert _post(client, store, encode(callback(store, resource_id=42)), {"X-B2S-Webhook-Secret": NEW_SECRET}) == 200
    assert _post(client, store, encode(callback(store, resource_id=43)), {"X-B2S-Webhook-Secret": "never-set"}) == 401
    assert WebhookEvent.objects.count() == 2


@override_settings(WEBHOOK_SECRET_GRACE_SECONDS=GRACE)
def test_header_mode_refuses_the_previous_secret_after_the_grace_period(client, header_store):
    store = _rotate(header_store)
    _rotated_ago(store, GRACE + 5)
    assert _post(client, store, encode(callback(store, resource_id=51)), {"X-B2S-Webhook-Secret": HEADER_SECRET}) == 401
    assert WebhookEvent.objects.count() == 0
    assert _post(client, store, encode(callback(store, resource_id=52)), {"X-B2S-Webhook-Secret": NEW_SECRET}) == 200


@override_settings(WEBHOOK_SECRET_GRACE_SECONDS=GRACE)
@pytest.mark.parametrize("ago, status", [(GRACE - 60, 200), (GRACE + 60, 401)])
def test_legacy_hmac_previous_secret(client, legacy_store, ago, status):
    store = _rotate(legacy_store)
    _rotated_ago(store, ago)
    body = encode(callback(store, resource_id=61))
    old_signature = hmac.new(HMAC_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert _post(client, store, body, {"X-BC-Webhook-Signature": old_signature}) == status


@override_settings(WEBHOOK_SECRET_GRACE_SECONDS=GRACE)
@pytest.mark.parametrize("ago, status", [(GRACE - 60, 200), (GRACE + 60, 401)])
def test_standard_webhooks_previous_secret(client, standard_store, ago, status):
    standard_store.webhook_secret = "standard-first-secret-111"
    standard_store.save()
    old = Store.objects.get(pk=standard_store.pk)
    store = _rotate(standard_store)
    _rotated_ago(store, ago)
    body = encode(callback(store, resource_id=71))
    assert _post(client, store, body, webhook_request_sign(store=old, body=body, now=int(time.time()))) == status
    fresh = encode(callback(store, resource_id=72))
    assert _post(client, store, fresh, webhook_request_sign(store=store, body=fresh)) == 200


def test_register_webhooks_pushes_the_new_secret(bigcommerce_wired, sandbox_store):
    def ours() -> list[dict]:
        destination = f"https://b2s.example.com/webhooks/bigcommerce/{sandbox_store.store_hash}/"
        return [hook for hook in bigcommerce_wired.app.state()["hooks"] if hook["destination"] == destination]

    call_command("register_webhooks", "--base-url", "https://b2s.example.com", stdout=io.StringIO())
    assert ours() and all(hook["headers"] == {"X-B2S-Webhook-Secret": HEADER_SECRET} for hook in ours())
    _rotate(sandbox_store)
    out = io.StringIO()
    call_command("register_webhooks", "--base-url", "https://b2s.example.com", stdout=out)
    hooks = ours()
    assert all(hook["headers"] == {"X-B2S-Webhook-Secret": NEW_SECRET} for hook in hooks)
    assert f"{len(hooks)} updated" in out.getvalue()
    assert NEW_SECRET not in out.getvalue() and HEADER_SECRET not in out.getvalue()
