"""OAuth grants, token expiry and API versions of the Salesforce stand-in."""

from __future__ import annotations

import datetime as dt
import time

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

TOKEN_KEYS = {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@pytest.fixture
def http(salesforce_sandbox):
    session = requests.Session()
    session.trust_env = False
    session.verify = salesforce_sandbox.ca_path
    yield session
    session.close()


def _token(http, server, **form):
    return http.post(f"{server.url}/services/oauth2/token", data=form, timeout=10)


def _key_and_certificate():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "b2s-test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def test_client_credentials_form_and_basic(http, salesforce_sandbox):
    server = salesforce_sandbox
    answer = _token(
        http, server, grant_type="client_credentials", client_id="sandbox-client", client_secret="sandbox-secret"
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == TOKEN_KEYS and body["token_type"] == "Bearer" and body["instance_url"] == server.url
    assert body["id"].startswith(f"{server.url}/id/00D") and body["issued_at"].isdigit()
    basic = http.post(
        f"{server.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("sandbox-client", "sandbox-secret"),
        timeout=10,
    )
    assert basic.status_code == 200
    data = http.get(
        f"{server.url}/services/data/v62.0/limits", headers={"Authorization": f"Bearer {basic.json()['access_token']}"}
    )
    assert data.status_code == 200
    assert server.app.api_calls_counted() == 1  # the token calls did not count


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "sandbox-client", "client_secret": "wrong"},
            {"error": "invalid_client", "error_description": "invalid client credentials"},
        ),
        (
            {"grant_type": "client_credentials", "client_id": "other", "client_secret": "sandbox-secret"},
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
        (
            {
                "grant_type": "password",
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
                "username": "integration@sandbox.example",
                "password": "wrong",
            },
            {"error": "invalid_grant", "error_description": "authentication failure"},
        ),
        (
            {"grant_type": "authorization_code"},
            {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
        ),
    ],
)
def test_token_errors(http, salesforce_sandbox, form, error):
    answer = _token(http, salesforce_sandbox, **form)
    assert answer.status_code == 400 and answer.json() == error


def test_password_grant_with_optional_security_token(http, salesforce_sandbox):
    app = salesforce_sandbox.app
    app.credentials.security_token = "TOKEN123"
    base = {
        "grant_type": "password",
        "client_id": "sandbox-client",
        "client_secret": "sandbox-secret",
        "username": "integration@sandbox.example",
    }
    assert _token(http, salesforce_sandbox, **base, password="sandbox-password").status_code == 200
    assert _token(http, salesforce_sandbox, **base, password="sandbox-passwordTOKEN123").status_code == 200
    assert _token(http, salesforce_sandbox, **base, password="sandbox-passwordNOPE").status_code == 400
    app.reset()
    assert app.credentials.security_token == ""  # reset restores the configured credentials


def test_jwt_bearer(http, salesforce_sandbox, tmp_path):
    server = salesforce_sandbox
    key, certificate = _key_and_certificate()
    path = tmp_path / "server.crt"
    path.write_bytes(certificate)
    server.app.jwt_certificate_set(path)

    def assertion(**overrides):
        claims = {
            "iss": "sandbox-client",
            "sub": "integration@sandbox.example",
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 180,
            **overrides,
        }
        return jwt.encode(claims, key, algorithm="RS256")

    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    ok = _token(http, server, grant_type=grant, assertion=assertion())
    assert ok.status_code == 200 and set(ok.json()) == TOKEN_KEYS
    own = _token(http, server, grant_type=grant, assertion=assertion(aud=server.url))
    # The stand-in's own URL plays My Domain: never a valid audience (see test_salesforce_strict_jwt_audience).
    assert (own.status_code, own.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "audience is invalid"},
    )
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {
            "iss": "sandbox-client",
            "sub": "integration@sandbox.example",
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 180,
        },
        other_key,
        algorithm="RS256",
    )
    cases = [
        (forged, {"error": "invalid_grant", "error_description": "invalid assertion"}),
        (
            assertion(exp=int(time.time()) - 10),
            {"error": "invalid_grant", "error_description": "expired authorization code"},
        ),
        (assertion(aud="https://example.com"), {"error": "invalid_grant", "error_description": "audience is invalid"}),
        (
            assertion(iss="someone-else"),
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
        (
            assertion(sub="other@example.com"),
            {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"},
        ),
    ]
    for value, error in cases:
        answer = _token(http, server, grant_type=grant, assertion=value)
        assert (answer.status_code, answer.json()) == (400, error)


def test_unknown_expired_and_missing_tokens(http, salesforce_sandbox):
    server = salesforce_sandbox
    url = f"{server.url}/services/data/v62.0/limits"
    unknown = http.get(url, headers={"Authorization": "Bearer nope"})
    assert (unknown.status_code, unknown.json()) == (401, INVALID_SESSION)
    missing = http.get(url)
    assert missing.status_code == 401 and missing.json()[0]["errorCode"] == "INVALID_AUTH_HEADER"

    server.app.token_lifetime = 0.2
    token = _token(
        http, server, grant_type="client_credentials", client_id="sandbox-client", client_secret="sandbox-secret"
    ).json()["access_token"]
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    time.sleep(0.3)
    expired = http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert (expired.status_code, expired.json()) == (401, INVALID_SESSION)
    assert server.app.api_calls_counted() == 1


def test_sessions_expire_and_revoke(http, salesforce_client, salesforce_sandbox):
    assert salesforce_client.get("limits").status_code == 200
    salesforce_sandbox.app.sessions_expire()
    assert salesforce_client.get("limits").json() == INVALID_SESSION
    token = salesforce_client.login()
    assert http.post(f"{salesforce_sandbox.url}/services/oauth2/revoke", data={"token": token}).status_code == 200
    assert salesforce_client.get("limits").status_code == 401


def test_api_versions(http, salesforce_client, salesforce_sandbox):
    listed = http.get(f"{salesforce_sandbox.url}/services/data/").json()
    assert {"label": "API 50.0", "url": "/services/data/v50.0", "version": "50.0"} in listed
    headers = {"Authorization": f"Bearer {salesforce_client.token}"}
    assert http.get(f"{salesforce_sandbox.url}/services/data/v50.0/limits", headers=headers).status_code == 200
    old = http.get(f"{salesforce_sandbox.url}/services/data/v49.0/limits", headers=headers)
    assert (old.status_code, old.json()) == (
        404,
        [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
    )
    assert http.get(f"{salesforce_sandbox.url}/services/data/vX/limits", headers=headers).status_code == 404
