"""The README's screenshots of the admin, taken in a headless Chromium at 1280 px.

    .venv/bin/python -m docs.screenshots [--out docs/screenshots]      (or: make screenshots)

Starts b2s on a throw-away SQLite database filled with demo data (a store, an hour of webhook events in
every state with their audit entries, carts, a backfill run under way), serves it on a free local port,
signs in with Selenium and saves ``dashboard.png`` (the admin index) and ``events.png`` (the webhook inbox).
Needs Debian's ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
PASSWORD = "screenshots-only-password-4711"
PAGES = {"dashboard.png": "/admin/", "events.png": "/admin/sync/webhookevent/"}
TALL = {"dashboard.png"}


def django_ready(workdir: Path) -> None:
    """Django on a fresh SQLite file in ``workdir``, migrated (the seeded configuration included)."""
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'screenshots.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2s.settings_test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def demo_data_create() -> Any:
    """A store's last day as an operator would find it; returns the superuser to sign in as."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from audit.services import audit_record
    from ops.alerts import alerts_evaluate
    from ops.services import hourly_stats_rollup
    from orders.models import BackfillRun
    from recovery.models import Cart
    from sync.models import ApiUsageSample, IntakeRejection, Store, WebhookEvent

    now = timezone.now()
    store = Store.objects.create(name="Acme Outdoor Supplies", store_hash="acme42", store_id="1001")
    rng = random.Random(42)
    scopes = ["store/order/created", "store/order/statusUpdated", "store/customer/updated", "store/cart/abandoned"]
    # A day of traffic, busier in the shop's afternoon, with a short Salesforce lock-contention episode.
    for number in range(900):
        received = now - timedelta(seconds=rng.uniform(60, 24 * 3600))
        scope = rng.choice(scopes)
        kind = scope.split("/")[1]
        resource_id = f"c0ffee{number:04d}-0000-4000-8000-000000000000" if kind == "cart" else str(4700 + number)
        episode = timedelta(hours=5) < now - received < timedelta(hours=6)
        status = rng.choices(
            ["done", "failed", "dead", "skipped", "ignored"],
            weights=[70, 20, 5, 3, 2] if episode else [95, 1.5, 0.3, 2, 1.2],
        )[0]
        failed = status in ("failed", "dead")
        latency_ms = int(rng.lognormvariate(6.8, 0.6))
        event = WebhookEvent.objects.create(
            store=store,
            scope=scope,
            resource_type=kind,
            resource_id=resource_id,
            hash=f"{number:040x}",
            event_created_at=int((received - timedelta(seconds=1)).timestamp()),
            body={"scope": scope, "data": {"type": kind, "id": resource_id}},
            received_at=received,
            status=status,
            attempts=3 if failed else 1,
            last_error_code="UNABLE_TO_LOCK_ROW" if failed else "",
            last_error_message="unable to obtain exclusive access to this record" if failed else "",
            started_at=received,
            finished_at=received + timedelta(milliseconds=latency_ms),
            duration_ms=latency_ms // 3,
        )
        if status in ("done", "failed", "dead"):
            audit_record(
                operation="CART_SYNC" if kind == "cart" else f"{kind.upper()}_SYNC",
                store=store,
                bigcommerce_id=resource_id,
                status="success" if status == "done" else "failed",
                salesforce_ids=["001Dn00000AbCdEAAZ", "801Dn00000FgHiJAAZ"] if status == "done" else [],
                error_code="UNABLE_TO_LOCK_ROW" if failed else "",
                error="unable to obtain exclusive access to this record" if failed else "",
                event=event,
                salesforce_api_calls=1,
                bigcommerce_api_calls=1,
            )
    for minutes in (1, 3, 4):  # a backlog that has waited a few minutes
        WebhookEvent.objects.create(
            store=store,
            scope="store/order/created",
            resource_type="order",
            resource_id=str(9000 + minutes),
            hash=f"pending{minutes}",
            body={"scope": "store/order/created", "data": {"type": "order", "id": 9000 + minutes}},
            received_at=now - timedelta(minutes=minutes),
        )
    ApiUsageSample.objects.create(service="salesforce", used=61_234, limit=100_000, recorded_at=now)
    ApiUsageSample.objects.create(
        service="bigcommerce", store=store, used=112, limit=450, window_seconds=30, recorded_at=now
    )
    IntakeRejection.objects.create(
        store_hash=store.store_hash, reason="authentication", minute=now.replace(second=0, microsecond=0), count=3
    )
    hourly_stats_rollup(since=now - timedelta(days=7), until=now)
    alerts_evaluate(now=now)
    for number, state in enumerate(("open", "open", "converted", "expired")):
        Cart.objects.create(
            store=store,
            cart_id=f"c0ffee{number:02d}-0000-4000-8000-000000000000",
            value=Decimal("149.90") + number * 40,
            currency="USD",
            email=f"shopper{number}@example.com",
            state=state,
            opportunity_id=f"006Dn00000Opp{number:02d}AAA",
            abandoned_at=now - timedelta(hours=3 + number),
            abandon_count=1,
            order_id=4800 + number if state == "converted" else None,
        )
    BackfillRun.objects.create(
        store=store,
        filters_key="demo",
        total=12_000,
        synced=6_840,
        unchanged=410,
        skipped=25,
        failed=3,
        started_at=now - timedelta(minutes=90),
    )
    return get_user_model().objects.create_superuser("operator", "operator@example.com", PASSWORD)


def server_start() -> tuple[Any, str]:
    """b2s (with its static files) on a free local port, in a thread; returns the server and its URL."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class names it so)
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def screenshots_take(*, base_url: str, username: str, out: Path) -> list[Path]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser.chromium import WINDOW, browser_missing, chromium_start

    reason = browser_missing()
    if reason:
        raise SystemExit(f"Cannot take screenshots: {reason}")
    driver = chromium_start()
    saved = []
    try:
        inner = driver.execute_script("return window.innerWidth")
        driver.set_window_size(WINDOW[0] + (WINDOW[0] - inner), WINDOW[1])
        driver.get(base_url + "/admin/login/")
        driver.find_element(By.NAME, "username").send_keys(username)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        WebDriverWait(driver, 15).until(lambda page: "/admin/login/" not in page.current_url)
        out.mkdir(parents=True, exist_ok=True)
        for name, path in PAGES.items():
            driver.get(base_url + path)
            # The dashboard whole (as tall as its content), the lists as a 1280 x 900 screen shows them.
            height = driver.execute_script("return document.documentElement.scrollHeight") if name in TALL else 0
            driver.set_window_size(WINDOW[0] + (WINDOW[0] - inner), min(max(WINDOW[1], height + 120), 4000))
            target = out / name
            driver.save_screenshot(str(target))
            saved.append(target)
    finally:
        driver.quit()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=PROJECT / "docs" / "screenshots")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="b2s-screenshots-") as workdir:
        django_ready(Path(workdir))
        operator = demo_data_create()
        server, base_url = server_start()
        try:
            for path in screenshots_take(base_url=base_url, username=operator.username, out=args.out):
                print(f"Saved {path}")
        finally:
            server.shutdown()
            server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
