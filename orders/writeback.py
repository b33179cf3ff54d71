"""Salesforce → BigCommerce: Order changes made in Salesforce written back to the store.

Detection is a poll (``salesforce_orders_poll``, a django-q2 schedule every minute, at most one query per
``writeback_poll_seconds``): ONE SOQL query for b2s's Orders whose ``SystemModstamp`` passed the checkpoint
and whose last change was not b2s's own (``LastModifiedById`` is not the integration user, whose Id the
login's identity URL names: no request, no marker field to deploy). Each page of changes is stored as inbox
events (scope ``b2s/salesforce/order/updated``, unique per Order Id + SystemModstamp + values) in the transaction that
moves the checkpoint, so a crash re-reads rather than loses, and a re-read stores nothing twice
(the key also holds a digest of the values read: a second change within the same second is new).

Each event is then processed like a webhook (attempts, retries, dead-lettering, replay, audit entries) by
``order_writeback``: the merchant's status (through the admin's Salesforce → BigCommerce status table) and
the admin-chosen fields (``SalesforceOrderFieldWriteback``) become ONE ``PUT /v2/orders/{id}``, the tracking
number ``POST /v2/orders/{id}/shipments``, each only when BigCommerce does not have it yet (a retry after the
write writes nothing), a conflict settled by ``writeback_conflict_rule``, field by field. Then the order sync runs at once with the merchant's status, so Salesforce's
mirror fields follow (a write by b2s, which the poll ignores) and the webhooks BigCommerce sends after b2s's
writes find nothing to change: no ping-pong.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders.models import SyncedOrder, WritebackCheckpoint
from orders.services import ORDER_EXTERNAL_ID, order_sync
from orders.writeback_rules import (
    CONFLICT_BIGCOMMERCE_WINS,
    CONFLICT_FLAG,
    WRITEBACK_SCOPE,
    FieldDecision,
    ShipmentDecision,
    StatusDecision,
    carrier_fields,
    change_delivery_key,
    field_decide,
    field_remembered,
    order_key_split,
    poll_since,
    poll_soql,
    salesforce_datetime_parse,
    shipment_decide,
    status_decide,
    tracking_numbers_split,
    unshipped_items,
)
from sync.bigcommerce import bigcommerce_calls_counted, bigcommerce_client
from sync.config import WritebackField, config
from sync.handlers import EventRefused, HandlerResult, SkipEvent
from sync.models import BIGCOMMERCE_ORDER_WRITABLE_FIELDS, Store, WebhookEvent
from sync.salesforce import SalesforceError, salesforce_calls_counted, salesforce_client
from sync.services.webhooks import inbox_doorbell_ring
from sync.usage import api_budget_status

logger = logging.getLogger(__name__)

OPERATION = "ORDER_WRITEBACK"
FLAG_STATUS = "writeback_order_status"
FLAG_SHIPMENTS = "writeback_shipments"
FLAG_FIELDS = "writeback_order_fields"


class WritebackConflict(EventRefused):
    """Both sides changed the same field and the rule is ``flag``: the event fails for review, never retried.

    Replaying it after a decision (the rule changed, or one side corrected by hand) runs the rules again.
    """

    code = "WRITEBACK_CONFLICT"


# -- configuration -----------------------------------------------------------------------------------


def writeback_enabled() -> bool:
    """Whether any write-back is on (the poll spends no request otherwise)."""
    return config.flag(FLAG_STATUS) or config.flag(FLAG_SHIPMENTS) or bool(written_back_fields())


def written_back_fields() -> list[WritebackField]:
    """The admin-chosen Order fields written back now: the enabled rows while ``writeback_order_fields`` is on."""
    return config.writeback_fields() if config.flag(FLAG_FIELDS) else []


def order_tracking_fields() -> tuple[str, str]:
    """The Order fields b2s maps tracking numbers and carriers to (the shipment mappings), "" when unmapped."""
    number_field = carrier_field = ""
    for mapping in config.field_mappings("Order"):
        roots = {path.steps[0] for parts in mapping.expression.alternatives for path in parts if path.steps}
        if "tracking_numbers" in roots and not number_field:
            number_field = mapping.sf_field
        elif "tracking_carriers" in roots and not carrier_field:
            carrier_field = mapping.sf_field
    return number_field, carrier_field


def _polled_fields() -> list[str]:
    """The columns of the poll's one query besides its own: Status, tracking, the admin-chosen fields."""
    number_field, carrier_field = order_tracking_fields()
    chosen = [row.sf_field for row in written_back_fields()]
    return list(dict.fromkeys(["Status", *(name for name in (number_field, carrier_field) if name), *chosen]))


# -- the poll ------------------------------------------------------------------------------------------


@dataclass
class PollResult:
    """What one poll did."""

    ran: bool
    reason: str = ""
    requests: int = 0
    read: int = 0
    stored: int = 0
    checkpoint: datetime | None = None


def salesforce_orders_poll(*, now: datetime | None = None, force: bool = False) -> PollResult:
    """Store the Orders changed in Salesforce by others since the checkpoint as inbox events.

    Runs only while a write-back flag is on and ``writeback_poll_seconds`` have passed since the last
    poll (``force``: now). Each page is stored and the checkpoint moved in one transaction.
    """
    now = now or timezone.now()
    if not writeback_enabled():
        return PollResult(False, "write-back is off")
    guard = api_budget_status()
    if guard.paused:
        # The checkpoint stays: the first poll after the guard lifts reads every change made meanwhile.
        return PollResult(False, guard.reason)
    client = salesforce_client()
    token = client.token()
    if not token.user_id:
        raise SalesforceError("The login answer named no user (identity URL): cannot tell b2s's own changes.")
    checkpoint, _ = WritebackCheckpoint.objects.get_or_create(org_id=token.org_id or "org")
    interval = int(config.threshold("writeback_poll_seconds"))
    if not force and checkpoint.polled_at and (now - checkpoint.polled_at).total_seconds() < interval - 1:
        return PollResult(False, "not due", checkpoint=checkpoint.modstamp)
    since = poll_since(
        checkpoint=checkpoint.modstamp, now=now, overlap_seconds=int(config.threshold("writeback_poll_overlap_seconds"))
    )
    soql = poll_soql(fields=_polled_fields(), user_id=token.user_id, since=since, external_id_field=ORDER_EXTERNAL_ID)
    stores = {store.store_hash: store for store in Store.objects.filter(is_active=True)}
    result = PollResult(True, checkpoint=checkpoint.modstamp)
    with salesforce_calls_counted() as calls:
        for page in client.query_pages(soql):
            result.read += len(page)
            stored, highest = _changes_store(page=page, stores=stores, checkpoint=checkpoint, requests=1)
            result.stored += stored
            result.checkpoint = highest or result.checkpoint
        result.requests = calls.count
    WritebackCheckpoint.objects.filter(pk=checkpoint.pk).update(polled_at=now)
    if checkpoint.modstamp is None:
        # A first poll that found nothing starts the checkpoint here: history is not written back.
        WritebackCheckpoint.objects.filter(pk=checkpoint.pk, modstamp__isnull=True).update(modstamp=since)
    if result.stored:
        inbox_doorbell_ring()
    return result


def _changes_store(
    *, page: list[dict[str, Any]], stores: dict[str, Store], checkpoint: WritebackCheckpoint, requests: int
) -> tuple[int, datetime | None]:
    """One page as inbox events and the checkpoint moved past it, together; answers (new events, highest stamp)."""
    stored = 0
    highest: datetime | None = None
    with transaction.atomic():
        for record in page:
            modstamp = salesforce_datetime_parse(record["SystemModstamp"])
            highest = max(highest, modstamp) if highest else modstamp
            key = order_key_split(str(record.get(ORDER_EXTERNAL_ID) or ""))
            store = stores.get(key[0]) if key else None
            if key is None or store is None:
                continue  # not an order of a store b2s serves
            hash_, created_at = change_delivery_key(record=record, modstamp=modstamp)
            body = {name: value for name, value in record.items() if name != "attributes"}
            _event, created = WebhookEvent.objects.get_or_create(
                store=store,
                scope=WRITEBACK_SCOPE,
                hash=hash_,
                event_created_at=created_at,
                defaults={"resource_type": "order", "resource_id": str(key[1]), "body": {"data": body}},
            )
            stored += int(created)
        current = WritebackCheckpoint.objects.select_for_update().get(pk=checkpoint.pk)
        if highest is not None and (current.modstamp is None or highest > current.modstamp):
            current.modstamp = highest
        current.polls += 1
        current.requests += requests
        current.changes += stored
        current.save(update_fields=["modstamp", "polls", "requests", "changes"])
    return stored, highest


# -- one change ---------------------------------------------------------------------------------------


def order_writeback(*, event: WebhookEvent) -> HandlerResult:
    """Write one Order change made in Salesforce to BigCommerce (the handler of ``WRITEBACK_SCOPE``).

    Raises SkipEvent when there is nothing to write (not an order b2s synced, the flags are off, nothing
    changed), WritebackConflict for a conflict flagged for review, and the API errors (transient or not).
    """
    started = time.monotonic()
    record: dict[str, Any] = (event.body or {}).get("data") or {}
    store = event.store
    order_id = int(event.resource_id)
    synced = SyncedOrder.objects.filter(store=store, order_id=order_id).first()
    if synced is None or synced.salesforce_id != record.get("Id"):
        raise SkipEvent(f"Order {order_id} is not one b2s synced to this Salesforce Order.")
    if not writeback_enabled():
        raise SkipEvent("Write-back is off (writeback_order_status, writeback_shipments, writeback_order_fields).")
    rule = config.setting("writeback_conflict_rule")
    bigcommerce = bigcommerce_client(store)
    details: dict[str, Any] = {"scope": event.scope, "rule": rule, "salesforce_status": record.get("Status")}
    with salesforce_calls_counted() as sf_calls, bigcommerce_calls_counted() as bc_calls:
        order = bigcommerce.order_get(order_id)
        status = _status_decision(record=record, synced=synced, order=order, rule=rule)
        shipment, products = _shipment_decision(record=record, synced=synced, store=store, rule=rule)
        fields = _field_decisions(record=record, synced=synced, order=order, rule=rule)
        conflicts = [
            name for name, decision in (("status", status), ("shipment", shipment)) if decision and decision.conflict
        ] + [decision.sf_field for decision in fields if decision.conflict]
        details["status"] = _decision_note(status)
        details["shipment"] = _decision_note(shipment)
        details["fields"] = {decision.bc_field: _field_note(decision) for decision in fields}
        if conflicts and rule == CONFLICT_FLAG:
            raise WritebackConflict(
                f"Order {order_id}: {' and '.join(conflicts)} changed in Salesforce and in BigCommerce since the "
                "last sync; nothing written (writeback_conflict_rule = flag). Decide, then replay the event."
            )
        # One BigCommerce write for the status and the fields: one change, one PUT (and one round of webhooks).
        update: dict[str, Any] = {
            decision.bc_field: _bigcommerce_value(decision) for decision in fields if decision.write
        }
        if status is not None and status.write and status.bc_status_id is not None:
            update["status_id"] = status.bc_status_id
        written: dict[str, Any] = {}
        if update:
            bigcommerce.order_update(order_id, update)
            if "status_id" in update:
                written["status_id"] = update["status_id"]
            # The fields by name: their values are whatever a merchant typed (notes), not for the audit log.
            if names := sorted(name for name in update if name != "status_id"):
                written["fields"] = names
        # Remembered before the order sync, which records the fields it mirrors to Salesforce over these.
        _fields_remember(synced=synced, decisions=fields, order=order)
        if shipment is not None and shipment.tracking_number:
            written["shipment"] = _shipment_create(
                store=store,
                order_id=order_id,
                tracking_number=shipment.tracking_number,
                record=record,
                products=products,
            )
        # An earlier attempt may have written and stopped before Salesforce followed: BigCommerce has the values.
        present = any(decision is not None and decision.present for decision in (status, shipment, *fields))
        bigcommerce_kept = bool(conflicts) and rule == CONFLICT_BIGCOMMERCE_WINS
        if not (written or present or bigcommerce_kept):
            raise SkipEvent(_nothing_reason(status, shipment, fields))
        # Salesforce follows at once (BigCommerce wins: its values go back over the merchant's), as a write of
        # b2s that the poll ignores; BigCommerce's webhooks for these writes then find Salesforce up to date.
        # The merchant's status stays unless it lost a conflict (a field's conflict leaves the status alone).
        status_lost = status is not None and status.conflict and rule == CONFLICT_BIGCOMMERCE_WINS
        keep = "" if status_lost else str(record.get("Status") or "")
        order_sync(store=store, order_id=order_id, event_scope=WRITEBACK_SCOPE, audit=False, salesforce_status=keep)
        details.update(
            {
                "written": written,
                "conflicts": conflicts,
                "bigcommerce_kept": bigcommerce_kept,
                "salesforce_requests": sf_calls.count,
                "bigcommerce_requests": bc_calls.count,
                "duration_ms": int((time.monotonic() - started) * 1000),
            }
        )
    logger.info("Order %s written back from Salesforce: %s", order_id, written or "nothing new for BigCommerce")
    return HandlerResult(OPERATION, str(order_id), [synced.salesforce_id], details)


def _status_decision(
    *, record: dict[str, Any], synced: SyncedOrder, order: dict[str, Any], rule: str
) -> StatusDecision | None:
    if not config.flag(FLAG_STATUS) or "Status" not in record:
        return None
    sf_status = str(record.get("Status") or "")
    return status_decide(
        sf_status=sf_status,
        mapped_bc_status=config.writeback_status(sf_status),
        synced_sf_status=synced.sf_status,
        synced_bc_status=synced.bc_status_id,
        bc_status_now=int(order.get("status_id") or 0),
        rule=rule,
    )


def _field_decisions(
    *, record: dict[str, Any], synced: SyncedOrder, order: dict[str, Any], rule: str
) -> list[FieldDecision]:
    """A decision for each admin-chosen field the poll read (a field added since is read by the next poll)."""
    remembered = synced.writeback_values or {}
    decisions: list[FieldDecision] = []
    for row in written_back_fields():
        if row.sf_field not in record:
            continue
        max_length, _nullable = BIGCOMMERCE_ORDER_WRITABLE_FIELDS[row.bc_field]
        decisions.append(
            field_decide(
                sf_field=row.sf_field,
                bc_field=row.bc_field,
                sf_value=record.get(row.sf_field),
                bc_value=order.get(row.bc_field),
                remembered=remembered.get(row.sf_field) or {},
                max_length=max_length,
                rule=rule,
            )
        )
    return decisions


def _bigcommerce_value(decision: FieldDecision) -> str | None:
    """The value sent: Salesforce's text; null rather than "" for a field BigCommerce lets be null."""
    _max_length, nullable = BIGCOMMERCE_ORDER_WRITABLE_FIELDS[decision.bc_field]
    return None if nullable and not decision.value else decision.value


def _fields_remember(*, synced: SyncedOrder, decisions: list[FieldDecision], order: dict[str, Any]) -> None:
    if not decisions:
        return
    values = dict(synced.writeback_values or {})
    for decision in decisions:
        values[decision.sf_field] = field_remembered(
            decision=decision, bc_value=order.get(decision.bc_field), remembered=values.get(decision.sf_field) or {}
        )
    SyncedOrder.objects.filter(pk=synced.pk).update(writeback_values=values)
    synced.writeback_values = values


def _shipment_decision(
    *, record: dict[str, Any], synced: SyncedOrder, store: Store, rule: str
) -> tuple[ShipmentDecision | None, list[dict[str, Any]]]:
    """The shipment decision and the order's lines (read for it, [] when not needed)."""
    number_field, _carrier_field = order_tracking_fields()
    if not config.flag(FLAG_SHIPMENTS) or not number_field:
        return None, []
    entered = tracking_numbers_split(record.get(number_field))
    known = (synced.shipment_fields or {}).get("tracking_numbers", "")
    if not [number for number in entered if number not in tracking_numbers_split(known)]:
        return None, []  # no new tracking number: nothing to read
    bigcommerce = bigcommerce_client(store)
    # Read first, every attempt: a retry after the shipment was created finds its number and creates none.
    shipments = bigcommerce.order_shipments(synced.order_id)
    products = bigcommerce.order_products(synced.order_id)
    decision = shipment_decide(
        sf_tracking=record.get(number_field),
        synced_tracking=known,
        bc_tracking=[str(row["tracking_number"]) for row in shipments if row.get("tracking_number")],
        rule=rule,
        unshipped_quantity=sum(item["quantity"] for item in unshipped_items(products, address_id=None)),
    )
    return decision, products


def _shipment_create(
    *, store: Store, order_id: int, tracking_number: str, record: dict[str, Any], products: list[dict[str, Any]]
) -> dict[str, Any]:
    """A shipment of every unshipped item of the order's first shipping address, with the tracking number."""
    _number_field, carrier_field = order_tracking_fields()
    bigcommerce = bigcommerce_client(store)
    addresses = bigcommerce.order_shipping_addresses(order_id)
    if not addresses:
        raise SkipEvent(f"Order {order_id} has no shipping address: nothing to ship.")
    address_id = int(addresses[0]["id"])
    items = unshipped_items(products, address_id=address_id)
    if not items:
        raise SkipEvent(f"Order {order_id}: every item of shipping address {address_id} is shipped.")
    body: dict[str, Any] = {"order_address_id": address_id, "tracking_number": tracking_number, "items": items}
    body.update(carrier_fields(record.get(carrier_field) if carrier_field else ""))
    created = bigcommerce.order_shipment_create(order_id, body)
    return {"id": created.get("id"), **body}


def _decision_note(decision: StatusDecision | ShipmentDecision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    note: dict[str, Any] = {"reason": decision.reason, "conflict": decision.conflict}
    if isinstance(decision, StatusDecision):
        note.update({"write": decision.write, "bc_status_id": decision.bc_status_id})
    else:
        note.update({"tracking_number": decision.tracking_number, "left_out": decision.left_out})
    return note


def _field_note(decision: FieldDecision) -> dict[str, Any]:
    # The reason and the outcome, not the value: a field may hold anything a merchant typed.
    return {
        "sf_field": decision.sf_field,
        "reason": decision.reason,
        "write": decision.write,
        "conflict": decision.conflict,
    }


def _nothing_reason(
    status: StatusDecision | None, shipment: ShipmentDecision | None, fields: list[FieldDecision]
) -> str:
    reasons = [
        f"{name}: {decision.reason}" for name, decision in (("status", status), ("shipment", shipment)) if decision
    ] + [f"{decision.bc_field}: {decision.reason}" for decision in fields]
    return "Nothing to write back (" + ("; ".join(reasons) or "no write-back applies to this change") + ")."
