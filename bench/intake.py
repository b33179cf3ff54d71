"""Benchmark: the webhook endpoint under gunicorn, on SQLite and on PostgreSQL, against a reference.

    .venv/bin/python bench/intake.py [--requests 3000] [--concurrency 16] [--time-limit 60]
        [--databases sqlite,postgres] [--postgres-url postgres://postgres@127.0.0.1:5432/b2s_bench]
        [--gunicorn-workers 2] [--gunicorn-threads 1] [--targets b2s,reference]

For each database it creates a fresh one (a temporary SQLite file; on PostgreSQL the database
named in ``--postgres-url``, dropped and created by this script), migrates it, adds a store
authenticating callbacks with a header secret, starts gunicorn on a free loopback port, and
posts ``--requests`` distinct, authentic ``store/order/created`` callbacks from
``--concurrency`` threads, each with its own keep-alive connection (stopping early at
``--time-limit`` seconds). Every request does the real work: store lookup, JSON parse,
constant-time authentication, schema check, the insert under the unique constraint and the
django-q2 ORM-broker enqueue. No cluster runs, so nothing is processed: this measures intake.

Right after b2s, on the same database server with the same gunicorn settings and load, it runs the
reference (``bench/intake_reference``): a minimal Django + DRF project whose one view checks an
HMAC-SHA256 of the raw body and inserts one row. Every request carries both b2s's header secret and
the reference's signature, so both servers get the same bytes.

It prints requests/second and the p50/p99/max latency seen by the client for both, b2s's ratios to
the reference (throughput: higher is better; p99: lower is better), and the requests answered 200
whose row is missing ("lost"); it fails when any are lost or any request was refused.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench_setup import postgres_drop, postgres_recreate  # beside this script

PROJECT = Path(__file__).resolve().parent.parent
STORE_HASH = "benchstore"
STORE_ID = "1000001"
SECRET = "bench-webhook-secret-0123456789"
HEADER = "X-B2S-Webhook-Secret"
SCOPE = "store/order/created"
REFERENCE_HEADER = "X-Reference-Signature"
WARMUP = 50
TARGETS = {
    # name: (settings module, WSGI application, manage.py command, table holding one row per 200)
    "b2s": ("b2s.settings_test", "b2s.wsgi:application", ["manage.py"], "sync_webhookevent"),
    "reference": (
        "bench.intake_reference.settings",
        "bench.intake_reference.wsgi:application",
        ["-m", "bench.intake_reference.manage"],
        "intake_reference_delivery",
    ),
}


@dataclass
class Result:
    database: str
    target: str = "b2s"
    sent: int = 0
    ok: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    stored: int = 0

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000

    @property
    def rate(self) -> float:
        return self.sent / self.wall if self.wall else 0.0

    @property
    def lost(self) -> int:
        """Requests answered 200 whose row is not in the database."""
        return max(0, self.ok - self.stored)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(database_url: str, settings_module: str = "b2s.settings_test") -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE=settings_module,
        REFERENCE_HMAC_KEY=SECRET,
        LOG_LEVEL="WARNING",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    return env


def manage(env: dict[str, str], *args: str, command: list[str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, *(command or ["manage.py"]), *args],
        cwd=PROJECT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def rows_stored(database: str, url: str, table: str = "sync_webhookevent") -> int:
    query = f"SELECT count(*) FROM {table}"
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
            headers = {
                "Content-Type": "application/json",
                HEADER: SECRET,
                REFERENCE_HEADER: hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
                "Content-Length": str(len(body)),
            }
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
    result.wall += time.perf_counter() - started


def bench_database(database: str, urls: dict[str, str], args: argparse.Namespace) -> list[Result]:
    """Serve every target at once (each on its own database) and load them in alternating rounds.

    Round after round, each target gets ``requests / rounds`` callbacks while the others idle, so a
    change in the machine's background load falls on both alike.
    """
    results = {target: Result(database, target) for target in urls}
    with ExitStack() as stack:
        servers = {
            target: stack.enter_context(target_server(database, url, args, target)) for target, url in urls.items()
        }
        per_round = -(-args.requests // args.rounds)
        for number in range(args.rounds):
            first = 1 + number * per_round
            count = min(per_round, args.requests - number * per_round)
            order = list(servers.items())
            for target, (port, _warm) in order if number % 2 == 0 else order[::-1]:  # ABBA: drift falls alike
                load_run(
                    port,
                    first=first,
                    count=count,
                    concurrency=args.concurrency,
                    time_limit=args.time_limit / args.rounds,
                    result=results[target],
                )
        for target, url in urls.items():
            results[target].stored = rows_stored(database, url, TARGETS[target][3]) - servers[target][1]
    return list(results.values())


@contextmanager
def target_server(database: str, url: str, args: argparse.Namespace, target: str) -> Iterator[tuple[int, int]]:
    """Migrate ``url`` for ``target``, serve it with gunicorn, warm it up; yields (port, warm-up rows)."""
    settings_module, application, command, _table = TARGETS[target]
    env = base_env(url, settings_module)
    if args.reference_conn_max_age is not None:
        env["REFERENCE_CONN_MAX_AGE"] = str(args.reference_conn_max_age)
    manage(env, "migrate", "--no-input", "-v", "0", command=command)
    if target == "b2s":
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
            application,
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
        warm = Result(database, target)
        load_run(port, first=10_000_000, count=WARMUP, concurrency=args.concurrency, time_limit=30, result=warm)
        yield port, warm.ok
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
    parser.add_argument("--concurrency", type=int, default=16, help="Client threads, one connection each.")
    parser.add_argument("--time-limit", type=float, default=60.0, help="Seconds per database at most.")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/b2s_bench")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument(
        "--gunicorn-threads", type=int, default=1, help="1: gunicorn's sync worker class; more: gthread workers."
    )
    parser.add_argument("--targets", default="b2s,reference", help="b2s, reference, or both (b2s first).")
    parser.add_argument(
        "--rounds", type=int, default=4, help="Alternating load rounds per database (requests split among them)."
    )
    parser.add_argument(
        "--reference-conn-max-age",
        type=int,
        default=None,
        help="CONN_MAX_AGE of the reference (default 60: persistent connections, no health check).",
    )
    parser.add_argument(
        "--sqlite-conn-max-age",
        type=int,
        default=None,
        help="CONN_MAX_AGE of b2s on SQLite (default: as b2s is configured).",
    )
    args = parser.parse_args()

    targets = [name.strip() for name in args.targets.split(",") if name.strip()]
    if unknown := [name for name in targets if name not in TARGETS]:
        raise SystemExit(f"unknown target {unknown[0]!r}")
    results: list[Result] = []
    for database in [name.strip() for name in args.databases.split(",") if name.strip()]:
        with ExitStack() as cleanup:
            urls: dict[str, str] = {}
            for target in targets:  # each on a fresh database of the same server
                if database == "sqlite":
                    workdir = Path(tempfile.mkdtemp(prefix=f"b2s-bench-intake-{target}-"))
                    cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
                    urls[target] = f"sqlite:///{workdir / 'bench.sqlite3'}"
                    if args.sqlite_conn_max_age is not None and target == "b2s":
                        urls[target] += f"?conn_max_age={args.sqlite_conn_max_age}"
                elif database == "postgres":
                    parts = urlsplit(args.postgres_url)
                    suffix = "" if target == "b2s" else f"_{target}"
                    urls[target] = urlunsplit(parts._replace(path=parts.path + suffix))
                    postgres_recreate(urls[target])
                    cleanup.callback(postgres_drop, urls[target])
                else:
                    raise SystemExit(f"unknown database {database!r}")
            results.extend(bench_database(database, urls, args))

    print(
        f"\nIntake benchmark: {args.requests} requests in {args.rounds} alternating rounds, "
        f"{args.concurrency} client threads, gunicorn "
        f"{args.gunicorn_workers} {'sync' if args.gunicorn_threads == 1 else 'gthread'} workers x "
        f"{args.gunicorn_threads} threads, {os.cpu_count()} CPUs (client on the same host)\n"
    )
    print("| database | target | requests | ok | errors | requests/s | p50 ms | p99 ms | max ms | rows stored | lost |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for result in results:
        errors = ", ".join(f"{status}: {n}" for status, n in sorted(result.errors.items())) or "0"
        print(
            f"| {result.database} | {result.target} | {result.sent} | {result.ok} | {errors} | {result.rate:.0f} | "
            f"{result.percentile(0.5):.1f} | {result.percentile(0.99):.1f} | "
            f"{max(result.latencies, default=0) * 1000:.1f} | {result.stored} | {result.lost} |"
        )
        if result.stored != result.ok:
            print(f"  !! {result.database} {result.target}: {result.ok} answers 200 but {result.stored} rows stored")
        if result.latencies:
            print(f"  mean {statistics.mean(result.latencies) * 1000:.1f} ms", file=sys.stderr)
    by_key = {(r.database, r.target): r for r in results}
    for database in dict.fromkeys(r.database for r in results):
        ours, reference = by_key.get((database, "b2s")), by_key.get((database, "reference"))
        if ours and reference and reference.rate and reference.latencies and ours.latencies:
            print(
                f"\n{database}: b2s / reference throughput {ours.rate / reference.rate:.2f}x (goal >= 1.0), "
                f"p99 {ours.percentile(0.99) / reference.percentile(0.99):.2f}x (goal <= 1.5), "
                f"lost {ours.lost} / {reference.lost}"
            )
    return 0 if all(r.stored == r.ok and not r.errors for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
