"""The operator's admin pages through Django's test client: badges, times, buttons, links, read-only, checks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from orders.models import BackfillRun, SyncedOrder
from recovery.models import Cart
from sync.models import FieldMapping, WebhookEvent
from tests.factories.recovery import CartFactory
from tests.factories.sync import StoreFactory, WebhookEventFactory

pytestmark = pytest.mark.django_db

ORG = "https://acme.my.salesforce.com"


@pytest.fixture
def my_domain(settings):
    """Links to Salesforce records built from a My Domain login URL (no login needed to build them)."""
    from django.core.cache import cache

    from sync.salesforce import INSTANCE_URL_CACHE_KEY

    cache.delete(INSTANCE_URL_CACHE_KEY)
    settings.SALESFORCE = {**settings.SALESFORCE, "SANDBOX": False, "LOGIN_URL": ORG}
    return ORG


@pytest.fixture
def failed_event(db) -> WebhookEvent:
    store = StoreFactory(name="Acme Outdoor Supplies International", store_hash="acme42")
    body = {"scope": "store/order/updated", "data": {"type": "order", "id": 4711}, "created_at": 1_764_930_312}
    return WebhookEventFactory(
        store=store,
        scope="store/order/updated",
        resource_id="4711",
        body=body,
        event_created_at=1_764_930_312,
        received_at=datetime(2026, 12, 3, 17, 45, 12, tzinfo=UTC),
        status="failed",
        attempts=3,
        last_error_code="UNABLE_TO_LOCK_ROW",
        last_error_message="unable to obtain exclusive access to this record",
    )


def _staff(django_user_model, *codenames: str):
    user = django_user_model.objects.create(username="ops-" + "-".join(codenames)[:60], is_staff=True)
    for label in codenames:
        app_label, codename = label.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


# -- the event list and page ---------------------------------------------------------------------
def test_event_list_shows_badges_and_readable_times(admin_client, failed_event):
    body = admin_client.get(reverse("admin:sync_webhookevent_changelist")).content.decode()
    assert '<span class="b2s-badge b2s-badge--warn" data-status="failed">failed</span>' in body
    assert "2026-12-03 17:45:12 UTC" in body
    assert 'title="order/updated"' in body  # the scope, shortened, with the whole in the tooltip
    assert 'href="https://store-acme42.mybigcommerce.com/manage/orders/4711"' in body
    assert 'title="Acme Outdoor Supplies International"' in body
    assert "UNABLE_TO_LOCK_ROW" in body


def test_event_page_reads_its_unix_time_and_links_its_audit_entries(admin_client, failed_event, my_domain):
    audit_record(
        operation="ORDER_SYNC",
        store=failed_event.store,
        bigcommerce_id="4711",
        status="success",
        salesforce_ids=["001AAAAAAAAAAAAAAA", "801BBBBBBBBBBBBBBB"],
        event=failed_event,
    )
    body = admin_client.get(reverse("admin:sync_webhookevent_change", args=[failed_event.pk])).content.decode()
    # 1764930312 is 2025-12-05 10:25:12 UTC.
    assert "2025-12-05 10:25:12 UTC (Unix 1764930312)" in body
    audit_url = reverse("admin:audit_auditlog_changelist") + f"?event__id__exact={failed_event.pk}"
    assert f'href="{audit_url}">1 audit entry</a>' in body
    assert 'href="https://acme.lightning.force.com/lightning/r/Account/001AAAAAAAAAAAAAAA/view"' in body
    assert 'href="https://acme.lightning.force.com/lightning/r/Order/801BBBBBBBBBBBBBBB/view"' in body
    assert 'id="b2s-replay"' in body and 'id="b2s-resync"' in body
    assert 'name="_save"' not in body and "deletelink" not in body

    # The audit list that link opens holds that entry, which links back to the event.
    listed = admin_client.get(audit_url).content.decode()
    event_url = reverse("admin:sync_webhookevent_change", args=[failed_event.pk])
    assert f'href="{event_url}">event {failed_event.pk}</a>' in listed
    assert '<span class="b2s-badge b2s-badge--ok" data-status="success">success</span>' in listed


def test_replay_button_requeues_the_event(admin_client, failed_event, django_capture_on_commit_callbacks):
    url = reverse("admin:sync_webhookevent_replay", args=[failed_event.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, follow=True)
    failed_event.refresh_from_db()
    assert (failed_event.status, failed_event.attempts) == ("pending", 0)
    assert f"Event {failed_event.pk} re-queued" in response.content.decode()


def test_sync_again_button_stores_a_new_event(admin_client, failed_event, admin_user):
    response = admin_client.post(reverse("admin:sync_webhookevent_resync", args=[failed_event.pk]), follow=True)
    created = WebhookEvent.objects.exclude(pk=failed_event.pk).get()
    assert (created.scope, created.resource_id, created.status) == ("store/order/updated", "4711", "pending")
    assert created.headers == {"X-B2S-Resync": f"requested by {admin_user.username}"}
    body = response.content.decode()
    assert (
        f'Queued <a href="{reverse("admin:sync_webhookevent_change", args=[created.pk])}">event {created.pk}</a>'
        in body
    )
    failed_event.refresh_from_db()
    assert failed_event.status == "failed"  # the event itself is left as it was


def test_buttons_refuse_a_get_and_a_viewer(client, admin_client, failed_event, django_user_model):
    client.force_login(_staff(django_user_model, "sync.view_webhookevent"))
    for name in ("admin:sync_webhookevent_replay", "admin:sync_webhookevent_resync"):
        url = reverse(name, args=[failed_event.pk])
        assert admin_client.get(url).status_code == 405
        assert client.post(url).status_code == 403
    assert WebhookEvent.objects.count() == 1
    page = client.get(reverse("admin:sync_webhookevent_change", args=[failed_event.pk])).content.decode()
    assert "b2s-replay" not in page and "b2s-resync" not in page


def test_list_actions_replay_and_sync_again(admin_client, failed_event):
    url = reverse("admin:sync_webhookevent_changelist")
    admin_client.post(url, {"action": "resync", "_selected_action": [failed_event.pk], "index": 0})
    assert WebhookEvent.objects.filter(scope="store/order/updated", status="pending").count() == 1
    admin_client.post(url, {"action": "replay", "_selected_action": [failed_event.pk], "index": 0})
    failed_event.refresh_from_db()
    assert failed_event.status == "pending"


# -- carts, orders, backfill runs ----------------------------------------------------------------
def test_cart_page_is_read_only_with_links(admin_client, my_domain):
    cart = CartFactory(
        store=StoreFactory(store_hash="acme42"),
        opportunity_id="0068d0000000001AAA",
        state=Cart.State.CONVERTED,
        order_id=4712,
        abandoned_at=datetime(2026, 12, 1, 9, 30, 5, tzinfo=UTC),
    )
    url = reverse("admin:recovery_cart_change", args=[cart.pk])
    body = admin_client.get(url).content.decode()
    assert 'name="_save"' not in body and 'name="_continue"' not in body and "deletelink" not in body
    assert 'href="https://acme.lightning.force.com/lightning/r/Opportunity/0068d0000000001AAA/view"' in body
    assert 'href="https://store-acme42.mybigcommerce.com/manage/orders/4712"' in body
    assert "2026-12-01 09:30:05 UTC" in body
    assert admin_client.post(url, {"email": "changed@example.com"}).status_code == 403
    assert admin_client.post(reverse("admin:recovery_cart_delete", args=[cart.pk]), {"post": "yes"}).status_code == 403
    cart.refresh_from_db()
    assert cart.email != "changed@example.com"

    admin_client.post(reverse("admin:recovery_cart_changelist"), {"action": "resync", "_selected_action": [cart.pk]})
    event = WebhookEvent.objects.get()
    assert (event.scope, event.body["data"]) == (
        "store/cart/converted",
        {"type": "cart", "id": cart.cart_id, "orderId": 4712},
    )


def test_synced_orders_link_both_ways(admin_client, my_domain):
    store = StoreFactory(store_hash="acme42")
    SyncedOrder.objects.create(
        store=store,
        order_id=4711,
        salesforce_id="801000000000001AAA",
        account_id="001000000000002AAA",
        sf_status="Activated",
    )
    body = admin_client.get(reverse("admin:orders_syncedorder_changelist")).content.decode()
    assert 'href="https://store-acme42.mybigcommerce.com/manage/orders/4711"' in body
    assert 'href="https://acme.lightning.force.com/lightning/r/Order/801000000000001AAA/view"' in body
    assert 'href="https://acme.lightning.force.com/lightning/r/Account/001000000000002AAA/view"' in body


def test_backfill_runs_show_progress(admin_client):
    started = timezone.now() - timedelta(minutes=4)
    run = BackfillRun.objects.create(
        store=StoreFactory(),
        filters_key="k",
        total=2000,
        synced=700,
        unchanged=80,
        skipped=15,
        failed=5,
        started_at=started,
        finished_at=started + timedelta(minutes=2),
        status=BackfillRun.Status.INTERRUPTED,
    )
    body = admin_client.get(reverse("admin:orders_backfillrun_changelist")).content.decode()
    # 800 of 2000 handled in 2 minutes: 40 %, 400 orders a minute.
    assert "40% (800 / 2000)" in body and 'style="width: 40.0%"' in body
    assert '<td class="field-rate">400</td>' in body  # orders per minute
    assert 'data-status="interrupted"' in body
    detail = admin_client.get(reverse("admin:orders_backfillrun_change", args=[run.pk])).content.decode()
    assert 'name="_save"' not in detail and "deletelink" not in detail
    assert admin_client.get(reverse("admin:orders_backfillrun_add")).status_code == 403


# -- field mappings checked against the org ------------------------------------------------------
def _mapping_form(sf_field: str) -> dict[str, str]:
    return {
        "sf_object": "Account",
        "sf_field": sf_field,
        "source_path": "company",
        "transform": "",
        "default": "",
        "feature_flag": "",
        "enabled": "on",
        "notes": "",
    }


def test_field_mapping_with_an_unknown_field_is_saved_with_a_warning(admin_client, salesforce_wired):
    url = reverse("admin:sync_fieldmapping_add")
    response = admin_client.post(url, _mapping_form("Descripton"), follow=True)
    body = response.content.decode()
    assert FieldMapping.objects.filter(sf_object="Account", sf_field="Descripton").exists()
    assert re.search(r'class="warning">Account has no field Descripton in the Salesforce org', body)

    response = admin_client.post(url, _mapping_form("description"), follow=True)  # case does not matter
    assert "has no field" not in response.content.decode() and "Could not check" not in response.content.decode()


def test_field_mapping_saved_unchecked_when_salesforce_is_unreachable(admin_client, settings):
    from sync.salesforce import salesforce_client_reset

    settings.SALESFORCE = {**settings.SALESFORCE, "SANDBOX": True, "LOGIN_URL": "https://127.0.0.1:9"}
    salesforce_client_reset()
    try:
        response = admin_client.post(reverse("admin:sync_fieldmapping_add"), _mapping_form("Industry"), follow=True)
    finally:
        salesforce_client_reset()
    assert FieldMapping.objects.filter(sf_field="Industry").exists()
    assert "Could not check Account.Industry against the Salesforce org" in response.content.decode()
