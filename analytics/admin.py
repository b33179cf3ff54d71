"""Admin: read-only ledger and customer values, and the analytics dashboard."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from analytics.charts import bar_chart_svg
from analytics.models import AnalyticsDashboard, CustomerValues, LedgerEntry, RfmEdges
from analytics.selectors import dashboard_data
from sync.admin_display import ReadOnlyAdmin
from sync.models import Store


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "order_id",
        "store",
        "customer_key",
        "order_date",
        "gross_total",
        "refunded_amount",
        "net_total",
        "status_id",
        "counted",
        "currency",
        "updated_at",
    )
    list_filter = ("store", "counted", "status_id", "currency", "order_date")
    search_fields = ("customer_key", "=order_id")
    date_hierarchy = "order_date"
    list_select_related = ("store",)


@admin.register(CustomerValues)
class CustomerValuesAdmin(ReadOnlyAdmin):
    list_display = (
        "customer_key",
        "store",
        "clv",
        "total_orders",
        "average_order_value",
        "last_order_date",
        "tier",
        "rfm_score",
        "segment",
        "tags",
        "pushed_at",
    )
    list_filter = ("store", "tier", "segment", "rfm_score", "recency_score", "frequency_score", "monetary_score")
    search_fields = ("customer_key",)
    list_select_related = ("store",)


@admin.register(RfmEdges)
class RfmEdgesAdmin(ReadOnlyAdmin):
    list_display = ("store", "customers", "recency_days", "frequency_orders", "monetary_values", "computed_at")


@admin.register(AnalyticsDashboard)
class AnalyticsDashboardAdmin(ReadOnlyAdmin):
    """The dashboard page, listed in the analytics app as "Dashboard"."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The page shows customer keys and lifetime values: its own view permission and the values' one.
        return super().has_view_permission(request, obj) and request.user.has_perm("analytics.view_customervalues")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # This replaces ModelAdmin.changelist_view, and with it the permission check it would have made.
        if not self.has_view_permission(request):
            raise PermissionDenied
        stores = list(Store.objects.order_by("name"))
        selected = next((store for store in stores if str(store.pk) == request.GET.get("store", "")), None)
        data = dashboard_data(store=selected)
        charts = {
            "tiers": bar_chart_svg([(row.tier, row.customers) for row in data.tiers], title="Customers by tier"),
            "segments": bar_chart_svg(data.segments, title="Customers by RFM segment", color="#5b8c3a"),
            "histogram": bar_chart_svg(
                [(row.label, row.customers) for row in data.histogram],
                title="Customers by lifetime value",
                color="#b5651d",
            ),
            "top": bar_chart_svg(
                [(row.name, row.clv) for row in data.top],
                title="Top customers by lifetime value",
                color="#7a4b9a",
            ),
        }
        context = {
            **self.admin_site.each_context(request),
            "title": "Customer analytics",
            "opts": self.model._meta,
            "stores": stores,
            "selected": selected,
            "data": data,
            "charts": charts,
            "currency_label": data.currency or ("mixed currencies" if data.currencies else "store currency"),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "analytics/dashboard.html", context)
