"""Admin for the audit log: read-only (actions are added with the intake work)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "operation",
        "store",
        "bigcommerce_id",
        "status",
        "attempt",
        "duration_ms",
        "salesforce_api_calls",
    )
    list_filter = ("status", "operation", "store", "created_at")
    search_fields = ("bigcommerce_id", "salesforce_ids")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False
