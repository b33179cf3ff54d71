"""Pytest plugin: the Salesforce stand-in served over HTTPS for the whole session.

``salesforce_sandbox`` resets the stand-in (records, events, jobs, tokens, faults, calls, API usage,
settings and schema) before and after each test and yields the ``ServerThread``: ``.url``,
``.ca_path``, ``.app`` (the :class:`~sandbox.salesforce.SalesforceSandbox`).
``salesforce_client`` is a logged-in :class:`SalesforceClient` on that stand-in (raw ``requests``
calls plus a real simple-salesforce ``Salesforce`` object).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.salesforce.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SalesforceSandbox
from sandbox.server import ServerThread

API_VERSION = "62.0"


class SalesforceClient:
    """A ``requests`` session that trusts the stand-in's CA and carries a fresh access token."""

    def __init__(self, server: ServerThread, *, version: str = API_VERSION) -> None:
        self.server = server
        self.version = version
        self.session = requests.Session()
        # Trust exactly the stand-in's CA, even when REQUESTS_CA_BUNDLE is set in the environment.
        self.session.trust_env = False
        self.session.verify = server.ca_path
        self.token = self.login()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def data_url(self) -> str:
        return f"{self.server.url}/services/data/v{self.version}"

    def login(self) -> str:
        """A new access token by the client-credentials grant (does not count as an API call)."""
        answer = self.session.post(
            f"{self.server.url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
            },
            timeout=10,
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        return self.token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``method`` on ``{data_url}/{path}`` with the bearer token."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, f"{self.data_url}/{path.lstrip('/')}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def simple_salesforce(self) -> Any:
        """simple-salesforce's ``Salesforce`` on the stand-in, with this session and token."""
        from simple_salesforce import Salesforce

        return Salesforce(
            instance_url=self.server.url, session_id=self.token, version=self.version, session=self.session
        )

    def close(self) -> None:
        self.session.close()


@pytest.fixture(scope="session")
def salesforce_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """The session's stand-in; prefer ``salesforce_sandbox``, which resets it for each test."""
    server = ServerThread(SalesforceSandbox(), tls_dir=tmp_path_factory.mktemp("salesforce-tls")).start()
    yield server
    server.stop()


@pytest.fixture
def salesforce_sandbox(salesforce_server: ServerThread) -> Iterator[ServerThread]:
    """The stand-in, freshly reset: an org with only the integration user (its permission sets assigned),
    the standard price book and the Lead statuses; every production rule on."""
    salesforce_server.app.reset()
    yield salesforce_server
    salesforce_server.app.reset()


@pytest.fixture
def salesforce_client(salesforce_sandbox: ServerThread) -> Iterator[SalesforceClient]:
    """A logged-in client of the freshly reset stand-in."""
    client = SalesforceClient(salesforce_sandbox)
    yield client
    client.close()
