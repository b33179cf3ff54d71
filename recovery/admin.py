"""Admin for the local cart records: a read-only window on what cart recovery did, with "Sync again now"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from recovery.models import Cart
from sync.admin_display import ReadOnlyAdmin, bigcommerce_link, clipped, moment, salesforce_link, status_badge
from sync.services.resync import cart_resync


@admin.register(Cart)
class CartAdmin(ReadOnlyAdmin):
    list_display = (
        "cart_short",
        "store_short",
        "value",
        "currency",
        "email_short",
        "state_badge",
        "record",
        "salesforce_record",
        "abandoned",
        "abandon_count",
        "order",
    )
    list_display_links = ("cart_short",)
    list_filter = ("state", "store", "currency", "abandoned_at")
    search_fields = ("cart_id", "email", "customer_key", "opportunity_id", "lead_id", "task_id", "=order_id")
    date_hierarchy = "abandoned_at"
    list_select_related = ("store",)
    actions = ("resync",)
    fieldsets = (
        (
            None,
            {"fields": ("store", "cart_id", "state_badge", "skip_reason", "value", "currency", "items_description")},
        ),
        ("Customer", {"fields": ("email", "customer_id", "customer_key")}),
        (
            "Salesforce",
            {
                "fields": (
                    "opportunity_link",
                    "lead_link",
                    "task_link",
                    "task_requested_at",
                    "account_link",
                    "contact_link",
                )
            },
        ),
        (
            "Life cycle",
            {
                "fields": (
                    "abandoned",
                    "abandon_count",
                    "expires_at",
                    "converted_at",
                    "order",
                    "closed_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    @admin.display(description="Cart", ordering="cart_id")
    def cart_short(self, cart: Cart) -> SafeString:
        return clipped(cart.cart_id, width_ch=12)

    @admin.display(description="Store", ordering="store__name")
    def store_short(self, cart: Cart) -> SafeString:
        return clipped(cart.store.name, width_ch=14)

    @admin.display(description="Email", ordering="email")
    def email_short(self, cart: Cart) -> SafeString:
        return clipped(cart.email, width_ch=22)

    @admin.display(description="State", ordering="state")
    def state_badge(self, cart: Cart) -> SafeString:
        return status_badge(cart.state)

    @admin.display(description="Salesforce record")
    def record(self, cart: Cart) -> str:
        return cart.record_kind.capitalize() or "—"

    @admin.display(description="Record Id")
    def salesforce_record(self, cart: Cart) -> SafeString:
        return salesforce_link(cart.opportunity_id or cart.lead_id)

    @admin.display(description="Opportunity")
    def opportunity_link(self, cart: Cart) -> SafeString:
        return salesforce_link(cart.opportunity_id)

    @admin.display(description="Lead")
    def lead_link(self, cart: Cart) -> SafeString:
        return salesforce_link(cart.lead_id)

    @admin.display(description="Task")
    def task_link(self, cart: Cart) -> SafeString:
        return salesforce_link(cart.task_id)

    @admin.display(description="Account")
    def account_link(self, cart: Cart) -> SafeString:
        return salesforce_link(cart.account_id)

    @admin.display(description="Contact")
    def contact_link(self, cart: Cart) -> SafeString:
        return salesforce_link(cart.contact_id)

    @admin.display(description="Abandoned", ordering="abandoned_at")
    def abandoned(self, cart: Cart) -> str:
        return moment(cart.abandoned_at)

    @admin.display(description="Order", ordering="order_id")
    def order(self, cart: Cart) -> SafeString:
        return bigcommerce_link(
            cart.store,
            kind="order",
            resource_id=cart.order_id or "",
            label=f"#{cart.order_id}" if cart.order_id else "",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Cart | None = None) -> list[str]:
        # Everything mirrors Salesforce or BigCommerce; editing it here would only make it lie.
        shown = [str(name) for _, options in self.fieldsets for name in options["fields"]]
        return sorted({*(f.name for f in Cart._meta.fields), *shown})

    def has_resync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sync.change_webhookevent")

    @admin.action(description="Sync again now (re-read from BigCommerce)", permissions=["resync"])
    def resync(self, request: HttpRequest, queryset: QuerySet[Cart]) -> None:
        for cart in queryset.select_related("store"):
            cart_resync(
                store=cart.store,
                cart_id=cart.cart_id,
                abandoned_at=cart.abandoned_at,
                order_id=cart.order_id,
                converted_at=cart.converted_at,
                requested_by=request.user.get_username(),
            )
        self.message_user(request, f"Queued {queryset.count()} cart(s) to sync again.", messages.SUCCESS)
