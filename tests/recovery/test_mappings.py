"""Cart recovery applies the admin's Opportunity and Lead field mappings (seeded to what it always sent)."""

from __future__ import annotations

from decimal import Decimal

from sync.models import FieldMapping, WebhookEvent
from sync.seeds import CART_FIELD_MAPPINGS


def _mapping_set(sf_object: str, sf_field: str, source_path: str, transform: str = "", **extra) -> None:
    """What an admin does in the admin: edit (or add) one mapping row and save it."""
    row = FieldMapping.objects.filter(sf_object=sf_object, sf_field=sf_field).first() or FieldMapping(
        sf_object=sf_object, sf_field=sf_field
    )
    row.source_path, row.transform = source_path, transform
    for name, value in extra.items():
        setattr(row, name, value)
    row.full_clean()
    row.save()


def test_the_cart_mappings_are_seeded_for_every_merchant(db):
    seeded = set(
        FieldMapping.objects.filter(sf_object__in=["Opportunity", "Lead"]).values_list("sf_object", "sf_field")
    )
    assert seeded == {(sf_object, sf_field) for sf_object, sf_field, *_ in CART_FIELD_MAPPINGS}
    assert seeded >= {("Opportunity", "Amount"), ("Lead", "LastName"), ("Lead", "Company")}


def test_an_edited_opportunity_mapping_changes_what_lands_on_the_opportunity(recovery):
    _mapping_set("Opportunity", "Name", "customer.email || email", "format:Cart of {}|truncate:120")
    _mapping_set("Opportunity", "NextStep", "currency + value", "format:Call back about {}")
    _mapping_set("Opportunity", "Description", "items", enabled=False)
    # StageName is recovery's own (it must not reset a rep's stage): a mapping for it is not applied.
    _mapping_set("Opportunity", "StageName", "currency", "format:Stage {}")
    cart = recovery.cart("150.00", email="mapped.opportunity@example.com")

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    opportunity = recovery.one("Opportunity")
    assert opportunity["Name"] == "Cart of mapped.opportunity@example.com"
    assert opportunity["NextStep"] == "Call back about USD 150.00"
    assert not opportunity.get("Description")
    assert opportunity["StageName"] == "Prospecting"
    assert Decimal(str(opportunity["Amount"])) == Decimal("150.00")  # the rest as seeded


def test_an_edited_lead_mapping_changes_what_lands_on_the_lead(recovery):
    _mapping_set("Lead", "Company", "email", "upper|truncate:255")
    _mapping_set("Lead", "Rating", "no_such_field", "str", default="Warm")
    _mapping_set("Lead", "Phone", "customer.phone", "str|truncate:40")
    customer = recovery.customer(
        first_name="Grace", last_name="Hopper", email="grace.hopper@example.com", phone="+1 555 0100"
    )
    cart = recovery.cart("40.00", customer_id=customer["id"])

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    lead = recovery.one("Lead")
    assert lead["Company"] == "GRACE.HOPPER@EXAMPLE.COM"
    assert lead["Rating"] == "Warm"
    assert lead["Phone"] == "+1 555 0100"
    assert (lead["FirstName"], lead["LastName"], lead["Status"]) == ("Grace", "Hopper", "Open - Not Contacted")
    assert lead["AbandonedCartId__c"] == f"sandbox:{cart['id']}"  # the external id stays recovery's


def test_a_required_field_whose_mapping_is_disabled_still_gets_a_value(recovery):
    _mapping_set("Lead", "LastName", "customer.last_name || email_local_part", "str|truncate:80", enabled=False)
    _mapping_set("Lead", "Company", "customer.company", "str", enabled=False)
    cart = recovery.cart("20.00", email="no.mapping@example.com")

    event = recovery.abandon(cart["id"])

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    lead = recovery.one("Lead")
    assert (lead["LastName"], lead["Company"]) == ("no.mapping", "no.mapping@example.com")
