"""Set-up shared by the benchmarks: a throw-away work folder and a migrated database."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def django_bootstrap(*, prefix: str, database_url: str = "") -> Path:
    """Create a work folder, point Django at ``database_url`` (else a SQLite file there), set up and migrate.

    Returns the work folder; ``os.environ["DATABASE_URL"]`` names the database in use.
    """
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2s.settings_test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return workdir
