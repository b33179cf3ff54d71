"""Counting API requests per sync and per process, for the audit log and the analytics of cost.

Each client owns a :class:`CallCounting`. ``with counting.counted() as counter:`` opens a
block; every request the client makes inside it (in this thread or task, since the stack
lives in a context variable) adds one to ``counter.count`` and to every enclosing block's
counter, so blocks nest. ``counting.total`` is the process-wide total.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class CallCounter:
    """Requests made inside one ``counted()`` block."""

    count: int = 0


class CallCounting:
    """A process total plus a context-local stack of open counters."""

    def __init__(self, name: str) -> None:
        self._stack: contextvars.ContextVar[tuple[CallCounter, ...]] = contextvars.ContextVar(
            f"b2s_{name}_calls", default=()
        )
        self._lock = threading.Lock()
        self.total = 0

    def add(self, amount: int = 1) -> None:
        """Record ``amount`` requests in the total and in every open block."""
        with self._lock:
            self.total += amount
        for counter in self._stack.get():
            counter.count += amount

    @contextmanager
    def counted(self) -> Iterator[CallCounter]:
        """Count the requests made inside the block."""
        counter = CallCounter()
        token = self._stack.set((*self._stack.get(), counter))
        try:
            yield counter
        finally:
            self._stack.reset(token)
