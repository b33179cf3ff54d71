"""Pytest plugin: the BigCommerce stand-in served over HTTPS for the whole session.

``bigcommerce_sandbox`` resets the stand-in (store, hooks, faults, calls, deliveries, quota, settings)
before and after each test and yields the ``ServerThread``: ``.url``, ``.ca_path``, ``.app``.
The session's stand-in divides BigCommerce's webhook retry delays by 1000 (first retry after 60 ms).
``bigcommerce_webhook_receiver`` is a plain-HTTP destination that records callbacks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.bigcommerce.app import BigCommerceSandbox
from sandbox.bigcommerce.receiver import WebhookReceiver
from sandbox.server import ServerThread

FIXTURE_RETRY_FACTOR = 1000


@pytest.fixture(scope="session")
def bigcommerce_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The session's stand-in; prefer ``bigcommerce_sandbox``, which resets it for each test."""
    app = BigCommerceSandbox(retry_factor=FIXTURE_RETRY_FACTOR)
    server = ServerThread(app, tls_dir=tmp_path_factory.mktemp("bigcommerce-tls")).start()
    yield server
    server.stop()
    app.close()


@pytest.fixture
def bigcommerce_sandbox(bigcommerce_server: ServerThread) -> Iterator[ServerThread]:
    """The stand-in, freshly reset: an empty store (with its small catalog), no hooks, no faults."""
    bigcommerce_server.app.reset()
    yield bigcommerce_server
    bigcommerce_server.app.reset()


@pytest.fixture
def bigcommerce_webhook_receiver() -> Iterator[WebhookReceiver]:
    """A webhook destination on ``http://127.0.0.1:{port}/webhooks`` recording every callback."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()
