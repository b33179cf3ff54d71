"""Admin of the operations console: the alerts, read-only, with a hand 'resolve' action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ops.alerts import alerts_resolve
from ops.models import Alert


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "kind",
        "key",
        "state",
        "summary",
        "opened_at",
        "last_seen_at",
        "notifications",
        "occurrences",
        "delivery_error",
    )
    list_filter = ("state", "kind", "opened_at")
    search_fields = ("key", "summary")
    date_hierarchy = "opened_at"
    actions = ("resolve_alerts",)
    fields = (
        "kind",
        "key",
        "state",
        "summary",
        "opened_at",
        "last_seen_at",
        "resolved_at",
        "last_notified_at",
        "notifications",
        "occurrences",
        "delivery_error",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ops.change_alert")

    @admin.action(
        description="Resolve the selected alerts (they open again if their condition still holds)",
        permissions=["resolve"],
    )
    def resolve_alerts(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        count = alerts_resolve(alerts=queryset, now=timezone.now())
        self.message_user(request, f"{count} alert(s) resolved.", messages.SUCCESS)
