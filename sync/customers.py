"""Customers → Salesforce Account + Contact, shared by the customer handler, order sync and cart recovery.

A customer is identified by one external id VALUE used on both the Account and the
Contact (``BigCommerceCustomerId__c``): ``{hash}:{customer_id}`` for a registered
customer, ``{hash}:guest:{digest}`` for a guest (the first 32 hex digits of the SHA-256
of the lower-cased email: one per store and email, and never ending like a file
extension in an upsert URL, where ``….inc`` answers 404), and ``{hash}:guest-checkouts``
for orders with neither (one shared Account, no Contact). Field values come from the
admin-edited mappings.

Adoption: a CRM usually holds the store's customers already, without b2s's external id.
Before b2s writes a customer it has not seen (no ``CustomerLink``), ``customers_match``
looks for them by email along the admin's ``customer_match_rules`` (Contact, Lead,
Person Account; one composite request of queries per 100 customers), and the writes
that follow upsert the match by its Id with the external id in the body, so it carries
the value from then on. The link is remembered once Salesforce answered, so later
orders ask nothing more.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.core.cache import cache
from django.utils import timezone

from sync.bigcommerce import bigcommerce_client
from sync.config import config
from sync.handlers import HandlerResult, SkipEvent, SyncResult, handler_register
from sync.mapping import mappings_apply
from sync.models import CustomerLink, KnownCustomer, WebhookEvent
from sync.salesforce import (
    SalesforceError,
    chunks_bounded,
    error_from_body,
    salesforce_client,
    salesforce_data_path,
    soql_quote,
)

if TYPE_CHECKING:
    from sync.models import Store
    from sync.salesforce import SalesforceClient

logger = logging.getLogger(__name__)

EXTERNAL_ID_FIELD = "BigCommerceCustomerId__c"
CUSTOMER_SCOPES = (
    "store/customer/created",
    "store/customer/updated",
    "store/customer/address/created",
    "store/customer/address/updated",
    "store/customer/address/deleted",
)


# Admin setting: which existing records a customer not seen before is matched to, in order.
MATCH_RULES_SETTING = "customer_match_rules"
MATCH_CONTACT, MATCH_LEAD, MATCH_PERSON_ACCOUNT = "contact", "lead", "person_account"
MATCH_RULES = (MATCH_CONTACT, MATCH_LEAD, MATCH_PERSON_ACCOUNT)
MATCH_CHUNK = 100  # emails per IN (...) list, to keep the query URL short ...
MATCH_CHUNK_URL_CHARS = 8000  # ... and at most this many URL-encoded characters of them (Salesforce takes ~16 KB)
COMPOSITE_QUERIES_MAX = 5  # query subrequests Salesforce takes in one composite request
GUEST_DIGEST_LENGTH = 32
LEAD_STATUS_CACHE_SECONDS = 24 * 3600
_GUEST_DIGEST = re.compile(rf"[0-9a-f]{{{GUEST_DIGEST_LENGTH}}}")


@dataclass(frozen=True)
class CustomerIdentity:
    """Who an Account/Contact pair stands for."""

    key: str  # the Account & Contact external id VALUE
    kind: str  # "registered" | "guest" | "guest_account"
    email: str  # lower-cased, "" when none

    @property
    def legacy_key(self) -> str:
        """The value older versions gave this guest (``{hash}:guest:{email}``); "" for others.

        A record carrying it is this guest's: it is adopted as if it carried no value.
        """
        if self.kind != "guest":
            return ""
        return f"{self.key.rsplit(':guest:', 1)[0]}:guest:{self.email}"


def guest_key_value(email: str) -> str:
    """The store-local part of a guest's external id: ``guest:`` and a digest of the lower-cased email.

    Hex digits only, so the value never ends like a file extension in a URL, nor shows the email.
    """
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:GUEST_DIGEST_LENGTH]
    return f"guest:{digest}"


def guest_key_upgrade(value: str) -> str:
    """An old ``{hash}:guest:{email}`` value as today's ``{hash}:guest:{digest}``; any other value as it is."""
    head, separator, email = value.partition(":guest:")
    if not separator or not email or _GUEST_DIGEST.fullmatch(email):
        return value
    return f"{head}:{guest_key_value(email)}"


def customer_identity(*, store: Store, customer_id: int, email: str) -> CustomerIdentity:
    """The identity of a registered customer (id > 0), a guest (by email) or the shared guest account."""
    email = (email or "").strip().lower()
    if customer_id and int(customer_id) > 0:
        return CustomerIdentity(store.external_id(int(customer_id)), "registered", email)
    if email:
        return CustomerIdentity(store.external_id(guest_key_value(email)), "guest", email)
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


def customer_documents(*, store: Store, customer_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Registered customers' documents: remembered ones, the rest in one ``/v3/customers`` request.

    A remembered document is fetched again when a ``store/customer/*`` webhook for that
    customer arrived after it was fetched.
    """
    wanted = {int(value) for value in customer_ids if int(value) > 0}
    if not wanted:
        return {}
    documents: dict[int, dict[str, Any]] = {}
    for known in KnownCustomer.objects.filter(store=store, customer_id__in=wanted):
        newer = WebhookEvent.objects.filter(
            store=store,
            scope__startswith="store/customer/",
            resource_id=str(known.customer_id),
            received_at__gte=known.fetched_at,
        ).exists()
        if not newer:
            documents[known.customer_id] = known.document
    missing = sorted(wanted - set(documents))
    if missing:
        fetched_at = timezone.now()  # before the request: an update arriving meanwhile triggers a refetch
        for customer_id, customer in bigcommerce_client(store).customers_get(missing).items():
            document = customer_document_from_customer(customer)
            KnownCustomer.objects.update_or_create(
                store=store, customer_id=customer_id, defaults={"document": document, "fetched_at": fetched_at}
            )
            documents[customer_id] = document
    return documents


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


def adopt_url(sobject: str, record_id: str) -> str:
    """The upsert-by-Id URL of an existing record: like an update, but it answers the id for references."""
    return salesforce_data_path(f"sobjects/{sobject}/Id/{record_id}")


# --------------------------------------------------------------------------------------------
# Adoption of existing CRM records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerMatch:
    """What Salesforce already holds for a customer: remembered (``adopt`` False) or just found by email."""

    matched: str  # a CustomerLink.Matched value
    account_id: str = ""
    contact_id: str = ""
    lead_id: str = ""
    keep_contact_account: bool = False  # the Contact's Account is another customer's: leave the Contact there
    person_account: bool = False  # the Account is a Person Account: no separate Contact
    adopt: bool = False  # first time: write by Id, with the external id in the body
    alias_of: str = ""  # a guest who is this registered customer of the store: use that customer's records
    guest_key: str = ""  # with alias_of: the guest's own key; else a guest key whose records this customer took


def match_rules_parse(value: str) -> tuple[str, ...]:
    """The admin's ``customer_match_rules`` as an ordered tuple of known rules (unknown names ignored)."""
    rules = [item.strip() for item in (value or "").split(",")]
    return tuple(dict.fromkeys(rule for rule in rules if rule in MATCH_RULES))


def _adoptable(value: Any, identity: CustomerIdentity) -> bool:
    """A record b2s may take for this customer: no external id yet, this customer's, its old guest value,
    or, for a registered customer, the records b2s made when they checked out as a guest (same email)."""
    return not value or value in (identity.key, identity.legacy_key, _own_guest_key(identity))


def _own_guest_key(identity: CustomerIdentity) -> str:
    """The key the registered customer's guest checkouts had (same email); "" for others."""
    if identity.kind != "registered" or not identity.email:
        return ""
    return f"{identity.key.rsplit(':', 1)[0]}:{guest_key_value(identity.email)}"


def customer_match_pick(
    *, identity: CustomerIdentity, rules: Iterable[str], found: dict[str, list[dict[str, Any]]]
) -> CustomerMatch | None:
    """The first adoptable record along ``rules``; ``found``: rule → that email's records, oldest first.

    A Contact already carrying this customer's value comes before older ones without a value. A
    Contact whose Account carries another customer's value is adopted, but stays under that Account
    (b2s neither takes the Account from its customer nor moves a Contact someone placed).
    """
    for rule in rules:
        records = found.get(rule) or []
        if rule == MATCH_CONTACT and identity.kind == "guest":
            # A guest checkout of a registered customer (same email): the same person, the customer's records.
            registered = _registered_value(identity)
            for contact in records:
                value = str(contact.get(EXTERNAL_ID_FIELD) or "")
                if registered.fullmatch(value):
                    return CustomerMatch(MATCH_CONTACT, alias_of=value, guest_key=identity.key, adopt=True)
        if rule == MATCH_CONTACT:
            candidates = sorted(records, key=lambda record: record.get(EXTERNAL_ID_FIELD) != identity.key)
            for contact in candidates:
                if not _adoptable(contact.get(EXTERNAL_ID_FIELD), identity):
                    continue
                account_id = str(contact.get("AccountId") or "")
                account_value = (contact.get("Account") or {}).get(EXTERNAL_ID_FIELD)
                shared = bool(account_id) and not _adoptable(account_value, identity)
                guest = _own_guest_key(identity)
                return CustomerMatch(
                    MATCH_CONTACT,
                    account_id="" if shared else account_id,
                    contact_id=str(contact["Id"]),
                    keep_contact_account=shared,
                    adopt=True,
                    guest_key=guest if guest and contact.get(EXTERNAL_ID_FIELD) == guest else "",
                )
        elif rule == MATCH_PERSON_ACCOUNT:
            for account in records:
                if _adoptable(account.get(EXTERNAL_ID_FIELD), identity):
                    return CustomerMatch(
                        MATCH_PERSON_ACCOUNT,
                        account_id=str(account["Id"]),
                        contact_id=str(account.get("PersonContactId") or ""),
                        person_account=True,
                        adopt=True,
                    )
        elif rule == MATCH_LEAD and records:
            # A Lead is no Account: the customer's Account and Contact are created, the Lead is remembered.
            return CustomerMatch(CustomerLink.Matched.LEAD, lead_id=str(records[0]["Id"]), adopt=True)
    return None


def _registered_value(identity: CustomerIdentity) -> re.Pattern[str]:
    """A registered customer's external id value in the identity's store (``{hash}:{digits}``)."""
    store_hash = identity.key.rsplit(":guest:", 1)[0]
    return re.compile(rf"{re.escape(store_hash)}:\d+")


def customer_identity_resolved(identity: CustomerIdentity, match: CustomerMatch | None) -> CustomerIdentity:
    """The identity the records are written under: a guest who is a registered customer becomes that customer."""
    if match is None or not match.alias_of:
        return identity
    return CustomerIdentity(match.alias_of, "registered", identity.email)


def _match_soql(rule: str, emails: list[str], person_accounts: bool) -> str:
    listed = ", ".join(soql_quote(email) for email in emails)
    # Every value is a quoted, escaped SOQL literal (soql_quote); the names are constants.
    if rule == MATCH_CONTACT:
        people = " AND IsPersonAccount = false" if person_accounts else ""
        return (
            f"SELECT Id, Email, AccountId, {EXTERNAL_ID_FIELD}, Account.{EXTERNAL_ID_FIELD} FROM Contact "  # noqa: S608
            f"WHERE Email IN ({listed}){people} ORDER BY CreatedDate, Id"
        )
    if rule == MATCH_LEAD:
        return (
            f"SELECT Id, Email FROM Lead WHERE IsConverted = false AND Email IN ({listed}) "  # noqa: S608
            "ORDER BY CreatedDate, Id"
        )
    return (
        f"SELECT Id, PersonEmail, PersonContactId, {EXTERNAL_ID_FIELD} FROM Account "  # noqa: S608
        f"WHERE IsPersonAccount = true AND PersonEmail IN ({listed}) ORDER BY CreatedDate, Id"
    )


def _email_chunks(emails: list[str]) -> Iterable[list[str]]:
    """The emails in IN-list chunks: at most ``MATCH_CHUNK`` of them, and a bounded URL length (an email may
    be 254 characters)."""
    # Each literal's length in the query string, with the ", " between literals.
    return chunks_bounded(
        emails,
        max_items=MATCH_CHUNK,
        max_weight=MATCH_CHUNK_URL_CHARS,
        weight=lambda email: len(quote(soql_quote(email), safe="")) + 3,
    )


def _person_accounts(client: SalesforceClient) -> bool:
    """Whether the org has Person Accounts: Account then has ``PersonEmail`` (and ``IsPersonAccount``).

    Read from the field lengths every write fits its values to (the Account describe, cached per
    process and shared for a day), so detecting costs no request of its own.
    """
    return "personemail" in client.field_limits({"Account"}).get("Account", {})


def _matches_query(
    client: SalesforceClient, rules: tuple[str, ...], emails: list[str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """email → rule → records: every rule's query for 100 emails at a time, up to 5 queries a composite request."""
    person_accounts = _person_accounts(client)
    rules = tuple(rule for rule in rules if rule != MATCH_PERSON_ACCOUNT or person_accounts)
    queries = [(rule, _match_soql(rule, chunk, person_accounts)) for chunk in _email_chunks(emails) for rule in rules]
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for start in range(0, len(queries), COMPOSITE_QUERIES_MAX):
        group = queries[start : start + COMPOSITE_QUERIES_MAX]
        subrequests = [
            {"method": "GET", "url": client.url("query") + "?q=" + quote(soql), "referenceId": f"{rule}{index}"}
            for index, (rule, soql) in enumerate(group)
        ]
        responses = client.composite(subrequests, all_or_none=False)
        for (rule, _), response in zip(group, responses, strict=True):
            status = int(response.get("httpStatusCode") or 0)
            if status >= 400:
                error = error_from_body(response.get("body"), status=status)
                error.message = f"Looking for existing {rule} records by email failed: {error.message}"
                raise error
            body = response.get("body") or {}
            records = list(body.get("records") or [])
            while not body.get("done", True) and body.get("nextRecordsUrl"):
                body = client.request("GET", body["nextRecordsUrl"]) or {}
                records.extend(body.get("records") or [])
            for record in records:
                email = str(record.get("PersonEmail" if rule == MATCH_PERSON_ACCOUNT else "Email") or "").lower()
                found.setdefault(email, {}).setdefault(rule, []).append(record)
    return found


def _remembered(link: CustomerLink) -> CustomerMatch:
    return CustomerMatch(
        link.matched,
        account_id=link.account_id,
        contact_id=link.contact_id,
        lead_id=link.lead_id,
        keep_contact_account=link.keep_contact_account,
        person_account=link.person_account,
        alias_of=link.alias_of,
        guest_key=link.customer_key if link.alias_of else "",
    )


def customers_match(
    *, store: Store, client: SalesforceClient, identities: Iterable[CustomerIdentity]
) -> dict[str, CustomerMatch]:
    """customer key → what Salesforce holds for it: remembered links, else a match found by email.

    Customers b2s has not seen are looked up together (see ``_matches_query``): no request at all
    when every customer is remembered or has no email. A key absent from the answer has nothing in
    Salesforce yet: its records are created.
    """
    wanted = {identity.key: identity for identity in identities if identity.kind != "guest_account"}
    if not wanted:
        return {}
    matches = {
        link.customer_key: _remembered(link)
        for link in CustomerLink.objects.filter(store=store, customer_key__in=list(wanted))
    }
    unseen = [identity for key, identity in wanted.items() if key not in matches and identity.email]
    rules = match_rules_parse(config.setting(MATCH_RULES_SETTING))
    if not unseen or not rules:
        return matches
    found = _matches_query(client, rules, sorted({identity.email for identity in unseen}))
    for identity in unseen:
        match = customer_match_pick(identity=identity, rules=rules, found=found.get(identity.email, {}))
        if match is not None:
            matches[identity.key] = match
    return matches


def lead_converted_status(client: SalesforceClient) -> str:
    """The org's converted Lead status (``LeadStatus.IsConverted``), queried once a day."""
    key = f"b2s:salesforce:lead-converted-status:{client.conf['LOGIN_URL']}:{client.conf.get('USERNAME', '')}"
    status: str | None = cache.get(key)
    if not status:
        records = client.query(
            "SELECT MasterLabel FROM LeadStatus WHERE IsConverted = true ORDER BY SortOrder ASC LIMIT 1"
        )
        if not records:
            raise SalesforceError(
                "The org has no converted Lead status.", status=404, code="LEAD_CONVERTED_STATUS_MISSING"
            )
        status = str(records[0]["MasterLabel"])
        cache.set(key, status, LEAD_STATUS_CACHE_SECONDS)
    return status


def customers_leads_convert(*, client: SalesforceClient, matches: dict[str, CustomerMatch]) -> dict[str, CustomerMatch]:
    """Customers known only by a Lead, about to get an Account and Contact: the Lead is converted instead.

    A prospect who buys is what conversion is for, and a Contact created next to its Lead is what the
    standard Contact duplicate rule flags. SOAP ``convertLead`` (no Opportunity) makes the Account and
    Contact from the Lead, then the order adopts them (one request per such customer, once). A Lead that
    cannot be converted (converted meanwhile, a duplicate rule on conversion) is left as it is: the
    customer's records are then created as for anyone else.
    """
    converted: dict[str, CustomerMatch] = dict(matches)
    for key, match in matches.items():
        if match.matched != CustomerLink.Matched.LEAD or not match.lead_id or match.contact_id or match.alias_of:
            continue
        try:
            result = client.lead_convert(lead_id=match.lead_id, converted_status=lead_converted_status(client))
        except SalesforceError as error:
            if error.transient:
                raise
            logger.warning("Lead %s of %s not converted (%s): creating its records instead", match.lead_id, key, error)
            continue
        converted[key] = replace(match, account_id=result.account_id, contact_id=result.contact_id, adopt=True)
    return converted


def customer_link_remember(
    *,
    store: Store,
    key: str,
    match: CustomerMatch | None,
    account_id: str = "",
    contact_id: str = "",
    lead_id: str = "",
) -> None:
    """Remember what the customer has in Salesforce once a write succeeded, so the next order or cart of
    the customer needs no lookup. A remembered link changes only when a customer known by a Lead alone
    gets an Account or Contact."""
    lead_only = match is not None and match.matched == CustomerLink.Matched.LEAD and not match.contact_id
    if match is not None and not match.adopt and not (lead_only and (account_id or contact_id)):
        return
    match = match or CustomerMatch(CustomerLink.Matched.CREATED)
    if match.alias_of:
        # Remembered under the guest's own key: its next order resolves to the customer without a lookup.
        CustomerLink.objects.update_or_create(
            store=store,
            customer_key=match.guest_key,
            defaults={"matched": match.matched, "alias_of": match.alias_of, "contact_id": contact_id},
        )
        return
    if match.guest_key:
        # The customer took the records of their own guest checkouts: the guest's next order comes here.
        CustomerLink.objects.update_or_create(
            store=store, customer_key=match.guest_key, defaults={"matched": match.matched, "alias_of": key}
        )
    matched = match.matched
    if lead_only and (account_id or contact_id):
        matched = CustomerLink.Matched.CREATED  # the Lead stays remembered, next to the new Account and Contact
    CustomerLink.objects.update_or_create(
        store=store,
        customer_key=key,
        defaults={
            "matched": matched,
            "account_id": account_id or match.account_id,
            "contact_id": contact_id or match.contact_id,
            "lead_id": lead_id or match.lead_id,
            "keep_contact_account": match.keep_contact_account,
            "person_account": match.person_account,
        },
    )


def account_contact_subrequests(
    *,
    store: Store,
    identity: CustomerIdentity,
    document: dict,
    account_extra: dict | None = None,
    match: CustomerMatch | None = None,
) -> list[dict]:
    """Composite subrequests upserting the Account (``account``) and, for people, the Contact (``contact``).

    ``match`` (``customers_match``): records found by email are written by Id with the external id
    in the body (adopted); a Person Account has no separate Contact; a Contact whose Account is
    another customer's keeps it.
    """
    match = match or CustomerMatch(CustomerLink.Matched.CREATED)
    if identity.kind == "guest_account":
        # One Account shared by every anonymous order: no one guest's phone or address on it.
        account: dict[str, Any] = {"Name": config.setting("guest_account_name")}
    else:
        account = _mapped("Account", document, store)
    if not account.get("Name"):
        account["Name"] = identity.email or identity.key
    account.update(account_extra or {})
    account_url = upsert_url("Account", identity.key)
    if match.adopt and match.account_id:
        account_url = adopt_url("Account", match.account_id)
        account[EXTERNAL_ID_FIELD] = identity.key
    subrequests = [{"method": "PATCH", "url": account_url, "referenceId": "account", "body": account}]
    if identity.kind == "guest_account" or match.person_account:
        return subrequests
    contact = _mapped("Contact", document, store)
    adopt_contact = match.adopt and bool(match.contact_id)
    if not contact.get("LastName") and not adopt_contact:
        # LastName is required and must never be invented: without a name or an email there is no Contact.
        logger.info("No last name or email for %s: Account only", identity.key)
        return subrequests
    if identity.email and not contact.get("Email"):
        contact["Email"] = identity.email
    if not match.keep_contact_account:
        contact["AccountId"] = "@{account.id}"
    contact_url = upsert_url("Contact", identity.key)
    if adopt_contact:
        contact_url = adopt_url("Contact", match.contact_id)
        contact[EXTERNAL_ID_FIELD] = identity.key
    subrequests.append({"method": "PATCH", "url": contact_url, "referenceId": "contact", "body": contact})
    return subrequests


def customer_reference_subrequests(*, identity: CustomerIdentity, match: CustomerMatch) -> list[dict]:
    """Subrequests that only give the customer's existing Account (``account``) and Contact (``contact``)
    ids to later subrequests, changing none of their fields (a record found by email still gets the
    external id). For records a cart's Task points at: a cart knows less of a person than the CRM does.
    """
    account: dict[str, Any] = {}
    account_url = upsert_url("Account", identity.key)
    if match.adopt and match.account_id:
        account_url, account = adopt_url("Account", match.account_id), {EXTERNAL_ID_FIELD: identity.key}
    subrequests = [{"method": "PATCH", "url": account_url, "referenceId": "account", "body": account}]
    if match.person_account:
        return subrequests
    contact: dict[str, Any] = {}
    contact_url = upsert_url("Contact", identity.key)
    if match.adopt and match.contact_id:
        contact_url, contact = adopt_url("Contact", match.contact_id), {EXTERNAL_ID_FIELD: identity.key}
    subrequests.append({"method": "PATCH", "url": contact_url, "referenceId": "contact", "body": contact})
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
    client = salesforce_client()
    found = customers_match(store=store, client=client, identities=[identity])
    match = customers_leads_convert(client=client, matches=found).get(identity.key)
    subrequests = account_contact_subrequests(store=store, identity=identity, document=document, match=match)
    responses = _composite_with_retry(subrequests)
    ids: list[str] = []
    details: dict[str, Any] = {"customer_key": identity.key}
    for response in responses:
        body = response.get("body") or {}
        if isinstance(body, dict) and body.get("id"):
            ids.append(body["id"])
            details[f"{response['referenceId']}_id"] = body["id"]
            details[f"{response['referenceId']}_created"] = bool(body.get("created", response["httpStatusCode"] == 201))
    if match is not None and match.adopt:
        details["adopted"] = match.matched
    customer_link_remember(
        store=store,
        key=identity.key,
        match=match,
        account_id=details.get("account_id", ""),
        contact_id=details.get("contact_id", ""),
    )
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
