"""The API-budget guard: the org's daily API usage at or above the ceiling pauses Salesforce writes.

Against both stand-ins over HTTPS: the Salesforce stand-in's control API sets the org's usage (its
``api_used`` only grows with calls, like a real org's count within a day; lowering it stands for the
rolling 24 hours moving on). Events wait while paused (pending, no attempt, no Salesforce write),
the sweep's probe (``GET limits``) sees the usage fall and lifts the guard, and the events sync.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from django.core.management import CommandError, call_command
from django_q.models import OrmQ

from orders.backfill import BackfillFilters, BackfillPaused, backfill_run
from orders.models import BackfillRun
from sync.models import ApiUsageSample, SyncSetting, WebhookEvent
from sync.rules import budget_guard_decide
from sync.salesforce import salesforce_client
from sync.services.webhooks import DRAIN_TASK, webhook_events_sweep
from sync.usage import api_budget_status

pytestmark = pytest.mark.django_db

LIMIT = 15_000
CEILING_USED = 13_500  # 90 % of 15,000


def usage_set(sandbox, *, used: int, maximum: int = LIMIT) -> None:
    """The org's daily API usage, set through the stand-in's control API."""
    answer = requests.post(
        f"{sandbox.url}/__sandbox__/api-usage", json={"used": used, "max": maximum}, verify=sandbox.ca_path, timeout=10
    )
    assert answer.json() == {"used": used, "max": maximum}


def guard_set(value: str) -> None:
    setting = SyncSetting.objects.get(key="api_budget_guard")
    setting.value = value
    setting.save()  # bumps the configuration version: this process re-reads at once


def samples() -> list[int]:
    return list(ApiUsageSample.objects.filter(service="salesforce").order_by("pk").values_list("used", flat=True))


def drains_queued() -> int:
    return sum(1 for row in OrmQ.objects.all() if row.task["func"] == DRAIN_TASK)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """A block whose on-commit work runs at its end, as if its transaction committed."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def customers(bigcommerce_sandbox):
    def make(first_name: str) -> dict:
        return bigcommerce_sandbox.app.customer_create(
            first_name=first_name, last_name="Lovelace", company="", email=f"{first_name.lower()}@example.com"
        )

    return make


# ---------------------------------------------------------------------------------------------
# The rule
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("used", "limit", "ceiling", "override", "paused"),
    [
        (13_499, 15_000, 90, "auto", False),  # 89.99 %
        (13_500, 15_000, 90, "auto", True),  # exactly 90 %: at the ceiling pauses
        (15_000, 15_000, 90, "auto", True),
        (7_500, 15_000, Decimal("50.00"), "auto", True),
        (7_499, 15_000, Decimal("50.00"), "auto", False),
        (15_000, 15_000, 90, "write", False),  # the admin keeps writing
        (0, 15_000, 90, "pause", True),  # the admin pauses at any usage
        (None, None, 90, "pause", True),
        (None, None, 90, "auto", False),  # no reading yet
        (10, 0, 90, "auto", False),  # no usable limit
        (14_000, 15_000, 90, "nonsense", True),  # an unknown override is auto
    ],
)
def test_the_rule(used, limit, ceiling, override, paused):
    assert budget_guard_decide(used=used, limit=limit, ceiling_percent=ceiling, override=override)[0] is paused


def test_the_rule_says_why():
    assert budget_guard_decide(used=13_600, limit=15_000, ceiling_percent=Decimal("90.00"), override="auto") == (
        True,
        "Salesforce writes paused: 13,600 of 15,000 daily API requests used (90.7 %), at or above the 90 % ceiling.",
    )
    assert budget_guard_decide(used=1_000, limit=15_000, ceiling_percent=90, override="auto") == (
        False,
        "1,000 of 15,000 daily API requests used (6.7 %), below the 90 % ceiling.",
    )
    assert budget_guard_decide(used=1, limit=15_000, ceiling_percent=90, override="pause") == (
        True,
        "Salesforce writes paused by an admin: api_budget_guard is set to 'pause'.",
    )


# ---------------------------------------------------------------------------------------------
# The inbox against the stand-ins
# ---------------------------------------------------------------------------------------------
def test_usage_crossing_the_ceiling_pauses_and_the_probe_resumes(
    salesforce_settings, sandbox_store, receive, process, drain, customers, committed
):
    app = salesforce_settings.app
    usage_set(salesforce_settings, used=CEILING_USED - 3)
    with committed():  # a sample read inside a transaction is written when it commits
        salesforce_client().field_limits({"Account", "Contact"})  # 1 call: 13,498 used
    assert samples() == [13_498]  # the process's first reading is stored at once

    # The customer sync costs 2 calls (the lookup by email, one composite): 13,499, then 13,500 = 90 %.
    first = process(receive("store/customer/created", customers("Ada")["id"]))
    assert (first.status, first.attempts) == ("done", 1)
    assert app.api_used == CEILING_USED
    # The crossing is stored at once, though a minute has not passed since the first sample.
    assert samples() == [13_498, 13_500]
    status = api_budget_status()
    assert (status.paused, status.used, status.limit, status.share) == (True, 13_500, LIMIT, 0.9)
    assert status.reason.startswith("Salesforce writes paused: 13,500 of 15,000 daily API requests used (90.0 %)")

    # Paused: the next event waits, untouched; Salesforce sees no call.
    second = receive("store/customer/created", customers("Grace")["id"])
    assert process(second).status == "pending"
    assert drain() == 0
    second.refresh_from_db()
    assert (second.status, second.attempts, second.last_error_code) == ("pending", 0, "")
    assert app.api_used == CEILING_USED and len(app.records("Account")) == 1

    # The sweep probes the usage once (GET limits, one counted call) and still finds it too high.
    with committed():
        assert webhook_events_sweep() == 0
    assert app.api_used == CEILING_USED + 1
    assert samples() == [13_498, 13_500, 13_501]
    assert process(second).status == "pending"

    # The rolling day moves on: the next sweep's probe reads 1,001 and the guard lifts and rings for a drain.
    usage_set(salesforce_settings, used=1_000)
    OrmQ.objects.all().delete()
    with committed():
        webhook_events_sweep()
    assert samples()[-1] == 1_001 and api_budget_status().paused is False
    assert drains_queued() == 1
    assert drain() == 1
    second.refresh_from_db()
    assert (second.status, second.attempts) == ("done", 1)
    assert sorted(account["Name"] for account in app.records("Account")) == ["Ada Lovelace", "Grace Lovelace"]


def test_a_failed_event_waits_for_its_retry_without_an_attempt(salesforce_settings, sandbox_store, receive, process):
    app = salesforce_settings.app
    event = receive("store/customer/created", 4242)
    WebhookEvent.objects.filter(pk=event.pk).update(status="failed", attempts=2, next_attempt_at=event.received_at)
    guard_set("pause")
    calls = app.api_used
    event = process(event)
    assert (event.status, event.attempts) == ("failed", 2)
    assert app.api_used == calls


def test_override_write_keeps_writing_above_the_ceiling(
    salesforce_settings, sandbox_store, receive, process, customers
):
    usage_set(salesforce_settings, used=14_000)
    salesforce_client().field_limits({"Account", "Contact"})
    assert api_budget_status().paused is True
    guard_set("write")
    status = api_budget_status()
    assert (status.paused, status.override, status.used) == (False, "write", 14_001)
    event = process(receive("store/customer/created", customers("Ada")["id"]))
    assert (event.status, event.attempts) == ("done", 1)
    assert [account["Name"] for account in salesforce_settings.app.records("Account")] == ["Ada Lovelace"]


def test_override_pause_pauses_at_any_usage_until_set_back(
    salesforce_settings, sandbox_store, receive, process, customers
):
    app = salesforce_settings.app
    guard_set("pause")
    event = receive("store/customer/created", customers("Ada")["id"])
    assert (process(event).status, event.attempts) == ("pending", 0)
    webhook_events_sweep()
    assert app.api_used == 0  # no reading lifts an admin's pause: no probe was made
    assert app.records("Account") == []
    guard_set("auto")
    assert (process(event).status, event.attempts) == ("done", 1)


def test_the_backfill_stops_between_batches_while_paused(salesforce_settings, sandbox_store, bigcommerce_sandbox):
    bigcommerce_sandbox.app.order_create(currency_code="USD")
    guard_set("pause")
    with pytest.raises(BackfillPaused, match="api_budget_guard is set to 'pause'"):
        backfill_run(store=sandbox_store, filters=BackfillFilters())
    run = BackfillRun.objects.get()
    assert (run.status, run.last_order_id, run.synced) == ("interrupted", 0, 0)
    assert "--resume" in run.last_error
    assert salesforce_settings.app.records("Order") == []
    with pytest.raises(CommandError, match="the checkpoint is saved"):
        call_command("backfill", "--store", sandbox_store.store_hash, "--resume")
    guard_set("auto")
    call_command("backfill", "--store", sandbox_store.store_hash, "--resume")
    assert BackfillRun.objects.get().status == "done"
    assert len(salesforce_settings.app.records("Order")) == 1
