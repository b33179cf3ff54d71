"""Lead statuses and lead conversion (the SOAP API's ``convertLead``), as a real org does them.

Facts (SOAP API Developer Guide, "convertLead()" and "LeadConvert"; Object Reference, "LeadStatus",
"Lead"): a lead is converted only by ``convertLead``; the converted status must be a LeadStatus
with ``IsConverted = true``; an Account and a Contact are created unless given, an Opportunity
unless ``doNotCreateOpportunity`` (named after the lead's company unless ``opportunityName``); the
lead then has ``IsConverted``, ``ConvertedAccountId``, ``ConvertedContactId``,
``ConvertedOpportunityId`` and ``ConvertedDate`` and can no longer be updated
(``CANNOT_UPDATE_CONVERTED_LEAD``). The user needs the Convert Leads permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.salesforce.errors import ApiError, DmlError
from sandbox.salesforce.ids import id_normalize
from sandbox.salesforce.permissions import user_has
from sandbox.salesforce.schema import LEAD_STATUSES

if TYPE_CHECKING:
    from sandbox.salesforce.store import Org

CONVERTED_LEAD_STATUSES = {"Closed - Converted"}
# Lead field -> Account / Contact field copied on conversion (the standard lead field mapping).
_ACCOUNT_FROM_LEAD = {
    "Company": "Name",
    "Street": "BillingStreet",
    "City": "BillingCity",
    "State": "BillingState",
    "PostalCode": "BillingPostalCode",
    "Country": "BillingCountry",
    "Phone": "Phone",
    "Website": "Website",
    "Industry": "Industry",
    "NumberOfEmployees": "NumberOfEmployees",
    "LeadSource": "AccountSource",
}
_CONTACT_FROM_LEAD = {
    "FirstName": "FirstName",
    "LastName": "LastName",
    "Title": "Title",
    "Email": "Email",
    "Phone": "Phone",
    "MobilePhone": "MobilePhone",
    "Street": "MailingStreet",
    "City": "MailingCity",
    "State": "MailingState",
    "PostalCode": "MailingPostalCode",
    "Country": "MailingCountry",
    "LeadSource": "LeadSource",
    "Description": "Description",
    "HasOptedOutOfEmail": "HasOptedOutOfEmail",
}


@dataclass
class LeadConvert:
    """One ``leadConverts`` element of a convertLead call."""

    lead_id: str
    converted_status: str | None = None
    account_id: str | None = None
    contact_id: str | None = None
    owner_id: str | None = None
    opportunity_name: str | None = None
    do_not_create_opportunity: bool = False
    overwrite_lead_source: bool = False
    send_notification_email: bool = False


def lead_statuses_seed(org: Org) -> None:
    """The org's LeadStatus values: the Lead Status picklist, "Closed - Converted" the converted one."""
    for position, label in enumerate(LEAD_STATUSES, start=1):
        org.seed(
            "LeadStatus",
            MasterLabel=label,
            ApiName=label,
            SortOrder=position,
            IsDefault=position == 1,
            IsConverted=label in CONVERTED_LEAD_STATUSES,
        )


def converted_statuses(org: Org) -> set[str]:
    """The status values whose LeadStatus has ``IsConverted = true``, case-folded."""
    return {row["MasterLabel"].casefold() for row in org.live.get("LeadStatus", {}).values() if row.get("IsConverted")}


def lead_update_check(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    """A converted lead cannot change; a converted status is not set by a plain create or update."""
    if not org.rules.get("lead_conversion", True):
        return
    if old is not None and old.get("IsConverted"):
        raise DmlError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    status = record.get("Status")
    changed = old is None or status != old.get("Status")
    if "Status" in given and changed and isinstance(status, str) and status.casefold() in converted_statuses(org):
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            f"Lead Status: {status} is a converted status; a lead is converted only by convertLead",
            ["Status"],
        )


def lead_convert(org: Org, request: LeadConvert, *, today: str) -> dict[str, Any]:
    """Convert one lead (DML errors raise; the caller rolls back); the LeadConvertResult's ids."""
    if not user_has(org, "ConvertLeads"):
        raise DmlError("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id", [])
    lead = _existing(org, "Lead", request.lead_id, "leadId")
    if lead.get("IsConverted"):
        raise DmlError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])
    status = request.converted_status or ""
    if status.casefold() not in converted_statuses(org):
        raise DmlError("INVALID_STATUS", f"invalid convertedStatus: {status}", [])
    if request.contact_id and not request.account_id:
        raise DmlError("FIELD_INTEGRITY_EXCEPTION", "accountId: required when a contactId is given", [])
    if request.overwrite_lead_source and not request.contact_id:
        raise DmlError("FIELD_INTEGRITY_EXCEPTION", "overwriteLeadSource: requires a contactId", [])
    owner = {"OwnerId": request.owner_id} if request.owner_id else {}
    if request.account_id:
        account_id = _existing(org, "Account", request.account_id, "accountId")["Id"]
    else:
        account_id = org.create("Account", {**_copied(lead, _ACCOUNT_FROM_LEAD), **owner})
    if request.contact_id:
        contact = _existing(org, "Contact", request.contact_id, "contactId")
        if contact.get("AccountId") != account_id:
            raise DmlError(
                "FIELD_INTEGRITY_EXCEPTION", "contactId: the contact does not belong to the account accountId", []
            )
        contact_id = contact["Id"]
        if request.overwrite_lead_source:
            org.update("Contact", contact_id, {"LeadSource": lead.get("LeadSource")})
    else:
        fields = {**_copied(lead, _CONTACT_FROM_LEAD), "AccountId": account_id, **owner}
        contact_id = org.create("Contact", fields)
    opportunity_id = None
    if not request.do_not_create_opportunity:
        opportunity = {
            "Name": request.opportunity_name or lead.get("Company"),
            "AccountId": account_id,
            "StageName": org.schema["Opportunity"].fields["StageName"].picklist[0],
            "CloseDate": today,
            "LeadSource": lead.get("LeadSource"),
            **owner,
        }
        opportunity_id = org.create("Opportunity", opportunity)
    org.seed_update(
        "Lead",
        lead["Id"],
        {
            "Status": _status_label(org, status),
            "IsConverted": True,
            "ConvertedDate": today,
            "ConvertedAccountId": account_id,
            "ConvertedContactId": contact_id,
            "ConvertedOpportunityId": opportunity_id,
        },
    )
    return {"accountId": account_id, "contactId": contact_id, "leadId": lead["Id"], "opportunityId": opportunity_id}


def _existing(org: Org, sobject: str, record_id: str | None, argument: str) -> dict[str, Any]:
    normalized = id_normalize(record_id) if record_id else None
    if normalized is None:
        raise DmlError("MALFORMED_ID", f"{argument}: id value of incorrect type: {record_id}", [])
    found = org.get(normalized)
    if found is None or found[0] != sobject:
        raise DmlError("INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {argument}", [])
    return found[1]


def _copied(lead: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    return {target: lead[source] for source, target in mapping.items() if lead.get(source) not in (None, "")}


def _status_label(org: Org, status: str) -> str:
    for row in org.live.get("LeadStatus", {}).values():
        label: str = row["MasterLabel"]
        if label.casefold() == status.casefold():
            return label
    raise ApiError(400, "INVALID_STATUS", f"invalid convertedStatus: {status}")
