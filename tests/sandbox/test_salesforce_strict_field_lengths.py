"""Rule ``field_lengths``: standard text fields have their real lengths (describe ``length``; Salesforce
Object Reference) and a longer value fails the record with ``STRING_TOO_LONG``. Custom fields keep their
own lengths whatever the switch."""

from __future__ import annotations

import pytest

# (object, field) -> length, as describe reports it in a real org.
LENGTHS = {
    ("Account", "Name"): 255,
    ("Account", "BillingStreet"): 255,
    ("Account", "BillingCity"): 40,
    ("Account", "BillingState"): 80,
    ("Account", "BillingPostalCode"): 20,
    ("Account", "BillingCountry"): 80,
    ("Account", "ShippingStreet"): 255,
    ("Account", "ShippingCity"): 40,
    ("Account", "Phone"): 40,
    ("Account", "Fax"): 40,
    ("Account", "AccountNumber"): 40,
    ("Account", "Website"): 255,
    ("Account", "Description"): 32000,
    ("Contact", "FirstName"): 40,
    ("Contact", "LastName"): 80,
    ("Contact", "Name"): 121,
    ("Contact", "MailingStreet"): 255,
    ("Contact", "MailingCity"): 40,
    ("Contact", "MailingState"): 80,
    ("Contact", "MailingPostalCode"): 20,
    ("Contact", "MailingCountry"): 80,
    ("Contact", "Phone"): 40,
    ("Contact", "MobilePhone"): 40,
    ("Contact", "Email"): 80,
    ("Contact", "Title"): 128,
    ("Contact", "Department"): 80,
    ("Contact", "Description"): 32000,
    ("Lead", "FirstName"): 40,
    ("Lead", "LastName"): 80,
    ("Lead", "Company"): 255,
    ("Lead", "Title"): 128,
    ("Lead", "Street"): 255,
    ("Lead", "City"): 40,
    ("Lead", "State"): 80,
    ("Lead", "PostalCode"): 20,
    ("Lead", "Country"): 80,
    ("Lead", "Email"): 80,
    ("Lead", "Website"): 255,
    ("Opportunity", "Name"): 120,
    ("Opportunity", "NextStep"): 255,
    ("Opportunity", "Description"): 32000,
    ("Task", "Subject"): 255,
    ("Task", "Description"): 32000,
    ("Order", "Name"): 80,
    ("Order", "PoNumber"): 80,
    ("Order", "OrderReferenceNumber"): 80,
    ("Order", "BillingStreet"): 255,
    ("Order", "ShippingCity"): 40,
    ("Order", "ShippingPostalCode"): 20,
    ("Order", "Description"): 32000,
    ("OrderItem", "Description"): 255,
    ("Product2", "Name"): 255,
    ("Product2", "ProductCode"): 255,
    ("Product2", "Description"): 4000,
    ("Product2", "StockKeepingUnit"): 180,
    ("Pricebook2", "Name"): 255,
    ("Pricebook2", "Description"): 255,
}


def test_describe_reports_the_real_lengths(salesforce_client):
    described: dict[str, dict[str, int]] = {}
    for sobject, _name in LENGTHS:
        if sobject not in described:
            fields = salesforce_client.get(f"sobjects/{sobject}/describe").json()["fields"]
            described[sobject] = {field["name"]: field["length"] for field in fields}
    assert {key: described[key[0]][key[1]] for key in LENGTHS} == LENGTHS


@pytest.mark.parametrize(
    ("sobject", "body", "field", "label", "length"),
    [
        ("Account", {"Name": "A", "BillingCity": "c" * 41}, "BillingCity", "Billing City", 40),
        ("Account", {"Name": "A", "BillingPostalCode": "9" * 21}, "BillingPostalCode", "Billing Zip/Postal Code", 20),
        ("Account", {"Name": "n" * 256}, "Name", "Account Name", 255),
        ("Contact", {"LastName": "l" * 81}, "LastName", "Last Name", 80),
        ("Contact", {"LastName": "L", "FirstName": "f" * 41}, "FirstName", "First Name", 40),
        ("Contact", {"LastName": "L", "Phone": "1" * 41}, "Phone", "Business Phone", 40),
        ("Contact", {"LastName": "L", "MailingState": "s" * 81}, "MailingState", "Mailing State/Province", 80),
        ("Lead", {"LastName": "L", "Company": "c" * 256}, "Company", "Company", 255),
        (
            "Opportunity",
            {"Name": "o" * 121, "StageName": "Prospecting", "CloseDate": "2025-01-01"},
            "Name",
            "Opportunity Name",
            120,
        ),
    ],
)
def test_a_value_beyond_the_length_is_string_too_long(salesforce_client, sobject, body, field, label, length):
    answer = salesforce_client.post(f"sobjects/{sobject}/", json=body)
    assert answer.status_code == 400
    assert answer.json() == [
        {
            "message": f"{label}: data value too large: {body[field]} (max length={length})",
            "errorCode": "STRING_TOO_LONG",
            "fields": [field],
        }
    ]


def test_collections_fail_the_long_record_only(salesforce_client):
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "Short", "MailingCity": "Springfield"},
        {
            "attributes": {"type": "Contact"},
            "LastName": "Long",
            "MailingCity": "Llanfairpwllgwyngyllgogerychwyrndrobwllll",
        },
    ]
    results = salesforce_client.post("composite/sobjects", json={"records": records}).json()
    assert results[0]["success"] is True
    assert results[1]["errors"] == [
        {
            "statusCode": "STRING_TOO_LONG",
            "message": "Mailing City: data value too large: Llanfairpwllgwyngyllgogerychwyrndrobwllll (max length=40)",
            "fields": ["MailingCity"],
        }
    ]


def test_switched_off_standard_fields_take_any_length_custom_fields_do_not(salesforce_client, salesforce_sandbox):
    switched = salesforce_client.session.post(
        f"{salesforce_client.url}/__sandbox__/rules", json={"field_lengths": False}, timeout=10
    )
    assert switched.status_code == 200 and switched.json()["field_lengths"] is False
    city = "Llanfairpwllgwyngyllgogerychwyrndrobwllll"
    created = salesforce_client.post("sobjects/Account/", json={"Name": "A", "BillingCity": city, "Phone": "1" * 60})
    assert created.status_code == 201
    account = salesforce_sandbox.app.record("Account", created.json()["id"])
    assert (account["BillingCity"], account["Phone"]) == (city, "1" * 60)
    # Describe still tells the real length.
    fields = salesforce_client.get("sobjects/Account/describe").json()["fields"]
    assert next(field["length"] for field in fields if field["name"] == "BillingCity") == 40
    custom = salesforce_client.post("sobjects/Account/", json={"Name": "B", "RFM_Score__c": "5555"})
    assert custom.status_code == 400 and custom.json()[0]["errorCode"] == "STRING_TOO_LONG"
