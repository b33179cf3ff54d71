"""The store's API quota (fixed window, like BigCommerce's) and faults injected on demand."""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("status", "latency", "drop")
FAULT_STATUSES = (429, 500, 502, 503, 504)


@dataclass
class Quota:
    """What one request saw of the quota, for the ``X-Rate-Limit-*`` headers."""

    allowed: bool
    window_ms: int
    reset_ms: int
    quota: int
    left: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
            "X-Rate-Limit-Time-Reset-Ms": str(self.reset_ms),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Requests-Left": str(self.left),
        }


class RateLimiter:
    """``quota`` requests per ``window_ms``; the window starts with the first request after the last one ended."""

    def __init__(self, *, quota: int = 150, window_ms: int = 30_000) -> None:
        self._lock = threading.Lock()
        self.configure(quota=quota, window_ms=window_ms)

    def configure(self, *, quota: int, window_ms: int) -> None:
        if quota < 1 or window_ms < 1:
            raise ValueError("quota and window must be positive")
        with self._lock:
            self.quota = quota
            self.window_ms = window_ms
            self._start: float | None = None
            self._used = 0

    def reset(self) -> None:
        with self._lock:
            self._start = None
            self._used = 0

    def _roll(self, now: float) -> None:
        if self._start is None or (now - self._start) * 1000 >= self.window_ms:
            self._start = now
            self._used = 0

    def take(self) -> Quota:
        """Count one request if the window has room; a refused request does not count."""
        with self._lock:
            now = time.monotonic()
            self._roll(now)
            allowed = self._used < self.quota
            if allowed:
                self._used += 1
            return self._snapshot(now, allowed)

    def peek(self) -> Quota:
        """The headers' values without counting (answers that never reached the quota)."""
        with self._lock:
            now = time.monotonic()
            self._roll(now)
            return self._snapshot(now, True)

    def _snapshot(self, now: float, allowed: bool) -> Quota:
        assert self._start is not None
        reset_ms = max(0, int(self.window_ms - (now - self._start) * 1000))
        return Quota(allowed, self.window_ms, reset_ms, self.quota, self.quota - self._used)


@dataclass
class Fault:
    """One injected fault: an HTTP status, added latency, or a dropped connection."""

    id: int
    kind: str
    status: int = 500
    latency_ms: tuple[int, int] = (0, 0)
    path: str = ""
    method: str | None = None
    probability: float = 1.0
    count: int | None = None  # None: unlimited
    fired: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status if self.kind == "status" else None,
            "latency_ms": list(self.latency_ms) if self.kind == "latency" else None,
            "path": self.path,
            "method": self.method,
            "probability": self.probability,
            "count": self.count,
            "fired": self.fired,
        }


def fault_parse(spec: dict[str, Any], fault_id: int) -> Fault:
    """Validate a fault spec from the control API or the Python API.

    ``{"kind": "status", "status": 503}``, ``{"kind": "latency", "latency_ms": 200}`` (or ``[50, 150]``),
    ``{"kind": "drop"}``; optional ``path`` (regex searched in the request path), ``method``,
    ``probability`` (0-1) and ``count`` (times it fires, then it is spent). ``kind`` may be left out when
    ``status``, ``latency_ms`` or ``drop`` says it.
    """
    if not isinstance(spec, dict):
        raise ValueError("a fault is a JSON object")
    kind = spec.get("kind")
    if kind is None:
        kind = (
            "drop"
            if spec.get("drop")
            else "latency"
            if "latency_ms" in spec
            else "status"
            if "status" in spec
            else None
        )
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {FAULT_KINDS}")
    status = int(spec.get("status", 500))
    if kind == "status" and status not in FAULT_STATUSES:
        raise ValueError(f"fault status must be one of {FAULT_STATUSES}")
    latency = spec.get("latency_ms", 0)
    if isinstance(latency, list | tuple):
        if len(latency) != 2:
            raise ValueError("latency_ms is a number or [min, max]")
        low, high = int(latency[0]), int(latency[1])
    else:
        low = high = int(latency)
    if low < 0 or high < low:
        raise ValueError("latency_ms must be >= 0 and min <= max")
    probability = float(spec.get("probability", 1.0))
    if not 0 <= probability <= 1:
        raise ValueError("probability must be within 0 and 1")
    count = spec.get("count")
    if count is not None and int(count) < 1:
        raise ValueError("count must be at least 1")
    method = spec.get("method")
    try:
        return Fault(
            id=fault_id,
            kind=kind,
            status=status,
            latency_ms=(low, high),
            path=str(spec.get("path", "")),
            method=str(method).upper() if method else None,
            probability=probability,
            count=int(count) if count is not None else None,
        )
    except re.error as exc:
        raise ValueError(f"path is not a valid regular expression: {exc}") from exc


class Faults:
    """The active faults, consulted on every API request."""

    def __init__(self, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self._rng = random.Random(seed)

    def reset(self, *, seed: int = 0) -> None:
        with self._lock:
            self._faults.clear()
            self._next_id = 1
            self._rng = random.Random(seed)

    def reseed(self, seed: int) -> None:
        """Restart the probability draws from ``seed`` (the faults stay)."""
        with self._lock:
            self._rng = random.Random(seed)

    def add(self, spec: dict[str, Any]) -> Fault:
        with self._lock:
            fault = fault_parse(spec, self._next_id)
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_dict() for fault in self._faults]

    def pick(self, method: str, path: str) -> tuple[float, Fault | None]:
        """The latency to add (seconds) and the status/drop fault to apply, if any fires."""
        delay = 0.0
        chosen: Fault | None = None
        with self._lock:
            for fault in self._faults:
                if fault.count is not None and fault.fired >= fault.count:
                    continue
                if fault.method and fault.method != method:
                    continue
                if not fault._pattern.search(path):
                    continue
                if fault.kind != "latency" and chosen is not None:
                    continue
                if fault.probability < 1 and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                if fault.kind == "latency":
                    low, high = fault.latency_ms
                    delay += (low if low == high else self._rng.uniform(low, high)) / 1000
                else:
                    chosen = fault
        return delay, chosen
