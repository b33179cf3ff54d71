"""The SOAP API's ``convertLead`` (``POST /services/Soap/u/{version}`` partner, ``/c/{version}`` enterprise).

Envelope, headers and faults as the SOAP API Developer Guide gives them: SOAP 1.1
(``http://schemas.xmlsoap.org/soap/envelope/``), the operation in the namespace
``urn:partner.soap.sforce.com`` (enterprise: ``urn:enterprise.soap.sforce.com``), the access token in
``<SessionHeader><sessionId>``; an answer carries ``<LimitInfoHeader>``; a fault is HTTP 500 with
``faultcode`` ``sf:CODE`` in ``urn:fault.partner.soap.sforce.com`` (enterprise
``urn:fault.enterprise.soap.sforce.com``). Only ``convertLead`` is emulated; any other operation is a
``soapenv:Client`` fault, as Salesforce answers an operation it does not know.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from sandbox.salesforce.leads import LeadConvert

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NAMESPACES = {"u": "urn:partner.soap.sforce.com", "c": "urn:enterprise.soap.sforce.com"}
FAULT_NAMESPACES = {"u": "urn:fault.partner.soap.sforce.com", "c": "urn:fault.enterprise.soap.sforce.com"}
XML_TYPE = "text/xml; charset=utf-8"
_LEAD_CONVERT_FIELDS = {
    "leadId": "lead_id",
    "convertedStatus": "converted_status",
    "accountId": "account_id",
    "contactId": "contact_id",
    "ownerId": "owner_id",
    "opportunityName": "opportunity_name",
    "doNotCreateOpportunity": "do_not_create_opportunity",
    "overwriteLeadSource": "overwrite_lead_source",
    "sendNotificationEmail": "send_notification_email",
}


@dataclass
class SoapRequest:
    """A parsed envelope: the session id, the operation's local name and its element."""

    session_id: str
    operation: str
    namespace: str
    body: ET.Element


class SoapFault(Exception):
    """A SOAP fault: ``faultcode`` (``sf:CODE`` or ``soapenv:Client``), its message, the fault type."""

    def __init__(self, code: str, message: str, fault_type: str | None = "UnexpectedErrorFault") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fault_type = fault_type


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def soap_parse(raw: bytes) -> SoapRequest:
    """Parse a request envelope; a malformed one is a ``soapenv:Client`` fault."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as error:
        raise SoapFault("soapenv:Client", f"Unable to parse the request: {error}", None) from None
    if _local(root.tag) != "Envelope" or _namespace(root.tag) != SOAP_ENV:
        raise SoapFault("soapenv:VersionMismatch", "Wrong SOAP envelope namespace or element", None)
    session_id = ""
    body: ET.Element | None = None
    for part in root:
        if _local(part.tag) == "Header":
            for header in part:
                if _local(header.tag) == "SessionHeader":
                    for child in header:
                        if _local(child.tag) == "sessionId":
                            session_id = (child.text or "").strip()
        elif _local(part.tag) == "Body":
            body = next(iter(part), None)
    if body is None:
        raise SoapFault("soapenv:Client", "Element {http://schemas.xmlsoap.org/soap/envelope/}Body is missing", None)
    return SoapRequest(session_id, _local(body.tag), _namespace(body.tag), body)


def lead_converts_parse(operation: ET.Element) -> list[LeadConvert]:
    """The ``leadConverts`` of a convertLead element (an unknown child is a fault, as Salesforce's parser)."""
    converts = []
    for element in operation:
        if _local(element.tag) != "leadConverts":
            raise SoapFault("soapenv:Client", f"Unexpected element {{{_namespace(element.tag)}}}{_local(element.tag)}")
        values: dict[str, Any] = {}
        for child in element:
            name = _LEAD_CONVERT_FIELDS.get(_local(child.tag))
            if name is None:
                raise SoapFault(
                    "sf:INVALID_FIELD",
                    f"No such column '{_local(child.tag)}' on entity 'LeadConvert'",
                    "InvalidFieldFault",
                )
            text = (child.text or "").strip()
            if child.get(f"{{{XSI}}}nil") == "true" or text == "":
                continue
            if name in {"do_not_create_opportunity", "overwrite_lead_source", "send_notification_email"}:
                if text.lower() not in {"true", "false", "1", "0"}:
                    raise SoapFault("soapenv:Client", f"Unable to parse '{text}' as a boolean for {_local(child.tag)}")
                values[name] = text.lower() in {"true", "1"}
            else:
                values[name] = text
        if "lead_id" not in values:
            raise SoapFault("sf:INVALID_FIELD", "leadId: required field missing on LeadConvert", "InvalidFieldFault")
        converts.append(LeadConvert(**values))
    if not converts:
        raise SoapFault("soapenv:Client", "convertLead needs at least one leadConverts element")
    if len(converts) > 100:
        raise SoapFault("sf:EXCEEDED_ID_LIMIT", "convertLead takes at most 100 leadConverts", "InvalidIdFault")
    return converts


def _text(tag: str, value: Any) -> str:
    if value is None:
        return f'<{tag} xsi:nil="true"/>'
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _envelope(namespace: str, header: str, body: str, extra_ns: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns="{namespace}" xmlns:xsi="{XSI}"{extra_ns}>'
        f"{header}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    )


def limit_info_header(used: int, maximum: int) -> str:
    return (
        f"<soapenv:Header><LimitInfoHeader><limitInfo><current>{used}</current><limit>{maximum}</limit>"
        "<type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header>"
    )


def convert_lead_response(kind: str, results: list[dict[str, Any]], header: str) -> str:
    """``<convertLeadResponse>`` with one ``<result>`` (a LeadConvertResult) per leadConverts, in order."""
    parts = []
    for result in results:
        errors = "".join(
            "<errors>"
            + "".join(_text("fields", name) for name in error.get("fields", []))
            + _text("message", error["message"])
            + _text("statusCode", error["statusCode"])
            + "</errors>"
            for error in result.get("errors", [])
        )
        parts.append(
            "<result>"
            + _text("accountId", result.get("accountId"))
            + _text("contactId", result.get("contactId"))
            + errors
            + _text("leadId", result.get("leadId"))
            + _text("opportunityId", result.get("opportunityId"))
            + _text("success", result["success"])
            + "</result>"
        )
    return _envelope(NAMESPACES[kind], header, f"<convertLeadResponse>{''.join(parts)}</convertLeadResponse>")


def fault_body(kind: str, fault: SoapFault) -> str:
    """The fault envelope (HTTP 500): ``faultcode``, ``faultstring`` and, for ``sf:`` codes, ``detail``."""
    fault_ns = FAULT_NAMESPACES[kind]
    code = fault.code.removeprefix("sf:")
    faultstring = f"{code}: {fault.message}" if fault.code.startswith("sf:") else fault.message
    detail = ""
    if fault.fault_type and fault.code.startswith("sf:"):
        detail = (
            f'<detail><sf:{fault.fault_type} xsi:type="sf:{fault.fault_type}">'
            f"<sf:exceptionCode>{escape(code)}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{escape(fault.message)}</sf:exceptionMessage>"
            f"</sf:{fault.fault_type}></detail>"
        )
    body = (
        f"<soapenv:Fault><faultcode>{escape(fault.code)}</faultcode>"
        f"<faultstring>{escape(faultstring)}</faultstring>{detail}</soapenv:Fault>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:sf="{fault_ns}" xmlns:xsi="{XSI}">'
        f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    )
