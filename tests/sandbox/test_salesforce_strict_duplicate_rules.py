"""Rule ``duplicate_rules``: the standard duplicate rules of Account, Contact and Lead are active (Allow,
with Alert on create, Report only on edit), so an API create that one flags fails with
``DUPLICATES_DETECTED`` unless ``Sforce-Duplicate-Rule-Header: allowSave=true`` (REST API guide,
"Duplicate Rule Header"; Salesforce Help, "Standard Duplicate Rules", "Standard Matching Rules")."""

from __future__ import annotations

import csv
import io
import time

import pytest

V = "/services/data/v62.0"
ALERT = "Use one of these records?"
ALLOW_SAVE = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}


def _duplicates(rule, entity, matches):
    """Salesforce's single-record answer; ``matches``: [(entity, matching rule, [ids])]."""
    return [
        {
            "duplicateResut": {
                "allowSave": True,
                "duplicateRule": rule,
                "duplicateRuleEntityType": entity,
                "errorMessage": ALERT,
                "matchResults": [
                    {
                        "entityType": matched,
                        "errors": [],
                        "matchEngine": "FuzzyMatchEngine",
                        "matchRecords": [
                            {
                                "additionalInformation": [],
                                "fieldDiffs": [],
                                "matchConfidence": 100.0,
                                "record": {
                                    "attributes": {"type": matched, "url": f"{V}/sobjects/{matched}/{record_id}"},
                                    "Id": record_id,
                                },
                            }
                            for record_id in ids
                        ],
                        "rule": match_rule,
                        "size": len(ids),
                        "success": True,
                    }
                    for matched, match_rule, ids in matches
                ],
            },
            "errorCode": "DUPLICATES_DETECTED",
            "message": ALERT,
        }
    ]


@pytest.fixture
def existing(salesforce_sandbox):
    """What a merchant's CRM already holds, keyed in by hand (set-up records pass the rules)."""
    app = salesforce_sandbox.app
    account = app.record_create("Account", {"Name": "Acme", "BillingStreet": "1 Main St", "Phone": "(415) 555-0100"})
    contact = app.record_create(
        "Contact", {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com", "AccountId": account}
    )
    lead = app.record_create(
        "Lead", {"FirstName": "Grace", "LastName": "Hopper", "Email": "grace@example.com", "Company": "Navy"}
    )
    return {"account": account, "contact": contact, "lead": lead}


def test_a_duplicate_contact_is_refused_with_the_duplicate_result(salesforce_client, salesforce_sandbox, existing):
    # Same first and last name and email (compared case-insensitively, blanks trimmed): a match.
    body = {"FirstName": " ada", "LastName": "LOVELACE ", "Email": "Ada@Example.com"}
    answer = salesforce_client.post("sobjects/Contact/", json=body)
    assert answer.status_code == 400
    assert answer.json() == _duplicates(
        "Standard_Contact_Duplicate_Rule",
        "Contact",
        [("Contact", "Standard_Contact_Match_Rule_v1_1", [existing["contact"]])],
    )
    assert len(salesforce_sandbox.app.records("Contact")) == 1
    # A different person (same name, another email and nothing else in common) is no duplicate.
    other = salesforce_client.post("sobjects/Contact/", json={**body, "Email": "ada@other.example"})
    assert other.status_code == 201
    # allowSave=true (API 52.0 and later) saves the duplicate deliberately.
    saved = salesforce_client.post("sobjects/Contact/", json=body, headers=ALLOW_SAVE)
    assert saved.status_code == 201, saved.text
    assert len(salesforce_sandbox.app.records("Contact")) == 3


def test_the_header_needs_api_52_and_can_return_record_details(salesforce_client, existing):
    body = {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}
    old = salesforce_client.session.post(
        f"{salesforce_client.url}/services/data/v51.0/sobjects/Contact/",
        json=body,
        headers={"Authorization": f"Bearer {salesforce_client.token}", **ALLOW_SAVE},
        timeout=10,
    )
    assert old.status_code == 400 and old.json()[0]["errorCode"] == "DUPLICATES_DETECTED"
    assert old.json()[0]["duplicateResut"]["matchResults"][0]["matchRecords"][0]["record"]["attributes"]["url"] == (
        f"/services/data/v51.0/sobjects/Contact/{existing['contact']}"
    )
    detailed = salesforce_client.post(
        "sobjects/Contact/", json=body, headers={"Sforce-Duplicate-Rule-Header": "includeRecordDetails=true"}
    )
    assert detailed.status_code == 400
    record = detailed.json()[0]["duplicateResut"]["matchResults"][0]["matchRecords"][0]["record"]
    assert (record["Id"], record["Email"], record["AccountId"]) == (
        existing["contact"],
        "ada@example.com",
        existing["account"],
    )


def test_leads_and_contacts_are_compared_with_each_other(salesforce_client, existing):
    lead = salesforce_client.post(
        "sobjects/Lead/", json={"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com", "Company": "X"}
    )
    assert lead.status_code == 400
    assert lead.json() == _duplicates(
        "Standard_Lead_Duplicate_Rule",
        "Lead",
        [("Contact", "Standard_Contact_Match_Rule_v1_1", [existing["contact"]])],
    )
    contact = salesforce_client.post(
        "sobjects/Contact/", json={"FirstName": "G.", "LastName": "Hopper", "Email": "grace@example.com"}
    )
    assert contact.status_code == 400
    assert contact.json() == _duplicates(
        "Standard_Contact_Duplicate_Rule",
        "Contact",
        [("Lead", "Standard_Lead_Match_Rule_v1_0", [existing["lead"]])],
    )
    # Name and phone match too; a Lead with the same name and nothing else in common does not.
    by_phone = salesforce_client.post(
        "sobjects/Lead/", json={"FirstName": "Grace", "LastName": "Hopper", "Phone": "555", "Company": "Navy"}
    )
    assert by_phone.status_code == 201
    again = salesforce_client.post(
        "sobjects/Lead/", json={"FirstName": "Grace", "LastName": "Hopper", "Phone": "555", "Company": "Other"}
    )
    assert again.status_code == 400 and again.json()[0]["duplicateResut"]["matchResults"][0]["size"] == 1


def test_accounts_match_on_name_and_address_or_phone(salesforce_client, existing):
    same_street = salesforce_client.post("sobjects/Account/", json={"Name": "acme", "BillingStreet": "1 main st"})
    assert same_street.status_code == 400
    assert same_street.json() == _duplicates(
        "Standard_Account_Duplicate_Rule",
        "Account",
        [("Account", "Standard_Account_Match_Rule_v1_0", [existing["account"]])],
    )
    same_phone = salesforce_client.post("sobjects/Account/", json={"Name": "Acme", "Phone": "415-555-0100"})
    assert same_phone.status_code == 400
    # The name alone, or the address under another name, is no duplicate.
    assert salesforce_client.post("sobjects/Account/", json={"Name": "Acme"}).status_code == 201
    assert salesforce_client.post("sobjects/Account/", json={"Name": "Other", "BillingStreet": "1 Main St"}).ok


def test_edits_only_report_so_updates_are_never_refused(salesforce_client, salesforce_sandbox, existing):
    other = salesforce_client.post("sobjects/Contact/", json={"FirstName": "Ada", "LastName": "Byron"}).json()["id"]
    changed = salesforce_client.patch(
        f"sobjects/Contact/{other}", json={"LastName": "Lovelace", "Email": "ada@example.com"}
    )
    assert changed.status_code == 204
    # An upsert that updates is an edit; an upsert that creates is a create.
    ext = "BigCommerceCustomerId__c"
    salesforce_sandbox.app.record_create("Contact", {"LastName": "Solo", ext: "c-1"})
    updated = salesforce_client.patch(
        f"sobjects/Contact/{ext}/c-1", json={"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}
    )
    assert updated.status_code == 200 and updated.json()["created"] is False
    created = salesforce_client.patch(
        f"sobjects/Contact/{ext}/c-2", json={"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}
    )
    assert created.status_code == 400 and created.json()[0]["errorCode"] == "DUPLICATES_DETECTED"
    allowed = salesforce_client.patch(
        f"sobjects/Contact/{ext}/c-2",
        json={"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"},
        headers=ALLOW_SAVE,
    )
    assert allowed.status_code == 201


def test_composite_subrequests_take_the_header_from_their_own_http_headers(salesforce_client, existing):
    body = {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}
    answer = salesforce_client.post(
        "composite",
        # The top-level header is not inherited: only Accept, Authorization and Content-Type are.
        headers=ALLOW_SAVE,
        json={
            "compositeRequest": [
                {"method": "POST", "url": f"{V}/sobjects/Contact", "referenceId": "plain", "body": body},
                {
                    "method": "POST",
                    "url": f"{V}/sobjects/Contact",
                    "referenceId": "allowed",
                    "body": body,
                    "httpHeaders": ALLOW_SAVE,
                },
            ]
        },
    ).json()["compositeResponse"]
    assert [item["httpStatusCode"] for item in answer] == [400, 201]
    assert answer[0]["body"][0]["errorCode"] == "DUPLICATES_DETECTED"
    assert (
        answer[0]["body"][0]["duplicateResut"]["matchResults"][0]["matchRecords"][0]["record"]["Id"]
        == (existing["contact"])
    )


def test_a_graph_with_a_duplicate_fails_as_a_whole(salesforce_client, salesforce_sandbox, existing):
    graph = {
        "graphId": "g1",
        "compositeRequest": [
            {"method": "POST", "url": f"{V}/sobjects/Account", "referenceId": "acct", "body": {"Name": "New Co"}},
            {
                "method": "POST",
                "url": f"{V}/sobjects/Contact",
                "referenceId": "person",
                "body": {
                    "FirstName": "Ada",
                    "LastName": "Lovelace",
                    "Email": "ada@example.com",
                    "AccountId": "@{acct.id}",
                },
            },
        ],
    }
    [result] = salesforce_client.post("composite/graph", json={"graphs": [graph]}).json()["graphs"]
    assert result["isSuccessful"] is False
    responses = result["graphResponse"]["compositeResponse"]
    assert responses[1]["httpStatusCode"] == 400 and responses[1]["body"][0]["errorCode"] == "DUPLICATES_DETECTED"
    assert [a["Name"] for a in salesforce_sandbox.app.records("Account")] == ["Acme"]
    for node in graph["compositeRequest"]:
        node["httpHeaders"] = ALLOW_SAVE
    [result] = salesforce_client.post("composite/graph", json={"graphs": [graph]}).json()["graphs"]
    assert result["isSuccessful"] is True


def test_collections_fail_the_duplicate_record_only(salesforce_client, salesforce_sandbox, existing):
    records = [
        {"attributes": {"type": "Contact"}, "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"},
        {"attributes": {"type": "Contact"}, "FirstName": "Alan", "LastName": "Turing"},
    ]
    results = salesforce_client.post("composite/sobjects", json={"records": records}).json()
    assert results[0] == {
        "success": False,
        "errors": [{"statusCode": "DUPLICATES_DETECTED", "message": ALERT, "fields": []}],
    }
    assert results[1]["success"] is True
    allowed = salesforce_client.post("composite/sobjects", json={"records": records[:1]}, headers=ALLOW_SAVE).json()
    assert allowed[0]["success"] is True


def test_bulk_ingest_cannot_allow_save(salesforce_client, salesforce_sandbox, existing):
    # Bulk API 2.0 takes no duplicate rule header: a row a rule flags fails, even with Allow.
    job = salesforce_client.post(
        "jobs/ingest", json={"object": "Contact", "operation": "insert", "contentType": "CSV", "lineEnding": "LF"}
    ).json()
    upload = "FirstName,LastName,Email\nAda,Lovelace,ada@example.com\nAlan,Turing,alan@example.com\n"
    salesforce_client.request(
        "PUT",
        f"jobs/ingest/{job['id']}/batches",
        data=upload.encode(),
        headers={"Content-Type": "text/csv", **ALLOW_SAVE},
    )
    salesforce_client.patch(f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"}, headers=ALLOW_SAVE)
    deadline = time.monotonic() + 10
    while salesforce_client.get(f"jobs/ingest/{job['id']}").json()["state"] != "JobComplete":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    failed = list(csv.DictReader(io.StringIO(salesforce_client.get(f"jobs/ingest/{job['id']}/failedResults").text)))
    assert [(row["LastName"], row["sf__Error"]) for row in failed] == [
        ("Lovelace", "DUPLICATES_DETECTED:Use one of these records?:--")
    ]
    assert sorted(c["LastName"] for c in salesforce_sandbox.app.records("Contact")) == ["Lovelace", "Turing"]


def test_set_up_records_pass_the_rules_but_no_other_rule(salesforce_client, salesforce_sandbox, existing):
    control = f"{salesforce_client.url}/__sandbox__/records/Contact"
    same = {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}
    created = salesforce_client.session.post(control, json=[same, same], timeout=10)
    assert created.status_code == 201 and len(created.json()["ids"]) == 2
    salesforce_sandbox.app.record_create("Contact", same)
    refused = salesforce_client.session.post(control, json={**same, "Email": "not an email"}, timeout=10)
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "INVALID_EMAIL_ADDRESS"
    assert len(salesforce_sandbox.app.records("Contact")) == 4


def test_switched_off_duplicates_are_saved(salesforce_client, salesforce_sandbox, existing):
    switched = salesforce_client.session.post(
        f"{salesforce_client.url}/__sandbox__/rules", json={"duplicate_rules": False}, timeout=10
    )
    assert switched.status_code == 200 and switched.json()["duplicate_rules"] is False
    body = {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}
    assert salesforce_client.post("sobjects/Contact/", json=body).status_code == 201
    assert salesforce_client.post("sobjects/Account/", json={"Name": "Acme", "BillingStreet": "1 Main St"}).ok
    results = salesforce_client.post(
        "composite/sobjects", json={"records": [{"attributes": {"type": "Contact"}, **body}]}
    ).json()
    assert results[0]["success"] is True
    assert len(salesforce_sandbox.app.records("Contact")) == 3
