"""Rule ``jwt_audience``: a JWT bearer assertion's ``aud`` is https://login.salesforce.com,
https://test.salesforce.com or an Experience Cloud site URL, never the org's own (My Domain) URL, even
when the token is asked for at that URL (OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration)."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
INVALID_AUDIENCE = {"error": "invalid_grant", "error_description": "audience is invalid"}


@pytest.fixture
def signer(salesforce_sandbox):
    """A key whose public half the stand-in trusts; a function making an assertion for an audience."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    salesforce_sandbox.app.jwt_certificate_set(public)

    def assertion(audience):
        claims = {
            "iss": "sandbox-client",
            "sub": "integration@sandbox.example",
            "aud": audience,
            "exp": int(time.time()) + 180,
        }
        return jwt.encode(claims, key, algorithm="RS256")

    return assertion


@pytest.fixture
def http(salesforce_sandbox):
    session = requests.Session()
    session.trust_env = False
    session.verify = salesforce_sandbox.ca_path
    yield session
    session.close()


def _token(http, server, assertion):
    return http.post(
        f"{server.url}/services/oauth2/token", data={"grant_type": GRANT, "assertion": assertion}, timeout=10
    )


def test_only_login_and_site_audiences_are_accepted(http, salesforce_sandbox, signer):
    server = salesforce_sandbox
    for audience in (
        "https://login.salesforce.com",
        "https://test.salesforce.com",
        "https://acme.my.site.com/shop",
    ):
        answer = _token(http, server, signer(audience))
        assert answer.status_code == 200, (audience, answer.text)
    for audience in (
        server.url,  # the org's own URL: what My Domain is to a real org
        server.url + "/",
        "https://acme.my.salesforce.com",
        "https://acme.lightning.force.com",
        "https://login.salesforce.com.evil.example",
        "http://login.salesforce.com",
    ):
        answer = _token(http, server, signer(audience))
        assert (answer.status_code, answer.json()) == (400, INVALID_AUDIENCE), audience


def test_rule_off_the_stand_in_url_is_accepted_too(http, salesforce_sandbox, signer):
    server = salesforce_sandbox
    switched = http.post(f"{server.url}/__sandbox__/rules", json={"jwt_audience": False}, timeout=10)
    assert switched.json()["jwt_audience"] is False
    assert _token(http, server, signer(server.url)).status_code == 200
    assert _token(http, server, signer("https://login.salesforce.com")).status_code == 200
    refused = _token(http, server, signer("https://acme.my.salesforce.com"))
    assert (refused.status_code, refused.json()) == (400, INVALID_AUDIENCE)
