"""Faults injected on demand: errors, latency, session expiry and dropped connections.

A fault matches requests by a path regular expression (``re.search`` on the path), an HTTP
method, a probability and an optional count (how many times it may still fire). Kinds:

- ``status``: answer HTTP ``status`` (500 or 503, or any 5xx) with Salesforce's error body;
- ``unable_to_lock_row``: 400 ``UNABLE_TO_LOCK_ROW``;
- ``request_limit``: 403 ``REQUEST_LIMIT_EXCEEDED``;
- ``duplicate_value``: 400 ``DUPLICATE_VALUE`` naming the external id field of an upsert URL (the answer
  one of two concurrent upserts of a new external id value gets from Salesforce; the stand-in serializes
  requests, so the race cannot happen by itself);
- ``session_expiry``: invalidate every access token now, then handle the request (so it gets 401);
- ``latency``: wait ``latency_ms`` (a number, or ``[min, max]`` for a uniform random range),
  then handle the request normally; every matching latency fault applies;
- ``drop``: close the connection without an answer.
"""

from __future__ import annotations

import builtins
import itertools
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = {"status", "unable_to_lock_row", "request_limit", "duplicate_value", "session_expiry", "latency", "drop"}
TERMINAL = {"status", "unable_to_lock_row", "request_limit", "duplicate_value", "drop"}


@dataclass
class Fault:
    """One injected fault (see the module docstring)."""

    id: int
    kind: str
    path: str | None = None
    method: str | None = None
    probability: float = 1.0
    count: int | None = None
    status: int = 500
    latency_ms: tuple[float, float] = (0.0, 0.0)
    fired: int = 0
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return self._pattern is None or bool(self._pattern.search(path))

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "path": self.path,
            "method": self.method,
            "probability": self.probability,
            "count": self.count,
            "status": self.status,
            "latency_ms": list(self.latency_ms),
            "fired": self.fired,
        }

    def delay(self) -> float:
        """Seconds to wait for a latency fault."""
        low, high = self.latency_ms
        return (low if high <= low else random.uniform(low, high)) / 1000.0


class FaultTable:
    """The active faults (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        *,
        path: str | None = None,
        method: str | None = None,
        probability: float = 1.0,
        count: int | None = None,
        status: int | None = None,
        latency_ms: float | list[float] | tuple[float, float] | None = None,
    ) -> Fault:
        """Add a fault; raises ValueError for a bad specification."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(KINDS)}")
        if not 0.0 <= float(probability) <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if count is not None and int(count) < 1:
            raise ValueError("count must be at least 1 (or null for unlimited)")
        if kind == "status":
            status = int(status or 500)
            if not 500 <= status <= 599:
                raise ValueError("a status fault answers a 5xx status")
        latency = (0.0, 0.0)
        if kind == "latency":
            if latency_ms is None:
                raise ValueError("a latency fault needs latency_ms (a number or [min, max])")
            if isinstance(latency_ms, (list, tuple)):
                if len(latency_ms) != 2 or float(latency_ms[0]) > float(latency_ms[1]):
                    raise ValueError("latency_ms as a range is [min, max]")
                latency = (float(latency_ms[0]), float(latency_ms[1]))
            else:
                latency = (float(latency_ms), float(latency_ms))
            if latency[0] < 0:
                raise ValueError("latency_ms cannot be negative")
        pattern = re.compile(path) if path else None
        with self._lock:
            fault = Fault(
                next(self._ids),
                kind,
                path=path,
                method=method.upper() if method else None,
                probability=float(probability),
                count=int(count) if count is not None else None,
                status=status or 500,
                latency_ms=latency,
                _pattern=pattern,
            )
            self._faults.append(fault)
        return fault

    def add_spec(self, spec: dict[str, Any]) -> Fault:
        """Add a fault from its JSON specification (the control API)."""
        allowed = {"kind", "path", "method", "probability", "count", "status", "latency_ms"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; allowed {sorted(allowed)}")
        if "kind" not in spec:
            raise ValueError("a fault needs a kind")
        return self.add(**spec)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def draw(self, method: str, path: str) -> builtins.list[Fault]:
        """The faults that fire for this request (counts are used up here)."""
        fired: builtins.list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(method, path):
                    continue
                if fault.kind in TERMINAL and any(other.kind in TERMINAL for other in fired):
                    continue  # one answer per request: a later terminal fault keeps its count
                if fault.probability < 1.0 and random.random() >= fault.probability:
                    continue
                fault.fired += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                fired.append(fault)
        return fired
