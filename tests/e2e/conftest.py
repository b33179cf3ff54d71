"""End-to-end fixtures: a real django-q2 cluster (``manage.py qcluster``) on the test database.

The cluster is another process, so it must reach the test database through a file or a
server: with SQLite the test database is made a file (in the temp dir, one per pytest
process) instead of the in-memory default. This happens when this folder is collected, before
the test database is created; other tests do not notice.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection

from sync.models import Store
from sync.seeds import seeds_all_apply

PROJECT_DIR = Path(__file__).resolve().parents[2]

_database = settings.DATABASES["default"]
if _database["ENGINE"] == "django.db.backends.sqlite3" and not (_database.get("TEST") or {}).get("NAME"):
    _database.setdefault("TEST", {})["NAME"] = str(Path(tempfile.gettempdir()) / f"b2s-test-{os.getpid()}.sqlite3")


def database_url() -> str:
    """A DATABASE_URL for the test database this process created."""
    conf = connection.settings_dict
    if conf["ENGINE"] == "django.db.backends.sqlite3":
        name = str(conf["NAME"])
        if "memory" in name or not name:
            pytest.fail("The SQLite test database is in memory; a cluster process cannot reach it.")
        return f"sqlite:///{name}"
    user = quote(conf.get("USER") or "", safe="")
    password = quote(conf.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{credentials}{conf.get('HOST') or '127.0.0.1'}{port}/{conf['NAME']}"


def wait_for(predicate: Callable[[], object], *, timeout: float = 60.0, what: str = "condition") -> object:
    """Poll until ``predicate()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}")


def live_store_create(*, bigcommerce_sandbox: Any, live_server: Any, secret: str, scopes: Iterable[str]) -> Store:
    """The b2s Store of the stand-in's default store (header secret), with hooks for ``scopes`` at the live b2s.

    A transactional test starts from whatever the previous one flushed, so the seeded
    configuration is applied first (seeding never overwrites).
    """
    seeds_all_apply(django_apps)
    store = Store.objects.create(
        name="Sandbox",
        store_hash=bigcommerce_sandbox.app.store_hash,
        store_id=bigcommerce_sandbox.app.store_id,
        api_base_url=bigcommerce_sandbox.url,
        access_token="sandbox-token",
        webhook_auth_mode=Store.WebhookAuth.HEADER,
        webhook_header_name="X-B2S-Webhook-Secret",
        webhook_secret=secret,
    )
    destination = f"{live_server.url}/webhooks/bigcommerce/{store.store_hash}/"
    for scope in scopes:
        bigcommerce_sandbox.app.hook_create(scope, destination, headers={"X-B2S-Webhook-Secret": secret})
    return store


class QCluster:
    """``manage.py qcluster`` in its own process group, with its output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()[-4000:]

    def kill(self) -> None:
        """SIGKILL the whole cluster (main process, sentinel, workers): a machine losing power."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own process group (start_new_session)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # a worker left behind by its dead parent
            os.killpg(self.process.pid, signal.SIGKILL)
        if not self._log.closed:
            self._log.close()


@pytest.fixture
def qcluster_start(
    salesforce_sandbox, bigcommerce_sandbox, transactional_db, tmp_path
) -> Iterator[Callable[..., QCluster]]:
    """Start real django-q2 clusters (2 workers each) on the test database, talking to the stand-ins.

    ``start(**env)`` adds environment variables (settings) for that cluster; every cluster started
    is stopped at the end of the test.
    """
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SALESFORCE_", "BIGCOMMERCE_", "WEBHOOK_", "Q_", "REDIS_URL", "DATABASE_URL"))
    }
    base.update(
        DJANGO_SETTINGS_MODULE="b2s.settings_test",
        DATABASE_URL=database_url(),
        SALESFORCE_LOGIN_URL=salesforce_sandbox.url,
        SALESFORCE_CA_BUNDLE=salesforce_sandbox.ca_path,
        BIGCOMMERCE_CA_BUNDLE=bigcommerce_sandbox.ca_path,
        # Retries due at once, so a transient fault is retried within the test's patience.
        WEBHOOK_RETRY_BASE_SECONDS="0",
        Q_WORKERS="2",
        CONFIG_CHECK_SECONDS="0.5",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    clusters: list[QCluster] = []

    def start(**env: str) -> QCluster:
        cluster = QCluster({**base, **env}, tmp_path / f"qcluster-{len(clusters) + 1}.log")
        clusters.append(cluster)
        wait_for(lambda: "running" in cluster.log().lower() or cluster.process.poll() is not None, what="the cluster")
        if cluster.process.poll() is not None:
            pytest.fail(f"qcluster exited at start:\n{cluster.log()}")
        return cluster

    try:
        yield start
    finally:
        for cluster in clusters:
            cluster.stop()


@pytest.fixture
def qcluster(qcluster_start) -> QCluster:
    """A real django-q2 cluster (2 workers) on the test database, talking to the stand-ins."""
    return qcluster_start()
