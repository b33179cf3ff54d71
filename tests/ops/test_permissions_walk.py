"""Every admin URL and custom view, walked as anonymous, as staff without permissions and as a superuser.

The URLs come from the admin site itself (every registered ModelAdmin's ``get_urls``, the index and the app
pages), so a page added later is walked too. Anonymous callers are sent to the login page, staff without
permissions get 403 (or an index listing nothing), superusers get the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import URLPattern, reverse
from django.utils import timezone

from audit.services import audit_record
from ops.models import Alert, HourlyStat
from orders.models import BackfillRun, WritebackCheckpoint
from sync.models import ApiUsageSample, IntakeRejection, SalesforceOrderFieldWriteback, SalesforceOrderStatusMapping
from tests.factories.analytics import CustomerValuesFactory, LedgerEntryFactory, RfmEdgesFactory
from tests.factories.auth import UserFactory
from tests.factories.orders import SyncedOrderFactory
from tests.factories.recovery import CartFactory
from tests.factories.sync import CustomerLinkFactory, StoreFactory, WebhookEventFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
SECRET_CUSTOMER = "walk-customer-4711"
# Models whose change pages are walked only when a row exists: their rows are written by django-q2 or
# django-axes at run time, not cheaply here. Their list and add pages are walked regardless.
CHANGE_PAGE_MAY_SKIP = {
    "django_q.success",
    "django_q.failure",
    "django_q.ormq",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
}
# The URL names of views that only act (the event page's Replay and Sync again buttons): GET is refused.
POST_ONLY = {"replay", "resync"}


@dataclass(frozen=True)
class AdminUrl:
    url: str
    model_admin: admin.ModelAdmin | None
    name: str  # the URL name's last part: changelist, add, change, delete, history, ...; "" when unnamed


@pytest.fixture
def rows(db) -> dict[str, object]:
    """One row of every b2s model, holding a customer key no one without permission may see."""
    store = StoreFactory(access_token="walk-token-secret")
    event = WebhookEventFactory(store=store, resource_id="4711", status="failed", attempts=5)
    audit_record(operation="ORDER_SYNC", store=store, bigcommerce_id="4711", status="failed", event=event)
    CustomerLinkFactory(store=store, customer_key=SECRET_CUSTOMER)
    CartFactory(store=store, customer_key=SECRET_CUSTOMER)
    now = timezone.now()
    # 12345.67: an amount the walk looks for in pages no one without permission may see.
    LedgerEntryFactory(
        store=store,
        customer_key=SECRET_CUSTOMER,
        order_id=4711,
        order_date=now - timedelta(days=3),
        gross_total=Decimal("12345.67"),
        status_id=10,
    )
    CustomerValuesFactory(
        store=store, customer_key=SECRET_CUSTOMER, clv=Decimal("12345.67"), total_orders=1, tier="Platinum"
    )
    RfmEdgesFactory(store=store, customers=1, computed_at=now)
    SyncedOrderFactory(store=store, order_id=4711, salesforce_id="801000000000001", account_key="walk")
    BackfillRun.objects.create(store=store, filters_key="walk", total=10, synced=4)
    WritebackCheckpoint.objects.create(org_id="00D000000000001AAA", modstamp=now, polled_at=now, polls=1, requests=1)
    SalesforceOrderStatusMapping.objects.create(sf_status="Shipped", category="Activated", bc_status_id=2)
    SalesforceOrderFieldWriteback.objects.create(sf_field="Description", bc_field="staff_notes")
    Alert.objects.create(kind=Alert.Kind.DEAD_EVENTS, key=store.store_hash, summary="1 dead event", last_seen_at=now)
    Group.objects.create(name="walkers")
    # The operations dashboard's lists.
    IntakeRejection.objects.create(store_hash=store.store_hash, reason="authentication", minute=now, count=1)
    ApiUsageSample.objects.create(service="bigcommerce", store=store, used=1, limit=450, window_seconds=30)
    HourlyStat.objects.create(
        store=store, hour=now.replace(minute=0, second=0, microsecond=0), scope="store/order/created"
    )
    return {"store": store, "event": event}


@pytest.fixture
def superuser(db):
    return UserFactory(superuser=True)


@pytest.fixture
def bare_staff(db):
    return UserFactory(staff=True)


def admin_urls() -> tuple[list[AdminUrl], list[str]]:
    """Every admin URL with its object placeholders filled from existing rows, and the change pages skipped."""
    urls = [AdminUrl(reverse("admin:index"), None, "index")]
    app_labels = sorted({model._meta.app_label for model in admin.site._registry})
    urls += [AdminUrl(reverse("admin:app_list", args=[label]), None, "app_list") for label in app_labels]
    skipped: list[str] = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        prefix = f"/admin/{opts.app_label}/{opts.model_name}/"
        obj = model._default_manager.order_by("pk").first()
        for pattern in model_admin.get_urls():
            assert isinstance(pattern, URLPattern), f"{opts.label}: nested URLs are not walked yet"
            route = str(pattern.pattern)
            name = (pattern.name or "").removeprefix(f"{opts.app_label}_{opts.model_name}_")
            if "<" in route:
                if obj is None:
                    skipped.append(f"{opts.label_lower}:{name}")
                    continue
                route = re.sub(r"<[^>]+>", str(obj.pk), route)
            urls.append(AdminUrl(prefix + route, model_admin, name))
    return urls, skipped


def test_every_admin_url_is_walked_with_the_expected_answer(client, rows, superuser, bare_staff):
    urls, skipped = admin_urls()
    assert {entry.split(":")[0] for entry in skipped} <= CHANGE_PAGE_MAY_SKIP, skipped
    assert len(urls) > 100  # every registered model contributes its pages
    request = RequestFactory().get("/admin/")
    request.user = superuser

    failures = []
    for entry in urls:
        # Anonymous: the login page, whatever the URL.
        client.logout()
        response = client.get(entry.url)
        if response.status_code != 302 or not response["Location"].startswith(LOGIN):
            failures.append(f"anonymous {entry.url}: {response.status_code}")

        # Staff without permissions: refused, or an index that lists nothing.
        client.force_login(bare_staff)
        response = client.get(entry.url)
        if entry.name == "" and response.status_code == 302:  # <id>/ redirects to the change page
            response = client.get(response["Location"])
        body = response.content.decode(errors="replace")
        if entry.name == "index":
            if response.status_code != 200 or "/changelist" in body or f'href="/admin/{rows["store"]}' in body:
                failures.append(f"bare staff {entry.url}: {response.status_code}")
            if re.search(r'href="/admin/[a-z_]+/[a-z_]+/"', body):
                failures.append(f"bare staff index lists a model: {entry.url}")
        elif response.status_code not in (403, 404):
            failures.append(f"bare staff {entry.url}: {response.status_code}")
        if SECRET_CUSTOMER in body or "12345.67" in body:
            failures.append(f"bare staff {entry.url}: shows data")

        # Superuser: the page, unless the ModelAdmin refuses that action to everyone (read-only admins).
        client.force_login(superuser)
        response = client.get(entry.url)
        refused_to_all = (entry.name == "add" and not entry.model_admin.has_add_permission(request)) or (
            entry.name == "delete" and not entry.model_admin.has_delete_permission(request, None)
        )
        expected = 403 if refused_to_all else 200
        if entry.name == "":
            expected = 302  # the bare <id>/ URL redirects to the change page
        elif entry.name == "autocomplete":
            expected = 403  # Django's autocomplete refuses a request naming no field (its own check)
        elif entry.name in POST_ONLY:
            expected = 405  # a button's action: a GET changes nothing
        if response.status_code != expected:
            failures.append(f"superuser {entry.url}: {response.status_code}, expected {expected}")
    assert not failures, "\n".join(failures)


def test_the_walk_covers_the_dashboard_and_the_sensitive_pages(rows):
    urls = {entry.url for entry in admin_urls()[0]}
    for name in (
        "admin:analytics_analyticsdashboard_changelist",
        "admin:analytics_customervalues_changelist",
        "admin:sync_webhookevent_changelist",
        "admin:audit_auditlog_changelist",
        "admin:recovery_cart_changelist",
        "admin:sync_store_changelist",
    ):
        assert reverse(name) in urls


def test_dashboard_needs_its_view_permission_and_the_values_one(client, rows):
    url = reverse("admin:analytics_analyticsdashboard_changelist")
    client.force_login(UserFactory(staff=True, permissions=["analytics.view_analyticsdashboard"]))
    assert client.get(url).status_code == 403
    client.force_login(UserFactory(staff=True, permissions=["analytics.view_customervalues"]))
    assert client.get(url).status_code == 403
    client.force_login(
        UserFactory(staff=True, permissions=["analytics.view_analyticsdashboard", "analytics.view_customervalues"])
    )
    response = client.get(url)
    assert response.status_code == 200
    assert SECRET_CUSTOMER in response.content.decode()


def test_view_permission_opens_only_its_own_read_only_pages(client, rows):
    client.force_login(UserFactory(staff=True, permissions=["sync.view_webhookevent"]))
    event = rows["event"]
    assert client.get(reverse("admin:sync_webhookevent_changelist")).status_code == 200
    assert client.get(reverse("admin:sync_webhookevent_change", args=[event.pk])).status_code == 200
    assert client.get(reverse("admin:sync_store_changelist")).status_code == 403
    assert client.get(reverse("admin:audit_auditlog_changelist")).status_code == 403


def test_replay_action_needs_the_change_permission(client, rows, superuser):
    event = rows["event"]
    url = reverse("admin:sync_webhookevent_changelist")
    form = {"action": "replay", "_selected_action": [event.pk], "index": 0}
    client.force_login(UserFactory(staff=True, permissions=["sync.view_webhookevent"]))
    client.post(url, form)
    event.refresh_from_db()
    assert event.status == "failed" and event.attempts == 5  # a viewer cannot replay

    client.force_login(superuser)
    client.post(url, form)
    event.refresh_from_db()
    assert event.status == "pending" and event.attempts == 0


def test_sandbox_page_walked_as_the_three_roles(client, rows, superuser, bare_staff):
    # In sandbox mode, against a stand-in that does not answer: the page renders its error, no records.
    with mock.patch.dict(settings.SALESFORCE, {"SANDBOX": True, "LOGIN_URL": "https://127.0.0.1:9", "CA_BUNDLE": ""}):
        response = client.get("/sandbox/")
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)
        client.force_login(bare_staff)
        assert client.get("/sandbox/").status_code == 403
        client.force_login(superuser)
        response = client.get("/sandbox/")
        assert response.status_code == 200
        assert "did not answer" in response.content.decode()
