"""Expiry: open cart Opportunities (and, when enabled, Leads) older than the expiration days are closed,
in sObject Collections of 200, from the local Cart table alone."""

from __future__ import annotations

import importlib
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps as django_apps
from django_q.models import Schedule

from audit.models import AuditLog
from recovery.models import Cart
from recovery.services import carts_expire
from recovery.tasks import EXPIRY_TASK, carts_expire_task
from sync.models import FeatureFlag, SyncSetting
from sync.salesforce import salesforce_client
from tests.factories.recovery import CartFactory

NOW = datetime(2026, 12, 9, 4, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=29)


def _flag_set(key: str, enabled: bool) -> None:
    flag = FeatureFlag.objects.get(key=key)
    flag.enabled = enabled
    flag.save()


def _opportunities(org, count: int, *, prefix: str) -> list[str]:
    """Open cart Opportunities created straight in the stand-in (no API request counted)."""
    return org.records_create(
        "Opportunity",
        [
            {
                "Name": f"Abandoned Cart - {prefix}{index}",
                "StageName": "Prospecting",
                "CloseDate": "2026-12-01",
                "Cart_ID__c": f"sandbox:{prefix}{index}",
                "Amount": 150,
                "Description": f"Item {TIMES} 1 @ 150.00",
            }
            for index in range(count)
        ],
    )


def _leads(org, count: int, *, prefix: str) -> list[str]:
    return org.records_create(
        "Lead",
        [
            {
                "LastName": f"shopper{index}",
                "Company": f"shopper{index}@example.com",
                "Status": "Open - Not Contacted",
                "AbandonedCartId__c": f"sandbox:{prefix}{index}",
            }
            for index in range(count)
        ],
    )


TIMES = "\u00d7"


def _carts(store, ids: list[str], *, kind: str, abandoned_at: datetime, state=Cart.State.OPEN, prefix: str):
    Cart.objects.bulk_create(
        CartFactory.build(
            store=store,
            cart_id=f"{prefix}{index}",
            value=Decimal("150.00"),
            currency="USD",
            email=f"shopper{index}@example.com",
            state=state,
            opportunity_id=record_id if kind == "opportunity" else "",
            lead_id=record_id if kind == "lead" else "",
            items_description=f"Item {TIMES} 1 @ 150.00",
            abandoned_at=abandoned_at,
        )
        for index, record_id in enumerate(ids)
    )


def test_expiry_closes_exactly_the_old_open_opportunities_in_collections_of_200(recovery):
    org, store = recovery.org, recovery.store
    old = _opportunities(org, 450, prefix="old-")
    recent = _opportunities(org, 7, prefix="recent-")
    won = _opportunities(org, 3, prefix="won-")
    old_leads = _leads(org, 4, prefix="lead-")
    _carts(store, old, kind="opportunity", abandoned_at=OLD, prefix="old-")
    _carts(store, recent, kind="opportunity", abandoned_at=RECENT, prefix="recent-")
    _carts(store, won, kind="opportunity", abandoned_at=OLD, state=Cart.State.CONVERTED, prefix="won-")
    _carts(store, old_leads, kind="lead", abandoned_at=OLD, prefix="lead-")  # stale leads: flag off by default
    before = recovery.requests()

    with time_machine.travel(NOW, tick=False):
        result = carts_expire()

    assert result.opportunities_closed == 450
    assert result.leads_closed == 0 and result.failed == 0
    assert result.requests == math.ceil(450 / 200) == 3
    assert recovery.requests() - before == 3
    by_id = {record["Id"]: record for record in recovery.records("Opportunity")}
    for record_id in old:
        record = by_id[record_id]
        assert (record["StageName"], record["IsClosed"], record["IsWon"]) == ("Closed Lost", True, False)
        assert record["Description"].endswith("Closed Lost: Cart expired")
        assert record["Description"].startswith(f"Item {TIMES} 1 @ 150.00")
        assert record["CloseDate"] == "2026-12-09"  # today in the store's time zone (Berlin)
    assert {by_id[i]["StageName"] for i in recent + won} == {"Prospecting"}
    assert {lead["Status"] for lead in recovery.records("Lead")} == {"Open - Not Contacted"}
    assert Cart.objects.filter(state=Cart.State.EXPIRED).count() == 450
    assert set(Cart.objects.filter(state=Cart.State.EXPIRED).values_list("opportunity_id", flat=True)) == set(old)
    assert Cart.objects.filter(state=Cart.State.OPEN, cart_id__startswith="recent-").count() == 7
    [audit] = AuditLog.objects.filter(operation="CART_EXPIRY")
    assert audit.status == "success"
    assert audit.salesforce_api_calls == 3
    assert audit.details["opportunities_closed"] == 450 and audit.details["candidates"] == 450

    # A second run the same day finds nothing left to close and asks Salesforce nothing.
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        again = carts_expire()
    assert (again.opportunities_closed, again.requests) == (0, 0)
    assert recovery.requests() - before == 3


def test_stale_leads_expire_only_when_the_admin_enables_it(recovery):
    org, store = recovery.org, recovery.store
    leads = _leads(org, 3, prefix="lead-")
    opportunities = _opportunities(org, 2, prefix="opp-")
    _carts(store, leads, kind="lead", abandoned_at=OLD, prefix="lead-")
    _carts(store, opportunities, kind="opportunity", abandoned_at=OLD, prefix="opp-")
    _flag_set("stale_lead_expiration", True)
    before = recovery.requests()

    result = carts_expire(now=NOW)

    assert (result.opportunities_closed, result.leads_closed, result.requests) == (2, 3, 1)
    assert recovery.requests() - before == 1  # mixed types share one collection
    for lead in recovery.records("Lead"):
        assert lead["Status"] == "Closed - Not Converted"
        assert lead["Description"].endswith("Closed - Not Converted: Cart expired")


def test_a_stale_lead_a_rep_converted_is_left_alone_not_retried_forever(recovery):
    org, store = recovery.org, recovery.store
    leads = _leads(org, 2, prefix="conv-")
    _carts(store, leads, kind="lead", abandoned_at=OLD, prefix="conv-")
    salesforce_client().lead_convert(lead_id=leads[0], converted_status="Closed - Converted")
    _flag_set("stale_lead_expiration", True)

    result = carts_expire(now=NOW)

    assert (result.leads_closed, result.leads_already_converted, result.failed) == (1, 1, 0)
    assert org.record("Lead", leads[0])["Status"] == "Closed - Converted"  # the conversion stands
    assert org.record("Lead", leads[1])["Status"] == "Closed - Not Converted"
    assert set(Cart.objects.values_list("state", flat=True)) == {Cart.State.EXPIRED}
    assert carts_expire(now=NOW).candidates == 0


def test_expiry_is_switched_off_by_its_flag(recovery):
    ids = _opportunities(recovery.org, 2, prefix="old-")
    _carts(recovery.store, ids, kind="opportunity", abandoned_at=OLD, prefix="old-")
    _flag_set("cart_expiration", False)
    before = recovery.requests()

    result = carts_expire(now=NOW)

    assert result.opportunities_closed == 0 and result.skipped_reason
    assert recovery.requests() == before
    assert {o["StageName"] for o in recovery.records("Opportunity")} == {"Prospecting"}
    assert AuditLog.objects.get(operation="CART_EXPIRY").status == "skipped"


def test_a_record_salesforce_refuses_stays_open_and_is_counted(recovery):
    ids = _opportunities(recovery.org, 3, prefix="old-")
    _carts(recovery.store, ids, kind="opportunity", abandoned_at=OLD, prefix="old-")
    from sync.salesforce import salesforce_client

    salesforce_client().request("DELETE", f"sobjects/Opportunity/{ids[1]}")  # deleted by someone in Salesforce

    result = carts_expire(now=NOW)

    assert (result.opportunities_closed, result.failed, result.requests) == (2, 1, 1)
    assert Cart.objects.get(opportunity_id=ids[1]).state == Cart.State.OPEN
    assert Cart.objects.filter(state=Cart.State.EXPIRED).count() == 2
    audit = AuditLog.objects.get(operation="CART_EXPIRY")
    assert audit.status == "failed" and "old-1" in audit.error


def test_an_expired_cart_abandoned_again_reopens_its_records(recovery):
    cart = recovery.cart("150.00", email="back.again@example.com")
    first = recovery.abandon(cart["id"])
    opportunity_id = recovery.one("Opportunity")["Id"]
    task_id = recovery.one("Task")["Id"]
    abandoned = datetime.fromtimestamp(first.event_created_at, tz=UTC)
    carts_expire(now=abandoned + timedelta(days=31))
    assert recovery.one("Opportunity")["StageName"] == "Closed Lost"
    assert recovery.one("Task")["Status"] == "Not Started"  # expiry leaves the rep's Task alone
    with time_machine.travel(abandoned + timedelta(days=32), tick=True):
        again = recovery.abandon(cart["id"])

    assert again.status == "done", again.last_error_message
    opportunity, task = recovery.one("Opportunity"), recovery.one("Task")
    assert (opportunity["Id"], opportunity["StageName"]) == (opportunity_id, "Prospecting")
    assert (task["Id"], task["Status"]) == (task_id, "Not Started")
    assert Cart.objects.get(cart_id=cart["id"]).state == Cart.State.OPEN


def test_the_daily_schedule_exists_once_and_survives_a_rerun(db):
    schedules = Schedule.objects.filter(func=EXPIRY_TASK)
    assert schedules.count() == 1
    schedule = schedules.get()
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1
    schedule.next_run = datetime(2026, 12, 1, 5, 30, tzinfo=UTC)  # an admin moved it
    schedule.save()
    migration = importlib.import_module("recovery.migrations.0002_expiry_schedule")

    migration.schedule_create(django_apps, None)

    assert Schedule.objects.filter(func=EXPIRY_TASK).count() == 1
    assert Schedule.objects.get(func=EXPIRY_TASK).next_run == datetime(2026, 12, 1, 5, 30, tzinfo=UTC)


@pytest.mark.usefixtures("recovery")
def test_the_scheduled_task_runs_the_service():
    result = carts_expire_task()

    assert result["opportunities_closed"] == 0 and result["requests"] == 0
    assert AuditLog.objects.filter(operation="CART_EXPIRY").count() == 1


def test_expiry_waits_while_the_api_budget_guard_pauses_writes(recovery):
    ids = _opportunities(recovery.org, 2, prefix="old-")
    _carts(recovery.store, ids, kind="opportunity", abandoned_at=OLD, prefix="old-")
    guard = SyncSetting.objects.get(key="api_budget_guard")
    guard.value = "pause"
    guard.save()
    before = recovery.requests()

    result = carts_expire(now=NOW)

    assert result.opportunities_closed == 0 and "api_budget_guard is set to 'pause'" in result.skipped_reason
    assert recovery.requests() == before
    assert Cart.objects.filter(state=Cart.State.OPEN).count() == 2  # still open: the next run closes them
    guard.value = "auto"
    guard.save()
    assert carts_expire(now=NOW).opportunities_closed == 2
