"""Webhook delivery like BigCommerce's: thin callbacks, custom headers, signatures, retries, chaos knobs.

Deliveries run on a background thread pool; a mutation only enqueues them. ``wait`` blocks until every
delivery (first attempts, retries, held reorderings) has finished, which is what tests need.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

logger = logging.getLogger("sandbox.bigcommerce.webhooks")

# BigCommerce's retry delays in seconds after a failed attempt; after the last one the hook is deactivated.
RETRY_SCHEDULE_SECONDS = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)
REORDER_MODES = (None, "shuffle", "reverse")


def payload_hash(data: dict[str, Any]) -> str:
    """SHA-1 hex of the JSON-encoded ``data``: equal data give an equal hash, as in BigCommerce's examples."""
    return hashlib.sha1(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


def signature_standard(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks ``webhook-signature``: ``v1,`` + base64 HMAC-SHA256 of ``{id}.{ts}.{body}``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_legacy(secret: str, body: bytes) -> str:
    """``X-BC-Webhook-Signature``: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def scope_matches(hook_scope: str, scope: str) -> bool:
    """A hook's scope matches exactly, or as a wildcard such as ``store/order/*``."""
    if hook_scope.endswith("/*"):
        return scope.startswith(hook_scope[:-1])
    return hook_scope == scope


@dataclass
class DeliverySettings:
    """Knobs of the delivery engine (all changeable at run time through ``configure``)."""

    retry_factor: float = 1.0  # BigCommerce's delays are divided by this
    duplicate_probability: float = 0.0
    reorder: str | None = None  # None, "shuffle" or "reverse" (newest first: updated before created)
    reorder_window: int = 10  # held deliveries are released once this many wait ...
    reorder_hold_ms: int = 500  # ... or this long after the first one was held
    verify_tls: bool | str = True  # False, True, or a CA bundle path
    timeout: float = 5.0
    sign_standard: bool = False
    legacy_secret: str | None = None
    client_secret: str = "sandbox-client-secret"
    seed: int = 0
    workers: int = 8


@dataclass
class Event:
    seq: int
    scope: str
    payload: dict[str, Any]
    body: bytes


@dataclass
class Job:
    event: Event
    hook_id: int
    generation: int
    attempt: int = 1
    duplicate: bool = False


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    job: Job = field(compare=False)


@dataclass
class HookTarget:
    """What a delivery needs of a hook, read fresh before every attempt."""

    id: int
    destination: str
    headers: dict[str, str]
    is_active: bool
    sign_standard: bool | None
    legacy_secret: str | None


class Dispatcher:
    """Queues, sends, retries and records webhook deliveries for one store."""

    def __init__(
        self,
        *,
        settings: DeliverySettings,
        hook_lookup: Callable[[int], HookTarget | None],
        hook_deactivate: Callable[[int], None],
    ) -> None:
        self.settings = settings
        self._hook_lookup = hook_lookup
        self._hook_deactivate = hook_deactivate
        self._cond = threading.Condition()
        self._generation = 0
        self._pending = 0
        self._inflight = 0
        self._heap: list[_Scheduled] = []
        self._held: list[Job] = []
        self._held_since: float | None = None
        self._records: list[dict[str, Any]] = []
        self._seq = 0
        self._rng = random.Random(settings.seed)
        self._executor: ThreadPoolExecutor | None = None
        self._scheduler: threading.Thread | None = None
        self._closed = False
        self._local = threading.local()

    # -- public -------------------------------------------------------------------------------
    def enqueue(self, event: Event, hook_ids: list[int]) -> None:
        """Queue the first attempt of ``event`` to each hook (and maybe a duplicate, maybe held)."""
        if not hook_ids:
            return
        self._start()
        with self._cond:
            jobs: list[Job] = []
            for hook_id in hook_ids:
                jobs.append(Job(event, hook_id, self._generation))
                if self.settings.duplicate_probability and self._rng.random() < self.settings.duplicate_probability:
                    jobs.append(Job(event, hook_id, self._generation, duplicate=True))
            self._pending += len(jobs)
            if self.settings.reorder:
                self._held.extend(jobs)
                if self._held_since is None:
                    self._held_since = time.monotonic()
                if len(self._held) >= max(1, self.settings.reorder_window):
                    self._release_locked()
                self._cond.notify_all()
                return
        for job in jobs:
            self._submit(job)

    def release(self) -> None:
        """Send held (reordered) deliveries now."""
        with self._cond:
            self._release_locked()

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until no delivery is queued, held, in flight or waiting for a retry.

        Raises ``TimeoutError`` (with the count left) when that takes longer than ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self._release_locked()
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._pending} webhook deliveries still pending after {timeout} s")
                self._cond.wait(left)
        return True

    def records(self) -> list[dict[str, Any]]:
        with self._cond:
            return [dict(record) for record in self._records]

    def pending(self) -> int:
        with self._cond:
            return self._pending

    def reset(self, settings: DeliverySettings) -> None:
        """Drop every queued, held and scheduled delivery and the log; in-flight ones finish unrecorded."""
        with self._cond:
            self._generation += 1
            self._heap.clear()
            self._held.clear()
            self._held_since = None
            self._pending = 0
            self._records.clear()
            self.settings = settings
            self._rng = random.Random(settings.seed)
            self._cond.notify_all()
            # Let in-flight requests end so they cannot reach the next test's receiver.
            deadline = time.monotonic() + settings.timeout + 1
            while self._inflight and time.monotonic() < deadline:
                self._cond.wait(0.05)

    def reseed(self, seed: int) -> None:
        """Restart the random draws of the duplicate and shuffle knobs from ``seed``."""
        with self._cond:
            self._rng = random.Random(seed)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- machinery ----------------------------------------------------------------------------
    def _start(self) -> None:
        with self._cond:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=max(1, self.settings.workers), thread_name_prefix="bc-webhook"
                )
                self._scheduler = threading.Thread(target=self._schedule_loop, name="bc-webhook-timer", daemon=True)
                self._scheduler.start()

    def _submit(self, job: Job) -> None:
        assert self._executor is not None
        self._executor.submit(self._run, [job])

    def _release_locked(self) -> None:
        if not self._held:
            return
        batch = list(self._held)
        self._held.clear()
        self._held_since = None
        if self.settings.reorder == "reverse":
            batch.reverse()
        else:
            self._rng.shuffle(batch)
        # One worker sends the batch in its new order, so the order the receiver sees is deterministic.
        assert self._executor is not None
        self._executor.submit(self._run, batch)

    def _schedule_loop(self) -> None:
        while True:
            due_jobs: list[Job] = []
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                while self._heap and self._heap[0].due <= now:
                    due_jobs.append(heapq.heappop(self._heap).job)
                hold_due = None
                if self._held and self._held_since is not None:
                    hold_due = self._held_since + self.settings.reorder_hold_ms / 1000
                    if hold_due <= now:
                        self._release_locked()
                        hold_due = None
                if not due_jobs:
                    wakeups = [t for t in (self._heap[0].due if self._heap else None, hold_due) if t is not None]
                    self._cond.wait(min(wakeups) - now if wakeups else None)
                    continue
            for job in due_jobs:
                self._submit(job)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # Deliveries go where the hook says: never through a proxy from the environment.
            session.trust_env = False
            self._local.session = session
        return session

    def _run(self, jobs: list[Job]) -> None:
        for job in jobs:
            try:
                self._attempt(job)
            except Exception:  # pragma: no cover - a bug here must not kill the worker silently
                logger.exception("webhook delivery crashed")
                self._finish(job)

    def _finish(self, job: Job) -> None:
        with self._cond:
            if job.generation == self._generation and self._pending > 0:
                self._pending -= 1
            self._cond.notify_all()

    def _attempt(self, job: Job) -> None:
        with self._cond:
            if job.generation != self._generation:
                return
            settings = self.settings
            self._inflight += 1
        try:
            hook = self._hook_lookup(job.hook_id)
            if hook is None or not hook.is_active:
                # Deleted or deactivated meanwhile: BigCommerce stops sending to it.
                self._finish(job)
                return
            event = job.event
            headers = {"Content-Type": "application/json", "User-Agent": "bigcommerce-sandbox-webhooks"}
            headers.update(hook.headers)
            message_id = f"msg_{event.seq}_{hook.id}"
            standard = settings.sign_standard if hook.sign_standard is None else hook.sign_standard
            if standard:
                timestamp = int(time.time())
                headers["webhook-id"] = message_id
                headers["webhook-timestamp"] = str(timestamp)
                headers["webhook-signature"] = signature_standard(
                    settings.client_secret, message_id, timestamp, event.body
                )
            legacy = hook.legacy_secret if hook.legacy_secret is not None else settings.legacy_secret
            if legacy:
                headers["X-BC-Webhook-Signature"] = signature_legacy(legacy, event.body)
            status: int | None = None
            error: str | None = None
            try:
                response = self._session().post(
                    hook.destination,
                    data=event.body,
                    headers=headers,
                    timeout=settings.timeout,
                    verify=settings.verify_tls,
                    allow_redirects=False,
                )
                status = response.status_code
                response.close()
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
            ok = status is not None and 200 <= status < 300
            with self._cond:
                if job.generation != self._generation:
                    return
                self._records.append(
                    {
                        "id": len(self._records) + 1,
                        "event": event.seq,
                        "hook_id": hook.id,
                        "scope": event.scope,
                        "destination": hook.destination,
                        "attempt": job.attempt,
                        "duplicate": job.duplicate,
                        "status": status,
                        "ok": ok,
                        "error": error,
                        "at": time.time(),
                        "hash": event.payload["hash"],
                        "webhook_id": message_id if standard else None,
                        "payload": event.payload,
                        "header_names": sorted(headers),
                    }
                )
                if not ok and job.attempt <= len(RETRY_SCHEDULE_SECONDS):
                    delay = RETRY_SCHEDULE_SECONDS[job.attempt - 1] / max(settings.retry_factor, 1e-9)
                    retry = Job(event, job.hook_id, job.generation, job.attempt + 1, job.duplicate)
                    self._seq += 1
                    heapq.heappush(self._heap, _Scheduled(time.monotonic() + delay, self._seq, retry))
                    self._cond.notify_all()
                    return
            if not ok:
                # The last retry failed: BigCommerce deactivates the hook.
                self._hook_deactivate(job.hook_id)
            self._finish(job)
        finally:
            with self._cond:
                self._inflight -= 1
                self._cond.notify_all()
