"""The ``make run`` demo when no credentials are configured.

Starts the two stand-ins (a generated BigCommerce store, an org set up for b2s), then, once b2s runs,
registers the store's webhooks against the local server, loads the store's history, and drives the
store for a while through the stand-in's control API: orders placed, some shipped, one refunded, carts
abandoned and converted. Every change reaches b2s the way production traffic does, as webhooks.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import requests

from b2s.env import SANDBOX_BIGCOMMERCE_PORT, SANDBOX_SALESFORCE_PORT

READY_TIMEOUT_SECONDS = 30
SETTLE_TIMEOUT_SECONDS = 60
# The generated store: registered customers, and history (placed before the hooks exist) for the backfill.
STORE_SEED = 1
STORE_CUSTOMERS = 40
STORE_HISTORY_ORDERS = 30
STORE_HASH = "sandbox"
# The stand-in org has one currency (like most orgs), so the demo shops in the store's default currency.
CURRENCY = "USD"


@dataclass(frozen=True)
class SandboxPorts:
    """Where the stand-ins listen (``SANDBOX_SALESFORCE_PORT`` / ``SANDBOX_BIGCOMMERCE_PORT``)."""

    salesforce: int
    bigcommerce: int

    @classmethod
    def from_env(cls, environ: dict[str, str] | os._Environ[str] = os.environ) -> SandboxPorts:
        return cls(
            int(environ.get("SANDBOX_SALESFORCE_PORT") or SANDBOX_SALESFORCE_PORT),
            int(environ.get("SANDBOX_BIGCOMMERCE_PORT") or SANDBOX_BIGCOMMERCE_PORT),
        )

    @property
    def salesforce_url(self) -> str:
        return f"https://127.0.0.1:{self.salesforce}"

    @property
    def bigcommerce_url(self) -> str:
        return f"https://127.0.0.1:{self.bigcommerce}"


def sandbox_environment_prepare(*, tls_dir: Path, ports: SandboxPorts) -> None:
    """Point this process and its children at the stand-ins (before Django reads its settings)."""
    os.environ["SANDBOX_SALESFORCE_PORT"] = str(ports.salesforce)
    os.environ["SANDBOX_BIGCOMMERCE_PORT"] = str(ports.bigcommerce)
    os.environ.setdefault("SANDBOX_TLS_DIR", str(tls_dir))
    os.environ.setdefault("BIGCOMMERCE_CA_BUNDLE", str(tls_dir / "ca.pem"))


def _ready_wait(process: Popen[str], name: str) -> str:
    """The stand-in's ``ready URL`` line; later output is drained so the pipe never fills."""
    result: list[str] = []

    def read() -> None:
        line = process.stdout.readline() if process.stdout else ""
        result.append(line)
        for _ in process.stdout or ():
            pass

    reader = threading.Thread(target=read, daemon=True, name=f"{name}-stdout")
    reader.start()
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not result and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    line = result[0] if result else ""
    if not line.startswith("ready "):
        raise RuntimeError(f"The {name} stand-in did not start (it said: {line.strip()!r}).")
    return line.split(" ", 1)[1].strip()


def sandbox_start(*, tls_dir: Path, ports: SandboxPorts) -> list[Popen[str]]:
    """Start both stand-ins, wait for their ready lines, and return their processes."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    processes: list[Popen[str]] = []
    store = [
        "--store-hash",
        STORE_HASH,
        "--seed",
        str(STORE_SEED),
        "--customers",
        str(STORE_CUSTOMERS),
        "--orders",
        "0",
        "--carts",
        "0",
    ]
    for name, port, extra in (("salesforce", ports.salesforce, []), ("bigcommerce", ports.bigcommerce, store)):
        args = [sys.executable, "-m", "sandbox", name, "--port", str(port), "--tls-dir", str(tls_dir), *extra]
        print(f"Starting the {name} stand-in on port {port}")
        process = Popen(args, stdout=subprocess.PIPE, text=True, start_new_session=True)
        processes.append(process)
        url = _ready_wait(process, name)
        print(f"  {name} stand-in ready at {url}")
    return processes


class StoreControl:
    """The BigCommerce stand-in's control API (``/__sandbox__/...``)."""

    def __init__(self, *, base_url: str, ca_bundle: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = ca_bundle

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(method, f"{self.base_url}/__sandbox__/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else None

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.call("GET", "state")
        return state


def history_seed(*, control: StoreControl, count: int = STORE_HISTORY_ORDERS) -> list[int]:
    """Place ``count`` past orders (over the last year, repeat customers among them) before any hook exists."""
    customers = [customer["id"] for customer in control.state()["customers"]][:12]
    now = time.time()
    placed = []
    for index in range(count):
        spec: dict[str, Any] = {
            "currency_code": CURRENCY,
            "date_created": int(now - (count - index) * 11 * 86400),
            "status_id": 10 if index % 3 else 2,
        }
        # Two thirds registered (a few customers order repeatedly), one third guests.
        spec["customer_id"] = customers[index % len(customers)] if customers and index % 3 != 2 else 0
        placed.append(control.call("POST", "orders", spec)["id"])
    return placed


@dataclass
class DemoLog:
    """What the demo did, for the summary."""

    orders: list[int] = field(default_factory=list)
    shipped: list[int] = field(default_factory=list)
    refunded: list[int] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)


def store_drive(
    *, control: StoreControl, seconds: float, tick: float = 1.5, say: Callable[[str], None] = print
) -> DemoLog:
    """Play shoppers against the stand-in for ``seconds``: every change fires its webhooks to b2s."""
    log = DemoLog()
    customers = [customer["id"] for customer in control.state()["customers"]][:6]
    pending_ship: list[int] = []
    convertible: list[str] = []
    deadline = time.monotonic() + seconds
    step = 0

    def order(spec: dict[str, Any]) -> int:
        placed = control.call("POST", "orders", {"currency_code": CURRENCY, **spec})
        log.orders.append(placed["id"])
        pending_ship.append(placed["id"])
        say(f"  order #{placed['id']} placed ({placed['total_inc_tax']} {placed['currency_code']})")
        order_id: int = placed["id"]
        return order_id

    def cart(band: str, customer_index: int | None) -> str:
        spec: dict[str, Any] = {"amount_band": band, "currency_code": CURRENCY}
        if customer_index is not None and customers:
            spec["customer_id"] = customers[customer_index % len(customers)]
        created = control.call("POST", "carts", spec)
        control.call("POST", f"carts/{created['id']}/abandon")
        log.abandoned.append(created["id"])
        say(f"  cart {created['id'][:8]} abandoned ({created['cart_amount']}, {band} the opportunity threshold)")
        cart_id: str = created["id"]
        return cart_id

    while True:
        kind = step % 10
        if kind in (0, 2, 6, 8) or not customers:
            # Repeat customers build up lifetime value and RFM; the first order is large enough for a tier.
            spec: dict[str, Any] = {"customer_id": customers[step % len(customers)]} if customers else {}
            if step == 0:
                spec["products"] = [{"name": "Espresso machine (demo)", "price_ex_tax": "2400.00", "quantity": 3}]
            order(spec)
        elif kind == 1:
            order({"customer_id": 0})  # a guest checkout
        elif kind in (3, 7) and pending_ship:
            order_id = pending_ship.pop(0)
            control.call("POST", f"orders/{order_id}/shipments", {})
            log.shipped.append(order_id)
            say(f"  order #{order_id} shipped")
        elif kind == 4:
            # Converted later, once b2s has made it an Opportunity: a shopper comes back for it.
            convertible.append(cart("above", step))
            cart("below", None)
        elif kind == 5 and log.shipped and not log.refunded:
            order_id = log.shipped[0]
            control.call("POST", f"orders/{order_id}/refunds", {"amount": "25.00", "reason": "demo refund"})
            log.refunded.append(order_id)
            say(f"  order #{order_id} refunded 25.00")
        elif kind == 9 and convertible:
            cart_id = convertible.pop(0)
            converted = control.call("POST", f"carts/{cart_id}/convert", {})
            log.converted.append(cart_id)
            log.orders.append(converted["id"])
            say(f"  cart {cart_id[:8]} converted into order #{converted['id']}")
        step += 1
        if time.monotonic() + tick > deadline:
            break
        time.sleep(tick)
    return log


def catalog_drive(
    *,
    control: StoreControl,
    seconds: float,
    tick: float = 1.0,
    seed: int | None = None,
    say: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Edit the stand-in's catalog for ``seconds``, one random change a tick (renames, price changes, SKU
    changes, variants added and removed, products hidden, shown, created, deleted): each fires its
    ``store/product/*`` or ``store/sku/*`` webhooks. Run it next to :func:`store_drive` (another thread) to
    have orders arrive while the catalog changes. Returns the changes made, in order."""
    changes: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    step = 0
    while True:
        body: dict[str, Any] = {"changes": 1}
        if seed is not None:
            body["seed"] = seed + step
        for change in control.call("POST", "catalog/churn", body):
            changes.append(change)
            say(f"  catalog: {change['action']} product {change['product_id']}")
        step += 1
        if time.monotonic() + tick > deadline:
            break
        time.sleep(tick)
    return changes


def queue_settle(*, control: StoreControl, web_address: str, timeout: float = SETTLE_TIMEOUT_SECONDS) -> bool:
    """Wait until the stand-in delivered every webhook and b2s worked off its queue."""
    deadline = time.monotonic() + timeout
    # The stand-in answers an error when deliveries are still retrying after the wait: poll b2s anyway.
    with contextlib.suppress(requests.RequestException):
        control.call("POST", "deliveries/wait", {"timeout": min(timeout, 25.0)})
    session = requests.Session()
    session.trust_env = False
    session.headers["X-Health-Token"] = os.environ.get("HEALTH_TOKEN", "")  # the queue counts need it
    while time.monotonic() < deadline:
        try:
            queue = session.get(f"http://{web_address}/health", timeout=5).json().get("queue") or {}
        except (requests.RequestException, ValueError):
            queue = {}
        if queue.get("pending") == 0:
            return True
        time.sleep(1)
    return False


def salesforce_counts(*, base_url: str, ca_bundle: str) -> dict[str, int]:
    """Records per object in the Salesforce stand-in, plus its platform events."""
    session = requests.Session()
    session.trust_env = False
    state = session.get(f"{base_url}/__sandbox__/state", verify=ca_bundle, timeout=10).json()
    counts = {name: len(rows) for name, rows in (state.get("records") or {}).items()}
    counts["platform events"] = len(state.get("events") or [])
    return counts


def sandbox_demo_run(
    *,
    web_address: str,
    ports: SandboxPorts,
    tls_dir: Path,
    manage: Callable[..., Any],
    seconds: float,
    admin_login: str,
) -> None:
    """Register the hooks, backfill the history, drive the store, then say where to look."""
    base_url = f"http://{web_address}"
    ca_bundle = str(tls_dir / "ca.pem")
    control = StoreControl(base_url=ports.bigcommerce_url, ca_bundle=ca_bundle)
    history = history_seed(control=control)
    print(f"\nThe sandbox store has {len(history)} past orders (placed before b2s listened).")
    print(f"Registering the sandbox store's webhooks at {base_url} (--allow-insecure: local only)")
    manage("register_webhooks", "--store", STORE_HASH, "--base-url", base_url, "--allow-insecure")
    print("\nLoading the store's history with the backfill")
    manage("backfill", "--store", STORE_HASH, check=False)
    if seconds > 0:
        print(f"\nDriving the sandbox store for {seconds:.0f} seconds (every change reaches b2s as a webhook):")
        log = store_drive(control=control, seconds=seconds)
        print(
            f"Done: {len(log.orders)} orders placed, {len(log.shipped)} shipped, {len(log.refunded)} refunded, "
            f"{len(log.abandoned)} carts abandoned, {len(log.converted)} converted."
        )
    settled = queue_settle(control=control, web_address=web_address)
    if not settled:
        print("(b2s is still working off its queue; the numbers below will grow.)")
    counts = salesforce_counts(base_url=ports.salesforce_url, ca_bundle=ca_bundle)
    wanted = ("Account", "Contact", "Order", "OrderItem", "Opportunity", "Lead", "Task", "platform events")
    print("\nIn the Salesforce stand-in now: " + ", ".join(f"{counts.get(name, 0)} {name}" for name in wanted))
    print(
        "\n"
        f"  Admin:         {base_url}/admin/   {admin_login}\n"
        f"  Audit trail:   {base_url}/admin/audit/auditlog/\n"
        f"  Sandbox page:  {base_url}/sandbox/   (what landed in the Salesforce stand-in; sign in first)\n"
        f"  Stand-ins:     {ports.salesforce_url}/__sandbox__/state  {ports.bigcommerce_url}/__sandbox__/state\n"
        f"                 (CA certificate: {ca_bundle})"
    )
