"""Benchmark: the memory of a running b2s (web server + django-q2 cluster) after pushing orders through it.

    .venv/bin/python bench/memory.py                      # 10,000 orders, 2 workers, temporary SQLite file
    .venv/bin/python bench/memory.py --orders 500         # a quick run
    .venv/bin/python bench/memory.py --database-url postgres://postgres@127.0.0.1:5432/b2s_memory

The service is started the way ``make run`` starts it, with the very commands of ``b2s/run.py``
(``web_command``, ``cluster_command``), against a fresh database, with ``Q_WORKERS`` workers and the
real settings (``b2s.settings``, ``DEBUG`` off). The Salesforce and BigCommerce stand-ins run in this
process (over HTTPS, no added latency) and are not measured. The BigCommerce stand-in fires
``store/order/created`` at the web server for each new order; the cluster fetches the order and writes
it to Salesforce. Orders are created at the pace the service keeps up with (at most ``--in-flight``
waiting), so the queue never holds thousands of tasks.

When every order is in Salesforce, after ``--settle`` seconds, each process of the service is read
from ``/proc/<pid>/smaps_rollup``:

- RSS: the pages the process has in memory, shared ones counted in full in every process that maps them.
- PSS: each shared page divided among the processes sharing it. Forked processes (gunicorn workers,
  the cluster's workers) share the pages of their parent until written, so the PSS sum is what the
  service really costs the machine; the RSS sum counts those pages once per process.
- USS: the pages only that process has (Private_Clean + Private_Dirty).

The goal of issue 13 (at most ``--budget-mb`` 300 MB) is judged on the PSS total; the RSS total is
printed beside it (the issue's 588 MB was an RSS sum). The result is also written to
``bench/results/memory.json``. Exits 1 when an order is missing in Salesforce, 2 when the PSS total is
over the budget.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench_setup import bench_store_create, django_bootstrap, order_spec  # noqa: E402  (beside this script)

from b2s.run import web_ready_wait  # noqa: E402

SECRET = "bench-memory-secret-0123456789"
PREDECESSOR_MB = 82  # the Node.js predecessor, measured by issue 13


# ----------------------------------------------------------------------------- reading /proc
def proc_children() -> dict[int, list[int]]:
    """Every process's children, from /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def proc_started(pid: int) -> int:
    """Start time in clock ticks since boot (orders siblings by when they were forked)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def memory_read(pid: int) -> dict[str, int]:
    """RSS, PSS and USS in kB from /proc/<pid>/smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        values[name] = int(rest.split()[0])
    return {
        "rss_kb": values["Rss"],
        "pss_kb": values["Pss"],
        "uss_kb": values.get("Private_Clean", 0) + values.get("Private_Dirty", 0),
    }


class Roles:
    """Names the processes of the web server and the cluster by their place in the process tree.

    gunicorn: the started process is the master, its children the workers (runserver: one process).
    django-q2: the started process (``manage.py qcluster``) forks the sentinel, which also runs the
    scheduler; the sentinel forks the workers first, then the monitor, then the pusher. Workers forked
    later (recycled or reincarnated) are workers too.
    """

    def __init__(self, *, web_pid: int, cluster_pid: int, workers: int) -> None:
        self.web_pid, self.cluster_pid, self.workers = web_pid, cluster_pid, workers
        self.monitor_pid = self.pusher_pid = None

    def current(self) -> list[tuple[str, int]]:
        children = proc_children()
        web_children = children.get(self.web_pid, [])
        roles = [("web master" if web_children else "web", self.web_pid)]
        roles += [("web worker", pid) for pid in sorted(web_children)]
        roles.append(("q cluster (main)", self.cluster_pid))
        for sentinel in children.get(self.cluster_pid, []):
            roles.append(("q sentinel + scheduler", sentinel))
            pool = sorted(children.get(sentinel, []), key=lambda pid: (proc_started(pid), pid))
            if self.monitor_pid is None and len(pool) >= self.workers + 2:
                self.monitor_pid, self.pusher_pid = pool[self.workers], pool[self.workers + 1]
            for pid in pool:
                role = {self.monitor_pid: "q monitor", self.pusher_pid: "q pusher"}.get(pid, "q worker")
                roles.append((role, pid))
        return roles

    def measure(self) -> list[dict]:
        rows = []
        for role, pid in self.current():
            try:
                rows.append({"role": role, "pid": pid, **memory_read(pid)})
            except (OSError, KeyError):
                continue  # it ended between the listing and the read (a recycled worker)
        return rows


def totals(rows: list[dict]) -> dict[str, float]:
    return {key: sum(row[f"{key}_kb"] for row in rows) / 1024 for key in ("rss", "pss", "uss")}


# ----------------------------------------------------------------------------- the run
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def table_print(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'process':<24} {'pid':>7} {'RSS MB':>8} {'PSS MB':>8} {'USS MB':>8}")
    for row in rows:
        print(
            f"{row['role']:<24} {row['pid']:>7} {row['rss_kb'] / 1024:>8.1f} {row['pss_kb'] / 1024:>8.1f} "
            f"{row['uss_kb'] / 1024:>8.1f}"
        )
    total = totals(rows)
    print(f"{'total':<24} {len(rows):>7} {total['rss']:>8.1f} {total['pss']:>8.1f} {total['uss']:>8.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="Q_WORKERS of the cluster")
    parser.add_argument("--in-flight", type=int, default=200, help="at most this many orders waiting for the cluster")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds between the last order and the reading")
    parser.add_argument("--budget-mb", type=float, default=300.0)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument(
        "--database-url",
        default="",
        help="An existing, empty database (migrated here). Default: a temporary SQLite file.",
    )
    args = parser.parse_args()
    # Stopped with SIGTERM (or Ctrl-C from a background job), still stop the servers it started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    workdir = django_bootstrap(prefix="b2s-bench-memory-", database_url=args.database_url)
    database_url = os.environ["DATABASE_URL"]

    from django.db.models import Count

    from b2s.run import cluster_command, web_command
    from sandbox.bigcommerce.app import BigCommerceSandbox
    from sandbox.salesforce import SalesforceSandbox
    from sandbox.server import ServerThread
    from sync.models import WebhookEvent

    salesforce = ServerThread(SalesforceSandbox(), tls_dir=workdir / "sf-tls").start()
    # No rate limit to wait for: this run is about memory, not about BigCommerce's quota.
    bigcommerce_app = BigCommerceSandbox(rate_limit_quota=1_000_000)
    bigcommerce = ServerThread(bigcommerce_app, tls_dir=workdir / "bc-tls").start()
    address = f"127.0.0.1:{free_port()}"
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SALESFORCE_", "BIGCOMMERCE_", "Q_", "REDIS_URL", "DEBUG"))
    }
    env.update(
        # The real settings, as `make run` has them; the secret key is this process's (the store's secrets
        # are encrypted with a key derived from it).
        DJANGO_SETTINGS_MODULE="b2s.settings",
        DATABASE_URL=database_url,
        SALESFORCE_LOGIN_URL=salesforce.url,
        SALESFORCE_CA_BUNDLE=salesforce.ca_path,
        BIGCOMMERCE_CA_BUNDLE=bigcommerce.ca_path,
        Q_WORKERS=str(args.workers),
        HEALTH_TOKEN=secrets.token_urlsafe(16),
        LOG_LEVEL="WARNING",
    )
    processes: list[subprocess.Popen] = []
    try:
        store = bench_store_create(bigcommerce_app, api_base_url=bigcommerce.url, webhook_secret=SECRET)
        bigcommerce_app.hook_create(
            "store/order/*",
            f"http://{address}/webhooks/bigcommerce/{store.store_hash}/",
            headers={"X-B2S-Webhook-Secret": SECRET},
        )
        for name, command in (("cluster", cluster_command()), ("web", web_command(address))):
            log = (workdir / f"{name}.log").open("w")
            processes.append(
                subprocess.Popen(
                    command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        cluster, web = processes
        web_ready_wait(address, processes)
        roles = Roles(web_pid=web.pid, cluster_pid=cluster.pid, workers=args.workers)
        time.sleep(2)  # the cluster's processes forked and idle
        started_rows = roles.measure()
        table_print(started_rows, "Started, idle (before any order):")

        rng = random.Random(42)
        customers = [bigcommerce_app.customer_create(email=f"buyer{index}@example.com")["id"] for index in range(200)]
        catalog = [product for product in bigcommerce_app._data.catalog if product.type == "physical"]
        print(f"\nPushing {args.orders} orders (at most {args.in_flight} waiting) ...", flush=True)
        started = time.monotonic()
        deadline = started + args.timeout
        created = done = 0
        report_every = max(args.orders // 10, 1)
        next_report = report_every
        while done < args.orders:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out after {done} orders; see {workdir}")
            if any(process.poll() is not None for process in processes):
                raise SystemExit(f"a b2s process stopped; see the logs in {workdir}")
            counts = dict(
                WebhookEvent.objects.values_list("status").annotate(count=Count("id")).values_list("status", "count")
            )
            done = counts.get("done", 0)
            if counts.get("dead"):
                raise SystemExit(f"{counts['dead']} events dead; see the logs in {workdir}")
            room = min(args.in_flight - (created - done), args.orders - created)
            for _ in range(max(room, 0)):
                bigcommerce_app.order_create(order_spec(rng, catalog, customers, guest=created % 500))
                created += 1
            if done >= next_report:
                total = totals(roles.measure())
                print(
                    f"  {done:>6} orders done, {time.monotonic() - started:6.0f} s; "
                    f"RSS total {total['rss']:.0f} MB, PSS total {total['pss']:.0f} MB",
                    flush=True,
                )
                next_report += report_every
            time.sleep(0.2)
        seconds = time.monotonic() - started
        time.sleep(args.settle)
        rows = roles.measure()
        orders_in_salesforce = len(salesforce.app.records("Order"))
        table_print(rows, f"After {args.orders} orders ({seconds:.0f} s, {args.orders / seconds:.1f} orders/s):")
        total = totals(rows)
        print(
            f"\nweb: {' '.join(web_command('ADDRESS')[1:])}; cluster: {' '.join(cluster_command()[1:])} "
            f"with Q_WORKERS={args.workers}; database: {database_url.split(':', 1)[0]}"
        )
        print(
            f"Goal (issue 13): PSS total <= {args.budget_mb:.0f} MB: {total['pss']:.0f} MB "
            f"({'met' if total['pss'] <= args.budget_mb else 'NOT met'}); RSS total {total['rss']:.0f} MB. "
            f"Node.js predecessor: {PREDECESSOR_MB} MB."
        )
        print(f"Orders in Salesforce: {orders_in_salesforce} of {args.orders}")
        results = PROJECT / "bench" / "results"
        results.mkdir(exist_ok=True)
        (results / "memory.json").write_text(
            json.dumps(
                {
                    "orders": args.orders,
                    "workers": args.workers,
                    "seconds": round(seconds, 1),
                    "database": database_url.split(":", 1)[0],
                    "web_command": web_command("ADDRESS")[1:],
                    "idle": started_rows,
                    "processes": rows,
                    "total_mb": {key: round(value, 1) for key, value in total.items()},
                },
                indent=2,
            )
        )
        if orders_in_salesforce != args.orders:
            return 1
        return 0 if total["pss"] <= args.budget_mb else 2
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
        salesforce.stop()
        bigcommerce.stop()
        bigcommerce_app.close()


if __name__ == "__main__":
    raise SystemExit(main())
