"""b2s's JWT bearer login: the assertion's audience is its own setting, never the login URL (issue 11)."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from b2s import env as env_parse
from sync.salesforce import SalesforceAuthError, _token_form, salesforce_token_fetch
from tests.sandbox.test_salesforce_auth import _key_and_certificate


@pytest.fixture
def jwt_conf(salesforce_wired, settings, tmp_path):
    """b2s configured for the JWT bearer flow against the stand-in (its URL plays a My Domain login URL)."""
    key, certificate = _key_and_certificate()
    (tmp_path / "server.crt").write_bytes(certificate)
    salesforce_wired.app.jwt_certificate_set(tmp_path / "server.crt")
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return {
        **settings.SALESFORCE,
        "AUTH": "jwt",
        "USERNAME": "integration@sandbox.example",
        "PRIVATE_KEY_FILE": str(key_file),
    }


def _audience(conf: dict) -> str:
    assertion = _token_form(conf)["assertion"]
    return jwt.decode(assertion, options={"verify_signature": False})["aud"]


def test_the_audience_defaults_to_the_production_login_and_is_settable(jwt_conf, salesforce_wired):
    assert _audience({key: value for key, value in jwt_conf.items() if key != "JWT_AUDIENCE"}) == (
        "https://login.salesforce.com"
    )
    assert _audience(jwt_conf) != jwt_conf["LOGIN_URL"]
    token = salesforce_token_fetch(conf=jwt_conf)  # from the (My Domain) login URL, for the login audience
    assert token.instance_url == salesforce_wired.url
    # The login URL itself as audience is refused, as a real org refuses a My Domain URL.
    with pytest.raises(SalesforceAuthError, match="audience"):
        salesforce_token_fetch(conf={**jwt_conf, "JWT_AUDIENCE": jwt_conf["LOGIN_URL"]})
    assert _audience({**jwt_conf, "JWT_AUDIENCE": "https://test.salesforce.com/"}) == "https://test.salesforce.com"


def test_the_audience_comes_from_the_environment():
    base = {"SALESFORCE_CLIENT_ID": "x", "SALESFORCE_USERNAME": "u", "SALESFORCE_PRIVATE_KEY_FILE": "/k.pem"}
    assert env_parse.salesforce_config(base, base_dir=Path("."))["JWT_AUDIENCE"] == ("https://login.salesforce.com")
    sandbox_org = {**base, "SALESFORCE_JWT_AUDIENCE": "https://test.salesforce.com"}
    assert env_parse.salesforce_config(sandbox_org, base_dir=Path("."))["JWT_AUDIENCE"] == (
        "https://test.salesforce.com"
    )
