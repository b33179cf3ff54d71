"""SalesforceClient.lead_convert: SOAP convertLead against the stand-in (the partner API over HTTPS)."""

from __future__ import annotations

import pytest

from sync.salesforce import SalesforceError, salesforce_calls_counted, salesforce_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def org(salesforce_wired):
    return salesforce_wired.app


def _people(org) -> tuple[str, str, str]:
    """A Lead, and the Account and Contact it is to be converted into."""
    account_id = org.record_create("Account", {"Name": "Byron Holdings"})
    contact_id = org.record_create("Contact", {"LastName": "Byron", "AccountId": account_id})
    lead_id = org.record_create("Lead", {"LastName": "Byron", "Company": "Byron Holdings"})
    return lead_id, account_id, contact_id


def soap_calls(org) -> list[dict]:
    return [call for call in org.calls if "/services/Soap/u/" in call["path"]]


def test_a_lead_converts_into_the_given_account_and_contact_in_one_counted_request(org):
    lead_id, account_id, contact_id = _people(org)
    client = salesforce_client()
    client.token()
    before = org.api_calls_counted()

    with salesforce_calls_counted() as counter:
        converted = client.lead_convert(
            lead_id=lead_id, converted_status="Closed - Converted", account_id=account_id, contact_id=contact_id
        )

    assert (converted.lead_id, converted.account_id, converted.contact_id) == (lead_id, account_id, contact_id)
    lead = org.record("Lead", lead_id)
    assert (lead["IsConverted"], lead["Status"]) == (True, "Closed - Converted")
    assert (lead["ConvertedAccountId"], lead["ConvertedContactId"]) == (account_id, contact_id)
    assert not lead["ConvertedOpportunityId"] and org.records("Opportunity") == []
    assert counter.count == 1 and org.api_calls_counted() - before == 1
    [call] = soap_calls(org)
    assert call["path"] == f"/services/Soap/u/{client.api_version}"


def test_an_expired_session_logs_in_again_once(org):
    lead_id, account_id, contact_id = _people(org)
    client = salesforce_client()
    client.token()
    org.sessions_expire()

    with salesforce_calls_counted() as counter:
        converted = client.lead_convert(
            lead_id=lead_id, converted_status="Closed - Converted", account_id=account_id, contact_id=contact_id
        )

    assert converted.account_id == account_id
    assert counter.count == 2  # the refused call counts too, as on the REST path
    assert sum(1 for call in org.calls if call["path"].endswith("/oauth2/token")) == 2
    assert [call["status"] for call in soap_calls(org)] == [500, 200]


def test_a_lead_converted_already_answers_its_code_and_is_permanent(org):
    lead_id, account_id, contact_id = _people(org)
    client = salesforce_client()
    client.lead_convert(
        lead_id=lead_id, converted_status="Closed - Converted", account_id=account_id, contact_id=contact_id
    )

    with pytest.raises(SalesforceError) as caught:
        client.lead_convert(
            lead_id=lead_id, converted_status="Closed - Converted", account_id=account_id, contact_id=contact_id
        )

    assert caught.value.code == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert caught.value.transient is False


def test_a_status_that_is_not_a_converted_one_is_refused(org):
    lead_id, account_id, contact_id = _people(org)

    with pytest.raises(SalesforceError) as caught:
        salesforce_client().lead_convert(
            lead_id=lead_id, converted_status="Closed - Not Converted", account_id=account_id, contact_id=contact_id
        )

    assert caught.value.code and caught.value.transient is False
    assert org.record("Lead", lead_id)["IsConverted"] is False
