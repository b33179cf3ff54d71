"""The webhook inbox: receive (authenticate, store, queue) and process (lock, dispatch, retry).

Receiving answers in milliseconds and does no Salesforce work: the event row is the
durable record, the queue message only a nudge. Processing is idempotent: every run
first *claims* the event with a conditional UPDATE, so a message delivered twice, a
retry and a sweep re-queue never run one event twice at once.

Per-resource exclusion (two deliveries about one order must never create two
Accounts or Orders) uses a lease, not a transaction held across network calls: an
event in ``processing`` whose ``started_at`` is younger than ``WEBHOOK_STALE_SECONDS``
holds the lease of its resources (``event_lock_keys``). Claiming and finishing happen in
short transactions serialised on the resource's ``ResourceLock`` row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions already
serialise writers). A claim that finds the resource busy leaves the event waiting,
and the finishing event hands the resource on by queueing the waiters. A worker that
dies mid-task leaves a lease that expires; the periodic sweep re-queues it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import hashlib
import hmac
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
import standardwebhooks
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.datastructures import CaseInsensitiveMapping
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

from b2s.logging import redact, secret_register
from sync.bigcommerce import BigCommerceError, bigcommerce_calls_counted
from sync.handlers import (
    BIGCOMMERCE_SCOPE_PREFIX,
    BatchOutcome,
    EventRefused,
    Handler,
    HandlerResult,
    SkipEvent,
    batch_handler_for,
    handler_for,
    handlers_load,
    scope_operation,
)
from sync.models import ResourceLock, Store, WebhookEvent
from sync.outcomes import sync_outcome_record
from sync.rules import GUARD_AUTO
from sync.salesforce import SalesforceError, salesforce_calls_counted, salesforce_truncations_collected
from sync.selectors import (
    AUTH_FAILURES_KEY,
    store_active_get,
    webhook_events_running,
    webhook_events_stranded,
    webhook_events_waiting,
)
from sync.services.intake import Reason as Rejection
from sync.services.intake import intake_rejection_count
from sync.services.usage import api_budget_probe
from sync.usage import api_budget_status

logger = logging.getLogger(__name__)

PROCESS_TASK = "sync.tasks.webhook_event_process_task"
DRAIN_TASK = "sync.tasks.webhook_events_drain_task"
DRAIN_POLL_SECONDS = 0.1  # how often a lingering drain looks at the inbox
STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 5 * 60
STANDARD_WEBHOOKS_SIGNATURES_MAX = 10  # v1 entries checked per delivery (key rotation needs two)
# Headers never stored: credentials, signatures, and the store's own secret header.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-auth-token", "webhook-signature", "x-bc-webhook-signature"}
)
HEADER_VALUE_MAX = 500
HEADERS_MAX = 50
ERROR_MESSAGE_MAX = 2000
SWEEP_BATCH = 500
WAITERS_BATCH = 200
Status = WebhookEvent.Status


# ---------------------------------------------------------------------------------------------
# Receiving
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceiveResult:
    """How the endpoint answers, and what happened."""

    status_code: int
    detail: str = ""
    event_id: int | None = None
    duplicate: bool = False
    ignored: bool = False
    retry_after: int = 0  # seconds, for a 429


@dataclass(frozen=True)
class Callback:
    """The validated envelope of one callback."""

    scope: str
    resource_type: str
    resource_id: str
    hash: str
    created_at: int


class CallbackInvalid(ValueError):
    """The callback misses a field or carries a wrong one; the message names it."""


class BodyInvalid(ValueError):
    """The body cannot be taken as a callback (not JSON, too deep, values no column can hold); the message says why."""


def _standard_webhooks_key(key: str) -> bytes:
    # Standard Webhooks secrets may be written "whsec_<base64>"; anything else is the raw key
    # (BigCommerce signs with the app's client secret as it is).
    if key.startswith("whsec_"):
        try:
            return base64.b64decode(key[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return key.encode()


def _standard_webhooks_signature(*, key: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The base64 HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}`` (a ``v1,`` signature's value)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(_standard_webhooks_key(key), signed, hashlib.sha256).digest()).decode()


def _legacy_signature(*, key: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of the body (``X-BC-Webhook-Signature``)."""
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def _header_authenticate(store: Store, body: bytes, headers: Mapping[str, str], now: float) -> str:
    secrets = store.webhook_keys_accepted(now=now)
    if not secrets:
        return "no webhook secret configured"
    given = headers.get(store.webhook_header_name)
    if not given:
        return f"header {store.webhook_header_name} missing"
    # Every candidate is compared (no early exit), so timing does not tell which one matched.
    matches = [hmac.compare_digest(given.encode(), secret.encode()) for secret in secrets]
    return "" if any(matches) else "header secret mismatch"


def _standard_webhooks_verify(*, key: str, body: bytes, message_id: str, timestamp: str, signatures: str) -> bool:
    """Whether one ``v1`` signature matches, checked by the official ``standardwebhooks`` package.

    The package computes BigCommerce's documented scheme (base64 HMAC-SHA256 of
    ``{webhook-id}.{webhook-timestamp}.{body}``). What it does differently is handled here: the key
    goes in as bytes (a str would be base64-decoded, but BigCommerce keys with the client secret as
    it is); malformed entries (no comma, bad base64) and non-UTF-8 bodies raise ValueError rather
    than its own error; and one malformed entry would spoil the others, so each entry is checked on
    its own (at most ``STANDARD_WEBHOOKS_SIGNATURES_MAX``).
    """
    entries = [entry for entry in signatures.split() if entry.startswith("v1,")][:STANDARD_WEBHOOKS_SIGNATURES_MAX]
    for entry in entries:
        try:
            standardwebhooks.Webhook(_standard_webhooks_key(key)).verify(
                body,
                {"webhook-id": message_id, "webhook-timestamp": timestamp, "webhook-signature": entry},
                json_parse=False,
            )
        except (WebhookVerificationError, EmptyWebhookSecretError, ValueError):
            continue
        return True
    return False


def _standard_webhooks_authenticate(store: Store, body: bytes, headers: Mapping[str, str], now: float) -> str:
    keys = store.webhook_keys_accepted(now=now)
    if not keys:
        return "no signing key configured"
    message_id = headers.get("webhook-id") or ""
    timestamp = headers.get("webhook-timestamp") or ""
    signatures = headers.get("webhook-signature") or ""
    if not (message_id and timestamp and signatures):
        return "webhook-id, webhook-timestamp or webhook-signature missing"
    # Only canonical integers: the package signs over the number it parsed, the sender over the header
    # as sent; for "0123" or "1e3" the two would differ.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12 and str(int(timestamp)) == timestamp):
        return "webhook-timestamp is not a number"
    # Checked here against the caller's clock too (the package reads the wall clock itself).
    if abs(now - int(timestamp)) > STANDARD_WEBHOOKS_TOLERANCE_SECONDS:
        return "webhook-timestamp outside the tolerance"
    for key in keys:
        if _standard_webhooks_verify(
            key=key, body=body, message_id=message_id, timestamp=timestamp, signatures=signatures
        ):
            return ""
    return "no matching v1 signature"


def _legacy_hmac_authenticate(store: Store, body: bytes, headers: Mapping[str, str], now: float) -> str:
    secrets = store.webhook_keys_accepted(now=now)
    if not secrets:
        return "no webhook secret configured"
    given = (headers.get("X-BC-Webhook-Signature") or "").strip().lower()
    if not given:
        return "X-BC-Webhook-Signature missing"
    given = given.removeprefix("sha256=")
    matches = [
        hmac.compare_digest(given.encode(), _legacy_signature(key=secret, body=body).encode()) for secret in secrets
    ]
    return "" if any(matches) else "signature mismatch"


Authenticator = Callable[[Store, bytes, Mapping[str, str], float], str]
AUTHENTICATORS: dict[str, Authenticator] = {
    Store.WebhookAuth.HEADER: _header_authenticate,
    Store.WebhookAuth.STANDARD_WEBHOOKS: _standard_webhooks_authenticate,
    Store.WebhookAuth.LEGACY_HMAC: _legacy_hmac_authenticate,
}


def webhook_authenticate(*, store: Store, body: bytes, headers: Mapping[str, str], now: float) -> str:
    """ "" when the callback is authentic for the store's mode, else the reason (never a secret)."""
    authenticate = AUTHENTICATORS.get(store.webhook_auth_mode)
    if authenticate is None:
        return f"unknown authentication mode {store.webhook_auth_mode!r}"
    return authenticate(store, body, headers, now)


def _authentication_checked(*, store: Store, body: bytes, headers: Mapping[str, str], now: float) -> str:
    """``webhook_authenticate``, where a header value no authenticator expected is a failure, never a 500."""
    try:
        return webhook_authenticate(store=store, body=body, headers=headers, now=now)
    except (ValueError, TypeError, OverflowError, UnicodeError) as error:  # e.g. a timestamp too big for a float
        return f"malformed authentication headers ({type(error).__name__})"


def request_source_address(*, meta: Mapping[str, str], trusted_proxies: int) -> str:
    """The sender's address: the peer's, or the one the outermost of ``trusted_proxies`` proxies saw.

    Each trusted proxy appends the address it received from to X-Forwarded-For; entries further left
    are the client's own claims and never trusted.
    """
    remote = meta.get("REMOTE_ADDR") or ""
    if trusted_proxies <= 0:
        return remote
    hops = [hop.strip() for hop in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    return hops[-trusted_proxies] if len(hops) >= trusted_proxies else remote


def _source_failures_key(*, source: str, now: float) -> tuple[str, int]:
    """The cache key counting the source's failures in the current fixed window, and seconds left in it."""
    window = max(1, settings.WEBHOOK_AUTH_FAILURE_WINDOW_SECONDS)
    index = int(now // window)
    digest = hashlib.sha256(source.encode("utf-8", "replace")).hexdigest()[:32]  # any address is a safe key
    return f"b2s:webhooks:auth-failures-from:{digest}:{index}", max(1, math.ceil((index + 1) * window - now))


def webhook_source_throttled(*, source: str, now: float) -> int:
    """Seconds until ``source`` may fail authentication again (its Retry-After), 0 when it is not throttled."""
    limit = settings.WEBHOOK_AUTH_FAILURE_LIMIT
    if not source or limit <= 0:
        return 0
    key, retry_after = _source_failures_key(source=source, now=now)
    try:
        failures = int(cache.get(key) or 0)
    except Exception as error:  # fail open: a cache outage must never refuse a genuine delivery
        logger.warning("Could not read the webhook throttle (%s)", type(error).__name__)
        return 0
    return retry_after if failures >= limit else 0


def _cache_count(key: str, *, timeout: int | None) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def _auth_failure_count(*, store: Store, reason: str, source: str = "", now: float | None = None) -> None:
    """Count the failure for the store (for support) and for the sending address (for the throttle)."""
    count: int | str
    try:
        count = _cache_count(AUTH_FAILURES_KEY.format(store_hash=store.store_hash), timeout=None)
        if source:
            key, _ = _source_failures_key(source=source, now=time.time() if now is None else now)
            _cache_count(key, timeout=2 * max(1, settings.WEBHOOK_AUTH_FAILURE_WINDOW_SECONDS))
    except Exception as error:  # the refusal stands without its count; never a 500 for want of a cache
        logger.warning("Could not count a webhook authentication failure (%s)", type(error).__name__)
        count = "?"
    logger.warning(
        "Webhook authentication failed for store %s from %s (%s: %s); %s failures so far",
        store.store_hash,
        source or "an unknown address",
        store.webhook_auth_mode,
        reason,
        count,
    )


def _text_field(container: Mapping[str, Any], name: str, label: str, *, max_length: int) -> str:
    value = container.get(name)
    if value is None or value == "":
        raise CallbackInvalid(f"Invalid callback: '{label}' is missing.")
    if not isinstance(value, str):
        raise CallbackInvalid(f"Invalid callback: '{label}' must be a string.")
    if len(value) > max_length:
        raise CallbackInvalid(f"Invalid callback: '{label}' is longer than {max_length} characters.")
    return value


def callback_parse(payload: dict[str, Any], *, store: Store) -> Callback:
    """Check the callback's fields (see the reference) and that it belongs to ``store``."""
    scope = _text_field(payload, "scope", "scope", max_length=100)
    store_id = payload.get("store_id")
    if store_id is None or store_id == "":
        raise CallbackInvalid("Invalid callback: 'store_id' is missing.")
    if isinstance(store_id, bool) or not isinstance(store_id, str | int) or not str(store_id).isdigit():
        raise CallbackInvalid("Invalid callback: 'store_id' must be a numeric string.")
    data = payload.get("data")
    if data is None:
        raise CallbackInvalid("Invalid callback: 'data' is missing.")
    if not isinstance(data, dict):
        raise CallbackInvalid("Invalid callback: 'data' must be an object.")
    resource_type = _text_field(data, "type", "data.type", max_length=32)
    resource_id = data.get("id")
    if resource_id is None or resource_id == "":
        raise CallbackInvalid("Invalid callback: 'data.id' is missing.")
    if isinstance(resource_id, bool) or not isinstance(resource_id, int | str):
        raise CallbackInvalid("Invalid callback: 'data.id' must be a number or a string.")
    if len(str(resource_id)) > 64:
        raise CallbackInvalid("Invalid callback: 'data.id' is longer than 64 characters.")
    # The resources processing locks on (an order, a customer) must fit the lock's key like data.id does.
    address = data.get("address")
    references = [("data.orderId", data.get("orderId")), ("data.order_id", data.get("order_id"))]
    if isinstance(address, dict):
        references.append(("data.address.customer_id", address.get("customer_id")))
    for label, reference in references:
        if reference is None or reference == "":
            continue
        if isinstance(reference, bool) or not isinstance(reference, int | str):
            raise CallbackInvalid(f"Invalid callback: '{label}' must be a number or a string.")
        if len(str(reference)) > 64:
            raise CallbackInvalid(f"Invalid callback: '{label}' is longer than 64 characters.")
    digest = _text_field(payload, "hash", "hash", max_length=64)
    created_at = payload.get("created_at")
    if created_at is None:
        created_at = 0  # some documented examples omit it
    elif isinstance(created_at, bool) or not isinstance(created_at, int) or not 0 <= created_at <= INT64_MAX:
        raise CallbackInvalid("Invalid callback: 'created_at' must be Unix seconds.")
    producer = payload.get("producer")
    if producer is not None and producer != f"stores/{store.store_hash}":
        raise CallbackInvalid("Invalid callback: 'producer' does not match this store.")
    if store.store_id and str(store_id) != store.store_id:
        raise CallbackInvalid("Invalid callback: 'store_id' does not match this store.")
    return Callback(scope, resource_type, str(resource_id), digest, created_at)


def headers_without_secrets(headers: Mapping[str, str], *, store: Store) -> dict[str, str]:
    """The request headers worth keeping for support, with every credential removed."""
    dropped = SECRET_HEADERS | {store.webhook_header_name.lower()}
    candidates = (store.webhook_secret, store.previous_webhook_secret, store.client_secret, store.access_token)
    secrets = [value for value in candidates if value]
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in dropped or any(secret in value for secret in secrets):
            continue
        if "\x00" in name or "\x00" in value:  # PostgreSQL's JSONB cannot hold it; nothing worth keeping
            continue
        kept[name] = value[:HEADER_VALUE_MAX]
        if len(kept) >= HEADERS_MAX:
            break
    return kept


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT_EXACT_MAX = 2.0**53  # every integer below is exactly a float
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


def _json_constant(name: str) -> Any:
    raise BodyInvalid("The body is not JSON.")  # NaN, Infinity and -Infinity are Python's, not JSON's


def _json_float(text: str) -> float:
    value = float(text)
    # From 2**53 on, PostgreSQL's numeric reads a float back as an integer of other digits (6.2e16 ->
    # 62000000000000000, not the float's exact value) while SQLite keeps the float: refused on both.
    if not math.isfinite(value) or abs(value) >= FLOAT_EXACT_MAX:
        raise BodyInvalid("The body has a number too large to store.")
    return value


def _json_int(text: str) -> int:
    # 20 characters hold every signed 64-bit integer; longer digit runs are refused before int() works on them.
    value = int(text) if len(text) <= 20 else INT64_MAX + 1
    if not INT64_MIN <= value <= INT64_MAX:
        raise BodyInvalid("The body has an integer outside the signed 64-bit range.")
    return value


def json_depth_exceeds(body: bytes, *, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit``: a scan of the brackets outside strings, before parsing.

    Linear and without recursion, so a body of a thousand ``[`` costs nothing. On an invalid body (an
    unterminated string) it may count brackets inside text; such a body is refused anyway.
    """
    depth = 0
    for byte in _JSON_STRING.sub(b'""', body).translate(None, _NOT_BRACKETS):
        if byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _text_unstorable(text: str) -> str:
    if "\x00" in text:
        return "The body has a NUL character, which cannot be stored."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "The body has a lone surrogate, which is not valid Unicode."
    return ""


def json_unstorable(value: Any) -> str:
    """Why the parsed JSON cannot be stored the same on every database, or "" (keys and strings, iteratively)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if reason := _text_unstorable(key):
                    return reason
                pending.append(child)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and (reason := _text_unstorable(item)):
            return reason
    return ""


def webhook_body_parse(*, body: bytes) -> dict[str, Any]:
    """The body as a JSON object, bounded before any work; ``BodyInvalid`` (a clear 400) otherwise.

    Refused: nesting deeper than ``WEBHOOK_MAX_JSON_DEPTH``, invalid JSON or UTF-8, NaN and Infinity,
    floats of 2**53 or more (``1e999``), integers outside signed 64-bit, NUL characters and lone
    surrogates (PostgreSQL's JSONB refuses both; refusing them everywhere keeps SQLite the same).
    """
    if json_depth_exceeds(body, limit=settings.WEBHOOK_MAX_JSON_DEPTH):
        raise BodyInvalid(f"The body nests deeper than {settings.WEBHOOK_MAX_JSON_DEPTH} levels.")
    try:
        payload = json.loads(body, parse_constant=_json_constant, parse_float=_json_float, parse_int=_json_int)
    except BodyInvalid:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise BodyInvalid("The body is not JSON.") from error
    if not isinstance(payload, dict):
        raise BodyInvalid("The body is not a JSON object.")
    if reason := json_unstorable(payload):
        raise BodyInvalid(reason)
    return payload


def _refused(result: ReceiveResult, *, reason: str, store: Store | None = None, store_hash: str = "") -> ReceiveResult:
    """Count a refusal for the dashboard (per store, reason and minute) and return it unchanged."""
    intake_rejection_count(store_hash=store.store_hash if store is not None else store_hash, reason=reason)
    return result


def webhook_event_receive(
    *, store_hash: str, body: bytes, headers: Mapping[str, str], store: Store | None = None, source: str = ""
) -> ReceiveResult:
    """Authenticate, validate, store and queue one callback; the endpoint answers with the result.

    ``store`` may be passed when the caller already looked it up by ``store_hash``; ``source`` is the
    sender's address, for the failed-authentication throttle. Refusals store and queue nothing. A
    duplicate delivery (same store, scope, hash and ``created_at``) answers 200 and changes nothing.
    """
    if not isinstance(headers, CaseInsensitiveMapping):
        headers = CaseInsensitiveMapping(dict(headers))
    if store is None or store.store_hash != store_hash or not store.is_active:
        store = store_active_get(store_hash=store_hash)
    if store is None:
        return _refused(ReceiveResult(404, "Unknown store."), store_hash="", reason=Rejection.UNKNOWN_STORE)
    if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        return _refused(ReceiveResult(413, "The body is too large."), store=store, reason=Rejection.BAD_REQUEST)
    for secret in (store.webhook_secret, store.previous_webhook_secret, store.client_secret):
        secret_register(secret)  # masked should it ever reach a log line
    now = time.time()
    reason: str | None = None
    if retry_after := webhook_source_throttled(source=source, now=now):
        # A throttled address still gets a genuine delivery through: authentication (an HMAC or a compare
        # over the raw bytes) comes first, and only a failure is refused, before any parsing.
        reason = _authentication_checked(store=store, body=body, headers=headers, now=now)
        if reason:
            _auth_failure_count(store=store, reason=reason, source=source, now=now)
            refusal = ReceiveResult(429, "Too many failed authentications; retry later.", retry_after=retry_after)
            return _refused(refusal, store=store, reason=Rejection.AUTHENTICATION)
    try:
        payload = webhook_body_parse(body=body)
    except BodyInvalid as error:
        return _refused(ReceiveResult(400, str(error)), store=store, reason=Rejection.BAD_REQUEST)
    if reason is None:
        reason = _authentication_checked(store=store, body=body, headers=headers, now=now)
    if reason:
        _auth_failure_count(store=store, reason=reason, source=source, now=now)
        return _refused(ReceiveResult(401, "Authentication failed."), store=store, reason=Rejection.AUTHENTICATION)
    try:
        callback = callback_parse(payload, store=store)
    except CallbackInvalid as error:
        return _refused(ReceiveResult(400, str(error)), store=store, reason=Rejection.BAD_REQUEST)
    # A delivery naming one of b2s's own scopes (the write-back's) is stored as ignored, never run.
    handled = callback.scope.startswith(BIGCOMMERCE_SCOPE_PREFIX) and handler_for(callback.scope) is not None
    try:
        # One insert is the whole of accepting: the row is the queue entry (workers claim pending rows). In
        # autocommit (a request) it commits by itself, without a BEGIN and COMMIT round trip of its own; inside
        # a caller's transaction a savepoint keeps a duplicate's IntegrityError from breaking that transaction.
        with transaction.atomic() if transaction.get_connection().in_atomic_block else contextlib.nullcontext():
            event = WebhookEvent.objects.create(
                store=store,
                scope=callback.scope,
                resource_type=callback.resource_type,
                resource_id=callback.resource_id,
                hash=callback.hash,
                event_created_at=callback.created_at,
                body=payload,
                headers=headers_without_secrets(headers, store=store),
                status=Status.PENDING if handled else Status.IGNORED,
            )
    except IntegrityError:
        # The unique constraint decides races between two deliveries of one event.
        if WebhookEvent.objects.filter(
            store=store, scope=callback.scope, hash=callback.hash, event_created_at=callback.created_at
        ).exists():
            logger.info("Duplicate delivery of %s %s for store %s", callback.scope, callback.hash, store.store_hash)
            return ReceiveResult(200, duplicate=True)
        raise
    if handled:
        transaction.on_commit(inbox_doorbell_ring)
    return ReceiveResult(200, event_id=event.pk, ignored=not handled)


def webhook_payload_build(
    *,
    store: Store,
    scope: str,
    resource_id: int | str,
    extra: dict[str, Any] | None = None,
    created_at: int | None = None,
) -> dict[str, Any]:
    """A callback body exactly as BigCommerce sends it (``hash`` = SHA-1 of the JSON-encoded ``data``)."""
    resource_type = scope.split("/")[1] if scope.count("/") >= 2 else "unknown"
    data: dict[str, Any] = {"type": resource_type, "id": resource_id, **(extra or {})}
    return {
        "scope": scope,
        "store_id": store.store_id or "0",
        "data": data,
        "hash": hashlib.sha1(json.dumps(data, separators=(",", ":")).encode()).hexdigest(),  # noqa: S324 (not security)
        "created_at": int(time.time()) if created_at is None else created_at,
        "producer": f"stores/{store.store_hash}",
    }


def webhook_request_sign(*, store: Store, body: bytes, now: int | None = None, message_id: str = "") -> dict[str, str]:
    """The headers BigCommerce would send with ``body`` for the store's authentication mode."""
    mode = store.webhook_auth_mode
    if mode == Store.WebhookAuth.HEADER:
        return {store.webhook_header_name: store.webhook_secret}
    if mode == Store.WebhookAuth.STANDARD_WEBHOOKS:
        timestamp = str(int(time.time()) if now is None else now)
        message_id = message_id or f"msg_{hashlib.sha256(body + timestamp.encode()).hexdigest()[:24]}"
        signature = _standard_webhooks_signature(
            key=store.webhook_signing_key, message_id=message_id, timestamp=timestamp, body=body
        )
        return {"webhook-id": message_id, "webhook-timestamp": timestamp, "webhook-signature": "v1," + signature}
    return {"X-BC-Webhook-Signature": _legacy_signature(key=store.webhook_signing_key, body=body)}


# ---------------------------------------------------------------------------------------------
# Queueing
# ---------------------------------------------------------------------------------------------
def _queue_put(func: str, *args: Any, task_name: str) -> None:
    """One django-q2 task on the queue."""
    from django_q.conf import Conf
    from django_q.tasks import async_task

    if Conf.ORM:
        # The ORM broker closes "old" connections before each enqueue unless it runs inside a
        # transaction; in a web request that means reconnecting (and on SQLite a WAL checkpoint)
        # for every enqueue. One short transaction around the queue row keeps the connection.
        with transaction.atomic(using=Conf.ORM):
            async_task(func, *args, task_name=task_name, group="webhook-events")
        return
    async_task(func, *args, task_name=task_name, group="webhook-events")


def _task_enqueue(event_id: int) -> None:
    _queue_put(PROCESS_TASK, event_id, task_name=f"webhook-event-{event_id}")


# Whether this context runs a drain (which finds the next work itself, without ringing).
_draining: contextvars.ContextVar[bool] = contextvars.ContextVar("b2s_inbox_draining", default=False)
# When this process last queued a drain (time.monotonic()); -inf: never.
_doorbell = {"rung_at": -math.inf}
_doorbell_lock = threading.Lock()


def inbox_doorbell_ring(*, force: bool = False) -> None:
    """Wake a worker to drain the inbox: at most one drain task per ``WEBHOOK_DOORBELL_SECONDS`` per process.

    Nothing is lost between rings: a drain keeps looking at the inbox until it has found nothing for
    ``WEBHOOK_DRAIN_LINGER_SECONDS`` (at least the doorbell interval), so an event stored within the
    interval after a ring is claimed by the drain that ring queued. ``force`` rings regardless (a drain
    handing over to a fresh task, a replay). If the queue cannot take the task, the next event rings
    again, and the sweep rings for events left pending.
    """
    now = time.monotonic()
    with _doorbell_lock:
        if not force and now - _doorbell["rung_at"] < settings.WEBHOOK_DOORBELL_SECONDS:
            return
        _doorbell["rung_at"] = now
    try:
        _drain_enqueue()
    except Exception as error:  # the event rows are the durable record; the next ring or the sweep recovers
        _doorbell["rung_at"] = -math.inf
        logger.error("Could not queue an inbox drain (%s); the sweep will", type(error).__name__)


def inbox_doorbell_reset() -> None:
    """Forget this process's last ring (a test starting from a fresh process's state)."""
    with _doorbell_lock:
        _doorbell["rung_at"] = -math.inf


def _drain_enqueue() -> None:
    _queue_put(DRAIN_TASK, task_name="webhook-events-drain")


def webhook_event_enqueue(*, event_id: int) -> None:
    """Queue processing of the event once the current transaction commits.

    If the queue cannot take it, the event stays ``pending`` and the sweep queues it later.
    """

    def enqueue() -> None:
        try:
            _task_enqueue(event_id)
        except Exception as error:  # the event row is the durable record; the sweep recovers
            logger.error("Could not queue webhook event %s (%s); the sweep will", event_id, type(error).__name__)

    transaction.on_commit(enqueue)


def _retry_schedule(*, event_id: int, attempt: int, due: datetime) -> None:
    """Run the event again at ``due``: at once when due now, else as a one-off django-q2 schedule."""
    if (due - timezone.now()).total_seconds() <= 0.5:
        webhook_event_enqueue(event_id=event_id)
        return

    def schedule_once() -> None:
        from django_q.models import Schedule
        from django_q.tasks import schedule

        try:
            schedule(
                PROCESS_TASK,
                event_id,
                name=f"b2s retry: webhook event {event_id} attempt {attempt + 1}",
                schedule_type=Schedule.ONCE,
                next_run=due,
            )
        except (IntegrityError, DatabaseError) as error:  # the sweep retries failed events that are due anyway
            logger.warning("Could not schedule the retry of event %s (%s)", event_id, type(error).__name__)

    transaction.on_commit(schedule_once)


def webhook_events_replay(*, events: QuerySet) -> int:
    """Reset the events to ``pending`` (attempts from zero) and ring for a drain; returns how many.

    Events being processed right now (a live lease) are left alone, and so are those whose body the
    retention emptied (``sync.services.retention``): there is nothing left to replay.
    """
    now = timezone.now()
    live = Q(status=Status.PROCESSING, started_at__gte=now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS))
    ids = list(events.exclude(live).filter(body_purged_at__isnull=True).values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        count = WebhookEvent.objects.filter(pk__in=ids).update(
            status=Status.PENDING,
            attempts=0,
            next_attempt_at=None,
            started_at=None,
            finished_at=None,
        )
        transaction.on_commit(lambda: inbox_doorbell_ring(force=True))
    logger.info("Replaying %s webhook event(s)", count)
    return count


# ---------------------------------------------------------------------------------------------
# Processing
# ---------------------------------------------------------------------------------------------
# Longer keys are stored as a prefix plus a digest: a resource id taken from a body (a shipment's
# orderId, an address's customer_id) may be of any length, and the lock row must still be creatable.
_resource_key_length = ResourceLock._meta.get_field("resource_key").max_length
if _resource_key_length is None:  # a CharField always has one; the bound below is taken from it
    raise RuntimeError("ResourceLock.resource_key needs a max_length")
LOCK_KEY_MAX: int = _resource_key_length
_LOCK_KEY_DIGEST = 64  # sha256 in hex


def lock_key_bound(raw: str) -> str:
    """``raw`` when the lock column can hold it, else a printable prefix plus its sha256 (still unique)."""
    if len(raw) <= LOCK_KEY_MAX and raw.isprintable():
        return raw
    # NUL and lone surrogates are not storable text: hashed (surrogatepass keeps them distinct), never kept.
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    prefix = "".join(char for char in raw[: LOCK_KEY_MAX - _LOCK_KEY_DIGEST - 1] if char.isprintable())
    return f"{prefix}#{digest}"


def event_lock_keys(event: WebhookEvent) -> tuple[str, ...]:
    """The resources an event changes: events sharing a key never run at the same time.

    Shipments and refunds change their order, address events their customer. A cart's conversion
    changes its cart and its order's customer (both close or convert the cart's Lead), so it holds
    the cart and the order. Every key fits the ``ResourceLock`` column (``lock_key_bound``).
    """
    data = (event.body or {}).get("data") if isinstance(event.body, dict) else None
    data = data if isinstance(data, dict) else {}
    own = lock_key_bound(f"{event.resource_type}:{event.resource_id}")
    if event.scope.startswith("store/shipment/") and data.get("orderId"):
        return (lock_key_bound(f"order:{data['orderId']}"),)
    sku = data.get("sku")
    if event.scope.startswith("store/sku/") and isinstance(sku, dict) and sku.get("product_id"):
        return (lock_key_bound(f"product:{sku['product_id']}"),)  # a SKU event rewrites its product's records
    address = data.get("address")
    if isinstance(address, dict) and address.get("customer_id"):
        return (lock_key_bound(f"customer:{address['customer_id']}"),)
    if event.scope == "store/cart/converted" and data.get("orderId"):
        return (own, lock_key_bound(f"order:{data['orderId']}"))
    return (own,)


def _lock_rows(*, wanted: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """The ResourceLock rows' ids by (store id, key), created when missing (the unique constraint settles races)."""
    if not wanted:
        return {}

    def existing() -> dict[tuple[int, str], int]:
        rows = ResourceLock.objects.filter(
            store_id__in={store_id for store_id, _ in wanted}, resource_key__in={key for _, key in wanted}
        ).values_list("store_id", "resource_key", "pk")
        return {(store_id, key): pk for store_id, key, pk in rows if (store_id, key) in wanted}

    found = existing()
    if len(found) < len(wanted):
        missing = [ResourceLock(store_id=store_id, resource_key=key) for store_id, key in wanted - set(found)]
        with transaction.atomic():  # a savepoint: a refused row (a key too long) leaves the caller's transaction usable
            ResourceLock.objects.bulk_create(missing, ignore_conflicts=True)
        found = existing()
    return found


def _lock_hold(lock_ids: tuple[int, ...]) -> None:
    """Inside a transaction: wait for, then hold, the resources' row locks until commit (in id order,
    so two events sharing two resources cannot deadlock)."""
    rows = ResourceLock.objects.select_for_update().filter(pk__in=lock_ids).order_by("pk")
    list(rows.values_list("pk", flat=True))


def _resource_busy(*, event: WebhookEvent, keys: tuple[str, ...], now: datetime) -> bool:
    since = now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS)
    running = webhook_events_running(store_id=event.store_id, since=since, exclude_id=event.pk)
    fields = ("id", "scope", "body", "resource_type", "resource_id")
    return any(set(event_lock_keys(other)) & set(keys) for other in running.only(*fields))


@dataclass
class _Claim:
    event: WebhookEvent
    keys: tuple[str, ...]
    lock_ids: tuple[int, ...]


def _claimable(now: datetime) -> Q:
    stale = now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS)
    return (
        Q(status=Status.PENDING)
        | Q(status=Status.FAILED, next_attempt_at__lte=now)
        | Q(status=Status.PROCESSING, started_at__lt=stale)
    )


def _event_claim(event_id: int) -> _Claim | None:
    """Take the event for this worker, or None (finished, running elsewhere, not due, its resource is busy,
    or the API-budget guard pauses Salesforce writes)."""
    if salesforce_writes_paused():
        return None
    event = WebhookEvent.objects.select_related("store").filter(pk=event_id).first()
    if event is None or event.status not in (Status.PENDING, Status.FAILED, Status.PROCESSING):
        return None
    keys = event_lock_keys(event)
    lock_ids = tuple(sorted(_lock_rows(wanted={(event.store_id, key) for key in keys}).values()))
    expired = 0
    with transaction.atomic():
        _lock_hold(lock_ids)
        now = timezone.now()
        claimable = WebhookEvent.objects.filter(_claimable(now), pk=event_id)
        current = claimable.values_list("status", "attempts").first()
        if current is None:
            return None
        status, attempts = current
        if status == Status.PROCESSING and attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            # Every attempt's worker died or timed out (the event may be what kills it): no more takeovers.
            expired = claimable.filter(attempts=attempts).update(
                status=Status.DEAD, finished_at=now, next_attempt_at=None, **_error_fields(LEASE_EXPIRED)
            )
        elif _resource_busy(event=event, keys=keys, now=now):
            # Wait: the event holding the resource queues this one when it finishes; the
            # re-queue time keeps the sweep from queueing it again meanwhile.
            WebhookEvent.objects.filter(pk=event_id, status=Status.PENDING).update(
                next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_REQUEUE_SECONDS)
            )
            logger.info("Event %s waits: resource %s is being processed", event_id, ", ".join(keys))
            return None
        else:
            claimable.update(
                status=Status.PROCESSING,
                started_at=now,
                finished_at=None,
                next_attempt_at=None,
                attempts=F("attempts") + 1,
            )
    event.refresh_from_db()
    claim = _Claim(event, keys, lock_ids)
    if expired:
        logger.warning("Event %s is dead: its lease expired on each of %s attempts", event.pk, event.attempts)
        _waiters_release(claim)
        _failure_audit(event, LEASE_EXPIRED, status=Status.DEAD, due=None, stage="lease")
        return None
    return claim


@dataclass(frozen=True)
class ErrorInfo:
    """A failure, classified."""

    type: str
    message: str
    code: str
    transient: bool
    retry_after_seconds: float | None = None


def _storable(text: str) -> str:
    """Text every database column can hold: an exception may quote a body's NUL or lone surrogate."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def error_classify(error: BaseException) -> ErrorInfo:
    """Transient (retry later) or permanent (fix first), with the code worth showing."""
    message = _storable(redact(str(error) or type(error).__name__))[:ERROR_MESSAGE_MAX]
    name = type(error).__name__
    if isinstance(error, SalesforceError):
        return ErrorInfo(name, message, error.code, error.transient)
    if isinstance(error, BigCommerceError):
        code = f"HTTP_{error.status}" if error.status else "NETWORK_ERROR"
        return ErrorInfo(name, message, code, error.transient, error.retry_after_seconds)
    if isinstance(error, requests.RequestException):
        return ErrorInfo(name, message, "NETWORK_ERROR", True)
    if isinstance(error, OperationalError):  # e.g. "database is locked", a dropped connection
        return ErrorInfo(name, message, "DATABASE", True)
    if isinstance(error, EventRefused):
        return ErrorInfo(name, message, error.code, False)
    return ErrorInfo(name, message, "", False)


# The worker running the event died or timed out on every attempt (recorded when the lease is taken over).
LEASE_EXPIRED = ErrorInfo(
    "LeaseExpired", "The worker stopped (killed or timed out) before the event finished", "LEASE_EXPIRED", True
)


def _error_fields(failure: ErrorInfo) -> dict[str, str]:
    return {
        "last_error_type": failure.type[:100],
        "last_error_message": failure.message,
        "last_error_code": failure.code[:100],
    }


def failure_outcome(failure: ErrorInfo, *, attempts: int, now: datetime) -> tuple[str, datetime | None]:
    """The status after a failed attempt, and when to retry: transient failures until attempts run out."""
    if failure.transient and attempts < settings.WEBHOOK_MAX_ATTEMPTS:
        delay = retry_delay_seconds(attempt=attempts, retry_after_seconds=failure.retry_after_seconds)
        return Status.FAILED, now + timedelta(seconds=delay)
    return (Status.DEAD if failure.transient else Status.FAILED), None


def retry_delay_seconds(*, attempt: int, retry_after_seconds: float | None = None) -> float:
    """Exponential backoff with jitter for the retry after ``attempt``; at least BigCommerce's reset time."""
    base = float(settings.WEBHOOK_RETRY_BASE_SECONDS)
    ceiling = float(settings.WEBHOOK_RETRY_MAX_SECONDS)
    delay: float = min(ceiling, base * (2 ** max(0, attempt - 1)))
    # "Equal jitter": spreads retries of a burst of failures without ever retrying at once.
    delay = delay / 2 + random.uniform(0, delay / 2)
    if retry_after_seconds:
        delay = max(delay, float(retry_after_seconds))
    return delay


def _finish(claim: _Claim, *, fields: dict[str, Any], audit: dict[str, Any] | None) -> None:
    _finish_many([(claim, fields, audit)])


def _finish_many(outcomes: list[tuple[_Claim, dict[str, Any], dict[str, Any] | None]]) -> None:
    """Write each event's outcome and its audit entry under its resources' locks (one transaction, so an
    event is never seen finished without its entry), then release the events that waited for them."""
    with transaction.atomic():
        _lock_hold(tuple(sorted({lock_id for claim, _, _ in outcomes for lock_id in claim.lock_ids})))
        for claim, fields, audit in outcomes:
            event = claim.event
            written = WebhookEvent.objects.filter(
                pk=event.pk, status=Status.PROCESSING, started_at=event.started_at
            ).update(**fields)
            if not written:
                logger.warning("Event %s was taken over while this worker ran it (lease expired)", event.pk)
            if fields.get("status") == Status.FAILED and fields.get("next_attempt_at"):
                _retry_schedule(event_id=event.pk, attempt=event.attempts, due=fields["next_attempt_at"])
            if audit is None:
                continue
            try:
                # A savepoint: a failing audit write must not undo the status (or leave the event "processing").
                with transaction.atomic():
                    sync_outcome_record(store=event.store, event=event, attempt=event.attempts, **audit)
            except Exception:
                logger.exception("Could not write the audit entry of event %s", event.pk)
    _waiters_release_many([claim for claim, _, _ in outcomes])
    if not _draining.get() and any(batch_handler_for(claim.event.scope) for claim, _, _ in outcomes):
        # Events of this batch handler that drains left due while this one ran (one batch per store at a
        # time) need a drain now: an event run on its own (a retry, a released waiter) has none behind it,
        # while a drain loops on by itself.
        inbox_doorbell_ring()


def _waiters_release(claim: _Claim) -> None:
    _waiters_release_many([claim])


def _waiters_release_many(claims: list[_Claim]) -> None:
    """Queue the events that waited for these events' resources."""
    now = timezone.now()
    fields = ("id", "scope", "body", "resource_type", "resource_id", "store_id")
    finished = {claim.event.pk for claim in claims}
    for store_id in {claim.event.store_id for claim in claims}:
        keys = {key for claim in claims if claim.event.store_id == store_id for key in claim.keys}
        waiting = webhook_events_waiting(store_id=store_id, now=now, exclude_id=0).exclude(pk__in=finished)
        for other in waiting.only(*fields)[:WAITERS_BATCH]:
            if set(event_lock_keys(other)) & keys:
                _task_enqueue_safely(other.pk)


def _task_enqueue_safely(event_id: int) -> None:
    try:
        _task_enqueue(event_id)
    except Exception as error:  # the sweep recovers
        logger.error("Could not queue webhook event %s (%s)", event_id, type(error).__name__)


# One collector around the handler and the audit entry written after it: values shortened to fit
# Salesforce fields are listed on the event's entry.
@salesforce_truncations_collected()
def webhook_event_process(*, event_id: int) -> None:
    """Run the event's handler once: claim it, sync, and record the outcome (row and audit log).

    Whatever raises — the claim (lock rows, a malformed body), the handler lookup, recording the
    outcome — is a failed attempt like a handler's error: counted, recorded, audited, so no event
    is re-queued for ever.
    """
    handlers_load()
    try:
        claim = _event_claim(event_id)
    except Exception as error:
        _event_fail(event_id=event_id, error=error, claim=None)
        return
    if claim is None:
        return
    try:
        _event_run(claim)
    except Exception as error:
        _event_fail(event_id=event_id, error=error, claim=claim)


def _event_fail(*, event_id: int, error: Exception, claim: _Claim | None) -> None:
    """Record an exception raised outside the handler as a failed attempt (``claim`` None: before the claim).

    The row is updated by id with conditions only, without decoding its body again; an event finished,
    or running under another worker's lease meanwhile, is left alone.
    """
    logger.exception("Processing webhook event %s raised outside its handler", event_id)
    failure = error_classify(error)
    now = timezone.now()
    with transaction.atomic():
        if claim is None:
            rows = WebhookEvent.objects.filter(_claimable(now), pk=event_id)
            counted = rows.values_list("attempts", flat=True).first()
            if counted is None:
                return
            rows, attempts = rows.filter(attempts=counted), counted + 1
        else:
            rows = WebhookEvent.objects.filter(pk=event_id, status=Status.PROCESSING, started_at=claim.event.started_at)
            attempts = claim.event.attempts
        status, due = failure_outcome(failure, attempts=attempts, now=now)
        written = rows.update(
            status=status, attempts=attempts, next_attempt_at=due, finished_at=now, **_error_fields(failure)
        )
        if written and due is not None:
            _retry_schedule(event_id=event_id, attempt=attempts, due=due)
    if not written:
        return
    logger.warning("Event %s attempt %s %s: %s", event_id, attempts, status, failure.message)
    if claim is not None:
        _waiters_release(claim)
    event = WebhookEvent.objects.select_related("store").defer("body", "headers").filter(pk=event_id).first()
    if event is not None:
        stage = "claim" if claim is None else "processing"
        _failure_audit(event, failure, status=status, due=due, stage=stage)


def _failure_audit(event: WebhookEvent, failure: ErrorInfo, *, status: str, due: datetime | None, stage: str) -> None:
    """The audit entry of a failure outside the handler (never raises: the status is already safe)."""
    details: dict[str, Any] = {
        "transient": failure.transient,
        "error_type": failure.type,
        "event_status": status,
        "stage": stage,
    }
    if due is not None:
        details["next_attempt_at"] = due.isoformat()
    try:
        sync_outcome_record(
            operation=scope_operation(event.scope),
            store=event.store,
            event=event,
            attempt=event.attempts,
            bigcommerce_id=event.resource_id,
            status="failed",
            error=failure.message,
            error_code=failure.code,
            details=details,
        )
    except Exception:
        logger.exception("Could not write the audit entry of event %s", event.pk)


def _event_run(claim: _Claim) -> None:
    """Dispatch a claimed event to its handler and record the outcome."""
    event = claim.event
    handler = handler_for(event.scope)
    if handler is None:
        _finish(claim, fields={"status": Status.IGNORED, "finished_at": timezone.now(), "duration_ms": 0}, audit=None)
        return
    started = time.monotonic()
    with salesforce_calls_counted() as salesforce_calls, bigcommerce_calls_counted() as bigcommerce_calls:
        outcome = _handler_outcome(handler, event)
    _outcome_record(
        claim,
        outcome,
        duration_ms=int((time.monotonic() - started) * 1000),
        salesforce_calls=salesforce_calls.count,
        bigcommerce_calls=bigcommerce_calls.count,
    )


def _handler_outcome(handler: Handler, event: WebhookEvent) -> BatchOutcome:
    """The handler's result, or the exception it raised (logged when it is not an API error)."""
    try:
        return handler(event)
    except Exception as error:
        if not isinstance(
            error, SkipEvent | EventRefused | SalesforceError | BigCommerceError | requests.RequestException
        ):
            logger.exception("Handler for event %s (%s) raised", event.pk, event.scope)
        return error


def _outcome_record(
    claim: _Claim, outcome: BatchOutcome, *, duration_ms: int, salesforce_calls: int, bigcommerce_calls: int
) -> None:
    """Record what the handler did (a result, a skip, a failure) on the event row and in the audit log."""
    fields, audit = _outcome_entry(
        claim, outcome, duration_ms=duration_ms, salesforce_calls=salesforce_calls, bigcommerce_calls=bigcommerce_calls
    )
    _finish(claim, fields=fields, audit=audit)


def _outcome_entry(
    claim: _Claim, outcome: BatchOutcome, *, duration_ms: int, salesforce_calls: int, bigcommerce_calls: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event row's fields and the audit entry for what the handler did (a result, a skip, a failure)."""
    event = claim.event
    now = timezone.now
    costs = {
        "duration_ms": duration_ms,
        "salesforce_api_calls": salesforce_calls,
        "bigcommerce_api_calls": bigcommerce_calls,
    }
    finished = {"finished_at": now(), "duration_ms": duration_ms}
    no_error = {"last_error_type": "", "last_error_message": "", "last_error_code": ""}
    if isinstance(outcome, HandlerResult):
        logger.info("Event %s (%s) done in %s ms", event.pk, event.scope, duration_ms)
        return (
            {"status": Status.DONE, **finished, **no_error},
            {
                "operation": outcome.operation,
                "bigcommerce_id": outcome.bigcommerce_id,
                "status": "success",
                "salesforce_ids": outcome.salesforce_ids,
                "details": outcome.details,
                **costs,
            },
        )
    operation = scope_operation(event.scope)
    if isinstance(outcome, SkipEvent):
        skipped = _storable(redact(str(outcome)))[:ERROR_MESSAGE_MAX] or "nothing to do"
        logger.info("Event %s (%s) skipped: %s", event.pk, event.scope, skipped)
        return (
            {
                "status": Status.SKIPPED,
                **finished,
                "last_error_type": "SkipEvent",
                "last_error_message": skipped,
                "last_error_code": "",
            },
            {
                "operation": operation,
                "bigcommerce_id": event.resource_id,
                "status": "skipped",
                "details": {"reason": skipped},
                **costs,
            },
        )
    failure = error_classify(outcome)
    details: dict[str, Any] = {"transient": failure.transient, "error_type": failure.type}
    status, due = failure_outcome(failure, attempts=event.attempts, now=now())
    if due is not None:
        details["next_attempt_at"] = due.isoformat()
    details["event_status"] = status
    logger.warning("Event %s (%s) attempt %s %s: %s", event.pk, event.scope, event.attempts, status, failure.message)
    return (
        {"status": status, **finished, **_error_fields(failure), "next_attempt_at": due},
        {
            "operation": operation,
            "bigcommerce_id": event.resource_id,
            "status": "failed",
            "error": failure.message,
            "error_code": failure.code,
            "details": details,
            **costs,
        },
    )


# ---------------------------------------------------------------------------------------------
# The drain: workers take due events from the inbox in batches
# ---------------------------------------------------------------------------------------------
def _due(now: datetime) -> Q:
    """Events a drain may take: pending (not deferred behind a busy resource) and failed ones due for a retry.

    Events ``processing`` under an expired lease are not here: their takeover is the sweep's (one by one).
    """
    return Q(status=Status.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)) | Q(
        status=Status.FAILED, next_attempt_at__lte=now
    )


def _batch_gather(*, size: int, wait_seconds: float) -> bool:
    """Whether events are due; with fewer than ``size``, first wait until the oldest has waited
    ``wait_seconds`` (a burst then fills the batch, a lone event waits that long at most)."""
    received = list(
        WebhookEvent.objects.filter(_due(timezone.now())).order_by("pk").values_list("received_at", flat=True)[:size]
    )
    if not received:
        return False
    if len(received) < size and wait_seconds > 0:
        delay = (min(received) + timedelta(seconds=wait_seconds) - timezone.now()).total_seconds()
        if delay > 0:
            time.sleep(min(delay, wait_seconds))
    return True


def _batch_claim(*, size: int) -> list[_Claim]:
    """Claim up to ``size`` due events, oldest first, in one transaction.

    The candidates are locked with ``FOR UPDATE SKIP LOCKED``, so drains running side by side take
    different events (on SQLite, where writers take turns, the lock is the database's). The rules are
    the single claim's (``_event_claim``): the resources' lock rows are held while deciding, and an event
    whose resource a running event holds waits for it; events of one batch handler may share a resource,
    since they run in one call. Should the batch's lock step raise, each event is claimed on its own, so
    a claim that raises is that event's failed attempt. (Its caller, the drain, asks the API-budget
    guard first.)
    """
    try:
        with transaction.atomic():
            return _batch_claim_locked(size=size)
    except Exception:
        logger.exception("Claiming a batch failed; claiming its events one by one")
    claims: list[_Claim] = []
    candidates = WebhookEvent.objects.filter(_due(timezone.now())).order_by("pk").values_list("pk", flat=True)
    for event_id in list(candidates[:size]):
        try:
            claim = _event_claim(event_id)
        except Exception as error:
            _event_fail(event_id=event_id, error=error, claim=None)
            continue
        if claim is not None:
            claims.append(claim)
    return claims


def _batch_claim_locked(*, size: int) -> list[_Claim]:
    now = timezone.now()
    candidates = list(
        WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("store")
        .filter(_due(now))
        .order_by("pk")[:size]
    )
    if not candidates:
        return []
    keys = {event.pk: {(event.store_id, key) for key in event_lock_keys(event)} for event in candidates}
    lock_ids = _lock_rows(wanted=set().union(*keys.values()))
    _lock_hold(tuple(sorted(set(lock_ids.values()))))
    since = now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS)
    running = WebhookEvent.objects.filter(
        status=Status.PROCESSING, started_at__gte=since, store_id__in={event.store_id for event in candidates}
    ).only("id", "store_id", "scope", "body", "resource_type", "resource_id")
    running_events = list(running)
    busy = {(other.store_id, key) for other in running_events for key in event_lock_keys(other)}
    # One batch per store and batch handler at a time: the events arriving meanwhile wait (due, unclaimed)
    # and make the next batch larger, and one customer's Account is not written by two batches at once.
    pipelines = {(other.store_id, batch_handler_for(other.scope)) for other in running_events}
    taken: dict[tuple[int, str], Any] = {}  # resource → the batch handler of the event holding it (None: alone)
    chosen: list[WebhookEvent] = []
    deferred: list[int] = []
    for event in candidates:
        batch_handler = batch_handler_for(event.scope)
        if batch_handler is not None and (event.store_id, batch_handler) in pipelines:
            continue
        shared = [key for key in keys[event.pk] if key in taken]
        if keys[event.pk] & busy or any(batch_handler is None or taken[key] is not batch_handler for key in shared):
            deferred.append(event.pk)
            continue
        taken.update(dict.fromkeys(keys[event.pk], batch_handler))
        chosen.append(event)
    if deferred:
        # As a single claim does: the event holding the resource queues these when it finishes.
        WebhookEvent.objects.filter(pk__in=deferred, status=Status.PENDING).update(
            next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_REQUEUE_SECONDS)
        )
    WebhookEvent.objects.filter(pk__in=[event.pk for event in chosen]).update(
        status=Status.PROCESSING, started_at=now, finished_at=None, next_attempt_at=None, attempts=F("attempts") + 1
    )
    claims = []
    for event in chosen:
        event.status, event.started_at, event.finished_at, event.next_attempt_at = Status.PROCESSING, now, None, None
        event.attempts += 1
        event_keys = tuple(key for _store_id, key in sorted(keys[event.pk]))
        claims.append(_Claim(event, event_keys, tuple(sorted(lock_ids[key] for key in keys[event.pk]))))
    return claims


@salesforce_truncations_collected()
def _claim_run(claim: _Claim) -> None:
    """Run one claimed event; whatever raises outside its handler is a failed attempt."""
    try:
        _event_run(claim)
    except Exception as error:
        _event_fail(event_id=claim.event.pk, error=error, claim=claim)


@salesforce_truncations_collected()
def _claims_run_together(batch_handler: Any, claims: list[_Claim]) -> list[_Claim]:
    """Run claimed events of one store through their batch handler; returns those it left to their own handler.

    The requests the call made are shared out among the events it answered, whose outcomes are written
    together. Should the call itself raise, every event runs on its own (and records its own error).
    """
    store = claims[0].event.store
    started = time.monotonic()
    with salesforce_calls_counted() as salesforce_calls, bigcommerce_calls_counted() as bigcommerce_calls:
        try:
            outcomes = batch_handler(store, [claim.event for claim in claims])
        except Exception:
            logger.exception("The batch of %s events failed; running them one by one", len(claims))
            return claims
    answered = [claim for claim in claims if claim.event.pk in outcomes]
    share = max(1, len(answered))
    duration_ms = int((time.monotonic() - started) * 1000)
    entries: list[tuple[_Claim, dict[str, Any], dict[str, Any] | None]] = []
    for claim in answered:
        fields, audit = _outcome_entry(
            claim,
            outcomes[claim.event.pk],
            duration_ms=duration_ms,
            salesforce_calls=round(salesforce_calls.count / share),
            bigcommerce_calls=round(bigcommerce_calls.count / share),
        )
        entries.append((claim, fields, audit))
    try:
        _finish_many(entries)
    except Exception as error:
        for claim in answered:
            _event_fail(event_id=claim.event.pk, error=error, claim=claim)
    return [claim for claim in claims if claim.event.pk not in outcomes]


def _claims_run(claims: list[_Claim]) -> None:
    """Run a batch of claims: events with a batch handler together (per store and handler), the rest one by one."""
    together: dict[tuple[int, Any], list[_Claim]] = {}
    alone: list[_Claim] = []
    for claim in claims:
        batch_handler = batch_handler_for(claim.event.scope)
        if batch_handler is None:
            alone.append(claim)
        else:
            together.setdefault((claim.event.store_id, batch_handler), []).append(claim)
    for (_store_id, batch_handler), group in together.items():
        if len(group) == 1:
            alone.extend(group)  # a lone event costs the same either way; its own handler has the cheap paths
        else:
            alone.extend(_claims_run_together(batch_handler, group))
    for claim in alone:
        _claim_run(claim)


def webhook_events_drain(*, size: int, wait_seconds: float) -> int:
    """Claim and process due events, ``size`` at a time, until none has been due for the linger time.

    Returns how many events it claimed. Started by the doorbell (``inbox_doorbell_ring``); runs at most
    ``WEBHOOK_DRAIN_MAX_SECONDS`` (inside the task timeout), then hands over to a fresh task if work remains.
    """
    handlers_load()
    draining = _draining.set(True)
    try:
        return _drain_loop(size=size, wait_seconds=wait_seconds)
    finally:
        _draining.reset(draining)


def _drain_loop(*, size: int, wait_seconds: float) -> int:
    started = idle_since = time.monotonic()
    claimed = 0
    while True:
        if time.monotonic() - started >= settings.WEBHOOK_DRAIN_MAX_SECONDS:
            if WebhookEvent.objects.filter(_due(timezone.now())).exists():
                inbox_doorbell_ring(force=True)
            return claimed
        claims: list[_Claim] = []
        if _batch_gather(size=size, wait_seconds=wait_seconds):
            if salesforce_writes_paused():
                return claimed  # events wait; the sweep probes the usage and rings when the guard lifts
            claims = _batch_claim(size=size)
        if claims:
            claimed += len(claims)
            _claims_run(claims)
            idle_since = time.monotonic()
            continue
        if time.monotonic() - idle_since >= settings.WEBHOOK_DRAIN_LINGER_SECONDS:
            return claimed
        time.sleep(DRAIN_POLL_SECONDS)


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------
def webhook_events_sweep() -> int:
    """Recover stranded events (see ``webhook_events_stranded``); returns how many it found.

    Run by a django-q2 schedule every minute, so an event whose drain never came (the queue lost the task,
    the worker was killed), whose worker died mid-run (an expired lease: taken over one by one, where the
    lease rules apply) or whose retry is due is still completed.

    While the API-budget guard pauses Salesforce writes, it first refreshes the usage reading
    (``api_budget_probe``: the reading changes only with Salesforce answers, and a paused b2s makes
    none); if the guard lifts, it rings for a drain, otherwise the stranded events wait, unqueued.
    """
    paused = _budget_paused_after_probe()
    now = timezone.now()
    stranded = webhook_events_stranded(
        now=now,
        pending_before=now - timedelta(seconds=settings.WEBHOOK_REQUEUE_SECONDS),
        processing_before=now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS),
    )
    rows = list(stranded.values_list("pk", "status")[:SWEEP_BATCH])
    if paused:
        if rows:
            logger.info("Sweep: %s stranded webhook event(s) wait for the API-budget guard", len(rows))
        return len(rows)
    if any(status != Status.PROCESSING for _pk, status in rows):
        inbox_doorbell_ring(force=True)
    for pk, status in rows:
        if status == Status.PROCESSING:
            _task_enqueue_safely(pk)
    if rows:
        logger.info("Sweep found %s stranded webhook event(s)", len(rows))
    return len(rows)


# ---------------------------------------------------------------------------------------------
# The API-budget guard
# ---------------------------------------------------------------------------------------------
def salesforce_writes_paused() -> bool:
    """Whether the API-budget guard holds the inbox now (``sync.usage.api_budget_status``).

    Every handler writes to Salesforce, so while the guard pauses no event is claimed: each stays as
    it is (pending, or failed awaiting its retry), with no attempt counted, nothing failed or dead.
    Should the status be unreadable, the inbox runs (Salesforce itself refuses calls past the limit).
    """
    try:
        return api_budget_status().paused
    except Exception as error:
        logger.warning("Could not read the API-budget guard (%s); processing goes on", type(error).__name__)
        return False


def _budget_paused_after_probe() -> bool:
    """The sweep's look at the guard: while it pauses on the usage, probe the usage once; ring if it lifted."""
    if not salesforce_writes_paused():
        return False
    if api_budget_status().override != GUARD_AUTO:
        return True  # paused by the admin: no reading lifts it
    try:
        status = api_budget_probe()
    except Exception as error:  # the guard stays; the next sweep probes again
        logger.warning("The API-budget probe failed (%s)", type(error).__name__)
        return True
    if status.paused:
        logger.info("API-budget guard still active: %s", status.reason)
        return True
    logger.info("API-budget guard lifted: %s", status.reason)
    inbox_doorbell_ring(force=True)
    return False
