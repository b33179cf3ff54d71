"""``manage.py salesforce_check`` checks the Lead status a bought cart's Lead gets (converted, or the admin's own)."""

from __future__ import annotations

import pytest

from sync.models import SyncSetting
from sync.salesforce import salesforce_client_reset
from tests.ops.test_salesforce_check import _check, _check_failing, _point_at, _row

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("org")]


@pytest.fixture
def org(salesforce_sandbox, settings):
    """The complete stand-in org (its standard Lead statuses), with b2s pointed at it."""
    _point_at(salesforce_sandbox, settings)
    yield salesforce_sandbox
    salesforce_client_reset()


def _settings_set(**values: str) -> None:
    for key, value in values.items():
        setting = SyncSetting.objects.get(key=key)
        setting.value = value
        setting.full_clean()
        setting.save()


def test_conversion_needs_a_converted_lead_status_and_the_org_has_one():
    output = _check()
    assert " ok" in _row(output, "LeadStatus", "Closed")  # "Closed - Converted", read from the org


def test_closing_with_a_status_that_is_not_converted_passes():
    _settings_set(lead_on_cart_conversion="close", lead_closed_status="Closed - Not Converted")
    output = _check()
    assert " ok" in _row(output, "LeadStatus", "Closed")


def test_closing_with_a_converted_status_fails_and_says_why():
    _settings_set(lead_on_cart_conversion="close", lead_closed_status="Closed - Converted")
    output, error = _check_failing()
    row = _row(output, "LeadStatus", "Closed")
    assert "a converted status" in row and "refused" in row
    assert "LeadStatus.Closed - Converted (a converted status)" in error


def test_closing_with_a_status_the_org_lacks_fails():
    _settings_set(lead_on_cart_conversion="close", lead_closed_status="Lost Cart")
    output, error = _check_failing()
    assert "missing" in _row(output, "LeadStatus", "Lost")
    assert "LeadStatus.Lost Cart (missing)" in error
