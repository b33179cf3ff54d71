"""store/cart/converted: the cart's Opportunity is won (or its Lead converted) and its Task completed."""

from __future__ import annotations

from decimal import Decimal

from audit.models import AuditLog
from orders.models import SyncedOrder
from recovery.models import Cart
from sync.models import SyncSetting, WebhookEvent
from sync.salesforce import salesforce_client


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_conversion_wins_the_opportunity_and_completes_the_task(recovery):
    cart = recovery.cart("180.00", email="buyer@example.com")
    recovery.abandon(cart["id"])
    opportunity_id = recovery.one("Opportunity")["Id"]
    order = recovery.shop.cart_convert(cart["id"])  # the cart is gone from BigCommerce from now on
    before = recovery.requests()

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert recovery.requests() - before == 1  # Opportunity and Task: one composite
    opportunity, task = recovery.one("Opportunity"), recovery.one("Task")
    assert opportunity["Id"] == opportunity_id
    assert (opportunity["StageName"], opportunity["IsClosed"], opportunity["IsWon"]) == ("Closed Won", True, True)
    # The amount is what was ordered (tax and shipping included), not what sat in the cart.
    assert money(opportunity["Amount"]) == money(order["total_inc_tax"])
    assert money(opportunity["Amount"]) != Decimal("180.00")
    assert f"BigCommerce order #{order['id']}" in opportunity["Description"]
    assert (task["Status"], task["IsClosed"]) == ("Completed", True)
    row = Cart.objects.get(cart_id=cart["id"])
    assert (row.state, row.order_id) == (Cart.State.CONVERTED, order["id"])
    assert row.converted_at is not None and row.closed_at is not None
    audit = AuditLog.objects.get(event=event)
    assert (audit.operation, audit.status) == ("CART_CONVERSION", "success")
    assert audit.bigcommerce_api_calls == 1  # the order total, fetched once
    assert audit.details["amount_source"] == "order_get"


def test_conversion_converts_the_lead_into_the_order_customer_without_an_opportunity(recovery):
    cart = recovery.cart("35.00", email="small.buyer@example.com")
    recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"])
    before, before_calls = recovery.requests(), len(recovery.org.calls)

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    lead, account, contact = recovery.one("Lead"), recovery.one("Account"), recovery.one("Contact")
    # Really converted (convertLead), into the order's customer, and no Opportunity made of it.
    assert (lead["IsConverted"], lead["Status"]) == (True, "Closed - Converted")
    assert (lead["ConvertedAccountId"], lead["ConvertedContactId"]) == (account["Id"], contact["Id"])
    assert not lead["ConvertedOpportunityId"] and recovery.records("Opportunity") == []
    assert contact["Email"] == "small.buyer@example.com" and contact["AccountId"] == account["Id"]
    assert f"BigCommerce order #{order['id']}" in lead["Description"]
    assert recovery.one("Task")["Status"] == "Completed"
    # The converted status (queried once, then cached), the composite, and convertLead.
    calls = recovery.org.calls[before_calls:]
    # One convertLead over SOAP, counted like any request; the updates before it in one composite.
    soap = f"/services/Soap/u/{salesforce_client().api_version}"
    assert [call["path"] for call in calls if "/Soap/" in call["path"]] == [soap]
    assert all(call["counted"] for call in calls)
    assert recovery.requests() - before == len(calls)
    audit = AuditLog.objects.get(event=event)
    assert audit.details["lead"] == "converted"
    assert audit.bigcommerce_api_calls == 1  # the order names its customer

    # The order syncing afterwards lands on the same Account and Contact.
    [created] = [e["payload"] for e in recovery.shop.events() if e["payload"]["scope"] == "store/order/created"]
    order_event = recovery.deliver(created)
    assert order_event.status == WebhookEvent.Status.DONE, order_event.last_error_message
    assert recovery.one("Order")["AccountId"] == recovery.one("Account")["Id"] == account["Id"]
    assert recovery.one("Contact")["Id"] == contact["Id"]


def test_a_lead_converts_into_the_account_and_contact_the_order_sync_made(recovery):
    cart = recovery.cart("42.00", email="synced.first@example.com")
    recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"])
    [created] = [e["payload"] for e in recovery.shop.events() if e["payload"]["scope"] == "store/order/created"]
    assert recovery.deliver(created).status == WebhookEvent.Status.DONE
    synced = SyncedOrder.objects.get(order_id=order["id"])
    bigcommerce_calls = len(recovery.shop.calls())

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert len(recovery.shop.calls()) == bigcommerce_calls  # the synced order's customer is known
    lead, contact = recovery.one("Lead"), recovery.one("Contact")
    assert lead["IsConverted"] is True
    assert lead["ConvertedAccountId"] == synced.account_id == recovery.one("Account")["Id"]
    assert lead["ConvertedContactId"] == contact["Id"]
    assert recovery.records("Opportunity") == []


def test_the_admin_may_close_the_lead_unconverted_with_its_own_status(recovery):
    for key, value in (("lead_on_cart_conversion", "close"), ("lead_closed_status", "Closed - Not Converted")):
        setting = SyncSetting.objects.get(key=key)
        setting.value = value
        setting.full_clean()
        setting.save()
    cart = recovery.cart("28.00", email="close.only@example.com")
    recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"])
    before = recovery.requests()

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    lead = recovery.one("Lead")
    assert (lead["Status"], lead["IsConverted"]) == ("Closed - Not Converted", False)
    assert recovery.records("Account") == [] and recovery.records("Contact") == []
    assert recovery.one("Task")["Status"] == "Completed"
    assert recovery.requests() - before == 1  # Lead and Task: one composite
    assert AuditLog.objects.get(event=event).details["lead"] == "closed"


def test_a_lead_a_rep_converted_already_is_left_alone(recovery):
    cart = recovery.cart("31.00", email="rep.converted@example.com")
    recovery.abandon(cart["id"])
    lead_id = recovery.one("Lead")["Id"]
    # A sales rep converted it in Salesforce (into a new Account and Contact) before the order came.
    salesforce_client().lead_convert(lead_id=lead_id, converted_status="Closed - Converted")
    converted = recovery.one("Lead")
    order = recovery.shop.cart_convert(cart["id"])

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    lead = recovery.one("Lead")
    assert lead["IsConverted"] is True
    assert lead["ConvertedAccountId"] == converted["ConvertedAccountId"]  # the rep's conversion stands
    assert recovery.one("Task")["Status"] == "Completed"
    assert AuditLog.objects.get(event=event).details["lead"] == "already_converted"
    assert Cart.objects.get(cart_id=cart["id"]).state == Cart.State.CONVERTED


def test_an_order_synced_before_the_conversion_webhook_gives_amount_and_link(recovery):
    cart = recovery.cart("220.00", email="early.order@example.com")
    recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"])
    # BigCommerce fires store/order/created first; the order handler syncs the order before the
    # conversion arrives.
    [created] = [e["payload"] for e in recovery.shop.events() if e["payload"]["scope"] == "store/order/created"]
    order_event = recovery.deliver(created)
    assert order_event.status == WebhookEvent.Status.DONE, order_event.last_error_message
    synced = SyncedOrder.objects.get(order_id=order["id"])
    bigcommerce_calls = len(recovery.shop.calls())

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert len(recovery.shop.calls()) == bigcommerce_calls  # the amount came from the synced order
    opportunity = recovery.one("Opportunity")
    assert opportunity["StageName"] == "Closed Won"
    assert money(opportunity["Amount"]) == synced.grand_total == money(order["total_inc_tax"])
    assert f"Salesforce Order {synced.salesforce_id}" in opportunity["Description"]
    assert recovery.one("Order")["Id"] == synced.salesforce_id
    assert recovery.one("Task")["Status"] == "Completed"
    audit = AuditLog.objects.get(event=event)
    assert audit.details["amount_source"] == "synced_order"
    assert synced.salesforce_id in audit.salesforce_ids


def test_a_conversion_delivered_twice_changes_nothing_more(recovery):
    cart = recovery.cart("140.00", email="twice.bought@example.com")
    recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"])
    first = recovery.convert_webhook(cart["id"], order["id"])
    before = recovery.requests()

    again = recovery.convert_webhook(cart["id"], order["id"], created_at=first.event_created_at + 60)

    assert again.status == WebhookEvent.Status.SKIPPED
    assert "already recorded as converted" in again.last_error_message
    assert recovery.requests() == before


def test_a_conversion_of_a_cart_never_seen_is_skipped_with_the_reason(recovery):
    cart = recovery.cart("300.00", email="never.seen@example.com")
    order = recovery.shop.cart_convert(cart["id"])

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.SKIPPED
    assert "never seen abandoned" in event.last_error_message
    assert recovery.requests() == 0
    assert not Cart.objects.filter(cart_id=cart["id"]).exists()
    # The abandonment arriving late finds the cart gone, and is skipped too.
    late = recovery.abandon(cart["id"])
    assert late.status == WebhookEvent.Status.SKIPPED and "404" in late.last_error_message
    assert recovery.records("Opportunity") == []


def test_a_skipped_cart_that_converts_is_recorded_locally_only(recovery):
    cart = recovery.cart("90.00")  # a guest without email: skipped at abandonment
    recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"], email="paid.later@example.com")

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.SKIPPED
    assert recovery.requests() == 0
    row = Cart.objects.get(cart_id=cart["id"])
    assert (row.state, row.order_id) == (Cart.State.CONVERTED, order["id"])


def test_an_abandonment_after_the_conversion_is_skipped(recovery):
    cart = recovery.cart("160.00", email="late.abandon@example.com")
    first = recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"])
    recovery.convert_webhook(cart["id"], order["id"])
    before = recovery.requests()

    late = recovery.abandon(cart["id"], created_at=first.event_created_at + 5)

    assert late.status == WebhookEvent.Status.SKIPPED
    assert "already converted" in late.last_error_message
    assert recovery.requests() == before
    assert recovery.one("Opportunity")["StageName"] == "Closed Won"


def test_an_abandonment_of_a_cart_whose_lead_a_rep_converted_is_skipped_not_retried(recovery):
    cart = recovery.cart("26.00", email="rep.converted.then.back@example.com")
    first = recovery.abandon(cart["id"])
    lead_id = recovery.one("Lead")["Id"]
    salesforce_client().lead_convert(lead_id=lead_id, converted_status="Closed - Converted")

    again = recovery.abandon(cart["id"], created_at=first.event_created_at + 3600)

    assert again.status == WebhookEvent.Status.SKIPPED, again.last_error_message
    assert "converted in Salesforce" in again.last_error_message
    assert recovery.one("Lead")["IsConverted"] is True
    assert len(recovery.records("Task")) == 1


def test_a_bought_cart_of_a_shopper_who_is_a_contact_completes_the_task(recovery):
    # The CRM knows the shopper as a Contact (made by hand): the cart got a Task on it, and no Lead.
    account_id = recovery.org.record_create("Account", {"Name": "Known Shopper Ltd"})
    recovery.org.record_create(
        "Contact", {"LastName": "Shopper", "Email": "known.contact@example.com", "AccountId": account_id}
    )
    cart = recovery.cart("24.00", email="known.contact@example.com")
    assert recovery.abandon(cart["id"]).status == WebhookEvent.Status.DONE
    assert recovery.records("Lead") == []
    order = recovery.shop.cart_convert(cart["id"])

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert recovery.one("Task")["Status"] == "Completed"
    assert recovery.records("Lead") == []
    assert Cart.objects.get(cart_id=cart["id"]).state == Cart.State.CONVERTED
