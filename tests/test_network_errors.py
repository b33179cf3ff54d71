"""An untrusted certificate or an unknown host fails at once, naming the host and the setting; a refused
connection stays transient. Each client against a stand-in served with a certificate it does not trust."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.server import HOST, ServerThread, ca_ensure
from sync.bigcommerce import BigCommerceClient, BigCommerceError
from sync.models import Store
from sync.salesforce import SalesforceClient, SalesforceError, SalesforceToken

UNKNOWN_HOST = "https://b2s-nowhere.invalid"  # .invalid never resolves (RFC 6761)


def _hello(environ: dict, start_response) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


@pytest.fixture
def untrusted(tmp_path: Path) -> Iterator[ServerThread]:
    """A stand-in whose certificate is signed by a CA of its own, which no client here trusts."""
    server = ServerThread(_hello, tls_dir=tmp_path / "untrusted").start()
    yield server
    server.stop()


@pytest.fixture
def other_ca(tmp_path: Path) -> str:
    """A CA bundle the clients trust: not the one that signed the stand-in's certificate."""
    ca_ensure(tls_dir=tmp_path / "other")
    return str(tmp_path / "other" / "ca.pem")


@pytest.fixture
def closed_url() -> str:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    return f"https://{HOST}:{port}"  # nothing listens there any more: refused


def _bigcommerce(url: str) -> BigCommerceClient:
    return BigCommerceClient(store=Store(store_hash="abc", api_base_url=url, access_token="tls-token"))


def _salesforce(url: str, ca_bundle: str) -> SalesforceClient:
    conf = {
        "AUTH": "client_credentials",
        "LOGIN_URL": url,
        "CLIENT_ID": "tls-test-client",
        "CLIENT_SECRET": "tls-test-client-secret",  # registered for redaction: not a common word
        "CA_BUNDLE": ca_bundle,
        "API_VERSION": "64.0",
    }
    return SalesforceClient(conf=conf)


def test_bigcommerce_untrusted_certificate_is_permanent(untrusted, other_ca, settings):
    settings.BIGCOMMERCE_CA_BUNDLE = other_ca
    with pytest.raises(BigCommerceError) as caught:
        _bigcommerce(untrusted.url).request("GET", "/v2/orders")
    assert caught.value.transient is False
    assert HOST in str(caught.value) and "BIGCOMMERCE_CA_BUNDLE" in str(caught.value)


def test_bigcommerce_unknown_host_is_permanent(settings):
    with pytest.raises(BigCommerceError) as caught:
        _bigcommerce(UNKNOWN_HOST).request("GET", "/v2/orders")
    assert caught.value.transient is False
    assert "b2s-nowhere.invalid does not resolve" in str(caught.value)


def test_bigcommerce_refused_connection_stays_transient(closed_url):
    with pytest.raises(BigCommerceError) as caught:
        _bigcommerce(closed_url).request("GET", "/v2/orders")
    assert caught.value.transient is True and caught.value.status == 0


def test_salesforce_login_to_an_untrusted_certificate_is_permanent(untrusted, other_ca):
    with pytest.raises(SalesforceError) as caught:
        _salesforce(untrusted.url, other_ca).request("GET", "limits")
    assert caught.value.transient is False
    assert HOST in str(caught.value) and "SALESFORCE_CA_BUNDLE" in str(caught.value)


def test_salesforce_request_to_an_untrusted_instance_is_permanent(untrusted, other_ca):
    client = _salesforce(untrusted.url, other_ca)
    client._token = SalesforceToken("token", untrusted.url, time.time())  # logged in; the instance is the server
    with pytest.raises(SalesforceError) as caught:
        client.request("GET", "limits")
    assert caught.value.transient is False and "SALESFORCE_CA_BUNDLE" in str(caught.value)


def test_salesforce_unknown_host_is_permanent(other_ca):
    with pytest.raises(SalesforceError) as caught:
        _salesforce(UNKNOWN_HOST, other_ca).request("GET", "limits")
    assert caught.value.transient is False
    assert "b2s-nowhere.invalid" in str(caught.value) and "SALESFORCE_LOGIN_URL" in str(caught.value)


def test_salesforce_refused_connection_stays_transient(closed_url, other_ca):
    with pytest.raises(SalesforceError) as caught:
        _salesforce(closed_url, other_ca).request("GET", "limits")
    assert caught.value.transient is True and caught.value.code == "NETWORK_ERROR"
