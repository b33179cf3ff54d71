"""Benchmark: the webhook endpoint under gunicorn, on SQLite and on PostgreSQL.

    .venv/bin/python bench/intake.py [--requests 3000] [--concurrency 8] [--time-limit 60]
        [--databases sqlite,postgres] [--postgres-url postgres://postgres@127.0.0.1:5432/b2s_bench]
        [--gunicorn-workers 2] [--gunicorn-threads 4]

For each database it creates a fresh one (a temporary SQLite file; on PostgreSQL the database
named in ``--postgres-url``, dropped and created by this script), migrates it, adds a store
authenticating callbacks with a header secret, starts gunicorn on a free loopback port, and
posts ``--requests`` distinct, authentic ``store/order/created`` callbacks from
``--concurrency`` threads, each with its own keep-alive connection (stopping early at
``--time-limit`` seconds). Every request does the real work: store lookup, JSON parse,
constant-time authentication, schema check, the insert under the unique constraint and the
django-q2 ORM-broker enqueue. No cluster runs, so nothing is processed: this measures intake.

It prints requests/second and the p50/p99/max latency seen by the client, and checks that the
database holds exactly one event per 200 answer.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT = Path(__file__).resolve().parent.parent
STORE_HASH = "benchstore"
STORE_ID = "1000001"
SECRET = "bench-webhook-secret-0123456789"
HEADER = "X-B2S-Webhook-Secret"
SCOPE = "store/order/created"
WARMUP = 50


@dataclass
class Result:
    database: str
    sent: int = 0
    ok: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    stored: int = 0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(database_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="b2s.settings_test",
        LOG_LEVEL="WARNING",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def postgres_recreate(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"unsafe database name {name!r}")
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def postgres_drop(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def events_stored(database: str, url: str) -> int:
    query = "SELECT count(*) FROM sync_webhookevent"
    if database == "sqlite":
        with sqlite3.connect(urlsplit(url).path) as connection:  # the query string is not part of the path
            return connection.execute(query).fetchone()[0]
    import psycopg

    with psycopg.connect(urlunsplit(urlsplit(url)._replace(scheme="postgresql")), connect_timeout=5) as connection:
        return connection.execute(query).fetchone()[0]


def callback_body(number: int, created_at: int) -> bytes:
    data = {"type": "order", "id": number}
    payload = {
        "scope": SCOPE,
        "store_id": STORE_ID,
        "data": data,
        "hash": hashlib.sha1(json.dumps(data, separators=(",", ":")).encode()).hexdigest(),
        "created_at": created_at,
        "producer": f"stores/{STORE_HASH}",
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def load_run(port: int, *, first: int, count: int, concurrency: int, time_limit: float, result: Result) -> None:
    """Post ``count`` callbacks numbered from ``first`` from ``concurrency`` threads."""
    path = f"/webhooks/bigcommerce/{STORE_HASH}/"
    lock = threading.Lock()
    numbers = iter(range(first, first + count))
    deadline = time.monotonic() + time_limit
    created_at = int(time.time())

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                number = next(numbers, None)
            if number is None:
                break
            body = callback_body(number, created_at)
            headers = {"Content-Type": "application/json", HEADER: SECRET, "Content-Length": str(len(body))}
            started = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            elapsed = time.perf_counter() - started
            with lock:
                result.sent += 1
                if status == 200:
                    result.ok += 1
                    result.latencies.append(elapsed)
                else:
                    result.errors[status] = result.errors.get(status, 0) + 1
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall = time.perf_counter() - started


def bench_database(database: str, url: str, args: argparse.Namespace) -> Result:
    env = base_env(url)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(
        env,
        "shell",
        "-c",
        "from sync.models import Store; Store.objects.create(name='Bench', "
        f"store_hash={STORE_HASH!r}, store_id={STORE_ID!r}, webhook_auth_mode='header', "
        f"webhook_header_name={HEADER!r}, webhook_secret={SECRET!r})",
    )
    port = free_port()
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "b2s.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.gunicorn_workers),
            "--threads",
            str(args.gunicorn_threads),
            "--log-level",
            "warning",
        ],
        cwd=PROJECT,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", f"/webhooks/bigcommerce/{STORE_HASH}/")
                if probe.getresponse().status == 405:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or gunicorn.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)
        warm = Result(database)
        load_run(port, first=10_000_000, count=WARMUP, concurrency=args.concurrency, time_limit=30, result=warm)
        result = Result(database)
        load_run(
            port, first=1, count=args.requests, concurrency=args.concurrency, time_limit=args.time_limit, result=result
        )
        result.stored = events_stored(database, url) - warm.ok
        return result
    finally:
        if gunicorn.poll() is None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=60.0, help="Seconds per database at most.")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/b2s_bench")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--gunicorn-threads", type=int, default=4)
    parser.add_argument(
        "--sqlite-conn-max-age",
        type=int,
        default=0,
        help="CONN_MAX_AGE for SQLite (as b2s is configured: 0, a connection per request).",
    )
    args = parser.parse_args()

    results: list[Result] = []
    for database in [name.strip() for name in args.databases.split(",") if name.strip()]:
        if database == "sqlite":
            workdir = Path(tempfile.mkdtemp(prefix="b2s-bench-intake-"))
            url = f"sqlite:///{workdir / 'bench.sqlite3'}"
            if args.sqlite_conn_max_age:
                url += f"?conn_max_age={args.sqlite_conn_max_age}"
            try:
                results.append(bench_database("sqlite", url, args))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        elif database == "postgres":
            postgres_recreate(args.postgres_url)
            try:
                results.append(bench_database("postgres", args.postgres_url, args))
            finally:
                postgres_drop(args.postgres_url)
        else:
            raise SystemExit(f"unknown database {database!r}")

    print(
        f"\nIntake benchmark: {args.requests} requests, {args.concurrency} client threads, gunicorn "
        f"{args.gunicorn_workers} workers x {args.gunicorn_threads} threads, {os.cpu_count()} CPUs (client on the same host)\n"
    )
    print("| database | requests | ok | errors | requests/s | p50 ms | p99 ms | max ms | rows stored |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        rate = result.sent / result.wall if result.wall else 0.0
        errors = ", ".join(f"{status}: {n}" for status, n in sorted(result.errors.items())) or "0"
        print(
            f"| {result.database} | {result.sent} | {result.ok} | {errors} | {rate:.0f} | "
            f"{result.percentile(0.5):.1f} | {result.percentile(0.99):.1f} | {max(result.latencies) * 1000:.1f} | "
            f"{result.stored} |"
        )
        if result.stored != result.ok:
            print(f"  !! {result.database}: {result.ok} answers 200 but {result.stored} rows stored")
        if result.latencies:
            print(f"  mean {statistics.mean(result.latencies) * 1000:.1f} ms", file=sys.stderr)
    return 0 if all(r.stored == r.ok and not r.errors for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
