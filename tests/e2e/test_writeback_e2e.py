"""End to end, both directions (issue 17): orders change in BigCommerce (webhooks to a live b2s) and in
Salesforce (a service agent, polled), round after round; a real django-q2 cluster (two workers) does the
syncing and the write-back, and BigCommerce's webhooks for b2s's own writes come back through the live b2s.

At the end both ends agree, order by order and field by field: BigCommerce's status and Salesforce's Status
(the merchant's own, or the coarse mapping), BC_Status__c, the tracking numbers, and the staff notes (an
admin-chosen field, Description ↔ staff_notes, written back and mirrored by a field mapping).
"""

from __future__ import annotations

import random
import time

import pytest
import requests

from orders.models import SyncedOrder
from orders.writeback import salesforce_orders_poll
from orders.writeback_rules import WRITEBACK_SCOPE
from sync.bigcommerce import bigcommerce_client
from sync.config import config_version_bump
from sync.models import (
    FeatureFlag,
    FieldMapping,
    SalesforceOrderFieldWriteback,
    SalesforceOrderStatusMapping,
    Store,
    SyncSetting,
    WebhookEvent,
)
from sync.seeds import ORDER_STATUSES
from tests.e2e.conftest import live_store_create, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "e2e-writeback-secret-0123456789"
ORDERS = 12
ROUNDS = 4
MERCHANT_STATUSES = {"Shipped": 2, "Cancelled": 5, "Completed": 10}
NAMES = {status_id: name for status_id, name, _sf, _counts in ORDER_STATUSES}
COARSE = {status_id: sf_status for status_id, _name, sf_status, _counts in ORDER_STATUSES}


@pytest.fixture
def store(bigcommerce_sandbox, live_server, transactional_db) -> Store:
    return live_store_create(
        bigcommerce_sandbox=bigcommerce_sandbox,
        live_server=live_server,
        secret=SECRET,
        scopes=("store/order/*", "store/shipment/*"),
    )


@pytest.fixture
def merchant_org(salesforce_wired, bigcommerce_wired):
    """The org's Order Status has the merchant's own values (Activated category), added as an admin would."""
    answer = requests.post(
        f"{salesforce_wired.url}/__sandbox__/picklists/Order/Status",
        json={"values": [{"value": value, "category": "Activated"} for value in MERCHANT_STATUSES]},
        verify=salesforce_wired.ca_path,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return salesforce_wired


def settled(cluster) -> bool:
    if cluster.process.poll() is not None:
        pytest.fail(f"qcluster died:\n{cluster.log()}")
    rows = list(WebhookEvent.objects.values_list("status", "next_attempt_at"))
    return bool(rows) and not any(status in ("pending", "processing") or next_at for status, next_at in rows)


def quiet(cluster, bc) -> bool:
    """BigCommerce delivered everything it fired and b2s finished every event."""
    bc.deliveries_wait(timeout=30)
    return settled(cluster)


def test_a_run_of_changes_on_both_sides_ends_with_both_ends_agreeing(
    store, merchant_org, qcluster, bigcommerce_sandbox
):
    bc, sf = bigcommerce_sandbox.app, merchant_org.app
    rng = random.Random(17)
    catalog = [product for product in bc._data.catalog if product.type == "physical"]
    created = [
        bc.order_create(
            {
                "customer_id": 0,
                "email": f"buyer{index}@example.com",
                "currency_code": "USD",
                "status_id": 11,
                "products": [
                    {"product_id": product.id, "quantity": rng.randint(1, 3)} for product in rng.sample(catalog, 2)
                ],
            }
        )["id"]
        for index in range(ORDERS)
    ]
    bc.deliveries_release()
    wait_for(lambda: SyncedOrder.objects.count() == ORDERS and quiet(qcluster, bc), timeout=120, what="the orders")

    # The merchant turns the write-back on (Salesforce wins a conflict, so the end state is predictable).
    for sf_status, bc_status in MERCHANT_STATUSES.items():
        SalesforceOrderStatusMapping.objects.create(sf_status=sf_status, category="Activated", bc_status_id=bc_status)
    FieldMapping.objects.create(sf_object="Order", sf_field="Description", source_path="staff_notes", transform="str")
    SalesforceOrderFieldWriteback.objects.create(sf_field="Description", bc_field="staff_notes", enabled=True)
    FeatureFlag.objects.filter(
        key__in=["writeback_order_status", "writeback_shipments", "writeback_order_fields"]
    ).update(enabled=True)
    SyncSetting.objects.filter(key="writeback_conflict_rule").update(value="salesforce_wins")
    config_version_bump()
    agent = sf.user_create(first_name="Sam", last_name="Agent")
    salesforce_ids = dict(SyncedOrder.objects.values_list("order_id", "salesforce_id"))

    shipped_in_salesforce: set[int] = set()
    for round_number in range(ROUNDS):
        # BigCommerce side: a status change and a shipment of orders nobody shipped yet.
        for order_id in rng.sample(created, 2):
            if bc.order_get(order_id)["items_shipped"] == 0:
                bc.order_status_set(order_id, rng.choice((9, 10, 11)))
        for order_id in rng.sample([o for o in created if o not in shipped_in_salesforce], 1):
            if bc.order_get(order_id)["items_shipped"] == 0:
                bc.shipment_create(order_id, tracking_number=f"BC{round_number}{order_id}")
        for order_id in rng.sample(created, 1):
            bc.order_update(order_id, staff_notes=f"store note {round_number}")
        bc.deliveries_release()
        # Salesforce side: the agent ships, cancels or completes orders (some also changed in BigCommerce).
        for order_id in rng.sample(created, 3):
            choice = rng.choice(("ship", "cancel", "complete"))
            if choice == "ship" and order_id not in shipped_in_salesforce:
                fields = {
                    "Status": "Shipped",
                    "TrackingNumber__c": f"SF{round_number}{order_id}",
                    "Shipping_Carrier__c": "UPS",
                }
                shipped_in_salesforce.add(order_id)
            else:
                fields = {"Status": "Cancelled" if choice == "cancel" else "Completed"}
            fields["Description"] = f"agent note {round_number} on {order_id}"
            sf.record_update_as("Order", salesforce_ids[order_id], fields, user_id=agent)
        time.sleep(1.1)  # the next round's changes carry later stamps (whole seconds)
        salesforce_orders_poll(force=True)
    wait_for(lambda: quiet(qcluster, bc), timeout=180, what="the write-back and its echoes")
    # Nothing left to read back: b2s's own Salesforce writes are not news.
    assert salesforce_orders_poll(force=True).stored == 0

    writebacks = WebhookEvent.objects.filter(scope=WRITEBACK_SCOPE)
    assert writebacks.exists()
    assert set(writebacks.values_list("status", flat=True)) <= {"done", "skipped"}, qcluster.log()
    assert not WebhookEvent.objects.filter(status__in=("failed", "dead")).exists(), qcluster.log()

    # b2s wrote BigCommerce: statuses (PUT) and shipments (POST) of the orders changed in Salesforce.
    writes = [call for call in bc.calls() if call["method"] in ("PUT", "POST") and "/v2/orders/" in call["path"]]
    assert any(call["method"] == "PUT" for call in writes) and any(
        call["path"].endswith("/shipments") for call in writes
    )
    client = bigcommerce_client(store)
    records = {record["Id"]: record for record in sf.records("Order")}
    for order_id in created:
        order = bc.order_get(order_id)
        record = records[salesforce_ids[order_id]]
        status_id = order["status_id"]
        merchant = record["Status"] if MERCHANT_STATUSES.get(record["Status"]) == status_id else None
        assert record["Status"] == (merchant or COARSE[status_id]), (order_id, status_id, record["Status"])
        assert record["BC_Status__c"] == NAMES[status_id] == order["status"]
        numbers = [shipment["tracking_number"] for shipment in client.order_shipments(order_id)]
        assert (record["TrackingNumber__c"] or "") == ", ".join(dict.fromkeys(n for n in numbers if n)), order_id
        assert len(numbers) == len(set(numbers)), f"order {order_id} shipped twice: {numbers}"
        assert (record["Description"] or "") == order["staff_notes"], order_id
    assert any(bc.order_get(order_id)["staff_notes"].startswith("agent note") for order_id in created)
