"""Hostile input at the webhook endpoint: every malformed body or header is a clear 4xx that stores nothing.

Also: OPTIONS tells nothing about the view, both URL spellings are accepted without a redirect, and an
address that keeps failing authentication is throttled while a genuine delivery from it still passes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client

from sync.models import Store, WebhookEvent
from sync.services.webhooks import json_depth_exceeds, request_source_address, webhook_request_sign
from tests.intake.conftest import HEADER_SECRET, callback, encode

pytestmark = pytest.mark.django_db

STORE_FIXTURES = ["header_store", "standard_store", "legacy_store"]


@pytest.fixture(params=STORE_FIXTURES)
def store(request) -> Store:
    """Each authentication mode in turn."""
    return request.getfixturevalue(request.param)


def post(client: Client, store: Store, body: bytes, headers: dict[str, str] | None = None, *, slash=True, **extra):
    url = f"/webhooks/bigcommerce/{store.store_hash}{'/' if slash else ''}"
    return client.post(url, data=body, content_type="application/json", headers=headers or {}, **extra)


def signed_post(client: Client, store: Store, body: bytes, headers: dict[str, str] | None = None, **extra):
    return post(client, store, body, {**(headers or {}), **webhook_request_sign(store=store, body=body)}, **extra)


def refused(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert WebhookEvent.objects.count() == 0
    return response.json()


# -- bounded parsing ---------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"[" * 5000, b'{"a":' * 5000, b"[" * 100_000, b"[" * 70 + b"]" * 70])
def test_deep_nesting_is_400_before_authentication(header_store, client, body, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 200_000
    assert "nests deeper than 64" in refused(post(client, header_store, body), 400)["detail"]


def test_signed_deep_nesting_inside_a_callback_is_400(store, client):
    payload = callback(store)
    deep: object = 1
    for _ in range(70):
        deep = {"x": [deep]}
    payload["data"]["extra"] = deep
    assert "nests deeper" in refused(signed_post(client, store, encode(payload)), 400)["detail"]


def test_nesting_within_the_limit_is_stored(store, client):
    payload = callback(store)
    deep: object = "bottom"
    for _ in range(60):  # with the envelope and data: 62 levels
        deep = [deep]
    payload["data"]["extra"] = deep
    response = signed_post(client, store, encode(payload))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().body == payload


def test_the_depth_limit_is_a_setting(header_store, client, settings):
    settings.WEBHOOK_MAX_JSON_DEPTH = 2
    body = encode(callback(header_store))  # envelope + data: 2 levels
    assert post(client, header_store, body, {"X-B2S-Webhook-Secret": HEADER_SECRET}).status_code == 200
    payload = callback(header_store, resource_id=33)
    payload["data"]["list"] = [1]
    assert post(client, header_store, encode(payload), {"X-B2S-Webhook-Secret": HEADER_SECRET}).status_code == 400


@pytest.mark.parametrize(
    ("body", "deeper"),
    [
        (b'{"a":"[[[[[[[[[[","b":"{{{{{{"}', False),  # brackets inside strings do not count
        (b'{"a":"\\"[[[[[[[[[[","b":1}', False),  # nor after an escaped quote
        (b'{"a":"\\\\","b":[[[[1]]]]}', True),  # an escaped backslash ends the string
        (b"[[[[1]]]]", True),
        (b"[[[1]]]", False),
    ],
)
def test_depth_scan(body, deeper):
    json.loads(body)  # every case is valid JSON
    assert json_depth_exceeds(body, limit=3) is deeper


UNSTORABLE = [
    ('"\\u0000"', "NUL character"),
    ('"before\\u0000after"', "NUL character"),
    ('"\\ud800"', "lone surrogate"),
    ('"\\udfff tail"', "lone surrogate"),
    ("1e999", "number too large"),
    ("-1e999", "number too large"),
    ("1e300", "number too large"),
    ("9007199254740992.0", "number too large"),  # 2**53: PostgreSQL would read it back as another number
    ("NaN", "not JSON"),
    ("Infinity", "not JSON"),
    ("-Infinity", "not JSON"),
    (str(2**63), "signed 64-bit"),
    (str(-(2**63) - 1), "signed 64-bit"),
    ("1" + "0" * 5000, "signed 64-bit"),
]


@pytest.mark.parametrize(("value", "reason"), UNSTORABLE)
@pytest.mark.parametrize("signed", [True, False])
def test_values_no_database_holds_are_400_signed_or_not(store, client, value, reason, signed):
    body = encode(callback(store)).replace(b'"data":{', b'"data":{"extra":' + value.encode() + b",", 1)
    response = signed_post(client, store, body) if signed else post(client, store, body)
    assert reason in refused(response, 400)["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"scope\\u0000":1}',  # in a key
        b'{"k":{"\\ud83d":true}}',
        b'{"k":"\xed\xa0\x80"}',  # a surrogate encoded in the raw bytes
        b'{"created_at":' + str(2**63).encode() + b"}",
        b'{"data":{"id":' + str(2**64).encode() + b"}}",
    ],
)
def test_unstorable_anywhere_is_400(header_store, client, body):
    refused(post(client, header_store, body, {"X-B2S-Webhook-Secret": HEADER_SECRET}), 400)


def test_a_surrogate_pair_is_fine(store, client):
    payload = callback(store)
    body = encode(payload).replace(b'"data":{', b'"data":{"emoji":"\\ud83d\\ude00",', 1)
    assert signed_post(client, store, body).status_code == 200
    assert WebhookEvent.objects.get().body["data"]["emoji"] == "\U0001f600"


def test_the_largest_64_bit_values_are_stored_and_read_back_alike(store, client):
    payload = callback(store, resource_id=2**63 - 1, created_at=2**63 - 1)
    payload["data"].update(low=-(2**63), floats=[9007199254740991.0, -1.2345678901234567e15, 0.1, 5e-324, -0.0])
    assert signed_post(client, store, encode(payload)).status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.resource_id, event.event_created_at) == (str(2**63 - 1), 2**63 - 1)
    assert event.body == payload


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(scope="store/customer/" + "x" * 100), "'scope' is longer than 100"),
        (lambda p: p.update(hash="a" * 65), "'hash' is longer than 64"),
        (lambda p: p["data"].update(id="9" * 65), "'data.id' is longer than 64"),
        (lambda p: p["data"].update(type="t" * 33), "'data.type' is longer than 32"),
        (lambda p: p["data"].update(orderId="1" * 200), "'data.orderId' is longer than 64"),
        (lambda p: p["data"].update(orderId={"id": 1}), "'data.orderId' must be a number or a string"),
        (lambda p: p["data"].update(address={"customer_id": "7" * 65}), "'data.address.customer_id' is longer"),
    ],
)
def test_signed_values_too_long_for_their_columns_are_400(store, client, change, field):
    payload = callback(store, scope="store/shipment/created")
    change(payload)
    assert field in refused(signed_post(client, store, encode(payload)), 400)["detail"]


def test_created_at_beyond_64_bits_is_refused_by_the_callback_check(store):
    from sync.services.webhooks import CallbackInvalid, callback_parse

    with pytest.raises(CallbackInvalid, match="created_at"):
        callback_parse(callback(store, created_at=2**63), store=store)


# -- header oddities ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"webhook-id": "m", "webhook-timestamp": "9" * 400, "webhook-signature": "v1,abc"},
        {"webhook-id": "m", "webhook-timestamp": "-" + "9" * 4000, "webhook-signature": "v1,abc"},
        {"webhook-id": "\x00", "webhook-timestamp": "\x00", "webhook-signature": "\x00"},
        {"X-BC-Webhook-Signature": "\x00" * 64},
        {"X-BC-Webhook-Signature": "sha256=" + "é" * 64},
        {"X-B2S-Webhook-Secret": "\x00" + HEADER_SECRET},
        {"X-B2S-Webhook-Secret": "ÿ" * 10_000},
    ],
)
def test_odd_authentication_headers_are_401(store, client, headers):
    assert refused(post(client, store, encode(callback(store)), headers), 401) == {"detail": "Authentication failed."}


# gunicorn answers 400 itself to control characters in any header value, so only a server other than
# gunicorn could pass them on; the endpoint copes anyway (where Django itself does: not in Content-Type).
@pytest.mark.parametrize(
    ("extra", "headers"),
    [
        ({}, {"X-Note": "a\x00b", "X-Other": "kept"}),
        ({}, {"Accept": "text/html"}),
        ({}, {"Accept": "application/xml;q=2, */*;q=nonsense"}),
        ({}, {"User-Agent": "ÿ" * 5000}),
        ({"CONTENT_TYPE": "text/plain; charset=no-such-codec"}, {}),
        ({"CONTENT_TYPE": "application/json; charset=latin-1; ÿ=ÿ"}, {}),
    ],
)
def test_signed_delivery_with_odd_other_headers_is_stored(store, client, extra, headers):
    body = encode(callback(store))
    response = signed_post(client, store, body, headers, **extra)
    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get()
    assert not any("\x00" in name or "\x00" in value for name, value in event.headers.items())
    if "X-Other" in headers:
        assert event.headers["X-Other"] == "kept"


@pytest.mark.parametrize(
    ("length", "status"), [("not-a-number", 400), ("1e3", 400), ("-1", 400), ("0", 400), (" 9" * 3, 400)]
)
def test_odd_content_length_is_400(store, client, length, status):
    # Django itself raises reading a body whose length is not a number: refused first, never a 500.
    refused(signed_post(client, store, encode(callback(store)), CONTENT_LENGTH=length), status)


# -- OPTIONS and other methods tell nothing ----------------------------------------------------
def test_options_answers_204_with_allow_and_no_description(header_store, client):
    response = client.options(f"/webhooks/bigcommerce/{header_store.store_hash}/")
    assert response.status_code == 204
    assert set(response["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    assert response.content == b""


@pytest.mark.parametrize("method", ["options", "get", "put", "delete"])
@pytest.mark.parametrize("accept", ["application/json", "text/html", "*/*"])
def test_no_method_reveals_the_view_description(header_store, client, method, accept):
    response = getattr(client, method)(f"/webhooks/bigcommerce/{header_store.store_hash}/", headers={"Accept": accept})
    assert response.status_code in (204, 405)
    text = response.content.decode().lower()
    for phrase in ("csrf", "session", "empty body", "signature", "secret", "description"):
        assert phrase not in text


# -- both URL spellings ------------------------------------------------------------------------
@pytest.mark.parametrize("slash", [True, False])
def test_both_spellings_store_without_a_redirect(store, client, slash):
    body = encode(callback(store))
    response = post(client, store, body, webhook_request_sign(store=store, body=body), slash=slash)
    assert response.status_code == 200
    assert "Location" not in response
    assert WebhookEvent.objects.get().body == json.loads(body)


@pytest.mark.parametrize("slash", [True, False])
def test_both_spellings_refuse_alike(header_store, client, slash):
    body = encode(callback(header_store))
    refused(post(client, header_store, body, {"X-B2S-Webhook-Secret": "wrong"}, slash=slash), 401)
    response = client.post(
        "/webhooks/bigcommerce/nosuchstore" + ("/" if slash else ""), data=body, content_type="application/json"
    )
    assert response.status_code == 404


# -- failed-authentication throttle ------------------------------------------------------------
# A fixed clock: 15 s into a 60 s window, so Retry-After is exactly 45 and the window cannot roll over mid-test.
WINDOW_START = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def throttle(settings):
    settings.WEBHOOK_AUTH_FAILURE_LIMIT = 3
    settings.WEBHOOK_AUTH_FAILURE_WINDOW_SECONDS = 60
    cache.clear()  # the counts of an earlier test in the same frozen window
    with time_machine.travel(WINDOW_START.replace(second=15), tick=False) as traveller:
        yield traveller


def fail(client: Client, store: Store, address: str, body: bytes | None = None, **extra):
    body = encode(callback(store)) if body is None else body
    wrong = {name: value + "x" for name, value in webhook_request_sign(store=store, body=body).items()}
    return post(client, store, body, wrong, REMOTE_ADDR=address, **extra)


def test_failures_from_one_address_are_throttled_then_released(store, client, throttle):
    assert [fail(client, store, "203.0.113.7").status_code for _ in range(3)] == [401, 401, 401]
    response = fail(client, store, "203.0.113.7")
    assert response.status_code == 429
    assert response["Retry-After"] == "45"
    assert response.json() == {"detail": "Too many failed authentications; retry later."}
    # Refused before the body is even parsed: garbage from a throttled address is 429, not 400.
    assert fail(client, store, "203.0.113.7", body=b"[" * 5000).status_code == 429
    # Another address is not affected.
    assert fail(client, store, "203.0.113.8").status_code == 401
    throttle.shift(46)  # the next window
    assert fail(client, store, "203.0.113.7").status_code == 401
    assert WebhookEvent.objects.count() == 0


def test_a_genuine_delivery_from_a_throttled_address_still_passes(store, client, throttle):
    for _ in range(5):
        fail(client, store, "203.0.113.9")
    assert fail(client, store, "203.0.113.9").status_code == 429
    body = encode(callback(store))
    response = signed_post(client, store, body, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert WebhookEvent.objects.get().body == json.loads(body)
    # A genuine but malformed delivery gets its real answer, not 429.
    bad = encode(callback(store, resource_id=33, hash="h" * 65))
    assert signed_post(client, store, bad, REMOTE_ADDR="203.0.113.9").status_code == 400


def test_successes_do_not_count(store, client, throttle):
    for number in range(10):
        body = encode(callback(store, resource_id=number + 1))
        assert signed_post(client, store, body, REMOTE_ADDR="203.0.113.10").status_code == 200
    assert fail(client, store, "203.0.113.10").status_code == 401


def test_forwarded_for_counts_only_with_trusted_proxies(header_store, client, throttle, settings):
    # No trusted proxy: X-Forwarded-For is the client's own claim and cannot dodge the throttle.
    for number in range(4):
        response = fail(client, header_store, "198.51.100.1", HTTP_X_FORWARDED_FOR=f"10.0.0.{number}")
    assert response.status_code == 429
    # One trusted proxy (the peer): the address it appended is the sender.
    settings.WEBHOOK_TRUSTED_PROXY_COUNT = 1
    for _ in range(3):
        fail(client, header_store, "198.51.100.2", HTTP_X_FORWARDED_FOR="spoofed, 192.0.2.1")
    assert fail(client, header_store, "198.51.100.2", HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 429
    assert fail(client, header_store, "198.51.100.2", HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 401


@pytest.mark.parametrize(
    ("meta", "proxies", "address"),
    [
        ({"REMOTE_ADDR": "198.51.100.1", "HTTP_X_FORWARDED_FOR": "192.0.2.1"}, 0, "198.51.100.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "spoof, 192.0.2.1"}, 1, "192.0.2.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "spoof, 192.0.2.1, 10.0.0.2"}, 2, "192.0.2.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": " , "}, 1, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1"}, 1, "10.0.0.1"),
        ({}, 0, ""),
    ],
)
def test_request_source_address(meta, proxies, address):
    assert request_source_address(meta=meta, trusted_proxies=proxies) == address


def test_a_cache_outage_never_refuses_and_never_500s(store, client, settings):
    settings.WEBHOOK_AUTH_FAILURE_LIMIT = 1
    # A cache nobody listens on: the throttle fails open, the refusal stands without its count.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    for _ in range(3):
        assert fail(client, store, "203.0.113.11").status_code == 401
    assert signed_post(client, store, encode(callback(store)), REMOTE_ADDR="203.0.113.11").status_code == 200
