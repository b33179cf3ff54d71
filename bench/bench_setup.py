"""Set-up shared by the benchmarks: a throw-away work folder and a migrated database."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


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


def order_spec(rng: random.Random, catalog: list, customers: list[int], *, guest: int) -> dict:
    """A store-like order for the BigCommerce stand-in: 60 % registered customers, else guest number ``guest``;
    1-4 catalog lines, in US dollars."""
    spec = {
        "customer_id": rng.choice(customers) if rng.random() < 0.6 else 0,
        "currency_code": "USD",
        "status_id": rng.choice((7, 9, 11, 11, 11, 10)),
        "products": [
            {"product_id": product.id, "quantity": rng.randint(1, 3)}
            for product in rng.sample(catalog, rng.randint(1, 4))
        ],
    }
    if spec["customer_id"] == 0:
        spec["email"] = f"guest{guest}@example.com"
    return spec


def bench_store_create(bigcommerce_app: Any, *, api_base_url: str, webhook_secret: str) -> Any:
    """The only b2s Store: the BigCommerce stand-in's store, authenticated by a header secret."""
    from sync.models import Store  # after django_bootstrap: this module is imported before Django is set up

    Store.objects.all().delete()
    return Store.objects.create(
        name="Bench",
        store_hash=bigcommerce_app.store_hash,
        store_id=bigcommerce_app.store_id,
        api_base_url=api_base_url,
        access_token="sandbox-token",
        webhook_secret=webhook_secret,
    )


def postgres_recreate(url: str) -> None:
    """Drop (ending its connections) and create the PostgreSQL database ``url`` names."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"unsafe database name {name!r}")
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def postgres_drop(url: str) -> None:
    """Drop the PostgreSQL database ``url`` names, ending its connections."""
    import psycopg

    parts = urlsplit(url)
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
