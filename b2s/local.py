"""What a local run assumes where the environment says nothing: one place for ``make run`` and ``manage.py``.

With no Salesforce credential (in the environment or ``.env``) b2s runs against the sandbox stand-ins and
keeps its records in the demo database, ``.sandbox/demo.sqlite3``. ``make run`` fills these defaults in
before it starts anything, and ``manage.py`` fills in the same ones, so a command typed in a second terminal
while the demo runs (``.venv/bin/python manage.py replay --dry-run``) reads the demo's database, talks to the
same stand-ins, and finds the ``.env`` secret key ``make run`` wrote.

Only the real settings module (``b2s.settings``) gets them: the test settings and a deployment's own
settings module stay as their environment says.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

import environ

from b2s.env import SALESFORCE_CREDENTIAL_VARS, SANDBOX_BIGCOMMERCE_PORT, SANDBOX_SALESFORCE_PORT

BASE_DIR = Path(__file__).resolve().parent.parent
SETTINGS_MODULE = "b2s.settings"


def demo_database_path(base_dir: Path = BASE_DIR) -> Path:
    """The SQLite file of the demo (sandbox mode without ``DATABASE_URL``)."""
    return base_dir / ".sandbox" / "demo.sqlite3"


def sandbox_mode(environment: Mapping[str, str]) -> bool:
    """No Salesforce credential means the local stand-ins."""
    return not any(environment.get(name) for name in SALESFORCE_CREDENTIAL_VARS)


def local_defaults(environment: Mapping[str, str], *, base_dir: Path = BASE_DIR) -> dict[str, str]:
    """The variables a local run fills in, those ``environment`` leaves unset or empty (none with credentials)."""
    if not sandbox_mode(environment):
        return {}
    tls_dir = Path(environment.get("SANDBOX_TLS_DIR") or base_dir / ".sandbox" / "tls")
    defaults = {
        "DATABASE_URL": f"sqlite:///{demo_database_path(base_dir)}",
        "SANDBOX_SALESFORCE_PORT": str(SANDBOX_SALESFORCE_PORT),
        "SANDBOX_BIGCOMMERCE_PORT": str(SANDBOX_BIGCOMMERCE_PORT),
        "SANDBOX_TLS_DIR": str(tls_dir),
        "BIGCOMMERCE_CA_BUNDLE": str(tls_dir / "ca.pem"),
    }
    return {name: value for name, value in defaults.items() if not environment.get(name)}


def env_file_ensure(base_dir: Path = BASE_DIR) -> None:
    """Give a fresh checkout a local .env with a random secret key (never committed)."""
    env_file = base_dir / ".env"
    if env_file.exists():
        return
    env_file.write_text(
        "# Written by `make run` for this machine. See .env.example for every setting.\n"
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
    )
    env_file.chmod(0o600)
    print(f"Wrote {env_file.name} with a new random DJANGO_SECRET_KEY.", file=sys.stderr)


def local_environment_prepare(*, base_dir: Path = BASE_DIR) -> dict[str, str]:
    """Read ``.env`` into ``os.environ`` (never over it) and fill in ``local_defaults``; returns what was filled in.

    In sandbox mode a checkout without ``.env`` and without ``DJANGO_SECRET_KEY`` first gets the ``.env``
    ``make run`` writes. Nothing happens under another settings module than ``b2s.settings``.
    """
    # The test settings set their own secret key before reading .env: .env must not win under them.
    if os.environ.get("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE) != SETTINGS_MODULE:
        return {}
    env_file = base_dir / ".env"
    if sandbox_mode(os.environ) and not os.environ.get("DJANGO_SECRET_KEY"):
        env_file_ensure(base_dir)
    if env_file.is_file():
        environ.Env.read_env(env_file, overwrite=False)
    filled = local_defaults(os.environ, base_dir=base_dir)
    if "DATABASE_URL" in filled:
        demo_database_path(base_dir).parent.mkdir(parents=True, exist_ok=True)  # SQLite makes the file, not its folder
    os.environ.update(filled)
    return filled
