"""Pure functions that turn BigCommerce order data into the documents the field mappings read.

The Order document is the v2 order (fetched with ``include=consignments.line_items`` and
``consignment_structure=object``) plus:

* ``shipping_addresses``: one address per shipping or pickup consignment (what
  ``/v2/orders/{id}/shipping_addresses`` would answer, without the request);
* ``tracking_numbers`` / ``tracking_carriers``: comma-separated, from ``/shipments``;
* ``date_shipped``: the order's own, else the latest shipment's.

The OrderItem documents are the order's lines, taken from the consignments.
Nothing here talks to an API or the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sync.mapping import CompiledMapping, parse_datetime_any

# Document keys that come from /shipments rather than from the order itself.
SHIPMENT_KEYS = frozenset({"tracking_numbers", "tracking_carriers", "date_shipped", "shipments"})
# Of those, the ones only /shipments knows (``date_shipped`` is usually on the order itself too).
TRACKING_KEYS = frozenset({"tracking_numbers", "tracking_carriers", "shipments"})


class LinesUnavailable(Exception):
    """The order came without its lines inside the consignments (they must be fetched separately)."""


def consignments_object(consignments: Any) -> dict[str, Any]:
    """The consignments in the object structure, also from the legacy list of single-key objects."""
    if isinstance(consignments, dict):
        return consignments
    merged: dict[str, Any] = {}
    for entry in consignments if isinstance(consignments, list) else []:
        if isinstance(entry, dict):
            for kind, value in entry.items():
                if kind == "email" and isinstance(value, dict):
                    merged.setdefault("email", {}).setdefault("gift_certificates", []).extend(
                        value.get("gift_certificates") or []
                    )
                else:
                    merged.setdefault(kind, []).extend(value if isinstance(value, list) else [value])
    return merged


def _consignment_groups(consignments: Any) -> Iterable[dict[str, Any]]:
    """Every consignment of an order, whatever its kind."""
    consignments = consignments_object(consignments)
    for kind in ("shipping", "pickups", "downloads"):
        for group in consignments.get(kind) or []:
            if isinstance(group, dict):
                yield group
    email = consignments.get("email") or {}
    if isinstance(email, dict):
        for group in email.get("gift_certificates") or []:
            if isinstance(group, dict):
                yield group


def order_lines(order: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's lines (``/v2/orders/{id}/products`` entries) from its consignments, by line id.

    Raises LinesUnavailable when the consignments are missing or hold only link objects, so the
    caller can fetch ``/products`` instead (and count that request).
    """
    consignments = order.get("consignments")
    if consignments is None:
        raise LinesUnavailable(f"order {order.get('id')} has no consignments")
    lines: dict[int, dict[str, Any]] = {}
    for group in _consignment_groups(consignments):
        items = group.get("line_items") or []
        if isinstance(items, dict):  # a digital consignment may carry one object
            items = [items]
        for item in items:
            if not isinstance(item, dict) or "product_id" not in item or "id" not in item:
                raise LinesUnavailable(f"order {order.get('id')} consignments carry links, not lines")
            lines[int(item["id"])] = item
    items_total = int(order.get("items_total") or 0)
    if not lines and items_total > 0:
        raise LinesUnavailable(f"order {order.get('id')} has {items_total} items but no consignment lines")
    return [lines[line_id] for line_id in sorted(lines)]


def shipping_addresses(order: dict[str, Any]) -> list[dict[str, Any]]:
    """Shipping (and pickup) consignments as ``shipping_addresses`` entries."""
    consignments = consignments_object(order.get("consignments"))
    addresses = []
    for group in consignments.get("shipping") or []:
        address = {key: value for key, value in group.items() if key != "line_items"}
        addresses.append(address)
    for pickup in consignments.get("pickups") or []:
        location = pickup.get("location") or {}
        addresses.append(
            {
                "id": pickup.get("id"),
                "first_name": "",
                "last_name": "",
                "company": location.get("name", ""),
                "street_1": location.get("address_line_1", ""),
                "street_2": location.get("address_line_2", ""),
                "city": location.get("city", ""),
                "state": location.get("state", ""),
                "zip": location.get("postal_code", ""),
                "country": location.get("country_alpha2", ""),
                "country_iso2": location.get("country_alpha2", ""),
                "email": location.get("email", ""),
                "phone": location.get("phone", ""),
                "shipping_method": pickup.get("pickup_method_display_name", ""),
            }
        )
    return addresses


def shipped_quantity(order: dict[str, Any], lines: list[dict[str, Any]]) -> int:
    """How many units of the order have shipped (the order's counter, else the lines')."""
    if order.get("items_shipped") not in (None, ""):
        return int(order["items_shipped"])
    return sum(int(line.get("quantity_shipped") or 0) for line in lines)


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        text = (value or "").strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def shipment_fields(shipments: list[dict[str, Any]]) -> dict[str, Any]:
    """Tracking numbers, carriers and the latest shipment date from ``/v2/orders/{id}/shipments``."""
    ordered = sorted(shipments, key=lambda shipment: int(shipment.get("id") or 0))
    dates = [parse_datetime_any(shipment.get("date_created")) for shipment in ordered]
    latest = max((moment for moment in dates if moment is not None), default=None)
    return {
        "tracking_numbers": ", ".join(_unique(shipment.get("tracking_number") or "" for shipment in ordered)),
        "tracking_carriers": ", ".join(
            _unique(
                shipment.get("tracking_carrier")
                or shipment.get("shipping_provider_display_name")
                or shipment.get("shipping_provider")
                or ""
                for shipment in ordered
            )
        ),
        "date_shipped": latest.isoformat() if latest else "",
        "quantity": sum(int(item.get("quantity") or 0) for shipment in ordered for item in shipment.get("items") or []),
    }


def order_document(order: dict[str, Any], *, shipments: dict[str, Any]) -> dict[str, Any]:
    """The Order document the Order field mappings read (see the module docstring)."""
    document = dict(order)
    document["shipping_addresses"] = shipping_addresses(order)
    document["tracking_numbers"] = shipments.get("tracking_numbers", "")
    document["tracking_carriers"] = shipments.get("tracking_carriers", "")
    if not order.get("date_shipped"):
        document["date_shipped"] = shipments.get("date_shipped", "")
    return document


def mapping_reads_shipments(mapping: CompiledMapping) -> bool:
    """Whether a mapping takes its value from shipment data (so a shipment event must refresh it)."""
    return any(
        path.steps and path.steps[0] in SHIPMENT_KEYS for parts in mapping.expression.alternatives for path in parts
    )


def mapping_reads_tracking(mapping: CompiledMapping, *, order_has_date_shipped: bool) -> bool:
    """Whether a mapping needs ``/shipments`` data the order itself does not carry.

    Used when shipments were not fetched (``backfill --no-shipments``): such mappings are left
    out of the Order body, so what Salesforce holds is not overwritten with blanks.
    """
    unknown = TRACKING_KEYS if order_has_date_shipped else SHIPMENT_KEYS
    return any(path.steps and path.steps[0] in unknown for parts in mapping.expression.alternatives for path in parts)


def product_key(store_hash: str, line: dict[str, Any]) -> str:
    """The Product2 external id value: ``{hash}:{product_id}:{variant_id}``, or ``{hash}:custom``."""
    product_id = int(line.get("product_id") or 0)
    if product_id == 0:
        return f"{store_hash}:custom"
    return f"{store_hash}:{product_id}:{int(line.get('variant_id') or 0)}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def fingerprint(value: Any) -> str:
    """A stable digest of a JSON-like value (Decimals exact), to tell "unchanged" without asking Salesforce."""
    text = json.dumps(value, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
