"""store/cart/abandoned against both stand-ins: Opportunity or Lead, the recovery Task, the event, one request."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from audit.models import AuditLog
from recovery.models import Cart
from sync.models import FeatureFlag, Threshold, WebhookEvent
from sync.salesforce import salesforce_client

BERLIN = ZoneInfo("Europe/Berlin")
TIMES = "\u00d7"


def money(value) -> Decimal:
    """A number read back from the stand-in, as the exact cents it stands for."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def local_cart(cart_id: str) -> Cart:
    return Cart.objects.get(cart_id=cart_id)


def test_high_value_registered_cart_becomes_an_opportunity_with_a_task(recovery):
    customer = recovery.customer(
        first_name="Ada", last_name="Lovelace", email="Ada.Lovelace@example.com", company="Analytical Engines"
    )
    cart = recovery.cart(
        customer_id=customer["id"],
        items=[
            {"name": "Brass gear", "sku": "BG-1", "list_price": "120.00", "quantity": 2},
            {"name": "Punch cards", "sku": "PC-9", "list_price": "9.99", "quantity": 1},
        ],
    )

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    # A shopper not seen before: one lookup of existing CRM records by email (sync.customers), then
    # Account, Contact, Opportunity, Task and event: one composite.
    assert recovery.requests() == 2
    account, contact = recovery.one("Account"), recovery.one("Contact")
    opportunity, task = recovery.one("Opportunity"), recovery.one("Task")
    key = f"sandbox:{cart['id']}"
    assert account["BigCommerceCustomerId__c"] == f"sandbox:{customer['id']}"
    assert account["Name"] == "Analytical Engines"
    assert (contact["FirstName"], contact["LastName"], contact["Email"]) == (
        "Ada",
        "Lovelace",
        "ada.lovelace@example.com",
    )
    assert opportunity["Cart_ID__c"] == key
    assert opportunity["Name"] == f"Abandoned Cart - {cart['id']}"
    assert opportunity["StageName"] == "Prospecting"
    assert opportunity["LeadSource"] == "Abandoned Cart"
    assert opportunity["AccountId"] == account["Id"]
    assert money(opportunity["Amount"]) == money(opportunity["Cart_Value__c"]) == Decimal("249.99")
    assert opportunity["Description"] == f"Brass gear {TIMES} 2 @ 120.00\nPunch cards {TIMES} 1 @ 9.99"
    abandoned = datetime.fromtimestamp(event.event_created_at, tz=BERLIN)
    assert opportunity["CloseDate"] == (abandoned.date() + timedelta(days=30)).isoformat()
    assert opportunity["Abandoned_Date__c"].startswith(abandoned.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M"))
    assert task["WhatId"] == opportunity["Id"]
    assert task["WhoId"] == contact["Id"]
    assert task["Subject"] == "Follow up on abandoned cart"
    assert (task["Status"], task["Priority"]) == ("Not Started", "Normal")
    assert task["BigCommerceCartId__c"] == key
    assert "249.99 USD" in task["Description"]
    [published] = recovery.org.platform_events("BigCommerce_Cart_Abandoned__e")
    assert published["fields"]["OpportunityId__c"] == opportunity["Id"]
    assert published["fields"]["CartId__c"] == key
    assert published["fields"]["CustomerEmail__c"] == "ada.lovelace@example.com"
    assert money(published["fields"]["CartValue__c"]) == Decimal("249.99")
    assert recovery.records("Lead") == []

    row = local_cart(cart["id"])
    assert row.state == Cart.State.OPEN
    assert row.value == Decimal("249.99") and isinstance(row.value, Decimal)
    assert (row.opportunity_id, row.task_id, row.account_id, row.contact_id) == (
        opportunity["Id"],
        task["Id"],
        account["Id"],
        contact["Id"],
    )
    assert row.customer_key == f"sandbox:{customer['id']}"
    audit = AuditLog.objects.get(event=event)
    assert (audit.operation, audit.status, audit.salesforce_api_calls) == ("CART_SYNC", "success", 2)
    assert audit.bigcommerce_api_calls == 2  # the cart and the customer


def test_low_value_guest_cart_with_email_becomes_a_lead_with_a_task(recovery):
    cart = recovery.cart("45.50", email="Sam.Guest@Example.com")

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert recovery.requests() == 2  # the shopper's lookup in the CRM by email, then one composite
    lead, task = recovery.one("Lead"), recovery.one("Task")
    assert lead["AbandonedCartId__c"] == f"sandbox:{cart['id']}"
    assert (lead["LeadSource"], lead["Status"]) == ("Abandoned Cart", "Open - Not Contacted")
    # Known only by an email: the last name is its local part, never an invented name.
    assert lead["LastName"] == "sam.guest"
    assert lead["FirstName"] is None
    assert lead["Company"] == "sam.guest@example.com"
    assert lead["Email"] == "sam.guest@example.com"
    assert money(lead["AbandonedCartValue__c"]) == Decimal("45.50")
    assert lead["AbandonedCartDate__c"]
    assert lead["Description"] == lead["Cart_Items__c"] == f"Walnut serving board {TIMES} 1 @ 45.50"
    assert task["WhoId"] == lead["Id"]
    assert task["WhatId"] is None
    assert recovery.records("Opportunity") == recovery.records("Account") == recovery.records("Contact") == []
    [published] = recovery.org.platform_events("BigCommerce_Cart_Abandoned__e")
    assert published["fields"]["LeadId__c"] == lead["Id"]
    assert published["fields"]["OpportunityId__c"] is None
    row = local_cart(cart["id"])
    assert (row.lead_id, row.task_id, row.opportunity_id) == (lead["Id"], task["Id"], "")


def test_low_value_registered_cart_lead_carries_the_customer_name_and_company(recovery):
    customer = recovery.customer(first_name="Grace", last_name="Hopper", email="grace@example.com", company="")
    cart = recovery.cart("30.00", customer_id=customer["id"])

    recovery.abandon(cart["id"])

    lead = recovery.one("Lead")
    assert (lead["FirstName"], lead["LastName"], lead["Company"]) == ("Grace", "Hopper", "Grace Hopper")


def test_guest_cart_without_email_is_skipped_and_nothing_is_invented(recovery):
    cart = recovery.cart("250.00")
    assert cart["email"] == "" and cart["customer_id"] == 0

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.SKIPPED
    assert "No email and no registered customer" in event.last_error_message
    assert recovery.requests() == 0
    for sobject in ("Opportunity", "Lead", "Task", "Account", "Contact"):
        assert recovery.records(sobject) == [], sobject
    assert recovery.org.platform_events() == []
    row = local_cart(cart["id"])
    assert row.state == Cart.State.SKIPPED
    assert row.email == ""
    assert "No email" in row.skip_reason
    assert row.value == Decimal("250.00")
    assert AuditLog.objects.get(event=event).status == "skipped"


@pytest.mark.parametrize(
    ("value", "sobject", "other"), [("100.00", "Opportunity", "Lead"), ("99.99", "Lead", "Opportunity")]
)
def test_the_opportunity_threshold_is_inclusive(recovery, value, sobject, other):
    cart = recovery.cart(value, email="edge@example.com")

    recovery.abandon(cart["id"])

    record = recovery.one(sobject)
    amount_field = "Amount" if sobject == "Opportunity" else "AbandonedCartValue__c"
    assert money(record[amount_field]) == Decimal(value)
    assert recovery.records(other) == []
    assert local_cart(cart["id"]).value == Decimal(value)


def test_the_threshold_is_read_from_the_admin_configuration(recovery):
    threshold = Threshold.objects.get(key="opportunity_min_value")
    threshold.value = Decimal("40")
    threshold.save()
    cart = recovery.cart("45.00", email="cheap@example.com")

    recovery.abandon(cart["id"])

    assert len(recovery.records("Opportunity")) == 1
    assert recovery.records("Lead") == []


@pytest.mark.parametrize(("value", "priority"), [("500.00", "Normal"), ("500.01", "High")])
def test_task_priority_is_high_only_above_the_threshold(recovery, value, priority):
    cart = recovery.cart(value, email="priority@example.com")

    recovery.abandon(cart["id"])

    assert recovery.one("Task")["Priority"] == priority


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        (datetime(2026, 12, 4, 10, 0, tzinfo=BERLIN), date(2026, 12, 7)),  # Friday → Monday
        (datetime(2026, 12, 5, 15, 0, tzinfo=BERLIN), date(2026, 12, 7)),  # Saturday → Monday
        (datetime(2026, 12, 6, 15, 0, tzinfo=BERLIN), date(2026, 12, 7)),  # Sunday → Monday
        (datetime(2026, 12, 2, 9, 0, tzinfo=BERLIN), date(2026, 12, 3)),  # Wednesday → Thursday
        # Thursday 23:30 UTC is already Friday in the store's time zone (Berlin): due Monday, not Friday.
        (datetime(2026, 12, 3, 23, 30, tzinfo=ZoneInfo("UTC")), date(2026, 12, 7)),
    ],
)
def test_the_task_is_due_the_next_business_day_in_the_store_time_zone(recovery, moment, due):
    with time_machine.travel(moment, tick=True):
        cart = recovery.cart("120.00", email="weekend@example.com")
        recovery.abandon(cart["id"])

    assert recovery.one("Task")["ActivityDate"] == due.isoformat()
    closes = moment.astimezone(BERLIN).date() + timedelta(days=30)
    assert recovery.one("Opportunity")["CloseDate"] == closes.isoformat()


def test_a_redelivery_and_a_second_abandonment_update_the_same_records(recovery):
    from sync.services.webhooks import webhook_event_process, webhook_events_replay

    cart = recovery.cart("150.00", email="twice@example.com")
    payload = recovery.payload("store/cart/abandoned", cart["id"])

    first = recovery.deliver(payload)
    assert recovery.deliver(payload) is None  # the same delivery again: the intake keeps one event
    # An admin replays the event: it runs again and must not add anything either.
    assert webhook_events_replay(events=WebhookEvent.objects.filter(pk=first.pk)) == 1
    webhook_event_process(event_id=first.pk)
    first.refresh_from_db()
    assert first.status == WebhookEvent.Status.DONE

    opportunity, task = recovery.one("Opportunity"), recovery.one("Task")
    assert len(recovery.org.platform_events()) == 1  # one abandonment, one event
    assert recovery.requests() == 3  # the shopper's lookup (first time only), then one per processing

    # The shopper comes back, changes the cart, and leaves again an hour later.
    recovery.cart_quantity_set(cart["id"], 3)
    second = recovery.abandon(cart["id"], created_at=first.event_created_at + 3600)

    assert second.status == WebhookEvent.Status.DONE, second.last_error_message
    assert recovery.requests() == 4
    updated, updated_task = recovery.one("Opportunity"), recovery.one("Task")
    assert updated["Id"] == opportunity["Id"] and updated_task["Id"] == task["Id"]
    assert money(updated["Amount"]) == Decimal("450.00")
    assert updated["Description"] == f"Walnut serving board {TIMES} 3 @ 150.00"
    assert "450.00 USD" in updated_task["Description"]
    assert len(recovery.org.platform_events()) == 2
    row = local_cart(cart["id"])
    assert (row.opportunity_id, row.task_id, row.abandon_count) == (opportunity["Id"], task["Id"], 2)
    assert row.value == Decimal("450.00")


def test_a_lead_cart_that_grows_past_the_threshold_stays_one_lead(recovery):
    cart = recovery.cart("60.00", email="grower@example.com")
    first = recovery.abandon(cart["id"])
    recovery.cart_quantity_set(cart["id"], 2)

    recovery.abandon(cart["id"], created_at=first.event_created_at + 7200)

    lead = recovery.one("Lead")
    assert money(lead["AbandonedCartValue__c"]) == Decimal("120.00")
    assert recovery.records("Opportunity") == []
    assert len(recovery.records("Task")) == 1
    assert recovery.one("Task")["WhoId"] == lead["Id"]


def test_a_deleted_recovery_task_is_recreated(recovery):
    cart = recovery.cart("150.00", email="gone@example.com")
    first = recovery.abandon(cart["id"])
    old_task = recovery.one("Task")
    # Someone deletes the Task in Salesforce.
    salesforce_client().request("DELETE", f"sobjects/Task/{old_task['Id']}")

    second = recovery.abandon(cart["id"], created_at=first.event_created_at + 3600)

    assert second.status == WebhookEvent.Status.DONE, second.last_error_message
    new_task = recovery.one("Task")
    assert new_task["Id"] != old_task["Id"]
    assert local_cart(cart["id"]).task_id == new_task["Id"]
    assert AuditLog.objects.get(event=second).salesforce_api_calls == 2  # the refused PATCH, then the create


def test_a_cart_that_no_longer_exists_is_skipped_not_retried(recovery):
    event = recovery.abandon("0f3c2b1a-9d8e-4f70-a6b5-c4d3e2f1a0b9")

    assert event.status == WebhookEvent.Status.SKIPPED
    assert "404" in event.last_error_message
    assert event.attempts == 1 and event.next_attempt_at is None
    assert recovery.requests() == 0
    row = local_cart("0f3c2b1a-9d8e-4f70-a6b5-c4d3e2f1a0b9")
    assert row.state == Cart.State.SKIPPED and "404" in row.skip_reason


def _flag_set(key: str, enabled: bool) -> None:
    flag = FeatureFlag.objects.get(key=key)
    flag.enabled = enabled
    flag.save()


def test_tasks_and_events_follow_their_flags(recovery):
    _flag_set("recovery_tasks", False)
    _flag_set("platform_events", False)
    cart = recovery.cart("150.00", email="flags@example.com")

    recovery.abandon(cart["id"])

    assert len(recovery.records("Opportunity")) == 1
    assert recovery.records("Task") == []
    assert recovery.org.platform_events() == []
    assert local_cart(cart["id"]).task_id == ""


def test_a_switched_off_record_type_skips_the_cart(recovery):
    _flag_set("opportunity_creation", False)
    cart = recovery.cart("150.00", email="off@example.com")

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.SKIPPED
    assert "opportunity_creation" in event.last_error_message
    assert recovery.requests() == 0
    assert local_cart(cart["id"]).state == Cart.State.SKIPPED
