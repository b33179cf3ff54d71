"""Rule ``lead_conversion``: a lead is converted only by the SOAP API's convertLead; a converted lead can
no longer be updated (CANNOT_UPDATE_CONVERTED_LEAD), and a converted status set by a plain create or update
is refused. The SOAP endpoint itself (``/services/Soap/u|c/{version}``) is always there."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import pytest

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER = "urn:partner.soap.sforce.com"
ENTERPRISE = "urn:enterprise.soap.sforce.com"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def _envelope(session_id, converts, namespace=PARTNER):
    parts = []
    for convert in converts:
        fields = "".join(f"<urn:{name}>{escape(str(value))}</urn:{name}>" for name, value in convert.items())
        parts.append(f"<urn:leadConverts>{fields}</urn:leadConverts>")
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:urn="{namespace}">'
        f"<soapenv:Header><urn:SessionHeader><urn:sessionId>{escape(session_id)}</urn:sessionId>"
        "</urn:SessionHeader></soapenv:Header>"
        f"<soapenv:Body><urn:convertLead>{''.join(parts)}</urn:convertLead></soapenv:Body></soapenv:Envelope>"
    )


def _convert(client, converts, *, session_id=None, kind="u", namespace=PARTNER):
    body = _envelope(client.token if session_id is None else session_id, converts, namespace)
    return client.session.post(
        f"{client.url}/services/Soap/{kind}/62.0",
        data=body.encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""'},
        timeout=10,
    )


def _results(answer, namespace=PARTNER):
    """The LeadConvertResults as dicts (``None`` for xsi:nil, errors as a list of dicts)."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(answer.content)
    response = root.find(f"{{{SOAP_ENV}}}Body/{{{namespace}}}convertLeadResponse")
    assert response is not None, answer.text
    out = []
    for result in response.findall(f"{{{namespace}}}result"):
        row = {}
        for child in result:
            name = child.tag.split("}", 1)[1]
            if name == "errors":
                row.setdefault("errors", []).append({item.tag.split("}", 1)[1]: item.text for item in child})
            else:
                row[name] = None if child.get(XSI_NIL) == "true" else child.text
        out.append(row)
    return out


@pytest.fixture
def lead(salesforce_sandbox):
    return salesforce_sandbox.app.record_create(
        "Lead",
        {
            "LastName": "Shopper",
            "FirstName": "Ann",
            "Company": "Ann's Shop",
            "Email": "ann@example.com",
            "LeadSource": "Abandoned Cart",
            "City": "Lyon",
        },
    )


def test_convert_into_existing_account_and_contact(salesforce_sandbox, salesforce_client, lead):
    app = salesforce_sandbox.app
    account = app.record_create("Account", {"Name": "Ann Shopper"})
    contact = app.record_create("Contact", {"LastName": "Shopper", "AccountId": account})
    counted = app.api_calls_counted()
    answer = _convert(
        salesforce_client,
        [
            {
                "leadId": lead,
                "accountId": account,
                "contactId": contact,
                "convertedStatus": "Closed - Converted",
                "doNotCreateOpportunity": "true",
                "overwriteLeadSource": "false",
                "sendNotificationEmail": "false",
            }
        ],
    )
    assert _results(answer) == [
        {
            "accountId": account,
            "contactId": contact,
            "leadId": lead,
            "opportunityId": None,
            "success": "true",
        }
    ]
    assert app.api_calls_counted() == counted + 1
    stored = app.record("Lead", lead)
    assert stored["IsConverted"] is True
    assert (stored["ConvertedAccountId"], stored["ConvertedContactId"], stored["ConvertedOpportunityId"]) == (
        account,
        contact,
        None,
    )
    assert stored["ConvertedDate"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert stored["Status"] == "Closed - Converted"
    assert app.records("Opportunity") == []
    assert len(app.records("Account")) == 1 and len(app.records("Contact")) == 1

    # A converted lead is frozen, and cannot be converted twice.
    update = salesforce_client.patch(f"sobjects/Lead/{lead}", json={"Email": "new@example.com"})
    assert (update.status_code, update.json()) == (
        400,
        [{"message": "cannot reference converted lead", "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD", "fields": []}],
    )
    again = _results(_convert(salesforce_client, [{"leadId": lead, "convertedStatus": "Closed - Converted"}]))
    assert again[0]["success"] == "false"
    assert again[0]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_convert_creates_account_contact_and_opportunity(salesforce_sandbox, salesforce_client, lead):
    app = salesforce_sandbox.app
    answer = _convert(
        salesforce_client,
        [{"leadId": lead, "convertedStatus": "Closed - Converted", "opportunityName": "Cart 42"}],
        kind="c",
        namespace=ENTERPRISE,
    )
    [result] = _results(answer, ENTERPRISE)
    assert result["success"] == "true"
    account = app.record("Account", result["accountId"])
    contact = app.record("Contact", result["contactId"])
    opportunity = app.record("Opportunity", result["opportunityId"])
    assert (account["Name"], account["BillingCity"]) == ("Ann's Shop", "Lyon")
    assert (contact["FirstName"], contact["LastName"], contact["Email"], contact["AccountId"]) == (
        "Ann",
        "Shopper",
        "ann@example.com",
        account["Id"],
    )
    assert (opportunity["Name"], opportunity["AccountId"], opportunity["LeadSource"]) == (
        "Cart 42",
        account["Id"],
        "Abandoned Cart",
    )
    assert app.record("Lead", lead)["ConvertedOpportunityId"] == opportunity["Id"]


def test_conversion_errors_leave_nothing_behind(salesforce_sandbox, salesforce_client, lead):
    app = salesforce_sandbox.app
    other = app.record_create("Lead", {"LastName": "Other", "Company": "Other Co"})
    answer = _convert(
        salesforce_client,
        [
            {"leadId": lead, "convertedStatus": "Working - Contacted"},  # not a converted status
            {"leadId": other, "convertedStatus": "Closed - Converted", "doNotCreateOpportunity": "true"},
        ],
    )
    first, second = _results(answer)
    assert first["success"] == "false" and first["accountId"] is None
    assert first["errors"] == [
        {"message": "invalid convertedStatus: Working - Contacted", "statusCode": "INVALID_STATUS"}
    ]
    assert second["success"] == "true"  # each conversion stands on its own
    assert app.record("Lead", lead)["IsConverted"] is False
    assert [row["Name"] for row in app.records("Account")] == ["Other Co"]

    app.user_permissions_set(ConvertLeads=False)
    refused = _results(_convert(salesforce_client, [{"leadId": lead, "convertedStatus": "Closed - Converted"}]))
    assert refused[0]["errors"][0]["statusCode"] == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert app.record("Lead", lead)["IsConverted"] is False


def test_bad_session_and_unknown_operation_are_soap_faults(salesforce_sandbox, salesforce_client, lead):
    app = salesforce_sandbox.app
    counted = app.api_calls_counted()
    answer = _convert(salesforce_client, [{"leadId": lead, "convertedStatus": "Closed - Converted"}], session_id="x")
    assert answer.status_code == 500
    root = ET.fromstring(answer.content)
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault.findtext("faultcode") == "sf:INVALID_SESSION_ID"
    assert fault.findtext("faultstring").startswith("INVALID_SESSION_ID: Invalid Session ID found in SessionHeader")
    detail = fault.find("detail/{urn:fault.partner.soap.sforce.com}UnexpectedErrorFault")
    assert detail.findtext("{urn:fault.partner.soap.sforce.com}exceptionCode") == "INVALID_SESSION_ID"
    assert app.api_calls_counted() == counted  # refused before counting
    assert app.record("Lead", lead)["IsConverted"] is False

    unknown = salesforce_client.session.post(
        f"{salesforce_client.url}/services/Soap/u/62.0",
        data=_envelope(salesforce_client.token, []).replace("convertLead", "mergeLead").encode(),
        headers={"Content-Type": "text/xml", "SOAPAction": '""'},
        timeout=10,
    )
    assert unknown.status_code == 500
    assert ET.fromstring(unknown.content).find(f".//{{{SOAP_ENV}}}Fault").findtext("faultcode") == "soapenv:Client"
    no_action = salesforce_client.session.post(
        f"{salesforce_client.url}/services/Soap/u/62.0",
        data=_envelope(salesforce_client.token, [{"leadId": lead, "convertedStatus": "Closed - Converted"}]).encode(),
        headers={"Content-Type": "text/xml"},
        timeout=10,
    )
    assert no_action.status_code == 500
    assert ET.fromstring(no_action.content).find(f".//{{{SOAP_ENV}}}Fault").findtext("faultstring") == (
        "No SOAPAction header!"
    )
    assert app.record("Lead", lead)["IsConverted"] is False


def test_converted_status_by_plain_write_is_refused(salesforce_client, lead):
    statuses = salesforce_client.get(
        "query", params={"q": "SELECT MasterLabel, IsConverted FROM LeadStatus ORDER BY SortOrder"}
    ).json()["records"]
    assert [(row["MasterLabel"], row["IsConverted"]) for row in statuses] == [
        ("Open - Not Contacted", False),
        ("Working - Contacted", False),
        ("Closed - Converted", True),
        ("Closed - Not Converted", False),
    ]
    expected = [
        {
            "message": "Lead Status: Closed - Converted is a converted status; a lead is converted only by convertLead",
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "fields": ["Status"],
        }
    ]
    update = salesforce_client.patch(f"sobjects/Lead/{lead}", json={"Status": "Closed - Converted"})
    assert (update.status_code, update.json()) == (400, expected)
    create = salesforce_client.post(
        "sobjects/Lead/", json={"LastName": "X", "Company": "Y", "Status": "Closed - Converted"}
    )
    assert (create.status_code, create.json()) == (400, expected)
    closed = salesforce_client.patch(f"sobjects/Lead/{lead}", json={"Status": "Closed - Not Converted"})
    assert closed.status_code == 204


def test_rule_off_plain_writes_of_converted_leads_pass(salesforce_sandbox, salesforce_client, lead):
    app = salesforce_sandbox.app
    switched = salesforce_client.session.post(
        f"{salesforce_client.url}/__sandbox__/rules", json={"lead_conversion": False}, timeout=10
    )
    assert switched.json()["lead_conversion"] is False
    assert salesforce_client.patch(f"sobjects/Lead/{lead}", json={"Status": "Closed - Converted"}).status_code == 204
    assert app.record("Lead", lead)["IsConverted"] is False  # a status is still no conversion
    [result] = _results(
        _convert(
            salesforce_client, [{"leadId": lead, "convertedStatus": "Closed - Converted", "doNotCreateOpportunity": 1}]
        )
    )
    assert result["success"] == "true"
    assert salesforce_client.patch(f"sobjects/Lead/{lead}", json={"Email": "new@example.com"}).status_code == 204
