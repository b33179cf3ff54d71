"""A tiny webhook destination for tests: records every callback and answers scripted statuses."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from sandbox.server import HOST, ssl_context_build


class _QuietHandler(WSGIRequestHandler):
    """Log requests at DEBUG instead of printing each one to stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002
        logging.getLogger("sandbox.bigcommerce.receiver").debug(message, *args)


@dataclass
class Callback:
    """One received callback, with the raw body (signatures are computed over it)."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """An HTTP (or, with ``tls_dir``, HTTPS) server on 127.0.0.1 that records what it is sent.

    ``statuses`` queues the answers of the next requests (then 200); ``default_status`` changes the rest.
    """

    def __init__(self, *, tls_dir: str | os.PathLike[str] | None = None) -> None:
        self._lock = threading.Condition()
        self.callbacks: list[Callback] = []
        self._scripted: deque[int] = deque()
        self.default_status = 200
        context = ssl_context_build(tls_dir=tls_dir) if tls_dir is not None else None
        self._server = make_server(
            HOST, 0, self._app, threaded=True, request_handler=_QuietHandler, ssl_context=context
        )
        # A short poll interval makes ``stop`` quick (tests start and stop many receivers).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self.scheme = "https" if context is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{HOST}:{self._server.server_port}/webhooks"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def statuses(self, *codes: int) -> None:
        """Answer the next requests with these statuses, in order."""
        with self._lock:
            self._scripted.extend(codes)

    def clear(self) -> None:
        with self._lock:
            self.callbacks.clear()
            self._scripted.clear()
            self.default_status = 200

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Callback]:
        """Block until at least ``count`` callbacks arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.callbacks) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.callbacks)} of {count} callbacks after {timeout} s")
                self._lock.wait(left)
            return list(self.callbacks)

    def payloads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [callback.json() for callback in self.callbacks]

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        with self._lock:
            status = self._scripted.popleft() if self._scripted else self.default_status
            self.callbacks.append(Callback(request.path, dict(request.headers), body, status, time.time()))
            self._lock.notify_all()
        return Response(status=status)(environ, start_response)
