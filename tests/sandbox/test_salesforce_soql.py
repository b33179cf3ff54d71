"""The SOQL subset of the Salesforce stand-in: results, paging and error answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest


@pytest.fixture
def data(salesforce_sandbox):
    app = salesforce_sandbox.app
    acme, globex = app.records_create("Account", [{"Name": "Acme"}, {"Name": "Globex", "Phone": "555"}])
    contacts = app.records_create(
        "Contact",
        [
            {"LastName": "O'Brien", "FirstName": "Pat", "AccountId": acme, "Email": "pat@example.com"},
            {"LastName": "smith", "FirstName": "Al", "AccountId": acme},
            {"LastName": "Zed", "AccountId": globex},
            {"LastName": "Alone"},
        ],
    )
    today = datetime.now(UTC).date()
    opportunities = app.records_create(
        "Opportunity",
        [
            {
                "Name": "Old",
                "StageName": "Closed Won",
                "CloseDate": (today - timedelta(days=40)).isoformat(),
                "Amount": 500,
                "AccountId": acme,
            },
            {
                "Name": "Recent",
                "StageName": "Prospecting",
                "CloseDate": (today - timedelta(days=2)).isoformat(),
                "Amount": 150.5,
                "AccountId": acme,
            },
            {"Name": "Today", "StageName": "Prospecting", "CloseDate": today.isoformat(), "AccountId": globex},
        ],
    )
    return {"acme": acme, "globex": globex, "contacts": contacts, "opportunities": opportunities}


def _query(client, soql, path="query"):
    return client.get(path, params={"q": soql})


def _names(answer, field="Name"):
    assert answer.status_code == 200, answer.text
    return [record[field] for record in answer.json()["records"]]


def test_parent_relationship_fields_and_nulls(salesforce_client, data):
    answer = _query(
        salesforce_client, "SELECT Id, LastName, Account.Name, Account.Owner.Name FROM Contact ORDER BY LastName"
    )
    records = answer.json()["records"]
    assert [r["LastName"] for r in records] == ["Alone", "O'Brien", "smith", "Zed"]
    assert records[0]["Account"] is None
    assert records[1]["Account"]["Name"] == "Acme"
    assert records[1]["Account"]["attributes"]["type"] == "Account"
    assert records[1]["Account"]["Owner"]["Name"] == "Integration User"
    assert list(records[1]) == ["attributes", "Id", "LastName", "Account"]


def test_where_operators(salesforce_client, data):
    def names(where):
        return sorted(_names(_query(salesforce_client, f"SELECT Name FROM Opportunity WHERE {where}")))

    assert names("Amount > 200") == ["Old"]
    assert names("Amount >= 150.5 AND Amount <= 500") == ["Old", "Recent"]
    assert names("Amount = null") == ["Today"]
    assert names("Amount != null") == ["Old", "Recent"]
    assert names("Amount <> 500") == ["Recent", "Today"]  # != keeps nulls, as in SOQL
    assert names("StageName IN ('Closed Won', 'Closed Lost')") == ["Old"]
    assert names("StageName NOT IN ('Closed Won')") == ["Recent", "Today"]
    assert names("Name LIKE 'r%'") == ["Recent"]  # case-insensitive
    assert names("Name LIKE '_ld'") == ["Old"]
    assert names("NOT Name = 'Old'") == ["Recent", "Today"]
    assert names("(Amount > 200 OR Name = 'Today') AND StageName != 'Closed Lost'") == ["Old", "Today"]
    assert names("Account.Name = 'acme'") == ["Old", "Recent"]
    assert names(f"AccountId = '{data['globex'][:15]}'") == ["Today"]  # 15-character ids match
    assert names("IsClosed = true") == ["Old"]


def test_string_escapes(salesforce_client, data):
    assert _names(
        _query(salesforce_client, r"SELECT LastName FROM Contact WHERE LastName = 'O\'Brien'"), "LastName"
    ) == ["O'Brien"]


def test_date_literals(salesforce_client, data):
    def names(where):
        return sorted(_names(_query(salesforce_client, f"SELECT Name FROM Opportunity WHERE {where}")))

    today = datetime.now(UTC).date()
    assert names("CloseDate = TODAY") == ["Today"]
    assert names("CloseDate < TODAY") == ["Old", "Recent"]
    assert names("CloseDate = LAST_N_DAYS:7") == ["Recent", "Today"]
    assert names("CloseDate >= LAST_N_DAYS:30") == ["Recent", "Today"]
    assert names(f"CloseDate > {(today - timedelta(days=3)).isoformat()}") == ["Recent", "Today"]
    assert names("CloseDate = YESTERDAY") == []
    assert names("CreatedDate = TODAY") == ["Old", "Recent", "Today"]
    assert names(f"CreatedDate > {(today - timedelta(days=1)).isoformat()}T00:00:00Z") == ["Old", "Recent", "Today"]


def test_order_limit_offset_nulls(salesforce_client, data):
    soql = "SELECT Name FROM Opportunity ORDER BY Amount DESC NULLS LAST, Name"
    assert _names(_query(salesforce_client, soql)) == ["Old", "Recent", "Today"]
    assert _names(_query(salesforce_client, "SELECT Name FROM Opportunity ORDER BY Amount")) == [
        "Today",
        "Recent",
        "Old",
    ]
    paged = _query(salesforce_client, "SELECT Name FROM Opportunity ORDER BY Name LIMIT 1 OFFSET 1")
    assert _names(paged) == ["Recent"] and paged.json()["totalSize"] == 1
    too_far = _query(salesforce_client, "SELECT Name FROM Opportunity OFFSET 2001")
    assert too_far.status_code == 400
    assert too_far.json() == [
        {"message": "Maximum SOQL offset allowed is 2000", "errorCode": "NUMBER_OUTSIDE_VALID_RANGE"}
    ]


def test_count_and_aggregates(salesforce_client, data):
    counted = _query(salesforce_client, "SELECT COUNT() FROM Contact WHERE AccountId != null")
    assert counted.json() == {"totalSize": 3, "done": True, "records": []}
    aggregate = _query(salesforce_client, "SELECT COUNT(Id), SUM(Amount) total FROM Opportunity").json()
    assert aggregate["records"] == [{"attributes": {"type": "AggregateResult"}, "expr0": 3, "total": 650.5}]


def test_child_subquery(salesforce_client, data):
    answer = _query(
        salesforce_client,
        "SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName) FROM Account ORDER BY Name",
    ).json()
    acme, globex = answer["records"]
    assert [c["LastName"] for c in acme["Contacts"]["records"]] == ["O'Brien", "smith"]
    assert acme["Contacts"]["totalSize"] == 2 and acme["Contacts"]["done"] is True
    assert [c["LastName"] for c in globex["Contacts"]["records"]] == ["Zed"]


def test_query_all_alias_and_small_batch_size(salesforce_client, salesforce_sandbox):
    salesforce_sandbox.app.records_create("Account", [{"Name": f"A{i:03d}"} for i in range(450)])
    first = salesforce_client.get(
        "queryAll",
        params={"q": "SELECT Name FROM Account ORDER BY Name"},
        headers={"Sforce-Query-Options": "batchSize=200"},
    ).json()
    assert len(first["records"]) == 200 and first["nextRecordsUrl"].endswith("-200")
    path = first["nextRecordsUrl"].split("/v62.0/", 1)[1]
    second = salesforce_client.get(path).json()
    third = salesforce_client.get(second["nextRecordsUrl"].split("/v62.0/", 1)[1]).json()
    assert third["done"] is True and [len(page["records"]) for page in (first, second, third)] == [200, 200, 50]
    bad = salesforce_client.get("query/01gNOPE-2000")
    assert bad.status_code == 400
    assert bad.json() == [{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}]


@pytest.mark.parametrize(
    ("soql", "code", "detail"),
    [
        ("SELECT Id FROM", "MALFORMED_QUERY", "unexpected token: <EOF>"),
        ("SELECT FROM Account", "MALFORMED_QUERY", "unexpected token: 'FROM'"),
        (
            "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE", "sObject type 'Nope__c' is not supported."),
        ("SELECT Foo FROM Account", "INVALID_FIELD", "No such column 'Foo' on entity 'Account'."),
        ("SELECT Nope.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Nope' in field path."),
        (
            "SELECT Id FROM Opportunity WHERE CloseDate = '2025-01-01'",
            "INVALID_FIELD",
            "value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Account WHERE Name = 5",
            "INVALID_FIELD",
            "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
        ),
        ("SELECT Id FROM Account WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc"),
        ("SELECT Id FROM Account GROUP BY Name", "MALFORMED_QUERY", "unexpected token: 'GROUP'"),
    ],
)
def test_query_errors(salesforce_client, soql, code, detail):
    answer = _query(salesforce_client, soql)
    assert answer.status_code == 400
    [error] = answer.json()
    assert error["errorCode"] == code
    assert error["message"].startswith("\n") and "ERROR at Row:1:Column:" in error["message"]
    assert detail in error["message"]


def test_error_message_points_at_the_column(salesforce_client):
    [error] = _query(salesforce_client, "SELECT Foo FROM Account").json()
    assert error["message"].startswith("\nSELECT Foo FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column")


def test_missing_query_string(salesforce_client):
    answer = salesforce_client.get("query")
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_objects_named_like_keywords(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    account = app.record_create("Account", {"Name": "Buyer"})
    order = app.record_create("Order", {"AccountId": account, "EffectiveDate": "2025-01-01", "Status": "Draft"})
    answer = _query(salesforce_client, "SELECT Id, OrderNumber, Account.Name FROM Order WHERE Status = 'Draft'")
    records = answer.json()["records"]
    assert [(r["Id"], r["Account"]["Name"]) for r in records] == [(order, "Buyer")]
    assert records[0]["OrderNumber"].isdigit()


@pytest.fixture
def orders_data(salesforce_sandbox):
    """Two draft orders of two accounts on the standard price book, with two and one order products."""
    app = salesforce_sandbox.app
    standard = app.records("Pricebook2")[0]["Id"]
    product = app.record_create("Product2", {"Name": "Widget", "IsActive": True})
    entry = app.record_create(
        "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 4, "IsActive": True}
    )
    accounts = app.records_create("Account", [{"Name": "Zeta"}, {"Name": "Alpha"}])
    orders = [
        app.record_create(
            "Order",
            {
                "AccountId": account,
                "EffectiveDate": effective,
                "Status": "Draft",
                "Pricebook2Id": standard,
                "BigCommerceOrderId__c": f"sandbox:{number}",
            },
        )
        for account, effective, number in zip(accounts, ("2025-01-02", "2025-01-01"), (100, 101), strict=True)
    ]
    items = [
        app.record_create("OrderItem", {"OrderId": order, "PricebookEntryId": entry, "Quantity": qty, "UnitPrice": 4})
        for order, qty in ((orders[0], 1), (orders[0], 3), (orders[1], 2))
    ]
    numbers = [app.record("Order", order)["OrderNumber"] for order in orders]
    return {"orders": orders, "items": items, "numbers": numbers}


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Order WHERE Status = 'Draft' ORDER BY EffectiveDate",
        "select id from order where status = 'Draft' order by effectivedate asc nulls first",
        "SELECT Id FROM ORDER WHERE TotalAmount > 0 ORDER BY EffectiveDate LIMIT 5 OFFSET 0",
        "SELECT Id FROM Order WHERE Order.Status = 'Draft' AND Account.Name LIKE '%a' ORDER BY Account.Name",
        "SELECT Id FROM Order\nWHERE Status = 'Draft'\nORDER BY EffectiveDate",
    ],
)
def test_from_order_with_where_and_order_by(salesforce_client, orders_data, soql):
    answer = _query(salesforce_client, soql)
    assert answer.status_code == 200, answer.text
    # Both orders, the one that starts first (and whose account sorts first) first.
    assert [record["Id"] for record in answer.json()["records"]] == orders_data["orders"][::-1]


def test_order_relationship_fields_on_order_items(salesforce_client, orders_data):
    soql = (
        "SELECT Id, Quantity, Order.OrderNumber, Order.Account.Name FROM OrderItem "
        "WHERE Order.BigCommerceOrderId__c IN ('sandbox:100', 'sandbox:101') AND Order.Status = 'Draft' "
        "ORDER BY Order.OrderNumber DESC, Quantity"
    )
    answer = _query(salesforce_client, soql)
    assert answer.status_code == 200, answer.text
    records = answer.json()["records"]
    first, second = orders_data["numbers"]
    assert [(r["Order"]["OrderNumber"], r["Quantity"], r["Order"]["Account"]["Name"]) for r in records] == [
        (second, 2.0, "Alpha"),
        (first, 1.0, "Zeta"),
        (first, 3.0, "Zeta"),
    ]
    assert records[0]["Order"]["attributes"]["type"] == "Order"
    only = _query(salesforce_client, "SELECT Id FROM OrderItem WHERE Order.BigCommerceOrderId__c = 'sandbox:101'")
    assert [r["Id"] for r in only.json()["records"]] == [orders_data["items"][2]]


def test_order_queries_in_composite_subqueries_and_children(salesforce_client, orders_data):
    base = f"/services/data/v{salesforce_client.version}/query?q="
    body = {
        "compositeRequest": [
            {
                "method": "GET",
                "url": base
                + quote("SELECT Id, (SELECT Quantity FROM OrderItems ORDER BY Quantity) FROM Order ORDER BY Id"),
                "referenceId": "orders",
            },
            {
                "method": "GET",
                "url": base + quote("SELECT COUNT() FROM OrderItem WHERE Order.Status = 'Draft'"),
                "referenceId": "count",
            },
        ]
    }
    answer = salesforce_client.post("composite", json=body)
    assert answer.status_code == 200, answer.text
    orders, count = answer.json()["compositeResponse"]
    assert orders["httpStatusCode"] == 200 and count["httpStatusCode"] == 200
    children = {
        record["Id"]: [item["Quantity"] for item in record["OrderItems"]["records"]]
        for record in orders["body"]["records"]
    }
    assert children == {orders_data["orders"][0]: [1.0, 3.0], orders_data["orders"][1]: [2.0]}
    assert count["body"]["totalSize"] == 3


def test_simple_salesforce_query_all_from_order(salesforce_client, orders_data):
    sf = salesforce_client.simple_salesforce()
    result = sf.query_all("SELECT Id, OrderNumber FROM Order WHERE Status = 'Draft' ORDER BY OrderNumber")
    assert [record["OrderNumber"] for record in result["records"]] == orders_data["numbers"]
