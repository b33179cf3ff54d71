"""Composite, composite graph, sObject Collections and platform events on the Salesforce stand-in."""

from __future__ import annotations

V = "/services/data/v62.0"
HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }
]


def _sub(method, url, reference, body=None):
    item = {"method": method, "url": f"{V}/{url}", "referenceId": reference}
    if body is not None:
        item["body"] = body
    return item


# --------------------------------------------------------------------------- composite


def test_composite_all_or_none_rolls_back_and_halts_the_others(salesforce_client, salesforce_sandbox):
    answer = salesforce_client.post(
        "composite",
        json={
            "allOrNone": True,
            "compositeRequest": [
                _sub("POST", "sobjects/Account", "acct", {"Name": "Kept?"}),
                _sub("POST", "sobjects/Contact", "bad", {"AccountId": "@{acct.id}"}),
                _sub("POST", "sobjects/Lead", "later", {"LastName": "L", "Company": "C"}),
            ],
        },
    )
    assert answer.status_code == 200
    responses = answer.json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in responses] == [400, 400, 400]
    assert responses[0]["body"] == HALTED and responses[2]["body"] == HALTED
    assert responses[1]["body"] == [
        {
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"],
        }
    ]
    assert [r["referenceId"] for r in responses] == ["acct", "bad", "later"]
    app = salesforce_sandbox.app
    assert app.records("Account") == [] and app.records("Lead") == []


def test_composite_without_all_or_none_keeps_successes(salesforce_client, salesforce_sandbox):
    answer = salesforce_client.post(
        "composite",
        json={
            "compositeRequest": [
                _sub("POST", "sobjects/Contact", "bad", {"FirstName": "x"}),
                _sub("POST", "sobjects/Account", "acct", {"Name": "Kept"}),
                _sub("PATCH", "sobjects/Account/@{acct.id}", "rename", {"Name": "Renamed"}),
                _sub("POST", "sobjects/Contact", "dependent", {"LastName": "D", "AccountId": "@{bad.id}"}),
                _sub("GET", "query?q=SELECT+Id,Name+FROM+Account", "read"),
                _sub("PATCH", "sobjects/Account/Id/@{read.records[0].Id}", "byid", {"Phone": "1"}),
            ]
        },
    ).json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in answer] == [400, 201, 204, 400, 200, 200]
    assert answer[2]["body"] is None
    assert answer[3]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "bad.id" in answer[3]["body"][0]["message"]
    assert answer[4]["body"]["records"][0]["Name"] == "Renamed"
    assert answer[5]["body"]["created"] is False
    [account] = salesforce_sandbox.app.records("Account")
    assert (account["Name"], account["Phone"]) == ("Renamed", "1")


def test_composite_limits_and_reference_ids(salesforce_client):
    too_many = [_sub("POST", "sobjects/Account", f"a{i}", {"Name": "x"}) for i in range(26)]
    answer = salesforce_client.post("composite", json={"compositeRequest": too_many})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "LIMIT_EXCEEDED"
    bad_ref = salesforce_client.post(
        "composite", json={"compositeRequest": [_sub("POST", "sobjects/Account", "my-ref", {"Name": "x"})]}
    )
    assert bad_ref.status_code == 400 and "letters, numbers and underscores" in bad_ref.json()[0]["message"]
    queries = [_sub("GET", "query?q=SELECT+Id+FROM+Account", f"q{i}") for i in range(6)]
    answer = salesforce_client.post("composite", json={"compositeRequest": queries})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "LIMIT_EXCEEDED"


def test_composite_may_use_collections_and_publish_events(salesforce_client, salesforce_sandbox):
    answer = salesforce_client.post(
        "composite",
        json={
            "allOrNone": True,
            "compositeRequest": [
                _sub(
                    "POST",
                    "composite/sobjects",
                    "many",
                    {
                        "records": [
                            {"attributes": {"type": "Account"}, "Name": "One"},
                            {"attributes": {"type": "Account"}, "Name": "Two"},
                        ]
                    },
                ),
                _sub(
                    "POST",
                    "sobjects/BigCommerce_Order_Created__e",
                    "event",
                    {"EventType__c": "created", "AccountId__c": "@{many[0].id}", "TotalAmount__c": 12.5},
                ),
            ],
        },
    ).json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in answer] == [200, 201]
    [event] = salesforce_sandbox.app.platform_events("BigCommerce_Order_Created__e")
    assert event["fields"]["AccountId__c"] == answer[0]["body"][0]["id"]


# --------------------------------------------------------------------------- graph


def test_graph_each_graph_is_all_or_nothing(salesforce_client, salesforce_sandbox):
    answer = salesforce_client.post(
        "composite/graph",
        json={
            "graphs": [
                {
                    "graphId": "good",
                    "compositeRequest": [
                        _sub("POST", "sobjects/Account", "acct", {"Name": "Graph Co"}),
                        _sub("POST", "sobjects/Contact", "person", {"LastName": "G", "AccountId": "@{acct.id}"}),
                    ],
                },
                {
                    "graphId": "bad",
                    "compositeRequest": [
                        _sub("POST", "sobjects/Account", "acct", {"Name": "Rolled back"}),
                        _sub("POST", "sobjects/Opportunity", "deal", {"Name": "D", "AccountId": "@{acct.id}"}),
                    ],
                },
            ]
        },
    )
    assert answer.status_code == 200
    graphs = answer.json()["graphs"]
    assert [(g["graphId"], g["isSuccessful"]) for g in graphs] == [("good", True), ("bad", False)]
    bad = graphs[1]["graphResponse"]["compositeResponse"]
    assert bad[0]["body"] == HALTED and bad[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert [a["Name"] for a in salesforce_sandbox.app.records("Account")] == ["Graph Co"]
    assert salesforce_sandbox.app.api_calls_counted() == 1


def test_graph_limits(salesforce_client):
    nodes = [_sub("POST", "sobjects/Account", f"n{i}", {"Name": "x"}) for i in range(251)]
    answer = salesforce_client.post(
        "composite/graph",
        json={"graphs": [{"graphId": "1", "compositeRequest": nodes}, {"graphId": "2", "compositeRequest": nodes}]},
    )
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "LIMIT_EXCEEDED"
    query = salesforce_client.post(
        "composite/graph",
        json={"graphs": [{"graphId": "1", "compositeRequest": [_sub("GET", "query?q=SELECT+Id+FROM+Account", "q")]}]},
    ).json()["graphs"][0]
    assert query["isSuccessful"] is False


def _graph(graph_id, nodes):
    return {"graphId": graph_id, "compositeRequest": nodes}


def _refused(answer, detail):
    assert answer.status_code == 400, answer.text
    [error] = answer.json()
    assert error["errorCode"] == "LIMIT_EXCEEDED" and detail in error["message"]


def test_graph_count_limit_is_75_graphs_per_request(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    graphs = [_graph(f"g{i}", [_sub("POST", "sobjects/Account", "a", {"Name": f"A{i}"})]) for i in range(76)]
    _refused(salesforce_client.post("composite/graph", json={"graphs": graphs}), "76 graphs exceed the maximum of 75")
    assert app.records("Account") == []
    answer = salesforce_client.post("composite/graph", json={"graphs": graphs[:75]})
    assert answer.status_code == 200 and all(g["isSuccessful"] for g in answer.json()["graphs"])
    assert len(app.records("Account")) == 75


def test_graph_node_limit_is_500_per_request(salesforce_client, salesforce_sandbox):
    nodes = [_sub("POST", "sobjects/Lead", f"n{i}", {"LastName": "L", "Company": "C"}) for i in range(500)]
    extra = _graph("extra", [_sub("POST", "sobjects/Lead", "x", {"LastName": "L", "Company": "C"})])
    _refused(
        salesforce_client.post("composite/graph", json={"graphs": [_graph("big", nodes), extra]}),
        "501 nodes exceed the maximum of 500",
    )
    assert salesforce_sandbox.app.records("Lead") == []
    answer = salesforce_client.post("composite/graph", json={"graphs": [_graph("big", nodes)]})
    assert answer.json()["graphs"][0]["isSuccessful"] is True
    assert len(salesforce_sandbox.app.records("Lead")) == 500


def test_graph_depth_limit_is_15(salesforce_client, salesforce_sandbox):
    def chain(length):
        nodes = [_sub("POST", "sobjects/Account", "n0", {"Name": "Root"})]
        for i in range(1, length):
            nodes.append(_sub("POST", "sobjects/Account", f"n{i}", {"Name": f"N{i}", "ParentId": f"@{{n{i - 1}.id}}"}))
        return nodes

    _refused(
        salesforce_client.post("composite/graph", json={"graphs": [_graph("deep", chain(16))]}),
        "graph deep has a depth of 16, more than the maximum of 15",
    )
    assert salesforce_sandbox.app.records("Account") == []
    # Independent nodes do not add depth: 16 nodes that all refer to the root are 2 deep.
    wide = chain(1) + [
        _sub("POST", "sobjects/Account", f"w{i}", {"Name": f"W{i}", "ParentId": "@{n0.id}"}) for i in range(16)
    ]
    graphs = [_graph("ok", chain(15)), _graph("wide", wide)]
    answer = salesforce_client.post("composite/graph", json={"graphs": graphs})
    assert [g["isSuccessful"] for g in answer.json()["graphs"]] == [True, True]
    assert len(salesforce_sandbox.app.records("Account")) == 15 + 17


def test_graph_different_nodes_limit_is_15(salesforce_client, salesforce_sandbox):
    created = {
        "Account": {"Name": "A"},
        "Contact": {"LastName": "C"},
        "Lead": {"LastName": "L", "Company": "C"},
        "Opportunity": {"Name": "O", "StageName": "Prospecting", "CloseDate": "2025-01-01"},
        "Product2": {"Name": "P"},
        "Pricebook2": {"Name": "B"},
        "Task": {"Subject": "T"},
    }
    # Different object or method: 7 POST + 7 GET + PATCH Account = 15 different nodes; repeats do not count.
    nodes = [_sub("POST", f"sobjects/{name}", f"new{name}", body) for name, body in created.items()]
    nodes += [_sub("GET", f"sobjects/{name}/@{{new{name}.id}}", f"get{name}") for name in created]
    nodes += [
        _sub("PATCH", "sobjects/Account/@{newAccount.id}", "rename", {"Name": "A2"}),
        _sub("POST", "sobjects/Account", "again", {"Name": "A3"}),
    ]
    answer = salesforce_client.post("composite/graph", json={"graphs": [_graph("g", nodes)]})
    assert answer.status_code == 200 and answer.json()["graphs"][0]["isSuccessful"] is True, answer.text
    app = salesforce_sandbox.app
    assert sorted(a["Name"] for a in app.records("Account")) == ["A2", "A3"]

    before = {name: len(app.records(name)) for name in created}
    sixteenth = _sub("DELETE", "sobjects/Lead/@{newLead.id}", "dropLead")
    _refused(
        salesforce_client.post("composite/graph", json={"graphs": [_graph("g", [*nodes, sixteenth])]}),
        "16 different nodes (API version, HTTP method and object) exceed the maximum of 15",
    )
    # Across graphs too: the limit is per request.
    split = [_graph("a", nodes), _graph("b", [_sub("POST", "sobjects/Lead", "l", created["Lead"]), sixteenth])]
    _refused(salesforce_client.post("composite/graph", json={"graphs": split}), "16 different nodes")
    assert {name: len(app.records(name)) for name in created} == before


def test_graph_processing_halts_after_14_failed_graphs(salesforce_client, salesforce_sandbox):
    bad = [_graph(f"bad{i}", [_sub("POST", "sobjects/Contact", "c", {"FirstName": "No last name"})]) for i in range(15)]
    good = [_graph(f"good{i}", [_sub("POST", "sobjects/Account", "a", {"Name": f"G{i}"})]) for i in range(2)]
    # 14 failures: the graphs after them still run.
    answer = salesforce_client.post("composite/graph", json={"graphs": bad[:14] + good[:1]})
    assert [g["isSuccessful"] for g in answer.json()["graphs"]] == [False] * 14 + [True]
    assert [a["Name"] for a in salesforce_sandbox.app.records("Account")] == ["G0"]

    # The 15th failure halts the rest, which are not run.
    answer = salesforce_client.post("composite/graph", json={"graphs": [good[1], *bad, good[0]]})
    assert answer.status_code == 200
    graphs = answer.json()["graphs"]
    assert [g["isSuccessful"] for g in graphs] == [True] + [False] * 16
    assert graphs[15]["graphResponse"]["compositeResponse"][0]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    [halted] = graphs[16]["graphResponse"]["compositeResponse"]
    assert halted["httpStatusCode"] == 400 and halted["referenceId"] == "a"
    assert halted["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert sorted(a["Name"] for a in salesforce_sandbox.app.records("Account")) == ["G0", "G1"]


# --------------------------------------------------------------------------- sObject Collections


def test_collection_create_mixed_types_with_per_record_errors(salesforce_client, salesforce_sandbox):
    answer = salesforce_client.post(
        "composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "A"},
                {"attributes": {"type": "Contact"}, "FirstName": "no last name"},
                {"attributes": {"type": "Lead"}, "LastName": "L", "Company": "C"},
                {"attributes": {"type": "BigCommerce_Cart_Abandoned__e"}, "CartId__c": "s:1", "CartValue__c": 120},
            ],
        },
    )
    assert answer.status_code == 200
    results = answer.json()
    assert [r["success"] for r in results] == [True, False, True, True]
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    assert results[3]["id"].startswith("e00") and results[3]["errors"] == []
    assert len(salesforce_sandbox.app.records("Account")) == 1


def test_collection_all_or_none(salesforce_client, salesforce_sandbox):
    results = salesforce_client.post(
        "composite/sobjects",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "A"},
                {"attributes": {"type": "Account"}, "Name": "B", "Customer_Tier__c": "Wood"},
            ],
        },
    ).json()
    assert results[0] == {
        "success": False,
        "errors": [
            {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was using "
                "AllOrNone header",
                "fields": [],
            }
        ],
    }
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert salesforce_sandbox.app.records("Account") == []


def test_collection_limits_and_request_level_errors(salesforce_client):
    many = [{"attributes": {"type": "Account"}, "Name": str(i)} for i in range(201)]
    answer = salesforce_client.post("composite/sobjects", json={"records": many})
    assert answer.status_code == 400
    assert answer.json() == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
        }
    ]
    unknown = salesforce_client.post(
        "composite/sobjects", json={"records": [{"attributes": {"type": "Account"}, "Name": "x", "Bogus": 1}]}
    )
    assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALID_FIELD"


def test_collection_update_upsert_get_delete(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    first, second = app.records_create("Product2", [{"Name": "P1"}, {"Name": "P2"}])
    updated = salesforce_client.patch(
        "composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Product2"}, "Id": first, "Name": "P1b"},
                {"attributes": {"type": "Product2"}, "Name": "no id"},
            ]
        },
    ).json()
    assert updated[0] == {"id": first, "success": True, "errors": []}
    assert updated[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"

    upserted = salesforce_client.patch(
        "composite/sobjects/Product2/BigCommerceProductId__c",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Product2"}, "BigCommerceProductId__c": "s:1:0", "Name": "Created"},
                {"attributes": {"type": "Product2"}, "BigCommerceProductId__c": "s:2:0", "Name": "Twice"},
                {"attributes": {"type": "Product2"}, "BigCommerceProductId__c": "s:2:0", "Name": "Twice"},
            ],
        },
    ).json()
    assert upserted[0]["created"] is True and upserted[0]["success"] is True
    assert [r["errors"][0]["statusCode"] for r in upserted[1:]] == ["DUPLICATE_EXTERNAL_ID"] * 2
    again = salesforce_client.patch(
        "composite/sobjects/Product2/BigCommerceProductId__c",
        json={"records": [{"attributes": {"type": "Product2"}, "BigCommerceProductId__c": "s:1:0", "Name": "Again"}]},
    ).json()
    assert again == [{"id": upserted[0]["id"], "success": True, "errors": [], "created": False}]

    fetched = salesforce_client.get(
        "composite/sobjects/Product2", params={"ids": f"{first},{second}", "fields": "Id,Name"}
    ).json()
    assert [(r["Id"], r["Name"]) for r in fetched] == [(first, "P1b"), (second, "P2")]
    deleted = salesforce_client.delete("composite/sobjects", params={"ids": f"{first},{second}", "allOrNone": "false"})
    assert [r["success"] for r in deleted.json()] == [True, True]
    twice = salesforce_client.delete("composite/sobjects", params={"ids": first}).json()
    assert twice[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


# --------------------------------------------------------------------------- platform events


def test_platform_event_publish_and_validation(salesforce_client, salesforce_sandbox):
    answer = salesforce_client.post(
        "sobjects/BigCommerce_Order_Shipped__e/",
        json={"EventType__c": "shipped", "BigCommerceOrderId__c": "s:100", "OrderDate__c": "2025-01-02T03:04:05Z"},
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["id"].startswith("e00") and len(body["id"]) == 18
    assert (body["success"], body["errors"]) == (True, [])
    [event] = salesforce_sandbox.app.platform_events()
    assert event["name"] == "BigCommerce_Order_Shipped__e"
    assert event["fields"]["OrderDate__c"] == "2025-01-02T03:04:05.000+0000"
    assert event["fields"]["ReplayId"] == "1"
    control = salesforce_client.session.get(f"{salesforce_client.url}/__sandbox__/events").json()
    assert [item["id"] for item in control] == [body["id"]]

    unknown = salesforce_client.post("sobjects/BigCommerce_Order_Shipped__e/", json={"Nope__c": 1})
    assert unknown.status_code == 400
    assert unknown.json() == [
        {
            "message": "No such column 'Nope__c' on sobject of type BigCommerce_Order_Shipped__e",
            "errorCode": "INVALID_FIELD",
        }
    ]
    bad_type = salesforce_client.post("sobjects/BigCommerce_Cart_Abandoned__e/", json={"CartValue__c": "many"})
    assert bad_type.status_code == 400 and bad_type.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    query = salesforce_client.get("query", params={"q": "SELECT Id FROM BigCommerce_Order_Shipped__e"})
    assert query.status_code == 400 and query.json()[0]["errorCode"] == "INVALID_TYPE"


def test_platform_event_enqueued_notice(salesforce_client, salesforce_sandbox):
    salesforce_sandbox.app.platform_event_enqueued = True
    body = salesforce_client.post("sobjects/BigCommerce_Order_Created__e/", json={"EventType__c": "x"}).json()
    assert body["success"] is True and body["errors"][0]["statusCode"] == "OPERATION_ENQUEUED"


# --------------------------------------------------------------------------- composite of collections (backfill)


def _collection(method, url, reference, records):
    return _sub(method, url, reference, {"allOrNone": False, "records": records})


def _accounts(index):
    records = [{"attributes": {"type": "Account"}, "Name": f"A{index}"}]
    return _collection("POST", "composite/sobjects", f"accounts{index}", records)


def test_composite_takes_at_most_5_collection_or_query_subrequests(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    detail = "at most 5 query and sObject Collections subrequests"
    _refused(salesforce_client.post("composite", json={"compositeRequest": [_accounts(i) for i in range(6)]}), detail)
    queries = [_sub("GET", "query?q=SELECT+Id+FROM+Account", f"q{i}") for i in range(3)]
    mixed = [_accounts(i) for i in range(3)] + queries
    _refused(salesforce_client.post("composite", json={"compositeRequest": mixed}), detail)
    delete = _sub("DELETE", "composite/sobjects?ids=001000000000001AAA&allOrNone=false", "gone")
    _refused(
        salesforce_client.post("composite", json={"compositeRequest": [*(_accounts(i) for i in range(5)), delete]}),
        detail,
    )
    assert app.records("Account") == []  # a refused request writes nothing

    # Five collections and twenty single-record subrequests: the most one composite request takes.
    leads = [_sub("POST", "sobjects/Lead", f"lead{i}", {"LastName": "L", "Company": "C"}) for i in range(20)]
    before = app.api_calls_counted()
    answer = salesforce_client.post("composite", json={"compositeRequest": [*(_accounts(i) for i in range(5)), *leads]})
    assert answer.status_code == 200
    assert all(response["httpStatusCode"] < 300 for response in answer.json()["compositeResponse"])
    assert len(app.records("Account")) == 5 and len(app.records("Lead")) == 20
    assert app.api_calls_counted() - before == 1


def test_composite_collections_run_in_order_with_relationships_by_external_id(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    ext = "BigCommerceCustomerId__c"
    answer = salesforce_client.post(
        "composite",
        json={
            "allOrNone": False,
            "compositeRequest": [
                _collection(
                    "PATCH",
                    f"composite/sobjects/Account/{ext}",
                    "accounts",
                    [
                        {"attributes": {"type": "Account"}, ext: "s:1", "Name": "One"},
                        {"attributes": {"type": "Account"}, ext: "s:2", "Name": "Two"},
                    ],
                ),
                # The Contacts name their Account by its external id: the Accounts written by the
                # subrequest before are there (subrequests run in order), no id needs to come back.
                _collection(
                    "PATCH",
                    f"composite/sobjects/Contact/{ext}",
                    "contacts",
                    [
                        {"attributes": {"type": "Contact"}, ext: "s:1", "LastName": "One", "Account": {ext: "s:1"}},
                        {
                            "attributes": {"type": "Contact"},
                            ext: "s:2",
                            "LastName": "Two",
                            "Email": "two@localhost",
                            "Account": {ext: "s:2"},
                        },
                        {"attributes": {"type": "Contact"}, ext: "s:3", "LastName": "Three", "Account": {ext: "s:3"}},
                    ],
                ),
            ],
        },
    )
    assert answer.status_code == 200
    accounts, contacts = (response["body"] for response in answer.json()["compositeResponse"])
    assert [(result["success"], result["created"]) for result in accounts] == [(True, True), (True, True)]
    assert contacts[0]["success"] is True and contacts[0]["created"] is True
    # Per-record errors use statusCode; each record stands alone.
    assert contacts[1]["success"] is False and contacts[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert contacts[2]["errors"][0]["statusCode"] == "INVALID_FIELD" and "s:3" in contacts[2]["errors"][0]["message"]
    [contact] = app.records("Contact")
    assert contact["AccountId"] == accounts[0]["id"] and contact["BigCommerceCustomerId__c"] == "s:1"
    assert len(app.records("Account")) == 2
