"""Cart recovery: abandoned carts become Opportunities or Leads with a follow-up Task, and are
closed again when the cart is bought (conversion) or forgotten (expiry).

Every abandonment or conversion costs exactly one Salesforce request (one composite call);
expiry costs one sObject Collections request per 200 carts. The local ``Cart`` table remembers
the Salesforce ids, so a redelivery or a repeated abandonment updates what exists instead of
adding records, and expiry knows which carts are open without asking Salesforce.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn
from urllib.parse import quote

from django.utils import timezone

from audit.services import audit_record
from recovery import rules
from recovery.models import Cart
from recovery.selectors import cart_local_get, carts_expirable, order_known
from sync.bigcommerce import BigCommerceNotFound, bigcommerce_client, money
from sync.config import config
from sync.customers import (
    CustomerIdentity,
    account_contact_subrequests,
    customer_document_from_customer,
    customer_identity,
)
from sync.handlers import HandlerResult, SkipEvent
from sync.models import Store
from sync.salesforce import (
    COLLECTIONS_CHUNK,
    SalesforceClient,
    SalesforceError,
    salesforce_calls_counted,
    salesforce_client,
    salesforce_data_path,
)

logger = logging.getLogger(__name__)

OPERATION_ABANDONED = "CART_SYNC"
OPERATION_CONVERTED = "CART_CONVERSION"
OPERATION_EXPIRY = "CART_EXPIRY"

OPPORTUNITY_OPEN_STAGE = "Prospecting"
OPPORTUNITY_WON_STAGE = "Closed Won"
OPPORTUNITY_LOST_STAGE = "Closed Lost"
LEAD_OPEN_STATUS = "Open - Not Contacted"
LEAD_CONVERTED_STATUS = "Closed - Converted"
LEAD_LOST_STATUS = "Closed - Not Converted"
LEAD_SOURCE = "Abandoned Cart"
TASK_SUBJECT = "Follow up on abandoned cart"
TASK_OPEN_STATUS = "Not Started"
TASK_DONE_STATUS = "Completed"
EXPIRY_REASON = "Cart expired"
CART_EVENT = "BigCommerce_Cart_Abandoned__e"
# Salesforce answers these when a remembered record id no longer exists.
GONE_CODES = frozenset({"NOT_FOUND", "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})


# -- small helpers -------------------------------------------------------------------------------
def _url(client: SalesforceClient, path: str) -> str:
    return salesforce_data_path(path, version=client.api_version)


def _guest_document(email: str) -> dict[str, Any]:
    """A mapping document for a guest known only by the cart's email."""
    return {
        "first_name": "",
        "last_name": "",
        "company": "",
        "email": email,
        "email_local_part": rules.email_local_part(email),
        "phone": "",
        "address": {},
    }


def _responses_by_reference(responses: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {response.get("referenceId", ""): response for response in responses or []}


def _created_id(response: dict[str, Any] | None) -> str:
    body = (response or {}).get("body")
    return str(body.get("id") or "") if isinstance(body, dict) else ""


def _failed_reference(error: SalesforceError) -> tuple[str, str, int]:
    """(referenceId, errorCode, status) of the subrequest that really failed in an allOrNone composite."""
    body = error.body
    if isinstance(body, dict):
        body = body.get("compositeResponse", [])
    for response in body if isinstance(body, list) else []:
        if not isinstance(response, dict) or int(response.get("httpStatusCode") or 0) < 300:
            continue
        errors = response.get("body") if isinstance(response.get("body"), list) else []
        code = str((errors[0] or {}).get("errorCode", "")) if errors and isinstance(errors[0], dict) else ""
        if code != "PROCESSING_HALTED":
            return str(response.get("referenceId", "")), code, int(response.get("httpStatusCode") or 0)
    return "", error.code, error.status


def _cart_skip(
    *, store: Store, cart_id: str, local: Cart | None, reason: str, facts: dict[str, Any] | None = None
) -> NoReturn:
    """Record why nothing was done for a cart, then stop the handler with SkipEvent.

    A cart that already has Salesforce records keeps its state: skipping one delivery
    (say a 404 after the cart was bought elsewhere) must not hide records that exist.
    """
    if local is None or not local.record_kind:
        Cart.objects.update_or_create(
            store=store,
            cart_id=cart_id,
            defaults={**(facts or {}), "state": Cart.State.SKIPPED, "skip_reason": reason[:255]},
        )
    raise SkipEvent(reason)


# -- abandonment ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Abandonment:
    store: Store
    cart_id: str
    key: str
    kind: str  # "opportunity" | "lead"
    value: Decimal
    currency: str
    email: str
    identity: CustomerIdentity
    document: dict[str, Any]
    items: str
    abandoned_at: datetime
    reopen: bool  # first abandonment, or the cart came back after expiring: (re)set the open statuses
    task_id: str
    publish_event: bool


def _record_kind(*, local: Cart | None, value: Decimal) -> str:
    """Opportunity at or above the threshold, else Lead; a cart keeps the record it already has,
    so a repeated abandonment after a change updates that record instead of adding a second one."""
    if local is not None and local.record_kind:
        return local.record_kind
    return "opportunity" if value >= config.threshold("opportunity_min_value") else "lead"


def _opportunity_body(plan: _Abandonment, *, days: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Name": f"Abandoned Cart - {plan.cart_id}",
        "CloseDate": (rules.local_date(plan.abandoned_at, plan.store.tz) + timedelta(days=days)).isoformat(),
        "LeadSource": LEAD_SOURCE,
        "Amount": plan.value,
        "Cart_Value__c": plan.value,
        "Abandoned_Date__c": rules.salesforce_datetime(plan.abandoned_at),
        "Description": plan.items,
        "AccountId": "@{account.id}",
    }
    if plan.reopen:
        # A later abandonment leaves the stage a sales rep may have moved on alone.
        body["StageName"] = OPPORTUNITY_OPEN_STAGE
    return body


def _lead_body(plan: _Abandonment) -> dict[str, Any]:
    document = plan.document
    first = str(document.get("first_name") or "").strip()
    last = str(document.get("last_name") or "").strip() or rules.email_local_part(plan.email)
    company = str(document.get("company") or "").strip() or rules.display_name(document) or plan.email
    body: dict[str, Any] = {
        "LeadSource": LEAD_SOURCE,
        "Company": company[:255],
        "LastName": last[:80],
        "Email": plan.email,
        "AbandonedCartValue__c": plan.value,
        "AbandonedCartDate__c": rules.salesforce_datetime(plan.abandoned_at),
        "Description": plan.items,
        "Cart_Items__c": plan.items,
    }
    if first:
        body["FirstName"] = first[:40]
    if plan.reopen:
        body["Status"] = LEAD_OPEN_STATUS
    return body


def _task_subrequest(client: SalesforceClient, plan: _Abandonment, *, has_contact: bool, task_id: str) -> dict:
    due = rules.next_business_day(rules.local_date(plan.abandoned_at, plan.store.tz))
    body: dict[str, Any] = {
        "Subject": TASK_SUBJECT,
        "Priority": rules.task_priority(plan.value, config.threshold("high_priority_cart_value")),
        "ActivityDate": due.isoformat(),
        "Description": (
            f"Abandoned cart worth {plan.value} {plan.currency}".rstrip() + f" ({plan.email}).\nItems:\n{plan.items}"
        ),
        "BigCommerceCartId__c": plan.key,
    }
    if plan.kind == "opportunity":
        body["WhatId"] = "@{opportunity.id}"
        if has_contact:
            body["WhoId"] = "@{contact.id}"
    else:
        body["WhoId"] = "@{lead.id}"
    if task_id:
        if plan.reopen:
            body["Status"] = TASK_OPEN_STATUS
        return {"method": "PATCH", "url": _url(client, f"sobjects/Task/{task_id}"), "referenceId": "task", "body": body}
    body["Status"] = TASK_OPEN_STATUS
    return {"method": "POST", "url": _url(client, "sobjects/Task/"), "referenceId": "task", "body": body}


def _abandonment_subrequests(client: SalesforceClient, plan: _Abandonment, *, task_id: str) -> list[dict]:
    """Account + Contact (Opportunity path), the Opportunity or Lead, the Task and the event: one composite."""
    subrequests: list[dict[str, Any]] = []
    key = quote(plan.key, safe="")
    if plan.kind == "opportunity":
        subrequests += account_contact_subrequests(store=plan.store, identity=plan.identity, document=plan.document)
        days = int(config.threshold("cart_expiration_days"))
        subrequests.append(
            {
                "method": "PATCH",
                "url": _url(client, f"sobjects/Opportunity/Cart_ID__c/{key}"),
                "referenceId": "opportunity",
                "body": _opportunity_body(plan, days=days),
            }
        )
    else:
        subrequests.append(
            {
                "method": "PATCH",
                "url": _url(client, f"sobjects/Lead/AbandonedCartId__c/{key}"),
                "referenceId": "lead",
                "body": _lead_body(plan),
            }
        )
    has_contact = any(sub.get("referenceId") == "contact" for sub in subrequests)
    if config.flag("recovery_tasks"):
        subrequests.append(_task_subrequest(client, plan, has_contact=has_contact, task_id=task_id))
    if plan.publish_event and config.flag("platform_events"):
        record = "OpportunityId__c" if plan.kind == "opportunity" else "LeadId__c"
        subrequests.append(
            {
                "method": "POST",
                "url": _url(client, f"sobjects/{CART_EVENT}/"),
                "referenceId": "event",
                "body": {
                    "EventType__c": "Abandoned",
                    "CartId__c": plan.key,
                    "CustomerEmail__c": plan.email,
                    "CartValue__c": plan.value,
                    record: f"@{{{plan.kind}.id}}",
                    "AbandonedDate__c": rules.salesforce_datetime(plan.abandoned_at),
                },
            }
        )
    return subrequests


def _abandonment_send(client: SalesforceClient, plan: _Abandonment) -> tuple[list[dict], str]:
    """Send the composite; returns the responses and the Task id it PATCHed ("" when it created one).

    Two rare failures are worth one more request each: an external id upsert that lost a race
    with another writer (DUPLICATE_VALUE: the record exists now, so the same upsert updates it),
    and a remembered Task that someone deleted in Salesforce (create a fresh one).
    """
    task_id = plan.task_id
    retried_duplicate = retried_task = False
    while True:
        try:
            return client.composite(_abandonment_subrequests(client, plan, task_id=task_id), all_or_none=True), task_id
        except SalesforceError as error:
            reference, code, status = _failed_reference(error)
            if code == "DUPLICATE_VALUE" and not retried_duplicate:
                retried_duplicate = True
                continue
            if task_id and reference == "task" and (code in GONE_CODES or status == 404) and not retried_task:
                logger.info(
                    "Recovery task %s of cart %s is gone in Salesforce; creating a new one", task_id, plan.cart_id
                )
                retried_task, task_id = True, ""
                continue
            raise


def cart_abandonment_sync(*, store: Store, cart_id: str, abandoned_at: datetime) -> HandlerResult:
    """Turn an abandoned cart into an Opportunity or a Lead with a recovery Task, in one composite request.

    Raises SkipEvent (after recording the reason on the local cart) when the cart no longer
    exists, was already converted, has neither an email nor a customer, or its record type is
    switched off. Salesforce errors propagate for the intake to classify and retry.
    """
    local = cart_local_get(store=store, cart_id=cart_id)
    if local is not None and local.state == Cart.State.CONVERTED:
        raise SkipEvent(f"Cart {cart_id} was already converted into order {local.order_id}.")
    bigcommerce = bigcommerce_client(store)
    try:
        cart = bigcommerce.cart_get(cart_id)
    except BigCommerceNotFound:
        _cart_skip(
            store=store,
            cart_id=cart_id,
            local=local,
            reason="The cart no longer exists in BigCommerce (404).",
            facts={"abandoned_at": abandoned_at},
        )
    if isinstance(cart.get("data"), dict):
        cart = cart["data"]

    value = rules.cents(money(cart.get("cart_amount")))
    currency = str((cart.get("currency") or {}).get("code") or "")
    customer_id = int(cart.get("customer_id") or 0)
    customer = bigcommerce.customers_get([customer_id]).get(customer_id) if customer_id else None
    email = str((customer or {}).get("email") or cart.get("email") or "").strip().lower()
    items = rules.items_description(cart)
    facts: dict[str, Any] = {
        "value": value,
        "currency": currency,
        "email": email,
        "customer_id": customer_id,
        "abandoned_at": abandoned_at,
        "items_description": items,
    }
    if not email and customer is None:
        _cart_skip(
            store=store,
            cart_id=cart_id,
            local=local,
            reason="No email and no registered customer: nobody to follow up.",
            facts=facts,
        )
    # A customer id the store no longer knows falls back to the cart's email, as a guest.
    identity = customer_identity(store=store, customer_id=customer_id if customer else 0, email=email)
    facts["customer_key"] = identity.key
    kind = _record_kind(local=local, value=value)
    flag = "opportunity_creation" if kind == "opportunity" else "low_value_lead_creation"
    if not config.flag(flag):
        _cart_skip(
            store=store,
            cart_id=cart_id,
            local=local,
            reason=f"The feature flag {flag} is off.",
            facts=facts,
        )

    had_records = local is not None and bool(local.record_kind)
    same_abandonment = had_records and local.abandoned_at == abandoned_at
    plan = _Abandonment(
        store=store,
        cart_id=cart_id,
        key=store.external_id(cart_id),
        kind=kind,
        value=value,
        currency=currency,
        email=email,
        identity=identity,
        document=customer_document_from_customer(customer) if customer else _guest_document(email),
        items=items,
        abandoned_at=abandoned_at,
        reopen=not had_records or local.state != Cart.State.OPEN,
        task_id=local.task_id if local else "",
        # One event per abandonment: re-processing the same abandonment publishes nothing new.
        publish_event=not same_abandonment,
    )
    client = salesforce_client()
    responses, task_id = _abandonment_send(client, plan)

    by_reference = _responses_by_reference(responses)
    record_id = _created_id(by_reference.get(kind)) or (
        (local.opportunity_id if kind == "opportunity" else local.lead_id) if local else ""
    )
    new_task_id = _created_id(by_reference.get("task")) or (task_id if "task" in by_reference else "")
    account_id = _created_id(by_reference.get("account"))
    contact_id = _created_id(by_reference.get("contact"))
    days = int(config.threshold("cart_expiration_days"))
    defaults: dict[str, Any] = {
        **facts,
        "state": Cart.State.OPEN,
        "skip_reason": "",
        "opportunity_id": record_id if kind == "opportunity" else "",
        "lead_id": record_id if kind == "lead" else "",
        "account_id": account_id or (local.account_id if local else ""),
        "contact_id": contact_id or (local.contact_id if local else ""),
        "task_id": new_task_id or (local.task_id if local and "task" not in by_reference else ""),
        "expires_at": abandoned_at + timedelta(days=days),
        "closed_at": None,
        # Counts abandonments, not deliveries: re-processing the same one does not add.
        "abandon_count": (local.abandon_count if local else 0) + (0 if same_abandonment else 1),
    }
    Cart.objects.update_or_create(store=store, cart_id=cart_id, defaults=defaults)
    salesforce_ids = [i for i in (account_id, contact_id, record_id, defaults["task_id"]) if i]
    event_id = _created_id(by_reference.get("event"))
    return HandlerResult(
        operation=OPERATION_ABANDONED,
        bigcommerce_id=cart_id,
        salesforce_ids=salesforce_ids,
        details={
            "record": kind,
            "value": str(value),
            "currency": currency,
            "customer_key": identity.key,
            "task": ("updated" if task_id else "created") if "task" in by_reference else "off",
            "event_id": event_id,
            "reopened": plan.reopen and had_records,
        },
    )


# -- conversion ----------------------------------------------------------------------------------
def _conversion_note(*, order_id: int, salesforce_order_id: str) -> str:
    note = f"Converted into BigCommerce order #{order_id}"
    return note + (f" (Salesforce Order {salesforce_order_id})." if salesforce_order_id else ".")


def cart_conversion_sync(*, store: Store, cart_id: str, order_id: int, converted_at: datetime) -> HandlerResult:
    """Close a bought cart: Opportunity → Closed Won with the order's amount, or Lead → Closed - Converted,
    and the recovery Task → Completed, in one composite request.

    The cart is gone from BigCommerce by now, so everything comes from the local Cart. The
    amount comes from the already-synced order when there is one, else from one ``order_get``.
    """
    local = cart_local_get(store=store, cart_id=cart_id)
    if local is None:
        raise SkipEvent(f"Cart {cart_id} was never seen abandoned: no recovery record to close.")
    if local.state == Cart.State.CONVERTED and local.order_id == order_id:
        raise SkipEvent(f"Cart {cart_id} is already recorded as converted into order {order_id}.")
    if not local.record_kind:
        # Nothing in Salesforce to close (the abandonment was skipped); keep the local story straight.
        Cart.objects.filter(pk=local.pk).update(
            state=Cart.State.CONVERTED, order_id=order_id, converted_at=converted_at, closed_at=timezone.now()
        )
        raise SkipEvent(f"Cart {cart_id} has no Salesforce record ({local.skip_reason or 'never synced'}).")

    client = salesforce_client()
    subrequests: list[dict[str, Any]] = []
    amount: Decimal | None = None
    source = ""
    salesforce_order_id = ""
    closed_on = rules.local_date(converted_at, store.tz).isoformat()
    if local.opportunity_id:
        known = order_known(store=store, order_id=order_id)
        if known is not None:
            amount, salesforce_order_id, source = known.total, known.salesforce_id, known.source
        else:
            order = bigcommerce_client(store).order_get(order_id)
            amount, source = rules.cents(money(order.get("total_inc_tax"))), "order_get"
        note = _conversion_note(order_id=order_id, salesforce_order_id=salesforce_order_id)
        subrequests.append(
            {
                "method": "PATCH",
                "url": _url(client, f"sobjects/Opportunity/{local.opportunity_id}"),
                "referenceId": "opportunity",
                "body": {
                    "StageName": OPPORTUNITY_WON_STAGE,
                    "Amount": amount,
                    "CloseDate": closed_on,
                    "Description": f"{local.items_description}\n\n{note}".strip(),
                },
            }
        )
    else:
        note = _conversion_note(order_id=order_id, salesforce_order_id="")
        subrequests.append(
            {
                "method": "PATCH",
                "url": _url(client, f"sobjects/Lead/{local.lead_id}"),
                "referenceId": "lead",
                "body": {
                    "Status": LEAD_CONVERTED_STATUS,
                    "Description": f"{local.items_description}\n\n{note}".strip(),
                },
            }
        )
    if local.task_id:
        subrequests.append(
            {
                "method": "PATCH",
                "url": _url(client, f"sobjects/Task/{local.task_id}"),
                "referenceId": "task",
                "body": {"Status": TASK_DONE_STATUS},
            }
        )
    client.composite(subrequests, all_or_none=True)
    Cart.objects.filter(pk=local.pk).update(
        state=Cart.State.CONVERTED,
        order_id=order_id,
        converted_at=converted_at,
        closed_at=timezone.now(),
        skip_reason="",
    )
    record_id = local.opportunity_id or local.lead_id
    return HandlerResult(
        operation=OPERATION_CONVERTED,
        bigcommerce_id=cart_id,
        salesforce_ids=[i for i in (record_id, local.task_id, salesforce_order_id) if i],
        details={
            "record": local.record_kind,
            "order_id": order_id,
            "amount": str(amount) if amount is not None else "",
            "amount_source": source,
            "task_completed": bool(local.task_id),
        },
    )


# -- expiry --------------------------------------------------------------------------------------
@dataclass
class ExpiryResult:
    """What one expiry run did."""

    cutoff: datetime | None = None
    candidates: int = 0
    opportunities_closed: int = 0
    leads_closed: int = 0
    failed: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    skipped_reason: str = ""


def _expiry_record(cart: Cart, *, now: datetime) -> dict[str, Any]:
    # The stand-in schema (like a default org) has no loss-reason field on Opportunity,
    # so the reason goes into the Description after the items.
    if cart.opportunity_id:
        return {
            "attributes": {"type": "Opportunity"},
            "id": cart.opportunity_id,
            "StageName": OPPORTUNITY_LOST_STAGE,
            "CloseDate": rules.local_date(now, cart.store.tz).isoformat(),
            "Description": f"{cart.items_description}\n\n{OPPORTUNITY_LOST_STAGE}: {EXPIRY_REASON}".strip(),
        }
    return {
        "attributes": {"type": "Lead"},
        "id": cart.lead_id,
        "Status": LEAD_LOST_STATUS,
        "Description": f"{cart.items_description}\n\n{LEAD_LOST_STATUS}: {EXPIRY_REASON}".strip(),
    }


def _result_error(result: dict[str, Any]) -> str:
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    return f"{first.get('statusCode') or first.get('errorCode') or 'ERROR'}: {first.get('message', '')}".strip()


def carts_expire(*, now: datetime | None = None) -> ExpiryResult:
    """Close cart Opportunities (and, when enabled, Leads) still open after the expiration days.

    Open carts come from the local table; Salesforce gets one Collections update per 200
    records (ceil(n / 200) requests). Records Salesforce refuses stay open and are counted
    as failed (the next run tries again). Writes one audit entry with the counts.
    """
    started = time.monotonic()
    now = now or timezone.now()
    result = ExpiryResult()
    close_opportunities = config.flag("cart_expiration")
    close_leads = config.flag("stale_lead_expiration")
    if not (close_opportunities or close_leads):
        result.skipped_reason = "The feature flags cart_expiration and stale_lead_expiration are off."
        audit_record(
            operation=OPERATION_EXPIRY,
            store=None,
            bigcommerce_id="",
            status="skipped",
            details={"reason": result.skipped_reason},
        )
        return result
    result.cutoff = now - timedelta(days=int(config.threshold("cart_expiration_days")))
    carts = list(carts_expirable(cutoff=result.cutoff, opportunities=close_opportunities, leads=close_leads))
    result.candidates = len(carts)
    touched: list[str] = []
    error_code = ""
    with salesforce_calls_counted() as counter:
        client = salesforce_client() if carts else None
        for start in range(0, len(carts), COLLECTIONS_CHUNK):
            chunk = carts[start : start + COLLECTIONS_CHUNK]
            try:
                results = client.collections_update([_expiry_record(c, now=now) for c in chunk], all_or_none=False)
            except SalesforceError as error:
                # A whole chunk refused (limits, outage): leave it open for the next run, go on with the rest.
                result.failed += len(chunk)
                error_code = error_code or error.code
                result.errors.append(f"{error.code or error.status}: {error.message}"[:300])
                continue
            closed: list[int] = []
            for cart, outcome in zip(chunk, results, strict=False):
                if outcome.get("success"):
                    closed.append(cart.pk)
                    touched.append(cart.opportunity_id or cart.lead_id)
                    if cart.opportunity_id:
                        result.opportunities_closed += 1
                    else:
                        result.leads_closed += 1
                else:
                    result.failed += 1
                    result.errors.append(f"cart {cart.cart_id}: {_result_error(outcome)}"[:300])
            result.failed += max(0, len(chunk) - len(results))
            Cart.objects.filter(pk__in=closed).update(state=Cart.State.EXPIRED, closed_at=now)
    result.requests = counter.count
    audit_record(
        operation=OPERATION_EXPIRY,
        store=None,
        bigcommerce_id="",
        status="failed" if result.failed else "success",
        salesforce_ids=touched[:1000],
        error="; ".join(result.errors[:5]),
        error_code=error_code,
        duration_ms=int((time.monotonic() - started) * 1000),
        salesforce_api_calls=result.requests,
        details={
            "cutoff": result.cutoff.isoformat(),
            "candidates": result.candidates,
            "opportunities_closed": result.opportunities_closed,
            "leads_closed": result.leads_closed,
            "failed": result.failed,
            "requests": result.requests,
        },
    )
    logger.info(
        "cart expiry: %s opportunities and %s leads closed, %s failed, %s requests",
        result.opportunities_closed,
        result.leads_closed,
        result.failed,
        result.requests,
    )
    return result
