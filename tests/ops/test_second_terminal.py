"""``manage.py`` in a second terminal while ``make run`` runs: the same defaults, the same database.

Each test works in a copy of the project (never this checkout's own ``.env``, ``db.sqlite3`` or ``.sandbox``),
with the environment cleared of what a newcomer does not set: ``DATABASE_URL``, ``DJANGO_SECRET_KEY``,
``DEBUG``, credentials.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from b2s.local import local_defaults

PROJECT = Path(__file__).resolve().parents[2]
IGNORED = shutil.ignore_patterns(
    ".venv",
    ".git",
    "db.sqlite3*",
    ".env",
    ".sandbox",
    "staticfiles",
    "__pycache__",
    "*.pyc",
    ".*_cache",
    "logs",
    "bench",
    "tests",
    "docs",
)
UNMIGRATED = (
    "The database .sandbox/demo.sqlite3 has no tables yet: run `make run` or `.venv/bin/python manage.py migrate` "
    "first."
)
# What `make run` does before it starts anything: the same preparation, then the same migrate.
MAKE_RUN_MIGRATE = (
    "import b2s.run as run; run.local_run_prepare(); run.manage('migrate', '--no-input', '-v', '0', capture=True)"
)
EVENT_CREATE = (
    "from sync.models import Store, WebhookEvent; "
    "store = Store.objects.create(name='Sandbox', store_hash='sandbox'); "
    "WebhookEvent.objects.create(store=store, scope='store/order/created', resource_type='order', "
    "resource_id='4711', hash='h', body={}, status='dead')"
)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    target = tmp_path / "b2s"
    shutil.copytree(PROJECT, target, ignore=IGNORED)
    return target


def _environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SALESFORCE_", "BIGCOMMERCE_", "SANDBOX_", "DJANGO_", "B2S_"))
        and name not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "PYTEST_CURRENT_TEST"}
    }


def _run(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=checkout, env=_environment(), capture_output=True, text=True, timeout=120
    )


def _tables(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        return [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]


def test_before_any_migrate_a_command_says_what_to_do_and_leaves_no_database(checkout: Path):
    result = _run(checkout, "manage.py", "replay", "--dry-run")
    assert result.returncode == 1
    assert UNMIGRATED in result.stderr
    assert "Traceback" not in result.stderr and "OperationalError" not in result.stderr
    # No empty database left behind, neither the demo's nor the fallback one.
    assert not (checkout / ".sandbox" / "demo.sqlite3").exists()
    assert not list(checkout.glob("db.sqlite3*"))
    # The secret key make run would have written, so the command could start at all.
    assert (checkout / ".env").read_text().count("DJANGO_SECRET_KEY=") == 1

    # A command that connects without needing the tables runs, and still leaves no empty file.
    result = _run(checkout, "manage.py", "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not list((checkout / ".sandbox").glob("demo.sqlite3*"))


def test_a_second_terminal_reads_the_database_make_run_migrated(checkout: Path):
    migrated = _run(checkout, "-c", MAKE_RUN_MIGRATE)
    assert migrated.returncode == 0, migrated.stderr
    database = checkout / ".sandbox" / "demo.sqlite3"
    assert "sync_webhookevent" in _tables(database)

    created = _run(checkout, "manage.py", "shell", "-c", EVENT_CREATE)
    assert created.returncode == 0, created.stderr

    replay = _run(checkout, "manage.py", "replay", "--dry-run")
    assert replay.returncode == 0, replay.stderr
    assert "  1  dead      store/order/created  order:4711" in replay.stdout
    assert replay.stdout.rstrip().endswith("Would re-queue 1 event(s).")

    migrations = _run(checkout, "manage.py", "showmigrations", "sync")
    assert migrations.returncode == 0, migrations.stderr
    assert " [X] 0014_body_retention_schedule" in migrations.stdout.splitlines()

    # One database: the demo's (the event is in it), no db.sqlite3 beside it.
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        assert connection.execute("SELECT resource_id, status FROM sync_webhookevent").fetchall() == [("4711", "dead")]
    assert not list(checkout.glob("db.sqlite3*"))


def test_the_defaults_yield_to_the_environment_and_to_credentials(tmp_path: Path):
    tls = tmp_path / ".sandbox" / "tls"
    assert local_defaults({}, base_dir=tmp_path) == {
        "DATABASE_URL": f"sqlite:///{tmp_path / '.sandbox' / 'demo.sqlite3'}",
        "SANDBOX_SALESFORCE_PORT": "8443",
        "SANDBOX_BIGCOMMERCE_PORT": "8444",
        "SANDBOX_TLS_DIR": str(tls),
        "BIGCOMMERCE_CA_BUNDLE": str(tls / "ca.pem"),
    }
    mine = {"DATABASE_URL": "postgres://db/b2s", "SANDBOX_TLS_DIR": "/etc/b2s/tls", "SANDBOX_SALESFORCE_PORT": "9443"}
    assert local_defaults(mine, base_dir=tmp_path) == {
        "SANDBOX_BIGCOMMERCE_PORT": "8444",
        "BIGCOMMERCE_CA_BUNDLE": "/etc/b2s/tls/ca.pem",
    }
    assert local_defaults({"SALESFORCE_CLIENT_ID": "real"}, base_dir=tmp_path) == {}
