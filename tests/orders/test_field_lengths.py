"""Every text value fits its Salesforce field (issue 11): the fitting rule, the client that applies it to every
write, the duplicate rule setting, and orders at BigCommerce's maximum lengths synced against the strict stand-in.

BigCommerce's limits (``specs/bigcommerce``: customers v3 and orders v2): address lines 255 each, city 100,
state 100, zip 30, first and last name 255, company 255, phone 50. Salesforce's standard fields are shorter
(the stand-in's describe has the real lengths: e.g. BillingCity 40, BillingPostalCode 20). Expected values
are computed from the org's describe, never written down.
"""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from orders.services import order_sync
from sync.field_fit import DROP, FieldLimit, field_limits_from_describe, record_fit, text_cut, text_length, value_fit
from sync.models import SyncSetting
from sync.salesforce import (
    DUPLICATE_RULE_SETTING,
    error_from_body,
    salesforce_calls_counted,
    salesforce_client,
    salesforce_truncations_take,
    save_result_error,
)

# -- the rule, without I/O ---------------------------------------------------------------------------------------


def test_lengths_count_utf16_units_and_a_cut_never_splits_a_pair():
    assert text_length("abc") == 3
    assert text_length("a\U0001f600") == 3  # an emoji is two units, as Salesforce counts
    assert text_cut("ab\U0001f600cd", 3) == "ab"  # the pair does not fit: left out whole
    assert text_cut("ab\U0001f600cd", 4) == "ab\U0001f600"
    assert text_cut("street one\nstreet two", 11) == "street one"  # no dangling line break
    assert text_cut("fits", 4) == "fits"


def test_values_fit_their_field_or_are_left_alone():
    street = FieldLimit("BillingStreet", "textarea", 10)
    email = FieldLimit("Email", "email", 20)
    assert value_fit("x" * 11, street) == "x" * 10
    assert value_fit("@{order.id}" + "x" * 20, street).startswith("@{order.id}")  # a reference: untouched
    assert value_fit(12345678901, street) == 12345678901  # not text
    assert value_fit("short@example.com", email) == "short@example.com"
    assert value_fit("a.very.long.local.part@example.com", email) is DROP  # never a cut, invalid address


def test_describe_gives_the_text_limits_only():
    describe = {
        "fields": [
            {"name": "BillingCity", "type": "string", "length": 40},
            {"name": "Email", "type": "email", "length": 80},
            {"name": "Amount", "type": "currency", "length": 0},
            {"name": "AccountId", "type": "reference", "length": 18},
            {"name": "Status", "type": "picklist", "length": 40, "restrictedPicklist": True},
            {"name": "LeadSource", "type": "picklist", "length": 40, "restrictedPicklist": False},
        ]
    }
    limits = field_limits_from_describe(describe)
    assert set(limits) == {"billingcity", "email", "leadsource"}
    assert limits["billingcity"] == FieldLimit("BillingCity", "string", 40)


def test_a_record_is_fitted_as_a_copy_with_notes():
    limits = {"billingcity": FieldLimit("BillingCity", "string", 5), "email": FieldLimit("Email", "email", 6)}
    record = {"billingcity": "Springfield", "Email": "long@example.com", "Other": "x" * 100, "Total": 3}
    fitted, notes = record_fit(record, limits, sobject="Account")
    assert fitted == {"billingcity": "Sprin", "Other": "x" * 100, "Total": 3}  # field names match in any case
    assert record["billingcity"] == "Springfield"  # the caller's dict is not changed
    assert notes == [
        {"object": "Account", "field": "BillingCity", "from": 11, "to": 5},
        {"object": "Account", "field": "Email", "from": 16, "to": 0},
    ]
    same, none = record_fit({"billingcity": "Rome"}, limits, sobject="Account")
    assert none == [] and same == {"billingcity": "Rome"}
    csv_row, _ = record_fit({"Email": "long@example.com"}, limits, sobject="Account", dropped="")
    assert csv_row == {"Email": ""}  # Bulk API: an empty value leaves the field unchanged


def test_duplicate_errors_name_the_matched_records():
    rest_body = [
        {
            "duplicateResut": {
                "allowSave": True,
                "duplicateRule": "Standard_Contact_Duplicate_Rule",
                "matchResults": [
                    {"matchRecords": [{"record": {"attributes": {"type": "Contact"}, "Id": "003000000000001AAA"}}]},
                    {"matchRecords": [{"record": {"Id": "00Q000000000002AAA"}}]},
                ],
            },
            "errorCode": "DUPLICATES_DETECTED",
            "message": "Use one of these records?",
        }
    ]
    error = error_from_body(rest_body, status=400)
    assert error.code == "DUPLICATES_DETECTED" and error.transient is False
    assert error.duplicate_ids == ["003000000000001AAA", "00Q000000000002AAA"]
    assert "003000000000001AAA" in str(error) and "00Q000000000002AAA" in str(error)
    # sObject Collections: statusCode, and the key spelled correctly.
    result = {
        "success": False,
        "errors": [
            {
                "statusCode": "DUPLICATES_DETECTED",
                "message": "Use one of these records?",
                "duplicateResult": {"matchResults": [{"matchRecords": [{"record": {"Id": "001000000000003AAA"}}]}]},
            }
        ],
    }
    assert save_result_error(result).duplicate_ids == ["001000000000003AAA"]


# -- the client, against the stand-in ----------------------------------------------------------------------------


@pytest.fixture
def client(salesforce_wired, db):
    return salesforce_client()


def _length(sobject: str, field: str) -> int:
    return field_limits_from_describe(salesforce_client().describe(sobject))[field.lower()].length


def test_every_kind_of_write_is_fitted_and_noted(client, salesforce_wired):
    app = salesforce_wired.app
    city = "C" * 100
    url = client.url
    with salesforce_calls_counted():
        # sObject row (upsert by external id), composite (with a reference left alone), graph, collections.
        client.request(
            "PATCH", "sobjects/Account/BigCommerceCustomerId__c/t:1", json={"Name": "One", "BillingCity": city}
        )
        client.composite(
            [
                {
                    "method": "POST",
                    "url": url("sobjects/Account"),
                    "referenceId": "account",
                    "body": {"Name": "Two", "BillingCity": city},
                },
                {
                    "method": "POST",
                    "url": url("sobjects/Contact"),
                    "referenceId": "contact",
                    "body": {"LastName": "L" * 100, "AccountId": "@{account.id}"},
                },
            ]
        )
        graph = client.composite_graph(
            [
                {
                    "graphId": "g1",
                    "compositeRequest": [
                        {
                            "method": "POST",
                            "url": url("sobjects/Account"),
                            "referenceId": "a",
                            "body": {"Name": "Three", "BillingCity": city},
                        }
                    ],
                }
            ]
        )
        assert graph[0]["isSuccessful"], graph
        saved = client.collections_create([{"attributes": {"type": "Account"}, "Name": "Four", "BillingCity": city}])
        assert saved[0]["success"], saved
        notes = salesforce_truncations_take()
    city_length, last_length = _length("Account", "BillingCity"), _length("Contact", "LastName")
    accounts = {row["Name"]: row for row in app.records("Account")}
    assert {name: accounts[name]["BillingCity"] for name in ("One", "Two", "Three", "Four")} == dict.fromkeys(
        ("One", "Two", "Three", "Four"), city[:city_length]
    )
    contact = app.records("Contact")[0]
    assert contact["LastName"] == "L" * last_length and contact["AccountId"] == accounts["Two"]["Id"]
    assert {"object": "Account", "field": "BillingCity", "from": 100, "to": city_length} in notes
    assert {"object": "Contact", "field": "LastName", "from": 100, "to": last_length} in notes
    assert len(notes) == 2  # one note per (object, field, lengths) in one collector


def test_bulk_rows_are_fitted_too(client, salesforce_wired):
    rows = [{"BigCommerceCustomerId__c": "t:bulk", "Name": "Bulk", "BillingCity": "B" * 100}]
    with salesforce_calls_counted():
        [summary] = client.bulk_upsert("Account", "BigCommerceCustomerId__c", rows, poll_seconds=0.05)
        notes = salesforce_truncations_take()
    assert summary["numberRecordsFailed"] == 0, summary
    length = _length("Account", "BillingCity")
    assert salesforce_wired.app.records("Account")[0]["BillingCity"] == "B" * length
    assert notes == [{"object": "Account", "field": "BillingCity", "from": 100, "to": length}]
    assert rows[0]["BillingCity"] == "B" * 100  # the caller's rows are not changed


def test_describes_are_read_once_per_process_in_one_request(client, salesforce_wired):
    app = salesforce_wired.app
    before = app.api_calls_counted()
    client.request("POST", "sobjects/Account", json={"Name": "First"})
    client.request("POST", "sobjects/Account", json={"Name": "Second"})
    client.composite(
        [{"method": "POST", "url": client.url("sobjects/Contact"), "referenceId": "c", "body": {"LastName": "C"}}]
    )
    # Account's lengths: one describe request; then two writes; then Contact's lengths and the composite.
    assert app.api_calls_counted() - before == 1 + 2 + 1 + 1


def test_composite_keeps_the_order_sent(client, salesforce_wired):
    # Without duplicate rule headers (subrequests with headers are never collated), only collateSubrequests
    # false keeps the Contact after the Account whose external id it names (no @{} reference between them).
    SyncSetting.objects.filter(key=DUPLICATE_RULE_SETTING).update(value="fail")
    from sync.config import config

    config.invalidate()
    url = client.url
    responses = client.composite(
        [
            {
                "method": "PATCH",
                "url": url("sobjects/Account/BigCommerceCustomerId__c/t:order"),
                "referenceId": "account",
                "body": {"Name": "Ordered"},
            },
            {
                "method": "POST",
                "url": url("sobjects/Contact"),
                "referenceId": "contact",
                "body": {"LastName": "Later", "Account": {"BigCommerceCustomerId__c": "t:order"}},
            },
        ]
    )
    assert [response["httpStatusCode"] for response in responses] == [201, 201]


def test_duplicate_rule_setting(client, salesforce_wired):
    from sync.config import config

    app = salesforce_wired.app
    existing = app.record_create("Contact", {"FirstName": "Dana", "LastName": "Duplicate", "Email": "dana@example.com"})
    person = {"FirstName": "Dana", "LastName": "Duplicate", "Email": "dana@example.com"}
    # fail: no header, the create is refused, naming the existing record.
    SyncSetting.objects.filter(key=DUPLICATE_RULE_SETTING).update(value="fail")
    config.invalidate()
    with pytest.raises(Exception) as caught:
        client.request("POST", "sobjects/Contact", json=person)
    assert caught.value.code == "DUPLICATES_DETECTED" and caught.value.transient is False
    assert existing in caught.value.duplicate_ids and existing in str(caught.value)
    graph = client.composite_graph(
        [
            {
                "graphId": "g",
                "compositeRequest": [
                    {"method": "POST", "url": client.url("sobjects/Contact"), "referenceId": "c", "body": person}
                ],
            }
        ]
    )
    from sync.salesforce import graph_error

    assert existing in graph_error(graph[0]).duplicate_ids
    assert len(app.records("Contact")) == 1
    # allow_save (the default): the header on the request and on every write subrequest; the record is saved.
    SyncSetting.objects.filter(key=DUPLICATE_RULE_SETTING).update(value="allow_save")
    config.invalidate()
    client.request("POST", "sobjects/Contact", json=person)
    graph = client.composite_graph(
        [
            {
                "graphId": "g",
                "compositeRequest": [
                    {"method": "POST", "url": client.url("sobjects/Contact"), "referenceId": "c", "body": person}
                ],
            }
        ]
    )
    assert graph[0]["isSuccessful"], graph
    saved = client.collections_create([{"attributes": {"type": "Contact"}, **person}])
    assert saved[0]["success"], saved
    assert len(app.records("Contact")) == 4


def test_the_duplicate_rule_setting_is_seeded_and_validated(db):
    from django.core.exceptions import ValidationError

    row = SyncSetting.objects.get(key=DUPLICATE_RULE_SETTING)
    assert row.value == "allow_save" and row.allowed == ["allow_save", "fail"]
    row.value = "merge"
    with pytest.raises(ValidationError):
        row.full_clean()


# -- orders at BigCommerce's maximum lengths ----------------------------------------------------------------------

EMAILS = [
    "First.Last+orders@mail.sub.example.co.uk",
    "UPPER.CASE@EXAMPLE.COM",
    "buyer@acme.inc",
    "o'brien-smith_99@example.travel",
    ("l" * 64) + "@example.com",  # the longest local part
    ("l" * 64) + "@" + "sub." * 5 + "example.com",  # valid, longer than Salesforce's Email field
]
# BigCommerce's maximum lengths (customers v3 / orders v2 address).
BIGCOMMERCE_MAX = {
    "first_name": 255,
    "last_name": 255,
    "company": 255,
    "street_1": 255,
    "street_2": 255,
    "city": 100,
    "state": 100,
    "zip": 30,
    "phone": 50,
}


def _fill(pattern: str, length: int) -> str:
    """``pattern`` repeated to exactly ``length`` characters, ending with a letter (no trailing blank)."""
    return (pattern * length)[: length - 1] + "x"


def _long_address(tag: str, email: str) -> dict[str, str]:
    """An address with every field at BigCommerce's maximum length."""
    patterns = {
        "first_name": f"Firstname{tag}",
        "last_name": f"Lastname-{tag} ",
        "company": f"Company {tag} Holdings ",
        "street_1": f"{tag} Long Street Name ",
        "street_2": f"Building {tag}, Floor 12, ",
        "city": f"Llanfair{tag}",
        "state": f"State of {tag} ",
        "zip": f"12345-{tag}",
        "phone": f"+1 (555) 010-{tag} ",
    }
    address = {key: _fill(pattern, BIGCOMMERCE_MAX[key]) for key, pattern in patterns.items()}
    return {**address, "country": "United States", "country_iso2": "US", "email": email}


def _cut(value: str, sobject: str, field: str) -> str:
    return text_cut(value, _length(sobject, field))


@pytest.fixture
def long_orders(orders):
    """Guest orders with every address field at BigCommerce's maximum length and unusual valid emails."""
    made = []
    for index, email in enumerate(EMAILS):
        billing = _long_address(str(index), email)
        shipping = {**billing, "street_1": _fill(f"Other way {index} ", 255)}
        spec = {"customer_id": 0, "currency_code": "USD", "email": email}
        made.append(orders.bc.order_create({**spec, "billing_address": billing, "shipping_address": shipping}))
    return made


def test_orders_at_bigcommerce_maximum_lengths_sync_and_say_what_was_shortened(orders, long_orders):
    for created in long_orders:
        order_sync(store=orders.store, order_id=created["id"])

    email_length = _length("Contact", "Email")
    for created in long_orders:
        billing = orders.bc.order_get(created["id"])["billing_address"]
        assert all(len(billing[key]) == length for key, length in BIGCOMMERCE_MAX.items()), billing
        record = orders.order_record(created["id"])
        joined = "\n".join([billing["street_1"], billing["street_2"]])  # joined before measured
        sources = {"BillingStreet": joined, "BillingCity": billing["city"]}
        sources |= {"BillingState": billing["state"], "BillingPostalCode": billing["zip"]}
        expected = {name: _cut(value, "Order", name) for name, value in sources.items()}
        assert {name: record[name] for name in expected} == expected
        assert record["BillingStreet"] == billing["street_1"]  # the whole first line: 255 characters

        entry = AuditLog.objects.filter(bigcommerce_id=str(created["id"]), status="success").latest("id")
        truncated = entry.details["truncated"]
        for name, value in expected.items():
            assert {"object": "Order", "field": name, "from": len(sources[name]), "to": len(value)} in truncated
        # The guest's Account and Contact hold shortened values too (mapped truncate:N fields need no note).
        account = orders.one("Account", Id=record["AccountId"])
        assert account["BillingCity"] == _cut(billing["city"], "Account", "BillingCity")
        assert account["Name"] == _cut(billing["company"], "Account", "Name")
        assert {
            "object": "Account",
            "field": "BillingCity",
            "from": 100,
            "to": len(account["BillingCity"]),
        } in truncated
        contact = orders.one("Contact", AccountId=record["AccountId"])
        assert contact["MailingPostalCode"] == _cut(billing["zip"], "Contact", "MailingPostalCode")
        email = billing["email"]
        if len(email) <= email_length:
            assert contact["Email"] == email.lower()
        else:  # an address too long for the field is left out, never cut into another address
            assert not contact.get("Email")
            assert {"object": "Contact", "field": "Email", "from": len(email), "to": 0} in truncated
    assert len(orders.records("Order")) == len(long_orders)


def test_a_webhook_event_audit_entry_lists_what_was_shortened(orders, long_orders, django_capture_on_commit_callbacks):
    from sync.services.webhooks import webhook_event_process

    created = long_orders[0]
    event = orders.event("store/order/created", created["id"])
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_process(event_id=event.pk)
    entry = AuditLog.objects.get(event=event)
    assert entry.status == "success", entry.error
    fields = {(note["object"], note["field"]) for note in entry.details["truncated"]}
    assert {("Order", "BillingStreet"), ("Order", "BillingCity"), ("Account", "BillingCity")} <= fields
    # The next entry of the same process starts empty: nothing is carried over.
    assert salesforce_truncations_take() == []


def test_the_admin_explains_the_duplicate_rule_setting(admin_client):
    row = SyncSetting.objects.get(key=DUPLICATE_RULE_SETTING)
    page = admin_client.get(f"/admin/sync/syncsetting/{row.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "duplicate rule flags" in text and "Allowed: allow_save, fail." in text
    answer = admin_client.post(f"/admin/sync/syncsetting/{row.pk}/change/", {"value": "ignore", "description": "x"})
    assert answer.status_code == 200 and "must be one of" in answer.content.decode()  # refused, form shown again
    assert SyncSetting.objects.get(key=DUPLICATE_RULE_SETTING).value == "allow_save"
