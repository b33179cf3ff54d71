"""The Salesforce client: the only module that talks to Salesforce.

Obtains an OAuth token from the configured login URL (client credentials, JWT
bearer or username-password), then hands it to simple-salesforce.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests
from django.conf import settings

from b2s.logging import secret_register

logger = logging.getLogger(__name__)

TOKEN_PATH = "/services/oauth2/token"
JWT_LIFETIME_SECONDS = 180


class SalesforceAuthError(Exception):
    """Login refused: wrong credentials or a misconfigured connected app (permanent)."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SalesforceToken:
    access_token: str
    instance_url: str
    issued_at: float


def http_session_build(*, ca_bundle: str) -> requests.Session:
    """A pooled session; a configured CA bundle is honoured even when the environment names another."""
    session = requests.Session()
    if ca_bundle:
        # REQUESTS_CA_BUNDLE would otherwise override session.verify (see the reference).
        session.trust_env = False
        session.verify = ca_bundle
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _token_form(conf: dict[str, Any]) -> dict[str, str]:
    mode = conf["AUTH"]
    if mode == "client_credentials":
        return {
            "grant_type": "client_credentials",
            "client_id": conf["CLIENT_ID"],
            "client_secret": conf["CLIENT_SECRET"],
        }
    if mode == "password":
        return {
            "grant_type": "password",
            "client_id": conf["CLIENT_ID"],
            "client_secret": conf["CLIENT_SECRET"],
            "username": conf["USERNAME"],
            "password": conf["PASSWORD"] + (conf.get("SECURITY_TOKEN") or ""),
        }
    key_file = conf.get("PRIVATE_KEY_FILE") or ""
    try:
        private_key = Path(key_file).read_text()
    except OSError as error:
        raise SalesforceAuthError(f"Cannot read SALESFORCE_PRIVATE_KEY_FILE ({error.strerror}).") from None
    claims = {
        "iss": conf["CLIENT_ID"],
        "sub": conf["USERNAME"],
        "aud": conf["LOGIN_URL"].rstrip("/"),
        "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
    }
    return {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": jwt.encode(claims, private_key, algorithm="RS256"),
    }


def salesforce_token_fetch(
    *, conf: dict[str, Any] | None = None, session: requests.Session | None = None, timeout: float = 10.0
) -> SalesforceToken:
    """Log in with the configured flow; raises SalesforceAuthError on a refusal."""
    conf = conf or settings.SALESFORCE
    for name in ("CLIENT_SECRET", "PASSWORD", "SECURITY_TOKEN"):
        secret_register(conf.get(name))
    session = session or http_session_build(ca_bundle=conf.get("CA_BUNDLE") or "")
    response = session.post(conf["LOGIN_URL"].rstrip("/") + TOKEN_PATH, data=_token_form(conf), timeout=timeout)
    if response.status_code != 200:
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = body.get("error", "") if isinstance(body, dict) else ""
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        raise SalesforceAuthError(
            f"Salesforce login refused ({response.status_code} {code}: {description})".strip(), code=code
        )
    body = response.json()
    secret_register(body["access_token"])
    return SalesforceToken(body["access_token"], body["instance_url"].rstrip("/"), time.time())


def salesforce_connection_check(*, timeout: float = 2.0) -> bool:
    """True when a login with the configured credentials succeeds within ``timeout`` seconds."""
    try:
        salesforce_token_fetch(timeout=timeout)
    except (SalesforceAuthError, requests.RequestException, OSError, KeyError, ValueError) as error:
        logger.info("Salesforce not reachable: %s", type(error).__name__)
        return False
    return True
