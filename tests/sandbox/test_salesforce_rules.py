"""The Salesforce stand-in enforces the org's rules with the status codes and error bodies of the reference."""

from __future__ import annotations

import pytest

from sandbox.salesforce import Field, SalesforceSandbox
from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.ids import id_checksum, id_make, id_normalize


def _error(code, message, fields):
    return [{"message": message, "errorCode": code, "fields": fields}]


@pytest.fixture
def catalog(salesforce_sandbox):
    """An account, a product with an active standard price, and the standard price book's id."""
    app = salesforce_sandbox.app
    account = app.record_create("Account", {"Name": "Buyer"})
    product = app.record_create("Product2", {"Name": "Widget", "ProductCode": "W-1", "IsActive": True})
    standard = app.records("Pricebook2")[0]["Id"]
    entry = app.record_create(
        "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 10, "IsActive": True}
    )
    return {"account": account, "product": product, "standard": standard, "entry": entry}


def _order(client, catalog, **extra):
    body = {"AccountId": catalog["account"], "EffectiveDate": "2025-01-15", "Status": "Draft", **extra}
    answer = client.post("sobjects/Order/", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _item(client, order_id, catalog, **extra):
    body = {"OrderId": order_id, "PricebookEntryId": catalog["entry"], "Quantity": 2, "UnitPrice": 10.5, **extra}
    return client.post("sobjects/OrderItem/", json=body)


# --------------------------------------------------------------------------- ids


def test_id_checksum_matches_salesforce():
    assert id_checksum("001D000000IqhSL") == "IAZ"
    assert id_normalize("001D000000IqhSL") == "001D000000IqhSLIAZ"
    # An 18-character id survives a change of case (the checksum restores it) ...
    assert id_normalize("001d000000iqhsliaz") == "001D000000IqhSLIAZ"
    # ... but not a checksum that cannot belong to it, nor a wrong length.
    assert id_normalize("001D000000IqhSLIA9") is None
    assert id_normalize("001D000000IqhS") is None
    made = id_make("801")
    assert len(made) == 18 and made.startswith("801") and id_normalize(made[:15]) == made


def test_standard_price_book_exists_from_the_start(salesforce_client):
    answer = salesforce_client.get(
        "query", params={"q": "SELECT Id, Name, IsActive FROM Pricebook2 WHERE IsStandard = true"}
    )
    records = answer.json()["records"]
    assert len(records) == 1 and records[0]["Name"] == "Standard Price Book" and records[0]["IsActive"] is True
    assert records[0]["Id"].startswith("01s")


# --------------------------------------------------------------------------- field-level rules


def test_unknown_field_is_invalid_field(salesforce_client):
    answer = salesforce_client.post("sobjects/Account/", json={"Name": "A", "Foo__c": 1})
    assert answer.status_code == 400
    assert answer.json() == [
        {"message": "No such column 'Foo__c' on sobject of type Account", "errorCode": "INVALID_FIELD"}
    ]


@pytest.mark.parametrize(
    ("sobject", "body", "field"),
    [
        ("Account", {"Name": "A", "CreatedDate": "2024-01-01T00:00:00Z"}, "CreatedDate"),
        ("Account", {"Name": "A", "IsDeleted": True}, "IsDeleted"),
        ("Pricebook2", {"Name": "Custom", "IsStandard": True}, "IsStandard"),
        ("Contact", {"LastName": "A", "Name": "A B"}, "Name"),
    ],
)
def test_writing_a_read_only_field_on_create(salesforce_client, sobject, body, field):
    answer = salesforce_client.post(f"sobjects/{sobject}/", json=body)
    assert answer.status_code == 400
    assert answer.json() == _error(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {field}. Please check the security settings of this field and verify "
        "that it is read/write for your profile or permission set.",
        [field],
    )


def test_read_only_fields_of_orders_and_price_book_entries(salesforce_client, catalog, salesforce_sandbox):
    order_id = _order(salesforce_client, catalog, Pricebook2Id=catalog["standard"])
    answer = salesforce_client.patch(f"sobjects/Order/{order_id}", json={"TotalAmount": 5})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert answer.json()[0]["fields"] == ["TotalAmount"]
    item_id = _item(salesforce_client, order_id, catalog).json()["id"]
    other_order = _order(salesforce_client, catalog, Pricebook2Id=catalog["standard"])
    for field, value in (("OrderId", other_order), ("PricebookEntryId", catalog["entry"]), ("TotalPrice", 1)):
        answer = salesforce_client.patch(f"sobjects/OrderItem/{item_id}", json={field: value})
        assert answer.status_code == 400 and answer.json()[0]["fields"] == [field], field
    product = salesforce_sandbox.app.record_create("Product2", {"Name": "Other"})
    for field, value in (("Product2Id", product), ("Pricebook2Id", catalog["standard"]), ("ProductCode", "X")):
        answer = salesforce_client.patch(f"sobjects/PricebookEntry/{catalog['entry']}", json={field: value})
        assert answer.status_code == 400, field
        assert answer.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE", field


def test_missing_required_fields(salesforce_client, salesforce_sandbox):
    answer = salesforce_client.post("sobjects/Opportunity/", json={"Name": "Deal"})
    assert answer.status_code == 400
    assert answer.json() == _error(
        "REQUIRED_FIELD_MISSING", "Required fields are missing: [StageName, CloseDate]", ["StageName", "CloseDate"]
    )
    contact = salesforce_sandbox.app.record_create("Contact", {"LastName": "Doe"})
    cleared = salesforce_client.patch(f"sobjects/Contact/{contact}", json={"LastName": None})
    assert cleared.status_code == 400
    assert cleared.json() == _error("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"])
    lead = salesforce_client.post("sobjects/Lead/", json={"LastName": "Doe"})
    assert lead.json() == _error("REQUIRED_FIELD_MISSING", "Required fields are missing: [Company]", ["Company"])


def test_defaults_apply_on_create(salesforce_client, salesforce_sandbox):
    lead = salesforce_client.post("sobjects/Lead/", json={"LastName": "Doe", "Company": "Co"}).json()["id"]
    task = salesforce_client.post("sobjects/Task/", json={"Subject": "Call", "WhoId": lead}).json()["id"]
    app = salesforce_sandbox.app
    assert app.record("Lead", lead)["Status"] == "Open - Not Contacted"
    stored = app.record("Task", task)
    assert (stored["Status"], stored["Priority"], stored["IsClosed"]) == ("Not Started", "Normal", False)
    entry_product = app.record_create("Product2", {"Name": "P"})
    assert app.record("Product2", entry_product)["IsActive"] is False


@pytest.mark.parametrize(
    ("sobject", "body", "field", "label", "value"),
    [
        ("Opportunity", {"Name": "D", "CloseDate": "2025-01-01", "StageName": "Won"}, "StageName", "Stage", "Won"),
        ("Lead", {"LastName": "D", "Company": "C", "Status": "Open"}, "Status", "Lead Status", "Open"),
        ("Task", {"Subject": "S", "Priority": "Urgent"}, "Priority", "Priority", "Urgent"),
        ("Task", {"Subject": "S", "Status": "Done"}, "Status", "Status", "Done"),
        ("Account", {"Name": "A", "Customer_Tier__c": "Diamond"}, "Customer_Tier__c", "Customer Tier", "Diamond"),
    ],
)
def test_bad_restricted_picklist_value(salesforce_client, sobject, body, field, label, value):
    answer = salesforce_client.post(f"sobjects/{sobject}/", json=body)
    assert answer.status_code == 400
    assert answer.json() == _error(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f"{label}: bad value for restricted picklist field: {value}", [field]
    )


def test_restricted_order_status(salesforce_client, catalog):
    order_id = _order(salesforce_client, catalog)
    answer = salesforce_client.patch(f"sobjects/Order/{order_id}", json={"Status": "Shipped"})
    assert answer.status_code == 400
    assert answer.json() == _error(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "Status: bad value for restricted picklist field: Shipped",
        ["Status"],
    )


def test_reference_checks(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    malformed = salesforce_client.post("sobjects/Contact/", json={"LastName": "D", "AccountId": "not-an-id"})
    assert malformed.status_code == 400
    assert malformed.json() == _error(
        "MALFORMED_ID", "Account ID: id value of incorrect type: not-an-id", ["AccountId"]
    )
    short = salesforce_client.post("sobjects/Contact/", json={"LastName": "D", "AccountId": "001ABC"})
    assert short.json()[0]["errorCode"] == "MALFORMED_ID"

    lead = app.record_create("Lead", {"LastName": "L", "Company": "C"})
    wrong_object = salesforce_client.post("sobjects/Contact/", json={"LastName": "D", "AccountId": lead})
    assert wrong_object.status_code == 400
    assert wrong_object.json() == _error(
        "INVALID_CROSS_REFERENCE_KEY", f"Account ID: id value of incorrect type: {lead}", ["AccountId"]
    )
    missing = salesforce_client.post("sobjects/Contact/", json={"LastName": "D", "AccountId": id_make("001")})
    assert missing.status_code == 400
    assert missing.json() == _error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])

    account = app.record_create("Account", {"Name": "A"})
    ok = salesforce_client.post("sobjects/Contact/", json={"LastName": "D", "AccountId": account[:15]})
    assert ok.status_code == 201
    assert app.record("Contact", ok.json()["id"])["AccountId"] == account  # stored in 18 characters


def test_unique_external_ids(salesforce_client, salesforce_sandbox):
    first = salesforce_client.post("sobjects/Account/", json={"Name": "A", "BigCommerceCustomerId__c": "s:1"})
    assert first.status_code == 201
    # Unique text fields compare case-insensitively, as Salesforce's default unique index does.
    again = salesforce_client.post("sobjects/Account/", json={"Name": "B", "BigCommerceCustomerId__c": "S:1"})
    assert again.status_code == 400
    assert again.json() == _error(
        "DUPLICATE_VALUE",
        f"duplicate value found: BigCommerceCustomerId__c duplicates value on record with id: {first.json()['id']}",
        [],
    )
    assert len(salesforce_sandbox.app.records("Account")) == 1


def test_upsert_several_matches_is_300_and_update_only(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    app.schema.field_add("Account", "Legacy_Code__c", "string", length=20, externalId=True)  # not unique
    first = app.record_create("Account", {"Name": "A", "Legacy_Code__c": "X"})
    second = app.record_create("Account", {"Name": "B", "Legacy_Code__c": "x"})
    answer = salesforce_client.patch("sobjects/Account/Legacy_Code__c/X", json={"Name": "C"})
    assert answer.status_code == 300
    assert sorted(answer.json()) == sorted(
        f"/services/data/v62.0/sobjects/Account/{record_id}" for record_id in (first, second)
    )
    refused = salesforce_client.patch("sobjects/Account/Legacy_Code__c/Y?updateOnly=true", json={"Name": "C"})
    assert refused.status_code == 404
    assert refused.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]
    assert len(app.records("Account")) == 2


def test_upsert_body_must_not_repeat_the_external_id(salesforce_client):
    answer = salesforce_client.patch(
        "sobjects/Account/BigCommerceCustomerId__c/s:1", json={"Name": "A", "BigCommerceCustomerId__c": "s:1"}
    )
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INVALID_FIELD"


def test_values_are_typed_and_checked(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    account = salesforce_client.post(
        "sobjects/Account/",
        json={"Name": "A", "CLV__c": "1234.565", "Total_Orders__c": 3, "Last_Order_Date__c": "2025-02-28"},
    ).json()["id"]
    stored = app.record("Account", account)
    assert stored["CLV__c"] == 1234.57 and stored["Total_Orders__c"] == 3.0
    assert salesforce_client.get(f"sobjects/Account/{account}").json()["CLV__c"] == 1234.57

    bad_date = salesforce_client.post("sobjects/Account/", json={"Name": "A", "Last_Order_Date__c": "2025-02-30"})
    assert bad_date.status_code == 400
    assert bad_date.json() == [
        {
            "message": "Cannot deserialize instance of date from VALUE_STRING value 2025-02-30 or request may be "
            "missing a required field",
            "errorCode": "JSON_PARSER_ERROR",
        }
    ]
    datetime_as_date = salesforce_client.post(
        "sobjects/Account/", json={"Name": "A", "Last_Order_Date__c": "2025-02-01T10:00:00Z"}
    )
    assert datetime_as_date.status_code == 400 and datetime_as_date.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    bad_number = salesforce_client.post("sobjects/Account/", json={"Name": "A", "CLV__c": "lots"})
    assert bad_number.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    too_big = salesforce_client.post("sobjects/Account/", json={"Name": "A", "CLV__c": 10**15})
    assert too_big.json() == _error(
        "NUMBER_OUTSIDE_VALID_RANGE",
        f"Customer Lifetime Value: value outside of valid range on numeric field: {10**15}",
        ["CLV__c"],
    )
    too_long = salesforce_client.post("sobjects/Account/", json={"Name": "A", "RFM_Score__c": "5555"})
    assert too_long.json() == _error(
        "STRING_TOO_LONG", "RFM Score: data value too large: 5555 (max length=3)", ["RFM_Score__c"]
    )
    bad_email = salesforce_client.post("sobjects/Contact/", json={"LastName": "D", "Email": "nope"})
    assert bad_email.json() == _error("INVALID_EMAIL_ADDRESS", "Email: invalid email address: nope", ["Email"])
    moment = salesforce_client.post(
        "sobjects/Lead/", json={"LastName": "D", "Company": "C", "AbandonedCartDate__c": "2025-03-01T10:00:00+02:00"}
    ).json()["id"]
    assert app.record("Lead", moment)["AbandonedCartDate__c"] == "2025-03-01T08:00:00.000+0000"


# --------------------------------------------------------------------------- orders and price books


def test_order_status_on_create_must_be_draft(salesforce_client, catalog):
    answer = salesforce_client.post(
        "sobjects/Order/",
        json={"AccountId": catalog["account"], "EffectiveDate": "2025-01-15", "Status": "Activated"},
    )
    assert answer.status_code == 400
    body = answer.json()[0]
    assert body["errorCode"] == "FIELD_INTEGRITY_EXCEPTION" and body["fields"] == ["Status"]


def test_order_needs_a_price_book_before_items(salesforce_client, catalog):
    order_id = _order(salesforce_client, catalog)
    answer = _item(salesforce_client, order_id, catalog)
    assert answer.status_code == 400
    assert answer.json() == _error(
        "FIELD_INTEGRITY_EXCEPTION",
        "field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the one "
        "assigned to the order, or order has no pricebook assigned)",
        ["PricebookEntryId"],
    )


def test_order_item_entry_must_belong_to_the_orders_price_book(salesforce_client, catalog, salesforce_sandbox):
    app = salesforce_sandbox.app
    custom = app.record_create("Pricebook2", {"Name": "Wholesale", "IsActive": True})
    order_id = _order(salesforce_client, catalog, Pricebook2Id=custom)
    answer = _item(salesforce_client, order_id, catalog)
    assert answer.status_code == 400
    assert answer.json() == _error(
        "FIELD_INTEGRITY_EXCEPTION",
        "Order Products must have a Price Book Entry that belongs to the Price Book related to the parent Order.",
        ["PricebookEntryId"],
    )


def test_order_item_entry_must_be_active(salesforce_client, catalog, salesforce_sandbox):
    app = salesforce_sandbox.app
    product = app.record_create("Product2", {"Name": "Dormant"})
    entry = app.record_create(
        "PricebookEntry", {"Pricebook2Id": catalog["standard"], "Product2Id": product, "UnitPrice": 1}
    )
    order_id = _order(salesforce_client, catalog, Pricebook2Id=catalog["standard"])
    answer = _item(salesforce_client, order_id, catalog, PricebookEntryId=entry)
    assert answer.status_code == 400
    assert answer.json() == _error(
        "FIELD_INTEGRITY_EXCEPTION",
        "field integrity exception: PricebookEntryId (pricebook entry is inactive)",
        ["PricebookEntryId"],
    )


def test_custom_price_needs_a_standard_price_first(salesforce_client, catalog, salesforce_sandbox):
    app = salesforce_sandbox.app
    custom = app.record_create("Pricebook2", {"Name": "Wholesale", "IsActive": True})
    product = app.record_create("Product2", {"Name": "New"})
    answer = salesforce_client.post(
        "sobjects/PricebookEntry/", json={"Pricebook2Id": custom, "Product2Id": product, "UnitPrice": 5}
    )
    assert answer.status_code == 400
    assert answer.json() == _error("STANDARD_PRICE_NOT_DEFINED", "No standard price defined for this product", [])
    ok = salesforce_client.post(
        "sobjects/PricebookEntry/", json={"Pricebook2Id": custom, "Product2Id": catalog["product"], "UnitPrice": 8}
    )
    assert ok.status_code == 201
    stored = app.record("PricebookEntry", ok.json()["id"])
    assert (stored["Name"], stored["ProductCode"], stored["IsActive"]) == ("Widget", "W-1", False)


def test_duplicate_price_book_entry(salesforce_client, catalog):
    answer = salesforce_client.post(
        "sobjects/PricebookEntry/",
        json={"Pricebook2Id": catalog["standard"], "Product2Id": catalog["product"], "UnitPrice": 11},
    )
    assert answer.status_code == 400
    assert answer.json() == _error("DUPLICATE_VALUE", "This price definition already exists in this price book", [])


def test_order_lifecycle_rollup_activation_and_locking(salesforce_client, catalog, salesforce_sandbox):
    app = salesforce_sandbox.app
    order_id = _order(salesforce_client, catalog, Pricebook2Id=catalog["standard"])

    empty = salesforce_client.patch(f"sobjects/Order/{order_id}", json={"Status": "Activated"})
    assert empty.status_code == 400
    assert empty.json() == _error(
        "FIELD_INTEGRITY_EXCEPTION", "You can't activate an order that has no order products.", []
    )

    first = _item(salesforce_client, order_id, catalog)  # 2 x 10.5
    second = _item(salesforce_client, order_id, catalog, Quantity=3, UnitPrice=1.99)
    assert first.status_code == second.status_code == 201
    item = app.record("OrderItem", first.json()["id"])
    assert (item["TotalPrice"], item["ListPrice"], item["Product2Id"]) == (21.0, 10.0, catalog["product"])
    assert app.record("Order", order_id)["TotalAmount"] == 26.97

    changed = salesforce_client.patch(f"sobjects/OrderItem/{second.json()['id']}", json={"Quantity": 1})
    assert changed.status_code == 204
    assert app.record("Order", order_id)["TotalAmount"] == 22.99

    activated = salesforce_client.patch(f"sobjects/Order/{order_id}", json={"Status": "Activated"})
    assert activated.status_code == 204
    order = app.record("Order", order_id)
    assert (order["StatusCode"], order["ActivatedById"] is not None) == ("Activated", True)

    # The default org: Edit Activated Orders granted, Enhanced Commerce Orders on (see test_salesforce_strict_*).
    added = _item(salesforce_client, order_id, catalog)
    assert (added.status_code, added.json()[0]["errorCode"]) == (400, "FIELD_INTEGRITY_EXCEPTION")
    edit = salesforce_client.patch(f"sobjects/OrderItem/{first.json()['id']}", json={"Quantity": 5})
    assert (edit.status_code, edit.json()[0]["fields"]) == (400, ["Quantity"])
    described = salesforce_client.patch(f"sobjects/OrderItem/{first.json()['id']}", json={"Description": "gift"})
    assert described.status_code == 204
    removal = salesforce_client.delete(f"sobjects/OrderItem/{first.json()['id']}")
    assert (removal.status_code, removal.json()[0]["errorCode"]) == (400, "FIELD_INTEGRITY_EXCEPTION")

    back = salesforce_client.patch(f"sobjects/Order/{order_id}", json={"Status": "Draft"})
    assert back.status_code == 204
    assert salesforce_client.delete(f"sobjects/OrderItem/{first.json()['id']}").status_code == 204
    assert app.record("Order", order_id)["TotalAmount"] == 1.99


def test_price_book_of_an_order_with_items_cannot_change(salesforce_client, catalog, salesforce_sandbox):
    custom = salesforce_sandbox.app.record_create("Pricebook2", {"Name": "Wholesale", "IsActive": True})
    order_id = _order(salesforce_client, catalog, Pricebook2Id=catalog["standard"])
    assert _item(salesforce_client, order_id, catalog).status_code == 201
    answer = salesforce_client.patch(f"sobjects/Order/{order_id}", json={"Pricebook2Id": custom})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_delete_cascades_and_restrictions(salesforce_client, catalog, salesforce_sandbox):
    app = salesforce_sandbox.app
    order_id = _order(salesforce_client, catalog, Pricebook2Id=catalog["standard"])
    item_id = _item(salesforce_client, order_id, catalog).json()["id"]
    refused = salesforce_client.delete(f"sobjects/Account/{catalog['account']}")
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "DELETE_FAILED"
    assert app.record("Account", catalog["account"]) is not None  # nothing deleted
    assert salesforce_client.delete(f"sobjects/Order/{order_id}").status_code == 204
    assert app.record("OrderItem", item_id) is None  # items go with their order
    contact = app.record_create("Contact", {"LastName": "D", "AccountId": catalog["account"]})
    assert salesforce_client.delete(f"sobjects/Account/{catalog['account']}").status_code == 204
    assert app.record("Contact", contact) is None


def test_task_rules_and_computed_fields(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    lead = app.record_create("Lead", {"LastName": "L", "Company": "C"})
    account = app.record_create("Account", {"Name": "A"})
    opportunity = app.record_create(
        "Opportunity", {"Name": "O", "StageName": "Prospecting", "CloseDate": "2025-05-01", "AccountId": account}
    )
    both = salesforce_client.post("sobjects/Task/", json={"Subject": "S", "WhoId": lead, "WhatId": opportunity})
    assert both.status_code == 400 and both.json()[0]["fields"] == ["WhatId"]
    account_as_who = salesforce_client.post("sobjects/Task/", json={"Subject": "S", "WhoId": account})
    assert account_as_who.json()[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    task = salesforce_client.post(
        "sobjects/Task/", json={"Subject": "S", "WhatId": opportunity, "Priority": "High", "ActivityDate": "2025-05-02"}
    ).json()["id"]
    assert app.record("Task", task)["IsHighPriority"] is True
    salesforce_client.patch(f"sobjects/Task/{task}", json={"Status": "Completed"})
    assert app.record("Task", task)["IsClosed"] is True
    salesforce_client.patch(f"sobjects/Opportunity/{opportunity}", json={"StageName": "Closed Lost"})
    lost = app.record("Opportunity", opportunity)
    assert (lost["IsClosed"], lost["IsWon"], lost["Probability"]) == (True, False, 0.0)


# --------------------------------------------------------------------------- schema as data


def test_minimal_schema_has_no_custom_fields_or_events():
    app = SalesforceSandbox(schema="minimal")
    assert app.schema["Order"].field("BigCommerceOrderId__c") is None
    assert "BigCommerce_Order_Created__e" not in app.schema
    with pytest.raises(ApiError) as raised:
        app.record_create("Account", {"Name": "A", "CLV__c": 1})
    assert raised.value.body() == [
        {"message": "No such column 'CLV__c' on sobject of type Account", "errorCode": "INVALID_FIELD"}
    ]


def test_schema_extension_and_reset_restores_it(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    app.schema.field_add("Account", "Segment__c", "picklist", picklist=["A", "B"], restricted=True)
    app.schema.object_add("Invoice__c", key_prefix="a01", fields=[Field("Amount__c", "currency", nillable=False)])
    assert salesforce_client.post("sobjects/Account/", json={"Name": "x", "Segment__c": "C"}).status_code == 400
    invoice = salesforce_client.post("sobjects/Invoice__c/", json={"Amount__c": 3})
    assert invoice.status_code == 201 and invoice.json()["id"].startswith("a01")
    described = salesforce_client.get("sobjects/Invoice__c/describe").json()
    assert described["custom"] is True and "Amount__c" in [field["name"] for field in described["fields"]]
    app.reset()
    assert "Invoice__c" not in app.schema and app.schema["Account"].field("Segment__c") is None


def test_describe_reports_the_rules(salesforce_client):
    described = salesforce_client.get("sobjects/Order/describe").json()
    assert (described["name"], described["keyPrefix"], described["createable"]) == ("Order", "801", True)
    fields = {field["name"]: field for field in described["fields"]}
    assert fields["TotalAmount"]["createable"] is False and fields["TotalAmount"]["updateable"] is False
    assert fields["BigCommerceOrderId__c"]["externalId"] is True and fields["BigCommerceOrderId__c"]["unique"] is True
    assert fields["Status"]["restrictedPicklist"] is True
    assert [value["value"] for value in fields["Status"]["picklistValues"]] == ["Draft", "Activated"]
    assert fields["AccountId"]["referenceTo"] == ["Account"] and fields["AccountId"]["nillable"] is False
    assert fields["Shipped_Date__c"]["type"] == "date" and fields["Archived__c"]["type"] == "boolean"
    item_fields = {f["name"]: f for f in salesforce_client.get("sobjects/OrderItem/describe").json()["fields"]}
    assert item_fields["OrderId"]["createable"] is True and item_fields["OrderId"]["updateable"] is False
    child = {c["relationshipName"]: c for c in described["childRelationships"]}
    assert child["OrderItems"]["childSObject"] == "OrderItem"
    listed = salesforce_client.get("sobjects").json()
    names = {item["name"] for item in listed["sobjects"]}
    assert {"Account", "Order", "OrderItem", "User", "BigCommerce_Cart_Abandoned__e"} <= names
    assert salesforce_client.get("sobjects/Nope__c/describe").status_code == 404


def test_upsert_update_refuses_create_only_fields(salesforce_client, catalog):
    order_id = _order(salesforce_client, catalog, Pricebook2Id=catalog["standard"])
    body = {"OrderId": order_id, "PricebookEntryId": catalog["entry"], "Quantity": 1, "UnitPrice": 3}
    url = "sobjects/OrderItem/BigCommerceOrderItemId__c/s:1:1"
    assert salesforce_client.patch(url, json=body).status_code == 201
    again = salesforce_client.patch(url, json=body)
    assert again.status_code == 400
    assert again.json() == _error(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "Unable to create/update fields: OrderId, PricebookEntryId. Please check the security settings of this field "
        "and verify that it is read/write for your profile or permission set.",
        ["OrderId", "PricebookEntryId"],
    )
    update = salesforce_client.patch(url, json={"Quantity": 4, "UnitPrice": 3})
    assert update.status_code == 200 and update.json()["created"] is False
