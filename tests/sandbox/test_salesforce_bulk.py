"""Bulk API 2.0 job lifecycle on the Salesforce stand-in, over raw HTTP."""

from __future__ import annotations

import csv
import io
import time

import pytest


def _wait(client, job_id, kind="ingest", states=("JobComplete", "Failed", "Aborted")):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = client.get(f"jobs/{kind}/{job_id}").json()
        if info["state"] in states:
            return info
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish: {info}")


def _csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def _job(client, **body):
    answer = client.post("jobs/ingest", json={"contentType": "CSV", "lineEnding": "LF", **body})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _upload(client, job_id, text):
    return client.request(
        "PUT", f"jobs/ingest/{job_id}/batches", data=text.encode(), headers={"Content-Type": "text/csv"}
    )


def test_ingest_lifecycle_insert(salesforce_client, salesforce_sandbox):
    job = _job(salesforce_client, object="Account", operation="insert")
    assert job["state"] == "Open" and job["id"].startswith("750") and job["object"] == "Account"
    assert job["contentUrl"] == f"services/data/v62.0/jobs/ingest/{job['id']}/batches"
    upload = _upload(
        salesforce_client, job["id"], 'Name,CLV__c,Last_Order_Date__c\nAcme,10.5,2025-01-02\n"Quote, Inc",x,\n'
    )
    assert upload.status_code == 201 and upload.text == ""
    closed = salesforce_client.patch(f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert closed.status_code == 200 and closed.json()["state"] == "UploadComplete"
    late = _upload(salesforce_client, job["id"], "Name\nLate\n")
    assert late.status_code == 409
    info = _wait(salesforce_client, job["id"])
    assert (info["state"], info["numberRecordsProcessed"], info["numberRecordsFailed"]) == ("JobComplete", 2, 1)
    assert info["jobType"] == "V2Ingest"

    successes = _csv(salesforce_client.get(f"jobs/ingest/{job['id']}/successfulResults").text)
    assert [(r["sf__Created"], r["Name"]) for r in successes] == [("true", "Acme")]
    account = salesforce_sandbox.app.record("Account", successes[0]["sf__Id"])
    assert (account["CLV__c"], account["Last_Order_Date__c"]) == (10.5, "2025-01-02")
    failures = _csv(salesforce_client.get(f"jobs/ingest/{job['id']}/failedResults").text)
    assert failures[0]["Name"] == "Quote, Inc" and failures[0]["sf__Error"].startswith("JSON_PARSER_ERROR:")
    unprocessed = salesforce_client.get(f"jobs/ingest/{job['id']}/unprocessedrecords")
    assert unprocessed.status_code == 200 and _csv(unprocessed.text) == []

    listing = salesforce_client.get("jobs/ingest").json()
    assert [item["id"] for item in listing["records"]] == [job["id"]] and listing["done"] is True
    assert salesforce_client.delete(f"jobs/ingest/{job['id']}").status_code == 204
    assert salesforce_client.get(f"jobs/ingest/{job['id']}").status_code == 404


def test_ingest_update_delete_and_relationship_by_external_id(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    account = app.record_create("Account", {"Name": "Parent", "BigCommerceCustomerId__c": "s:7"})
    first, second = app.records_create("Contact", [{"LastName": "A"}, {"LastName": "B"}])
    job = _job(salesforce_client, object="Contact", operation="update")
    _upload(
        salesforce_client,
        job["id"],
        f"Id,LastName,Account.BigCommerceCustomerId__c\n{first},A2,s:7\n{second},B2,s:404\n",
    )
    salesforce_client.patch(f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert _wait(salesforce_client, job["id"])["numberRecordsFailed"] == 1
    assert (app.record("Contact", first)["LastName"], app.record("Contact", first)["AccountId"]) == ("A2", account)
    failed = _csv(salesforce_client.get(f"jobs/ingest/{job['id']}/failedResults").text)
    assert failed[0]["sf__Id"] == second and "Foreign key external ID: s:404 not found" in failed[0]["sf__Error"]
    assert app.record("Contact", second)["LastName"] == "B"  # a failed row changes nothing

    removal = _job(salesforce_client, object="Contact", operation="delete")
    _upload(salesforce_client, removal["id"], f"Id\n{first}\n")
    salesforce_client.patch(f"jobs/ingest/{removal['id']}", json={"state": "UploadComplete"})
    assert _wait(salesforce_client, removal["id"])["numberRecordsFailed"] == 0
    assert app.record("Contact", first) is None


def test_ingest_abort_leaves_rows_unprocessed(salesforce_client, salesforce_sandbox):
    job = _job(salesforce_client, object="Lead", operation="insert")
    _upload(salesforce_client, job["id"], "LastName,Company\nA,C\n")
    aborted = salesforce_client.patch(f"jobs/ingest/{job['id']}", json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    assert _csv(salesforce_client.get(f"jobs/ingest/{job['id']}/unprocessedrecords").text) == [
        {"LastName": "A", "Company": "C"}
    ]
    again = salesforce_client.patch(f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert again.status_code == 400 and again.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert salesforce_sandbox.app.records("Lead") == []


def test_ingest_unknown_column_fails_the_job(salesforce_client):
    job = _job(salesforce_client, object="Account", operation="insert")
    _upload(salesforce_client, job["id"], "Name,Bogus__c\nA,1\n")
    salesforce_client.patch(f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    info = _wait(salesforce_client, job["id"])
    assert info["state"] == "Failed" and info["errorMessage"] == "InvalidBatch : Field name not found : Bogus__c"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"object": "Account", "operation": "upsert"}, 400, "INVALIDJOB"),
        ({"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"}, 400, "INVALIDJOB"),
        ({"object": "Account", "operation": "merge"}, 400, "INVALIDJOB"),
        ({"object": "Nope__c", "operation": "insert"}, 404, "NOT_FOUND"),
    ],
)
def test_job_creation_errors(salesforce_client, body, status, code):
    answer = salesforce_client.post("jobs/ingest", json=body)
    assert answer.status_code == status and answer.json()[0]["errorCode"] == code


def test_query_job(salesforce_client, salesforce_sandbox):
    salesforce_sandbox.app.records_create("Account", [{"Name": f"A{i}", "CLV__c": i} for i in range(5)])
    job = salesforce_client.post(
        "jobs/query", json={"operation": "query", "query": "SELECT Name, CLV__c, Owner.Name FROM Account ORDER BY Name"}
    ).json()
    assert job["state"] == "UploadComplete"
    info = _wait(salesforce_client, job["id"], kind="query")
    assert info["numberRecordsProcessed"] == 5
    page = salesforce_client.get(f"jobs/query/{job['id']}/results", params={"maxRecords": 3})
    assert page.headers["Sforce-NumberOfRecords"] == "3" and page.headers["Sforce-Locator"] != "null"
    rest = salesforce_client.get(
        f"jobs/query/{job['id']}/results", params={"maxRecords": 3, "locator": page.headers["Sforce-Locator"]}
    )
    assert rest.headers["Sforce-Locator"] == "null"
    rows = _csv(page.text) + _csv(rest.text)
    assert [(r["Name"], r["Owner.Name"]) for r in rows] == [(f"A{i}", "Integration User") for i in range(5)]


def test_simple_salesforce_bulk2_query(salesforce_client, salesforce_sandbox):
    salesforce_sandbox.app.records_create("Lead", [{"LastName": f"L{i}", "Company": "C"} for i in range(3)])
    sf = salesforce_client.simple_salesforce()
    pages = list(sf.bulk2.Lead.query("SELECT LastName FROM Lead ORDER BY LastName", wait=0))
    assert [row["LastName"] for page in pages for row in _csv(page)] == ["L0", "L1", "L2"]


def test_hard_delete_removes_from_the_recycle_bin(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    record_id = app.record_create("Account", {"Name": "Gone"})
    job = _job(salesforce_client, object="Account", operation="hardDelete")
    _upload(salesforce_client, job["id"], f"Id\n{record_id}\n")
    salesforce_client.patch(f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert _wait(salesforce_client, job["id"])["numberRecordsFailed"] == 0
    assert app.state()["deleted"] == {}
    assert salesforce_client.get(f"sobjects/Account/{record_id}").status_code == 404
    everything = salesforce_client.get("queryAll", params={"q": "SELECT Id FROM Account"}).json()
    assert everything["totalSize"] == 0
