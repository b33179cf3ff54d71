"""``python -m sandbox salesforce --port PORT --tls-dir DIR`` keeps the command-line contract."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import requests

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_command_prints_ready_and_serves_https(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "salesforce",
            "--port",
            str(port),
            "--tls-dir",
            str(tmp_path),
            "--schema",
            "minimal",
        ],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
    )
    try:
        line = process.stdout.readline().strip()
        assert line == f"ready https://127.0.0.1:{port}", line or process.stderr.read()
        session = requests.Session()
        session.trust_env = False
        session.verify = str(tmp_path / "ca.pem")
        token = session.post(
            f"https://127.0.0.1:{port}/services/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "sandbox-client", "client_secret": "sandbox-secret"},
            timeout=10,
        ).json()["access_token"]
        described = session.get(
            f"https://127.0.0.1:{port}/services/data/v62.0/sobjects/Order/describe",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        names = {field["name"] for field in described["fields"]}
        assert "TotalAmount" in names and "BigCommerceOrderId__c" not in names  # --schema minimal
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
