"""Admin of the operations console: the alerts, read-only, with a hand 'resolve' action; and, read-only, the lists
the dashboard links to that no other app shows: refused deliveries, API usage readings and the hourly roll-ups
(written by intake, the API clients and the roll-up task)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ops.alerts import alerts_resolve
from ops.models import Alert, HourlyStat
from sync.admin_display import ReadOnlyAdmin
from sync.models import ApiUsageSample, IntakeRejection


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
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

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ops.change_alert")

    @admin.action(
        description="Resolve the selected alerts (they open again if their condition still holds)",
        permissions=["resolve"],
    )
    def resolve_alerts(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        count = alerts_resolve(alerts=queryset, now=timezone.now())
        self.message_user(request, f"{count} alert(s) resolved.", messages.SUCCESS)


@admin.register(IntakeRejection)
class IntakeRejectionAdmin(ReadOnlyAdmin):
    list_display = ("minute", "store_hash", "reason", "count")
    list_filter = ("reason", "minute")
    search_fields = ("store_hash",)
    date_hierarchy = "minute"


@admin.register(ApiUsageSample)
class ApiUsageSampleAdmin(ReadOnlyAdmin):
    list_display = ("recorded_at", "service", "store", "used", "limit", "share_percent", "window_seconds")
    list_filter = ("service", "store")
    list_select_related = ("store",)

    @admin.display(description="Share of the limit")
    def share_percent(self, sample: ApiUsageSample) -> str:
        return f"{sample.share * 100:.1f} %"


@admin.register(HourlyStat)
class HourlyStatAdmin(ReadOnlyAdmin):
    list_display = (
        "hour",
        "store",
        "scope",
        "received",
        "synced",
        "failed",
        "dead",
        "ignored",
        "salesforce_calls",
        "bigcommerce_calls",
        "updated_at",
    )
    list_filter = ("store", "scope", "hour")
    list_select_related = ("store",)
    date_hierarchy = "hour"
