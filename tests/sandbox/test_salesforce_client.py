"""simple-salesforce itself (the real client, not b2s's wrapper) against the Salesforce stand-in over HTTPS."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)


@pytest.fixture
def sf(salesforce_client):
    return salesforce_client.simple_salesforce()


def test_create_get_update_delete(sf, salesforce_sandbox):
    created = sf.Account.create({"Name": "Acme", "Phone": "555-0100"})
    assert created["success"] is True and created["errors"] == []
    account_id = created["id"]
    assert len(account_id) == 18 and account_id.startswith("001")

    fetched = sf.Account.get(account_id)
    assert fetched["attributes"] == {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{account_id}"}
    assert fetched["Name"] == "Acme"
    assert fetched["CreatedById"] == fetched["OwnerId"] == fetched["LastModifiedById"]
    assert fetched["CreatedDate"].endswith("+0000") and fetched["IsDeleted"] is False

    assert sf.Account.update(account_id, {"Name": "Acme Corp"}) == 204
    assert salesforce_sandbox.app.record("Account", account_id)["Name"] == "Acme Corp"
    # A 15-character id is accepted too.
    assert sf.Account.get(account_id[:15])["Id"] == account_id

    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Account.get(account_id)
    assert raised.value.content == [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED"}]
    assert salesforce_sandbox.app.records("Account") == []


def test_upsert_created_then_updated(sf, salesforce_sandbox):
    created = sf.Account.upsert("BigCommerceCustomerId__c/sandbox:42", {"Name": "Jane Doe"}, raw_response=True)
    assert created.status_code == 201
    body = created.json()
    assert body["created"] is True and body["success"] is True
    assert created.headers["Location"] == f"/services/data/v62.0/sobjects/Account/{body['id']}"

    updated = sf.Account.upsert("BigCommerceCustomerId__c/sandbox:42", {"Name": "Jane Roe"}, raw_response=True)
    assert updated.status_code == 200
    assert updated.json() == {"id": body["id"], "success": True, "errors": [], "created": False}
    records = salesforce_sandbox.app.records("Account")
    assert [(r["Name"], r["BigCommerceCustomerId__c"]) for r in records] == [("Jane Roe", "sandbox:42")]
    assert sf.Account.get_by_custom_id("BigCommerceCustomerId__c", "sandbox:42")["Id"] == body["id"]


def test_upsert_unknown_external_id_field_is_404(sf):
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Account.upsert("Nope__c/1", {"Name": "x"})
    assert raised.value.content == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


def test_query_and_query_all_page_by_2000(sf, salesforce_sandbox):
    app = salesforce_sandbox.app
    app.records_create("Contact", [{"LastName": f"Person {index:04d}"} for index in range(2500)])
    first = sf.query("SELECT Id, LastName FROM Contact ORDER BY LastName")
    assert first["totalSize"] == 2500 and first["done"] is False and len(first["records"]) == 2000
    locator = first["nextRecordsUrl"]
    assert locator.startswith("/services/data/v62.0/query/") and locator.endswith("-2000")
    second = sf.query_more(locator, identifier_is_url=True)
    assert second["done"] is True and len(second["records"]) == 500 and "nextRecordsUrl" not in second

    everything = sf.query_all("SELECT Id, LastName FROM Contact ORDER BY LastName")
    names = [record["LastName"] for record in everything["records"]]
    assert everything["totalSize"] == 2500 and names == sorted(names) and len(set(names)) == 2500


def test_query_all_includes_deleted_records(sf, salesforce_sandbox):
    kept, gone = salesforce_sandbox.app.records_create("Lead", [{"LastName": "A", "Company": "C"}] * 2)
    sf.Lead.delete(gone)
    assert [r["Id"] for r in sf.query("SELECT Id FROM Lead")["records"]] == [kept]
    all_rows = sf.query_all("SELECT Id, IsDeleted FROM Lead ORDER BY IsDeleted", include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in all_rows] == [(kept, False), (gone, True)]


def test_restful_composite(sf, salesforce_sandbox):
    answer = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v62.0/sobjects/Account",
                    "referenceId": "acct",
                    "body": {"Name": "Composite Co"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v62.0/sobjects/Contact",
                    "referenceId": "person",
                    "body": {"LastName": "Doe", "AccountId": "@{acct.id}"},
                },
                {
                    "method": "GET",
                    "url": "/services/data/v62.0/sobjects/Contact/@{person.id}?fields=AccountId",
                    "referenceId": "check",
                },
            ],
        },
    )
    statuses = [item["httpStatusCode"] for item in answer["compositeResponse"]]
    assert statuses == [201, 201, 200]
    account_id = answer["compositeResponse"][0]["body"]["id"]
    assert answer["compositeResponse"][2]["body"]["AccountId"] == account_id
    assert salesforce_sandbox.app.api_calls_counted() == 1  # one composite call counts once


def test_bulk2_insert_and_upsert_with_results(sf, salesforce_sandbox):
    rows = [
        {"LastName": f"Bulk {index}", "Company": "Co", "AbandonedCartId__c": f"sandbox:{index}"} for index in range(3)
    ]
    inserted = sf.bulk2.Lead.insert(records=[*rows, {"Company": "No Name"}], wait=0)
    assert inserted[0]["numberRecordsProcessed"] == 4 and inserted[0]["numberRecordsFailed"] == 1
    job_id = inserted[0]["job_id"]
    assert job_id.startswith("750")
    results = sf.bulk2.Lead.get_all_ingest_records(job_id)
    assert [r["sf__Created"] for r in results["successfulRecords"]] == ["true"] * 3
    assert results["failedRecords"][0]["sf__Error"] == (
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --"
    )
    assert results["unprocessedRecords"] == []

    upserted = sf.bulk2.Lead.upsert(
        records=[
            {"AbandonedCartId__c": "sandbox:1", "LastName": "Renamed", "Company": "Co"},
            {"AbandonedCartId__c": "sandbox:9", "LastName": "New", "Company": "Co"},
        ],
        external_id_field="AbandonedCartId__c",
        wait=0,
    )
    assert upserted[0]["numberRecordsFailed"] == 0
    successes = sf.bulk2.Lead.get_all_ingest_records(upserted[0]["job_id"])["successfulRecords"]
    assert sorted((r["AbandonedCartId__c"], r["sf__Created"]) for r in successes) == [
        ("sandbox:1", "false"),
        ("sandbox:9", "true"),
    ]
    names = {r["AbandonedCartId__c"]: r["LastName"] for r in salesforce_sandbox.app.records("Lead")}
    assert names == {"sandbox:0": "Bulk 0", "sandbox:1": "Renamed", "sandbox:2": "Bulk 2", "sandbox:9": "New"}


def test_limits_and_api_usage_header(sf, salesforce_sandbox):
    sf.query("SELECT Id FROM Account")
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 2}
    assert sf.api_usage["api-usage"].used == 2 and sf.api_usage["api-usage"].total == 15000


def test_injected_session_expiry_gives_expired_session(sf, salesforce_sandbox):
    sf.query("SELECT Id FROM Account")
    salesforce_sandbox.app.fault_add("session_expiry", count=1)
    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.query("SELECT Id FROM Account")
    assert raised.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_validation_error_raises_malformed_request_with_body(sf):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Contact.create({"FirstName": "No last name"})
    assert raised.value.content == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]


def test_concurrent_clients_are_serialized(salesforce_client, salesforce_sandbox):
    from concurrent.futures import ThreadPoolExecutor

    def upsert(index):
        answer = salesforce_client.patch(
            "sobjects/Account/BigCommerceCustomerId__c/s:same", json={"Name": f"Writer {index}"}
        )
        return answer.status_code, answer.json()["created"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(upsert, range(16)))
    assert sorted(outcomes) == [(200, False)] * 15 + [(201, True)]
    assert len(salesforce_sandbox.app.records("Account")) == 1
    assert salesforce_sandbox.app.api_calls_counted() == 16
