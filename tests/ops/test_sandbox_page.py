"""``/sandbox/``: the staff page listing what landed in the Salesforce stand-in."""

from __future__ import annotations

import pytest

from tests.factories.auth import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    # The page shows what the webhooks brought in: it takes the permission to view those.
    client.force_login(UserFactory(staff=True, permissions=["sync.view_webhookevent"]))
    return client


@pytest.fixture
def stand_in(salesforce_sandbox, settings):
    settings.SALESFORCE = {
        **settings.SALESFORCE,
        "SANDBOX": True,
        "LOGIN_URL": salesforce_sandbox.url,
        "CA_BUNDLE": salesforce_sandbox.ca_path,
    }
    return salesforce_sandbox


def test_the_page_lists_the_stand_in_records(stand_in, staff_client):
    app = stand_in.app
    account_id = app.record_create(
        "Account",
        {
            "Name": "Ada Lovelace",
            "BigCommerceCustomerId__c": "sandbox:7",
            "Customer_Tier__c": "Gold",
            "RFM_Score__c": "545",
        },
    )
    app.record_create(
        "Lead",
        {
            "LastName": "Babbage",
            "Company": "Engines",
            "AbandonedCartId__c": "sandbox:cart-1",
            "AbandonedCartValue__c": 42,
        },
    )
    app.record_create(
        "Opportunity",
        {"Name": "Abandoned Cart - c2", "StageName": "Prospecting", "CloseDate": "2030-01-01", "AccountId": account_id},
    )
    response = staff_client.get("/sandbox/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Ada Lovelace" in page and "Gold" in page and "545" in page
    assert "sandbox:cart-1" in page
    assert "Abandoned Cart - c2" in page
    assert "No orders yet." in page


def test_the_page_is_staff_only(stand_in, client):
    response = client.get("/sandbox/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_page_does_not_exist_with_a_real_org(staff_client, settings):
    settings.SALESFORCE = {**settings.SALESFORCE, "SANDBOX": False}
    assert staff_client.get("/sandbox/").status_code == 404


def test_a_stand_in_that_is_down_is_reported(staff_client, settings):
    settings.SALESFORCE = {**settings.SALESFORCE, "SANDBOX": True, "LOGIN_URL": "https://127.0.0.1:9"}
    response = staff_client.get("/sandbox/")
    assert response.status_code == 200
    assert "did not answer" in response.content.decode()
