"""The webhook inbox: receive (authenticate, store, queue) and process (lock, dispatch, retry).

Receiving answers in milliseconds and does no Salesforce work: the event row is the
durable record, the queue message only a nudge. Processing is idempotent: every run
first *claims* the event with a conditional UPDATE, so a message delivered twice, a
retry and a sweep re-queue never run one event twice at once.

Per-resource exclusion (two deliveries about one order must never create two
Accounts or Orders) uses a lease, not a transaction held across network calls: an
event in ``processing`` whose ``started_at`` is younger than ``WEBHOOK_STALE_SECONDS``
holds the lease of its resource (``event_lock_key``). Claiming and finishing happen in
short transactions serialised on the resource's ``ResourceLock`` row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's IMMEDIATE transactions already
serialise writers). A claim that finds the resource busy leaves the event waiting,
and the finishing event hands the resource on by queueing the waiters. A worker that
dies mid-task leaves a lease that expires; the periodic sweep re-queues it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.datastructures import CaseInsensitiveMapping

from b2s.logging import redact, secret_register
from sync.bigcommerce import BigCommerceError, bigcommerce_calls_counted
from sync.handlers import HandlerResult, SkipEvent, handler_for, handlers_load, scope_operation
from sync.models import ResourceLock, Store, WebhookEvent
from sync.salesforce import SalesforceError, salesforce_calls_counted, salesforce_truncations_collected
from sync.selectors import (
    AUTH_FAILURES_KEY,
    store_active_get,
    webhook_events_running,
    webhook_events_stranded,
    webhook_events_waiting,
)

logger = logging.getLogger(__name__)

PROCESS_TASK = "sync.tasks.webhook_event_process_task"
STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 5 * 60
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
    secret = store.webhook_secret
    if not secret:
        return "no webhook secret configured"
    given = headers.get(store.webhook_header_name)
    if not given:
        return f"header {store.webhook_header_name} missing"
    return "" if hmac.compare_digest(given.encode(), secret.encode()) else "header secret mismatch"


def _standard_webhooks_authenticate(store: Store, body: bytes, headers: Mapping[str, str], now: float) -> str:
    key = store.webhook_signing_key
    if not key:
        return "no signing key configured"
    message_id = headers.get("webhook-id") or ""
    timestamp = headers.get("webhook-timestamp") or ""
    signatures = headers.get("webhook-signature") or ""
    if not (message_id and timestamp and signatures):
        return "webhook-id, webhook-timestamp or webhook-signature missing"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "webhook-timestamp is not a number"
    if abs(now - sent_at) > STANDARD_WEBHOOKS_TOLERANCE_SECONDS:
        return "webhook-timestamp outside the tolerance"
    expected = _standard_webhooks_signature(key=key, message_id=message_id, timestamp=timestamp, body=body)
    for entry in signatures.split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
            return ""
    return "no matching v1 signature"


def _legacy_hmac_authenticate(store: Store, body: bytes, headers: Mapping[str, str], now: float) -> str:
    secret = store.webhook_signing_key
    if not secret:
        return "no webhook secret configured"
    given = (headers.get("X-BC-Webhook-Signature") or "").strip().lower()
    if not given:
        return "X-BC-Webhook-Signature missing"
    given = given.removeprefix("sha256=")
    expected = _legacy_signature(key=secret, body=body)
    return "" if hmac.compare_digest(given.encode(), expected.encode()) else "signature mismatch"


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


def _auth_failure_count(*, store: Store, reason: str) -> None:
    key = AUTH_FAILURES_KEY.format(store_hash=store.store_hash)
    cache.add(key, 0, timeout=None)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=None)
        count = 1
    logger.warning(
        "Webhook authentication failed for store %s (%s: %s); %s failures so far",
        store.store_hash,
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
    digest = _text_field(payload, "hash", "hash", max_length=64)
    created_at = payload.get("created_at")
    if created_at is None:
        created_at = 0  # some documented examples omit it
    elif isinstance(created_at, bool) or not isinstance(created_at, int) or created_at < 0:
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
    secrets = [value for value in (store.webhook_secret, store.client_secret, store.access_token) if value]
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in dropped or any(secret in value for secret in secrets):
            continue
        kept[name] = value[:HEADER_VALUE_MAX]
        if len(kept) >= HEADERS_MAX:
            break
    return kept


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def webhook_event_receive(
    *, store_hash: str, body: bytes, headers: Mapping[str, str], store: Store | None = None
) -> ReceiveResult:
    """Authenticate, validate, store and queue one callback; the endpoint answers with the result.

    ``store`` may be passed when the caller already looked it up by ``store_hash``.
    Refusals store and queue nothing. A duplicate delivery (same store, scope, hash and
    ``created_at``) answers 200 and changes nothing.
    """
    if not isinstance(headers, CaseInsensitiveMapping):
        headers = CaseInsensitiveMapping(dict(headers))
    if store is None or store.store_hash != store_hash or not store.is_active:
        store = store_active_get(store_hash=store_hash)
    if store is None:
        return ReceiveResult(404, "Unknown store.")
    if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
        return ReceiveResult(413, "The body is too large.")
    try:
        payload = json.loads(body, parse_constant=_json_constant)
    except (ValueError, UnicodeDecodeError):
        return ReceiveResult(400, "The body is not JSON.")
    if not isinstance(payload, dict):
        return ReceiveResult(400, "The body is not a JSON object.")
    for secret in (store.webhook_secret, store.client_secret):
        secret_register(secret)  # masked should it ever reach a log line
    reason = webhook_authenticate(store=store, body=body, headers=headers, now=time.time())
    if reason:
        _auth_failure_count(store=store, reason=reason)
        return ReceiveResult(401, "Authentication failed.")
    try:
        callback = callback_parse(payload, store=store)
    except CallbackInvalid as error:
        return ReceiveResult(400, str(error))
    handled = handler_for(callback.scope) is not None
    try:
        with transaction.atomic():
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
            if handled:
                webhook_event_enqueue(event_id=event.pk)
    except IntegrityError:
        # The unique constraint decides races between two deliveries of one event.
        if WebhookEvent.objects.filter(
            store=store, scope=callback.scope, hash=callback.hash, event_created_at=callback.created_at
        ).exists():
            logger.info("Duplicate delivery of %s %s for store %s", callback.scope, callback.hash, store.store_hash)
            return ReceiveResult(200, duplicate=True)
        raise
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
def _task_enqueue(event_id: int) -> None:
    from django_q.conf import Conf
    from django_q.tasks import async_task

    if Conf.ORM:
        # The ORM broker closes "old" connections before each enqueue unless it runs inside a
        # transaction; in a web request that means reconnecting (and on SQLite a WAL checkpoint)
        # for every webhook. One short transaction around the queue row keeps the connection.
        with transaction.atomic(using=Conf.ORM):
            async_task(PROCESS_TASK, event_id, task_name=f"webhook-event-{event_id}", group="webhook-events")
        return
    async_task(PROCESS_TASK, event_id, task_name=f"webhook-event-{event_id}", group="webhook-events")


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
    """Reset the events to ``pending`` (attempts from zero) and queue them; returns how many.

    Events being processed right now (a live lease) are left alone.
    """
    now = timezone.now()
    live = Q(status=Status.PROCESSING, started_at__gte=now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS))
    ids = list(events.exclude(live).values_list("pk", flat=True))
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
        for event_id in ids:
            webhook_event_enqueue(event_id=event_id)
    logger.info("Replaying %s webhook event(s)", count)
    return count


# ---------------------------------------------------------------------------------------------
# Processing
# ---------------------------------------------------------------------------------------------
def event_lock_key(event: WebhookEvent) -> str:
    """The resource an event changes: events with the same key never run at the same time.

    Shipments and refunds change their order, address events their customer.
    """
    data = (event.body or {}).get("data") if isinstance(event.body, dict) else None
    data = data if isinstance(data, dict) else {}
    if event.scope.startswith("store/shipment/") and data.get("orderId"):
        return f"order:{data['orderId']}"
    address = data.get("address")
    if isinstance(address, dict) and address.get("customer_id"):
        return f"customer:{address['customer_id']}"
    return f"{event.resource_type}:{event.resource_id}"[:100]


def _lock_row(*, store_id: int, key: str) -> int:
    """The ResourceLock row's id (created once; the unique constraint settles races)."""
    lock, _ = ResourceLock.objects.get_or_create(store_id=store_id, resource_key=key)
    return lock.pk


def _lock_hold(lock_id: int) -> None:
    """Inside a transaction: wait for, then hold, the resource's row lock until commit."""
    list(ResourceLock.objects.select_for_update().filter(pk=lock_id).values_list("pk", flat=True))


def _resource_busy(*, event: WebhookEvent, key: str, now: datetime) -> bool:
    since = now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS)
    running = webhook_events_running(store_id=event.store_id, since=since, exclude_id=event.pk)
    return any(
        event_lock_key(other) == key for other in running.only("id", "scope", "body", "resource_type", "resource_id")
    )


@dataclass
class _Claim:
    event: WebhookEvent
    key: str
    lock_id: int


def _claimable(now: datetime) -> Q:
    stale = now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS)
    return (
        Q(status=Status.PENDING)
        | Q(status=Status.FAILED, next_attempt_at__lte=now)
        | Q(status=Status.PROCESSING, started_at__lt=stale)
    )


def _event_claim(event_id: int) -> _Claim | None:
    """Take the event for this worker, or None (finished, running elsewhere, not due, or its resource is busy)."""
    event = WebhookEvent.objects.select_related("store").filter(pk=event_id).first()
    if event is None or event.status not in (Status.PENDING, Status.FAILED, Status.PROCESSING):
        return None
    key = event_lock_key(event)
    lock_id = _lock_row(store_id=event.store_id, key=key)
    with transaction.atomic():
        _lock_hold(lock_id)
        now = timezone.now()
        claimable = WebhookEvent.objects.filter(_claimable(now), pk=event_id)
        if not claimable.exists():
            return None
        if _resource_busy(event=event, key=key, now=now):
            # Wait: the event holding the resource queues this one when it finishes; the
            # re-queue time keeps the sweep from queueing it again meanwhile.
            WebhookEvent.objects.filter(pk=event_id, status=Status.PENDING).update(
                next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_REQUEUE_SECONDS)
            )
            logger.info("Event %s waits: resource %s is being processed", event_id, key)
            return None
        claimable.update(
            status=Status.PROCESSING,
            started_at=now,
            finished_at=None,
            next_attempt_at=None,
            attempts=F("attempts") + 1,
        )
    event.refresh_from_db()
    return _Claim(event, key, lock_id)


@dataclass(frozen=True)
class ErrorInfo:
    """A failure, classified."""

    type: str
    message: str
    code: str
    transient: bool
    retry_after_seconds: float | None = None


def error_classify(error: BaseException) -> ErrorInfo:
    """Transient (retry later) or permanent (fix first), with the code worth showing."""
    message = redact(str(error) or type(error).__name__)[:ERROR_MESSAGE_MAX]
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
    return ErrorInfo(name, message, "", False)


def retry_delay_seconds(*, attempt: int, retry_after_seconds: float | None = None) -> float:
    """Exponential backoff with jitter for the retry after ``attempt``; at least BigCommerce's reset time."""
    base = float(settings.WEBHOOK_RETRY_BASE_SECONDS)
    ceiling = float(settings.WEBHOOK_RETRY_MAX_SECONDS)
    delay = min(ceiling, base * (2 ** max(0, attempt - 1)))
    # "Equal jitter": spreads retries of a burst of failures without ever retrying at once.
    delay = delay / 2 + random.uniform(0, delay / 2)
    if retry_after_seconds:
        delay = max(delay, float(retry_after_seconds))
    return delay


def _finish(claim: _Claim, *, fields: dict[str, Any], audit: dict[str, Any] | None) -> None:
    from audit.services import audit_record

    event = claim.event
    with transaction.atomic():
        _lock_hold(claim.lock_id)
        written = WebhookEvent.objects.filter(
            pk=event.pk, status=Status.PROCESSING, started_at=event.started_at
        ).update(**fields)
        if not written:
            logger.warning("Event %s was taken over while this worker ran it (lease expired)", event.pk)
        if fields.get("status") == Status.FAILED and fields.get("next_attempt_at"):
            _retry_schedule(event_id=event.pk, attempt=event.attempts, due=fields["next_attempt_at"])
    _waiters_release(claim)
    if audit is not None:
        # After the status is safe: a failing audit write must not leave the event "processing".
        try:
            audit_record(store=event.store, event=event, attempt=event.attempts, **audit)
        except Exception:
            logger.exception("Could not write the audit entry of event %s", event.pk)


def _waiters_release(claim: _Claim) -> None:
    """Queue the events that waited for this resource."""
    now = timezone.now()
    waiting = webhook_events_waiting(store_id=claim.event.store_id, now=now, exclude_id=claim.event.pk)
    fields = ("id", "scope", "body", "resource_type", "resource_id")
    for other in waiting.only(*fields)[:WAITERS_BATCH]:
        if event_lock_key(other) == claim.key:
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
    """Run the event's handler once: claim it, sync, and record the outcome (row and audit log)."""
    handlers_load()
    claim = _event_claim(event_id)
    if claim is None:
        return
    event = claim.event
    handler = handler_for(event.scope)
    started = time.monotonic()
    now = timezone.now
    if handler is None:
        _finish(claim, fields={"status": Status.IGNORED, "finished_at": now(), "duration_ms": 0}, audit=None)
        return
    result: HandlerResult | None = None
    skipped = ""
    failure: ErrorInfo | None = None
    with salesforce_calls_counted() as salesforce_calls, bigcommerce_calls_counted() as bigcommerce_calls:
        try:
            result = handler(event)
        except SkipEvent as skip:
            skipped = redact(str(skip))[:ERROR_MESSAGE_MAX] or "nothing to do"
        except Exception as error:
            failure = error_classify(error)
            if not isinstance(error, SalesforceError | BigCommerceError | requests.RequestException):
                logger.exception("Handler for event %s (%s) raised", event.pk, event.scope)
    duration_ms = int((time.monotonic() - started) * 1000)
    costs = {
        "duration_ms": duration_ms,
        "salesforce_api_calls": salesforce_calls.count,
        "bigcommerce_api_calls": bigcommerce_calls.count,
    }
    finished = {"finished_at": now(), "duration_ms": duration_ms}
    no_error = {"last_error_type": "", "last_error_message": "", "last_error_code": ""}
    if result is not None:
        logger.info("Event %s (%s) done in %s ms", event.pk, event.scope, duration_ms)
        _finish(
            claim,
            fields={"status": Status.DONE, **finished, **no_error},
            audit={
                "operation": result.operation,
                "bigcommerce_id": result.bigcommerce_id,
                "status": "success",
                "salesforce_ids": result.salesforce_ids,
                "details": result.details,
                **costs,
            },
        )
        return
    operation = scope_operation(event.scope)
    if failure is None:
        logger.info("Event %s (%s) skipped: %s", event.pk, event.scope, skipped)
        _finish(
            claim,
            fields={
                "status": Status.SKIPPED,
                **finished,
                "last_error_type": "SkipEvent",
                "last_error_message": skipped,
                "last_error_code": "",
            },
            audit={
                "operation": operation,
                "bigcommerce_id": event.resource_id,
                "status": "skipped",
                "details": {"reason": skipped},
                **costs,
            },
        )
        return
    error_fields = {
        "last_error_type": failure.type[:100],
        "last_error_message": failure.message,
        "last_error_code": failure.code[:100],
    }
    details: dict[str, Any] = {"transient": failure.transient, "error_type": failure.type}
    if failure.transient and event.attempts < settings.WEBHOOK_MAX_ATTEMPTS:
        delay = retry_delay_seconds(attempt=event.attempts, retry_after_seconds=failure.retry_after_seconds)
        due = now() + timedelta(seconds=delay)
        status, details["next_attempt_at"] = Status.FAILED, due.isoformat()
    else:
        due = None
        status = Status.DEAD if failure.transient else Status.FAILED
    details["event_status"] = status
    logger.warning("Event %s (%s) attempt %s %s: %s", event.pk, event.scope, event.attempts, status, failure.message)
    _finish(
        claim,
        fields={"status": status, **finished, **error_fields, "next_attempt_at": due},
        audit={
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
# The sweep
# ---------------------------------------------------------------------------------------------
def webhook_events_sweep() -> int:
    """Queue every stranded event (see ``webhook_events_stranded``); returns how many.

    Run by a django-q2 schedule every minute, so an event whose worker was killed, whose
    queue message was lost or whose retry schedule went missing is still completed.
    """
    now = timezone.now()
    stranded = webhook_events_stranded(
        now=now,
        pending_before=now - timedelta(seconds=settings.WEBHOOK_REQUEUE_SECONDS),
        processing_before=now - timedelta(seconds=settings.WEBHOOK_STALE_SECONDS),
    )
    rows = list(stranded.values_list("pk", "status")[:SWEEP_BATCH])
    pending_ids = [pk for pk, status in rows if status == Status.PENDING]
    if pending_ids:
        # Not again before the re-queue time, however often the sweep runs.
        WebhookEvent.objects.filter(pk__in=pending_ids, status=Status.PENDING).update(
            next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_REQUEUE_SECONDS)
        )
    for pk, _status in rows:
        _task_enqueue_safely(pk)
    if rows:
        logger.info("Sweep re-queued %s webhook event(s)", len(rows))
    return len(rows)
