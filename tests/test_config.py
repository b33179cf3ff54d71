"""Admin-managed configuration: validation, the cached accessor, invalidation, seeding."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from sync.config import config
from sync.models import FeatureFlag, FieldMapping, OrderStatusMapping, Store, SyncSetting, Threshold
from sync.seeds import FEATURE_FLAGS, FIELD_MAPPINGS, ORDER_STATUSES, THRESHOLDS, seed_apply

pytestmark = pytest.mark.django_db


def test_seeded_defaults_are_readable_through_the_accessor():
    assert config.flag("platform_events") is True
    assert config.flag("stale_lead_expiration") is False
    assert config.threshold("opportunity_min_value") == Decimal("100")
    assert config.threshold("tier_platinum_min") == Decimal("10000")
    assert config.setting("rfm_mode") == "fixed"
    assert config.status_rule(0).sf_status == "Draft"
    assert config.status_rule(11).sf_status == "Activated"
    assert config.status_rule(5).counts_toward_analytics is False
    assert len(config.field_mappings("Order")) == sum(1 for row in FIELD_MAPPINGS if row[0] == "Order")


def test_every_seeded_flag_threshold_and_status_exists():
    assert set(FeatureFlag.objects.values_list("key", flat=True)) >= {key for key, *_ in FEATURE_FLAGS}
    assert set(Threshold.objects.values_list("key", flat=True)) >= {key for key, *_ in THRESHOLDS}
    assert OrderStatusMapping.objects.count() == len(ORDER_STATUSES) == 15


def test_unknown_keys_fail_loudly():
    with pytest.raises(KeyError, match="Unknown feature flag"):
        config.flag("no_such_flag")
    with pytest.raises(KeyError, match="Unknown threshold"):
        config.threshold("no_such_threshold")


def test_saving_a_flag_invalidates_the_accessor_at_once():
    assert config.flag("platform_events") is True
    FeatureFlag.objects.filter(key="platform_events").update(enabled=False)  # no signal: stale on purpose
    assert config.flag("platform_events") is True
    flag = FeatureFlag.objects.get(key="platform_events")
    flag.save()
    assert config.flag("platform_events") is False


@override_settings(CONFIG_CHECK_SECONDS=0)
def test_another_process_sees_the_change_through_the_version_counter():
    """Simulate another process: drop the local snapshot's knowledge by bumping the counter directly."""
    from django.db.models import F

    from sync.models import ConfigVersion

    assert config.threshold("cart_expiration_days") == Decimal("30")
    Threshold.objects.filter(key="cart_expiration_days").update(value=Decimal("45"))
    ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1)
    assert config.threshold("cart_expiration_days") == Decimal("45")


def test_admin_save_of_a_threshold_invalidates_the_accessor(admin_client):
    threshold = Threshold.objects.get(key="opportunity_min_value")
    assert config.threshold("opportunity_min_value") == Decimal("100")
    url = reverse("admin:sync_threshold_change", args=[threshold.pk])
    response = admin_client.post(url, {"value": "150", "unit": "currency", "description": threshold.description})
    assert response.status_code == 302, response.content[:2000]
    assert config.threshold("opportunity_min_value") == Decimal("150")


def test_admin_refuses_a_threshold_out_of_range(admin_client):
    threshold = Threshold.objects.get(key="cart_expiration_days")
    url = reverse("admin:sync_threshold_change", args=[threshold.pk])
    response = admin_client.post(url, {"value": "0", "unit": "days", "description": "x"})
    assert response.status_code == 200
    assert b"must be at least 1" in response.content
    assert Threshold.objects.get(pk=threshold.pk).value == Decimal("30")


def test_threshold_setting_and_mapping_validation():
    with pytest.raises(ValidationError, match="at least"):
        Threshold(key="t", value=Decimal("-1"), min_value=Decimal("0")).full_clean()
    with pytest.raises(ValidationError, match="must be one of"):
        SyncSetting(key="rfm_mode", value="weekly", choices="fixed,quintile").full_clean()
    with pytest.raises(ValidationError) as bad_path:
        FieldMapping(sf_object="Order", sf_field="X__c", source_path="billing_address..city").full_clean()
    assert "source_path" in bad_path.value.message_dict
    with pytest.raises(ValidationError) as bad_transform:
        FieldMapping(sf_object="Order", sf_field="Y__c", source_path="id", transform="explode").full_clean()
    assert "transform" in bad_transform.value.message_dict
    with pytest.raises(ValidationError) as bad_field:
        FieldMapping(sf_object="Order", sf_field="bad field", source_path="id").full_clean()
    assert "sf_field" in bad_field.value.message_dict


def test_admin_refuses_an_unparseable_mapping(admin_client):
    url = reverse("admin:sync_fieldmapping_add")
    response = admin_client.post(
        url, {"sf_object": "Order", "sf_field": "Note__c", "source_path": "a[", "transform": "str", "enabled": "on"}
    )
    assert response.status_code == 200
    assert b"Cannot parse the path segment" in response.content
    assert not FieldMapping.objects.filter(sf_field="Note__c").exists()


def test_store_validation():
    store = Store(name="S", store_hash="abc", timezone="Mars/Olympus", api_base_url="https://api.bigcommerce.com")
    with pytest.raises(ValidationError, match="Unknown time zone"):
        store.full_clean()
    store = Store(name="S", store_hash="abc", store_id="12a", api_base_url="https://api.bigcommerce.com")
    with pytest.raises(ValidationError, match="store id is a number"):
        store.full_clean()


def test_store_secrets_are_write_only_in_the_admin(admin_client):
    store = Store.objects.create(
        name="Main", store_hash="abc123", access_token="tok-SECRET-111", webhook_secret="hook-SECRET-222"
    )
    listing = admin_client.get(reverse("admin:sync_store_changelist"))
    assert listing.status_code == 200
    assert b"tok-SECRET-111" not in listing.content and b"hook-SECRET-222" not in listing.content
    assert b"access_token: set" in listing.content
    change_url = reverse("admin:sync_store_change", args=[store.pk])
    page = admin_client.get(change_url)
    assert b"tok-SECRET-111" not in page.content and b"hook-SECRET-222" not in page.content
    form = {
        "name": "Main renamed",
        "store_hash": "abc123",
        "store_id": "",
        "api_base_url": "https://api.bigcommerce.com",
        "access_token": "",
        "client_id": "",
        "client_secret": "",
        "webhook_auth_mode": "header",
        "webhook_header_name": "X-B2S-Webhook-Secret",
        "webhook_secret": "hook-NEW-333",
        "timezone": "UTC",
        "is_active": "on",
    }
    response = admin_client.post(change_url, form)
    assert response.status_code == 302, response.content[:3000]
    store.refresh_from_db()
    assert store.name == "Main renamed"
    assert store.access_token == "tok-SECRET-111"  # blank kept the old value
    assert store.webhook_secret == "hook-NEW-333"  # a typed value replaced it


def test_seeding_is_idempotent_and_never_overwrites_an_admin_edit():
    counts = (FeatureFlag.objects.count(), Threshold.objects.count(), FieldMapping.objects.count())
    seed_apply(django_apps)
    seed_apply(django_apps)
    assert (FeatureFlag.objects.count(), Threshold.objects.count(), FieldMapping.objects.count()) == counts
    Threshold.objects.filter(key="tier_gold_min").update(value=Decimal("4000"))
    FeatureFlag.objects.filter(key="customer_tags").update(enabled=False)
    FieldMapping.objects.filter(sf_object="Order", sf_field="BillingCity").update(transform="upper")
    FeatureFlag.objects.filter(key="refunds").delete()  # a deleted default comes back on re-seed
    migration = importlib.import_module("sync.migrations.0002_seed")
    for operation in migration.Migration.operations:
        operation.code(django_apps, None)
    assert Threshold.objects.get(key="tier_gold_min").value == Decimal("4000")
    assert FeatureFlag.objects.get(key="customer_tags").enabled is False
    assert FieldMapping.objects.get(sf_object="Order", sf_field="BillingCity").transform == "upper"
    assert FeatureFlag.objects.get(key="refunds").enabled is True


def test_store_is_created_from_environment_once(monkeypatch):
    from sync.seeds import store_from_env

    monkeypatch.setenv("BIGCOMMERCE_STORE_HASH", "envstore")
    monkeypatch.setenv("BIGCOMMERCE_ACCESS_TOKEN", "env-token-1")
    monkeypatch.setenv("BIGCOMMERCE_WEBHOOK_SECRET", "env-hook-1")
    store_from_env(django_apps)
    Store.objects.filter(store_hash="envstore").update(access_token="edited-in-admin")
    store_from_env(django_apps)
    store = Store.objects.get(store_hash="envstore")
    assert store.access_token == "edited-in-admin"
    assert store.webhook_secret == "env-hook-1"


def test_deleting_order_lines_stays_one_statement():
    """The configuration receivers listen to the configuration models only: Django keeps its fast delete
    (one DELETE, no row-by-row signals) for everything else, order lines included."""
    from django.db.models.deletion import Collector

    from orders.models import SyncedOrderItem
    from sync.models import FieldMapping

    assert Collector(using="default").can_fast_delete(SyncedOrderItem.objects.all())
    assert not Collector(using="default").can_fast_delete(FieldMapping.objects.all())  # its receiver bumps the version
