"""Admin lists the dashboard links to that no other app shows: refused deliveries, API usage readings and the
hourly roll-ups. All read-only: they are written by intake, the API clients and the roll-up task."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ops.models import HourlyStat
from sync.models import ApiUsageSample, IntakeRejection


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
