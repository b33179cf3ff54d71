"""Multi-currency orgs in the Salesforce stand-in: price book entries per currency, order items in the order's."""

from __future__ import annotations

import pytest

from sandbox.salesforce.errors import ApiError

CURRENCIES = ["USD", "EUR", "GBP"]


def _error(code, message, fields):
    return [{"message": message, "errorCode": code, "fields": fields}]


def _field_add_org(app):
    """The multi-currency org the product's tests build: CurrencyIsoCode added on three objects only."""
    for sobject in ("Order", "OrderItem", "PricebookEntry"):
        app.schema.field_add(sobject, "CurrencyIsoCode", "picklist", picklist=list(CURRENCIES))


@pytest.fixture(params=["field_add", "multi_currency_enable"])
def org(request, salesforce_sandbox):
    """A multi-currency org (both ways of making one), an account and a product."""
    app = salesforce_sandbox.app
    if request.param == "field_add":
        _field_add_org(app)
    else:
        app.schema.multi_currency_enable(CURRENCIES)
    return {
        "app": app,
        "account": app.record_create("Account", {"Name": "Buyer"}),
        "product": app.record_create("Product2", {"Name": "Widget", "IsActive": True}),
        "standard": app.records("Pricebook2")[0]["Id"],
    }


def _entry(client, org, currency, *, book=None, price=10):
    body = {
        "Pricebook2Id": book or org["standard"],
        "Product2Id": org["product"],
        "UnitPrice": price,
        "IsActive": True,
    }
    if currency:
        body["CurrencyIsoCode"] = currency
    return client.post("sobjects/PricebookEntry/", json=body)


def _order(client, org, currency=None):
    body = {"AccountId": org["account"], "EffectiveDate": "2025-01-15", "Status": "Draft"}
    body["Pricebook2Id"] = org["standard"]
    if currency:
        body["CurrencyIsoCode"] = currency
    answer = client.post("sobjects/Order/", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _item(client, order_id, entry_id, **extra):
    body = {"OrderId": order_id, "PricebookEntryId": entry_id, "Quantity": 2, "UnitPrice": 9.5, **extra}
    return client.post("sobjects/OrderItem/", json=body)


def test_one_standard_price_per_currency(salesforce_client, org):
    euro, dollar = _entry(salesforce_client, org, "EUR", price=9), _entry(salesforce_client, org, "USD", price=10)
    assert euro.status_code == 201, euro.text
    assert dollar.status_code == 201, dollar.text

    # The duplicate rule is (product, price book, currency).
    again = _entry(salesforce_client, org, "EUR", price=11)
    assert again.status_code == 400
    assert again.json() == _error("DUPLICATE_VALUE", "This price definition already exists in this price book", [])

    soql = f"SELECT Id, UnitPrice FROM PricebookEntry WHERE Product2Id = '{org['product']}' AND CurrencyIsoCode = 'EUR'"
    records = salesforce_client.get("query", params={"q": soql}).json()["records"]
    assert [(r["Id"], r["UnitPrice"]) for r in records] == [(euro.json()["id"], 9.0)]


def test_custom_price_needs_a_standard_price_in_the_same_currency(salesforce_client, org):
    app = org["app"]
    custom = app.record_create("Pricebook2", {"Name": "Wholesale", "IsActive": True})
    assert _entry(salesforce_client, org, "USD").status_code == 201

    answer = _entry(salesforce_client, org, "EUR", book=custom)
    assert answer.status_code == 400
    assert answer.json() == _error("STANDARD_PRICE_NOT_DEFINED", "No standard price defined for this product", [])

    assert _entry(salesforce_client, org, "EUR").status_code == 201
    assert _entry(salesforce_client, org, "EUR", book=custom).status_code == 201


def test_order_item_entry_must_be_in_the_orders_currency(salesforce_client, org):
    app = org["app"]
    euro = _entry(salesforce_client, org, "EUR").json()["id"]
    dollar = _entry(salesforce_client, org, "USD").json()["id"]
    order = _order(salesforce_client, org, "EUR")

    wrong = _item(salesforce_client, order, dollar)
    assert wrong.status_code == 400
    assert wrong.json() == _error(
        "FIELD_INTEGRITY_EXCEPTION",
        "field integrity exception: PricebookEntryId (pricebook entry currency code does not match order "
        "currency code)",
        ["PricebookEntryId"],
    )
    assert app.records("OrderItem") == []

    right = _item(salesforce_client, order, euro)
    assert right.status_code == 201, right.text
    item = app.record("OrderItem", right.json()["id"])
    # An order product has its order's currency.
    assert item["CurrencyIsoCode"] == "EUR" and item["PricebookEntryId"] == euro
    assert app.record("Order", order)["TotalAmount"] == 19.0


def test_order_currency_defaults_to_the_corporate_currency(salesforce_client, org):
    app = org["app"]
    order = _order(salesforce_client, org)
    assert app.record("Order", order)["CurrencyIsoCode"] == "USD"

    euro = _entry(salesforce_client, org, "EUR").json()["id"]
    answer = _item(salesforce_client, order, euro)
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    entry = _entry(salesforce_client, org, None)  # no currency given: the corporate one
    assert entry.status_code == 201, entry.text
    assert app.record("PricebookEntry", entry.json()["id"])["CurrencyIsoCode"] == "USD"
    assert _item(salesforce_client, order, entry.json()["id"]).status_code == 201


def test_records_from_before_multi_currency_have_the_corporate_currency(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    product = app.record_create("Product2", {"Name": "Old", "IsActive": True})
    standard = app.records("Pricebook2")[0]["Id"]
    old_entry = app.record_create(
        "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 5, "IsActive": True}
    )
    _field_add_org(app)

    # The old entry counts as the USD one: a second USD entry is a duplicate, a EUR one is not.
    with pytest.raises(ApiError) as raised:
        app.record_create(
            "PricebookEntry",
            {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 6, "CurrencyIsoCode": "USD"},
        )
    assert raised.value.body()[0]["errorCode"] == "DUPLICATE_VALUE"
    app.record_create(
        "PricebookEntry", {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 6, "CurrencyIsoCode": "EUR"}
    )
    account = app.record_create("Account", {"Name": "Buyer"})
    order = app.record_create(
        "Order",
        {
            "AccountId": account,
            "EffectiveDate": "2025-01-15",
            "Status": "Draft",
            "Pricebook2Id": standard,
            "CurrencyIsoCode": "USD",
        },
    )
    answer = _item(salesforce_client, order, old_entry)
    assert answer.status_code == 201, answer.text


def test_order_currency_is_fixed_once_it_has_items(salesforce_client, org):
    app = org["app"]
    euro = _entry(salesforce_client, org, "EUR").json()["id"]
    order = _order(salesforce_client, org, "GBP")
    # Without items the currency may change.
    assert salesforce_client.patch(f"sobjects/Order/{order}", json={"CurrencyIsoCode": "EUR"}).status_code == 204
    assert _item(salesforce_client, order, euro).status_code == 201
    # Sending the same currency again (as an upsert does) is fine; a different one is refused.
    assert salesforce_client.patch(f"sobjects/Order/{order}", json={"CurrencyIsoCode": "EUR"}).status_code == 204
    answer = salesforce_client.patch(f"sobjects/Order/{order}", json={"CurrencyIsoCode": "USD"})
    assert answer.status_code == 400
    assert answer.json() == _error(
        "FIELD_INTEGRITY_EXCEPTION",
        "field integrity exception: CurrencyIsoCode (you can't change the currency of an order that has order "
        "products)",
        ["CurrencyIsoCode"],
    )
    assert app.record("Order", order)["CurrencyIsoCode"] == "EUR"


def test_price_book_entry_currency_is_set_on_create_only(salesforce_client, org):
    entry = _entry(salesforce_client, org, "EUR").json()["id"]
    answer = salesforce_client.patch(f"sobjects/PricebookEntry/{entry}", json={"CurrencyIsoCode": "USD"})
    assert answer.status_code == 400
    [error] = answer.json()
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE" and error["fields"] == ["CurrencyIsoCode"]
    assert org["app"].record("PricebookEntry", entry)["CurrencyIsoCode"] == "EUR"


def test_order_item_currency_sent_must_be_the_orders(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    _field_add_org(app)  # here OrderItem.CurrencyIsoCode is writable, so the value is checked
    org = {
        "account": app.record_create("Account", {"Name": "Buyer"}),
        "product": app.record_create("Product2", {"Name": "Widget", "IsActive": True}),
        "standard": app.records("Pricebook2")[0]["Id"],
    }
    euro = _entry(salesforce_client, org, "EUR").json()["id"]
    order = _order(salesforce_client, org, "EUR")
    answer = _item(salesforce_client, order, euro, CurrencyIsoCode="GBP")
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert answer.json()[0]["fields"] == ["CurrencyIsoCode"]
    assert _item(salesforce_client, order, euro, CurrencyIsoCode="EUR").status_code == 201


def test_multi_currency_enable_matches_a_real_org(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    app.schema.multi_currency_enable(["EUR", "USD"], corporate="USD")
    fields = {
        sobject: {f["name"]: f for f in salesforce_client.get(f"sobjects/{sobject}/describe").json()["fields"]}
        for sobject in ("Account", "Order", "OrderItem", "PricebookEntry", "User")
    }
    order_currency = fields["Order"]["CurrencyIsoCode"]
    assert order_currency["restrictedPicklist"] is True and order_currency["nillable"] is False
    assert order_currency["defaultValue"] == "USD" and order_currency["defaultedOnCreate"] is True
    assert [v["value"] for v in order_currency["picklistValues"]] == ["EUR", "USD"]
    assert "CurrencyIsoCode" in fields["Account"] and "CurrencyIsoCode" not in fields["User"]
    item_currency, entry_currency = fields["OrderItem"]["CurrencyIsoCode"], fields["PricebookEntry"]["CurrencyIsoCode"]
    assert (item_currency["createable"], item_currency["updateable"]) == (False, False)
    assert (entry_currency["createable"], entry_currency["updateable"]) == (True, False)

    account = app.record_create("Account", {"Name": "Buyer"})
    assert app.record("Account", account)["CurrencyIsoCode"] == "USD"
    bad = salesforce_client.post("sobjects/Account/", json={"Name": "X", "CurrencyIsoCode": "JPY"})
    assert bad.status_code == 400
    assert bad.json() == _error(
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "Currency ISO Code: bad value for restricted picklist field: JPY",
        ["CurrencyIsoCode"],
    )
    with pytest.raises(ValueError):
        app.schema.multi_currency_enable(["EUR"], corporate="USD")

    app.reset()
    assert app.schema["Order"].field("CurrencyIsoCode") is None


def test_single_currency_org_keeps_one_entry_per_product_and_book(salesforce_client, salesforce_sandbox):
    app = salesforce_sandbox.app
    product = app.record_create("Product2", {"Name": "Widget"})
    standard = app.records("Pricebook2")[0]["Id"]
    body = {"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 1}
    assert salesforce_client.post("sobjects/PricebookEntry/", json=body).status_code == 201
    again = salesforce_client.post("sobjects/PricebookEntry/", json=body)
    assert again.json() == _error("DUPLICATE_VALUE", "This price definition already exists in this price book", [])
    unknown = salesforce_client.post("sobjects/PricebookEntry/", json={**body, "CurrencyIsoCode": "EUR"})
    assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALID_FIELD"
