"""Rule ``collate_subrequests``: with ``collateSubrequests`` true (the default from API 49.0) Salesforce
collates unrelated composite subrequests to bulkify them and "the order of execution is not guaranteed
(unless there is an explicit dependency between the subrequests)"; subrequests with HTTP headers are not
collated (REST API guide, "Composite Request Body"). Composite graphs collate their nodes the same way."""

from __future__ import annotations

V = "/services/data/v62.0"
EXT = "BigCommerceCustomerId__c"


def _sub(method, url, reference, body=None, **extra):
    item = {"method": method, "url": f"{V}/{url}", "referenceId": reference, **extra}
    if body is not None:
        item["body"] = body
    return item


def _parent_then_child(key="p-1", **account_extra):
    """An Account, then a Contact naming it by external id only: no reference, so no dependency."""
    return [
        _sub("POST", "sobjects/Account", "parent", {"Name": "Parent", EXT: key}, **account_extra),
        _sub("POST", "sobjects/Contact", "child", {"LastName": "Child", "Account": {EXT: key}}),
    ]


def test_unrelated_subrequests_do_not_run_in_the_order_sent(salesforce_client, salesforce_sandbox):
    answer = salesforce_client.post("composite", json={"compositeRequest": _parent_then_child()})
    responses = answer.json()["compositeResponse"]
    # Answers come back in the order sent, but the Contact ran first: its Account was not there yet.
    assert [item["referenceId"] for item in responses] == ["parent", "child"]
    assert [item["httpStatusCode"] for item in responses] == [201, 400]
    assert responses[1]["body"] == [
        {
            "message": f"Foreign key external ID: p-1 not found for field {EXT} in entity Account",
            "errorCode": "INVALID_FIELD",
            "fields": [],
        }
    ]


def test_a_delete_group_may_run_before_a_patch_sent_earlier(salesforce_client, salesforce_sandbox):
    account = salesforce_sandbox.app.record_create("Account", {"Name": "Doomed"})
    responses = salesforce_client.post(
        "composite",
        json={
            "compositeRequest": [
                _sub("PATCH", f"sobjects/Account/{account}", "rename", {"Name": "Renamed"}),
                _sub("DELETE", f"sobjects/Account/{account}", "remove"),
            ]
        },
    ).json()["compositeResponse"]
    assert [item["httpStatusCode"] for item in responses] == [404, 204]
    assert responses[0]["body"] == [{"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED"}]


def test_references_order_collate_false_and_http_headers(salesforce_client, salesforce_sandbox):
    # An explicit reference makes a dependency: the Contact runs after its Account.
    referenced = [
        _sub("POST", "sobjects/Account", "parent", {"Name": "Parent", EXT: "p-1"}),
        _sub("POST", "sobjects/Contact", "child", {"LastName": "Child", "AccountId": "@{parent.id}"}),
    ]
    responses = salesforce_client.post("composite", json={"compositeRequest": referenced}).json()["compositeResponse"]
    assert [item["httpStatusCode"] for item in responses] == [201, 201]
    # collateSubrequests false: the order sent.
    responses = salesforce_client.post(
        "composite", json={"collateSubrequests": False, "compositeRequest": _parent_then_child("p-2")}
    ).json()["compositeResponse"]
    assert [item["httpStatusCode"] for item in responses] == [201, 201]
    # A subrequest with HTTP headers is not collated: it runs on its own where it was sent.
    pinned = _parent_then_child("p-3", httpHeaders={"Sforce-Auto-Assign": "FALSE"})
    responses = salesforce_client.post("composite", json={"compositeRequest": pinned}).json()["compositeResponse"]
    assert [item["httpStatusCode"] for item in responses] == [201, 201]
    assert len(salesforce_sandbox.app.records("Contact")) == 3


def test_graph_nodes_are_collated_too(salesforce_client, salesforce_sandbox):
    graphs = [
        {"graphId": "by_external_id", "compositeRequest": _parent_then_child()},
        {
            "graphId": "by_reference",
            "compositeRequest": [
                _sub("POST", "sobjects/Account", "parent", {"Name": "Other", EXT: "p-9"}),
                _sub("POST", "sobjects/Contact", "child", {"LastName": "Kid", "AccountId": "@{parent.id}"}),
            ],
        },
    ]
    result = salesforce_client.post("composite/graph", json={"graphs": graphs}).json()["graphs"]
    assert [(graph["graphId"], graph["isSuccessful"]) for graph in result] == [
        ("by_external_id", False),
        ("by_reference", True),
    ]
    assert [account["Name"] for account in salesforce_sandbox.app.records("Account")] == ["Other"]


def test_switched_off_subrequests_run_in_the_order_sent(salesforce_client, salesforce_sandbox):
    switched = salesforce_client.session.post(
        f"{salesforce_client.url}/__sandbox__/rules", json={"collate_subrequests": False}, timeout=10
    )
    assert switched.status_code == 200 and switched.json()["collate_subrequests"] is False
    responses = salesforce_client.post("composite", json={"compositeRequest": _parent_then_child()}).json()[
        "compositeResponse"
    ]
    assert [item["httpStatusCode"] for item in responses] == [201, 201]
    graph = {"graphId": "g", "compositeRequest": _parent_then_child("p-2")}
    [result] = salesforce_client.post("composite/graph", json={"graphs": [graph]}).json()["graphs"]
    assert result["isSuccessful"] is True
    assert len(salesforce_sandbox.app.records("Contact")) == 2
