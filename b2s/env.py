"""Pure functions that turn environment values into Django settings.

Kept apart from ``settings.py`` so tests can exercise every branch without
re-importing the settings module.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

# Values that must never protect a production deployment.
INSECURE_SECRET_KEYS = frozenset({"", "change-me", "changeme", "secret", "django-insecure"})

SALESFORCE_CREDENTIAL_VARS = (
    "SALESFORCE_CLIENT_ID",
    "SALESFORCE_CLIENT_SECRET",
    "SALESFORCE_USERNAME",
    "SALESFORCE_PASSWORD",
    "SALESFORCE_PRIVATE_KEY_FILE",
)
SALESFORCE_AUTH_MODES = ("client_credentials", "jwt", "password")
SANDBOX_SALESFORCE_PORT = 8443
SANDBOX_BIGCOMMERCE_PORT = 8444


def secret_key_resolve(*, secret_key: str | None, debug: bool) -> str:
    """Return the secret key, or stop start-up when it is unsafe outside DEBUG."""
    key = (secret_key or "").strip()
    insecure = key in INSECURE_SECRET_KEYS or key.startswith("django-insecure")
    if insecure and not debug:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is missing or a known default. Set it to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), or set DEBUG=true for local work."
        )
    return key or "django-insecure-local-development-only"


def field_encryption_keys_resolve(*, keys: list[str], secret_key: str, local: bool) -> list[str]:
    """The Fernet keys for secrets at rest (``FIELD_ENCRYPTION_KEYS``): the first writes, every one reads.

    A local run (DEBUG, or the sandbox stand-ins with no Salesforce credentials) without keys gets one
    derived from the secret key, so ``make run`` and the tests need no setup; anywhere else a missing
    or malformed key stops start-up.
    """
    keys = [key.strip() for key in keys if key.strip()]
    if not keys:
        if not local:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS is missing: it encrypts the stores' secrets in the database. Set it to "
                "a Fernet key (python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'); "
                "several comma-separated keys rotate: the first encrypts, all decrypt."
            )
        digest = hashlib.sha256(b"b2s field encryption (local runs only):" + secret_key.encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry {position} is not a Fernet key (32 url-safe base64-encoded bytes)."
            ) from None
    return keys


def database_config(*, url: str | None, base_dir: Path) -> dict[str, Any]:
    """The ``default`` database: SQLite in the project folder unless ``DATABASE_URL`` says otherwise."""
    if not url:
        url = f"sqlite:///{base_dir / 'db.sqlite3'}"
    config: dict[str, Any] = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web process read while a worker writes; the busy timeout and
        # IMMEDIATE transactions make concurrent writers wait instead of failing.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
        }
        config["TEST"] = {"NAME": None}
        # Persistent connections: opening one (and its two PRAGMAs) per request was a large part of a
        # webhook's cost. SQLite needs no health check (its is_usable() is always true).
        config.setdefault("CONN_MAX_AGE", 600)
    elif config["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
        config["ENGINE"] = "django.db.backends.postgresql"
        config.setdefault("CONN_MAX_AGE", 60)
    # No health check per request by default (``?conn_health_checks=true`` turns it on): it is a
    # ``SELECT 1`` round trip before every request's first query, ~10 % of a webhook's cost, to spare the
    # one request per thread that meets a connection that died idle. Django closes a connection after an
    # error that left it unusable, and the webhook view answers such a request once more on a new one.
    health = config.get("CONN_HEALTH_CHECKS", False)
    config["CONN_HEALTH_CHECKS"] = health is True or str(health).lower() in ("1", "true", "yes", "on")
    return config


def q_cluster_config(
    *, redis_url: str | None, workers: int, timeout: int, retry: int, name: str = "b2s", max_rss_mb: int = 0
) -> dict[str, Any]:
    """django-q2 settings: the ORM broker by default, Redis when ``REDIS_URL`` is set.

    ``max_rss_mb`` (``Q_MAX_RSS_MB``): a worker whose peak resident memory reached this many MB is
    replaced after its task by a fresh one forked from the sentinel (0: never for memory). Besides
    that, django-q2 replaces each worker after 500 tasks (its ``recycle`` default).
    """
    if retry <= timeout:
        raise ImproperlyConfigured(f"Q_RETRY ({retry}) must be larger than Q_TIMEOUT ({timeout}).")
    if max_rss_mb < 0:
        raise ImproperlyConfigured(f"Q_MAX_RSS_MB ({max_rss_mb}) must be 0 (no limit) or a number of MB.")
    config: dict[str, Any] = {
        "name": name,
        "workers": workers,
        "timeout": timeout,
        "retry": retry,
        # b2s retries on its own terms (WebhookEvent.attempts); the broker redelivers only
        # tasks whose worker died.
        "max_attempts": 1,
        "ack_failures": True,
        "catch_up": False,
        "save_limit": 1000,
        "label": "Task queue",
    }
    if max_rss_mb:
        config["max_rss"] = max_rss_mb * 1024  # django-q2 counts kB (ru_maxrss)
    if redis_url:
        config["redis"] = redis_url
    else:
        config["orm"] = "default"
        config["poll"] = 0.2
    return config


def salesforce_config(env: Mapping[str, str], *, base_dir: Path) -> dict[str, Any]:
    """The Salesforce connection; no credentials in the environment means the local stand-in."""
    sandbox = not any(env.get(name) for name in SALESFORCE_CREDENTIAL_VARS)
    auth = env.get("SALESFORCE_AUTH") or ("client_credentials" if sandbox else "")
    if not auth:
        auth = "jwt" if env.get("SALESFORCE_PRIVATE_KEY_FILE") else "client_credentials"
    if auth not in SALESFORCE_AUTH_MODES:
        raise ImproperlyConfigured(f"SALESFORCE_AUTH must be one of {', '.join(SALESFORCE_AUTH_MODES)}, not {auth!r}.")
    version = env.get("SALESFORCE_API_VERSION") or "64.0"
    try:
        if float(version) < 62.0:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            f"SALESFORCE_API_VERSION must be a number like 64.0 (62.0 or newer), not {version!r}."
        ) from None
    tls_dir = Path(env.get("SANDBOX_TLS_DIR") or base_dir / ".sandbox" / "tls")
    # The JWT assertion's audience is never the (My Domain) login URL: production or sandbox login.
    jwt_audience = (env.get("SALESFORCE_JWT_AUDIENCE") or "https://login.salesforce.com").rstrip("/")
    if sandbox:
        return {
            "SANDBOX": True,
            "LOGIN_URL": env.get("SALESFORCE_LOGIN_URL")
            or f"https://127.0.0.1:{env.get('SANDBOX_SALESFORCE_PORT') or SANDBOX_SALESFORCE_PORT}",
            "AUTH": auth,
            "CLIENT_ID": "sandbox-client",
            "CLIENT_SECRET": "sandbox-secret",
            "USERNAME": "integration@sandbox.example",
            "PASSWORD": "sandbox-password",
            "SECURITY_TOKEN": "",
            "PRIVATE_KEY_FILE": "",
            "JWT_AUDIENCE": jwt_audience,
            "API_VERSION": version,
            "CA_BUNDLE": env.get("SALESFORCE_CA_BUNDLE") or str(tls_dir / "ca.pem"),
        }
    return {
        "SANDBOX": False,
        "LOGIN_URL": (env.get("SALESFORCE_LOGIN_URL") or "https://login.salesforce.com").rstrip("/"),
        "AUTH": auth,
        "CLIENT_ID": env.get("SALESFORCE_CLIENT_ID", ""),
        "CLIENT_SECRET": env.get("SALESFORCE_CLIENT_SECRET", ""),
        "USERNAME": env.get("SALESFORCE_USERNAME", ""),
        "PASSWORD": env.get("SALESFORCE_PASSWORD", ""),
        "SECURITY_TOKEN": env.get("SALESFORCE_SECURITY_TOKEN", ""),
        "PRIVATE_KEY_FILE": env.get("SALESFORCE_PRIVATE_KEY_FILE", ""),
        "JWT_AUDIENCE": jwt_audience,
        "API_VERSION": version,
        "CA_BUNDLE": env.get("SALESFORCE_CA_BUNDLE", ""),
    }


def email_config(*, url: str | None, local: bool) -> dict[str, Any]:
    """Django's e-mail settings from ``EMAIL_URL`` (django-environ's form: ``smtp+tls://user:password@host:587``).

    Without a URL a local run (DEBUG, or the sandbox stand-ins) prints mail to the console, so the demo never
    tries a mail server; anywhere else it goes to an SMTP server on localhost:25, Django's own default.
    """
    if not url:
        url = "consolemail://" if local else "smtp://localhost:25"
    parsed = environ.Env.email_url_config(url)
    config: dict[str, Any] = {
        "EMAIL_BACKEND": parsed["EMAIL_BACKEND"],
        "EMAIL_HOST": parsed.get("EMAIL_HOST") or "localhost",
        "EMAIL_PORT": parsed.get("EMAIL_PORT") or 25,
        "EMAIL_HOST_USER": parsed.get("EMAIL_HOST_USER") or "",
        "EMAIL_HOST_PASSWORD": parsed.get("EMAIL_HOST_PASSWORD") or "",
        "EMAIL_USE_TLS": bool(parsed.get("EMAIL_USE_TLS", False)),
        "EMAIL_USE_SSL": bool(parsed.get("EMAIL_USE_SSL", False)),
    }
    if parsed.get("EMAIL_FILE_PATH"):
        config["EMAIL_FILE_PATH"] = parsed["EMAIL_FILE_PATH"]
    return config


def alert_webhook_url_resolve(url: str | None) -> str:
    """``ALERT_WEBHOOK_URL``, checked: an http(s) URL or empty. The URL is a secret, so an error never shows it."""
    url = (url or "").strip()
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
        raise ImproperlyConfigured(
            "ALERT_WEBHOOK_URL must be an http:// or https:// URL (the chat's incoming webhook)."
        )
    return url
