"""``manage.py salesforce_check`` against the Salesforce stand-in, complete and incomplete orgs."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from sandbox.salesforce.app import SalesforceSandbox
from sandbox.server import ServerThread
from sync.models import FeatureFlag, FieldMapping
from sync.salesforce_schema import REQUIRED_EVENTS, REQUIRED_FIELDS, REQUIRED_USER_PERMISSIONS

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def minimal_salesforce(tmp_path_factory):
    """A stand-in org before the b2s setup: standard objects only, no custom fields, no events."""
    server = ServerThread(SalesforceSandbox(schema="minimal"), tls_dir=tmp_path_factory.mktemp("sf-minimal")).start()
    yield server
    server.stop()


def _point_at(server: ServerThread, settings) -> None:
    from sync.salesforce import salesforce_client_reset

    settings.SALESFORCE = {**settings.SALESFORCE, "LOGIN_URL": server.url, "CA_BUNDLE": server.ca_path}
    salesforce_client_reset()


@pytest.fixture
def org(salesforce_sandbox, settings):
    """The complete stand-in org, with b2s pointed at it."""
    from sync.salesforce import salesforce_client_reset

    _point_at(salesforce_sandbox, settings)
    yield salesforce_sandbox
    salesforce_client_reset()


@pytest.fixture
def bare_org(minimal_salesforce, settings):
    from sync.salesforce import salesforce_client_reset

    minimal_salesforce.app.reset()
    _point_at(minimal_salesforce, settings)
    yield minimal_salesforce
    salesforce_client_reset()


def _check() -> str:
    out = io.StringIO()
    call_command("salesforce_check", stdout=out)
    return out.getvalue()


def _check_failing() -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("salesforce_check", stdout=out)
    return out.getvalue(), str(raised.value)


def _row(output: str, sobject: str, field: str) -> str:
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == sobject and parts[1] == field:
            return line
    raise AssertionError(f"no row for {sobject}.{field} in:\n{output}")


def test_a_complete_org_passes(org):
    output = _check()
    assert "The Salesforce org has everything b2s needs." in output
    for spec in REQUIRED_FIELDS:
        assert " ok" in _row(output, spec.sobject, spec.name), spec.label
    for event in REQUIRED_EVENTS:
        assert "present" in _row(output, event.name, "(object)")
        for spec in event.fields:
            assert " ok" in _row(output, event.name, spec.name)
    # Standard fields the active mappings write are checked too.
    assert " ok" in _row(output, "Contact", "MailingCity")
    assert "Daily API requests:" in output
    assert "API usage (Sforce-Limit-Info):" in output


def test_an_org_without_the_setup_fails_and_names_what_is_missing(bare_org):
    output, error = _check_failing()
    assert "missing" in _row(output, "Order", "BigCommerceOrderId__c")
    assert "missing" in _row(output, "Account", "CLV__c")
    assert "object missing" in _row(output, "BigCommerce_Order_Created__e", "(object)")
    assert "Order.BigCommerceOrderId__c (missing)" in error
    assert "Lead.Cart_Items__c (missing)" in error
    assert "BigCommerce_Cart_Abandoned__e (object missing)" in error
    expected = len(REQUIRED_FIELDS) + sum(1 + len(event.fields) for event in REQUIRED_EVENTS)
    assert error.startswith(f"{expected} required item(s)")
    assert "sf project deploy start" in output


def test_wrong_type_and_not_an_external_id(org):
    schema = org.app.schema
    schema.field_remove("Order", "Subtotal__c")
    schema.field_add("Order", "Subtotal__c", "date")
    schema.field_remove("Account", "BigCommerceCustomerId__c")
    schema.field_add("Account", "BigCommerceCustomerId__c", "string", length=255)
    schema.field_remove("Account", "RFM_Score__c")
    schema.field_add("Account", "RFM_Score__c", "string", length=2)
    output, error = _check_failing()
    assert "wrong type" in _row(output, "Order", "Subtotal__c")
    assert "not an external id" in _row(output, "Account", "BigCommerceCustomerId__c")
    assert "too short" in _row(output, "Account", "RFM_Score__c")
    assert error.startswith("3 required item(s)")


def test_a_read_only_field_fails(org):
    org.app.schema.field_remove("Order", "BC_Status__c")
    org.app.schema.field_add("Order", "BC_Status__c", "string", length=255, createable=False, updateable=False)
    output, error = _check_failing()
    assert "not writable" in _row(output, "Order", "BC_Status__c")
    assert "Order.BC_Status__c (not writable)" in error


def test_flags_off_make_fields_not_needed(org):
    org.app.schema.field_remove("Account", "RFM_Score__c")
    org.app.schema.field_remove("Order", "PaymentMethod__c")
    _, error = _check_failing()
    assert "Account.RFM_Score__c (missing)" in error and "Order.PaymentMethod__c (missing)" in error
    FeatureFlag.objects.filter(key__in=["rfm_analysis", "payment_details"]).update(enabled=False)
    from sync.config import config

    config.invalidate()
    output = _check()
    assert "not needed: flag rfm_analysis off" in _row(output, "Account", "RFM_Score__c")
    assert "not needed" in _row(output, "Order", "PaymentMethod__c")


def test_platform_events_flag_off(org):
    for event in REQUIRED_EVENTS:
        org.app.schema.objects.pop(event.name)
    _check_failing()
    FeatureFlag.objects.filter(key="platform_events").update(enabled=False)
    from sync.config import config

    config.invalidate()
    output = _check()
    assert "flag platform_events off" in _row(output, "BigCommerce_Order_Created__e", "(object)")


def test_an_admin_mapping_to_an_unknown_field_fails(org):
    FieldMapping.objects.create(sf_object="Account", sf_field="Loyalty_Number__c", source_path="id", transform="str")
    FieldMapping.objects.filter(sf_object="Order", sf_field="TransactionId__c").update(enabled=False)
    org.app.schema.field_remove("Order", "TransactionId__c")
    from sync.config import config

    config.invalidate()
    output, error = _check_failing()
    assert "Account.Loyalty_Number__c (missing)" in error
    assert "not needed: mapping disabled" in _row(output, "Order", "TransactionId__c")
    assert error.startswith("1 required item(s)")


def test_a_refused_login_is_a_clear_error(org, settings):
    from sync.salesforce import salesforce_client_reset

    settings.SALESFORCE = {**settings.SALESFORCE, "CLIENT_SECRET": "wrong-secret"}
    salesforce_client_reset()
    with pytest.raises(CommandError, match="Salesforce check failed") as raised:
        _check()
    assert "wrong-secret" not in str(raised.value)


def test_the_integration_users_permissions_are_checked(org):
    """Every required user permission shows as granted: read from the user's effective permissions."""
    output = _check()
    for spec in REQUIRED_USER_PERMISSIONS:
        assert "granted" in _row(output, "User", spec.name) and "not granted" not in _row(output, "User", spec.name)


def test_a_missing_edit_activated_orders_permission_fails_and_says_why(org):
    org.app.user_permissions_set(EditActivatedOrders=False)
    assert org.app.user_permissions()["EditActivatedOrders"] is False
    output, error = _check_failing()
    row = _row(output, "User", "EditActivatedOrders")
    assert "permission missing" in row and "activated order" in row
    assert "User.EditActivatedOrders (permission missing)" in error
    assert error.startswith("1 required item(s)")
    assert "permission missing" not in _row(output, "User", "ApiEnabled")


def test_a_permission_set_that_is_not_assigned_grants_nothing(org):
    """Only assigned permission sets count: removing the assignment fails every permission it granted."""
    assignments = [
        row
        for row in org.app.records("PermissionSetAssignment")
        if org.app.record("PermissionSet", row["PermissionSetId"])["Name"] == "B2S_Integration"
    ]
    assert len(assignments) == 1
    with org.app.lock:
        org.app.org.delete("PermissionSetAssignment", assignments[0]["Id"])
    assert org.app.user_permissions()["EditActivatedOrders"] is False
    _, error = _check_failing()
    assert "User.EditActivatedOrders (permission missing)" in error
    assert "User.ActivateOrder (permission missing)" in error


def test_catalog_sync_needs_the_product_fields_without_order_line_items(org):
    """Product2's key and the price book entry fields are written by catalog sync too, not only by order lines."""
    from sync.config import config

    org.app.schema.field_remove("Product2", "BigCommerceProductId__c")
    FeatureFlag.objects.filter(key="order_line_items").update(enabled=False)
    config.invalidate()
    output, error = _check_failing()  # catalog_sync is on (seeded): it writes the key
    assert "missing" in _row(output, "Product2", "BigCommerceProductId__c")
    assert "Product2.BigCommerceProductId__c (missing)" in error and error.startswith("1 required item(s)")
    assert " ok" in _row(output, "PricebookEntry", "UnitPrice")

    FeatureFlag.objects.filter(key="catalog_sync").update(enabled=False)
    config.invalidate()
    output = _check()
    row = _row(output, "Product2", "BigCommerceProductId__c")
    assert "not needed: flags order_line_items, catalog_sync off" in row
    assert "not needed: flags order_line_items, catalog_sync off" in _row(output, "PricebookEntry", "UnitPrice")
    assert "not needed: flag catalog_sync off" in _row(output, "Product2", "Description")
