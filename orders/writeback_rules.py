"""Salesforce → BigCommerce write-back: the rules, without I/O (``orders.writeback`` does the requests).

What an Order changed in Salesforce asks of BigCommerce is decided from three states: the Order as the
poll read it (the merchant's values), what b2s last synced (``SyncedOrder``: both sides agreed then) and
BigCommerce now. A side "changed" when it differs from the last sync; both changed is a conflict, settled
by the admin's ``writeback_conflict_rule``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

WRITEBACK_SCOPE = "b2s/salesforce/order/updated"
CONFLICT_SALESFORCE_WINS = "salesforce_wins"
CONFLICT_BIGCOMMERCE_WINS = "bigcommerce_wins"
CONFLICT_FLAG = "flag"
# BigCommerce's own carriers (``shipping_provider``); any other carrier goes as an AfterShip ``tracking_carrier``.
SHIPPING_PROVIDERS = frozenset(
    {"auspost", "canadapost", "endicia", "usps", "fedex", "royalmail", "ups", "upsready", "shipperhq"}
)
_AFTERSHIP_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")


# -- the poll ------------------------------------------------------------------------------------


def salesforce_datetime_parse(value: str) -> datetime:
    """A Salesforce datetime (``2024-05-01T12:30:00.000+0000``) as an aware UTC datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal (UTC, whole seconds: Salesforce compares SystemModstamp to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def poll_since(*, checkpoint: datetime | None, now: datetime, overlap_seconds: int) -> datetime:
    """Where a poll starts reading: the checkpoint less the overlap (a first poll: now less the overlap).

    Changes are compared to the second and a transaction in flight can commit with a stamp older than
    changes already read, so each poll reads the overlap again; the inbox's unique delivery key
    (Order Id + SystemModstamp) drops what was stored before.
    """
    start = checkpoint if checkpoint is not None else now
    return start.replace(microsecond=0) - timedelta(seconds=overlap_seconds)


def poll_soql(*, fields: list[str], user_id: str, since: datetime, external_id_field: str) -> str:
    """The one query of a poll: b2s's Orders changed since ``since`` by anyone but b2s, oldest first.

    ``ORDER BY SystemModstamp, Id`` makes the pages follow the checkpoint (and ties come in one order).
    """
    if not SALESFORCE_ID.match(user_id):
        raise ValueError(f"Not a Salesforce user Id: {user_id!r}")
    selected = ", ".join(dict.fromkeys(["Id", external_id_field, "SystemModstamp", "LastModifiedById", *fields]))
    # The user Id is checked above; field names come from the field mappings, checked as Salesforce names.
    return (
        f"SELECT {selected} FROM Order"  # noqa: S608
        f" WHERE {external_id_field} != null AND LastModifiedById != '{user_id}'"
        f" AND SystemModstamp >= {soql_datetime(since)}"
        " ORDER BY SystemModstamp, Id"
    )


def change_delivery_key(*, record: dict[str, Any], modstamp: datetime) -> tuple[str, int]:
    """The inbox's unique delivery key of one change: (hash, created_at).

    The hash is the Order Id and a digest of the values read, created_at the stamp in milliseconds: the
    same change read again (the overlap) has the same key, while a second change within the same second
    (SystemModstamp has whole seconds) differs by its values and is a new event.
    """
    values = {name: value for name, value in sorted(record.items()) if name != "attributes"}
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:40]
    return f"{record['Id']}:{digest}", int(modstamp.timestamp() * 1000)


def order_key_split(value: str) -> tuple[str, int] | None:
    """``{store hash}:{order id}`` → (hash, id); None for anything else."""
    store_hash, _, order_id = (value or "").rpartition(":")
    if not store_hash or not order_id.isdigit():
        return None
    return store_hash, int(order_id)


def poll_requests_per_day(*, interval_seconds: int) -> int:
    """What polling costs the org's daily API allowance: one query a poll (more only past 2,000 changes)."""
    return 86400 // max(60, interval_seconds)


# -- status ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusDecision:
    """What to do with the Order's status: ``write`` the BigCommerce status, or nothing and why."""

    write: bool
    reason: str
    bc_status_id: int | None = None
    conflict: bool = False
    present: bool = False  # BigCommerce already has Salesforce's status (written by an earlier attempt, say)


def status_decide(
    *,
    sf_status: str,
    mapped_bc_status: int | None,
    synced_sf_status: str,
    synced_bc_status: int,
    bc_status_now: int,
    rule: str,
) -> StatusDecision:
    """Whether Salesforce's status goes to BigCommerce.

    In order: a status without a mapping is never written; one Salesforce did not change since the last
    sync is not news; one BigCommerce already has needs no write (a retry after the write lands here);
    then, if BigCommerce changed too, the conflict rule decides.
    """
    if mapped_bc_status is None:
        return StatusDecision(False, f"Salesforce status {sf_status!r} is not mapped to a BigCommerce status")
    if sf_status == synced_sf_status:
        return StatusDecision(False, "the status did not change in Salesforce", mapped_bc_status)
    if bc_status_now == mapped_bc_status:
        return StatusDecision(False, "BigCommerce already has this status", mapped_bc_status, present=True)
    if bc_status_now != synced_bc_status:
        if rule == CONFLICT_SALESFORCE_WINS:
            return StatusDecision(True, "conflict: Salesforce wins", mapped_bc_status, conflict=True)
        return StatusDecision(False, f"conflict: {rule}", mapped_bc_status, conflict=True)
    return StatusDecision(True, "changed in Salesforce", mapped_bc_status)


def status_target(*, bc_status_id: int, coarse_status: str, salesforce_status: str, mapped: dict[str, int]) -> str:
    """The Order status the order sync sends for a BigCommerce status.

    The merchant's own Salesforce status stays when the write-back mapping says it means this very
    BigCommerce status (an order marked "Shipped" in Salesforce is not set back to "Activated" when
    BigCommerce reports it shipped); otherwise the coarse mapping's Draft or Activated.
    """
    if salesforce_status and mapped.get(salesforce_status) == bc_status_id:
        return salesforce_status
    return coarse_status


# -- admin-chosen fields -----------------------------------------------------------------------------


def field_text(value: Any) -> str:
    """A field's value as compared and remembered: text, null and absent as ""."""
    return "" if value is None else str(value)


@dataclass(frozen=True)
class FieldDecision:
    """What to do with one admin-chosen field: ``write`` Salesforce's value to ``bc_field``, or nothing and why."""

    sf_field: str
    bc_field: str
    write: bool
    reason: str
    value: str = ""
    conflict: bool = False
    present: bool = False  # BigCommerce already has Salesforce's value


def field_decide(
    *,
    sf_field: str,
    bc_field: str,
    sf_value: Any,
    bc_value: Any,
    remembered: dict[str, str],
    max_length: int,
    rule: str,
) -> FieldDecision:
    """Whether a Salesforce Order field's value goes to its BigCommerce order field, as ``status_decide`` does.

    ``remembered`` holds the values both sides last agreed on ({"sf", "bc"}, see ``SyncedOrder.writeback_values``).
    Salesforce changed when its value differs from the remembered one; while b2s never saw Salesforce's
    value (a field not also mapped BigCommerce → Salesforce, before its first write-back), a value that is
    not blank and differs from BigCommerce's counts as changed, a blank one never (no store field is
    blanked by a field nobody filled). A value BigCommerce has already needs no write; BigCommerce having
    changed too is a conflict, settled by the rule; a value longer than BigCommerce takes is not written.
    """
    sf_now, bc_now = field_text(sf_value), field_text(bc_value)
    known_sf, known_bc = remembered.get("sf"), remembered.get("bc")
    changed = sf_now != known_sf if known_sf is not None else bool(sf_now) and sf_now != bc_now
    if not changed:
        return FieldDecision(sf_field, bc_field, False, f"{sf_field} did not change in Salesforce", sf_now)
    if sf_now == bc_now:
        return FieldDecision(sf_field, bc_field, False, "BigCommerce already has this value", sf_now, present=True)
    if len(sf_now) > max_length:
        return FieldDecision(
            sf_field, bc_field, False, f"longer than the {max_length} characters {bc_field} takes", sf_now
        )
    if known_bc is not None and bc_now != known_bc:
        if rule == CONFLICT_SALESFORCE_WINS:
            return FieldDecision(sf_field, bc_field, True, "conflict: Salesforce wins", sf_now, conflict=True)
        return FieldDecision(sf_field, bc_field, False, f"conflict: {rule}", sf_now, conflict=True)
    return FieldDecision(sf_field, bc_field, True, "changed in Salesforce", sf_now)


def field_remembered(*, decision: FieldDecision, bc_value: Any, remembered: dict[str, str]) -> dict[str, str]:
    """The values to remember after a write-back settled ``decision`` (a flagged conflict remembers nothing).

    Written or already there: both sides hold Salesforce's value. A conflict BigCommerce won: each side's
    value as it is (settled). Otherwise Salesforce's value is what b2s saw, and BigCommerce's stays the one
    last agreed (a change of it since is still a change next time).
    """
    if decision.write or decision.present:
        return {"sf": decision.value, "bc": decision.value}
    bc_known = remembered.get("bc")
    if decision.conflict or bc_known is None:
        bc_known = field_text(bc_value)
    return {"sf": decision.value, "bc": bc_known}


def fields_mirrored(
    *, order_body: dict[str, Any], order: dict[str, Any], fields: list[tuple[str, str]]
) -> dict[str, dict[str, str]]:
    """What an order sync makes both sides agree on: for each written-back field ``(sf_field, bc_field)`` that
    the sync also writes to Salesforce (a field mapping the other way), {"sf": the value sent, "bc": the
    store's}. A field the sync does not write is left to the write-back to remember."""
    sent = {name.lower(): value for name, value in order_body.items()}
    return {
        sf_field: {"sf": field_text(sent[sf_field.lower()]), "bc": field_text(order.get(bc_field))}
        for sf_field, bc_field in fields
        if sf_field.lower() in sent
    }


# -- shipments ---------------------------------------------------------------------------------------


def tracking_numbers_split(value: Any) -> list[str]:
    """Tracking numbers of a field that may hold several (b2s writes them comma-separated), in order."""
    numbers = [part.strip() for part in re.split(r"[,;\n]", str(value or ""))]
    return list(dict.fromkeys(number for number in numbers if number))


@dataclass(frozen=True)
class ShipmentDecision:
    """The tracking number to create a shipment for ("" = none), and why."""

    tracking_number: str
    reason: str
    conflict: bool = False
    left_out: list[str] = field(default_factory=list)
    present: bool = False  # BigCommerce already has the new tracking number(s)


def shipment_decide(
    *, sf_tracking: Any, synced_tracking: Any, bc_tracking: list[str], rule: str, unshipped_quantity: int
) -> ShipmentDecision:
    """Whether a tracking number entered in Salesforce becomes a BigCommerce shipment.

    A number BigCommerce already has needs nothing (so a retry after the shipment was created creates no
    second one); one b2s synced before is not news. BigCommerce's shipments having changed since the
    last sync is a conflict. One shipment takes all unshipped items, so a second new number is left out.
    """
    known = set(tracking_numbers_split(synced_tracking))
    in_bigcommerce = set(bc_tracking)
    new = [number for number in tracking_numbers_split(sf_tracking) if number not in known]
    pending = [number for number in new if number not in in_bigcommerce]
    if not new:
        return ShipmentDecision("", "no new tracking number in Salesforce")
    if not pending:
        return ShipmentDecision("", "BigCommerce already has this tracking number", present=True)
    conflict = in_bigcommerce != known
    if conflict and rule != CONFLICT_SALESFORCE_WINS:
        return ShipmentDecision("", f"conflict: {rule}", conflict=True)
    if unshipped_quantity <= 0:
        return ShipmentDecision("", "every item is already shipped in BigCommerce", conflict=conflict)
    reason = "conflict: Salesforce wins" if conflict else "tracking number entered in Salesforce"
    return ShipmentDecision(pending[0], reason, conflict=conflict, left_out=pending[1:])


def unshipped_items(products: list[dict[str, Any]], *, address_id: int | None) -> list[dict[str, int]]:
    """``items`` of a shipment of everything not shipped yet (of one shipping address, when lines name theirs)."""
    items: list[dict[str, int]] = []
    for line in products:
        line_address = int(line.get("order_address_id") or 0)
        if address_id is not None and line_address and line_address != address_id:
            continue
        left = int(line.get("quantity") or 0) - int(line.get("quantity_shipped") or 0)
        if left > 0:
            items.append({"order_product_id": int(line["id"]), "quantity": left})
    return items


def carrier_fields(carrier: Any) -> dict[str, str]:
    """The shipment's carrier: one of BigCommerce's providers, else an AfterShip slug; nothing when unusable."""
    slug = re.sub(r"[\s_]+", "-", str(carrier or "").strip().lower())
    if not slug:
        return {}
    if slug in SHIPPING_PROVIDERS:
        return {"shipping_provider": slug}
    return {"tracking_carrier": slug} if _AFTERSHIP_SLUG.match(slug) else {}
