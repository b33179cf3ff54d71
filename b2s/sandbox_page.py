"""``/sandbox/``: what landed in the Salesforce stand-in (sandbox mode only, staff only).

Reads the stand-in's control API (``GET /__sandbox__/state``) and shows Accounts with their analytics,
Orders with their items, Opportunities, Leads, Tasks and the published platform events, so a first
``make run`` can be judged at a glance.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import requests
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

ROWS_SHOWN = 200


def sandbox_state_fetch(*, timeout: float = 5.0) -> dict[str, Any]:
    """The Salesforce stand-in's whole state (raises ``requests.RequestException`` when it is down)."""
    conf = settings.SALESFORCE
    session = requests.Session()
    session.trust_env = False  # the stand-in's own CA, whatever REQUESTS_CA_BUNDLE says
    verify: bool | str = conf.get("CA_BUNDLE") or True
    response = session.get(f"{conf['LOGIN_URL'].rstrip('/')}/__sandbox__/state", timeout=timeout, verify=verify)
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


def _latest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: str(row.get("CreatedDate") or ""), reverse=True)[:ROWS_SHOWN]


def sandbox_summary(state: dict[str, Any]) -> dict[str, Any]:
    """The stand-in's records arranged for the page: orders carry their items, records their names."""
    records: dict[str, list[dict[str, Any]]] = state.get("records") or {}
    items_by_order: dict[str, list[dict[str, Any]]] = defaultdict(list)
    products = {row["Id"]: row for row in records.get("Product2", [])}
    entries = {row["Id"]: row for row in records.get("PricebookEntry", [])}
    for item in records.get("OrderItem", []):
        order_id = item.get("OrderId")
        if order_id is None:  # an item of no order is shown under none
            continue
        product = products.get((entries.get(item.get("PricebookEntryId")) or {}).get("Product2Id")) or {}
        items_by_order[order_id].append({**item, "product_name": product.get("Name", "")})
    accounts = {row["Id"]: row for row in records.get("Account", [])}
    orders = [
        {**order, "items": items_by_order.get(order["Id"], []), "account": accounts.get(order.get("AccountId"), {})}
        for order in _latest(records.get("Order", []))
    ]
    events = state.get("events") or []
    return {
        "counts": {name: len(rows) for name, rows in sorted(records.items())},
        "accounts": _latest(records.get("Account", [])),
        "orders": orders,
        "opportunities": _latest(records.get("Opportunity", [])),
        "leads": _latest(records.get("Lead", [])),
        "tasks": _latest(records.get("Task", [])),
        "events": list(reversed(events))[:ROWS_SHOWN],
        "event_count": len(events),
        "api": state.get("api") or {},
    }


@staff_member_required
# What the sync wrote into Salesforce: for those allowed to read what the webhooks brought in.
@permission_required("sync.view_webhookevent", raise_exception=True)
def sandbox_page_view(request: HttpRequest) -> HttpResponse:
    """The page; 404 unless b2s runs against the stand-ins."""
    if not settings.SALESFORCE.get("SANDBOX"):
        raise Http404("b2s is connected to a real Salesforce org; the sandbox page is for local runs.")
    context: dict[str, Any] = {"title": "Sandbox Salesforce", "stand_in": settings.SALESFORCE["LOGIN_URL"]}
    try:
        context.update(sandbox_summary(sandbox_state_fetch()))
    except (requests.RequestException, OSError, ValueError) as error:
        context["error"] = f"The Salesforce stand-in did not answer ({type(error).__name__})."
    return render(request, "sandbox/state.html", context)


urlpatterns = [path("", sandbox_page_view, name="sandbox-page")]
