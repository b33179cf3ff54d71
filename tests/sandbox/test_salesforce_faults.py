"""Injected faults, API limits and the control API of the Salesforce stand-in."""

from __future__ import annotations

import time

import pytest
import requests

LOCK_PREFIX = "unable to obtain exclusive access to this record or 1 records: "


def _control(client, method, action, **kwargs):
    return client.session.request(method, f"{client.url}/__sandbox__/{action}", timeout=10, **kwargs)


def test_status_faults_500_and_503(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    app.fault_add("status", status=500, path=r"/sobjects/Account", count=1)
    failed = salesforce_client.post("sobjects/Account/", json={"Name": "A"})
    assert failed.status_code == 500
    [error] = failed.json()
    assert error["errorCode"] == "UNKNOWN_EXCEPTION" and error["message"].startswith("An unexpected error occurred.")
    assert salesforce_client.post("sobjects/Account/", json={"Name": "A"}).status_code == 201  # count used up

    app.fault_add("status", status=503, method="GET")
    unavailable = salesforce_client.get("limits")
    assert unavailable.status_code == 503 and unavailable.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert salesforce_client.post("sobjects/Account/", json={"Name": "B"}).status_code == 201  # POST unaffected
    assert len(app.records("Account")) == 2
    faulted = [call for call in app.calls if call["fault"]]
    assert [(c["status"], c["counted"]) for c in faulted] == [(500, False), (503, False)]


def test_unable_to_lock_row(salesforce_client, salesforce_sandbox):
    account = salesforce_sandbox.app.record_create("Account", {"Name": "A"})
    salesforce_sandbox.app.fault_add("unable_to_lock_row", path=r"/sobjects/Account/", method="PATCH", count=1)
    answer = salesforce_client.patch(f"sobjects/Account/{account}", json={"Name": "B"})
    assert answer.status_code == 400
    assert answer.json() == [{"message": LOCK_PREFIX + account, "errorCode": "UNABLE_TO_LOCK_ROW", "fields": []}]
    assert salesforce_sandbox.app.record("Account", account)["Name"] == "A"
    assert salesforce_client.patch(f"sobjects/Account/{account}", json={"Name": "B"}).status_code == 204


def test_request_limit_fault(salesforce_client, salesforce_sandbox):
    salesforce_sandbox.app.fault_add("request_limit", count=1)
    answer = salesforce_client.get("limits")
    assert answer.status_code == 403
    assert answer.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert answer.headers["Sforce-Limit-Info"] == "api-usage=0/15000"


def test_duplicate_value_fault_on_upsert(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    existing = app.record_create("Account", {"Name": "A", "BigCommerceCustomerId__c": "s:1"})
    app.fault_add("duplicate_value", path="/BigCommerceCustomerId__c/", method="PATCH", count=1)
    answer = salesforce_client.patch("sobjects/Account/BigCommerceCustomerId__c/s:1", json={"Name": "B"})
    assert answer.status_code == 400
    assert answer.json() == [
        {
            "message": f"duplicate value found: BigCommerceCustomerId__c duplicates value on record with id: {existing}",
            "errorCode": "DUPLICATE_VALUE",
            "fields": [],
        }
    ]
    retried = salesforce_client.patch("sobjects/Account/BigCommerceCustomerId__c/s:1", json={"Name": "B"})
    assert retried.status_code == 200 and retried.json()["created"] is False


def test_session_expiry_fault(salesforce_client, salesforce_sandbox):
    salesforce_sandbox.app.fault_add("session_expiry", path="/query", count=1)
    assert salesforce_client.get("limits").status_code == 200
    expired = salesforce_client.get("query", params={"q": "SELECT Id FROM Account"})
    assert expired.status_code == 401
    assert expired.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    salesforce_client.login()
    assert salesforce_client.get("query", params={"q": "SELECT Id FROM Account"}).status_code == 200


def test_latency_fixed_and_range(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    fixed = app.fault_add("latency", latency_ms=150, path="/limits")
    assert fixed["latency_ms"] == [150.0, 150.0]
    started = time.monotonic()
    assert salesforce_client.get("limits").status_code == 200
    assert time.monotonic() - started >= 0.15  # the emulated network delay really applies
    app.faults_clear()
    ranged = app.fault_add("latency", latency_ms=[10, 30], count=2)
    assert ranged["latency_ms"] == [10.0, 30.0]
    assert salesforce_client.get("limits").status_code == 200
    assert app.faults.list()[0]["fired"] == 1
    with pytest.raises(ValueError, match="latency_ms"):
        app.fault_add("latency")


def test_dropped_connection(salesforce_client, salesforce_sandbox):
    salesforce_sandbox.app.fault_add("drop", path="/sobjects/Account", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        salesforce_client.post("sobjects/Account/", json={"Name": "A"})
    assert salesforce_sandbox.app.records("Account") == []
    assert salesforce_sandbox.app.calls[-1]["fault"] == "drop"
    assert salesforce_client.post("sobjects/Account/", json={"Name": "A"}).status_code == 201


def test_probability_zero_never_fires(salesforce_client, salesforce_sandbox):
    salesforce_sandbox.app.fault_add("status", status=500, probability=0.0)
    assert all(salesforce_client.get("limits").status_code == 200 for _ in range(5))


def test_daily_api_limit(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    app.api_max = 3
    statuses = [salesforce_client.get("limits").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    over = salesforce_client.get("limits")
    assert over.status_code == 403
    assert over.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert over.headers["Sforce-Limit-Info"] == "api-usage=3/3"
    assert app.api_calls_counted() == 3
    assert [call["counted"] for call in app.calls] == [False, True, True, True, False]  # token, 3 ok, refused


def test_counting_rules(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    answer = salesforce_client.post(
        "composite/sobjects", json={"records": [{"attributes": {"type": "Account"}, "Name": str(i)} for i in range(5)]}
    )
    assert answer.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    rejected = salesforce_client.post("sobjects/Account/", json={"Bogus": 1})
    assert rejected.status_code == 400 and rejected.headers["Sforce-Limit-Info"] == "api-usage=2/15000"
    limits = salesforce_client.get("limits").json()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 3}
    assert app.api_calls_counted() == 3


def test_control_api(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    salesforce_client.post("sobjects/Account/", json={"Name": "A"})
    state = _control(salesforce_client, "GET", "state").json()
    assert [r["Name"] for r in state["records"]["Account"]] == ["A"]
    assert state["api"] == {"used": 1, "max": 15000}
    calls = _control(salesforce_client, "GET", "calls").json()
    assert [(c["method"], c["path"], c["status"], c["counted"]) for c in calls] == [
        ("POST", "/services/oauth2/token", 200, False),
        ("POST", "/services/data/v62.0/sobjects/Account/", 201, True),
    ]
    created = _control(salesforce_client, "POST", "faults", json=[{"kind": "status", "status": 503, "count": 1}])
    assert created.status_code == 201 and created.json()[0]["kind"] == "status"
    assert _control(salesforce_client, "POST", "faults", json={"kind": "teleport"}).status_code == 400
    assert len(_control(salesforce_client, "GET", "faults").json()) == 1
    assert _control(salesforce_client, "DELETE", "faults").status_code == 200 and app.faults.list() == []
    usage = _control(salesforce_client, "POST", "api-usage", json={"max": 10, "used": 9}).json()
    assert usage == {"used": 9, "max": 10}
    assert salesforce_client.get("limits").status_code == 200
    assert salesforce_client.get("limits").status_code == 403
    seeded = _control(salesforce_client, "POST", "records/Lead", json=[{"LastName": "L", "Company": "C"}])
    assert seeded.status_code == 201 and len(app.records("Lead")) == 1
    invalid = _control(salesforce_client, "POST", "records/Lead", json={"LastName": "L"})
    assert invalid.status_code == 400 and invalid.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert _control(salesforce_client, "POST", "sessions/expire").status_code == 200
    assert salesforce_client.get("limits").status_code == 401
    assert _control(salesforce_client, "POST", "reset").json() == {"reset": True}
    state = _control(salesforce_client, "GET", "state").json()
    assert "Account" not in state["records"] and state["api"] == {"used": 0, "max": 15000}
    assert _control(salesforce_client, "GET", "nope").status_code == 404
