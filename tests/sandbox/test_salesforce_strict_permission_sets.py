"""Rule ``permission_sets``: the integration user can do only what its assigned permission sets grant.

Salesforce Help, "Editing and Deletion Limitations for Orders" and "... for Order Products": editing an
activated order, or the order products of one, needs the user permission Edit Activated Orders.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sandbox.salesforce.schema import USER_PERMISSIONS
from tests.sandbox.conftest import draft_order_create

METADATA = (
    Path(__file__).resolve().parents[2]
    / "salesforce/force-app/main/default/permissionsets/B2S_Integration.permissionset-meta.xml"
)
FIELD_INTEGRITY = "FIELD_INTEGRITY_EXCEPTION"


@pytest.fixture
def activated(salesforce_sandbox, salesforce_client):
    """An activated order with one order product: (order id, item id)."""
    ids = draft_order_create(salesforce_sandbox.app)
    order, item = ids["order"], ids["item"]
    answer = salesforce_client.patch(f"sobjects/Order/{order}", json={"Status": "Activated"})
    assert answer.status_code == 204, answer.text
    return order, item


def _query(client, soql):
    answer = client.get("query", params={"q": soql})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _user_id(client):
    """The integration user's id, as a client learns it: OpenID Connect userinfo with its token."""
    answer = client.session.get(
        f"{client.url}/services/oauth2/userinfo", headers={"Authorization": f"Bearer {client.token}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["user_id"]


def test_the_default_org_has_b2s_permission_set_assigned(salesforce_sandbox, salesforce_client):
    user_id = _user_id(salesforce_client)
    assert user_id == salesforce_sandbox.app.org.user_id
    assigned = _query(
        salesforce_client,
        f"SELECT Id, PermissionSet.Name FROM PermissionSetAssignment WHERE AssigneeId = '{user_id}' "
        "AND PermissionSet.PermissionsEditActivatedOrders = true",
    )
    assert [row["PermissionSet"]["Name"] for row in assigned["records"]] == ["B2S_Integration"]
    sets = _query(salesforce_client, "SELECT Name, Label, IsOwnedByProfile FROM PermissionSet ORDER BY Name")
    assert [(row["Label"], row["IsOwnedByProfile"]) for row in sets["records"] if not row["IsOwnedByProfile"]] == [
        ("B2S Integration", False)
    ]
    assert any(row["IsOwnedByProfile"] for row in sets["records"])  # the profile's own permission set
    effective = _query(
        salesforce_client, "SELECT PermissionsEditActivatedOrders, PermissionsApiEnabled FROM UserPermissionAccess"
    )
    assert effective["totalSize"] == 1
    row = effective["records"][0]
    assert (row["PermissionsEditActivatedOrders"], row["PermissionsApiEnabled"]) == (True, True)
    assert row["attributes"]["type"] == "UserPermissionAccess"


def test_userinfo_and_identity_url_name_the_user(salesforce_sandbox, salesforce_client):
    login = salesforce_client.session.post(
        f"{salesforce_client.url}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "sandbox-client", "client_secret": "sandbox-secret"},
        timeout=10,
    ).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    identity = salesforce_client.session.get(login["id"], headers=headers, timeout=10)
    assert identity.status_code == 200
    assert identity.json()["user_id"] == login["id"].rsplit("/", 1)[1] == salesforce_sandbox.app.org.user_id
    assert identity.json()["organization_id"] == salesforce_sandbox.app.org_id
    assert (identity.json()["id"], identity.json()["username"]) == (login["id"], "integration@sandbox.example")
    userinfo = salesforce_client.session.get(
        f"{salesforce_client.url}/services/oauth2/userinfo", headers=headers, timeout=10
    ).json()
    assert (userinfo["sub"], userinfo["user_id"]) == (login["id"], identity.json()["user_id"])
    refused = salesforce_client.session.get(
        f"{salesforce_client.url}/services/oauth2/userinfo", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert (refused.status_code, refused.text) == (403, "Bad_OAuth_Token")
    assert salesforce_sandbox.app.api_calls_counted() == 0  # identity calls are not data API calls


def test_the_default_permission_set_is_what_b2s_metadata_grants(salesforce_sandbox):
    namespace = {"m": "http://soap.sforce.com/2006/04/metadata"}
    root = ET.parse(METADATA).getroot()
    shipped = {
        entry.findtext("m:name", namespaces=namespace)
        for entry in root.findall("m:userPermissions", namespace)
        if entry.findtext("m:enabled", namespaces=namespace) == "true"
    }
    assert shipped <= set(USER_PERMISSIONS), "model every permission the metadata grants in the stand-in"
    b2s = next(row for row in salesforce_sandbox.app.records("PermissionSet") if row["Name"] == "B2S_Integration")
    granted = {name for name in USER_PERMISSIONS if b2s[f"Permissions{name}"]}
    assert granted == shipped


def test_without_edit_activated_orders_an_activated_order_is_read_only(
    salesforce_sandbox, salesforce_client, activated
):
    app = salesforce_sandbox.app
    order, item = activated
    assert app.user_permissions_set(EditActivatedOrders=False)["EditActivatedOrders"] is False
    effective = _query(salesforce_client, "SELECT PermissionsEditActivatedOrders FROM UserPermissionAccess")
    assert effective["records"][0]["PermissionsEditActivatedOrders"] is False

    for path, body in [
        (f"sobjects/OrderItem/{item}", {"Description": "gift wrap"}),
        (f"sobjects/Order/{order}", {"Description": "shipped"}),
        (f"sobjects/Order/{order}", {"Status": "Draft"}),  # deactivating is an edit of an activated order
    ]:
        answer = salesforce_client.patch(path, json=body)
        assert answer.status_code == 400, (path, body)
        assert answer.json()[0]["errorCode"] == FIELD_INTEGRITY
        assert "Edit Activated Orders" in answer.json()[0]["message"]
    assert app.record("OrderItem", item)["Description"] is None
    assert app.record("Order", order)["StatusCode"] == "Activated"
    # Sending the stored values changes nothing, so it needs no permission (an upsert repeats them).
    same = salesforce_client.patch(f"sobjects/Order/{order}", json={"Status": "Activated"})
    assert same.status_code == 204

    granted = salesforce_client.session.post(
        f"{salesforce_client.url}/__sandbox__/permissions", json={"EditActivatedOrders": True}, timeout=10
    )
    assert granted.json()["EditActivatedOrders"] is True
    assert salesforce_client.patch(f"sobjects/OrderItem/{item}", json={"Description": "gift wrap"}).status_code == 204
    assert salesforce_client.patch(f"sobjects/Order/{order}", json={"Status": "Draft"}).status_code == 204


def test_removing_the_assignment_removes_the_permission(salesforce_sandbox, salesforce_client, activated):
    order, _ = activated
    assignments = _query(
        salesforce_client,
        "SELECT Id FROM PermissionSetAssignment WHERE PermissionSet.Name = 'B2S_Integration'",
    )
    assert (
        salesforce_client.delete(f"sobjects/PermissionSetAssignment/{assignments['records'][0]['Id']}").status_code
        == 204
    )
    assert salesforce_sandbox.app.user_permissions()["EditActivatedOrders"] is False
    answer = salesforce_client.patch(f"sobjects/Order/{order}", json={"Description": "x"})
    assert (answer.status_code, answer.json()[0]["errorCode"]) == (400, FIELD_INTEGRITY)


def test_rule_off_the_user_can_edit_activated_orders_without_the_permission(
    salesforce_sandbox, salesforce_client, activated
):
    app = salesforce_sandbox.app
    order, item = activated
    app.user_permissions_set(EditActivatedOrders=False)
    switched = salesforce_client.session.post(
        f"{salesforce_client.url}/__sandbox__/rules", json={"permission_sets": False}, timeout=10
    )
    assert switched.json()["permission_sets"] is False
    assert salesforce_client.patch(f"sobjects/OrderItem/{item}", json={"Description": "gift"}).status_code == 204
    assert salesforce_client.patch(f"sobjects/Order/{order}", json={"Status": "Draft"}).status_code == 204
    assert app.record("Order", order)["StatusCode"] == "Draft"


def test_activating_needs_activate_orders(salesforce_sandbox, salesforce_client, activated):
    app = salesforce_sandbox.app
    order, _ = activated
    assert salesforce_client.patch(f"sobjects/Order/{order}", json={"Status": "Draft"}).status_code == 204
    app.user_permissions_set(ActivateOrder=False)
    refused = salesforce_client.patch(f"sobjects/Order/{order}", json={"Status": "Activated"})
    assert (refused.status_code, refused.json()[0]["errorCode"]) == (400, FIELD_INTEGRITY)
    assert "Activate Orders" in refused.json()[0]["message"]
    assert app.record("Order", order)["StatusCode"] == "Draft"
    app.rules_set(permission_sets=False)
    assert salesforce_client.patch(f"sobjects/Order/{order}", json={"Status": "Activated"}).status_code == 204
