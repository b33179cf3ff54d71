"""GET /health and the secret-redacting log filter."""

from __future__ import annotations

import json
import logging
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection

from b2s.logging import JsonLinesFormatter, SecretRedactingFilter, redact, secret_register


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_health_is_200_with_database_and_queue(admin_client):
    # The details are for staff (or the health token: tests/ops/test_health_detail.py).
    with mock.patch("sync.salesforce.salesforce_connection_check", return_value=True) as check:
        response = admin_client.get("/health")
        admin_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "reasons", "timestamp", "database", "salesforceConnected", "queue"}
    assert body["reasons"] == []
    assert body["database"] == "ok" and body["status"] == "ok"
    assert body["salesforceConnected"] is True
    assert body["queue"] == {"pending": 0, "failed": 0}
    assert check.call_count == 1  # the second request used the cached answer


@pytest.mark.django_db
def test_health_reports_salesforce_unreachable_without_failing():
    # A login URL on which nothing listens: a real, quick refusal.
    from b2s.health import salesforce_connected

    with mock.patch.dict("django.conf.settings.SALESFORCE", {"LOGIN_URL": "https://127.0.0.1:9", "CA_BUNDLE": ""}):
        assert salesforce_connected() is False


@pytest.mark.django_db
def test_health_is_503_when_the_database_is_unreachable(client, settings):
    settings.HEALTH_TOKEN = "health-token-for-tests"
    real_cursor = connection.cursor

    def broken_cursor(*args, **kwargs):
        raise connection.features.connection.Database.OperationalError("database is down")

    with (
        mock.patch("sync.salesforce.salesforce_connection_check", return_value=False),
        mock.patch.object(connection, "cursor", side_effect=broken_cursor),
    ):
        response = client.get("/health", HTTP_X_HEALTH_TOKEN="health-token-for-tests")
        anonymous = client.get("/health")
    assert real_cursor is not None
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "unreachable" and body["status"] == "unhealthy"
    assert anonymous.status_code == 503 and anonymous.json() == {"status": "unhealthy"}


def _record(message: str, *args, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("b2s.test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_redaction_masks_registered_secrets_tokens_and_key_values():
    secret_register("sfdc-client-secret-98765")
    record = _record(
        "login with %s failed; body=%s; header Authorization: Bearer 00Dxx!AQ.abc.def",
        "sfdc-client-secret-98765",
        '{"access_token": "00D5e000000abc!ARkAQ", "password": "hunter22"}',
    )
    SecretRedactingFilter().filter(record)
    text = record.getMessage()
    assert "sfdc-client-secret-98765" not in text
    assert "00D5e000000abc!ARkAQ" not in text
    assert "hunter22" not in text
    assert "00Dxx!AQ.abc.def" not in text
    assert text.count("***") >= 4
    assert "login with" in text  # the message itself survives


def test_redaction_covers_tracebacks_and_json_lines():
    secret_register("tok-in-traceback-4242")
    try:
        raise RuntimeError("store token tok-in-traceback-4242 refused")
    except RuntimeError as error:
        record = _record("sync failed", exc=error)
    SecretRedactingFilter().filter(record)
    line = JsonLinesFormatter().format(record)
    payload = json.loads(line)
    assert "tok-in-traceback-4242" not in line
    assert payload["level"] == "ERROR" and "RuntimeError" in payload["exception"]


def test_redaction_through_configured_logging(caplog):
    """The filter is installed on the configured handlers by settings.LOGGING."""
    from django.conf import settings

    handlers = settings.LOGGING["handlers"]
    assert all("redact" in handler["filters"] for handler in handlers.values())
    assert redact("client_secret=abcdef123456&grant_type=x") == "client_secret=***&grant_type=x"
