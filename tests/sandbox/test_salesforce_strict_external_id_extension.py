"""Rule ``external_id_extension``: "some Top Level Domains (TLD) can conflict with certain file format
extensions ... using an email address, such as example@email.inc, as the External ID returns a
'404 not found' error" (REST API guide, "Upsert Records Using sObject Rows by External ID"). Which
extensions conflict is not documented, so the stand-in refuses every value ending in a dot and letters."""

from __future__ import annotations

import pytest

V = "/services/data/v62.0"
EXT = "BigCommerceCustomerId__c"
NOT_FOUND = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]


@pytest.mark.parametrize("value", ["ada@email.inc", "ada@example.com", "report.PDF", "a/b.txt"])
def test_a_value_ending_like_a_file_extension_is_not_found(salesforce_client, salesforce_sandbox, value):
    app = salesforce_sandbox.app
    app.record_create("Contact", {"LastName": "Kept", EXT: value})
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"LastName": "New"}} if method == "PATCH" else {}
        answer = salesforce_client.request(method, f"sobjects/Contact/{EXT}/{value}", **kwargs)
        assert (answer.status_code, answer.json()) == (404, NOT_FOUND), method
    assert [(c["LastName"], c[EXT]) for c in app.records("Contact")] == [("Kept", value)]


def test_other_values_work_and_the_body_is_the_way_round(salesforce_client, salesforce_sandbox):
    for value in ("c-1", "v1.2", "ada@example"):
        created = salesforce_client.patch(f"sobjects/Contact/{EXT}/{value}", json={"LastName": value})
        assert created.status_code == 201, value
        assert salesforce_client.get(f"sobjects/Contact/{EXT}/{value}").json()["LastName"] == value
    # The value in a body (sObject Collections upsert) is not part of a URL.
    body = {"records": [{"attributes": {"type": "Contact"}, EXT: "ada@email.inc", "LastName": "Body"}]}
    [result] = salesforce_client.patch(f"composite/sobjects/Contact/{EXT}", json=body).json()
    assert result["success"] is True and result["created"] is True
    # A composite subrequest is a URL like any other.
    [response] = salesforce_client.post(
        "composite",
        json={
            "compositeRequest": [
                {"method": "GET", "url": f"{V}/sobjects/Contact/{EXT}/ada@email.inc", "referenceId": "read"}
            ]
        },
    ).json()["compositeResponse"]
    assert (response["httpStatusCode"], response["body"]) == (404, NOT_FOUND)


def test_switched_off_email_values_work_in_the_url(salesforce_client, salesforce_sandbox):
    switched = salesforce_client.session.post(
        f"{salesforce_client.url}/__sandbox__/rules", json={"external_id_extension": False}, timeout=10
    )
    assert switched.status_code == 200 and switched.json()["external_id_extension"] is False
    url = f"sobjects/Contact/{EXT}/ada@email.inc"
    created = salesforce_client.patch(url, json={"LastName": "Ada"})
    assert created.status_code == 201 and created.json()["created"] is True
    assert salesforce_client.get(url).json()["LastName"] == "Ada"
    assert salesforce_client.patch(url, json={"FirstName": "A"}).status_code == 200
    assert salesforce_client.delete(url).status_code == 204
    assert salesforce_sandbox.app.records("Contact") == []
