"""A worker dying between a Salesforce write and the local save that follows, then the retry.

The crash is injected right after the Salesforce call returns (the write is in Salesforce, the
local save that would follow never happens); the retry runs the same sync again. Whatever the
point of the crash: no second Opportunity, Lead, Account, Contact or Task, at most one event per
abandonment key, and conversion and expiry end where an uninterrupted run ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from recovery.models import Cart
from recovery.services import cart_abandonment_sync, cart_conversion_sync, carts_expire
from sync.models import FeatureFlag
from sync.salesforce import SalesforceClient, salesforce_client

CART_EVENT = "BigCommerce_Cart_Abandoned__e"


class WorkerDied(Exception):
    """Stands for the process dying: nothing after the Salesforce call runs."""


@pytest.fixture
def crash_after(monkeypatch):
    """``crash_after("composite")``: the next WRITE through that client method reaches Salesforce, then the
    worker dies. Read-only composites (describes, lookups) go through untouched."""

    def arm(method: str) -> None:
        real = getattr(SalesforceClient, method)

        def crashing(self, *args, **kwargs):
            answer = real(self, *args, **kwargs)
            if not _writes(method, args):
                return answer
            monkeypatch.setattr(SalesforceClient, method, real)  # one crash; the retry runs normally
            raise WorkerDied(f"worker died after {method}")

        monkeypatch.setattr(SalesforceClient, method, crashing)

    return arm


def _writes(method: str, args: tuple) -> bool:
    if method != "composite":
        return True
    return any(subrequest.get("method") != "GET" for subrequest in args[0])


def _abandoned_at() -> datetime:
    return datetime.now(tz=UTC).replace(microsecond=0) - timedelta(minutes=5)


def _event_keys(org) -> list[str]:
    return [event["fields"]["EventKey__c"] for event in org.platform_events(CART_EVENT)]


@pytest.mark.parametrize(("value", "record"), [("240.00", "Opportunity"), ("30.00", "Lead")])
def test_a_crash_after_the_abandonment_write_leaves_one_record_and_one_task(recovery, crash_after, value, record):
    cart = recovery.cart(value, email="crash.once@example.com")
    abandoned_at = _abandoned_at()
    crash_after("composite")

    with pytest.raises(WorkerDied):
        cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=abandoned_at)

    [task] = recovery.records("Task")  # Salesforce has it; b2s never saved its id
    assert Cart.objects.get(cart_id=cart["id"]).task_id == ""
    assert len(_event_keys(recovery.org)) == 1

    result = cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=abandoned_at)

    assert recovery.one("Task")["Id"] == task["Id"]
    recovery.one(record)
    assert recovery.records("Opportunity" if record == "Lead" else "Lead") == []
    if record == "Opportunity":
        recovery.one("Account"), recovery.one("Contact")
    # The Task found means the composite that published the event committed: no second event.
    assert len(_event_keys(recovery.org)) == 1
    row = Cart.objects.get(cart_id=cart["id"])
    assert (row.task_id, row.task_requested_at, row.state) == (task["Id"], None, Cart.State.OPEN)
    assert row.abandon_count == 1
    assert result.details["task"] == "updated"


def test_a_crash_before_salesforce_got_the_abandonment_creates_the_task_on_retry(recovery, monkeypatch):
    cart = recovery.cart("250.00", email="never.arrived@example.com")
    abandoned_at = _abandoned_at()

    real = SalesforceClient.composite

    def unreachable(self, *args, **kwargs):
        if not _writes("composite", args):
            return real(self, *args, **kwargs)
        raise WorkerDied("worker died before the request left")

    with monkeypatch.context() as patch:
        patch.setattr(SalesforceClient, "composite", unreachable)
        with pytest.raises(WorkerDied):
            cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=abandoned_at)
    assert Cart.objects.get(cart_id=cart["id"]).task_requested_at is not None
    assert recovery.records("Task") == []

    cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=abandoned_at)

    task = recovery.one("Task")
    assert task["WhatId"] == recovery.one("Opportunity")["Id"]
    assert len(_event_keys(recovery.org)) == 1
    assert Cart.objects.get(cart_id=cart["id"]).task_id == task["Id"]


def test_every_publication_of_one_abandonment_carries_the_same_event_key(recovery, crash_after):
    # Tasks off: nothing tells the retry that the event went out, so it is published again, with the same key.
    flag = FeatureFlag.objects.get(key="recovery_tasks")
    flag.enabled = False
    flag.save()
    cart = recovery.cart("260.00", email="event.key@example.com")
    abandoned_at = _abandoned_at()
    crash_after("composite")
    with pytest.raises(WorkerDied):
        cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=abandoned_at)

    cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=abandoned_at)
    later = abandoned_at + timedelta(hours=2)
    cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=later)

    first, retry, second = _event_keys(recovery.org)
    assert first == retry  # a subscriber drops the repeat
    assert second != first  # a new abandonment is a new event
    assert len(first) == 64
    recovery.one("Opportunity")
    assert recovery.records("Task") == []


def test_a_crash_after_the_opportunity_was_won_converges_on_retry(recovery, crash_after):
    cart = recovery.cart("180.00", email="won.once@example.com")
    recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"])
    converted_at = datetime.now(tz=UTC)
    crash_after("composite")

    with pytest.raises(WorkerDied):
        cart_conversion_sync(store=recovery.store, cart_id=cart["id"], order_id=order["id"], converted_at=converted_at)
    assert Cart.objects.get(cart_id=cart["id"]).state == Cart.State.OPEN

    cart_conversion_sync(store=recovery.store, cart_id=cart["id"], order_id=order["id"], converted_at=converted_at)

    opportunity, task = recovery.one("Opportunity"), recovery.one("Task")
    assert (opportunity["StageName"], opportunity["IsWon"]) == ("Closed Won", True)
    assert task["Status"] == "Completed"
    assert Cart.objects.get(cart_id=cart["id"]).state == Cart.State.CONVERTED


@pytest.mark.parametrize("method", ["composite", "lead_convert"])
def test_a_crash_during_a_lead_conversion_converges_on_retry(recovery, crash_after, method):
    cart = recovery.cart("33.00", email="converted.once@example.com")
    recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"])
    converted_at = datetime.now(tz=UTC)
    crash_after(method)

    with pytest.raises(WorkerDied):
        cart_conversion_sync(store=recovery.store, cart_id=cart["id"], order_id=order["id"], converted_at=converted_at)

    result = cart_conversion_sync(
        store=recovery.store, cart_id=cart["id"], order_id=order["id"], converted_at=converted_at
    )

    lead, account, contact = recovery.one("Lead"), recovery.one("Account"), recovery.one("Contact")
    assert lead["IsConverted"] is True
    assert (lead["ConvertedAccountId"], lead["ConvertedContactId"]) == (account["Id"], contact["Id"])
    assert recovery.records("Opportunity") == []
    assert recovery.one("Task")["Status"] == "Completed"
    # Died after convertLead: the retry finds the Lead converted and leaves it; else it converts it.
    assert result.details["lead"] == ("already_converted" if method == "lead_convert" else "converted")
    assert Cart.objects.get(cart_id=cart["id"]).state == Cart.State.CONVERTED


def test_a_crash_after_the_expiry_write_converges_on_the_next_run(recovery, crash_after):
    long_ago = datetime.now(tz=UTC) - timedelta(days=40)
    for email in ("expired.one@example.com", "expired.two@example.com"):
        cart = recovery.cart("150.00", email=email)
        cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=long_ago)
    crash_after("collections_update")

    with pytest.raises(WorkerDied):
        carts_expire()
    assert Cart.objects.filter(state=Cart.State.OPEN).count() == 2

    result = carts_expire()

    assert (result.opportunities_closed, result.failed) == (2, 0)
    assert Cart.objects.filter(state=Cart.State.EXPIRED).count() == 2
    opportunities = recovery.records("Opportunity")
    assert len(opportunities) == 2 and {o["StageName"] for o in opportunities} == {"Closed Lost"}
    assert len(recovery.records("Task")) == 2


def test_a_crash_after_recreating_a_deleted_task_leaves_one_task(recovery, crash_after):
    cart = recovery.cart("155.00", email="gone.then.crash@example.com")
    abandoned_at = _abandoned_at()
    cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=abandoned_at)
    gone = recovery.one("Task")
    salesforce_client().request("DELETE", f"sobjects/Task/{gone['Id']}")  # someone deletes it in Salesforce
    later = abandoned_at + timedelta(hours=1)
    crash_after("composite")  # the refused PATCH raises on its own; the crash follows the create

    with pytest.raises(WorkerDied):
        cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=later)
    cart_abandonment_sync(store=recovery.store, cart_id=cart["id"], abandoned_at=later)

    task = recovery.one("Task")
    assert task["Id"] != gone["Id"]
    assert Cart.objects.get(cart_id=cart["id"]).task_id == task["Id"]
    assert len(_event_keys(recovery.org)) == 2  # one per abandonment
