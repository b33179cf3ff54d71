"""store/cart/converted: the cart's Opportunity is won (or its Lead converted) and its Task completed."""

from __future__ import annotations

from decimal import Decimal

from audit.models import AuditLog
from recovery.models import Cart
from sync.models import SyncedOrder, WebhookEvent


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


def test_conversion_closes_a_lead_as_converted(recovery):
    cart = recovery.cart("35.00", email="small.buyer@example.com")
    recovery.abandon(cart["id"])
    order = recovery.shop.cart_convert(cart["id"])

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    lead = recovery.one("Lead")
    assert lead["Status"] == "Closed - Converted"
    assert f"BigCommerce order #{order['id']}" in lead["Description"]
    assert recovery.one("Task")["Status"] == "Completed"
    assert AuditLog.objects.get(event=event).bigcommerce_api_calls == 0  # a Lead has no amount to look up


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
