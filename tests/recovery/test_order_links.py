"""Connected records (issue 16) around a recovered cart: the shopper's OpportunityContactRole on the cart's
Opportunity, and the order placed from the cart pointing at that Opportunity (OpportunityId) whichever of the
order, the conversion event and the abandonment comes first; all inside the requests b2s makes anyway."""

from __future__ import annotations

import pytest

from orders.models import SyncedOrder
from orders.services import order_sync
from recovery.models import Cart
from sync.models import WebhookEvent
from sync.salesforce import salesforce_client

pytestmark = pytest.mark.django_db


def _sync_costs(recovery, order_id: int) -> int:
    """The Salesforce requests of one order sync, after the once-per-process reads (price book, Order describe)."""
    client = salesforce_client()
    client.standard_pricebook_id()
    client.field_names("Order")
    before = recovery.requests()
    order_sync(store=recovery.store, order_id=order_id)
    return recovery.requests() - before


def _order(recovery, order_id: int) -> dict:
    [record] = [row for row in recovery.records("Order") if row["BigCommerceOrderId__c"] == f"sandbox:{order_id}"]
    return record


def test_the_shopper_is_the_primary_contact_of_the_cart_opportunity_once(recovery):
    customer = recovery.customer(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    cart = recovery.cart("250.00", customer_id=customer["id"])

    recovery.abandon(cart["id"], created_at=1_764_900_000)

    opportunity, contact = recovery.one("Opportunity"), recovery.one("Contact")
    role = recovery.one("OpportunityContactRole")
    assert (role["OpportunityId"], role["ContactId"]) == (opportunity["Id"], contact["Id"])
    assert (role["IsPrimary"], role["Role"]) == (True, "Decision Maker")
    assert Cart.objects.get(cart_id=cart["id"]).contact_role_id == role["Id"]
    # A later abandonment of the same cart: the same one request, and no second role.
    recovery.cart_quantity_set(cart["id"], 3)
    before = recovery.requests()
    event = recovery.abandon(cart["id"], created_at=1_764_990_000)
    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert recovery.requests() - before == 1
    assert [row["Id"] for row in recovery.records("OpportunityContactRole")] == [role["Id"]]


def test_a_cart_opportunity_made_before_roles_gains_its_role_on_the_next_abandonment(recovery):
    cart = recovery.cart("300.00", email="grace@example.com")
    recovery.abandon(cart["id"], created_at=1_764_900_000)
    role = recovery.one("OpportunityContactRole")
    # As an earlier version left it: no role in Salesforce, none remembered.
    _role_forget(recovery, role["Id"])
    Cart.objects.filter(cart_id=cart["id"]).update(contact_role_id="")

    recovery.abandon(cart["id"], created_at=1_764_990_000)

    [again] = recovery.records("OpportunityContactRole")
    assert again["ContactId"] == recovery.one("Contact")["Id"]
    assert Cart.objects.get(cart_id=cart["id"]).contact_role_id == again["Id"]


def _role_forget(recovery, role_id: str) -> None:
    with recovery.org.lock:
        recovery.org.org.delete("OpportunityContactRole", role_id)
        recovery.org.org.commit()


def test_a_low_value_cart_has_a_lead_and_no_role(recovery):
    cart = recovery.cart("12.00", email="lead@example.com")
    recovery.abandon(cart["id"])
    assert recovery.one("Lead")["AbandonedCartId__c"] == f"sandbox:{cart['id']}"
    assert recovery.records("OpportunityContactRole") == []


def test_an_order_arriving_before_the_conversion_links_the_cart_opportunity(recovery):
    cart = recovery.cart("180.00", email="buyer@example.com")
    recovery.abandon(cart["id"])
    opportunity = recovery.one("Opportunity")
    order = recovery.shop.cart_convert(cart["id"])

    # The guest's records are remembered from the cart; the custom item's product is unknown: one query
    # for it, then the order's graph. The link is a local read, no request.
    assert _sync_costs(recovery, order["id"]) == 2

    record = _order(recovery, order["id"])
    contact = recovery.one("Contact")
    assert record["OpportunityId"] == opportunity["Id"]
    assert record["BillToContactId"] == contact["Id"] == recovery.one("OpportunityContactRole")["ContactId"]
    assert record["StatusCode"] == "Activated"
    before = recovery.requests()
    event = recovery.convert_webhook(cart["id"], order["id"])
    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert recovery.requests() - before == 1  # Opportunity and Task, as ever: the Order is linked already
    assert recovery.one("Opportunity")["StageName"] == "Closed Won"
    assert SyncedOrder.objects.get(order_id=order["id"]).opportunity_id == opportunity["Id"]


def test_an_order_arriving_after_the_conversion_links_the_cart_opportunity(recovery):
    customer = recovery.customer(first_name="Alan", last_name="Turing", email="alan@example.com")
    cart = recovery.cart("400.00", customer_id=customer["id"])
    recovery.abandon(cart["id"])
    opportunity = recovery.one("Opportunity")
    order = recovery.shop.cart_convert(cart["id"])
    event = recovery.convert_webhook(cart["id"], order["id"])
    assert event.status == WebhookEvent.Status.DONE, event.last_error_message

    order_sync(store=recovery.store, order_id=order["id"])

    record = _order(recovery, order["id"])
    assert record["OpportunityId"] == opportunity["Id"]
    assert record["BillToContactId"] == recovery.one("Contact")["Id"]
    # A redelivery of the unchanged order costs nothing.
    assert _sync_costs(recovery, order["id"]) == 0


def test_an_opportunity_made_after_its_order_is_linked_by_the_conversion(recovery):
    cart = recovery.cart("220.00", email="late@example.com")
    order = recovery.shop.order_create({"customer_id": 0, "email": "late@example.com", "cart_id": cart["id"]})
    order_sync(store=recovery.store, order_id=order["id"])
    assert _order(recovery, order["id"])["OpportunityId"] is None  # no Opportunity of the cart yet
    recovery.abandon(cart["id"])  # processed late: the Opportunity comes after the order
    opportunity = recovery.one("Opportunity")
    before = recovery.requests()

    event = recovery.convert_webhook(cart["id"], order["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    assert recovery.requests() - before == 1  # the Order's link joins the conversion's composite
    record = _order(recovery, order["id"])
    assert (record["OpportunityId"], record["StatusCode"]) == (opportunity["Id"], "Activated")
    assert SyncedOrder.objects.get(order_id=order["id"]).opportunity_id == opportunity["Id"]
    # The order's next delivery finds nothing to send.
    assert _sync_costs(recovery, order["id"]) == 0
