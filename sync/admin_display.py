"""What the admin pages share: status badges, readable times, clipped text, links to Salesforce and BigCommerce.

Every helper returns escaped HTML (``format_html``) for a list column or a read-only detail field; the
styles are in ``sync/static/b2s/admin.css`` (loaded by ``templates/admin/base_site.html``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from sync.links import (
    bigcommerce_control_panel_url,
    salesforce_lightning_origin,
    salesforce_object_of,
    salesforce_record_url,
)
from sync.models import Store
from sync.salesforce import INSTANCE_URL_CACHE_KEY

# The same as b2s/formats/en/formats.py DATETIME_FORMAT: what a date column shows, to the second, with its zone.
MOMENT_FORMAT = "Y-m-d H:i:s T"
EMPTY = "—"
# Status → badge tone (the colour): green done, blue waiting or running, amber needs a look, red gave up.
STATUS_TONES = {
    "done": "ok",
    "success": "ok",
    "converted": "ok",
    "pending": "wait",
    "open": "wait",
    "processing": "busy",
    "running": "busy",
    "failed": "warn",
    "interrupted": "warn",
    "dead": "bad",
    "ignored": "mute",
    "skipped": "mute",
    "expired": "mute",
}
# Login hosts shared by every org: no record lives there.
GENERIC_LOGIN_HOSTS = ("https://login.salesforce.com", "https://test.salesforce.com")


def status_badge(status: str, label: str = "") -> SafeString:
    """A coloured badge of a status (``data-status`` carries the raw value for tests and styles)."""
    tone = STATUS_TONES.get(status, "mute")
    return format_html(
        '<span class="b2s-badge b2s-badge--{}" data-status="{}">{}</span>', tone, status, label or status
    )


def moment(value: datetime | None) -> str:
    """``2026-12-03 17:45:12 UTC``: in the current time zone (``TIME_ZONE``), to the second, with the zone."""
    if value is None:
        return EMPTY
    return date_format(timezone.localtime(value), MOMENT_FORMAT)


def moment_from_unix(seconds: int | None) -> datetime | None:
    """A Unix time (BigCommerce's ``created_at``) as an aware datetime; None for 0 or nonsense."""
    if not seconds or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def clipped(text: str, *, width_ch: int = 24) -> SafeString:
    """Text cut to one line of about ``width_ch`` characters by CSS, the whole of it in the tooltip."""
    if not text:
        return format_html("{}", EMPTY)
    return format_html('<span class="b2s-clip" style="max-width: {}ch" title="{}">{}</span>', width_ch, text, text)


def salesforce_org_url() -> str:
    """The org's URL for links to records: the last login's instance URL, else a My Domain login URL."""
    cached = cache.get(INSTANCE_URL_CACHE_KEY)
    if isinstance(cached, str) and cached:
        return cached
    login_url = str(settings.SALESFORCE.get("LOGIN_URL") or "").rstrip("/")
    if salesforce_lightning_origin(login_url) or settings.SALESFORCE.get("SANDBOX"):
        return login_url
    return "" if login_url in GENERIC_LOGIN_HOSTS else login_url


def salesforce_link(record_id: str, *, org_url: str | None = None) -> SafeString:
    """The Id as a link to the record in Salesforce (a new tab); the bare Id when no URL can be built."""
    if not record_id:
        return format_html("{}", EMPTY)
    url = salesforce_record_url(org_url=salesforce_org_url() if org_url is None else org_url, record_id=record_id)
    if not url:
        return format_html("{}", record_id)
    sobject = salesforce_object_of(record_id) or "Record"
    return format_html(
        '<a class="b2s-out" href="{}" target="_blank" rel="noopener noreferrer" title="{} in Salesforce">{}</a>',
        url,
        sobject,
        record_id,
    )


def salesforce_links(record_ids: Iterable[str]) -> SafeString:
    """Several Ids, each a link (one org URL lookup for all)."""
    ids = [str(record_id) for record_id in record_ids if record_id]
    if not ids:
        return format_html("{}", EMPTY)
    org_url = salesforce_org_url()
    return format_html_join(" ", "{}", ((salesforce_link(record_id, org_url=org_url),) for record_id in ids))


def bigcommerce_link(store: Store | None, *, kind: str, resource_id: str | int, label: str = "") -> SafeString:
    """The resource's page in the store's control panel (a new tab); the label alone when there is none."""
    text = label or str(resource_id)
    url = (
        bigcommerce_control_panel_url(store_hash=store.store_hash, kind=kind, resource_id=resource_id) if store else ""
    )
    if not url:
        return format_html("{}", text or EMPTY)
    return format_html(
        '<a class="b2s-out" href="{}" target="_blank" rel="noopener noreferrer" title="This {} in BigCommerce">{}</a>',
        url,
        kind,
        text,
    )


def changelist_link(view_name: str, label: str, **filters: object) -> SafeString:
    """A link to an admin list, filtered (``event__id__exact=12``)."""
    query = urlencode({name: str(value) for name, value in filters.items()})
    return format_html('<a href="{}?{}">{}</a>', reverse(view_name), query, label)


def change_link(view_name: str, object_id: int, label: str) -> SafeString:
    """A link to one object's admin page."""
    return format_html('<a href="{}">{}</a>', reverse(view_name, args=[object_id]), label)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows b2s writes (events, audit entries, carts, analytics, statistics): viewable, never added, edited or
    deleted in the admin; list actions (replay, sync again, resolve) still run for those allowed them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
