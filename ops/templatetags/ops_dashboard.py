"""The operations dashboard on the admin index ({% ops_dashboard %}) and the filters that write its figures."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template

from ops import rules as r
from ops.charts import Line, line_chart_svg
from ops.selectors import dashboard_get, dashboard_series, service_state_get
from sync.models import Store

register = template.Library()


@register.inclusion_tag("ops/dashboard.html", takes_context=True)
def ops_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    """The dashboard for the store and window named by the query (?store=<id>&window=1h|24h|7d)."""
    request = context["request"]
    if not request.user.has_perm("sync.view_webhookevent"):
        return {"allowed": False}
    stores = list(Store.objects.order_by("name"))
    store_param = request.GET.get("store", "")
    store = next((store for store in stores if str(store.pk) == store_param), None)
    window = r.window_get(request.GET.get("window"))
    dashboard = dashboard_get(store=store, window=window)
    series = dashboard_series(store=store, window=window, now=dashboard.now)
    label_format = "%H:%M" if window.hours <= 24 else "%a %H:%M"
    labels = [point.start.strftime(label_format) for point in series]
    throughput = line_chart_svg(
        labels,
        [
            Line("received", "#417690", [point.received for point in series]),
            Line("synced", "#2e8540", [point.synced for point in series]),
        ],
        title=f"Events received and synced, {window.label}",
    )
    failures = line_chart_svg(
        labels,
        [
            Line("failed", "#d97706", [point.failed for point in series]),
            Line("dead", "#ba2121", [point.dead for point in series]),
        ],
        title=f"Events failed and dead, {window.label}",
    )
    store_query = {"store": store.pk} if store else {}
    return {
        "allowed": True,
        "dashboard": dashboard,
        "state": service_state_get(now=dashboard.now),
        "stores": [(None, "All stores", urlencode({"window": window.key}), store is None)]
        + [(s, s.name, urlencode({"store": s.pk, "window": window.key}), s == store) for s in stores],
        "windows": [(w, urlencode({**store_query, "window": w.key}), w.key == window.key) for w in r.WINDOWS.values()],
        "throughput_chart": throughput,
        "failures_chart": failures,
    }


@register.filter
def ops_number(value: int | float | None) -> str:
    return r.number_format(value)


@register.filter
def ops_rate(value: float | None) -> str:
    return r.rate_format(value)


@register.filter
def ops_percent(share: float | None) -> str:
    return r.percent_format(share)


@register.filter
def ops_duration(milliseconds: float | None) -> str:
    return r.duration_format(milliseconds)


@register.filter
def ops_seconds(seconds: float | None) -> str:
    return r.duration_format(seconds * 1000 if seconds is not None else None)
