"""The standard duplicate rules of a production org (rule ``duplicate_rules``).

Every org ships three active duplicate rules (Salesforce Help, "Standard Duplicate Rules"), each with
action **Allow** and, on create, the operations **Alert** and **Report**; on edit only **Report**
(the rules' metadata: ``operationsOnInsert`` Alert + Report, ``operationsOnUpdate`` Report). Through
the API an alert is an error: a create that a rule flags fails with ``DUPLICATES_DETECTED`` unless the
request says ``Sforce-Duplicate-Rule-Header: allowSave=true`` (REST API 52.0 and later; every header
field defaults to false). An update never alerts, so it is never refused.

========================================  =========================================================
rule                                      compares the new record with
========================================  =========================================================
Standard_Account_Duplicate_Rule           Accounts (Standard_Account_Match_Rule_v1_0)
Standard_Contact_Duplicate_Rule           Contacts (Standard_Contact_Match_Rule_v1_1), Leads
                                          (Standard_Lead_Match_Rule_v1_0, Contact fields mapped)
Standard_Lead_Duplicate_Rule              Leads (Standard_Lead_Match_Rule_v1_0), Contacts
                                          (Standard_Contact_Match_Rule_v1_1, Lead fields mapped)
========================================  =========================================================

The matching equations are Salesforce's (Help, "Standard Account Matching Rule", "Standard Contact
Matching Rule and Standard Lead Matching Rule"); the fuzzy methods (Jaro-Winkler, metaphone, name
variants ...) are approximated: text is compared case-insensitively with surrounding and repeated
blanks ignored, a first name matches its initial, first and last names match when transposed, phone
numbers compare their digits. A blank field never matches, except a blank first name in a grouping
that has the email ("ignores blank fields when Email is included in field grouping").

The header applies to the request that carries it: a composite or graph subrequest takes it from its
own ``httpHeaders`` (only Accept, Authorization and Content-Type are documented as inherited from the
top-level request). Bulk API 2.0 ingest cannot carry it: duplicate rows fail with
``DUPLICATES_DETECTED:Use one of these records?:--``. Records created for test set-up (control API
``POST /__sandbox__/records/...``, ``app.record_create``) bypass the rules, as records an admin keyed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.salesforce.errors import DmlError

if TYPE_CHECKING:
    from sandbox.salesforce.schema import SObjectType
    from sandbox.salesforce.store import Org

ALERT_TEXT = "Use one of these records?"  # the standard rules' alert text
HEADER_MIN_VERSION = (52, 0)
ACCOUNT_MATCH_RULE = "Standard_Account_Match_Rule_v1_0"
CONTACT_MATCH_RULE = "Standard_Contact_Match_Rule_v1_1"
LEAD_MATCH_RULE = "Standard_Lead_Match_Rule_v1_0"
# object -> (duplicate rule, [(compared object, matching rule), ...])
STANDARD_RULES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "Account": ("Standard_Account_Duplicate_Rule", [("Account", ACCOUNT_MATCH_RULE)]),
    "Contact": ("Standard_Contact_Duplicate_Rule", [("Contact", CONTACT_MATCH_RULE), ("Lead", LEAD_MATCH_RULE)]),
    "Lead": ("Standard_Lead_Duplicate_Rule", [("Lead", LEAD_MATCH_RULE), ("Contact", CONTACT_MATCH_RULE)]),
}
DEFAULT_VERSION = "66.0"
_COMPANY_SUFFIXES = {"inc", "incorporated", "corp", "corporation", "co", "company", "llc", "ltd", "limited"}


@dataclass(frozen=True)
class Header:
    """``Sforce-Duplicate-Rule-Header`` of the request being handled (or the set-up bypass)."""

    allow_save: bool = False
    include_record_details: bool = False
    bypass: bool = False
    version: str = DEFAULT_VERSION


_HEADER: ContextVar[Header | None] = ContextVar("sforce_duplicate_rule_header", default=None)


def header_parse(text: str | None, version: str) -> Header:
    """``allowSave=true; includeRecordDetails=true; runAsCurrentUser=true`` -> Header (ignored before 52.0)."""
    fields: dict[str, bool] = {}
    if text and _version_key(version) >= HEADER_MIN_VERSION:
        for part in re.split(r"[;,]", text):
            name, _, value = part.partition("=")
            fields[name.strip().lower()] = value.strip().lower() == "true"
    return Header(
        allow_save=fields.get("allowsave", False),
        include_record_details=fields.get("includerecorddetails", False),
        version=version,
    )


@contextmanager
def header_applied(header: Header) -> Iterator[None]:
    """Writes inside the block follow ``header`` (the innermost block wins: headers are not inherited)."""
    token = _HEADER.set(header)
    try:
        yield
    finally:
        _HEADER.reset(token)


def bypassed() -> Any:
    """Writes inside the block are not checked (records of a test set-up, as if keyed in by an admin)."""
    return header_applied(Header(bypass=True))


def duplicates_check(org: Org, obj: SObjectType, record: dict[str, Any]) -> None:
    """Raise DUPLICATES_DETECTED when the standard rule of ``obj`` flags the record about to be created."""
    rule = STANDARD_RULES.get(obj.name)
    header = _HEADER.get() or Header()
    if rule is None or header.bypass or header.allow_save:
        return
    rule_name, match_rules = rule
    match_results = []
    for compared, match_rule in match_rules:
        if compared not in org.schema:
            continue
        found = _matches(org, obj.name, record, compared)
        if found:
            match_results.append(
                {
                    "entityType": compared,
                    "errors": [],
                    "matchEngine": "FuzzyMatchEngine",
                    "matchRecords": [
                        {
                            "additionalInformation": [],
                            "fieldDiffs": [],
                            "matchConfidence": 100.0,
                            "record": _record_out(org, compared, other, header),
                        }
                        for other in found
                    ],
                    "rule": match_rule,
                    "size": len(found),
                    "success": True,
                }
            )
    if not match_results:
        return
    error = DmlError("DUPLICATES_DETECTED", ALERT_TEXT, [])
    # Salesforce's REST answer spells the key "duplicateResut" (sic) and gives no "fields".
    error.errors = [
        {
            "duplicateResut": {
                "allowSave": True,
                "duplicateRule": rule_name,
                "duplicateRuleEntityType": obj.name,
                "errorMessage": ALERT_TEXT,
                "matchResults": match_results,
            },
            "errorCode": "DUPLICATES_DETECTED",
            "message": ALERT_TEXT,
        }
    ]
    raise error


# --------------------------------------------------------------------- matching


def _matches(org: Org, sobject: str, record: dict[str, Any], compared: str) -> list[dict[str, Any]]:
    """Live records of ``compared`` that the matching rule pairs with ``record``, oldest first."""
    new = _view(org, sobject, record)
    found: dict[str, dict[str, Any]] = {}
    for candidate in _candidates(org, compared, new):
        if candidate["Id"] == record.get("Id"):
            continue
        other = _view(org, compared, candidate)
        if _account_match(new, other) if sobject == "Account" else _person_match(new, other):
            found[candidate["Id"]] = candidate
    return sorted(found.values(), key=lambda item: (item.get("CreatedDate") or "", item["Id"]))


def _candidates(org: Org, compared: str, new: dict[str, str]) -> list[dict[str, Any]]:
    """Records that could match: every equation needs the (last) name, so look those up by index."""
    obj = org.schema[compared]
    if compared == "Account":
        return org.match(compared, obj.fields["Name"], new["name"]) if new["name"] else []
    # Same last name, or first and last name transposed.
    lookups = [("LastName", new["last"]), ("FirstName", new["last"]), ("LastName", new["first"])]
    out: list[dict[str, Any]] = []
    for name, key in lookups:
        field = obj.field(name)
        if key and field is not None:
            out.extend(org.match(compared, field, key))
    return out


def _view(org: Org, sobject: str, record: dict[str, Any]) -> dict[str, str]:
    """The fields the matching equations use, normalized; Contact fields mapped to Lead's and back."""
    if sobject == "Account":
        return {
            "name": _text(record.get("Name")),
            "street": _text(record.get("BillingStreet")),
            "city": _text(record.get("BillingCity")),
            "zip": _text(record.get("BillingPostalCode")),
            "phone": _phone(record.get("Phone")),
        }
    contact = sobject == "Contact"
    company: Any = record.get("Company")
    if contact:
        account = org.live.get("Account", {}).get(record.get("AccountId") or "")
        company = account.get("Name") if account else None
    return {
        "first": _text(record.get("FirstName")),
        "last": _text(record.get("LastName")),
        "email": _text(record.get("Email")),
        "phone": _phone(record.get("Phone")),
        "title": _text(record.get("Title")),
        "company": _company(company),
        "street": _text(record.get("MailingStreet" if contact else "Street")),
        "city": _text(record.get("MailingCity" if contact else "City")),
        "zip": _text(record.get("MailingPostalCode" if contact else "PostalCode")),
    }


def _account_match(new: dict[str, str], other: dict[str, str]) -> bool:
    """(Name AND Billing Street) OR (Name AND City AND ZIP) OR (Name AND Phone)."""
    if not _same(new["name"], other["name"]):
        return False
    city_zip = _same(new["city"], other["city"]) and _same(new["zip"], other["zip"])
    return _same(new["street"], other["street"]) or city_zip or _same(new["phone"], other["phone"])


def _person_match(new: dict[str, str], other: dict[str, str]) -> bool:
    """The standard Contact / Lead matching equation.

    (First AND Last AND Title AND Company) OR (First AND Last AND Email) OR (First AND Last AND Phone
    AND Company) OR (First AND Last AND Street AND (City OR ZIP OR Phone)) OR (First AND Last AND Street
    AND Title) OR (First AND Last AND Title AND Email) OR (First AND Last AND Phone).
    """
    straight = _first_same(new["first"], other["first"]) and _same(new["last"], other["last"])
    transposed = _same(new["first"], other["last"]) and _same(new["last"], other["first"])
    names = straight or transposed
    # A blank first name is ignored in the groupings that include Email.
    names_with_email = names or ((not new["first"] or not other["first"]) and _same(new["last"], other["last"]))
    same = {key: _same(new[key], other[key]) for key in ("email", "phone", "title", "company", "street", "city", "zip")}
    if names_with_email and same["email"]:
        return True
    if not names:
        return False
    return (
        (same["title"] and same["company"])
        or (same["phone"] and same["company"])
        or (same["street"] and (same["city"] or same["zip"] or same["phone"]))
        or (same["street"] and same["title"])
        or same["phone"]
    )


def _same(left: str, right: str) -> bool:
    return bool(left) and left == right


def _first_same(left: str, right: str) -> bool:
    """Fuzzy first name: equal, or one is the other's initial ("J" or "J." for "John")."""
    if _same(left, right):
        return True
    if not left or not right:
        return False
    short, long = sorted((left.rstrip("."), right.rstrip(".")), key=len)
    return len(short) == 1 and long.startswith(short)


def _text(value: Any) -> str:
    return " ".join(str(value).split()).casefold() if value not in (None, "") else ""


def _company(value: Any) -> str:
    words = re.sub(r"[^\w\s]", " ", _text(value)).split()
    while len(words) > 1 and words[-1] in _COMPANY_SUFFIXES:
        words.pop()
    return " ".join(words)


def _phone(value: Any) -> str:
    digits = re.sub(r"\D", "", str(value or ""))
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def _record_out(org: Org, sobject: str, record: dict[str, Any], header: Header) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {"type": sobject, "url": f"/services/data/v{header.version}/sobjects/{sobject}/{record['Id']}"}
    }
    if header.include_record_details:
        out.update({name: record.get(name) for name in org.schema[sobject].fields})
    else:
        out["Id"] = record["Id"]
    return out


def _version_key(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return (0, 0)
