"""The Salesforce client: the only module that talks to Salesforce.

Obtains an OAuth token from the configured login URL (client credentials, JWT
bearer or username-password), because simple-salesforce can only log in to
``*.salesforce.com``; then talks REST itself (``SalesforceClient.request``) and
hands the same token and HTTP session to simple-salesforce for Bulk API 2.0
(``SalesforceClient.simple``).

Every data request is counted (process total and per ``salesforce_calls_counted()``
block) and its ``Sforce-Limit-Info`` read. A 401 ``INVALID_SESSION_ID`` re-logs in
once and retries. Failures raise :class:`SalesforceError`, classified transient
(retry later) or permanent (fix the data or the configuration first).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jwt
import requests
from django.conf import settings
from django.core.cache import cache

from b2s.logging import secret_register
from sync.calls import CallCounter, CallCounting

logger = logging.getLogger(__name__)

TOKEN_PATH = "/services/oauth2/token"
DATA_PATH = "/services/data/"
JWT_LIFETIME_SECONDS = 180
# (connect, read) seconds: a composite of 25 upserts can take a while on a busy org.
TIMEOUT = (10.0, 120.0)
COLLECTIONS_CHUNK = 200
PRICEBOOK_CACHE_SECONDS = 24 * 3600

# Error codes worth retrying later (see the reference's error table).
TRANSIENT_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "INVALID_SESSION_ID", "NETWORK_ERROR"}
)
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")

_counting = CallCounting("salesforce")
T = TypeVar("T")


class SalesforceAuthError(Exception):
    """Login refused: wrong credentials or a misconfigured connected app."""

    def __init__(self, message: str, *, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class SalesforceError(Exception):
    """A Salesforce request that did not succeed.

    ``transient`` is True for network failures, 5xx, 429 and the error codes in
    ``TRANSIENT_CODES``; everything else (validation, unknown fields, ...) is permanent.
    The message never contains a token or a password.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "",
        fields: list[str] | None = None,
        body: Any = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields or [])
        self.body = body
        self.transient = error_is_transient(status=status, code=code) if transient is None else transient

    def __str__(self) -> str:
        where = f" [{', '.join(self.fields)}]" if self.fields else ""
        return f"{self.code or 'ERROR'} ({self.status}): {self.message}{where}"


def error_is_transient(*, status: int, code: str) -> bool:
    """Whether a failure with this HTTP status and error code is worth retrying later."""
    return status == 0 or status == 429 or status >= 500 or code in TRANSIENT_CODES


def error_from_body(body: Any, *, status: int) -> SalesforceError:
    """A SalesforceError from an error body (REST list, collections ``statusCode`` or OAuth style)."""
    entries = body if isinstance(body, list) else [body]
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        code = entry.get("errorCode") or entry.get("statusCode") or entry.get("error") or ""
        message = entry.get("message") or entry.get("error_description") or ""
        if code or message:
            return SalesforceError(
                str(message), status=status, code=str(code), fields=entry.get("fields") or [], body=body
            )
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return SalesforceError(text[:500] or f"HTTP {status}", status=status, body=body)


def composite_error(responses: list[dict]) -> SalesforceError | None:
    """The first real error among composite subrequest responses (PROCESSING_HALTED is only an echo)."""
    halted: SalesforceError | None = None
    for response in responses:
        status = int(response.get("httpStatusCode") or 0)
        if status < 400:
            continue
        error = error_from_body(response.get("body"), status=status)
        if error.code == "PROCESSING_HALTED":
            halted = halted or error
            continue
        return error
    return halted


def graph_error(graph: dict) -> SalesforceError | None:
    """The first real error in one composite graph result, or None when it succeeded."""
    if graph.get("isSuccessful", False):
        return None
    responses = (graph.get("graphResponse") or {}).get("compositeResponse") or []
    return composite_error(responses) or SalesforceError(
        f"Composite graph {graph.get('graphId', '')} failed.", status=400, code="GRAPH_FAILED", body=graph
    )


def save_result_error(result: dict) -> SalesforceError | None:
    """The error of one sObject Collections SaveResult (``statusCode``), or None when it succeeded."""
    if result.get("success", False):
        return None
    return error_from_body(result.get("errors") or [], status=400)


def json_default(value: Any) -> Any:
    """JSON for Decimal and dates, applied only at the wire.

    A Decimal becomes a float: for up to 15 significant digits (every money value) the
    float's shortest representation is the same decimal text, so the number Salesforce
    reads is exact.
    """
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"Cannot send {type(value).__name__} to Salesforce as JSON")


def json_dumps(value: Any) -> str:
    """Serialise a request body (Decimal-aware)."""
    return json.dumps(value, default=json_default, separators=(",", ":"))


@dataclass(frozen=True)
class SalesforceToken:
    """An OAuth access token and the instance it is good for."""

    # Out of the repr, so a token object in a log line or a traceback never shows the token.
    access_token: str = field(repr=False)
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
            f"Salesforce login refused ({response.status_code} {code}: {description})".strip(),
            code=code,
            status=response.status_code,
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


def salesforce_data_path(path: str, *, version: str | None = None) -> str:
    """``/services/data/vXX.X/{path}`` for composite subrequest URLs; absolute paths are kept."""
    if path.startswith("/services/"):
        return path
    return f"{DATA_PATH}v{version or settings.SALESFORCE['API_VERSION']}/{path.lstrip('/')}"


class SalesforceClient:
    """REST access to one org with lazy login, one re-login on expiry, counting and limit tracking."""

    def __init__(self, *, conf: dict | None = None, session: requests.Session | None = None) -> None:
        self.conf: dict[str, Any] = dict(conf or settings.SALESFORCE)
        self.api_version: str = str(self.conf["API_VERSION"])
        self.session = session or http_session_build(ca_bundle=self.conf.get("CA_BUNDLE") or "")
        # One hook sees every response of the session, simple-salesforce's (bulk2) included.
        self.session.hooks.setdefault("response", []).append(self._response_seen)
        self.api_usage: tuple[int, int] | None = None
        self._token: SalesforceToken | None = None
        self._login_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._describes: dict[str, dict] = {}
        self._pricebook_id: str | None = None

    # -- session -----------------------------------------------------------------------------
    def _response_seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if DATA_PATH not in urlsplit(response.url).path:
            return  # the token endpoint does not count against the API limit
        _counting.add()
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))

    def _login(self) -> SalesforceToken:
        try:
            token = salesforce_token_fetch(conf=self.conf, session=self.session, timeout=TIMEOUT[0] + 10)
        except SalesforceAuthError as error:
            raise SalesforceError(
                str(error), status=error.status, code=error.code or "LOGIN_FAILED", transient=error.status >= 500
            ) from None
        except requests.RequestException as error:
            raise SalesforceError(
                f"Cannot reach the Salesforce login URL ({type(error).__name__}).", code="NETWORK_ERROR"
            ) from None
        logger.info("Logged in to Salesforce at %s", token.instance_url)
        return token

    def token(self) -> SalesforceToken:
        """The current token, logging in on first use."""
        token = self._token
        if token is not None:
            return token
        with self._login_lock:
            if self._token is None:
                self._token = self._login()
            return self._token

    def relogin(self, *, stale: SalesforceToken | None = None) -> SalesforceToken:
        """Replace ``stale`` with a fresh token (once, however many threads saw it expire)."""
        with self._login_lock:
            if self._token is None or self._token is stale or stale is None:
                self._token = self._login()
            return self._token

    # -- REST --------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """The data path for ``path`` (relative to the versioned data root, or absolute)."""
        return salesforce_data_path(path, version=self.api_version)

    def _send(
        self, method: str, path: str, token: SalesforceToken, *, json: Any, params: dict | None
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token.access_token}", "Accept": "application/json"}
        data = None
        if json is not None:
            headers["Content-Type"] = "application/json"
            data = json_dumps(json).encode()
        started = time.monotonic()
        try:
            response = self.session.request(
                method, token.instance_url + path, params=params, data=data, headers=headers, timeout=TIMEOUT
            )
        except requests.RequestException as error:
            # A request that may or may not have reached Salesforce still spent a call.
            _counting.add()
            raise SalesforceError(
                f"Salesforce request {method} {path} failed: {type(error).__name__}", code="NETWORK_ERROR"
            ) from None
        logger.debug(
            "Salesforce %s %s -> %s in %.0f ms", method, path, response.status_code, (time.monotonic() - started) * 1000
        )
        return response

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        """One REST call; parsed JSON (None for 204); raises SalesforceError."""
        path = self.url(path)
        token = self.token()
        response = self._send(method, path, token, json=json, params=params)
        if response.status_code == 401 and _session_invalid(response):
            logger.info("Salesforce session expired; logging in again")
            token = self.relogin(stale=token)
            response = self._send(method, path, token, json=json, params=params)
        return _response_result(response, method=method, path=path)

    # -- batching ----------------------------------------------------------------------------
    def composite(self, subrequests: list[dict], *, all_or_none: bool = True) -> list[dict]:
        """POST composite; with all_or_none a failure raises the first real error (``.body`` = whole answer)."""
        body = self.request("POST", "composite", json={"allOrNone": all_or_none, "compositeRequest": subrequests})
        responses = body["compositeResponse"]
        if all_or_none:
            error = composite_error(responses)
            if error is not None:
                error.body = body
                raise error
        return responses

    def composite_graph(self, graphs: list[dict]) -> list[dict]:
        """POST composite/graph; returns the ``graphs`` list (each graph is all-or-nothing on its own)."""
        return self.request("POST", "composite/graph", json={"graphs": graphs})["graphs"]

    def _collections(self, method: str, path: str, records: list[dict], all_or_none: bool) -> list[dict]:
        results: list[dict] = []
        # Each chunk is its own request and its own transaction: all_or_none holds per chunk.
        for start in range(0, len(records), COLLECTIONS_CHUNK):
            chunk = records[start : start + COLLECTIONS_CHUNK]
            results.extend(self.request(method, path, json={"allOrNone": all_or_none, "records": chunk}) or [])
        return results

    def collections_create(self, records: list[dict], *, all_or_none: bool = False) -> list[dict]:
        """Create records (``attributes.type`` set) in chunks of 200; one SaveResult per record, in order."""
        return self._collections("POST", "composite/sobjects", records, all_or_none)

    def collections_update(self, records: list[dict], *, all_or_none: bool = False) -> list[dict]:
        """Update records by Id in chunks of 200."""
        return self._collections("PATCH", "composite/sobjects", records, all_or_none)

    def collections_upsert(
        self, sobject: str, external_id_field: str, records: list[dict], *, all_or_none: bool = False
    ) -> list[dict]:
        """Upsert records of one type by an external id field, in chunks of 200."""
        return self._collections("PATCH", f"composite/sobjects/{sobject}/{external_id_field}", records, all_or_none)

    # -- reads -------------------------------------------------------------------------------
    def query(self, soql: str) -> list[dict]:
        """All records of a SOQL query, following ``nextRecordsUrl``."""
        body = self.request("GET", "query", params={"q": soql})
        records = list(body.get("records", []))
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            body = self.request("GET", body["nextRecordsUrl"])
            records.extend(body.get("records", []))
        return records

    def describe(self, sobject: str) -> dict:
        """The object's describe, cached for the life of the process."""
        with self._cache_lock:
            cached = self._describes.get(sobject)
        if cached is not None:
            return cached
        described = self.request("GET", f"sobjects/{sobject}/describe")
        with self._cache_lock:
            self._describes[sobject] = described
        return described

    def field_names(self, sobject: str) -> set[str]:
        """The object's field names (from the cached describe)."""
        return {field["name"] for field in self.describe(sobject).get("fields", [])}

    def standard_pricebook_id(self) -> str:
        """The standard price book's Id, queried once (process memory, then the shared cache)."""
        if self._pricebook_id:
            return self._pricebook_id
        key = f"b2s:salesforce:standard-pricebook:{self.conf['LOGIN_URL']}:{self.conf.get('USERNAME', '')}"
        pricebook_id = cache.get(key)
        if not pricebook_id:
            records = self.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1")
            if not records:
                raise SalesforceError(
                    "The org has no standard price book.", status=404, code="STANDARD_PRICEBOOK_MISSING"
                )
            pricebook_id = records[0]["Id"]
            cache.set(key, pricebook_id, PRICEBOOK_CACHE_SECONDS)
        self._pricebook_id = pricebook_id
        return pricebook_id

    def limits(self) -> dict:
        """GET limits (DailyApiRequests and friends)."""
        return self.request("GET", "limits")

    # -- simple-salesforce -------------------------------------------------------------------
    def simple(self) -> Any:
        """A simple_salesforce.Salesforce on the same token and HTTP session (for Bulk API 2.0)."""
        from simple_salesforce import Salesforce

        token = self.token()
        return Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            version=self.api_version,
            session=self.session,
        )

    def simple_call(self, function: Callable[[Any], T]) -> T:
        """Run ``function(simple())``; on an expired session log in again once and retry."""
        from simple_salesforce.exceptions import SalesforceExpiredSession

        token = self.token()
        try:
            return function(self.simple())
        except SalesforceExpiredSession:
            self.relogin(stale=token)
            return function(self.simple())

    # -- Bulk API 2.0 (through simple-salesforce, with the same re-login) ------------------------
    def bulk_upsert(
        self, sobject: str, external_id_field: str, rows: list[dict[str, str]], *, poll_seconds: float
    ) -> list[dict[str, Any]]:
        """Upsert CSV ``rows`` by an external id in Bulk API 2.0 jobs and wait for them.

        One summary per job (``job_id``, ``numberRecordsTotal``, ``numberRecordsProcessed``,
        ``numberRecordsFailed``). Upserting is idempotent, so a retry after a re-login is safe.
        simple-salesforce's own exception types (and requests') propagate.
        """
        return self.simple_call(
            lambda simple: getattr(simple.bulk2, sobject).upsert(
                records=rows, external_id_field=external_id_field, wait=poll_seconds
            )
        )

    def bulk_failed_records(self, sobject: str, job_id: str) -> str:
        """The CSV of a Bulk API 2.0 job's failed rows (with ``sf__Error``)."""
        return self.simple_call(lambda simple: getattr(simple.bulk2, sobject).get_failed_records(job_id))

    def bulk_unprocessed_records(self, sobject: str, job_id: str) -> str:
        """The CSV of a Bulk API 2.0 job's rows that were never processed."""
        return self.simple_call(lambda simple: getattr(simple.bulk2, sobject).get_unprocessed_records(job_id))


def _session_invalid(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return True  # a bare 401 from a data endpoint means the same
    entries = body if isinstance(body, list) else [body]
    return any(isinstance(entry, dict) and entry.get("errorCode") == "INVALID_SESSION_ID" for entry in entries)


def _response_result(response: requests.Response, *, method: str, path: str) -> Any:
    status = response.status_code
    if status < 300 and (status == 204 or not response.content):
        return None
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if 200 <= status < 300:
        return body
    if status == 300:
        raise SalesforceError(
            f"{method} {path} matches more than one record.", status=300, code="MULTIPLE_RECORDS", body=body
        )
    error = error_from_body(body, status=status)
    if status == 401 and not error.code:
        error.code = "INVALID_SESSION_ID"
        error.transient = True
    raise error


_client: SalesforceClient | None = None
_client_lock = threading.Lock()


def salesforce_client() -> SalesforceClient:
    """The process-wide client (one token, one pooled session, shared caches)."""
    global _client
    client = _client
    if client is not None:
        return client
    with _client_lock:
        if _client is None:
            _client = SalesforceClient()
        return _client


def salesforce_client_reset() -> None:
    """Forget the process-wide client (tests; changed settings)."""
    global _client
    with _client_lock:
        _client = None


@contextmanager
def salesforce_calls_counted() -> Iterator[CallCounter]:
    """``counter.count`` = Salesforce data requests made inside the block (nests)."""
    with _counting.counted() as counter:
        yield counter


def salesforce_calls_total() -> int:
    """Data requests this process has made since it started."""
    return _counting.total
