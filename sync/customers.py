"""Customers → Salesforce Account + Contact, shared by the customer handler, order sync and cart recovery.

A customer is identified by one external id VALUE used on both the Account and the
Contact (``BigCommerceCustomerId__c``): ``{hash}:{customer_id}`` for a registered
customer, ``{hash}:guest:{email}`` for a guest (matched by lower-cased email within
the store), and ``{hash}:guest-checkouts`` for orders with neither (one shared
Account, no Contact). Field values come from the admin-edited mappings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sync.bigcommerce import bigcommerce_client
from sync.config import config
from sync.handlers import HandlerResult, SkipEvent, SyncResult, handler_register
from sync.mapping import mappings_apply
from sync.salesforce import SalesforceError, salesforce_client, salesforce_data_path

if TYPE_CHECKING:
    from sync.models import Store, WebhookEvent

logger = logging.getLogger(__name__)

EXTERNAL_ID_FIELD = "BigCommerceCustomerId__c"
CUSTOMER_SCOPES = (
    "store/customer/created",
    "store/customer/updated",
    "store/customer/address/created",
    "store/customer/address/updated",
    "store/customer/address/deleted",
)


@dataclass(frozen=True)
class CustomerIdentity:
    """Who an Account/Contact pair stands for."""

    key: str  # the Account & Contact external id VALUE
    kind: str  # "registered" | "guest" | "guest_account"
    email: str  # lower-cased, "" when none


def customer_identity(*, store: Store, customer_id: int, email: str) -> CustomerIdentity:
    """The identity of a registered customer (id > 0), a guest (by email) or the shared guest account."""
    email = (email or "").strip().lower()
    if customer_id and int(customer_id) > 0:
        return CustomerIdentity(store.external_id(int(customer_id)), "registered", email)
    if email:
        return CustomerIdentity(store.external_id(f"guest:{email}"), "guest", email)
    return CustomerIdentity(store.external_id("guest-checkouts"), "guest_account", "")


def _document(
    *, first_name: Any, last_name: Any, company: Any, email: Any, phone: Any, address: dict[str, Any]
) -> dict[str, Any]:
    email_text = (email or "").strip()
    return {
        "first_name": (first_name or "").strip(),
        "last_name": (last_name or "").strip(),
        "company": (company or "").strip(),
        "email": email_text,
        "email_local_part": email_text.split("@", 1)[0] if email_text else "",
        "phone": (phone or "").strip(),
        "address": address,
    }


# Where each field of the mapping document's ``address`` sits in a v3 customer address and in a
# v2 order's billing address: one document shape, whichever BigCommerce payload it came from.
_V3_ADDRESS_KEYS = {
    "street_1": "address1",
    "street_2": "address2",
    "city": "city",
    "state": "state_or_province",
    "zip": "postal_code",
    "country": "country",
    "country_iso2": "country_code",
}
_V2_ADDRESS_KEYS = {name: name for name in _V3_ADDRESS_KEYS}


def _address(source: dict[str, Any], keys: dict[str, str]) -> dict[str, str]:
    return {name: source.get(key) or "" for name, key in keys.items()}


def customer_document_from_customer(customer: dict) -> dict:
    """A v3 customer (with ``include=addresses``) as the mapping document."""
    addresses = customer.get("addresses") or []
    first = addresses[0] if addresses else {}
    return _document(
        first_name=customer.get("first_name"),
        last_name=customer.get("last_name"),
        company=customer.get("company"),
        email=customer.get("email"),
        phone=customer.get("phone") or first.get("phone"),
        address=_address(first, _V3_ADDRESS_KEYS),
    )


def customer_document_from_billing(billing_address: dict) -> dict:
    """A v2 order's ``billing_address`` as the mapping document (guests)."""
    billing = billing_address or {}
    return _document(
        first_name=billing.get("first_name"),
        last_name=billing.get("last_name"),
        company=billing.get("company"),
        email=billing.get("email"),
        phone=billing.get("phone"),
        address=_address(billing, _V2_ADDRESS_KEYS),
    )


def _mapped(sf_object: str, document: dict, store: Store) -> dict[str, Any]:
    values = mappings_apply(config.field_mappings(sf_object), document, tz=store.tz)
    # Absent data is left out rather than sent as null, so it never wipes what Salesforce has.
    values = {name: value for name, value in values.items() if value is not None and value != ""}
    values.pop(EXTERNAL_ID_FIELD, None)  # the value travels in the URL
    return values


def upsert_url(sobject: str, key: str) -> str:
    """The upsert-by-external-id URL of ``sobject`` for the customer key."""
    return salesforce_data_path(f"sobjects/{sobject}/{EXTERNAL_ID_FIELD}/{quote(key, safe='')}")


def account_contact_subrequests(
    *, store: Store, identity: CustomerIdentity, document: dict, account_extra: dict | None = None
) -> list[dict]:
    """Composite subrequests upserting the Account (``account``) and, for people, the Contact (``contact``)."""
    if identity.kind == "guest_account":
        # One Account shared by every anonymous order: no one guest's phone or address on it.
        account: dict[str, Any] = {"Name": config.setting("guest_account_name")}
    else:
        account = _mapped("Account", document, store)
    if not account.get("Name"):
        account["Name"] = identity.email or identity.key
    account.update(account_extra or {})
    subrequests = [
        {"method": "PATCH", "url": upsert_url("Account", identity.key), "referenceId": "account", "body": account}
    ]
    if identity.kind == "guest_account":
        return subrequests
    contact = _mapped("Contact", document, store)
    if not contact.get("LastName"):
        # LastName is required and must never be invented: without a name or an email there is no Contact.
        logger.info("No last name or email for %s: Account only", identity.key)
        return subrequests
    if identity.email and not contact.get("Email"):
        contact["Email"] = identity.email
    contact["AccountId"] = "@{account.id}"
    subrequests.append(
        {"method": "PATCH", "url": upsert_url("Contact", identity.key), "referenceId": "contact", "body": contact}
    )
    return subrequests


def _composite_with_retry(subrequests: list[dict]) -> list[dict]:
    client = salesforce_client()
    try:
        return client.composite(subrequests, all_or_none=True)
    except SalesforceError as error:
        # Two upserts of a new external id value racing: one insert loses with DUPLICATE_VALUE;
        # the record exists now, so the same upsert updates it.
        if error.code != "DUPLICATE_VALUE":
            raise
        logger.info("Upsert raced with another writer (DUPLICATE_VALUE); retrying once")
        return client.composite(subrequests, all_or_none=True)


def customer_sync(*, store: Store, customer_id: int) -> SyncResult:
    """Upsert the customer's Account and Contact in one composite request."""
    customer = bigcommerce_client(store).customers_get([customer_id]).get(int(customer_id))
    if customer is None:
        raise SkipEvent(f"Customer {customer_id} does not exist in BigCommerce (deleted).")
    identity = customer_identity(store=store, customer_id=int(customer_id), email=customer.get("email") or "")
    document = customer_document_from_customer(customer)
    responses = _composite_with_retry(account_contact_subrequests(store=store, identity=identity, document=document))
    ids: list[str] = []
    details: dict[str, Any] = {"customer_key": identity.key}
    for response in responses:
        body = response.get("body") or {}
        if isinstance(body, dict) and body.get("id"):
            ids.append(body["id"])
            details[f"{response['referenceId']}_id"] = body["id"]
            details[f"{response['referenceId']}_created"] = bool(body.get("created", response["httpStatusCode"] == 201))
    return HandlerResult("CUSTOMER_SYNC", str(customer_id), ids, details)


def _event_customer_id(event: WebhookEvent) -> int:
    data = (event.body or {}).get("data") or {}
    address = data.get("address")
    if isinstance(address, dict) and address.get("customer_id"):
        return int(address["customer_id"])
    return int(event.resource_id)


@handler_register(*CUSTOMER_SCOPES)
def customer_event_handle(event: WebhookEvent) -> HandlerResult:
    """store/customer/*: bring the customer's Account and Contact up to date."""
    return customer_sync(store=event.store, customer_id=_event_customer_id(event))
