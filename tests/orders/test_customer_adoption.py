"""Existing CRM records are adopted, not duplicated: customers b2s has not seen are looked up by email first.

Against the strict Salesforce stand-in (every production rule on), over HTTPS.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from urllib.parse import quote

import pytest
from django.core.cache import cache

from orders.documents import product_key
from sync.config import config_version_bump
from sync.customers import (
    CustomerIdentity,
    customer_identity,
    customer_match_pick,
    customers_match,
    guest_key_upgrade,
    match_rules_parse,
)
from sync.models import CustomerLink, SyncSetting
from sync.salesforce import SalesforceError, salesforce_client, salesforce_client_reset

pytestmark = pytest.mark.django_db


def guest_order(orders, email: str, **spec) -> dict:
    product = next(product for product in orders.bc._data.catalog if product.type == "physical")
    return orders.bc.order_create(
        {"customer_id": 0, "currency_code": "USD", "email": email, **spec} | {"products": [{"product_id": product.id}]}
    )


def digest(email: str) -> str:
    return hashlib.sha256(email.lower().encode()).hexdigest()[:32]


# -- keys -----------------------------------------------------------------------------------------
def test_guest_key_is_a_digest_of_the_lower_cased_email(store) -> None:
    identity = customer_identity(store=store, customer_id=0, email="  Pat.Smith@Example.INC ")
    assert identity.key == f"{store.store_hash}:guest:{digest('pat.smith@example.inc')}"
    assert identity == customer_identity(store=store, customer_id=0, email="pat.smith@example.inc")
    assert identity.key != customer_identity(store=store, customer_id=0, email="pat.smith@example.com").key
    assert identity.legacy_key == f"{store.store_hash}:guest:pat.smith@example.inc"
    # Nothing after the last dot-free hash can look like an extension: no dot at all.
    assert "." not in identity.key


def test_legacy_guest_values_are_upgraded_and_others_kept() -> None:
    assert guest_key_upgrade("s1:guest:a@b.inc") == f"s1:guest:{digest('a@b.inc')}"
    upgraded = guest_key_upgrade("s1:guest:a@b.inc")
    assert guest_key_upgrade(upgraded) == upgraded
    for value in ("s1:42", "s1:guest-checkouts", "s1:12:0", "s1:custom"):
        assert guest_key_upgrade(value) == value


def test_every_external_id_value_in_a_url_ends_without_a_dot(store) -> None:
    values = [
        customer_identity(store=store, customer_id=7, email="x@y.inc").key,
        customer_identity(store=store, customer_id=0, email="x@y.inc").key,
        customer_identity(store=store, customer_id=0, email="").key,
        store.external_id(1001),  # orders and order items
        product_key(store.store_hash, {"product_id": 12, "variant_id": 3}),
        product_key(store.store_hash, {"product_id": 0}),
        store.external_id("3f2a0f7e-3e3c-4c55-9c1e-6e7d2c5b1a90"),  # carts: BigCommerce cart ids are UUIDs
    ]
    for value in values:
        assert "." not in value.rsplit("/", 1)[-1], value


# -- pure match rules ----------------------------------------------------------------------------
def test_match_rules_parse_keeps_known_rules_in_the_admins_order() -> None:
    assert match_rules_parse("lead, contact,unknown,lead") == ("lead", "contact")
    assert match_rules_parse("") == ()


def test_contact_of_another_customers_account_is_adopted_but_stays_there() -> None:
    identity = CustomerIdentity("s1:9", "registered", "a@b.com")
    found = {
        "contact": [
            {"Id": "003A", "BigCommerceCustomerId__c": "s1:8", "AccountId": "001A", "Account": {}},
            {"Id": "003B", "AccountId": "001B", "Account": {"BigCommerceCustomerId__c": "s1:8"}},
        ]
    }
    match = customer_match_pick(identity=identity, rules=("contact",), found=found)
    assert match is not None and match.contact_id == "003B"
    assert match.keep_contact_account and not match.account_id


def test_lead_rule_only_when_chosen_and_after_contacts() -> None:
    identity = CustomerIdentity("s1:guest:x", "guest", "a@b.com")
    found = {"lead": [{"Id": "00QA"}], "contact": [{"Id": "003A", "AccountId": None}]}
    assert customer_match_pick(identity=identity, rules=("contact", "lead"), found=found).contact_id == "003A"
    assert customer_match_pick(identity=identity, rules=("lead", "contact"), found=found).lead_id == "00QA"
    assert customer_match_pick(identity=identity, rules=(), found=found) is None


# -- orders ---------------------------------------------------------------------------------------
def test_guest_order_adopts_a_hand_made_contact_and_its_account(orders) -> None:
    account_id = orders.sf.record_create("Account", {"Name": "Acme Existing"})
    contact_id = orders.sf.record_create(
        "Contact", {"LastName": "Existing", "Email": "Pat.Existing@Example.com", "AccountId": account_id}
    )
    order = guest_order(orders, "pat.existing@example.com")
    orders.warm_up()
    _, costs = orders.deliver("store/order/created", order["id"])
    key = f"sandbox:guest:{digest('pat.existing@example.com')}"

    assert costs.salesforce == 3  # the lookup, the product's entry query, the graph
    contacts = [row for row in orders.records("Contact") if (row["Email"] or "").lower() == "pat.existing@example.com"]
    assert [row["Id"] for row in contacts] == [contact_id]
    assert contacts[0]["BigCommerceCustomerId__c"] == key
    accounts = orders.records("Account")
    assert [row["Id"] for row in accounts] == [account_id]
    assert accounts[0]["BigCommerceCustomerId__c"] == key
    assert orders.order_record(order["id"])["AccountId"] == account_id
    link = CustomerLink.objects.get(store=orders.store, customer_key=key)
    assert (link.matched, link.contact_id, link.account_id) == ("contact", contact_id, account_id)

    # Seen now: the next order of the customer asks nothing more than an order does.
    again = guest_order(orders, "PAT.existing@example.com")
    _, costs = orders.deliver("store/order/created", again["id"])
    assert costs.salesforce == 1
    assert len(orders.records("Contact")) == 1 and len(orders.records("Account")) == 1


def test_registered_customer_adopts_contact_and_the_lookup_is_one_request(orders) -> None:
    customer = orders.bc.customer_create(email="Registered.Person@Example.org")
    contact_id = orders.sf.record_create("Contact", {"LastName": "Handmade", "Email": "REGISTERED.person@example.org"})
    product = next(product for product in orders.bc._data.catalog if product.type == "physical")
    order = orders.bc.order_create({"customer_id": customer["id"], "products": [{"product_id": product.id}]})
    orders.warm_up()
    identity = customer_identity(store=orders.store, customer_id=customer["id"], email=customer["email"])
    before = orders.sf.api_calls_counted()
    matches = customers_match(store=orders.store, client=salesforce_client(), identities=[identity])
    assert orders.sf.api_calls_counted() - before == 1
    assert matches[identity.key].contact_id == contact_id

    orders.deliver("store/order/created", order["id"])
    contact = orders.sf.record("Contact", contact_id)
    assert contact["BigCommerceCustomerId__c"] == f"sandbox:{customer['id']}"
    assert len(orders.records("Contact")) == 1
    # The Contact had no Account: the customer's Account is created and the Contact placed under it.
    assert contact["AccountId"] == orders.one("Account", BigCommerceCustomerId__c=f"sandbox:{customer['id']}")["Id"]


def test_guest_matching_a_lead_converts_it_and_adopts_what_it_became(orders) -> None:
    # "fail": a Contact created next to its Lead would be refused by the standard Contact duplicate rule.
    SyncSetting.objects.filter(key="duplicate_rule_action").update(value="fail")
    config_version_bump()
    lead_id = orders.sf.record_create(
        "Lead", {"FirstName": "Jane", "LastName": "Prospect", "Company": "P Inc", "Email": "lead@ex.com"}
    )
    order = guest_order(orders, "Lead@Ex.com", billing_address={"first_name": "Jane", "last_name": "Prospect"})
    orders.warm_up()
    result, costs = orders.deliver("store/order/created", order["id"])
    key = f"sandbox:guest:{digest('lead@ex.com')}"
    lead = orders.sf.record("Lead", lead_id)
    assert lead["IsConverted"] is True and len(orders.records("Lead")) == 1
    contact = orders.one("Contact", BigCommerceCustomerId__c=key)
    account = orders.one("Account", BigCommerceCustomerId__c=key)
    assert (lead["ConvertedContactId"], lead["ConvertedAccountId"]) == (contact["Id"], account["Id"])
    assert orders.order_record(order["id"])["AccountId"] == account["Id"]
    assert orders.records("Opportunity") == []  # no Opportunity from the conversion
    link = CustomerLink.objects.get(store=orders.store, customer_key=key)
    assert (link.matched, link.lead_id, link.contact_id) == ("lead", lead_id, contact["Id"])
    # The lookup, the converted status (once a day), the conversion, the entries query, the graph.
    assert costs.salesforce == 5 and result.details["customer_key"] == key


def test_match_rules_are_the_admins_choice(orders) -> None:
    # No match rule: nothing is looked up (a second Contact, saved as duplicate_rule_action ships: allow_save).
    SyncSetting.objects.filter(key="customer_match_rules").update(value="")
    config_version_bump()
    orders.sf.record_create("Contact", {"LastName": "Handmade", "Email": "off@ex.com"})
    order = guest_order(orders, "off@ex.com")
    orders.deliver("store/order/created", order["id"])
    assert len(orders.records("Contact")) == 2


def test_guest_checkout_of_a_registered_customer_uses_the_customers_records(orders) -> None:
    customer = orders.bc.customer_create(email="both.ways@example.com")
    product = next(product for product in orders.bc._data.catalog if product.type == "physical")
    first = orders.bc.order_create({"customer_id": customer["id"], "products": [{"product_id": product.id}]})
    orders.deliver("store/order/created", first["id"])
    guest = guest_order(orders, "Both.Ways@example.com")
    orders.deliver("store/order/created", guest["id"])
    key = f"sandbox:{customer['id']}"
    assert [row["BigCommerceCustomerId__c"] for row in orders.records("Contact")] == [key]
    assert orders.order_record(guest["id"])["AccountId"] == orders.one("Account", BigCommerceCustomerId__c=key)["Id"]
    guest_key = f"sandbox:guest:{digest('both.ways@example.com')}"
    assert CustomerLink.objects.get(store=orders.store, customer_key=guest_key).alias_of == key
    # Remembered: the guest's next order needs no lookup.
    again = guest_order(orders, "both.ways@example.com")
    _, costs = orders.deliver("store/order/created", again["id"])
    assert costs.salesforce == 1


def test_person_account_is_adopted_alone_where_the_org_has_them(orders) -> None:
    schema = orders.sf.schema
    schema.field_add("Account", "PersonEmail", "email", length=80)
    schema.field_add("Account", "IsPersonAccount", "boolean", default=False, defaultedOnCreate=True)
    schema.field_add("Account", "PersonContactId", "reference", referenceTo=["Contact"])
    schema.field_add("Contact", "IsPersonAccount", "boolean", default=False, defaultedOnCreate=True)
    cache.clear()  # the Account's describe (field lengths) is shared for a day: read the changed org's
    salesforce_client_reset()
    person = orders.sf.record_create(
        "Account", {"Name": "Robin Person", "PersonEmail": "Robin@Person.example", "IsPersonAccount": True}
    )
    order = guest_order(orders, "robin@person.example")
    orders.deliver("store/order/created", order["id"])
    key = f"sandbox:guest:{digest('robin@person.example')}"
    assert [row["Id"] for row in orders.records("Account")] == [person]
    assert orders.sf.record("Account", person)["BigCommerceCustomerId__c"] == key
    assert orders.records("Contact") == []  # a Person Account has no separate Contact
    assert orders.order_record(order["id"])["AccountId"] == person
    link = CustomerLink.objects.get(store=orders.store, customer_key=key)
    assert (link.matched, link.person_account) == ("person_account", True)


def test_customer_webhook_adopts_the_existing_contact(orders) -> None:
    from sync.customers import customer_sync

    customer = orders.bc.customer_create(email="hook.person@example.com", first_name="Hook", last_name="Person")
    contact_id = orders.sf.record_create("Contact", {"LastName": "Old name", "Email": "Hook.Person@example.com"})
    result = customer_sync(store=orders.store, customer_id=customer["id"])
    assert result.details["adopted"] == "contact" and result.details["contact_id"] == contact_id
    contact = orders.sf.record("Contact", contact_id)
    assert contact["BigCommerceCustomerId__c"] == f"sandbox:{customer['id']}" and contact["LastName"] == "Person"
    assert len(orders.records("Contact")) == 1


def test_old_guest_records_are_found_by_email_and_rekeyed(orders) -> None:
    legacy = "sandbox:guest:old.guest@example.inc"
    account_id = orders.sf.record_create("Account", {"Name": "Old Guest", "BigCommerceCustomerId__c": legacy})
    contact_id = orders.sf.record_create(
        "Contact",
        {
            "LastName": "Guest",
            "Email": "old.guest@example.inc",
            "AccountId": account_id,
            "BigCommerceCustomerId__c": legacy,
        },
    )
    order = guest_order(orders, "Old.Guest@example.inc")  # an email ending like a file extension
    orders.deliver("store/order/created", order["id"])
    key = f"sandbox:guest:{digest('old.guest@example.inc')}"
    assert orders.sf.record("Contact", contact_id)["BigCommerceCustomerId__c"] == key
    assert orders.sf.record("Account", account_id)["BigCommerceCustomerId__c"] == key
    assert len(orders.records("Contact")) == 1 and len(orders.records("Account")) == 1


def test_match_rules_setting_is_validated() -> None:
    from django.core.exceptions import ValidationError

    setting = SyncSetting.objects.get(key="customer_match_rules")
    assert setting.value == "contact,lead,person_account"
    for good in ("lead,contact", "", "person_account"):
        setting.value = good
        setting.clean()
    for bad in ("contact,contact", "contacts", "contact,account"):
        setting.value = bad
        with pytest.raises(ValidationError):
            setting.clean()


@pytest.mark.parametrize("collections_min", [1, 10_000], ids=["collections", "graphs"])
def test_a_batch_adopts_with_one_lookup(orders, collections_min) -> None:
    from tests.orders.test_order_batch import batch, dollar_orders

    ids = dollar_orders(orders, 30)  # 4 registered buyers (buyer{n}@example.com), 7 guests (guest{n}@example.com)
    accounts = orders.sf.records_create("Account", [{"Name": f"Hand-made {n}"} for n in range(4)])
    contacts = orders.sf.records_create(
        "Contact",
        [
            {"LastName": "Buyer", "Email": "BUYER0@example.com", "AccountId": accounts[0]},
            {"LastName": "Guest", "Email": "Guest1@Example.com", "AccountId": accounts[1]},
            {"LastName": "Other", "Email": "someone@else.example", "AccountId": accounts[2]},
        ],
    )
    lead = orders.sf.record_create("Lead", {"LastName": "Lead", "Company": "L", "Email": "guest2@EXAMPLE.com"})
    orders.warm_up()
    result, spent = batch(orders, ids, collections_min=collections_min)
    assert result.failed == {}
    # One lookup (a composite of queries) for the batch's 11 new customers, whatever it found; the Lead
    # found is converted (the org's converted status, read once a day, and convertLead).
    if collections_min == 1:
        assert spent == result.composite_requests + 1 + 2
    else:
        assert spent == 3 + 2 + result.order_requests  # lookup, conversion, entries query, new products, graphs
    per_email = Counter((row["Email"] or "").lower() for row in orders.records("Contact"))
    assert {email: n for email, n in per_email.items() if n > 1} == {}
    buyer, guest = orders.sf.record("Contact", contacts[0]), orders.sf.record("Contact", contacts[1])
    assert buyer["BigCommerceCustomerId__c"].startswith("sandbox:") and buyer["AccountId"] == accounts[0]
    assert guest["BigCommerceCustomerId__c"] == f"sandbox:guest:{digest('guest1@example.com')}"
    assert orders.sf.record("Account", accounts[1])["BigCommerceCustomerId__c"] == guest["BigCommerceCustomerId__c"]
    assert orders.sf.record("Contact", contacts[2])["BigCommerceCustomerId__c"] is None
    assert [row["Id"] for row in orders.records("Lead")] == [lead]
    converted = orders.sf.record("Lead", lead)
    assert converted["IsConverted"] is True
    guest2 = f"sandbox:guest:{digest('guest2@example.com')}"
    assert orders.sf.record("Contact", converted["ConvertedContactId"])["BigCommerceCustomerId__c"] == guest2
    assert CustomerLink.objects.filter(store=orders.store).count() == 11  # every customer remembered


def test_a_guest_who_registers_later_keeps_one_contact(orders) -> None:
    first = guest_order(orders, "Later.Member@example.com")
    orders.deliver("store/order/created", first["id"])
    guest_key = f"sandbox:guest:{digest('later.member@example.com')}"
    contact_id = orders.one("Contact", BigCommerceCustomerId__c=guest_key)["Id"]

    customer = orders.bc.customer_create(email="later.member@example.com")
    product = next(product for product in orders.bc._data.catalog if product.type == "physical")
    registered = orders.bc.order_create(
        {"customer_id": customer["id"], "currency_code": "USD", "products": [{"product_id": product.id}]}
    )
    orders.deliver("store/order/created", registered["id"])
    key = f"sandbox:{customer['id']}"
    assert [row["Id"] for row in orders.records("Contact")] == [contact_id]
    assert orders.sf.record("Contact", contact_id)["BigCommerceCustomerId__c"] == key
    assert len(orders.records("Account")) == 1

    # A later guest checkout with that email goes to the customer's records, without a lookup.
    again = guest_order(orders, "later.member@example.com")
    _, costs = orders.deliver("store/order/created", again["id"])
    assert costs.salesforce == 1
    assert [row["Id"] for row in orders.records("Contact")] == [contact_id]
    assert orders.order_record(again["id"])["AccountId"] == orders.one("Account")["Id"]


def test_long_emails_are_looked_up_in_short_enough_queries(orders) -> None:
    from sync.customers import MATCH_CHUNK_URL_CHARS, _email_chunks

    # Salesforce's Email holds 80 characters: 100 of those make a too long URL for one IN list.
    emails = [f"{'x' * 50}.{n:03d}@sub.sub.example.com" for n in range(100)]
    chunks = list(_email_chunks(emails))
    assert [email for chunk in chunks for email in chunk] == emails and len(chunks) > 1
    assert all(sum(len(email) for email in chunk) < MATCH_CHUNK_URL_CHARS for chunk in chunks)
    assert list(_email_chunks([f"a{n}@b.com" for n in range(250)])) == [
        [f"a{n}@b.com" for n in range(start, min(start + 100, 250))] for start in (0, 100, 200)
    ]
    # Against the org: every one of them found, in one request per 5 queries.
    identities = [customer_identity(store=orders.store, customer_id=0, email=email) for email in emails]
    orders.sf.records_create("Contact", [{"LastName": "Long", "Email": email.upper()} for email in emails])
    orders.warm_up()
    before = orders.sf.api_calls_counted()
    matches = customers_match(store=orders.store, client=salesforce_client(), identities=identities)
    assert len(matches) == 100 and all(match.contact_id for match in matches.values())
    # Two rules (contact, lead: person_account needs Person Accounts) per chunk, 5 queries a request.
    assert orders.sf.api_calls_counted() - before == -(-(len(chunks) * 2) // 5)


def test_unusual_emails_are_found_and_their_keys_travel_safely(orders) -> None:
    email = "O'Brien+shop@Mail.Sub.Example.INC"
    contact_id = orders.sf.record_create("Contact", {"LastName": "O'Brien", "Email": email})
    order = guest_order(orders, email.lower())
    orders.deliver("store/order/created", order["id"])
    key = f"sandbox:guest:{digest(email)}"
    assert orders.sf.record("Contact", contact_id)["BigCommerceCustomerId__c"] == key
    assert len(orders.records("Contact")) == 1
    # The old value would not even reach the org: its upsert URL ends like a file extension.
    legacy = quote(f"sandbox:guest:{email.lower()}", safe="")
    with pytest.raises(SalesforceError) as refused:
        salesforce_client().request("PATCH", f"sobjects/Account/BigCommerceCustomerId__c/{legacy}", json={"Name": "x"})
    assert refused.value.status == 404
    # The Account was created by upsert on the new key, and is found again.
    again = guest_order(orders, email)
    orders.deliver("store/order/created", again["id"])
    assert len(orders.records("Account")) == 1
