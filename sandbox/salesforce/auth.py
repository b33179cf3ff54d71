"""OAuth 2.0 token endpoint and access-token bookkeeping.

Grants: ``client_credentials`` (form fields or HTTP Basic), ``password`` (the password may have
the security token appended) and the JWT bearer flow (RS256 assertion verified with PyJWT
against the configured certificate or public key; ``iss`` = client id, ``sub`` = username,
``aud`` = a login URL or an Experience Cloud site, ``exp`` in the future).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")
# Experience Cloud site domains (enhanced ``*.my.site.com``, legacy ``*.force.com``); Lightning's is no site.
SITE_SUFFIXES = (".my.site.com", ".force.com")


@dataclass
class Credentials:
    """What the org accepts at the token endpoint."""

    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str = ""
    jwt_public_key: Any = None  # a cryptography public key, or None when JWT is not configured


def public_key_load(pem: bytes | str) -> Any:
    """A public key from a PEM certificate or a PEM public key."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


class Sessions:
    """Issued access tokens and their expiry times (not thread-safe: the sandbox lock guards it)."""

    def __init__(self) -> None:
        self._tokens: dict[str, float] = {}

    def issue(self, *, org_id: str, lifetime: float) -> str:
        token = f"{org_id[:15]}!{secrets.token_urlsafe(72)}"
        self._tokens[token] = time.monotonic() + lifetime
        return token

    def valid(self, token: str) -> bool:
        expiry = self._tokens.get(token)
        if expiry is None:
            return False
        if expiry <= time.monotonic():
            del self._tokens[token]
            return False
        return True

    def revoke(self, token: str) -> bool:
        return self._tokens.pop(token, None) is not None

    def expire_all(self) -> None:
        self._tokens.clear()

    def __len__(self) -> int:
        return len(self._tokens)


def _oauth_error(error: str, description: str) -> tuple[int, dict[str, str]]:
    return 400, {"error": error, "error_description": description}


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def token_grant(
    *,
    form: dict[str, str],
    authorization: str | None,
    credentials: Credentials,
    base_url: str,
    own_audience: bool = False,
) -> tuple[int, dict[str, str]] | str:
    """Check a token request: an error answer (status, body), or the username that logged in.

    ``own_audience`` (the ``jwt_audience`` rule off) also accepts the stand-in's own URL as a JWT ``aud``.
    """
    grant = form.get("grant_type", "")
    if grant == "client_credentials":
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = _basic_credentials(authorization)
        if basic and not client_id:
            client_id, secret = basic
        if client_id != credentials.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(secret, credentials.client_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        return credentials.username
    if grant == "password":
        if form.get("client_id", "") != credentials.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(form.get("client_secret", ""), credentials.client_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        password = form.get("password", "")
        accepted = {credentials.password, credentials.password + credentials.security_token}
        if form.get("username", "") != credentials.username or password not in accepted:
            return _oauth_error("invalid_grant", "authentication failure")
        return credentials.username
    if grant == JWT_GRANT:
        own = [base_url, base_url + "/"] if own_audience else []
        return _jwt_check(form.get("assertion", ""), credentials=credentials, extra_audiences=own)
    return _oauth_error("unsupported_grant_type", "grant type not supported")


def audience_valid(audience: Any, extra: list[str] | tuple[str, ...] = ()) -> bool:
    """A JWT ``aud`` Salesforce accepts: login.salesforce.com, test.salesforce.com or an Experience
    Cloud site URL, never a My Domain URL, even when the token is asked for at My Domain."""
    if not isinstance(audience, str):
        return False
    if audience in LOGIN_AUDIENCES or audience in extra:
        return True
    parts = urlsplit(audience)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and host.endswith(SITE_SUFFIXES) and not host.endswith(".lightning.force.com")


def _jwt_check(
    assertion: str, *, credentials: Credentials, extra_audiences: list[str]
) -> tuple[int, dict[str, str]] | str:
    if credentials.jwt_public_key is None or not assertion:
        return _oauth_error("invalid_grant", "invalid assertion")
    try:
        claims = jwt.decode(
            assertion,
            credentials.jwt_public_key,
            algorithms=["RS256"],
            options={"require": ["iss", "sub", "aud", "exp"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        return _oauth_error("invalid_grant", "expired authorization code")
    except jwt.PyJWTError:
        return _oauth_error("invalid_grant", "invalid assertion")
    if not audience_valid(claims.get("aud"), extra_audiences):
        return _oauth_error("invalid_grant", "audience is invalid")
    if claims.get("iss") != credentials.client_id:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if claims.get("sub") != credentials.username:
        return _oauth_error("invalid_grant", "user hasn't approved this consumer")
    return credentials.username


def token_answer(*, token: str, base_url: str, org_id: str, user_id: str, client_secret: str) -> dict[str, str]:
    """The token endpoint's success body, field for field as Salesforce answers it."""
    identity = f"{base_url}/id/{org_id}/{user_id}"
    issued_at = str(int(time.time() * 1000))
    digest = hmac.new(client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    return {
        "access_token": token,
        "instance_url": base_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64.b64encode(digest).decode(),
    }
