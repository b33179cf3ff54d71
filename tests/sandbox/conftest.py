"""Fixtures of the sandbox tests: the ``python -m sandbox`` command line, started as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass
class SandboxProcess:
    """One ``python -m sandbox ...`` process, its port and TLS folder."""

    process: subprocess.Popen
    port: int
    tls_dir: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def session(self) -> requests.Session:
        """A session that trusts the stand-in's own CA (and nothing the environment names)."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.tls_dir / "ca.pem")
        return session


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sandbox_command(tmp_path) -> Iterator[Callable[..., SandboxProcess]]:
    """``start("bigcommerce", "--seed", "1")`` runs ``python -m sandbox`` on a free port; killed at the end."""
    started: list[SandboxProcess] = []

    def start(kind: str, *args: str) -> SandboxProcess:
        port = _free_port()
        tls_dir = tmp_path / "tls"
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", kind, "--port", str(port), "--tls-dir", str(tls_dir), *args],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
        )
        started.append(SandboxProcess(process, port, tls_dir))
        return started[-1]

    yield start
    for sandbox in started:
        sandbox.process.kill()
        sandbox.process.wait(timeout=10)
        sandbox.process.stdout.close()
        sandbox.process.stderr.close()


def draft_order_create(
    app: Any, *, quantity: int = 1, order_fields: dict | None = None, item_fields: dict | None = None
) -> dict[str, str]:
    """A Draft order in the stand-in with one order product (``quantity`` x 10.00): its ids by name
    (account, entry, order, item), created through the control API."""
    account = app.record_create("Account", {"Name": "Buyer"})
    product = app.record_create("Product2", {"Name": "Widget", "IsActive": True})
    book = app.records("Pricebook2")[0]["Id"]
    entry = app.record_create(
        "PricebookEntry", {"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 10, "IsActive": True}
    )
    order = app.record_create(
        "Order",
        {"AccountId": account, "EffectiveDate": "2025-01-15", "Status": "Draft", "Pricebook2Id": book}
        | (order_fields or {}),
    )
    item = app.record_create(
        "OrderItem",
        {"OrderId": order, "PricebookEntryId": entry, "Quantity": quantity, "UnitPrice": 10} | (item_fields or {}),
    )
    return {"account": account, "entry": entry, "order": order, "item": item}
