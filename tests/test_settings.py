"""Settings parsing: database, broker, secret key, Salesforce connection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from b2s import env as env_parse

BASE = Path("/srv/b2s")


def test_sqlite_is_the_default_with_wal_and_busy_timeout():
    config = env_parse.database_config(url="", base_dir=BASE)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(BASE / "db.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["timeout"] >= 5
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_postgres_url_selects_psycopg_backend():
    config = env_parse.database_config(url="postgres://b2s:pw@db.internal:5433/b2s", base_dir=BASE)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == ("db.internal", 5433, "b2s", "b2s")
    assert "OPTIONS" not in config or "init_command" not in config.get("OPTIONS", {})


def test_orm_broker_by_default_and_redis_when_configured():
    orm = env_parse.q_cluster_config(redis_url="", workers=3, timeout=60, retry=120)
    assert orm["orm"] == "default" and "redis" not in orm
    assert (orm["workers"], orm["timeout"], orm["retry"]) == (3, 60, 120)
    redis = env_parse.q_cluster_config(redis_url="redis://127.0.0.1:6379/1", workers=2, timeout=60, retry=120)
    assert redis["redis"] == "redis://127.0.0.1:6379/1" and "orm" not in redis


def test_retry_must_exceed_timeout():
    with pytest.raises(ImproperlyConfigured, match="Q_RETRY"):
        env_parse.q_cluster_config(redis_url="", workers=1, timeout=300, retry=300)


@pytest.mark.parametrize("key", ["", "change-me", "django-insecure-abc"])
def test_missing_or_default_secret_key_stops_start_up_without_debug(key):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
        env_parse.secret_key_resolve(secret_key=key, debug=False)


def test_debug_tolerates_a_missing_secret_key_and_a_real_key_passes():
    assert env_parse.secret_key_resolve(secret_key="", debug=True)
    assert env_parse.secret_key_resolve(secret_key="k" * 50, debug=False) == "k" * 50


def test_settings_module_refuses_to_start_without_secret_key():
    """The real settings module, in a clean process, stops with the clear message."""
    if (Path(__file__).resolve().parent.parent / ".env").exists():
        pytest.skip("a local .env provides DJANGO_SECRET_KEY")
    environment = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "DEBUG")}
    environment["DJANGO_SETTINGS_MODULE"] = "b2s.settings"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is missing" in result.stderr


def test_no_salesforce_credentials_means_sandbox_mode():
    config = env_parse.salesforce_config({}, base_dir=BASE)
    assert config["SANDBOX"] is True
    assert config["LOGIN_URL"] == "https://127.0.0.1:8443"
    assert config["CLIENT_ID"] == "sandbox-client"
    assert config["CA_BUNDLE"] == str(BASE / ".sandbox" / "tls" / "ca.pem")


def test_real_credentials_select_the_configured_org():
    config = env_parse.salesforce_config(
        {
            "SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com/",
            "SALESFORCE_CLIENT_ID": "id",
            "SALESFORCE_CLIENT_SECRET": "secret",
            "SALESFORCE_API_VERSION": "65.0",
        },
        base_dir=BASE,
    )
    assert config["SANDBOX"] is False
    assert config["LOGIN_URL"] == "https://acme.my.salesforce.com"
    assert config["AUTH"] == "client_credentials"
    assert config["API_VERSION"] == "65.0"
    assert config["CA_BUNDLE"] == ""


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SALESFORCE_CLIENT_ID": "x", "SALESFORCE_AUTH": "soap"}, "SALESFORCE_AUTH"),
        ({"SALESFORCE_CLIENT_ID": "x", "SALESFORCE_API_VERSION": "58.0"}, "SALESFORCE_API_VERSION"),
        ({"SALESFORCE_CLIENT_ID": "x", "SALESFORCE_API_VERSION": "latest"}, "SALESFORCE_API_VERSION"),
    ],
)
def test_bad_salesforce_settings_are_refused(variables, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        env_parse.salesforce_config(variables, base_dir=BASE)


def test_jwt_is_inferred_from_a_private_key_file():
    config = env_parse.salesforce_config(
        {"SALESFORCE_CLIENT_ID": "x", "SALESFORCE_USERNAME": "u", "SALESFORCE_PRIVATE_KEY_FILE": "/k.pem"},
        base_dir=BASE,
    )
    assert config["AUTH"] == "jwt"


def test_email_prints_to_the_console_locally_and_uses_localhost_smtp_elsewhere_without_email_url():
    local = env_parse.email_config(url="", local=True)
    assert local["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    deployed = env_parse.email_config(url="", local=False)
    assert deployed["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (deployed["EMAIL_HOST"], deployed["EMAIL_PORT"], deployed["EMAIL_USE_TLS"]) == ("localhost", 25, False)


def test_email_url_gives_the_smtp_server_its_credentials_and_tls():
    starttls = env_parse.email_config(url="smtp+tls://alerts%40example.com:p%40ss@smtp.example.com:587", local=True)
    assert (starttls["EMAIL_HOST"], starttls["EMAIL_PORT"]) == ("smtp.example.com", 587)
    assert (starttls["EMAIL_HOST_USER"], starttls["EMAIL_HOST_PASSWORD"]) == ("alerts@example.com", "p@ss")
    assert (starttls["EMAIL_USE_TLS"], starttls["EMAIL_USE_SSL"]) == (True, False)
    implicit = env_parse.email_config(url="smtp+ssl://u:p@smtp.example.com:465", local=False)
    assert (implicit["EMAIL_USE_TLS"], implicit["EMAIL_USE_SSL"], implicit["EMAIL_PORT"]) == (False, True, 465)


def test_the_alert_webhook_url_must_be_http_and_is_never_quoted_in_the_error():
    assert env_parse.alert_webhook_url_resolve("") == ""
    url = "https://hooks.slack.com/services/T0/B0/secret-token"
    assert env_parse.alert_webhook_url_resolve(f" {url} ") == url
    with pytest.raises(ImproperlyConfigured, match="ALERT_WEBHOOK_URL must be an http") as refused:
        env_parse.alert_webhook_url_resolve("hooks.slack.com/services/T0/B0/secret-token")
    assert "secret-token" not in str(refused.value)
