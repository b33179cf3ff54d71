"""Admin for the audit log: read-only, with the actions replay (re-queue the events) and export CSV."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from audit.models import AuditLog
from sync.admin_display import EMPTY, ReadOnlyAdmin, change_link, clipped, moment, salesforce_links, status_badge
from sync.models import WebhookEvent
from sync.selectors import webhook_events_body_purged
from sync.services.retention import REPLAY_PURGED_REFUSAL
from sync.services.webhooks import webhook_events_replay

CSV_COLUMNS = (
    "id",
    "created_at",
    "operation",
    "store",
    "bigcommerce_id",
    "salesforce_ids",
    "status",
    "error_code",
    "error",
    "attempt",
    "duration_ms",
    "salesforce_api_calls",
    "bigcommerce_api_calls",
    "event_id",
)


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    # What an operator scans for, narrow enough for 1280 px beside the filters; the rest is on the detail page.
    list_display = (
        "created",
        "status_badge",
        "operation",
        "bigcommerce_id",
        "store_short",
        "error_short",
        "attempt",
        "duration_ms",
        "event_link",
    )
    list_display_links = ("created",)
    list_filter = ("status", "operation", "store", "created_at")
    search_fields = ("bigcommerce_id", "salesforce_ids")
    date_hierarchy = "created_at"
    list_select_related = ("store", "event")
    actions = ("replay_events", "export_csv")
    # The detail page shows what the export carries (Salesforce ids and the event as links) and the details.
    fields = (
        "created",
        "operation",
        "store",
        "bigcommerce_id",
        "salesforce_records",
        "status_badge",
        "error_code",
        "error",
        "attempt",
        "duration_ms",
        "salesforce_api_calls",
        "bigcommerce_api_calls",
        "event_link",
        "details",
    )
    readonly_fields = fields

    @admin.display(description="Created", ordering="created_at")
    def created(self, entry: AuditLog) -> str:
        return moment(entry.created_at)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, entry: AuditLog) -> SafeString:
        return status_badge(entry.status)

    @admin.display(description="Store", ordering="store__name")
    def store_short(self, entry: AuditLog) -> SafeString:
        return clipped(entry.store.name if entry.store else "", width_ch=16)

    @admin.display(description="Error", ordering="error_code")
    def error_short(self, entry: AuditLog) -> SafeString:
        text = (
            f"{entry.error_code}: {entry.error}"
            if entry.error_code and entry.error
            else entry.error_code or entry.error
        )
        return clipped(text, width_ch=28)

    @admin.display(description="Salesforce records")
    def salesforce_records(self, entry: AuditLog) -> SafeString:
        return salesforce_links(entry.salesforce_ids or [])

    @admin.display(description="Webhook event", ordering="event")
    def event_link(self, entry: AuditLog) -> SafeString:
        if entry.event_id is None:
            return format_html("{}", EMPTY)
        return change_link("admin:sync_webhookevent_change", entry.event_id, f"event {entry.event_id}")

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sync.change_webhookevent")

    @admin.action(description="Replay the selected entries' webhook events", permissions=["replay"])
    def replay_events(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> None:
        events = WebhookEvent.objects.filter(pk__in=queryset.exclude(event=None).values("event_id"))
        without = queryset.filter(event=None).count()
        purged = webhook_events_body_purged(events=events).count()
        count = webhook_events_replay(events=events)
        self.message_user(request, f"Re-queued {count} webhook event(s).", messages.SUCCESS)
        if purged:
            self.message_user(request, f"{purged} event(s) not replayed: {REPLAY_PURGED_REFUSAL}.", messages.WARNING)
        if without:
            self.message_user(request, f"{without} entry(ies) came from no webhook event.", messages.WARNING)

    @admin.action(description="Export the selected entries as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditLog]) -> HttpResponse:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for entry in queryset.select_related("store").order_by("created_at", "id").iterator():
            writer.writerow(
                [
                    csv_safe(value)
                    for value in (
                        entry.pk,
                        entry.created_at.isoformat(),
                        entry.operation,
                        entry.store.store_hash if entry.store else "",
                        entry.bigcommerce_id,
                        " ".join(entry.salesforce_ids or []),
                        entry.status,
                        entry.error_code,
                        entry.error,
                        entry.attempt,
                        entry.duration_ms,
                        entry.salesforce_api_calls,
                        entry.bigcommerce_api_calls,
                        entry.event_id or "",
                    )
                ]
            )
        return response
