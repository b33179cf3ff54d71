"""Admin for the audit log: read-only, with the actions replay (re-queue the events) and export CSV."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from audit.models import AuditLog
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
class AuditLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "operation",
        "store",
        "bigcommerce_id",
        "status",
        "error_code",
        "attempt",
        "duration_ms",
        "salesforce_api_calls",
        "event",
    )
    list_filter = ("status", "operation", "store", "created_at")
    search_fields = ("bigcommerce_id", "salesforce_ids")
    date_hierarchy = "created_at"
    list_select_related = ("store", "event")
    actions = ("replay_events", "export_csv")
    # The detail page shows what the export carries (the event as a link, not its id) and the details.
    fields = (*CSV_COLUMNS[1:-1], "event", "details")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False  # the retention schedule prunes; nobody edits history

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
