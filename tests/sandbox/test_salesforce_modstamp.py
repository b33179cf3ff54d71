"""What a poller of Salesforce changes relies on: audit stamps, SystemModstamp queries, acting users.

Salesforce stamps CreatedDate, LastModifiedDate and SystemModstamp in whole seconds (``.000``) and ignores
milliseconds when it compares datetimes; every write (REST, sObject Collections, upsert, Bulk) sets
LastModifiedById to the user making it. The control API lets a test change a record as another user
(a service agent), optionally with a SystemModstamp from the past (a transaction that commits late).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import time_machine

from tests.sandbox.conftest import draft_order_create

T0 = datetime(2025, 6, 1, 12, 0, 0, 750_000, tzinfo=UTC)
POLL = (
    "SELECT Id, Status, TrackingNumber__c, Shipping_Carrier__c, SystemModstamp, LastModifiedById FROM Order "
    "WHERE SystemModstamp > {since} ORDER BY SystemModstamp, Id LIMIT {limit}"
)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def app(salesforce_sandbox):
    return salesforce_sandbox.app


@pytest.fixture
def control(salesforce_sandbox):
    session = requests.Session()
    session.trust_env = False
    session.verify = salesforce_sandbox.ca_path

    def call(method: str, action: str, body: Any = None) -> requests.Response:
        return session.request(method, f"{salesforce_sandbox.url}/__sandbox__/{action}", json=body, timeout=10)

    return call


def _at(clock, hour: int, minute: int, second: int, micro: int = 0) -> None:
    clock.move_to(datetime(2025, 6, 1, hour, minute, second, micro, tzinfo=UTC))


def _query(client, soql: str) -> dict[str, Any]:
    answer = client.get("query", params={"q": soql})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _stamps(record: dict[str, Any]) -> tuple[str, str, str]:
    return record["CreatedDate"], record["LastModifiedDate"], record["SystemModstamp"]


# ---------------------------------------------------------------- stamps on every write path
def test_rest_create_and_update_stamp_whole_seconds_by_the_integration_user(app, salesforce_client, clock):
    created = salesforce_client.post("sobjects/Account", json={"Name": "Acme"})
    assert created.status_code == 201
    account_id = created.json()["id"]
    record = app.record("Account", account_id)
    assert _stamps(record) == ("2025-06-01T12:00:00.000+0000",) * 3
    assert record["CreatedById"] == record["LastModifiedById"] == app.org.user_id

    _at(clock, 12, 0, 7, 999_000)
    assert salesforce_client.patch(f"sobjects/Account/{account_id}", json={"Phone": "555"}).status_code == 204
    record = app.record("Account", account_id)
    assert _stamps(record) == (
        "2025-06-01T12:00:00.000+0000",
        "2025-06-01T12:00:07.000+0000",
        "2025-06-01T12:00:07.000+0000",
    )


def test_collections_upsert_and_composite_updates_stamp_too(app, salesforce_client, clock):
    orders = draft_order_create(app), draft_order_create(app)
    _at(clock, 12, 1, 0, 400_000)
    answer = salesforce_client.patch(
        "composite/sobjects",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Order"}, "id": orders[0]["order"], "TrackingNumber__c": "1Z1"},
                {"attributes": {"type": "Order"}, "id": orders[1]["order"], "TrackingNumber__c": "1Z2"},
            ],
        },
    )
    assert answer.status_code == 200 and all(row["success"] for row in answer.json()), answer.text
    for ids in orders:
        assert app.record("Order", ids["order"])["SystemModstamp"] == "2025-06-01T12:01:00.000+0000"

    _at(clock, 12, 2, 0)
    answer = salesforce_client.patch(
        "sobjects/Order/BigCommerceOrderId__c/100", json={"AccountId": orders[0]["account"]} | _order_fields()
    )
    assert answer.status_code == 201, answer.text
    upserted = app.record("Order", answer.json()["id"])
    assert _stamps(upserted) == ("2025-06-01T12:02:00.000+0000",) * 3
    _at(clock, 12, 3, 0)
    answer = salesforce_client.patch("sobjects/Order/BigCommerceOrderId__c/100", json={"TrackingNumber__c": "9400"})
    assert answer.status_code == 200, answer.text
    assert app.record("Order", upserted["Id"])["SystemModstamp"] == "2025-06-01T12:03:00.000+0000"
    assert app.record("Order", upserted["Id"])["LastModifiedById"] == app.org.user_id


def _order_fields() -> dict[str, Any]:
    return {"EffectiveDate": "2025-06-01", "Status": "Draft"}


def test_a_new_order_product_stamps_its_order_as_the_total_changes(app, salesforce_client, clock):
    ids = draft_order_create(app)
    before = app.record("Order", ids["order"])
    assert before["TotalAmount"] == 10.0 and before["SystemModstamp"] == "2025-06-01T12:00:00.000+0000"
    _at(clock, 12, 5, 0)
    answer = salesforce_client.post(
        "sobjects/OrderItem",
        json={"OrderId": ids["order"], "PricebookEntryId": ids["entry"], "Quantity": 2, "UnitPrice": 10},
    )
    assert answer.status_code == 201, answer.text
    after = app.record("Order", ids["order"])
    assert after["TotalAmount"] == 30.0
    assert (after["LastModifiedDate"], after["SystemModstamp"]) == ("2025-06-01T12:05:00.000+0000",) * 2
    assert after["LastModifiedById"] == app.org.user_id


def test_bulk_updates_stamp_too(app, salesforce_client, clock):
    ids = draft_order_create(app)
    _at(clock, 12, 9, 0)
    job = salesforce_client.post(
        "jobs/ingest", json={"object": "Order", "operation": "update", "contentType": "CSV", "lineEnding": "LF"}
    ).json()
    upload = salesforce_client.request(
        "PUT",
        f"jobs/ingest/{job['id']}/batches",
        data=f"Id,TrackingNumber__c\n{ids['order']},BULK1\n",
        headers={"Content-Type": "text/csv"},
    )
    assert upload.status_code == 201
    assert salesforce_client.patch(f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).status_code == 200
    deadline = time.monotonic() + 10
    while app.record("Order", ids["order"])["TrackingNumber__c"] != "BULK1":
        assert time.monotonic() < deadline, "the bulk job did not run"
        time.sleep(0.02)
    assert app.record("Order", ids["order"])["SystemModstamp"] == "2025-06-01T12:09:00.000+0000"


# ---------------------------------------------------------------- the poll query
def test_poll_query_orders_by_stamp_then_id_and_pages_with_next_records_url(app, salesforce_client, control, clock):
    orders = [draft_order_create(app)["order"] for _ in range(5)]  # all stamped 12:00:00
    _at(clock, 12, 0, 20)
    app.record_update_as("Order", orders[3], {"TrackingNumber__c": "B"}, user_id=app.org.user_id)
    _at(clock, 12, 0, 30)
    app.record_update_as("Order", orders[1], {"TrackingNumber__c": "A"}, user_id=app.org.user_id)
    assert control("POST", "settings", {"page_size": 2}).status_code == 200

    used_before = app.api_used
    first = salesforce_client.get("query", params={"q": POLL.format(since="2025-06-01T12:00:00Z", limit=10)})
    assert first.status_code == 200
    body = first.json()
    assert (body["totalSize"], body["done"], len(body["records"])) == (2, True, 2)
    # The stamp orders first (12:00:20 before 12:00:30), whatever the ids say.
    assert [r["Id"] for r in body["records"]] == [orders[3], orders[1]]
    assert [r["SystemModstamp"] for r in body["records"]] == [
        "2025-06-01T12:00:20.000+0000",
        "2025-06-01T12:00:30.000+0000",
    ]
    assert first.headers["Sforce-Limit-Info"] == f"api-usage={used_before + 1}/15000"

    # Everything since before the orders were made: 5 rows in 3 pages of 2, each page one API request.
    since = "2025-06-01T11:59:59Z"
    page = _query(salesforce_client, POLL.format(since=since, limit=200))
    seen = list(page["records"])
    pages = 1
    while not page["done"]:
        assert page["nextRecordsUrl"].startswith("/services/data/v62.0/query/")
        answer = salesforce_client.session.get(
            salesforce_client.url + page["nextRecordsUrl"],
            headers={"Authorization": f"Bearer {salesforce_client.token}"},
            timeout=10,
        )
        assert answer.status_code == 200
        page = answer.json()
        seen += page["records"]
        pages += 1
    assert pages == 3 and page["totalSize"] == 5
    expected = sorted(
        [(app.record("Order", order)["SystemModstamp"], order) for order in orders]
    )  # ids sort case-sensitively, as Salesforce's do
    assert [(r["SystemModstamp"], r["Id"]) for r in seen] == expected
    assert [r["Id"] for r in seen] == [orders[0], orders[2], orders[4], orders[3], orders[1]]
    assert app.api_used == used_before + 1 + 3


def test_datetime_comparisons_ignore_milliseconds(app, salesforce_client, clock):
    _at(clock, 12, 0, 5, 300_000)
    order = draft_order_create(app)["order"]
    assert app.record("Order", order)["SystemModstamp"] == "2025-06-01T12:00:05.000+0000"

    def found(where: str) -> bool:
        records = _query(salesforce_client, f"SELECT Id FROM Order WHERE {where}")["records"]
        return [r["Id"] for r in records] == [order]

    assert not found("SystemModstamp > 2025-06-01T12:00:05.900Z")  # same second: equal, not greater
    assert found("SystemModstamp >= 2025-06-01T12:00:05.900Z")
    assert found("SystemModstamp = 2025-06-01T12:00:05.900Z")
    assert found("SystemModstamp > 2025-06-01T12:00:04.999Z")
    assert found("SystemModstamp > 2025-06-01T14:00:04+02:00")
    assert not found("SystemModstamp > 2025-06-01T14:00:05+02:00")


def test_keyset_condition_on_stamp_and_id_resumes_inside_a_second(app, salesforce_client, clock):
    orders = [draft_order_create(app)["order"] for _ in range(3)]  # same second
    stamp = "2025-06-01T12:00:00Z"
    where = f"SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > '{orders[0]}')"
    records = _query(salesforce_client, f"SELECT Id FROM Order WHERE {where} ORDER BY SystemModstamp, Id")["records"]
    assert [r["Id"] for r in records] == orders[1:]


def test_own_changes_are_filtered_by_last_modified_by_id(app, salesforce_client, clock):
    agent = app.user_create(first_name="Dana", last_name="Ship")
    mine, theirs = draft_order_create(app)["order"], draft_order_create(app)["order"]
    _at(clock, 12, 10, 0)
    app.record_update_as("Order", theirs, {"TrackingNumber__c": "1ZAGENT"}, user_id=agent)
    salesforce_client.patch(f"sobjects/Order/{mine}", json={"TrackingNumber__c": "1ZB2S"})
    soql = (
        "SELECT Id, TrackingNumber__c, LastModifiedById, LastModifiedBy.Name FROM Order "
        f"WHERE SystemModstamp > 2025-06-01T12:00:00Z AND LastModifiedById != '{app.org.user_id}'"
    )
    records = _query(salesforce_client, soql)["records"]
    assert [(r["Id"], r["TrackingNumber__c"], r["LastModifiedById"]) for r in records] == [(theirs, "1ZAGENT", agent)]
    assert records[0]["LastModifiedBy"]["Name"] == "Dana Ship"


# ---------------------------------------------------------------- the control API: users and changes as a user
def test_control_creates_a_user_and_changes_an_activated_order_as_that_user(app, salesforce_client, control, clock):
    ids = draft_order_create(app)
    assert salesforce_client.patch(f"sobjects/Order/{ids['order']}", json={"Status": "Activated"}).status_code == 204
    made = control("POST", "users", {"first_name": "Sam", "last_name": "Agent", "username": "sam@shop.example"})
    assert made.status_code == 201, made.text
    agent = made.json()["id"]
    assert made.json()["user"]["Username"] == "sam@shop.example" and made.json()["user"]["IsActive"] is True
    users = _query(salesforce_client, "SELECT Id, Name FROM User ORDER BY Name")["records"]
    assert [(u["Id"], u["Name"]) for u in users] == [(app.org.user_id, "Integration User"), (agent, "Sam Agent")]

    _at(clock, 12, 30, 15, 600_000)
    changed = control(
        "PATCH",
        f"records/Order/{ids['order']}",
        {"fields": {"TrackingNumber__c": "1Z999", "Shipping_Carrier__c": "ups"}, "user_id": agent},
    )
    assert changed.status_code == 200, changed.text
    record = changed.json()
    assert (record["TrackingNumber__c"], record["Shipping_Carrier__c"], record["Status"]) == (
        "1Z999",
        "ups",
        "Activated",
    )
    assert record["LastModifiedById"] == agent and record["CreatedById"] == app.org.user_id
    assert (record["LastModifiedDate"], record["SystemModstamp"]) == ("2025-06-01T12:30:15.000+0000",) * 2
    assert app.calls == [c for c in app.calls if c["path"].startswith("/services/")]  # the control call is not logged


def test_control_change_refused_like_the_api_and_without_permission(app, salesforce_client, control, clock):
    ids = draft_order_create(app)
    salesforce_client.patch(f"sobjects/Order/{ids['order']}", json={"Status": "Activated"})
    clerk = control("POST", "users", {"first_name": "No", "last_name": "Rights", "permissions": []}).json()["id"]
    before = app.record("Order", ids["order"])

    refused = control(
        "PATCH", f"records/Order/{ids['order']}", {"fields": {"TrackingNumber__c": "X"}, "user_id": clerk}
    )
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    unknown_field = control(
        "PATCH", f"records/Order/{ids['order']}", {"fields": {"Tracking__c": "X"}, "user_id": app.org.user_id}
    )
    assert (unknown_field.status_code, unknown_field.json()[0]["errorCode"]) == (400, "INVALID_FIELD")
    nobody = control(
        "PATCH",
        f"records/Order/{ids['order']}",
        {"fields": {"TrackingNumber__c": "X"}, "user_id": "005000000000000AAA"},
    )
    assert (nobody.status_code, nobody.json()[0]["errorCode"]) == (400, "INVALID_CROSS_REFERENCE_KEY")
    missing = control("PATCH", f"records/Order/{ids['order']}", {"fields": {"TrackingNumber__c": "X"}})
    assert missing.status_code == 400 and "user_id" in missing.json()["error"]
    assert app.record("Order", ids["order"]) == before


def test_a_late_commit_lands_behind_the_checkpoint(app, salesforce_client, control, clock):
    """A transaction that began at 12:00:40 and commits after a poll at 12:00:50 carries SystemModstamp
    12:00:40: a poll for ``> 12:00:50`` never sees it; a poll that overlaps its checkpoint does."""
    agent = app.user_create()
    order = draft_order_create(app)["order"]
    _at(clock, 12, 0, 55)
    answer = control(
        "PATCH",
        f"records/Order/{order}",
        {"fields": {"TrackingNumber__c": "LATE"}, "user_id": agent, "system_modstamp": "2025-06-01T12:00:40.250Z"},
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["SystemModstamp"], answer.json()["LastModifiedDate"]) == ("2025-06-01T12:00:40.000+0000",) * 2
    assert _query(salesforce_client, POLL.format(since="2025-06-01T12:00:50Z", limit=10))["records"] == []
    overlapped = _query(salesforce_client, POLL.format(since="2025-06-01T12:00:20Z", limit=10))["records"]
    assert [(r["Id"], r["TrackingNumber__c"]) for r in overlapped] == [(order, "LATE")]
