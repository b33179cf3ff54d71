"""Admin for the local cart records: a read-only window on what cart recovery did."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from recovery.models import Cart


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = (
        "cart_id",
        "store",
        "value",
        "currency",
        "email",
        "state",
        "record",
        "abandoned_at",
        "abandon_count",
        "converted_at",
        "order_id",
    )
    list_filter = ("state", "store", "currency", "abandoned_at")
    search_fields = ("cart_id", "email", "customer_key", "opportunity_id", "lead_id", "task_id", "=order_id")
    date_hierarchy = "abandoned_at"
    list_select_related = ("store",)
    fieldsets = (
        (None, {"fields": ("store", "cart_id", "state", "skip_reason", "value", "currency", "items_description")}),
        ("Customer", {"fields": ("email", "customer_id", "customer_key")}),
        (
            "Salesforce",
            {"fields": ("opportunity_id", "lead_id", "task_id", "task_requested_at", "account_id", "contact_id")},
        ),
        (
            "Life cycle",
            {
                "fields": (
                    "abandoned_at",
                    "abandon_count",
                    "expires_at",
                    "converted_at",
                    "order_id",
                    "closed_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    @admin.display(description="Salesforce record")
    def record(self, cart: Cart) -> str:
        return cart.record_kind.capitalize() or "—"

    def get_readonly_fields(self, request: HttpRequest, obj: Cart | None = None) -> list[str]:
        # Everything mirrors Salesforce or BigCommerce; editing it here would only make it lie.
        return [f.name for f in Cart._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
