"""The Salesforce client: the only module that talks to Salesforce.

Obtains an OAuth token from the configured login URL (client credentials, JWT
bearer or username-password), because simple-salesforce can only log in to
``*.salesforce.com``; then talks REST itself (``SalesforceClient.request``) and
hands the same token and HTTP session to simple-salesforce for Bulk API 2.0
(``SalesforceClient.simple``). The one call REST lacks, ``convertLead``, goes to the SOAP
API (``SalesforceClient.lead_convert``) on the same token and session, counted the same way.

Every data request is counted (process total and per ``salesforce_calls_counted()``
block) and its ``Sforce-Limit-Info`` read. A 401 ``INVALID_SESSION_ID`` re-logs in
once and retries. Failures raise :class:`SalesforceError`, classified transient
(retry later) or permanent (fix the data or the configuration first).

Every write leaves through ``request``, where two org-wide rules are applied once for all
callers: text values are fitted to their fields' describe lengths (sObject rows, composite and
graph subrequests, sObject Collections; Bulk API rows in ``bulk_upsert``), what was shortened
being noted for the audit entry (``salesforce_truncations_take``); and the duplicate rule header
the ``duplicate_rule_action`` setting asks for is sent.
"""

from __future__ import annotations

import contextvars
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
from xml.etree import ElementTree
from xml.sax.saxutils import escape as xml_escape

import requests
from django.conf import settings
from django.core.cache import cache

from b2s.logging import secret_register
from sync.calls import CallCounter, CallCounting
from sync.field_fit import FieldLimit, field_limits_from_describe, record_fit
from sync.network import network_error_describe
from sync.usage import SALESFORCE as SALESFORCE_USAGE
from sync.usage import SALESFORCE_WINDOW_SECONDS, api_usage_record

logger = logging.getLogger(__name__)

TOKEN_PATH = "/services/oauth2/token"
DATA_PATH = "/services/data/"
_VERSIONED_DATA_PATH = re.compile(r"^/services/data/v([0-9.]+)/(.*)$", re.DOTALL)
# The SOAP API (partner WSDL) serves the one call REST lacks: convertLead.
SOAP_PATH = "/services/Soap/u/"
SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_PARTNER_NS = "urn:partner.soap.sforce.com"
JWT_LIFETIME_SECONDS = 180
# (connect, read) seconds: a composite of 25 upserts can take a while on a busy org.
TIMEOUT = (10.0, 120.0)
COLLECTIONS_CHUNK = 200
PRICEBOOK_CACHE_SECONDS = 24 * 3600
# Field lengths change only when an admin edits the schema: a day, shared by every process.
FIELD_LIMITS_CACHE_SECONDS = 24 * 3600
# The org URL of the last login, for the admin's links to records (shared through the cache by every process).
INSTANCE_URL_CACHE_KEY = "b2s:salesforce:instance-url"
COMPOSITE_MAX = 25
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT"})
DEFAULT_JWT_AUDIENCE = "https://login.salesforce.com"
DUPLICATE_RULE_SETTING = "duplicate_rule_action"
DUPLICATE_ALLOW_SAVE = "allow_save"
DUPLICATE_FAIL = "fail"
DUPLICATE_ALLOW_HEADER = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}
# Notes of shortened values kept per collector (a backfill's summary entry need not list every order's).
TRUNCATIONS_MAX = 200

# Error codes worth retrying later (see the reference's error table).
TRANSIENT_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE", "INVALID_SESSION_ID", "NETWORK_ERROR"}
)
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")

_counting = CallCounting("salesforce")
_truncations: contextvars.ContextVar[tuple[list[dict[str, Any]], ...]] = contextvars.ContextVar(
    "b2s_salesforce_truncations", default=()
)
_DATA_PREFIX = re.compile(r"^/services/data/v[0-9.]+/")
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
        # DUPLICATES_DETECTED: the ids of the records a duplicate rule matched (also in the message).
        self.duplicate_ids: list[str] = []

    def __str__(self) -> str:
        where = f" [{', '.join(self.fields)}]" if self.fields else ""
        return f"{self.code or 'ERROR'} ({self.status}): {self.message}{where}"


def _network_error_permanent(error: requests.RequestException, *, url: str) -> SalesforceError | None:
    """A certificate or host-name failure as a permanent error: no retry schedule fixes a setting."""
    message = network_error_describe(
        error=error, url=url, ca_setting="SALESFORCE_CA_BUNDLE", url_setting="SALESFORCE_LOGIN_URL"
    )
    return SalesforceError(message, code="NETWORK_SETTING", transient=False) if message else None


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
        message = str(entry.get("message") or entry.get("error_description") or "")
        if code or message:
            duplicates = duplicate_ids_from_error(entry)
            if duplicates:
                message = f"{message} Duplicate record(s): {', '.join(duplicates)}".strip()
            error = SalesforceError(message, status=status, code=str(code), fields=entry.get("fields") or [], body=body)
            error.duplicate_ids = duplicates
            return error
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return SalesforceError(text[:500] or f"HTTP {status}", status=status, body=body)


def duplicate_ids_from_error(entry: dict[str, Any]) -> list[str]:
    """The matched records' ids of a ``DUPLICATES_DETECTED`` error entry (REST spells the key ``duplicateResut``)."""
    result = entry.get("duplicateResut") or entry.get("duplicateResult") or {}
    ids: list[str] = []
    for match in (result.get("matchResults") or []) if isinstance(result, dict) else []:
        for found in (match.get("matchRecords") or []) if isinstance(match, dict) else []:
            record = found.get("record") if isinstance(found, dict) else None
            record_id = (record.get("Id") or record.get("id")) if isinstance(record, dict) else None
            if record_id and str(record_id) not in ids:
                ids.append(str(record_id))
    return ids


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
    # The identity URL of the token answer (``.../id/{org id}/{user id}``): who b2s is in the org, at no request.
    identity_url: str = ""

    @property
    def org_id(self) -> str:
        """The org's Id, from the identity URL ("" when the login answer had none)."""
        parts = self.identity_url.rstrip("/").split("/")
        return parts[-2] if len(parts) >= 3 and parts[-3] == "id" else ""

    @property
    def user_id(self) -> str:
        """The integration user's Id, from the identity URL ("" when the login answer had none)."""
        parts = self.identity_url.rstrip("/").split("/")
        return parts[-1] if len(parts) >= 3 and parts[-3] == "id" else ""


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
        # Never the login URL itself: Salesforce refuses a My Domain URL as audience (see the reference).
        "aud": (conf.get("JWT_AUDIENCE") or DEFAULT_JWT_AUDIENCE).rstrip("/"),
        "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
    }
    # Imported here: PyJWT and the cryptography modules it loads cost every b2s process ~1.6 MB, and
    # only the JWT login flow (SALESFORCE_AUTH=jwt) uses them.
    import jwt

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
    return SalesforceToken(
        body["access_token"], body["instance_url"].rstrip("/"), time.time(), identity_url=str(body.get("id") or "")
    )


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


def soql_quote(value: str) -> str:
    """``value`` as a quoted, escaped SOQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def chunks_bounded(items: list[T], *, max_items: int, max_weight: int, weight: Callable[[T], int]) -> Iterator[list[T]]:
    """``items`` in order, in chunks of at most ``max_items`` whose weights add up to at most ``max_weight``
    (a request's limits: records and nodes, or literals and URL length). An item heavier than the bound
    goes alone."""
    chunk: list[T] = []
    total = 0
    for item in items:
        size = weight(item)
        if chunk and (len(chunk) >= max_items or total + size > max_weight):
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += size
    if chunk:
        yield chunk


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
        self._limits: dict[str, dict[str, FieldLimit]] = {}
        self._pricebook_id: str | None = None
        self._simple: dict[tuple[str, str], Any] = {}

    # -- session -----------------------------------------------------------------------------
    def _response_seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        path = urlsplit(response.url).path
        if DATA_PATH not in path and SOAP_PATH not in path:
            return  # the token endpoint does not count against the API limit
        _counting.add()
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))
            # The org's daily usage, for the dashboard and the API-budget guard (no write per request).
            api_usage_record(
                service=SALESFORCE_USAGE,
                used=self.api_usage[0],
                limit=self.api_usage[1],
                window_seconds=SALESFORCE_WINDOW_SECONDS,
            )

    def _login(self) -> SalesforceToken:
        try:
            token = salesforce_token_fetch(conf=self.conf, session=self.session, timeout=TIMEOUT[0] + 10)
        except SalesforceAuthError as error:
            raise SalesforceError(
                str(error), status=error.status, code=error.code or "LOGIN_FAILED", transient=error.status >= 500
            ) from None
        except requests.RequestException as error:
            permanent = _network_error_permanent(error, url=self.conf["LOGIN_URL"])
            if permanent:
                raise permanent from None
            raise SalesforceError(
                f"Cannot reach the Salesforce login URL ({type(error).__name__}).", code="NETWORK_ERROR"
            ) from None
        logger.info("Logged in to Salesforce at %s", token.instance_url)
        cache.set(INSTANCE_URL_CACHE_KEY, token.instance_url, None)
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
        self, method: str, path: str, token: SalesforceToken, *, json: Any, params: dict | None, extra: dict[str, str]
    ) -> Any:
        """One REST call through simple-salesforce's ``restful`` on this client's token and HTTP session.

        The parsed answer (None for 204); an answer of 300 or more is simple-salesforce's exception
        (``SalesforceError`` below); a request that fails in transit is a NETWORK_ERROR.
        """
        match = _VERSIONED_DATA_PATH.match(path)
        if match is None:
            raise ValueError(f"Not a versioned REST path: {path}")
        version, relative = match.groups()
        data = json_dumps(json).encode() if json is not None else None
        started = time.monotonic()
        try:
            return self.simple(token=token, version=version).restful(
                relative, params=params, method=method, data=data, headers=extra, timeout=TIMEOUT
            )
        except requests.RequestException as error:
            # A request that may or may not have reached Salesforce still spent a call.
            _counting.add()
            permanent = _network_error_permanent(error, url=token.instance_url)
            if permanent:
                raise permanent from None
            raise SalesforceError(
                f"Salesforce request {method} {path} failed: {type(error).__name__}", code="NETWORK_ERROR"
            ) from None
        finally:
            logger.debug("Salesforce %s %s in %.0f ms", method, path, (time.monotonic() - started) * 1000)

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        """One REST call; parsed JSON (None for 204); raises SalesforceError.

        A write's text values are fitted to their fields first (``body_fit``), and with the
        ``allow_save`` duplicate rule action it carries the duplicate rule header, on the request and
        on each of its write subrequests (a composite or graph subrequest does not inherit it).
        """
        extra: dict[str, str] = {}
        if method in WRITE_METHODS:
            if json is not None:
                json = self.body_fit(path, json)
            if duplicate_rule_action() == DUPLICATE_ALLOW_SAVE:
                extra = dict(DUPLICATE_ALLOW_HEADER)
                json = _subrequests_headed(path, json, extra)
        # simple-salesforce (with zeep and lxml, ~20 MB) is imported where it is used: the web process never calls
        # Salesforce; the cluster imports it before forking its workers (b2s.run.qcluster_main), so they share it.
        from simple_salesforce.exceptions import SalesforceError as SimpleSalesforceError
        from simple_salesforce.exceptions import SalesforceExpiredSession

        path = self.url(path)
        token = self.token()
        try:
            try:
                return self._send(method, path, token, json=json, params=params, extra=extra)
            except SalesforceExpiredSession as expired:
                if not _session_invalid(expired.content):
                    raise
                logger.info("Salesforce session expired; logging in again")
                token = self.relogin(stale=token)
                return self._send(method, path, token, json=json, params=params, extra=extra)
        except SimpleSalesforceError as error:
            raise _error_from_simple(error, method=method, path=path) from None

    # -- batching ----------------------------------------------------------------------------
    def composite(self, subrequests: list[dict], *, all_or_none: bool = True) -> list[dict]:
        """POST composite; with all_or_none a failure raises the first real error (``.body`` = whole answer).

        Subrequests run in the order sent: ``collateSubrequests`` is false (from API 49.0 it defaults to
        true, and Salesforce then runs unrelated subrequests in an order of its own).
        """
        body = self.request(
            "POST",
            "composite",
            json={"allOrNone": all_or_none, "collateSubrequests": False, "compositeRequest": subrequests},
        )
        responses: list[dict] = body["compositeResponse"]
        if all_or_none:
            error = composite_error(responses)
            if error is not None:
                error.body = body
                raise error
        return responses

    def composite_graph(self, graphs: list[dict]) -> list[dict]:
        """POST composite/graph; returns the ``graphs`` list (each graph is all-or-nothing on its own)."""
        answered: list[dict] = self.request("POST", "composite/graph", json={"graphs": graphs})["graphs"]
        return answered

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
        return [record for page in self.query_pages(soql) for record in page]

    def query_pages(self, soql: str) -> Iterator[list[dict]]:
        """The records of a SOQL query page by page (one request each, ``nextRecordsUrl`` followed), so a
        caller can store each page before asking for the next."""
        body = self.request("GET", "query", params={"q": soql})
        yield list(body.get("records", []))
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            body = self.request("GET", body["nextRecordsUrl"])
            yield list(body.get("records", []))

    def describe(self, sobject: str) -> dict:
        """The object's describe, cached for the life of the process."""
        with self._cache_lock:
            cached = self._describes.get(sobject)
        if cached is not None:
            return cached
        described: dict = self.request("GET", f"sobjects/{sobject}/describe")
        with self._cache_lock:
            self._describes[sobject] = described
        return described

    def field_limits(self, sobjects: set[str]) -> dict[str, dict[str, FieldLimit]]:
        """``{object: {lower-case field: FieldLimit}}`` of the objects' text fields.

        Read once per object per process (memory), shared by every process for a day (cache), and
        the objects not known yet are described in one composite request. An object whose describe
        fails gets no limits (its write then fails with Salesforce's own error).
        """
        with self._cache_lock:
            known = {name: self._limits[name] for name in sobjects if name in self._limits}
        missing = sorted(sobjects - set(known))
        if not missing:
            return known
        keys = {name: self._limits_key(name) for name in missing}
        shared = cache.get_many(list(keys.values()))
        found: dict[str, dict[str, FieldLimit]] = {}
        for name in missing:
            rows = shared.get(keys[name])
            if rows is not None:
                found[name] = {row[0].lower(): FieldLimit(*row) for row in rows}
            elif name in self._describes:
                found[name] = field_limits_from_describe(self._describes[name])
        described = [name for name in missing if name not in found]
        for start in range(0, len(described), COMPOSITE_MAX):
            chunk = described[start : start + COMPOSITE_MAX]
            subrequests = [
                {"method": "GET", "url": self.url(f"sobjects/{name}/describe"), "referenceId": f"describe{index}"}
                for index, name in enumerate(chunk)
            ]
            for name, response in zip(chunk, self.composite(subrequests, all_or_none=False), strict=False):
                body = response.get("body")
                if int(response.get("httpStatusCode") or 0) == 200 and isinstance(body, dict):
                    found[name] = field_limits_from_describe(body)
                else:
                    logger.warning("No field lengths for %s: its describe failed", name)
                    found[name] = {}
        cache.set_many(
            {
                keys[name]: [(item.name, item.type, item.length) for item in limits.values()]
                for name, limits in found.items()
            },
            FIELD_LIMITS_CACHE_SECONDS,
        )
        with self._cache_lock:
            self._limits.update(found)
        return {**known, **found}

    def _limits_key(self, sobject: str) -> str:
        return f"b2s:salesforce:field-limits:{self.conf['LOGIN_URL']}:{self.conf.get('USERNAME', '')}:{sobject}"

    def body_fit(self, path: str, body: Any) -> Any:
        """A write's body with every text value fitted to its field (notes to the open collectors).

        The object comes from the URL (sObject rows, Collections upsert) or each record's
        ``attributes.type`` (Collections); composite and graph subrequests are fitted one by one.
        """
        objects: set[str] = set()

        def collect(sobject: str, record: dict[str, Any]) -> dict[str, Any]:
            objects.add(sobject)
            return record

        _records_map(path, body, collect)
        if not objects:
            return body
        limits = self.field_limits(objects)
        notes: list[dict[str, Any]] = []

        def fit(sobject: str, record: dict[str, Any]) -> dict[str, Any]:
            fitted, noted = record_fit(record, limits.get(sobject) or {}, sobject=sobject)
            notes.extend(noted)
            return fitted

        fitted = _records_map(path, body, fit)
        if notes:
            truncations_note(notes)
        return fitted

    def field_names(self, sobject: str) -> set[str]:
        """The object's field names (from the cached describe)."""
        return {field["name"] for field in self.describe(sobject).get("fields", [])}

    def standard_pricebook_id(self) -> str:
        """The standard price book's Id, queried once (process memory, then the shared cache)."""
        if self._pricebook_id:
            return self._pricebook_id
        key = f"b2s:salesforce:standard-pricebook:{self.conf['LOGIN_URL']}:{self.conf.get('USERNAME', '')}"
        pricebook_id: str | None = cache.get(key)
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
        limits: dict = self.request("GET", "limits")
        return limits

    # -- SOAP --------------------------------------------------------------------------------
    def lead_convert(
        self, *, lead_id: str, converted_status: str, account_id: str = "", contact_id: str = ""
    ) -> LeadConverted:
        """Convert one Lead into the given Account and Contact (SOAP ``convertLead``; REST has no such call).

        No Opportunity is created, the Lead source is kept and no email is sent. One request,
        counted like the others; an expired session logs in again once. A conversion Salesforce
        refuses raises SalesforceError with the result's status code (``CANNOT_UPDATE_CONVERTED_LEAD``
        for a Lead converted already), a fault with its fault code.
        """
        convert = {
            "accountId": account_id,
            "contactId": contact_id,
            "convertedStatus": converted_status,
            "doNotCreateOpportunity": "true",
            "leadId": lead_id,
            "overwriteLeadSource": "false",
            "sendNotificationEmail": "false",
        }
        fields = "".join(f"<urn:{name}>{xml_escape(value)}</urn:{name}>" for name, value in convert.items() if value)
        operation = f"<urn:convertLead><urn:leadConverts>{fields}</urn:leadConverts></urn:convertLead>"
        path = f"{SOAP_PATH}{self.api_version}"
        token = self.token()
        response = self._soap_send(path, token, operation)
        if _soap_fault_code(response) == "INVALID_SESSION_ID":
            logger.info("Salesforce session expired; logging in again")
            token = self.relogin(stale=token)
            response = self._soap_send(path, token, operation)
        return _lead_converted(response, path=path)

    def _soap_send(self, path: str, token: SalesforceToken, operation: str) -> requests.Response:
        envelope = (
            f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENVELOPE_NS}" '
            f'xmlns:urn="{SOAP_PARTNER_NS}"><soapenv:Header><urn:SessionHeader><urn:sessionId>'
            f"{xml_escape(token.access_token)}</urn:sessionId></urn:SessionHeader></soapenv:Header>"
            f"<soapenv:Body>{operation}</soapenv:Body></soapenv:Envelope>"
        )
        headers = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""'}
        try:
            return self.session.post(
                token.instance_url + path, data=envelope.encode("utf-8"), headers=headers, timeout=TIMEOUT
            )
        except requests.RequestException as error:
            _counting.add()  # it may have reached Salesforce: a call spent, as on the REST path
            permanent = _network_error_permanent(error, url=token.instance_url)
            if permanent:
                raise permanent from None
            raise SalesforceError(
                f"Salesforce SOAP request {path} failed: {type(error).__name__}", code="NETWORK_ERROR"
            ) from None

    # -- simple-salesforce -------------------------------------------------------------------
    def simple(self, *, token: SalesforceToken | None = None, version: str | None = None) -> Any:
        """simple-salesforce's ``Salesforce`` on this client's token and HTTP session (b2s fetches the token
        itself: simple-salesforce's own login knows only ``*.salesforce.com`` hosts). One per token and API
        version, kept until the token changes."""
        token = token or self.token()
        version = version or self.api_version
        key = (token.access_token, version)
        simple = self._simple.get(key)
        if simple is None:
            from simple_salesforce import Salesforce  # where used, for memory (see ``request``)

            simple = Salesforce(
                instance_url=token.instance_url, session_id=token.access_token, version=version, session=self.session
            )
            with self._cache_lock:
                self._simple = {other: value for other, value in self._simple.items() if other[0] == key[0]}
                self._simple[key] = simple
        return simple

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
        simple-salesforce's own exception types (and requests') propagate. Text values are fitted
        to their fields as in ``request`` (an email too long for its field is sent empty: unchanged).
        """
        limits = self.field_limits({sobject}).get(sobject) or {}
        notes: list[dict[str, Any]] = []
        fitted_rows = []
        for row in rows:
            fitted, noted = record_fit(row, limits, sobject=sobject, dropped="")
            fitted_rows.append(fitted)
            notes.extend(noted)
        if notes:
            truncations_note(notes)
        rows = fitted_rows
        return self.simple_call(
            lambda simple: getattr(simple.bulk2, sobject).upsert(
                records=rows, external_id_field=external_id_field, wait=poll_seconds
            )
        )

    def bulk_failed_records(self, sobject: str, job_id: str) -> str:
        """The CSV of a Bulk API 2.0 job's failed rows (with ``sf__Error``)."""
        failed: str = self.simple_call(lambda simple: getattr(simple.bulk2, sobject).get_failed_records(job_id))
        return failed

    def bulk_unprocessed_records(self, sobject: str, job_id: str) -> str:
        """The CSV of a Bulk API 2.0 job's rows that were never processed."""
        unprocessed: str = self.simple_call(
            lambda simple: getattr(simple.bulk2, sobject).get_unprocessed_records(job_id)
        )
        return unprocessed


RecordFitter = Callable[[str, dict[str, Any]], dict[str, Any]]


def _records_map(path: str, body: Any, fn: RecordFitter) -> Any:
    """``body`` with ``fn(object, record)`` applied to every record it writes (the same body when none)."""
    if not isinstance(body, dict):
        return body
    segments = [part for part in _DATA_PREFIX.sub("", path.split("?", 1)[0]).strip("/").split("/") if part]
    if len(segments) >= 2 and segments[0] == "sobjects":
        return fn(segments[1], body)
    if segments == ["composite"]:
        return {**body, "compositeRequest": _subrequests_map(body.get("compositeRequest"), fn)}
    if segments == ["composite", "graph"]:
        graphs = [
            {**graph, "compositeRequest": _subrequests_map(graph.get("compositeRequest"), fn)}
            if isinstance(graph, dict)
            else graph
            for graph in body.get("graphs") or []
        ]
        return {**body, "graphs": graphs}
    if segments[:2] == ["composite", "sobjects"] and isinstance(body.get("records"), list):
        default = segments[2] if len(segments) >= 3 else ""
        records = [
            fn((record.get("attributes") or {}).get("type") or default, record)
            if isinstance(record, dict) and ((record.get("attributes") or {}).get("type") or default)
            else record
            for record in body["records"]
        ]
        return {**body, "records": records}
    return body


def _subrequests_map(subrequests: Any, fn: RecordFitter) -> Any:
    if not isinstance(subrequests, list):
        return subrequests
    mapped = []
    for item in subrequests:
        if isinstance(item, dict) and str(item.get("method", "")).upper() in WRITE_METHODS and "body" in item:
            item = {**item, "body": _records_map(str(item.get("url") or ""), item["body"], fn)}
        mapped.append(item)
    return mapped


def _subrequests_headed(path: str, body: Any, headers: dict[str, str]) -> Any:
    """A composite or graph body whose write subrequests carry ``headers`` too (other bodies as they are)."""
    segments = _DATA_PREFIX.sub("", path.split("?", 1)[0]).strip("/").split("/")
    if not isinstance(body, dict) or segments[0] != "composite" or len(segments) > 2:
        return body

    def headed(items: Any) -> Any:
        if not isinstance(items, list):
            return items
        return [
            {**item, "httpHeaders": {**(item.get("httpHeaders") or {}), **headers}}
            if isinstance(item, dict) and str(item.get("method", "")).upper() in WRITE_METHODS
            else item
            for item in items
        ]

    if segments == ["composite"]:
        return {**body, "compositeRequest": headed(body.get("compositeRequest"))}
    if segments == ["composite", "graph"]:
        graphs = body.get("graphs") or []
        return {
            **body,
            "graphs": [
                {**graph, "compositeRequest": headed(graph.get("compositeRequest"))}
                if isinstance(graph, dict)
                else graph
                for graph in graphs
            ],
        }
    return body


def duplicate_rule_action() -> str:
    """What a write does about the org's duplicate rules: ``allow_save`` (the default) or ``fail``.

    ``allow_save`` sends ``Sforce-Duplicate-Rule-Header: allowSave=true``, so a record a rule flags is
    saved (as a user acknowledging the alert would); ``fail`` sends no header, and the write fails
    permanently with ``DUPLICATES_DETECTED`` naming the matched records.
    """
    from sync.config import config

    try:
        return config.setting(DUPLICATE_RULE_SETTING)
    except KeyError:  # a database not migrated yet
        return DUPLICATE_ALLOW_SAVE


def _session_invalid(body: Any) -> bool:
    """Whether a 401's body says the session expired (a bare 401 from a data endpoint means the same)."""
    if not body or isinstance(body, str):
        return True
    entries = body if isinstance(body, list) else [body]
    return any(isinstance(entry, dict) and entry.get("errorCode") == "INVALID_SESSION_ID" for entry in entries)


@dataclass(frozen=True)
class LeadConverted:
    """What a successful convertLead made of the Lead."""

    lead_id: str
    account_id: str
    contact_id: str


def _soap_local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _soap_root(response: requests.Response) -> ElementTree.Element | None:
    """The parsed answer; None when it is not XML. A SOAP message never has a DTD (SOAP 1.1, 3), so one
    is refused before parsing: no entity of the answer is ever expanded (defusedxml is not a dependency)."""
    content = response.content or b""
    if b"<!DOCTYPE" in content.upper() or b"<!ENTITY" in content.upper():
        return None
    try:
        return ElementTree.fromstring(content)  # noqa: S314 (no DTD, so no entity to expand: see above)
    except ElementTree.ParseError:
        return None


def _soap_find(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    return next((child for child in element.iter() if _soap_local(child.tag) == name), None)


def _soap_text(element: ElementTree.Element | None, name: str) -> str:
    found = _soap_find(element, name) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _soap_fault_code(response: requests.Response) -> str:
    """``INVALID_SESSION_ID`` of a fault ``sf:INVALID_SESSION_ID``; "" when the answer is no fault."""
    root = _soap_root(response)
    fault = _soap_find(root, "Fault") if root is not None else None
    return _soap_text(fault, "faultcode").rsplit(":", 1)[-1] if fault is not None else ""


def _lead_converted(response: requests.Response, *, path: str) -> LeadConverted:
    root = _soap_root(response)
    if root is None:
        raise SalesforceError(
            f"POST {path} answered {response.status_code} without a SOAP message.", status=response.status_code
        )
    fault = _soap_find(root, "Fault")
    if fault is not None:
        code = _soap_text(fault, "faultcode").rsplit(":", 1)[-1]
        raise SalesforceError(
            _soap_text(fault, "faultstring") or code,
            status=response.status_code,
            code=code,
            # A fault is HTTP 500 whatever its cause: only the fault code says whether a retry can help.
            transient=code in TRANSIENT_CODES,
        )
    result = _soap_find(root, "result")
    if result is None:
        raise SalesforceError(f"POST {path} answered without a convertLead result.", status=response.status_code)
    if _soap_text(result, "success").lower() != "true":
        errors = _soap_find(result, "errors")
        fields = [
            (item.text or "").strip()
            for item in (errors if errors is not None else [])
            if _soap_local(item.tag) == "fields"
        ]
        raise SalesforceError(
            _soap_text(errors, "message") or "convertLead failed",
            status=400,
            code=_soap_text(errors, "statusCode"),
            fields=fields,
        )
    return LeadConverted(
        lead_id=_soap_text(result, "leadId"),
        account_id=_soap_text(result, "accountId"),
        contact_id=_soap_text(result, "contactId"),
    )


def _error_from_simple(error: Any, *, method: str, path: str) -> SalesforceError:
    """simple-salesforce's exception for an answer of 300 or more, as b2s classifies it."""
    status, body = int(error.status), error.content
    if status == 300:
        return SalesforceError(
            f"{method} {path} matches more than one record.", status=300, code="MULTIPLE_RECORDS", body=body
        )
    classified = error_from_body(body, status=status)
    if status == 401 and not classified.code:
        classified.code = "INVALID_SESSION_ID"
        classified.transient = True
    return classified


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


def salesforce_field_lengths_warm() -> None:
    """Read the field lengths of every object b2s writes in one request (a worker's start, a test's set-up)."""
    from sync.salesforce_schema import REQUIRED_EVENTS, REQUIRED_OBJECTS

    salesforce_client().field_limits(set(REQUIRED_OBJECTS) | {event.name for event in REQUIRED_EVENTS})


def salesforce_client_reset() -> None:
    """Forget the process-wide client (tests; changed settings)."""
    global _client
    with _client_lock:
        _client = None


@contextmanager
def salesforce_calls_counted() -> Iterator[CallCounter]:
    """``counter.count`` = Salesforce data requests made inside the block (nests).

    The block also collects the values shortened to fit their fields (``salesforce_truncations_take``).
    """
    with _counting.counted() as counter, salesforce_truncations_collected():
        yield counter


@contextmanager
def salesforce_truncations_collected() -> Iterator[list[dict[str, Any]]]:
    """Collect the notes of values shortened inside the block (in this thread or task; nests).

    Usable as a decorator too. ``audit_record`` takes the innermost block's notes into its entry.
    """
    notes: list[dict[str, Any]] = []
    token = _truncations.set((*_truncations.get(), notes))
    try:
        yield notes
    finally:
        _truncations.reset(token)


def truncations_note(notes: list[dict[str, Any]]) -> None:
    """Record shortened values in every open collector (and the log: names and lengths, never values)."""
    for note in notes:
        logger.info("Shortened %s.%s from %s to %s characters", note["object"], note["field"], note["from"], note["to"])
    for collector in _truncations.get():
        for note in notes:
            if len(collector) < TRUNCATIONS_MAX and note not in collector:
                collector.append(note)


def salesforce_truncations_take() -> list[dict[str, Any]]:
    """The innermost collector's notes since the last take (emptied): what this audit entry shortened."""
    stack = _truncations.get()
    if not stack:
        return []
    taken = list(stack[-1])
    stack[-1].clear()
    return taken


def salesforce_calls_total() -> int:
    """Data requests this process has made since it started."""
    return _counting.total
