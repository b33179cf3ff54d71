"""End to end: BigCommerce stand-in → live b2s → real django-q2 cluster → Salesforce stand-in.

Customer webhooks are fired by the BigCommerce stand-in's own delivery engine at a live b2s
server; a real ``qcluster`` (two workers) processes them against the Salesforce stand-in.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from audit.models import AuditLog
from sync.models import Store, WebhookEvent
from tests.e2e.conftest import live_store_create, wait_for
from tests.factories.auth import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = "e2e-header-secret-0123456789"


@pytest.fixture
def store(bigcommerce_sandbox, live_server, transactional_db) -> Store:
    return live_store_create(
        bigcommerce_sandbox=bigcommerce_sandbox, live_server=live_server, secret=SECRET, scopes=("store/customer/*",)
    )


def settled(cluster) -> bool:
    """Every event of the inbox has reached an end state."""
    if cluster.process.poll() is not None:
        pytest.fail(f"qcluster died:\n{cluster.log()}")
    open_statuses = {"pending", "processing"}
    rows = list(WebhookEvent.objects.values_list("status", "next_attempt_at"))
    return bool(rows) and not any(status in open_statuses or next_at for status, next_at in rows)


def event_for(customer_id: int, scope: str = "store/customer/created") -> WebhookEvent:
    return WebhookEvent.objects.get(scope=scope, resource_id=str(customer_id))


def test_customer_webhooks_end_to_end(store, qcluster, bigcommerce_sandbox, salesforce_sandbox, client):
    bc, sf = bigcommerce_sandbox.app, salesforce_sandbox.app

    # 1. A new customer: its Account and Contact, with the mapped fields.
    ada = bc.customer_create(
        first_name="Ada",
        last_name="Lovelace",
        company="",
        email="ada@example.com",
        phone="555-0100",
        addresses=[{"address1": "12 St James's Square", "address2": "", "city": "London", "postal_code": "SW1Y 4JH"}],
    )
    bc.deliveries_wait(timeout=30)
    wait_for(lambda: settled(qcluster), what="the first customer's event")
    assert event_for(ada["id"]).status == "done", qcluster.log()
    [account] = sf.records("Account")
    [contact] = sf.records("Contact")
    assert account["BigCommerceCustomerId__c"] == contact["BigCommerceCustomerId__c"] == f"sandbox:{ada['id']}"
    assert (account["Name"], account["Phone"], account["BillingCity"], account["BillingPostalCode"]) == (
        "Ada Lovelace",
        "555-0100",
        "London",
        "SW1Y 4JH",
    )
    assert (contact["FirstName"], contact["LastName"], contact["Email"], contact["AccountId"]) == (
        "Ada",
        "Lovelace",
        "ada@example.com",
        account["Id"],
    )

    # 2. Every delivery twice, newest first: updated arrives before created. Still one Account.
    # Two events, each delivered twice: hold all four, then send them newest first.
    bc.configure(duplicate_probability=1.0, reorder="reverse", reorder_window=4, reorder_hold_ms=5000)
    bob = bc.customer_create(first_name="Bob", last_name="Babbage", email="bob@example.com", company="")
    bc.customer_update(bob["id"], company="Difference Engines")
    bc.deliveries_wait(timeout=30)
    bob_deliveries = [d for d in bc.deliveries() if d["payload"]["data"]["id"] == bob["id"]]
    assert len(bob_deliveries) >= 4 and all(d["status"] == 200 for d in bob_deliveries)
    assert bob_deliveries[0]["scope"] == "store/customer/updated"  # out of order
    wait_for(lambda: settled(qcluster), what="the duplicated, reordered events")
    assert WebhookEvent.objects.filter(resource_id=str(bob["id"])).count() == 2  # duplicates were not stored
    bob_key = f"sandbox:{bob['id']}"
    bob_accounts = [a for a in sf.records("Account") if a["BigCommerceCustomerId__c"] == bob_key]
    assert len(bob_accounts) == 1 and bob_accounts[0]["Name"] == "Difference Engines"
    assert len([c for c in sf.records("Contact") if c["BigCommerceCustomerId__c"] == bob_key]) == 1
    bc.configure(duplicate_probability=0.0, reorder=None)

    # 3. A transient fault is retried to success.
    sf.fault_add("unable_to_lock_row", path="/composite", count=1)
    cleo = bc.customer_create(first_name="Cleo", last_name="Transient", email="cleo@example.com")
    bc.deliveries_wait(timeout=30)
    wait_for(lambda: settled(qcluster), what="the transient fault's retry")
    cleo_event = event_for(cleo["id"])
    assert (cleo_event.status, cleo_event.attempts) == ("done", 2), qcluster.log()
    # The audit entry is written just after the status (a failing audit write must not strand the event).
    wait_for(lambda: AuditLog.objects.filter(event=cleo_event).count() == 2, what="the retry's audit entry")
    assert list(AuditLog.objects.filter(event=cleo_event).order_by("id").values_list("status", "error_code")) == [
        ("failed", "UNABLE_TO_LOCK_ROW"),
        ("success", ""),
    ]

    # 4. A permanent fault fails at once, is visible in the audit log, and is replayed from the admin.
    phone = sf.schema["Account"].fields.pop("Phone")
    dora = bc.customer_create(first_name="Dora", last_name="Permanent", email="dora@example.com", phone="555-0199")
    bc.deliveries_wait(timeout=30)
    wait_for(lambda: settled(qcluster), what="the permanent fault")
    dora_event = event_for(dora["id"])
    assert (dora_event.status, dora_event.attempts, dora_event.last_error_code) == ("failed", 1, "INVALID_FIELD")
    failure = wait_for(lambda: AuditLog.objects.filter(event=dora_event).first(), what="the failure's audit entry")
    assert (failure.status, failure.error_code) == ("failed", "INVALID_FIELD") and "Phone" in failure.error
    assert not [a for a in sf.records("Account") if a["BigCommerceCustomerId__c"] == f"sandbox:{dora['id']}"]

    sf.schema["Account"].fields["Phone"] = phone  # the fault is cleared
    client.force_login(UserFactory(superuser=True))
    response = client.post(
        "/admin/audit/auditlog/", {"action": "replay_events", "_selected_action": [failure.pk]}, follow=True
    )
    assert "Re-queued 1 webhook event(s)." in response.text
    wait_for(lambda: event_for(dora["id"]).status == "done", what="the replayed event")
    dora_accounts = [a for a in sf.records("Account") if a["BigCommerceCustomerId__c"] == f"sandbox:{dora['id']}"]
    assert len(dora_accounts) == 1 and dora_accounts[0]["Phone"] == "555-0199"
    wait_for(lambda: AuditLog.objects.filter(event=dora_event, status="success").exists(), what="the replay's audit")


def test_a_cluster_killed_mid_task_loses_nothing(
    store, qcluster_start, bigcommerce_sandbox, salesforce_sandbox, settings
):
    bc, sf = bigcommerce_sandbox.app, salesforce_sandbox.app
    stale = 3
    settings.WEBHOOK_STALE_SECONDS = stale
    first = qcluster_start(WEBHOOK_STALE_SECONDS=str(stale))
    # Salesforce answers the composite slowly, so the kill lands while a worker waits on it.
    sf.fault_add("latency", path="/composite", latency_ms=6000, count=1)
    eve = bc.customer_create(first_name="Eve", last_name="Killed", email="eve@example.com")
    bc.deliveries_wait(timeout=30)
    wait_for(lambda: event_for(eve["id"]).status == "processing", what="the event to be claimed")
    time.sleep(1.5)  # the worker is now inside the slow Salesforce request
    first.kill()
    event = event_for(eve["id"])
    assert (event.status, event.attempts) == ("processing", 1)  # the worker died holding it

    qcluster_start(WEBHOOK_STALE_SECONDS=str(stale))
    wait_for(
        lambda: event_for(eve["id"]).started_at < timezone.now() - timedelta(seconds=stale),
        what="the lease to expire",
    )
    async_task("sync.tasks.webhook_events_sweep_task")  # what the every-minute schedule runs
    wait_for(lambda: event_for(eve["id"]).status == "done", what="the swept event")
    event = event_for(eve["id"])
    assert event.attempts == 2
    key = f"sandbox:{eve['id']}"
    assert len([a for a in sf.records("Account") if a["BigCommerceCustomerId__c"] == key]) == 1
    assert len([c for c in sf.records("Contact") if c["BigCommerceCustomerId__c"] == key]) == 1
