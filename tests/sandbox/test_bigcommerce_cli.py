"""``python -m sandbox bigcommerce`` starts, prints the ready line and serves verified HTTPS."""

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


def test_command_line_contract(tmp_path):
    port = _free_port()
    tls_dir = tmp_path / "tls"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "bigcommerce",
            "--port",
            str(port),
            "--tls-dir",
            str(tls_dir),
            "--seed",
            "1",
            "--orders",
            "20",
        ],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
    )
    try:
        line = process.stdout.readline().strip()
        assert line == f"ready https://127.0.0.1:{port}", (line, process.stderr.read() if process.poll() else "")
        assert (tls_dir / "ca.pem").exists()
        session = requests.Session()
        session.trust_env = False
        session.verify = str(tls_dir / "ca.pem")
        answer = session.get(
            f"https://127.0.0.1:{port}/stores/sandbox/v2/orders/count", headers={"X-Auth-Token": "sandbox-token"}
        )
        assert answer.status_code == 200 and answer.json()["count"] == 20
        assert answer.headers["X-Rate-Limit-Requests-Quota"] == "150"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
