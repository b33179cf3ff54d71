"""Start the sandbox stand-ins for ``make run`` when no credentials are configured."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

from django.conf import settings

from b2s.env import SANDBOX_BIGCOMMERCE_PORT, SANDBOX_SALESFORCE_PORT

READY_TIMEOUT_SECONDS = 30


def _ready_wait(process: Popen[str], name: str) -> str:
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("ready "):
        raise RuntimeError(f"The {name} stand-in did not start (it said: {line.strip()!r}).")
    return line.split(" ", 1)[1].strip()


def sandbox_start(*, spawn: Callable[[list[str], str], Popen[str]]) -> list[Popen[str]]:
    """Start both stand-ins, wait for their ready lines, and return their processes."""
    import subprocess

    tls_dir = Path(settings.SANDBOX_TLS_DIR)
    tls_dir.mkdir(parents=True, exist_ok=True)
    processes = []
    for name, port, extra in (
        ("salesforce", SANDBOX_SALESFORCE_PORT, []),
        ("bigcommerce", SANDBOX_BIGCOMMERCE_PORT, ["--seed", "1", "--customers", "40", "--orders", "0"]),
    ):
        args = [sys.executable, "-m", "sandbox", name, "--port", str(port), "--tls-dir", str(tls_dir), *extra]
        print(f"Starting the {name} stand-in on port {port}")
        process = Popen(args, stdout=subprocess.PIPE, text=True, start_new_session=True)
        url = _ready_wait(process, name)
        print(f"  {name} stand-in ready at {url}")
        processes.append(process)
    return processes


def sandbox_demo_run(*, web_address: str) -> None:
    """Say where the stand-ins are."""
    print(
        f"Sandbox Salesforce: https://127.0.0.1:{SANDBOX_SALESFORCE_PORT}/__sandbox__/state\n"
        f"Sandbox BigCommerce: https://127.0.0.1:{SANDBOX_BIGCOMMERCE_PORT}/__sandbox__/state\n"
        f"(CA certificate: {Path(settings.SANDBOX_TLS_DIR) / 'ca.pem'})"
    )
