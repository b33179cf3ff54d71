"""The daily recompute against the Salesforce stand-in over HTTPS, the command, the task and the schedule."""

from __future__ import annotations

import io
import math
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum
from django_q.models import Schedule

from analytics.models import CustomerValues, LedgerEntry
from analytics.seeds import SCHEDULE_FUNC, analytics_seed_apply
from analytics.services import account_fields_settle, analytics_recompute, ledger_order_record
from analytics.tasks import analytics_recompute_task
from audit.models import AuditLog
from sync.models import SyncSetting, Threshold
from sync.salesforce import salesforce_client
from tests.factories.analytics import LedgerEntryFactory, ledger_customers_create

from .conftest import NOW
from .payloads import accounts_seed, customer_key

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")
NOT_COUNTING = (0, 4, 5, 6)  # the seeded statuses that do not count


def accounts_by_key(app) -> dict[str, dict]:
    return {record["BigCommerceCustomerId__c"]: record for record in app.records("Account")}


def assert_account_holds(account: dict, row: CustomerValues) -> None:
    assert Decimal(str(account["CLV__c"])).quantize(CENT) == row.clv
    assert int(account["Total_Orders__c"]) == row.total_orders
    assert Decimal(str(account["Average_Order_Value__c"])).quantize(CENT) == row.average_order_value
    assert account["Customer_Tier__c"] == row.tier
    assert account["RFM_Score__c"] == row.rfm_score
    assert account["Last_Order_Date__c"] == (row.last_order_date.isoformat() if row.last_order_date else None)
    assert (account["Customer_Tags__c"] or "") == row.tags


def test_recompute_of_5000_customers_pushes_only_the_changed_accounts(store, salesforce):
    next_order = ledger_customers_create(store=store, customers=5000, now=NOW)
    accounts_seed(salesforce.app, store=store, customers=5000)

    first = analytics_recompute(store=store, now=NOW)
    # Nothing was pushed before: every Account changes, above the bulk threshold → one Bulk API 2.0 job.
    assert (first.customers, first.changed, first.pushed, first.failed) == (5000, 5000, 5000, 0)
    assert first.method == "bulk"
    assert len(first.bulk_jobs) == 1
    assert [job.id for job in salesforce.app.jobs.values()] == first.bulk_jobs

    # The stored values agree with an independent SQL sum over the ledger, and Salesforce holds them.
    expected = {
        row["customer_key"]: (row["clv"], row["orders"])
        for row in LedgerEntry.objects.filter(store=store)
        .exclude(status_id__in=NOT_COUNTING)
        .values("customer_key")
        .annotate(clv=Sum("net_total"), orders=Count("id"))
    }
    accounts = accounts_by_key(salesforce.app)
    rows = list(CustomerValues.objects.filter(store=store))
    assert len(rows) == 5000
    for row in rows:
        assert (row.clv, row.total_orders) == expected.get(row.customer_key, (Decimal("0.00"), 0))
        assert_account_holds(accounts[row.customer_key], row)
    assert {row.tier for row in rows} == {"Bronze", "Silver", "Gold", "Platinum"}

    # Unchanged facts, same day: nothing to send, not a single request.
    calls_before = salesforce.app.api_calls_counted()
    second = analytics_recompute(store=store, now=NOW)
    assert (second.changed, second.pushed, second.requests) == (0, 0, 0)
    assert salesforce.app.api_calls_counted() == calls_before

    # 437 customers place an order: only their Accounts are written, in ceil(437 / 200) requests.
    mark = max(account["LastModifiedDate"] for account in accounts.values())
    time.sleep(1.05)  # Salesforce stamps whole seconds: later writes get a later stamp after a second
    changed_keys = [customer_key(store, number) for number in range(1, 5001, 11)][:437]
    LedgerEntry.objects.bulk_create(
        LedgerEntryFactory.build(
            store=store,
            customer_key=key,
            order_id=next_order + index,
            order_date=NOW - timedelta(hours=1),
            gross_total=Decimal("12.34"),  # counted (status 11), nothing refunded: net 12.34
        )
        for index, key in enumerate(changed_keys)
    )
    third = analytics_recompute(store=store, now=NOW)
    assert (third.changed, third.pushed, third.failed) == (437, 437, 0)
    assert third.method == "collections"
    assert third.requests == math.ceil(437 / 200) == 3
    assert salesforce.app.api_calls_counted() - calls_before == 3
    accounts = accounts_by_key(salesforce.app)
    written = {key for key, account in accounts.items() if account["LastModifiedDate"] > mark}
    assert written == set(changed_keys)
    for row in CustomerValues.objects.filter(store=store, customer_key__in=changed_keys):
        assert row.clv == expected.get(row.customer_key, (Decimal("0.00"), 0))[0] + Decimal("12.34")
        assert_account_holds(accounts[row.customer_key], row)
    entry = AuditLog.objects.filter(operation="ANALYTICS_RECOMPUTE").order_by("-id").first()
    assert entry.details["changed"] == 437
    assert entry.salesforce_api_calls == 3


def test_time_moves_recency_and_only_the_aged_accounts_are_sent(store, order, salesforce):
    accounts_seed(salesforce.app, store=store, customers=3)
    # Customer 1: two orders, the last 80 days ago; 2: one order 5 days ago; 3: one order 200 days ago.
    for order_id, number, days in ((1, 1, 120), (2, 1, 80), (3, 2, 5), (4, 3, 200)):
        ledger_order_record(
            store=store,
            customer_key=customer_key(store, number),
            order=order(order_id, "50.00", date=NOW - timedelta(days=days)),
        )
    first = analytics_recompute(store=store, now=NOW)
    assert (first.changed, first.pushed) == (3, 3)
    assert salesforce.app.records("Account")[0]["Customer_Tags__c"] is None

    # Twenty days on, customer 1 passes the 90 churn-risk days and moves from recency 3 to 2; customer 2
    # stays at recency 5; customer 3 was already at 1.
    later = analytics_recompute(store=store, now=NOW + timedelta(days=20))
    assert [change.customer_key for change in later.changes] == [customer_key(store, 1)]
    assert later.changes[0].after == {"RFM_Score__c": "222", "Customer_Tags__c": "At-Risk"}
    assert (later.pushed, later.requests) == (1, 1)
    account = accounts_by_key(salesforce.app)[customer_key(store, 1)]
    assert (account["Customer_Tags__c"], account["RFM_Score__c"]) == ("At-Risk", "222")


def test_failed_accounts_are_counted_reported_and_retried(store, order, salesforce):
    # Customer 3 has no Account yet: an upsert would create it without the required Name.
    accounts_seed(salesforce.app, store=store, customers=2)
    for number in (1, 2, 3):
        ledger_order_record(store=store, customer_key=customer_key(store, number), order=order(number, "10.00"))
    result = analytics_recompute(store=store, now=NOW)
    assert (result.changed, result.pushed, result.failed) == (3, 2, 1)
    assert any("REQUIRED_FIELD_MISSING" in error for error in result.errors)
    assert CustomerValues.objects.get(customer_key=customer_key(store, 3)).pushed_values is None
    entry = AuditLog.objects.get(operation="ANALYTICS_RECOMPUTE")
    assert (entry.status, entry.details["failed"], entry.details["pushed"]) == ("failed", 1, 2)

    salesforce.app.record_create("Account", {"Name": "Late", "BigCommerceCustomerId__c": customer_key(store, 3)})
    retry = analytics_recompute(store=store, now=NOW)
    assert (retry.changed, retry.pushed, retry.failed, retry.requests) == (1, 1, 0, 1)
    assert accounts_by_key(salesforce.app)[customer_key(store, 3)]["Total_Orders__c"] == 1


def test_a_refused_request_stops_the_push_and_keeps_everything_for_the_next_run(store, order, salesforce):
    accounts_seed(salesforce.app, store=store, customers=2)
    for number in (1, 2):
        ledger_order_record(store=store, customer_key=customer_key(store, number), order=order(number, "10.00"))
    salesforce.app.fault_add("request_limit", path="composite/sobjects", count=1)
    result = analytics_recompute(store=store, now=NOW)
    assert (result.changed, result.pushed, result.failed) == (2, 0, 2)
    assert any("REQUEST_LIMIT_EXCEEDED" in error for error in result.errors)
    assert all(row.pushed_values is None for row in CustomerValues.objects.all())
    assert analytics_recompute(store=store, now=NOW).pushed == 2


def test_above_the_threshold_one_bulk_job_reports_per_record_failures(store, order, salesforce, threshold_set):
    threshold_set("analytics_bulk_min_changes", "2")
    accounts_seed(salesforce.app, store=store, customers=3)
    for number in (1, 2, 3, 4):  # customer 4 has no Account
        ledger_order_record(store=store, customer_key=customer_key(store, number), order=order(number, "20.00"))
    result = analytics_recompute(store=store, now=NOW)
    assert result.method == "bulk"
    assert len(salesforce.app.jobs) == 1
    assert (result.changed, result.pushed, result.failed) == (4, 3, 1)
    assert any(customer_key(store, 4) in error and "REQUIRED_FIELD_MISSING" in error for error in result.errors)
    pushed = {row.customer_key: row.pushed_values for row in CustomerValues.objects.all()}
    assert pushed[customer_key(store, 4)] is None
    assert pushed[customer_key(store, 1)]["CLV__c"] == "20.00"
    # The bulk job cleared the tags of nobody and set what the rules say.
    account = accounts_by_key(salesforce.app)[customer_key(store, 1)]
    assert (account["Customer_Tags__c"], account["Total_Orders__c"]) == ("First-Time Buyer", 1)


def test_bulk_rows_clear_fields_with_na(store, order, salesforce, threshold_set):
    threshold_set("analytics_bulk_min_changes", "0")
    salesforce.app.record_create(
        "Account",
        {"Name": "C", "BigCommerceCustomerId__c": customer_key(store, 1), "Customer_Tags__c": "VIP", "CLV__c": 99},
    )
    ledger_order_record(store=store, customer_key=customer_key(store, 1), order=order(1, "5.00"))
    ledger_order_record(store=store, customer_key=customer_key(store, 1), order=order(2, "5.00"))
    result = analytics_recompute(store=store, now=NOW)
    assert result.method == "bulk"
    account = accounts_by_key(salesforce.app)[customer_key(store, 1)]
    assert account["Customer_Tags__c"] is None
    assert account["CLV__c"] == 10.0


def test_flags_off_leave_their_fields_alone_in_salesforce(store, order, salesforce, flag_set):
    accounts_seed(salesforce.app, store=store, customers=1)
    flag_set("rfm_analysis", False)
    flag_set("customer_tags", False)
    ledger_order_record(store=store, customer_key=customer_key(store, 1), order=order(1, "10.00"))
    result = analytics_recompute(store=store, now=NOW)
    assert set(result.changes[0].after) == {
        "CLV__c",
        "Total_Orders__c",
        "Average_Order_Value__c",
        "Last_Order_Date__c",
        "Customer_Tier__c",
    }
    account = accounts_by_key(salesforce.app)[customer_key(store, 1)]
    assert account["RFM_Score__c"] is None and account["Customer_Tags__c"] is None
    for flag in ("customer_lifetime_value", "customer_segmentation"):
        flag_set(flag, False)
    ledger_order_record(store=store, customer_key=customer_key(store, 1), order=order(2, "10.00"))
    nothing = analytics_recompute(store=store, now=NOW)
    assert (nothing.changed, nothing.requests) == (0, 0)


def test_dry_run_writes_and_sends_nothing(store, order, salesforce):
    accounts_seed(salesforce.app, store=store, customers=2)
    for number in (1, 2):
        ledger_order_record(store=store, customer_key=customer_key(store, number), order=order(number, "10.00"))
    before = list(CustomerValues.objects.values())
    result = analytics_recompute(store=store, dry_run=True, now=NOW + timedelta(days=40))
    assert result.changed == 2
    assert {change.customer_key for change in result.changes} == {customer_key(store, 1), customer_key(store, 2)}
    assert result.requests == 0
    assert salesforce.app.api_calls_counted() == 0
    assert list(CustomerValues.objects.values()) == before
    assert not AuditLog.objects.filter(operation="ANALYTICS_RECOMPUTE").exists()


def test_pushed_fields_from_the_order_sync_spare_the_daily_push(store, order, salesforce):
    from analytics.services import customer_account_fields

    accounts_seed(salesforce.app, store=store, customers=1)
    key = customer_key(store, 1)
    ledger_order_record(store=store, customer_key=key, order=order(1, "10.00"), now=NOW)
    sent = customer_account_fields(store=store, customer_key=key, now=NOW)
    assert account_fields_settle(store=store, customer_key=key, sent=sent, now=NOW).corrections == 0
    assert analytics_recompute(store=store, now=NOW).changed == 0


def test_command_prints_the_changes_and_pushes(store, order, salesforce):
    accounts_seed(salesforce.app, store=store, customers=2)
    for number in (1, 2):
        ledger_order_record(store=store, customer_key=customer_key(store, number), order=order(number, "10.00"))
    out, err = io.StringIO(), io.StringIO()
    call_command("recompute_analytics", "--store", store.store_hash, "--dry-run", stdout=out, stderr=err)
    text = out.getvalue()
    assert f"{customer_key(store, 1)}  CLV__c: None → '10.00'" in text
    assert "Dry run: would push 2 of 2 changed Accounts" in text
    assert f"recompute {store.store_hash}: 2/2" in err.getvalue()  # plain progress lines off a terminal
    assert salesforce.app.api_calls_counted() == 0

    out = io.StringIO()
    account_lengths_read()
    call_command("recompute_analytics", stdout=out, stderr=io.StringIO())
    assert "Pushed 2 of 2 changed Accounts" in out.getvalue()
    assert salesforce.app.api_calls_counted() == 1 + 1  # the lengths once per process, then one push
    with pytest.raises(CommandError, match="No store"):
        call_command("recompute_analytics", "--store", "nope", stdout=io.StringIO(), stderr=io.StringIO())


def test_command_fails_when_accounts_fail(store, order, salesforce):
    ledger_order_record(store=store, customer_key=customer_key(store, 9), order=order(1, "10.00"))
    with pytest.raises(CommandError, match="1 Accounts failed"):
        call_command("recompute_analytics", stdout=io.StringIO(), stderr=io.StringIO())


def test_progress_bar_on_a_terminal():
    from analytics.management.commands.recompute_analytics import ProgressPrinter

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    from django.core.management.base import OutputWrapper

    stream = OutputWrapper(Terminal())
    printer = ProgressPrinter(stream, tty=stream.isatty())
    for done in (100, 200):
        printer("recompute x", done, 200)
    printer("push", 200, 200)
    printer.close()
    text = stream._out.getvalue()
    assert "\rrecompute x" in text and " 100/200 " in text
    assert " 200/200 " in text and "\n\rpush" in text and text.endswith("\n")


def account_lengths_read() -> None:
    """The once-per-process read of Account's field lengths (issue 11), so counts show the push alone."""
    salesforce_client().field_limits({"Account"})


def test_task_runs_the_recompute(store, order, salesforce):
    accounts_seed(salesforce.app, store=store, customers=1)
    account_lengths_read()
    ledger_order_record(store=store, customer_key=customer_key(store, 1), order=order(1, "10.00"))
    summary = analytics_recompute_task()
    assert (summary["customers"], summary["changed"], summary["pushed"], summary["requests"]) == (1, 1, 1, 1)


def test_daily_schedule_exists_once_and_keeps_admin_edits():
    schedules = Schedule.objects.filter(func=SCHEDULE_FUNC)
    assert schedules.count() == 1
    schedule = schedules.get()
    assert schedule.schedule_type == Schedule.DAILY
    assert schedule.repeats == -1
    schedule.schedule_type = Schedule.HOURLY
    schedule.save()
    analytics_seed_apply(django_apps)
    assert Schedule.objects.filter(func=SCHEDULE_FUNC).count() == 1
    assert Schedule.objects.get(func=SCHEDULE_FUNC).schedule_type == Schedule.HOURLY
    assert Threshold.objects.get(key="analytics_bulk_min_changes").value == Decimal("2000")


def test_an_order_recorded_while_the_recompute_runs_keeps_its_fresher_values(store, order, salesforce):
    from analytics.services import customer_account_fields

    accounts_seed(salesforce.app, store=store, customers=2)
    account_lengths_read()
    for number in (1, 2):
        ledger_order_record(store=store, customer_key=customer_key(store, number), order=order(number, "10.00"))
    key = customer_key(store, 1)
    CustomerValues.objects.filter(customer_key=key).update(clv=Decimal("0.00"))  # stale: the recompute rewrites it

    def order_sync_meanwhile(phase: str, done: int, total: int) -> None:
        if phase.startswith("recompute"):
            ledger_order_record(store=store, customer_key=key, order=order(3, "5.00"), now=NOW)
            sent = customer_account_fields(store=store, customer_key=key, now=NOW)
            account_fields_settle(store=store, customer_key=key, sent=sent, now=NOW)

    result = analytics_recompute(store=store, now=NOW, progress=order_sync_meanwhile)
    assert [change.customer_key for change in result.changes] == [customer_key(store, 2)]
    assert (result.changed, result.pushed, result.requests) == (1, 1, 1)  # customer 1 left to the order sync
    row = CustomerValues.objects.get(customer_key=key)
    assert (row.clv, row.total_orders) == (Decimal("15.00"), 2)
    assert row.pushed_values["CLV__c"] == "15.00"
    assert accounts_by_key(salesforce.app)[key]["CLV__c"] is None  # not overwritten with the older 10.00
    assert accounts_by_key(salesforce.app)[customer_key(store, 2)]["CLV__c"] == 10.0


def test_the_push_waits_while_the_api_budget_guard_pauses_writes(store, order, salesforce):
    accounts_seed(salesforce.app, store=store, customers=2)
    for number in (1, 2):
        ledger_order_record(store=store, customer_key=customer_key(store, number), order=order(number, "10.00"))
    guard = SyncSetting.objects.get(key="api_budget_guard")
    guard.value = "pause"
    guard.save()
    held = analytics_recompute(store=store, now=NOW)
    assert (held.changed, held.pushed, held.requests) == (2, 0, 0)
    assert "api_budget_guard is set to 'pause'" in held.held
    assert AuditLog.objects.get(operation="ANALYTICS_RECOMPUTE").details["held"] == held.held
    assert all(row.pushed_values is None for row in CustomerValues.objects.all())  # kept for the next run
    guard.value = "auto"
    guard.save()
    assert analytics_recompute(store=store, now=NOW).pushed == 2
