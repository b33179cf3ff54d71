"""sync.salesforce against the Salesforce stand-in over HTTPS: login, re-login, counting, limits, errors, batching."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync.salesforce import (
    SalesforceClient,
    SalesforceError,
    composite_error,
    graph_error,
    salesforce_calls_counted,
    salesforce_calls_total,
    salesforce_client,
    salesforce_connection_check,
    save_result_error,
)

# Writes read the duplicate_rule_action setting (the database) for their duplicate rule header.
pytestmark = pytest.mark.django_db


@pytest.fixture
def sf(salesforce_settings) -> SalesforceClient:
    return salesforce_client()


def field_lengths_read(client: SalesforceClient) -> None:
    """The once-per-process read of the written objects' field lengths, so counts show the writes alone."""
    client.field_limits({"Account", "Contact"})


def token_requests(app) -> int:
    return sum(1 for call in app.calls if call["path"].endswith("/oauth2/token"))


def data_calls(app) -> list[dict]:
    return [call for call in app.calls if "/services/data/" in call["path"]]


def test_request_logs_in_lazily_and_counts(sf, salesforce_settings):
    app = salesforce_settings.app
    field_lengths_read(sf)
    assert token_requests(app) == 1 and app.api_calls_counted() == 1
    total_before = salesforce_calls_total()
    with salesforce_calls_counted() as outer:
        created = sf.request("POST", "sobjects/Account", json={"Name": "Acme"})
        with salesforce_calls_counted() as inner:
            record = sf.request("GET", f"sobjects/Account/{created['id']}")
            assert sf.request("PATCH", f"sobjects/Account/{created['id']}", json={"Phone": "555"}) is None
    assert created["success"] is True and created["id"].startswith("001") and len(created["id"]) == 18
    assert record["Name"] == "Acme"
    assert (outer.count, inner.count) == (3, 2)
    assert salesforce_calls_total() - total_before == 3
    assert app.api_calls_counted() == 1 + 3
    assert token_requests(app) == 1  # the login does not count
    used, maximum = sf.api_usage
    assert used == 1 + 3 and maximum == app.api_max


def test_absolute_paths_and_the_singleton(sf):
    assert salesforce_client() is sf
    versions = sf.request("GET", f"/services/data/v{sf.api_version}/limits")
    assert "DailyApiRequests" in versions
    assert sf.limits()["DailyApiRequests"]["Max"] > 0


def test_expired_session_is_renewed_once(sf, salesforce_settings):
    app = salesforce_settings.app
    sf.request("POST", "sobjects/Account", json={"Name": "Before"})
    app.sessions_expire()
    with salesforce_calls_counted() as counter:
        created = sf.request("POST", "sobjects/Account", json={"Name": "After"})
    assert created["success"]
    assert counter.count == 2  # the refused request counts too
    assert token_requests(app) == 2
    statuses = [call["status"] for call in data_calls(app)]
    assert statuses[-2:] == [401, 201]


def test_a_session_that_stays_invalid_is_a_transient_error(sf, salesforce_settings):
    app = salesforce_settings.app
    sf.token()
    app.fault_add("session_expiry", path="/sobjects/Account", count=2)
    with pytest.raises(SalesforceError) as caught:
        sf.request("POST", "sobjects/Account", json={"Name": "Never"})
    assert (caught.value.status, caught.value.code, caught.value.transient) == (401, "INVALID_SESSION_ID", True)
    assert token_requests(app) == 2  # exactly one re-login
    assert sf.token().access_token not in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "status", "code", "transient"),
    [
        ({"kind": "status", "status": 503}, 503, "", True),
        ({"kind": "status", "status": 500}, 500, "", True),
        ({"kind": "unable_to_lock_row"}, 400, "UNABLE_TO_LOCK_ROW", True),
        ({"kind": "request_limit"}, 403, "REQUEST_LIMIT_EXCEEDED", True),
        ({"kind": "drop"}, 0, "NETWORK_ERROR", True),
    ],
)
def test_faults_are_classified(sf, salesforce_settings, fault, status, code, transient):
    salesforce_settings.app.fault_add(fault.pop("kind"), path="/sobjects/Account", count=1, **fault)
    with pytest.raises(SalesforceError) as caught:
        sf.request("POST", "sobjects/Account", json={"Name": "X"})
    assert caught.value.status == status
    assert caught.value.transient is transient
    if code:
        assert caught.value.code == code
    # The fault is spent: the same call now works.
    assert sf.request("POST", "sobjects/Account", json={"Name": "X"})["success"]


def test_validation_errors_are_permanent_with_code_and_fields(sf):
    with pytest.raises(SalesforceError) as caught:
        sf.request("POST", "sobjects/Account", json={"Name": "X", "NoSuchField__c": 1})
    assert (caught.value.status, caught.value.code, caught.value.transient) == (400, "INVALID_FIELD", False)
    with pytest.raises(SalesforceError) as caught:
        sf.request("POST", "sobjects/Contact", json={"FirstName": "Only"})
    assert (caught.value.code, caught.value.transient) == ("REQUIRED_FIELD_MISSING", False)
    assert "LastName" in caught.value.fields
    with pytest.raises(SalesforceError) as caught:
        sf.request("GET", "sobjects/Account/001000000000000AAA")
    assert (caught.value.status, caught.value.transient) == (404, False)


def test_login_refused_is_permanent_and_hides_the_secret(salesforce_settings, settings):
    conf = {**settings.SALESFORCE, "CLIENT_SECRET": "definitely-wrong-secret"}
    client = SalesforceClient(conf=conf)
    with pytest.raises(SalesforceError) as caught:
        client.request("GET", "limits")
    assert caught.value.transient is False
    assert caught.value.status == 400
    assert "definitely-wrong-secret" not in str(caught.value)
    assert salesforce_connection_check(timeout=5) is True  # the configured credentials work


def test_decimals_travel_as_exact_numbers(sf, salesforce_settings):
    created = sf.request(
        "POST", "sobjects/Account", json={"Name": "Money", "CLV__c": Decimal("1234.56"), "Total_Orders__c": Decimal(3)}
    )
    record = salesforce_settings.app.record("Account", created["id"])
    assert Decimal(str(record["CLV__c"])) == Decimal("1234.56")
    assert Decimal(str(record["Total_Orders__c"])) == 3


def test_composite_with_references(sf):
    url = sf.url
    responses = sf.composite(
        [
            {"method": "POST", "url": url("sobjects/Account"), "referenceId": "account", "body": {"Name": "Co"}},
            {
                "method": "POST",
                "url": url("sobjects/Contact"),
                "referenceId": "contact",
                "body": {"LastName": "Doe", "AccountId": "@{account.id}"},
            },
        ]
    )
    assert [response["httpStatusCode"] for response in responses] == [201, 201]
    contact = sf.request("GET", f"sobjects/Contact/{responses[1]['body']['id']}")
    assert contact["AccountId"] == responses[0]["body"]["id"]


def test_composite_all_or_none_raises_the_real_error(sf, salesforce_settings):
    url = sf.url
    field_lengths_read(sf)
    with salesforce_calls_counted() as counter, pytest.raises(SalesforceError) as caught:
        sf.composite(
            [
                {"method": "POST", "url": url("sobjects/Account"), "referenceId": "a", "body": {"Name": "Rolled back"}},
                {"method": "POST", "url": url("sobjects/Contact"), "referenceId": "c", "body": {"FirstName": "x"}},
            ]
        )
    assert caught.value.code == "REQUIRED_FIELD_MISSING" and caught.value.transient is False
    assert "compositeResponse" in caught.value.body
    assert counter.count == 1  # one composite is one API request
    assert salesforce_settings.app.records("Account") == []
    # Without all-or-none the caller inspects the answers.
    responses = sf.composite(
        [{"method": "POST", "url": url("sobjects/Contact"), "referenceId": "c", "body": {"FirstName": "x"}}],
        all_or_none=False,
    )
    assert composite_error(responses).code == "REQUIRED_FIELD_MISSING"


def test_composite_graph(sf):
    url = sf.url
    graphs = sf.composite_graph(
        [
            {
                "graphId": "good",
                "compositeRequest": [
                    {"method": "POST", "url": url("sobjects/Account"), "referenceId": "a", "body": {"Name": "G"}}
                ],
            },
            {
                "graphId": "bad",
                "compositeRequest": [
                    {"method": "POST", "url": url("sobjects/Account"), "referenceId": "a", "body": {"Bad__c": 1}}
                ],
            },
        ]
    )
    by_id = {graph["graphId"]: graph for graph in graphs}
    assert graph_error(by_id["good"]) is None
    assert graph_error(by_id["bad"]).code in {"INVALID_FIELD", "REQUIRED_FIELD_MISSING"}


def test_collections_chunk_by_200(sf, salesforce_settings):
    records = [
        {"attributes": {"type": "Account"}, "Name": f"Bulk {n}", "BigCommerceCustomerId__c": f"t:{n}"}
        for n in range(450)
    ]
    field_lengths_read(sf)
    with salesforce_calls_counted() as counter:
        results = sf.collections_create(records)
    assert counter.count == 3
    assert len(results) == 450 and all(result["success"] for result in results)
    updates = [{"attributes": {"type": "Account"}, "Id": results[0]["id"], "Phone": "1"}]
    assert sf.collections_update(updates)[0]["success"]
    upserts = [
        {"attributes": {"type": "Account"}, "BigCommerceCustomerId__c": "t:1", "Name": "Renamed"},
        {"attributes": {"type": "Account"}, "BigCommerceCustomerId__c": "t:new", "Name": "New"},
        {"attributes": {"type": "Contact"}, "BigCommerceCustomerId__c": "t:c", "FirstName": "NoLast"},
    ]
    upserted = sf.collections_upsert("Account", "BigCommerceCustomerId__c", upserts[:2])
    assert [result["created"] for result in upserted] == [False, True]
    failed = sf.collections_upsert("Contact", "BigCommerceCustomerId__c", upserts[2:])
    assert save_result_error(failed[0]).code == "REQUIRED_FIELD_MISSING"
    assert len(salesforce_settings.app.records("Account")) == 451


def test_query_follows_next_records_url(sf, salesforce_settings):
    app = salesforce_settings.app
    app.page_size = 5
    app.records_create("Account", [{"Name": f"Q{n}"} for n in range(12)])
    with salesforce_calls_counted() as counter:
        records = sf.query("SELECT Id, Name FROM Account")
    assert len(records) == 12 and counter.count == 3
    assert {record["Name"] for record in records} == {f"Q{n}" for n in range(12)}


def test_describe_and_pricebook_are_cached(sf):
    with salesforce_calls_counted() as counter:
        assert "BigCommerceCustomerId__c" in sf.field_names("Account")
        sf.describe("Account")
        first = sf.standard_pricebook_id()
        assert sf.standard_pricebook_id() == first
    assert first.startswith("01s")
    assert counter.count == 2


def test_simple_salesforce_shares_token_session_and_counting(sf, salesforce_settings):
    app = salesforce_settings.app
    app.records_create("Account", [{"Name": "Simple"}])
    with salesforce_calls_counted() as counter:
        result = sf.simple_call(lambda simple: simple.query("SELECT Id FROM Account"))
    assert result["totalSize"] == 1 and counter.count == 1
    app.sessions_expire()
    with salesforce_calls_counted() as counter:
        result = sf.simple_call(lambda simple: simple.query("SELECT Id FROM Account"))
    assert result["totalSize"] == 1
    assert counter.count == 2  # the refused one and the retry
    assert token_requests(app) == 2


def test_the_token_is_kept_out_of_the_repr(sf):
    token = sf.token()
    assert token.access_token and token.access_token not in repr(token)
    assert token.instance_url in repr(token)


def test_bulk_upsert_logs_in_again_once_when_the_session_expired(sf, salesforce_settings):
    app = salesforce_settings.app
    sf.token()
    app.sessions_expire()
    rows = [{"BigCommerceCustomerId__c": "bulk:1", "Name": "Bulk One"}]
    answers = sf.bulk_upsert("Account", "BigCommerceCustomerId__c", rows, poll_seconds=0.05)
    assert [answer["numberRecordsFailed"] for answer in answers] == [0]
    assert token_requests(app) == 2  # the first login and exactly one re-login
    assert [record["Name"] for record in app.records("Account")] == ["Bulk One"]


def test_every_rest_call_goes_through_simple_salesforce(sf, monkeypatch):
    """One REST client: b2s's requests (a query, a composite) are simple-salesforce's ``restful`` calls on b2s's
    token and HTTP session; the budgets and classification above hold on top of it."""
    from simple_salesforce import Salesforce

    seen: list[tuple[str, str]] = []
    restful = Salesforce.restful

    def spy(self, path, params=None, method="GET", **kwargs):
        seen.append((method, path))
        assert self.session is sf.session and self.session_id == sf.token().access_token
        return restful(self, path, params=params, method=method, **kwargs)

    monkeypatch.setattr(Salesforce, "restful", spy)
    sf.query("SELECT Id FROM Account")
    sf.composite([{"method": "GET", "url": sf.url("query?q=SELECT+Id+FROM+Account"), "referenceId": "accounts"}])
    assert seen == [("GET", "query"), ("POST", "composite")]
