"""The audit service, the audit log and webhook inbox admins (read-only, replay, CSV), and send_test_webhook."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import OrmQ

from audit.models import AuditLog
from audit.services import audit_log_prune, audit_record
from b2s.logging import secret_register
from sync.models import WebhookEvent
from sync.services.webhooks import DRAIN_TASK, webhook_event_receive
from tests.factories.auth import UserFactory
from tests.factories.sync import StoreFactory, WebhookEventFactory
from tests.intake.conftest import HEADER_SECRET, callback, encode

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(header_store):
    def make(resource_id: int, status: str, **fields) -> WebhookEvent:
        body = callback(header_store, scope="store/order/created", resource_id=resource_id)
        return WebhookEventFactory(
            store=header_store,
            scope=body["scope"],
            resource_id=str(resource_id),
            hash=body["hash"],
            event_created_at=body["created_at"],
            body=body,
            headers={"User-Agent": "BigCommerce"},
            status=status,
            **fields,
        )

    return make


@pytest.fixture
def entries(header_store, events):
    failed_event = events(250, "failed", attempts=1, last_error_code="INVALID_FIELD")
    done_event = events(251, "done", attempts=1)
    failed = audit_record(
        operation="ORDER_SYNC",
        store=header_store,
        bigcommerce_id="250",
        status="failed",
        error="INVALID_FIELD (400): No such column 'Foo__c'",
        error_code="INVALID_FIELD",
        event=failed_event,
    )
    success = audit_record(
        operation="CUSTOMER_SYNC",
        store=header_store,
        bigcommerce_id="251",
        status="success",
        salesforce_ids=["001AAAAAAAAAAAAAAA", "003BBBBBBBBBBBBBBB"],
        salesforce_api_calls=1,
        event=done_event,
    )
    return {"failed": failed, "success": success}


# -- the service ---------------------------------------------------------------------------------
def test_audit_record_redacts_secrets(header_store):
    secret_register("sk-live-abcdef123456")
    entry = audit_record(
        operation="ORDER_SYNC",
        store=header_store,
        bigcommerce_id="1",
        status="failed",
        error="login failed with client_secret=sk-live-abcdef123456 and Bearer 00Dxx!abc",
    )
    assert "sk-live-abcdef123456" not in entry.error
    assert "00Dxx!abc" not in entry.error
    assert entry.attempt == 1


def test_audit_log_prune_keeps_the_retention(header_store, settings):
    settings.AUDIT_RETENTION_DAYS = 90
    old = audit_record(operation="ORDER_SYNC", store=header_store, bigcommerce_id="1", status="success")
    recent = audit_record(operation="ORDER_SYNC", store=header_store, bigcommerce_id="2", status="success")
    AuditLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    AuditLog.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=89))
    assert audit_log_prune() == 1
    assert list(AuditLog.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_periodic_schedules_exist():
    from django_q.models import Schedule

    sweep = Schedule.objects.get(name="b2s: webhook sweep")
    prune = Schedule.objects.get(name="b2s: audit log retention")
    assert (sweep.func, sweep.schedule_type, sweep.minutes) == ("sync.tasks.webhook_events_sweep_task", "I", 1)
    assert (prune.func, prune.schedule_type) == ("audit.tasks.audit_log_prune_task", "D")


def test_the_schedule_migration_is_idempotent():
    import importlib

    from django.apps import apps
    from django_q.models import Schedule

    migration = importlib.import_module("audit.migrations.0002_schedules")
    Schedule.objects.filter(name="b2s: webhook sweep").update(minutes=5)  # an admin's edit
    create = migration.Migration.operations[0].code
    create(apps, None)
    assert Schedule.objects.filter(name__in=["b2s: webhook sweep", "b2s: audit log retention"]).count() == 2
    assert Schedule.objects.get(name="b2s: webhook sweep").minutes == 5
    Schedule.objects.filter(name="b2s: audit log retention").delete()
    create(apps, None)  # a missing one comes back, the edited one stays
    assert Schedule.objects.get(name="b2s: audit log retention").schedule_type == "D"
    assert Schedule.objects.get(name="b2s: webhook sweep").minutes == 5
    migration.Migration.operations[0].reverse_code(apps, None)
    assert not Schedule.objects.filter(name__in=["b2s: webhook sweep", "b2s: audit log retention"]).exists()


# -- audit admin ---------------------------------------------------------------------------------
def test_audit_list_filters_and_search(admin_client, entries):
    url = "/admin/audit/auditlog/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "INVALID_FIELD" in page.text
    failed = admin_client.get(url, {"status__exact": "failed"})
    assert list(failed.context["cl"].result_list) == [entries["failed"]]
    by_operation = admin_client.get(url, {"operation__exact": "CUSTOMER_SYNC"})
    assert list(by_operation.context["cl"].result_list) == [entries["success"]]
    by_store = admin_client.get(url, {"store__id__exact": entries["success"].store_id})
    assert by_store.context["cl"].result_count == 2
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)  # as the date filter links it
    by_date = admin_client.get(url, {"created_at__gte": str(today), "created_at__lt": str(today + timedelta(days=1))})
    assert by_date.context["cl"].result_count == 2
    by_bigcommerce_id = admin_client.get(url, {"q": "250"})
    assert list(by_bigcommerce_id.context["cl"].result_list) == [entries["failed"]]
    by_salesforce_id = admin_client.get(url, {"q": "003BBBBBBBBBBBBBBB"})
    assert list(by_salesforce_id.context["cl"].result_list) == [entries["success"]]


def test_audit_detail_is_read_only(admin_client, entries):
    url = f"/admin/audit/auditlog/{entries['failed'].pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "No such column" in page.text
    assert 'name="_save"' not in page.text
    before = AuditLog.objects.get(pk=entries["failed"].pk).error
    admin_client.post(url, {"error": "edited"})
    assert AuditLog.objects.get(pk=entries["failed"].pk).error == before
    assert admin_client.get("/admin/audit/auditlog/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/auditlog/{entries['failed'].pk}/delete/").status_code == 403


def test_audit_replay_action_requeues_the_event(admin_client, entries, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/audit/auditlog/",
            {"action": "replay_events", "_selected_action": [entries["failed"].pk]},
            follow=True,
        )
    assert response.status_code == 200
    assert "Re-queued 1 webhook event(s)." in response.text
    event = entries["failed"].event
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("pending", 0)
    assert [row.task["func"] for row in OrmQ.objects.all()] == [DRAIN_TASK]  # one drain takes it
    entries["success"].event.refresh_from_db()
    assert entries["success"].event.status == "done"


def test_audit_export_csv(admin_client, entries):
    AuditLog.objects.filter(pk=entries["failed"].pk).update(error='=HYPERLINK("http://evil")')
    response = admin_client.post(
        "/admin/audit/auditlog/",
        {"action": "export_csv", "_selected_action": [entries["failed"].pk, entries["success"].pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["bigcommerce_id"] for row in rows] == ["250", "251"]
    assert rows[0]["error"].startswith("'=")  # not a formula in a spreadsheet
    assert rows[1]["salesforce_ids"] == "001AAAAAAAAAAAAAAA 003BBBBBBBBBBBBBBB"
    assert rows[1]["store"] == "hdrstore"


def test_viewers_cannot_replay(client, entries, django_capture_on_commit_callbacks):
    client.force_login(UserFactory(staff=True, permissions=["audit.view_auditlog"]))
    page = client.get("/admin/audit/auditlog/")
    assert page.status_code == 200
    assert "replay_events" not in page.text and "export_csv" in page.text
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/audit/auditlog/", {"action": "replay_events", "_selected_action": [entries["failed"].pk]})
    entries["failed"].event.refresh_from_db()
    assert entries["failed"].event.status == "failed"
    assert OrmQ.objects.count() == 0


# -- webhook inbox admin -------------------------------------------------------------------------
def test_webhook_event_admin_list_search_detail(admin_client, events):
    failed = events(250, "failed", last_error_code="UNABLE_TO_LOCK_ROW")
    events(251, "done")
    url = "/admin/sync/webhookevent/"
    assert admin_client.get(url).status_code == 200
    assert list(admin_client.get(url, {"status__exact": "failed"}).context["cl"].result_list) == [failed]
    assert list(admin_client.get(url, {"q": "250"}).context["cl"].result_list) == [failed]
    detail = admin_client.get(f"{url}{failed.pk}/change/")
    assert detail.status_code == 200
    assert "store/order/created" in detail.text and "BigCommerce" in detail.text
    assert admin_client.get(f"{url}add/").status_code == 403


def test_webhook_event_admin_detail_never_shows_the_secret_header(admin_client, header_store):
    """An event received with the store's secret header shows its other headers, never the secret."""
    body = encode(callback(header_store, scope="store/order/created", resource_id=252))
    headers = {"X-B2S-Webhook-Secret": HEADER_SECRET, "User-Agent": "BigCommerce-Webhooks"}
    received = webhook_event_receive(store_hash=header_store.store_hash, body=body, headers=headers)
    assert received.status_code == 200 and received.event_id is not None
    detail = admin_client.get(f"/admin/sync/webhookevent/{received.event_id}/change/")
    assert detail.status_code == 200
    assert "BigCommerce-Webhooks" in detail.text  # the headers are shown...
    assert HEADER_SECRET not in detail.text  # ...but not the one that carried the secret


def test_webhook_event_admin_replay(admin_client, events, django_capture_on_commit_callbacks):
    dead = events(250, "dead", attempts=5)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/sync/webhookevent/", {"action": "replay", "_selected_action": [dead.pk]}, follow=True
        )
    assert "Re-queued 1 event(s)." in response.text
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("pending", 0)
    assert [row.task["func"] for row in OrmQ.objects.all()] == [DRAIN_TASK]  # one drain takes it


# -- send_test_webhook ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["header", "standard_webhooks", "legacy_hmac"])
def test_send_test_webhook_signs_like_bigcommerce(live_server, mode):
    store = StoreFactory(
        store_hash="cmdstore",
        store_id="42",
        webhook_auth_mode=mode,
        webhook_secret="cmd-secret-0123456789",
        client_secret="cmd-client-secret-0123",
    )
    out = io.StringIO()
    call_command(
        "send_test_webhook",
        "--store",
        store.store_hash,
        "--scope",
        "store/order/created",
        "--id",
        "123",
        "--url",
        live_server.url,
        stdout=out,
    )
    assert "HTTP 200" in out.getvalue()
    assert "cmd-secret-0123456789" not in out.getvalue()
    event = WebhookEvent.objects.get()
    assert (event.scope, event.resource_type, event.resource_id, event.status) == (
        "store/order/created",
        "order",
        "123",
        "pending",
    )
    assert event.body["producer"] == "stores/cmdstore" and event.body["store_id"] == "42"


@pytest.mark.django_db(transaction=True)
def test_send_test_webhook_reports_a_refusal(live_server):
    StoreFactory(store_hash="storea", webhook_secret="secret-a-0123456789")
    StoreFactory(store_hash="storeb", webhook_secret="secret-b-0123456789")
    with pytest.raises(CommandError, match="answered 401"):
        call_command(
            "send_test_webhook",
            "--store",
            "storea",
            "--scope",
            "store/order/created",
            "--id",
            "1",
            "--url",
            f"{live_server.url}/webhooks/bigcommerce/storeb/",
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError, match="No store"):
        call_command("send_test_webhook", "--store", "nope", "--scope", "store/order/created", "--id", "1")
    assert WebhookEvent.objects.count() == 0
