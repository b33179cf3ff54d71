"""``make run`` end to end: a fresh copy of the project, no credentials, free ports.

Launches ``python -m b2s.run`` (what ``make run`` runs once the virtualenv exists) and checks, within two
minutes, that the Salesforce stand-in holds orders with items, accounts with analytics and cart records,
and that the admin shows the audit trail. The demo drives the store for a shorter time than the default
minute, to keep the suite fast; ``bench/make_run_check.sh`` runs the real ``make run``.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

PROJECT = Path(__file__).resolve().parents[2]
BUDGET_SECONDS = 120
IGNORED = shutil.ignore_patterns(
    ".venv",
    ".git",
    "db.sqlite3*",
    ".env",
    ".sandbox",
    "staticfiles",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    "logs",
    "bench",
)

pytestmark = pytest.mark.e2e


def _free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SALESFORCE_", "BIGCOMMERCE_", "SANDBOX_", "DJANGO_", "B2S_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "PYTEST_CURRENT_TEST"}
    }
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.fixture
def fresh_copy(tmp_path: Path) -> Path:
    target = tmp_path / "b2s"
    shutil.copytree(PROJECT, target, ignore=IGNORED)
    return target


def test_make_run_shows_the_product_working(fresh_copy: Path):
    web, salesforce_port, bigcommerce_port = _free_ports(3)
    env = _clean_env(
        B2S_ADDRESS=f"127.0.0.1:{web}",
        SANDBOX_SALESFORCE_PORT=str(salesforce_port),
        SANDBOX_BIGCOMMERCE_PORT=str(bigcommerce_port),
        B2S_DEMO_SECONDS="15",
    )
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "b2s.run"],
        cwd=fresh_copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True).start()
    try:
        ready = False
        while time.monotonic() - started < BUDGET_SECONDS:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            output.append(line)
            if line == "" or "Press Ctrl-C to stop." in line:
                ready = line != ""
                break
        text = "".join(output)
        assert ready, f"make run did not come up within {BUDGET_SECONDS} s:\n{text[-6000:]}"
        elapsed = time.monotonic() - started

        ca = fresh_copy / ".sandbox" / "tls" / "ca.pem"
        session = requests.Session()
        session.trust_env = False
        state = session.get(f"https://127.0.0.1:{salesforce_port}/__sandbox__/state", verify=str(ca), timeout=10).json()
        records = state["records"]
        orders = records.get("Order", [])
        items = records.get("OrderItem", [])
        assert orders, f"no Order in the Salesforce stand-in:\n{text[-4000:]}"
        assert {item["OrderId"] for item in items} & {order["Id"] for order in orders}, "no order has items"
        analysed = [
            account
            for account in records.get("Account", [])
            if account.get("CLV__c") and account.get("Customer_Tier__c")
        ]
        assert analysed, "no Account carries lifetime value and tier"
        assert any(account.get("RFM_Score__c") for account in analysed)
        assert records.get("Opportunity") or records.get("Lead"), "no cart record"
        assert records.get("Task"), "no recovery task"
        assert state["events"], "no platform event"

        # The admin: sign in with the printed password and see the audit trail.
        match = re.search(r"password:?\s+([A-Za-z0-9_\-]{8,})", text)
        assert match, f"no admin password printed:\n{text[-3000:]}"
        admin = requests.Session()
        admin.trust_env = False
        base = f"http://127.0.0.1:{web}"
        admin.get(f"{base}/admin/login/", timeout=10)
        response = admin.post(
            f"{base}/admin/login/",
            data={
                "username": "admin",
                "password": match.group(1),
                "csrfmiddlewaretoken": admin.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": f"{base}/admin/login/"},
            timeout=10,
        )
        assert response.status_code == 200 and "Log out" in response.text
        audit = admin.get(f"{base}/admin/audit/auditlog/", timeout=10)
        assert audit.status_code == 200
        assert "ORDER_SYNC" in audit.text or "order sync" in audit.text.lower()
        page = admin.get(f"{base}/sandbox/", timeout=20)
        assert page.status_code == 200 and "Accounts" in page.text
        assert f"{base}/sandbox/" in text and f"{base}/admin/" in text
        assert elapsed < BUDGET_SECONDS
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
