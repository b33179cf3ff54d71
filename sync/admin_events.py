"""Admin for the webhook inbox: list, filter, search, inspect (read-only) and replay."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from sync.models import WebhookEvent
from sync.selectors import webhook_events_body_purged
from sync.services.retention import REPLAY_PURGED_REFUSAL


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "store",
        "scope",
        "resource_type",
        "resource_id",
        "status",
        "attempts",
        "last_error_code",
        "next_attempt_at",
        "duration_ms",
    )
    list_filter = ("status", "scope", "store", "received_at")
    search_fields = ("resource_id", "hash", "last_error_code")
    date_hierarchy = "received_at"
    list_select_related = ("store",)
    actions = ("replay",)
    fields = (
        "store",
        "scope",
        "resource_type",
        "resource_id",
        "hash",
        "event_created_at",
        "received_at",
        "status",
        "attempts",
        "next_attempt_at",
        "started_at",
        "finished_at",
        "duration_ms",
        "last_error_type",
        "last_error_code",
        "last_error_message",
        "body_pretty",
        "headers_pretty",
    )
    readonly_fields = fields

    @admin.display(description="Body")
    def body_pretty(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.body, indent=2, sort_keys=True))

    @admin.display(description="Headers (secrets are never stored)")
    def headers_pretty(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.headers, indent=2, sort_keys=True))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sync.change_webhookevent")

    @admin.action(description="Replay the selected events", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        from sync.services.webhooks import webhook_events_replay

        purged = webhook_events_body_purged(events=queryset).count()
        count = webhook_events_replay(events=queryset)
        skipped = queryset.count() - count - purged
        self.message_user(request, f"Re-queued {count} event(s).", messages.SUCCESS)
        if skipped > 0:
            self.message_user(request, f"{skipped} event(s) are being processed right now.", messages.WARNING)
        if purged:
            self.message_user(request, f"{purged} event(s) not replayed: {REPLAY_PURGED_REFUSAL}.", messages.WARNING)
