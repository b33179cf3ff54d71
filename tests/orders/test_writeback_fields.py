"""Admin-chosen Order fields written back from Salesforce to BigCommerce, against both stand-ins over HTTPS.

The merchant maps Salesforce Order fields to BigCommerce order fields (``SalesforceOrderFieldWriteback``,
each row enabled on its own, the flag ``writeback_order_fields``): the poll's one query reads them, the
handler writes what changed in the same ``PUT /v2/orders/{id}`` as a status change, a field changed on both
sides is settled by ``writeback_conflict_rule``, and the webhooks BigCommerce fires afterwards cause no
Salesforce write. ``Description`` is also mapped the other way (staff_notes → Description, a FieldMapping).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditLog
from orders.models import SyncedOrder
from orders.writeback import salesforce_orders_poll
from orders.writeback_rules import WRITEBACK_SCOPE
from sync.models import (
    FeatureFlag,
    FieldMapping,
    SalesforceOrderFieldWriteback,
    SalesforceOrderStatusMapping,
    SyncSetting,
    WebhookEvent,
)
from sync.services.webhooks import webhook_event_process

pytestmark = pytest.mark.django_db

AWAITING_FULFILLMENT, SHIPPED = 11, 2
WRITES = {"POST", "PATCH", "PUT", "DELETE"}
NOTE = "Leave it with the neighbour at number 12"


@pytest.fixture
def merchant_org(org):
    """The org's Order Status has the merchant's "Shipped" (Activated), added as an admin adds it in Setup."""
    answer = requests.post(
        f"{org.url}/__sandbox__/picklists/Order/Status",
        json={"values": [{"value": "Shipped", "category": "Activated"}]},
        verify=org.ca_path,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    SalesforceOrderStatusMapping.objects.create(sf_status="Shipped", category="Activated", bc_status_id=SHIPPED)
    return org


@pytest.fixture
def fields_on(merchant_org):
    """Status and field write-back on: Description → staff_notes (mirrored by a field mapping the other way),
    PoNumber → external_order_id; OrderReferenceNumber → customer_message is a row left disabled."""
    FieldMapping.objects.create(sf_object="Order", sf_field="Description", source_path="staff_notes", transform="str")
    SalesforceOrderFieldWriteback.objects.create(sf_field="Description", bc_field="staff_notes", enabled=True)
    SalesforceOrderFieldWriteback.objects.create(sf_field="PoNumber", bc_field="external_order_id", enabled=True)
    SalesforceOrderFieldWriteback.objects.create(sf_field="OrderReferenceNumber", bc_field="customer_message")
    FeatureFlag.objects.filter(key__in=["writeback_order_status", "writeback_order_fields"]).update(enabled=True)


def rule_set(value: str) -> None:
    row = SyncSetting.objects.get(key="writeback_conflict_rule")
    row.value = value
    row.save()


def synced_order(orders) -> int:
    """An order awaiting fulfilment in BigCommerce, synced to Salesforce by its webhook; answers its id."""
    product = next(product for product in orders.bc._data.catalog if product.type == "physical")
    created = orders.bc.order_create(
        {
            "customer_id": 0,
            "currency_code": "USD",
            "status_id": AWAITING_FULFILLMENT,
            "customer_message": "Gift wrap please",
            "products": [{"product_id": product.id, "quantity": 1}],
        }
    )
    orders.deliver("store/order/created", created["id"])
    return created["id"]


def merchant_edit(orders, order_id: int, **fields: Any) -> None:
    """Change the Order in the Salesforce stand-in as a service agent would in the UI (not b2s's user)."""
    agent = orders.__dict__.setdefault("agent", orders.sf.user_create(first_name="Sam", last_name="Agent"))
    synced = SyncedOrder.objects.get(order_id=order_id)
    orders.sf.record_update_as("Order", synced.salesforce_id, fields, user_id=agent)


def poll_and_process(orders) -> WebhookEvent:
    poll = salesforce_orders_poll(force=True)
    assert (poll.ran, poll.requests, poll.stored) == (True, 1, 1)
    event = WebhookEvent.objects.get(scope=WRITEBACK_SCOPE, status=WebhookEvent.Status.PENDING)
    webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    return event


def polled_soql(orders, since: int) -> list[str]:
    return [
        parse_qs(call["query"])["q"][0]
        for call in orders.sf.calls[since:]
        if call["method"] == "GET" and call["path"].rstrip("/").endswith("/query")
    ]


def salesforce_writes(orders, since: int) -> list[str]:
    return [f"{call['method']} {call['path']}" for call in orders.sf.calls[since:] if call["method"] in WRITES]


def bigcommerce_writes(orders, since: int) -> list[str]:
    return [f"{call['method']} {call['path']}" for call in orders.bc.calls()[since:] if call["method"] in WRITES]


def echoes_deliver(orders, since: int, order_id: int) -> int:
    """Run b2s's handlers for the webhooks BigCommerce fired since ``since`` (b2s's own writes)."""
    fired = [event["payload"] for event in orders.bc.events()[since:]]
    for payload in fired:
        orders.deliver(payload["scope"], order_id)
    return len(fired)


# -------------------------------------------------------------------------------------------------


def test_a_field_and_the_status_reach_bigcommerce_in_one_put_within_one_poll_and_the_echo_writes_nothing(
    orders, fields_on
):
    order_id = synced_order(orders)
    merchant_edit(orders, order_id, Status="Shipped", Description=NOTE, PoNumber="PO-4711")
    sf_calls, bc_calls, bc_events = len(orders.sf.calls), len(orders.bc.calls()), len(orders.bc.events())

    event = poll_and_process(orders)

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    # The poll stayed one query, and it read the mapped fields (the enabled ones).
    (soql,) = polled_soql(orders, sf_calls)
    selected = soql.split(" FROM ")[0]
    assert "Description" in selected and "PoNumber" in selected and "OrderReferenceNumber" not in selected
    # One BigCommerce write carried the status and both fields.
    assert bigcommerce_writes(orders, bc_calls) == [f"PUT /stores/{orders.bc.store_hash}/v2/orders/{order_id}"]
    order = orders.bc.order_get(order_id)
    assert (order["status_id"], order["staff_notes"], order["external_order_id"]) == (SHIPPED, NOTE, "PO-4711")
    assert order["customer_message"] == "Gift wrap please"
    entry = AuditLog.objects.get(operation="ORDER_WRITEBACK")
    assert entry.details["written"] == {"status_id": SHIPPED, "fields": ["external_order_id", "staff_notes"]}
    assert NOTE not in str(entry.details)  # the merchant's text stays out of the audit log
    # Salesforce followed as b2s (the mirrored Description is BigCommerce's value, equal to the merchant's).
    record = orders.order_record(order_id)
    assert (record["Status"], record["Description"], record["PoNumber"]) == ("Shipped", NOTE, "PO-4711")
    assert record["LastModifiedById"] == orders.sf.org.user_id
    synced = SyncedOrder.objects.get(order_id=order_id)
    assert synced.writeback_values == {
        "Description": {"sf": NOTE, "bc": NOTE},
        "PoNumber": {"sf": "PO-4711", "bc": "PO-4711"},
    }

    # BigCommerce fired for the one PUT; the webhooks come back: not one Salesforce write.
    calls_before = len(orders.sf.calls)
    assert echoes_deliver(orders, bc_events, order_id) == 2  # statusUpdated and updated
    assert salesforce_writes(orders, calls_before) == []
    # b2s's own Salesforce write is not news for the next poll either.
    assert salesforce_orders_poll(force=True).stored == 0


def test_unmapped_or_disabled_fields_are_not_written(orders, fields_on):
    order_id = synced_order(orders)
    # OrderReferenceNumber's row is disabled; Name has no row at all; PoNumber is enabled.
    merchant_edit(orders, order_id, OrderReferenceNumber="REF-1", Name="Renamed by the agent", PoNumber="PO-1")
    bc_calls = len(orders.bc.calls())

    event = poll_and_process(orders)

    assert event.status == WebhookEvent.Status.DONE, event.last_error_message
    order = orders.bc.order_get(order_id)
    assert (order["external_order_id"], order["customer_message"]) == ("PO-1", "Gift wrap please")
    assert order["status_id"] == AWAITING_FULFILLMENT
    assert len(bigcommerce_writes(orders, bc_calls)) == 1
    entry = AuditLog.objects.get(operation="ORDER_WRITEBACK")
    assert entry.details["written"] == {"fields": ["external_order_id"]}


def test_with_the_field_flag_off_no_field_is_read_or_written(orders, fields_on):
    FeatureFlag.objects.filter(key="writeback_order_fields").update(enabled=False)
    order_id = synced_order(orders)
    merchant_edit(orders, order_id, Description=NOTE, PoNumber="PO-2")
    sf_calls, bc_calls = len(orders.sf.calls), len(orders.bc.calls())

    event = poll_and_process(orders)  # the status write-back is still on: the poll runs

    assert event.status == WebhookEvent.Status.SKIPPED
    (soql,) = polled_soql(orders, sf_calls)
    assert "Description" not in soql and "PoNumber" not in soql
    assert bigcommerce_writes(orders, bc_calls) == []
    order = orders.bc.order_get(order_id)
    assert (order["staff_notes"], order["external_order_id"]) == ("", "")


@pytest.mark.parametrize(
    ("rule", "event_status", "bc_note", "sf_note"),
    [
        ("salesforce_wins", "done", "Salesforce's note", "Salesforce's note"),
        ("bigcommerce_wins", "done", "BigCommerce's note", "BigCommerce's note"),
        ("flag", "failed", "BigCommerce's note", "Salesforce's note"),
    ],
)
def test_a_field_changed_on_both_sides_is_settled_by_the_rule(orders, fields_on, rule, event_status, bc_note, sf_note):
    order_id = synced_order(orders)
    rule_set(rule)
    # Staff changed the note in BigCommerce (its webhook not processed yet), then the agent in Salesforce.
    orders.bc.order_update(order_id, staff_notes="BigCommerce's note")
    merchant_edit(orders, order_id, Status="Shipped", Description="Salesforce's note")

    event = poll_and_process(orders)

    assert event.status == event_status, event.last_error_message
    order = orders.bc.order_get(order_id)
    assert order["staff_notes"] == bc_note
    record = orders.order_record(order_id)
    assert record["Description"] == sf_note
    entry = AuditLog.objects.get(operation="ORDER_WRITEBACK")
    if rule == "flag":
        assert event.last_error_code == "WRITEBACK_CONFLICT" and event.next_attempt_at is None
        assert "Description changed in Salesforce and in BigCommerce" in event.last_error_message
        assert order["status_id"] == AWAITING_FULFILLMENT  # nothing written at all, the status neither
        assert entry.error_code == "WRITEBACK_CONFLICT"
    else:
        # The status had no conflict: written either way, and the merchant's status kept in Salesforce.
        assert (order["status_id"], record["Status"]) == (SHIPPED, "Shipped")
        assert entry.details["conflicts"] == ["Description"]
        assert entry.details["fields"]["staff_notes"]["reason"] == f"conflict: {rule}".replace(
            "conflict: salesforce_wins", "conflict: Salesforce wins"
        )
        # Both sides agree now, and that is what is remembered.
        synced = SyncedOrder.objects.get(order_id=order_id)
        assert synced.writeback_values["Description"] == {"sf": bc_note, "bc": bc_note}


def test_a_field_not_mirrored_is_remembered_by_the_write_back_and_a_later_store_change_is_a_conflict(orders, fields_on):
    order_id = synced_order(orders)
    merchant_edit(orders, order_id, PoNumber="PO-10")
    assert poll_and_process(orders).status == WebhookEvent.Status.DONE
    assert SyncedOrder.objects.get(order_id=order_id).writeback_values["PoNumber"] == {"sf": "PO-10", "bc": "PO-10"}
    # The store changes it (PoNumber is not mapped back to Salesforce), then the agent too: both changed.
    orders.bc.order_update(order_id, external_order_id="ERP-99")
    merchant_edit(orders, order_id, PoNumber="PO-11")

    event = poll_and_process(orders)

    assert (event.status, event.last_error_code) == ("failed", "WRITEBACK_CONFLICT")
    assert orders.bc.order_get(order_id)["external_order_id"] == "ERP-99"
    # Decided: Salesforce wins; the agent then clears the field. Blank is a change once b2s knows the value
    # (sent as null, which the stand-in answers as "").
    rule_set("salesforce_wins")
    WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.DONE)
    merchant_edit(orders, order_id, PoNumber=None)
    assert poll_and_process(orders).status == WebhookEvent.Status.DONE
    assert orders.bc.order_get(order_id)["external_order_id"] == ""
    assert SyncedOrder.objects.get(order_id=order_id).writeback_values["PoNumber"] == {"sf": "", "bc": ""}


# -- the admin table -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sf_field", "bc_field", "error_field"),
    [
        ("Descr iption", "staff_notes", "sf_field"),
        ("My__Field__c", "staff_notes", "sf_field"),
        ("Status", "staff_notes", "sf_field"),
        ("Description", "total_inc_tax", "bc_field"),
    ],
)
def test_the_row_is_validated(sf_field, bc_field, error_field):
    row = SalesforceOrderFieldWriteback(sf_field=sf_field, bc_field=bc_field)
    with pytest.raises(ValidationError) as raised:
        row.full_clean()
    assert error_field in raised.value.message_dict


def test_rows_and_the_flag_start_off():
    assert FeatureFlag.objects.get(key="writeback_order_fields").enabled is False
    assert SalesforceOrderFieldWriteback._meta.get_field("enabled").default is False
    assert not SalesforceOrderFieldWriteback.objects.exists()


def test_the_admin_checks_the_field_against_the_orgs_describe(admin_client, org):
    url = reverse("admin:sync_salesforceorderfieldwriteback_add")
    form = {"sf_field": "Descripton", "bc_field": "staff_notes", "enabled": "on", "notes": ""}

    body = admin_client.post(url, form, follow=True).content.decode()

    assert SalesforceOrderFieldWriteback.objects.filter(sf_field="Descripton", enabled=True).exists()
    assert re.search(r'class="warning">Order has no field Descripton in the Salesforce org', body)
    assert "the Salesforce order changes poll" in body
    form = {"sf_field": "PoNumber", "bc_field": "external_order_id", "notes": ""}
    body = admin_client.post(url, form, follow=True).content.decode()
    assert "has no field" not in body and "Could not check" not in body
    assert admin_client.post(url, {**form, "bc_field": "subtotal_ex_tax"}).status_code == 200  # refused, shown again
    assert SalesforceOrderFieldWriteback.objects.count() == 2
