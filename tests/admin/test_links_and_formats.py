"""The admin's pure helpers: Salesforce and BigCommerce URLs, readable times, backfill progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.formats import localize

from orders.progress import backfill_progress
from sync.admin_display import moment, moment_from_unix, salesforce_org_url, status_badge
from sync.links import (
    bigcommerce_control_panel_url,
    salesforce_lightning_origin,
    salesforce_object_of,
    salesforce_record_url,
)


# -- Salesforce ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("org_url", "origin"),
    [
        ("https://acme.my.salesforce.com", "https://acme.lightning.force.com"),
        ("https://ACME.my.salesforce.com/", "https://acme.lightning.force.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://acme--uat.sandbox.lightning.force.com"),
        ("https://fun-dev-123.scratch.my.salesforce.com", "https://fun-dev-123.scratch.lightning.force.com"),
        ("https://acme-dev-ed.develop.my.salesforce.com", "https://acme-dev-ed.develop.lightning.force.com"),
        ("https://na1.salesforce.com", ""),  # an instance URL, no My Domain
        ("https://login.salesforce.com", ""),
        ("http://acme.my.salesforce.com", ""),  # never a link that leaves TLS
        ("https://my.salesforce.com", ""),
        ("https://acme.my.salesforce.com.evil.example", ""),
        ("https://127.0.0.1:8443", ""),
    ],
)
def test_lightning_origin_of_an_org_url(org_url, origin):
    assert salesforce_lightning_origin(org_url) == origin


def test_record_urls_name_the_object_from_the_key_prefix():
    org = "https://acme.my.salesforce.com"
    assert (
        salesforce_record_url(org_url=org, record_id="001AAAAAAAAAAAAAAA")
        == "https://acme.lightning.force.com/lightning/r/Account/001AAAAAAAAAAAAAAA/view"
    )
    assert (
        salesforce_record_url(org_url=org, record_id="00Q5e00000AbCdE")
        == "https://acme.lightning.force.com/lightning/r/Lead/00Q5e00000AbCdE/view"
    )
    assert (
        salesforce_record_url(org_url="https://acme--uat.sandbox.my.salesforce.com", record_id="8015e00000XyZ12AAB")
        == "https://acme--uat.sandbox.lightning.force.com/lightning/r/Order/8015e00000XyZ12AAB/view"
    )
    assert salesforce_object_of("006000000000001") == "Opportunity"
    assert salesforce_object_of("a0B000000000001") == ""


def test_record_urls_fall_back_to_the_classic_address():
    # A prefix b2s does not know, or an org URL that is no My Domain: <org>/<Id>, which Salesforce redirects.
    assert (
        salesforce_record_url(org_url="https://acme.my.salesforce.com", record_id="a0B5e00000AbCdEFGH")
        == "https://acme.my.salesforce.com/a0B5e00000AbCdEFGH"
    )
    assert (
        salesforce_record_url(org_url="https://127.0.0.1:8443/", record_id="001AAAAAAAAAAAAAAA")
        == "https://127.0.0.1:8443/001AAAAAAAAAAAAAAA"
    )


@pytest.mark.parametrize("record_id", ["", "001", "001AAAAAAAAAAAAAAAAAAA", "001AAAA<script>AAAA", "001 AAAAAAAAAAAAA"])
def test_no_url_for_what_is_not_an_id(record_id):
    assert salesforce_record_url(org_url="https://acme.my.salesforce.com", record_id=record_id) == ""


def test_no_url_without_an_org():
    assert salesforce_record_url(org_url="", record_id="001AAAAAAAAAAAAAAA") == ""
    assert salesforce_record_url(org_url="javascript:alert(1)", record_id="001AAAAAAAAAAAAAAA") == ""


def test_org_url_prefers_the_last_login_then_a_my_domain(settings):
    from django.core.cache import cache

    from sync.salesforce import INSTANCE_URL_CACHE_KEY

    cache.delete(INSTANCE_URL_CACHE_KEY)
    settings.SALESFORCE = {**settings.SALESFORCE, "SANDBOX": False, "LOGIN_URL": "https://login.salesforce.com"}
    assert salesforce_org_url() == ""
    settings.SALESFORCE = {**settings.SALESFORCE, "LOGIN_URL": "https://acme.my.salesforce.com"}
    assert salesforce_org_url() == "https://acme.my.salesforce.com"
    cache.set(INSTANCE_URL_CACHE_KEY, "https://acme--uat.sandbox.my.salesforce.com")
    try:
        assert salesforce_org_url() == "https://acme--uat.sandbox.my.salesforce.com"
    finally:
        cache.delete(INSTANCE_URL_CACHE_KEY)


# -- BigCommerce ---------------------------------------------------------------------------------
def test_control_panel_urls():
    assert (
        bigcommerce_control_panel_url(store_hash="abc123", kind="order", resource_id=100)
        == "https://store-abc123.mybigcommerce.com/manage/orders/100"
    )
    assert (
        bigcommerce_control_panel_url(store_hash="abc123", kind="customer", resource_id="42")
        == "https://store-abc123.mybigcommerce.com/manage/customers/42/edit"
    )
    assert (
        bigcommerce_control_panel_url(store_hash="abc123", kind="product", resource_id=77)
        == "https://store-abc123.mybigcommerce.com/manage/products/edit/77"
    )


@pytest.mark.parametrize(
    ("store_hash", "kind", "resource_id"),
    [
        ("abc123", "cart", "11111111-2222-4333-8444-555555555555"),  # carts have no page of their own
        ("abc123", "order", "12a"),
        ("abc123", "order", ""),
        ("evil.example/x", "order", 1),
        ("Has_Underscore", "order", 1),
        ("", "order", 1),
    ],
)
def test_no_control_panel_url_for_the_rest(store_hash, kind, resource_id):
    assert bigcommerce_control_panel_url(store_hash=store_hash, kind=kind, resource_id=resource_id) == ""


# -- times ---------------------------------------------------------------------------------------
def test_moments_read_to_the_second_with_the_zone():
    instant = datetime(2026, 12, 3, 17, 45, 12, 987654, tzinfo=UTC)
    assert moment(instant) == "2026-12-03 17:45:12 UTC"
    assert moment(None) == "—"
    with timezone.override("Europe/Berlin"):
        assert moment(instant) == "2026-12-03 18:45:12 CET"
    with timezone.override("America/New_York"):
        assert moment(datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC)) == "2026-07-01 08:00:05 EDT"


@override_settings(LANGUAGE_CODE="en-us")
def test_every_admin_datetime_uses_the_same_format():
    # The project's format module (FORMAT_MODULE_PATH): what Django's own admin columns and fields show.
    instant = datetime(2026, 12, 3, 17, 45, 12, tzinfo=UTC)
    assert localize(timezone.localtime(instant)) == "2026-12-03 17:45:12 UTC"


def test_unix_times():
    assert moment(moment_from_unix(1_561_481_571)) == "2019-06-25 16:52:51 UTC"
    assert moment_from_unix(0) is None
    assert moment_from_unix(10**20) is None


def test_status_badges_carry_their_tone_and_escape():
    assert status_badge("dead") == '<span class="b2s-badge b2s-badge--bad" data-status="dead">dead</span>'
    assert 'b2s-badge--ok" data-status="done"' in status_badge("done")
    assert 'b2s-badge--mute" data-status="&lt;x&gt;">&lt;x&gt;' in status_badge("<x>")


# -- backfill progress ---------------------------------------------------------------------------
def test_backfill_progress_running_and_finished():
    started = datetime(2026, 12, 3, 17, 0, 0, tzinfo=UTC)
    running = backfill_progress(
        synced=300,
        unchanged=50,
        skipped=40,
        failed=10,
        total=1600,
        started_at=started,
        finished_at=None,
        now=started + timedelta(minutes=2),
    )
    assert (running.done, running.percent, running.per_minute) == (400, 25.0, 200.0)
    finished = backfill_progress(
        synced=1600,
        unchanged=0,
        skipped=0,
        failed=0,
        total=1600,
        started_at=started,
        finished_at=started + timedelta(minutes=4),
        now=started + timedelta(hours=5),
    )
    assert (finished.percent, finished.per_minute, finished.elapsed_seconds) == (100.0, 400.0, 240.0)


def test_backfill_progress_without_a_total_or_time():
    started = datetime(2026, 12, 3, 17, 0, 0, tzinfo=UTC)
    unknown = backfill_progress(
        synced=5, unchanged=0, skipped=0, failed=0, total=None, started_at=started, finished_at=None, now=started
    )
    assert (unknown.percent, unknown.per_minute) == (None, None)
    empty = backfill_progress(
        synced=0, unchanged=0, skipped=0, failed=0, total=0, started_at=started, finished_at=started, now=started
    )
    assert empty.percent == 100.0
