"""Standard Webhooks checked by the official ``standardwebhooks`` package, the BigCommerce way."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
from django.test import Client

from sync.models import Store, WebhookEvent
from sync.services.webhooks import STANDARD_WEBHOOKS_TOLERANCE_SECONDS, webhook_authenticate
from tests.intake.conftest import CLIENT_SECRET, callback, encode

pytestmark = pytest.mark.django_db


def _post(client: Client, store: Store, body: bytes, headers: dict[str, str]) -> int:
    return client.post(
        f"/webhooks/bigcommerce/{store.store_hash}/", data=body, content_type="application/json", headers=headers
    ).status_code


def _bigcommerce_signature(body: bytes, *, message_id: str, timestamp: str, key: bytes = CLIENT_SECRET.encode()) -> str:
    """BigCommerce's documented scheme, written out: base64 HMAC-SHA256 of ``id.timestamp.body``."""
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def test_a_delivery_signed_by_the_official_package_is_accepted(client, standard_store):
    raw_key = b"\x01\x02 whsec key bytes \xff"
    standard_store.webhook_secret = "whsec_" + base64.b64encode(raw_key).decode()
    standard_store.save()
    body = encode(callback(standard_store))
    sent_at = datetime.now(tz=UTC)
    signature = standardwebhooks.Webhook(standard_store.webhook_secret).sign("msg_pkg", sent_at, body.decode())
    headers = {
        "webhook-id": "msg_pkg",
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    assert _post(client, standard_store, body, headers) == 200
    assert WebhookEvent.objects.count() == 1


def test_the_raw_client_secret_keys_as_bigcommerce_documents(client, standard_store):
    # Not base64: the package would decode a str key; b2s hands it the secret's bytes as they are.
    body = encode(callback(standard_store))
    timestamp = str(int(time.time()))
    headers = {
        "webhook-id": "msg_bc",
        "webhook-timestamp": timestamp,
        "webhook-signature": _bigcommerce_signature(body, message_id="msg_bc", timestamp=timestamp),
    }
    assert _post(client, standard_store, body, headers) == 200


def test_one_good_signature_among_malformed_entries_is_enough(client, standard_store):
    body = encode(callback(standard_store))
    timestamp = str(int(time.time()))
    good = _bigcommerce_signature(body, message_id="m", timestamp=timestamp)
    signatures = f"v1  v1,a,b v1,!!notbase64!! v2,{good[3:]}   {good}"
    headers = {"webhook-id": "m", "webhook-timestamp": timestamp, "webhook-signature": signatures}
    assert _post(client, standard_store, body, headers) == 200


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-signature": "v1"},
        {"webhook-signature": "v1,a,b"},
        {"webhook-signature": "v1,%%%%"},
        {"webhook-signature": ",,,, ,"},
        {"webhook-timestamp": "1e999"},
        {"webhook-timestamp": "9" * 5000},
        {"webhook-timestamp": "-1"},
        {"webhook-timestamp": " 12"},
        {"webhook-id": "x" * 400},
    ],
)
def test_odd_headers_are_refused_never_a_500(client, standard_store, change):
    body = encode(callback(standard_store))
    timestamp = str(int(time.time()))
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": timestamp,
        "webhook-signature": _bigcommerce_signature(body, message_id="m", timestamp=timestamp, key=b"wrong"),
        **change,
    }
    assert _post(client, standard_store, body, headers) == 401
    assert WebhookEvent.objects.count() == 0


def test_a_non_canonical_timestamp_is_refused_even_when_signed(standard_store):
    # The package would sign over "1700000000", the sender signed "01700000000": refuse, never guess.
    body = encode(callback(standard_store))
    now = int(time.time())
    timestamp = f"0{now}"
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": timestamp,
        "webhook-signature": _bigcommerce_signature(body, message_id="m", timestamp=timestamp),
    }
    reason = webhook_authenticate(store=standard_store, body=body, headers=headers, now=now)
    assert reason == "webhook-timestamp is not a number"


def test_a_signed_body_that_is_not_utf8_is_refused(client, standard_store):
    body = b'{"scope":"store/customer/created","data":{"id":"\xff\xfe"}}'
    timestamp = str(int(time.time()))
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": timestamp,
        "webhook-signature": _bigcommerce_signature(body, message_id="m", timestamp=timestamp),
    }
    assert _post(client, standard_store, body, headers) in (400, 401)
    assert WebhookEvent.objects.count() == 0


def test_the_tolerance_window(standard_store):
    # Checked against the caller's clock and, inside the package, against the wall clock: both must agree.
    body = encode(callback(standard_store))
    now = int(time.time())

    def reason(sent_at: int) -> str:
        timestamp = str(sent_at)
        headers = {
            "webhook-id": "m",
            "webhook-timestamp": timestamp,
            "webhook-signature": _bigcommerce_signature(body, message_id="m", timestamp=timestamp),
        }
        return webhook_authenticate(store=standard_store, body=body, headers=headers, now=now)

    assert reason(now - STANDARD_WEBHOOKS_TOLERANCE_SECONDS + 10) == ""
    assert reason(now + STANDARD_WEBHOOKS_TOLERANCE_SECONDS - 10) == ""
    assert reason(now - STANDARD_WEBHOOKS_TOLERANCE_SECONDS - 1) == "webhook-timestamp outside the tolerance"
    assert reason(now + STANDARD_WEBHOOKS_TOLERANCE_SECONDS + 1) == "webhook-timestamp outside the tolerance"
