"""Cart recovery: abandoned carts become Opportunities or Leads with a follow-up Task, and are
closed again when the cart is bought (conversion) or forgotten (expiry).

Every abandonment or conversion costs exactly one Salesforce request (one composite call); a
Lead's conversion adds its ``convertLead`` (SOAP) call, and the org's converted status once a
day. Expiry costs one sObject Collections request per 200 carts. The local ``Cart`` table
remembers the Salesforce ids, so a redelivery or a repeated abandonment updates what exists
instead of adding records, and expiry knows which carts are open without asking Salesforce.

Crash safety: everything but the Task is upserted by an external id. A Task's creation is
recorded locally before the request (``Cart.task_requested_at``); a retry after a worker died
in between looks the Task up by ``BigCommerceCartId__c`` (one query, only then) instead of
creating a second one. Each cart event carries ``EventKey__c`` (same abandonment, same key).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn
from urllib.parse import quote

from django.utils import timezone

from audit.services import audit_record
from orders.models import SyncedOrder
from recovery import rules
from recovery.models import Cart
from recovery.selectors import cart_local_get, carts_expirable, order_known
from sync.bigcommerce import BigCommerceNotFound, bigcommerce_client, money
from sync.config import config
from sync.customers import (
    CustomerIdentity,
    CustomerMatch,
    account_contact_subrequests,
    customer_document_from_billing,
    customer_document_from_customer,
    customer_documents,
    customer_identity,
    customer_identity_resolved,
    customer_link_remember,
    customer_reference_subrequests,
    customers_match,
    lead_converted_status,
)
from sync.handlers import HandlerResult, SkipEvent
from sync.mapping import mappings_apply
from sync.models import CustomerLink, Store
from sync.salesforce import (
    COLLECTIONS_CHUNK,
    SalesforceClient,
    SalesforceError,
    error_from_body,
    salesforce_calls_counted,
    salesforce_client,
    soql_quote,
)
from sync.seeds import LEAD_CLOSED_STATUS_SETTING, LEAD_CONVERSION_CLOSE, LEAD_CONVERSION_SETTING
from sync.usage import api_budget_status

logger = logging.getLogger(__name__)

OPERATION_ABANDONED = "CART_SYNC"
OPERATION_CONVERTED = "CART_CONVERSION"
OPERATION_EXPIRY = "CART_EXPIRY"

OPPORTUNITY_OPEN_STAGE = "Prospecting"
OPPORTUNITY_WON_STAGE = "Closed Won"
OPPORTUNITY_LOST_STAGE = "Closed Lost"
LEAD_OPEN_STATUS = "Open - Not Contacted"
# A converted Lead refuses every update (convertLead included) with this code.
CONVERTED_LEAD_CODE = "CANNOT_UPDATE_CONVERTED_LEAD"
LEAD_LOST_STATUS = "Closed - Not Converted"
LEAD_SOURCE = "Abandoned Cart"
TASK_SUBJECT = "Follow up on abandoned cart"
TASK_OPEN_STATUS = "Not Started"
TASK_DONE_STATUS = "Completed"
EXPIRY_REASON = "Cart expired"
CART_EVENT = "BigCommerce_Cart_Abandoned__e"
# The shopper on their cart's Opportunity: the primary contact, deciding whether to buy.
CONTACT_ROLE = "Decision Maker"
# Recovery writes these itself, whatever the mappings say: the external ids travel in the URL, the
# Account link is a reference, and the open stage/status is (re)set only when a cart (re)opens.
OPPORTUNITY_CONTROLLED_FIELDS = frozenset({"Id", "Cart_ID__c", "AccountId", "StageName", "IsClosed", "IsWon"})
LEAD_CONTROLLED_FIELDS = frozenset({"Id", "AbandonedCartId__c", "Status", "IsConverted"})
# Who an existing Lead is: a cart it takes over (sync.customers adoption) leaves these as a sales rep keeps them.
LEAD_PERSON_FIELDS = frozenset({"Salutation", "FirstName", "LastName", "Company", "Email"})
# Salesforce answers these when a remembered record id no longer exists.
GONE_CODES = frozenset({"NOT_FOUND", "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})


# -- small helpers -------------------------------------------------------------------------------
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
    match: CustomerMatch | None = None  # the shopper's existing CRM records (sync.customers.customers_match)
    to_contact: bool = False  # a low-value cart of a shopper who is a Contact: Task on the Contact, no Lead
    lead_id: str = ""  # the shopper's existing Lead, reused (by Id) instead of a new one
    contact_role_id: str = ""  # the shopper's OpportunityContactRole already made for this cart ("" = none yet)


def _record_kind(*, local: Cart | None, value: Decimal) -> str:
    """Opportunity at or above the threshold, else Lead; a cart keeps the record it already has,
    so a repeated abandonment after a change updates that record instead of adding a second one."""
    if local is not None and local.record_kind:
        return local.record_kind
    return "opportunity" if value >= config.threshold("opportunity_min_value") else "lead"


def cart_document(plan: _Abandonment, *, days: int) -> dict[str, Any]:
    """The mapping document of an abandoned cart: what the Opportunity and Lead mappings read (sync/seeds.py)."""
    abandoned_on = rules.local_date(plan.abandoned_at, plan.store.tz)
    return {
        "cart_id": plan.cart_id,
        "cart_key": plan.key,
        "value": plan.value,
        "currency": plan.currency,
        "email": plan.email,
        "email_local_part": rules.email_local_part(plan.email),
        "items": plan.items,
        "lead_source": LEAD_SOURCE,
        "abandoned_at": plan.abandoned_at,
        "abandoned_date": abandoned_on,
        "close_date": abandoned_on + timedelta(days=days),
        "expiration_days": days,
        "customer": plan.document,
    }


def _mapped_body(sf_object: str, document: dict[str, Any], *, plan: _Abandonment, controlled: frozenset[str]) -> dict:
    values = mappings_apply(config.field_mappings(sf_object), document, tz=plan.store.tz)
    # Absent data is left out rather than sent as null, so it never wipes what Salesforce holds.
    return {
        name: value for name, value in values.items() if name not in controlled and value is not None and value != ""
    }


def _opportunity_body(plan: _Abandonment, *, days: int) -> dict[str, Any]:
    document = cart_document(plan, days=days)
    body = _mapped_body("Opportunity", document, plan=plan, controlled=OPPORTUNITY_CONTROLLED_FIELDS)
    # Required on insert: an admin who disables their mapping still gets a valid Opportunity.
    body.setdefault("Name", f"Abandoned Cart - {plan.cart_id}")
    body.setdefault("CloseDate", document["close_date"].isoformat())
    body["AccountId"] = "@{account.id}"
    if plan.reopen:
        # A later abandonment leaves the stage a sales rep may have moved on alone.
        body["StageName"] = OPPORTUNITY_OPEN_STAGE
    return body


def _lead_body(plan: _Abandonment, *, days: int) -> dict[str, Any]:
    document = cart_document(plan, days=days)
    body = _mapped_body("Lead", document, plan=plan, controlled=LEAD_CONTROLLED_FIELDS)
    # Required on insert (LastName never invented: the email's local part, as the seeded mapping does).
    body.setdefault("LastName", document["email_local_part"][:80] or plan.key[:80])
    body.setdefault("Company", plan.email[:255] or plan.key[:255])
    if plan.reopen:
        body["Status"] = LEAD_OPEN_STATUS
    return body


def _task_subrequest(
    client: SalesforceClient, plan: _Abandonment, *, has_contact: bool, task_id: str, has_account: bool = False
) -> dict:
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
    elif plan.to_contact:
        # The shopper's Contact and its Account: the composite's references, else the remembered ids.
        match = plan.match or CustomerMatch(CustomerLink.Matched.CREATED)
        who = "@{contact.id}" if has_contact else match.contact_id
        what = "@{account.id}" if has_account else match.account_id
        body.update({name: value for name, value in (("WhoId", who), ("WhatId", what)) if value})
    else:
        body["WhoId"] = "@{lead.id}"
    if task_id:
        if plan.reopen:
            body["Status"] = TASK_OPEN_STATUS
        return {"method": "PATCH", "url": client.url(f"sobjects/Task/{task_id}"), "referenceId": "task", "body": body}
    body["Status"] = TASK_OPEN_STATUS
    return {"method": "POST", "url": client.url("sobjects/Task/"), "referenceId": "task", "body": body}


def _abandonment_subrequests(client: SalesforceClient, plan: _Abandonment, *, task_id: str) -> list[dict]:
    """Account + Contact (Opportunity path), the Opportunity or Lead, the Task and the event: one composite."""
    subrequests: list[dict[str, Any]] = []
    key = quote(plan.key, safe="")
    days = int(config.threshold("cart_expiration_days"))
    if plan.kind == "opportunity":
        subrequests += account_contact_subrequests(
            store=plan.store, identity=plan.identity, document=plan.document, match=plan.match
        )
    elif plan.to_contact and plan.match is not None:
        remembered = bool(plan.match.account_id and plan.match.contact_id) and not plan.match.adopt
        if not remembered:
            # The shopper's records as the CRM keeps them: only their ids for the Task (and, found by email
            # just now, the external id); a cart knows less of a person than the CRM does.
            subrequests += customer_reference_subrequests(identity=plan.identity, match=plan.match)
    if plan.kind == "opportunity":
        subrequests.append(
            {
                "method": "PATCH",
                "url": client.url(f"sobjects/Opportunity/Cart_ID__c/{key}"),
                "referenceId": "opportunity",
                "body": _opportunity_body(plan, days=days),
            }
        )
    elif plan.lead_id:
        # The shopper's Lead (found by email, or an earlier cart's): it takes this cart, keeping its person.
        body = {name: value for name, value in _lead_body(plan, days=days).items() if name not in LEAD_PERSON_FIELDS}
        body["AbandonedCartId__c"] = plan.key
        url = client.url(f"sobjects/Lead/Id/{plan.lead_id}")
        subrequests.append({"method": "PATCH", "url": url, "referenceId": "lead", "body": body})
    elif not plan.to_contact:
        subrequests.append(
            {
                "method": "PATCH",
                "url": client.url(f"sobjects/Lead/AbandonedCartId__c/{key}"),
                "referenceId": "lead",
                "body": _lead_body(plan, days=days),
            }
        )
    has_contact = any(sub.get("referenceId") == "contact" for sub in subrequests)
    if plan.kind == "opportunity" and has_contact and not plan.contact_role_id:
        # The shopper appears on the Opportunity. A role has no external id: its id, remembered on the
        # Cart, keeps a later abandonment from adding a second one (the same Contact may hold several).
        subrequests.append(
            {
                "method": "POST",
                "url": client.url("sobjects/OpportunityContactRole/"),
                "referenceId": "role",
                "body": {
                    "OpportunityId": "@{opportunity.id}",
                    "ContactId": "@{contact.id}",
                    "IsPrimary": True,
                    "Role": CONTACT_ROLE,
                },
            }
        )
    if config.flag("recovery_tasks"):
        has_account = any(sub.get("referenceId") == "account" for sub in subrequests)
        subrequests.append(
            _task_subrequest(client, plan, has_contact=has_contact, task_id=task_id, has_account=has_account)
        )
    if plan.publish_event and config.flag("platform_events"):
        record = "OpportunityId__c" if plan.kind == "opportunity" else "LeadId__c"
        subrequests.append(
            {
                "method": "POST",
                "url": client.url(f"sobjects/{CART_EVENT}/"),
                "referenceId": "event",
                "body": {
                    "EventType__c": "Abandoned",
                    "CartId__c": plan.key,
                    "CustomerEmail__c": plan.email,
                    "CartValue__c": plan.value,
                    **({} if plan.to_contact else {record: f"@{{{plan.kind}.id}}"}),
                    "AbandonedDate__c": rules.salesforce_datetime(plan.abandoned_at),
                    "EventKey__c": rules.cart_event_key(
                        cart_key=plan.key, kind="Abandoned", abandoned_at=plan.abandoned_at
                    ),
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
                # Forget the gone Task and record the new one's creation first (crash-safe, as a first Task).
                Cart.objects.filter(store=plan.store, cart_id=plan.cart_id).update(
                    task_id="", task_requested_at=timezone.now()
                )
                continue
            raise


def _task_recovered(client: SalesforceClient, *, plan: _Abandonment, local: Cart | None) -> _Abandonment:
    """The plan, with the Task a sync that died before saving its id created (found by BigCommerceCartId__c).

    Costs one query, and only after such a crash (``task_requested_at`` still set). The Task
    was created in the same all-or-none composite as the abandonment's event, so finding it
    also means that event was published: it is not published again.
    """
    if local is None or plan.task_id or local.task_requested_at is None or not config.flag("recovery_tasks"):
        return plan
    # Activity custom fields cannot be external ids in Salesforce, so the Task is looked up, not upserted.
    # The value is a quoted, escaped SOQL literal (soql_quote); the names are constants.
    task_soql = (
        f"SELECT Id FROM Task WHERE BigCommerceCartId__c = {soql_quote(plan.key)} "  # noqa: S608
        "ORDER BY CreatedDate DESC LIMIT 1"
    )
    if plan.kind != "opportunity" or plan.contact_role_id:
        found, roles = client.query(task_soql), []
    else:
        # The shopper's role was created in the same composite as the Task: read in the same request.
        role_soql = (
            "SELECT Id FROM OpportunityContactRole WHERE Opportunity.Cart_ID__c = "  # noqa: S608
            f"{soql_quote(plan.key)} ORDER BY CreatedDate DESC LIMIT 1"
        )
        found, roles = _queries_together(client, [task_soql, role_soql])
    if not found:
        return plan  # the crash came before Salesforce created anything: create it now
    logger.info("Cart %s: found the Task %s an interrupted sync created", plan.cart_id, found[0]["Id"])
    role_id = str(roles[0]["Id"]) if roles else plan.contact_role_id
    return replace(plan, task_id=str(found[0]["Id"]), publish_event=False, contact_role_id=role_id)


def _queries_together(client: SalesforceClient, queries: list[str]) -> list[list[dict[str, Any]]]:
    """Several SOQL queries in one composite request (each answer's first page: the queries ask for one row)."""
    subrequests = [
        {"method": "GET", "url": client.url("query") + "?q=" + quote(soql), "referenceId": f"query{index}"}
        for index, soql in enumerate(queries)
    ]
    answers: list[list[dict[str, Any]]] = []
    for response in client.composite(subrequests, all_or_none=False):
        status = int(response.get("httpStatusCode") or 0)
        if status >= 400:
            raise error_from_body(response.get("body"), status=status)
        answers.append(list((response.get("body") or {}).get("records") or []))
    return answers


def _task_intent_save(*, store: Store, cart_id: str, facts: dict[str, Any]) -> None:
    """Remember, before the write, that a Task is being created (see ``Cart.task_requested_at``)."""
    now = timezone.now()
    # A new row gets the cart's facts but not its abandonment time: until the write is saved, this
    # abandonment has not been processed (a retry must still count it and publish its event).
    first_facts = {name: value for name, value in facts.items() if name != "abandoned_at"}
    Cart.objects.update_or_create(
        store=store,
        cart_id=cart_id,
        defaults={"task_requested_at": now},
        create_defaults={**first_facts, "task_requested_at": now},
    )


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
    same_abandonment = had_records and local is not None and local.abandoned_at == abandoned_at
    client = salesforce_client()
    match = customers_match(store=store, client=client, identities=[identity]).get(identity.key)
    identity = customer_identity_resolved(identity, match)  # a guest who is a registered customer
    facts["customer_key"] = identity.key
    # A shopper already in the CRM as a Contact gets no Lead; one known by a Lead alone gets that Lead.
    own_lead = local is not None and bool(local.lead_id)
    is_contact = match is not None and (match.matched != CustomerLink.Matched.LEAD or bool(match.contact_id))
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
        reopen=local is None or not had_records or local.state != Cart.State.OPEN,
        task_id=local.task_id if local else "",
        contact_role_id=local.contact_role_id if local else "",
        # One event per abandonment: re-processing the same abandonment publishes nothing new.
        publish_event=not same_abandonment,
        match=match,
        to_contact=kind == "lead" and is_contact and not own_lead,
        lead_id=match.lead_id if kind == "lead" and match and not is_contact and not own_lead else "",
    )
    plan = _task_recovered(client, plan=plan, local=local)
    if not plan.task_id and config.flag("recovery_tasks"):
        _task_intent_save(store=store, cart_id=cart_id, facts=facts)
    try:
        responses, task_id = _abandonment_send(client, plan)
    except SalesforceError as error:
        if _failed_reference(error)[:2] != ("lead", CONVERTED_LEAD_CODE):
            raise
        # A sales rep converted the cart's Lead: it refuses every update, and retrying cannot help.
        _cart_skip(store=store, cart_id=cart_id, local=local, reason="The cart's Lead is converted in Salesforce.")

    by_reference = _responses_by_reference(responses)
    record_id = _created_id(by_reference.get(kind)) or (
        (local.opportunity_id if kind == "opportunity" else local.lead_id) if local else ""
    )
    new_task_id = _created_id(by_reference.get("task")) or (task_id if "task" in by_reference else "")
    account_id = _created_id(by_reference.get("account"))
    contact_id = _created_id(by_reference.get("contact"))
    contact_role_id = _created_id(by_reference.get("role")) or plan.contact_role_id
    if plan.to_contact and match is not None:  # the Task went to remembered ids
        account_id, contact_id = account_id or match.account_id, contact_id or match.contact_id
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
        "contact_role_id": contact_role_id if kind == "opportunity" else "",
        "task_requested_at": None,
        "expires_at": abandoned_at + timedelta(days=days),
        "closed_at": None,
        # Counts abandonments, not deliveries: re-processing the same one does not add.
        "abandon_count": (local.abandon_count if local else 0) + (0 if same_abandonment else 1),
    }
    Cart.objects.update_or_create(store=store, cart_id=cart_id, defaults=defaults)
    made = CustomerLink.Matched.LEAD if kind == "lead" and not plan.to_contact else CustomerLink.Matched.CREATED
    customer_link_remember(
        store=store,
        key=identity.key,
        match=match or CustomerMatch(made, adopt=True),
        account_id=account_id,
        contact_id=contact_id,
        lead_id=record_id if kind == "lead" else "",
    )
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
@dataclass(frozen=True)
class _ConversionCustomer:
    """The converted order's customer in Salesforce: known ids, or the upserts that give them."""

    account_id: str = ""
    contact_id: str = ""
    identity: CustomerIdentity | None = None
    match: CustomerMatch | None = None
    subrequests: tuple[dict[str, Any], ...] = ()


def _conversion_note(*, order_id: int, salesforce_order_id: str) -> str:
    note = f"Converted into BigCommerce order #{order_id}"
    return note + (f" (Salesforce Order {salesforce_order_id})." if salesforce_order_id else ".")


def _conversion_customer(*, store: Store, client: SalesforceClient, order_id: int) -> _ConversionCustomer:
    """The Account and Contact a bought cart's Lead converts into: the order's customer.

    Known ids when the order already synced and its customer is linked (no request); otherwise
    the order (one ``order_get``) names the customer, found or created as the order sync does
    it, by upserts that join the conversion's composite.
    """
    synced = SyncedOrder.objects.filter(store=store, order_id=order_id).first()
    link = CustomerLink.objects.filter(store=store, customer_key=synced.account_key).first() if synced else None
    if link is not None and link.account_id and (link.contact_id or link.person_account):
        return _ConversionCustomer(account_id=link.account_id, contact_id=link.contact_id)
    order = bigcommerce_client(store).order_get(order_id)
    billing = order.get("billing_address") or {}
    customer_id = int(order.get("customer_id") or 0)
    identity = customer_identity(store=store, customer_id=customer_id, email=billing.get("email") or "")
    documents = customer_documents(store=store, customer_ids={customer_id}) if identity.kind == "registered" else {}
    # A guest, or a registered customer deleted since: the order's billing address describes them.
    document = documents.get(customer_id) or customer_document_from_billing(billing)
    match = customers_match(store=store, client=client, identities=[identity]).get(identity.key)
    identity = customer_identity_resolved(identity, match)  # a guest who is a registered customer
    subrequests = account_contact_subrequests(store=store, identity=identity, document=document, match=match)
    return _ConversionCustomer(identity=identity, match=match, subrequests=tuple(subrequests))


def _conversion_send(client: SalesforceClient, subrequests: list[dict[str, Any]]) -> tuple[list[dict], bool]:
    """Send the conversion composite; (responses, whether the Lead was found converted already).

    A Lead converted already (by an earlier attempt that died before saving, or by a sales rep)
    refuses every update: it is left alone and the rest is sent again, once.
    """
    try:
        return client.composite(subrequests, all_or_none=True), False
    except SalesforceError as error:
        reference, code, _ = _failed_reference(error)
        if reference != "lead" or code != CONVERTED_LEAD_CODE:
            raise
    remaining = [sub for sub in subrequests if sub.get("referenceId") != "lead"]
    return (client.composite(remaining, all_or_none=True) if remaining else []), True


def _lead_close(
    *, store: Store, client: SalesforceClient, local: Cart, order_id: int, subrequests: list[dict[str, Any]]
) -> str:
    """Close the cart's Lead as the admin chose (``lead_on_cart_conversion``); returns what happened:
    "converted", "closed" or "already_converted". ``subrequests`` (the Task's) join its composite."""
    note = _conversion_note(order_id=order_id, salesforce_order_id="")
    lead_body: dict[str, Any] = {"Description": f"{local.items_description}\n\n{note}".strip()}
    convert = config.setting(LEAD_CONVERSION_SETTING) != LEAD_CONVERSION_CLOSE
    customer = _conversion_customer(store=store, client=client, order_id=order_id) if convert else None
    if not convert:
        # Never a converted status here: a real org refuses one set by a plain update.
        lead_body["Status"] = config.setting(LEAD_CLOSED_STATUS_SETTING)
    lead = {"method": "PATCH", "url": client.url(f"sobjects/Lead/{local.lead_id}"), "referenceId": "lead"}
    composite = [*(customer.subrequests if customer else ()), {**lead, "body": lead_body}, *subrequests]
    responses, already = _conversion_send(client, composite)
    if customer is None:
        if already:
            _lead_links_retire(store=store, lead_id=local.lead_id, account_id="", contact_id="")
        return "already_converted" if already else "closed"
    by_reference = _responses_by_reference(responses)
    account_id = customer.account_id or _created_id(by_reference.get("account"))
    contact_id = customer.contact_id or _created_id(by_reference.get("contact"))
    if customer.identity is not None and account_id:
        customer_link_remember(
            store=store, key=customer.identity.key, match=customer.match, account_id=account_id, contact_id=contact_id
        )
    outcome = "already_converted" if already else "converted"
    if not already:
        try:
            client.lead_convert(
                lead_id=local.lead_id,
                converted_status=lead_converted_status(client),
                account_id=account_id,
                contact_id=contact_id,
            )
        except SalesforceError as error:
            if error.code != CONVERTED_LEAD_CODE:
                raise
            outcome = "already_converted"
    _lead_links_retire(store=store, lead_id=local.lead_id, account_id=account_id, contact_id=contact_id)
    return outcome


def _lead_links_retire(*, store: Store, lead_id: str, account_id: str, contact_id: str) -> None:
    """A converted Lead can never be written again: customers known by it are known by the order's
    Account and Contact from now on (their next cart goes to the Contact, not to that Lead)."""
    links = CustomerLink.objects.filter(store=store, lead_id=lead_id)
    if account_id and contact_id:
        links.update(lead_id="", matched=CustomerLink.Matched.CREATED, account_id=account_id, contact_id=contact_id)
    else:
        links.update(lead_id="")


def _order_opportunity_link(
    client: SalesforceClient, *, store: Store, order_id: int, opportunity_id: str
) -> list[dict[str, Any]]:
    """The Order's OpportunityId, when the order synced before its cart's Opportunity existed (rare: the
    order sync links it itself otherwise, see orders.links). Joins the conversion's composite; an activated
    Order takes it with the Edit Activated Orders permission, like every later edit of the order."""
    synced = SyncedOrder.objects.filter(store=store, order_id=order_id).first()
    if synced is None or not synced.salesforce_id or synced.opportunity_id == opportunity_id:
        return []
    return [
        {
            "method": "PATCH",
            "url": client.url(f"sobjects/Order/{synced.salesforce_id}"),
            "referenceId": "order",
            "body": {"OpportunityId": opportunity_id},
        }
    ]


def cart_conversion_sync(*, store: Store, cart_id: str, order_id: int, converted_at: datetime) -> HandlerResult:
    """Close a bought cart and complete its recovery Task.

    Opportunity → Closed Won with the order's amount, in one composite request. Lead → converted
    (SOAP ``convertLead`` into the order's Account and Contact, no Opportunity: the composite,
    then the conversion) or, where the admin prefers, closed with ``lead_closed_status``. A Lead
    converted already is left alone. The cart is gone from BigCommerce by now, so the cart's facts
    come from the local Cart; the amount from the already-synced order when there is one, else
    from one ``order_get``.
    """
    local = cart_local_get(store=store, cart_id=cart_id)
    if local is None:
        raise SkipEvent(f"Cart {cart_id} was never seen abandoned: no recovery record to close.")
    if local.state == Cart.State.CONVERTED and local.order_id == order_id:
        raise SkipEvent(f"Cart {cart_id} is already recorded as converted into order {order_id}.")
    if not local.record_kind and not local.task_id:
        # Nothing in Salesforce to close (the abandonment was skipped); keep the local story straight.
        Cart.objects.filter(pk=local.pk).update(
            state=Cart.State.CONVERTED, order_id=order_id, converted_at=converted_at, closed_at=timezone.now()
        )
        raise SkipEvent(f"Cart {cart_id} has no Salesforce record ({local.skip_reason or 'never synced'}).")

    client = salesforce_client()
    task: list[dict[str, Any]] = []
    if local.task_id:
        task.append(
            {
                "method": "PATCH",
                "url": client.url(f"sobjects/Task/{local.task_id}"),
                "referenceId": "task",
                "body": {"Status": TASK_DONE_STATUS},
            }
        )
    amount: Decimal | None = None
    source = ""
    salesforce_order_id = ""
    lead_outcome = ""
    closed_on = rules.local_date(converted_at, store.tz).isoformat()
    if local.opportunity_id:
        known = order_known(store=store, order_id=order_id)
        if known is not None:
            amount, salesforce_order_id, source = known.total, known.salesforce_id, known.source
        else:
            order = bigcommerce_client(store).order_get(order_id)
            amount, source = rules.cents(money(order.get("total_inc_tax"))), "order_get"
        note = _conversion_note(order_id=order_id, salesforce_order_id=salesforce_order_id)
        opportunity = {
            "method": "PATCH",
            "url": client.url(f"sobjects/Opportunity/{local.opportunity_id}"),
            "referenceId": "opportunity",
            "body": {
                "StageName": OPPORTUNITY_WON_STAGE,
                "Amount": amount,
                "CloseDate": closed_on,
                "Description": f"{local.items_description}\n\n{note}".strip(),
            },
        }
        link = _order_opportunity_link(client, store=store, order_id=order_id, opportunity_id=local.opportunity_id)
        client.composite([opportunity, *link, *task], all_or_none=True)
        if link:
            SyncedOrder.objects.filter(store=store, order_id=order_id).update(opportunity_id=local.opportunity_id)
    elif local.lead_id:
        lead_outcome = _lead_close(store=store, client=client, local=local, order_id=order_id, subrequests=task)
    else:
        # A shopper who is a Contact got a Task and no Lead: completing it is all there is to close.
        client.composite(task, all_or_none=True)
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
            "lead": lead_outcome,
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
    leads_already_converted: int = 0
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


def _result_code(result: dict[str, Any]) -> str:
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    return str(first.get("statusCode") or first.get("errorCode") or "")


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
    guard = api_budget_status()
    if not (close_opportunities or close_leads) or guard.paused:
        # The API-budget guard holds Salesforce writes: the carts stay open here and the next run closes them.
        result.skipped_reason = (
            guard.reason if guard.paused else "The feature flags cart_expiration and stale_lead_expiration are off."
        )
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
        for start in range(0, len(carts), COLLECTIONS_CHUNK):
            chunk = carts[start : start + COLLECTIONS_CHUNK]
            try:
                # The process-wide client, asked for only when there are carts to close.
                results = salesforce_client().collections_update(
                    [_expiry_record(c, now=now) for c in chunk], all_or_none=False
                )
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
                elif not cart.opportunity_id and _result_code(outcome) == CONVERTED_LEAD_CODE:
                    # Converted in Salesforce meanwhile (by a rep): nothing left to close, and no retry loop.
                    closed.append(cart.pk)
                    result.leads_already_converted += 1
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
            "leads_already_converted": result.leads_already_converted,
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
