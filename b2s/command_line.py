"""``manage.py``: the local run's defaults (``b2s.local``), then the command, minding an unmigrated database.

SQLite creates its file on the first connection, so a command run before any ``migrate`` would leave an
empty database behind and fail on its first query with a bare "no such table". Here such a command says
what to do instead, and an empty database file the command itself created is removed again.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from pathlib import Path

from b2s.local import BASE_DIR, SETTINGS_MODULE, local_environment_prepare

# Commands that build the schema: an empty database is what they expect.
SCHEMA_COMMANDS = frozenset({"migrate"})


def _sqlite_file() -> Path | None:
    """The default database's file when it is a SQLite file (None for another engine, memory, or bad settings)."""
    from django.conf import settings

    try:
        database = settings.DATABASES["default"]
    except Exception:  # settings that do not load: Django reports that itself, with the command's help
        return None
    name = str(database.get("NAME") or "")
    if database.get("ENGINE") != "django.db.backends.sqlite3" or not name or name.startswith(("file:", ":memory:")):
        return None
    return Path(name)


def _sqlite_migrated(path: Path) -> bool:
    """Whether the SQLite file holds b2s's schema (read-only: never creates the file)."""
    if not path.exists():
        return False
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        found = connection.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='django_migrations'")
        return found.fetchone() is not None


def _database_migrated() -> bool | None:
    """Whether the default database holds b2s's schema (any engine), on a fresh connection; None: unreachable."""
    from django.db import DatabaseError, connections

    connection = connections["default"]
    connection.close()  # the failed command's connection may be in an aborted transaction
    try:
        return "django_migrations" in connection.introspection.table_names()
    except DatabaseError:
        return None
    finally:
        connection.close()


def _where(path: Path | None) -> str:
    if path is None:
        from django.conf import settings

        return f"database {settings.DATABASES['default'].get('NAME')!r}"
    with contextlib.suppress(ValueError):
        path = path.relative_to(BASE_DIR)
    return f"database {path}"


def unmigrated_message(where: str) -> str:
    return (
        f"The {where} has no tables yet: run `make run` or `.venv/bin/python manage.py migrate` first. "
        "(With no Salesforce credentials, manage.py uses the demo's database, as `make run` does; "
        "DATABASE_URL chooses another.)"
    )


def _empty_file_remove(path: Path) -> None:
    """Remove a database file (and its WAL companions) that holds no schema."""
    from django.db import connections

    connections.close_all()
    if _sqlite_migrated(path):
        return
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        companion.unlink(missing_ok=True)


def manage_main(argv: list[str]) -> None:
    """Run a ``manage.py`` command line with the local defaults."""
    local_environment_prepare()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    command = argv[1] if len(argv) > 1 else ""
    guarded = command not in SCHEMA_COMMANDS
    database_file = _sqlite_file() if guarded else None
    created = database_file is not None and not database_file.exists()
    try:
        execute_from_command_line(argv)
    except DatabaseError:
        migrated = _sqlite_migrated(database_file) if database_file is not None else _database_migrated()
        if not guarded or migrated is not False:
            raise
        sys.exit(unmigrated_message(_where(database_file)))
    finally:
        if created and database_file is not None and database_file.exists():
            _empty_file_remove(database_file)
