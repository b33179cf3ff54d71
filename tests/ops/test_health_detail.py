"""``/health``: a plain status for everyone, the details for staff or the configured token only."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.cache import cache

from tests.factories.auth import UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "health-token-for-tests-0123456789"
DETAIL_KEYS = {"status", "reasons", "timestamp", "database", "queue", "salesforceConnected"}


@pytest.fixture(autouse=True)
def _health_token(settings):
    settings.HEALTH_TOKEN = TOKEN
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def salesforce_check():
    with mock.patch("sync.salesforce.salesforce_connection_check", return_value=True) as check:
        yield check


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_X_HEALTH_TOKEN": TOKEN[:-1]},
        {"HTTP_X_HEALTH_TOKEN": TOKEN + "x"},
        {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
        {"HTTP_AUTHORIZATION": "Bearer "},
    ],
    ids=["none", "wrong-bearer", "short", "long", "basic-scheme", "empty-bearer"],
)
def test_anonymous_gets_the_plain_status_and_no_salesforce_login(client, salesforce_check, headers):
    response = client.get("/health", **headers)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    salesforce_check.assert_not_called()


def test_the_token_opens_the_details_as_bearer_or_header(client, salesforce_check):
    for headers in ({"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, {"HTTP_X_HEALTH_TOKEN": TOKEN}):
        response = client.get("/health", **headers)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == DETAIL_KEYS
        assert body["queue"] == {"pending": 0, "failed": 0} and body["salesforceConnected"] is True
    assert salesforce_check.call_count == 1  # cached between the two


def test_no_token_configured_means_no_token_matches(client, settings, salesforce_check):
    settings.HEALTH_TOKEN = ""
    for headers in ({"HTTP_AUTHORIZATION": "Bearer "}, {"HTTP_X_HEALTH_TOKEN": ""}, {}):
        assert client.get("/health", **headers).json() == {"status": "ok"}
    salesforce_check.assert_not_called()


def test_staff_get_the_details_and_other_users_do_not(client, salesforce_check):
    client.force_login(UserFactory())
    assert client.get("/health").json() == {"status": "ok"}
    client.force_login(UserFactory(staff=True))
    assert set(client.get("/health").json()) == DETAIL_KEYS
