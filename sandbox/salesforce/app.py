"""``SalesforceSandbox``: the Salesforce stand-in as a WSGI application with a Python API for tests.

All state is in memory and guarded by one re-entrant lock: a request holds it while it is
handled (after any injected latency), so concurrent clients see Salesforce-like serialized
writes. Bulk jobs run on timer threads that take the same lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import socket
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from werkzeug.wrappers import Request, Response

from sandbox.salesforce import bulk
from sandbox.salesforce.auth import Credentials, Sessions, public_key_load, token_answer, token_grant
from sandbox.salesforce.duplicates import bypassed as duplicates_bypassed
from sandbox.salesforce.errors import ApiError, DmlError
from sandbox.salesforce.faults import TERMINAL, Fault, FaultTable
from sandbox.salesforce.ids import id_make, id_normalize
from sandbox.salesforce.leads import LeadConvert, lead_convert
from sandbox.salesforce.permissions import AGENT_PERMISSIONS, b2s_permissions_set, user_permissions, user_seed
from sandbox.salesforce.rest import CSV_TYPE, JSON_TYPE, Call, DataApi, Result
from sandbox.salesforce.rules import rules_default, rules_update
from sandbox.salesforce.schema import Schema, schema_build
from sandbox.salesforce.soap import (
    NAMESPACES,
    XML_TYPE,
    SoapFault,
    convert_lead_response,
    fault_body,
    lead_converts_parse,
    limit_info_header,
    soap_parse,
)
from sandbox.salesforce.store import Org, datetime_format, datetime_parse, now_utc, record_copy

DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"
DEFAULT_USERNAME = "integration@sandbox.example"
DEFAULT_PASSWORD = "sandbox-password"
VERSION_MIN = "50.0"
VERSION_MAX = "66.0"
CALLS_KEPT = 100_000
CURSORS_KEPT = 200
SESSION_INVALID = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
LIMIT_EXCEEDED = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
_VERSION = re.compile(r"^v(\d{2,3})\.(\d)$")
_SOAP_PATH = re.compile(r"^/services/Soap/([uc])/(\d{2,3}\.\d)/?(?:[0-9A-Za-z]{15,18})?$")


def _version_key(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


class _Dropped(ConnectionAbortedError):
    """Raised to make the server close the connection without an answer (a ``drop`` fault)."""


class SalesforceSandbox:
    """A local Salesforce org: OAuth, the REST data API, Bulk API 2.0, platform events, faults.

    Python API for tests (no HTTP needed): :meth:`reset`, :meth:`records`, :meth:`record`,
    :attr:`calls`, :meth:`api_calls_counted`, :meth:`platform_events`, :meth:`fault_add`,
    :meth:`faults_clear`, :meth:`sessions_expire`, :meth:`token_issue`, :meth:`record_create`,
    the mutable :attr:`schema`, and the settings :attr:`api_max`, :attr:`api_used`,
    :attr:`token_lifetime`, :attr:`page_size`, :attr:`bulk_delay`.
    """

    def __init__(
        self,
        *,
        schema: str | Schema = "full",
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        security_token: str = "",
        jwt_certificate: str | bytes | Path | None = None,
        api_max: int = 15_000,
        token_lifetime: float = 7200.0,
        bulk_delay: float = 0.02,
        page_size: int = 2000,
        platform_event_enqueued: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        self.faults = FaultTable()
        self._schema_original = schema_build(schema) if isinstance(schema, str) else schema.copy()
        self.credentials = Credentials(client_id, client_secret, username, password, security_token)
        if jwt_certificate is not None:
            self.jwt_certificate_set(jwt_certificate)
        self._credentials_original = dataclasses.replace(self.credentials)
        self.org_id = id_make("00D")
        self._defaults: dict[str, Any] = {
            "api_max": int(api_max),
            "token_lifetime": float(token_lifetime),
            "bulk_delay": float(bulk_delay),
            "page_size": int(page_size),
            "platform_event_enqueued": bool(platform_event_enqueued),
        }
        self._generation = 0
        self.data_api = DataApi(self)
        self.reset()

    # ------------------------------------------------------------------ Python API

    def reset(self) -> None:
        """A fresh org: records, events, jobs, tokens, faults, calls, API usage, settings, credentials and schema."""
        with self.lock:
            self._generation += 1
            self.schema: Schema = self._schema_original.copy()
            self.credentials = dataclasses.replace(self._credentials_original)
            # One dict shared with the org, so a switch takes effect everywhere at once.
            self.rules: dict[str, bool] = rules_default()
            self.org = Org(self.schema, username=self.credentials.username, rules=self.rules)
            self.sessions = Sessions()
            self.jobs: dict[str, bulk.Job] = {}
            self.cursors: OrderedDict[str, Any] = OrderedDict()
            self._calls: deque[dict[str, Any]] = deque(maxlen=CALLS_KEPT)
            self.api_used = 0
            self.api_max: int = self._defaults["api_max"]
            self.token_lifetime: float = self._defaults["token_lifetime"]
            self.bulk_delay: float = self._defaults["bulk_delay"]
            self.page_size: int = self._defaults["page_size"]
            self.platform_event_enqueued: bool = self._defaults["platform_event_enqueued"]
            self.faults.clear()

    def rules_set(self, **changes: bool) -> dict[str, bool]:
        """Switch production rules on or off (``rules_set(duplicate_rules=False)``); ``reset()`` turns all on."""
        with self.lock:
            return dict(rules_update(self.rules, changes))

    def user_permissions(self) -> dict[str, bool]:
        """The integration user's effective permissions (``UserPermissionAccess``), by short name."""
        with self.lock:
            return user_permissions(self.org)

    def user_permissions_set(self, **changes: bool) -> dict[str, bool]:
        """Grant or revoke permissions on the user's ``B2S_Integration`` permission set, e.g.
        ``user_permissions_set(EditActivatedOrders=False)``; answers the effective permissions."""
        with self.lock:
            b2s_permissions_set(self.org, changes)
            self.org.commit()
            return user_permissions(self.org)

    def jwt_certificate_set(self, pem_or_path: str | bytes | Path) -> None:
        """Trust JWT assertions signed by this certificate's (or public key's) private key."""
        data: str | bytes
        if isinstance(pem_or_path, Path) or (isinstance(pem_or_path, str) and "-----BEGIN" not in pem_or_path):
            data = Path(pem_or_path).read_bytes()
        else:
            data = pem_or_path
        self.credentials.jwt_public_key = public_key_load(data)

    def records(self, sobject: str) -> list[dict[str, Any]]:
        """Copies of the live records of ``sobject`` (KeyError for an unknown object)."""
        with self.lock:
            name = self.schema[sobject].name
            return [record_copy(record) for record in self.org.rows(name)]

    def record(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        """A copy of one live record (15- or 18-character id), or None."""
        with self.lock:
            found = self.org.get(record_id)
            if found is None or found[0] != self.schema[sobject].name:
                return None
            return record_copy(found[1])

    def record_create(self, sobject: str, fields: dict[str, Any]) -> str:
        """Create a record with every rule enforced, without HTTP and without counting an API call."""
        return self.records_create(sobject, [fields])[0]

    def records_create(self, sobject: str, rows: list[dict[str, Any]]) -> list[str]:
        """Create several records at once (all or none); raises ApiError like the API would answer."""
        with self.lock:
            mark = self.org.mark()
            try:
                # Set-up records are what an admin keyed in: no duplicate rule stops them.
                with duplicates_bypassed():
                    ids = [self.org.create(sobject, dict(row)) for row in rows]
            except BaseException:
                self.org.rollback(mark)
                raise
            self.org.commit()
            return ids

    def user_create(
        self,
        *,
        first_name: str = "Sam",
        last_name: str = "Agent",
        username: str | None = None,
        email: str | None = None,
        permissions: tuple[str, ...] = AGENT_PERMISSIONS,
    ) -> str:
        """Add a Salesforce user other than the integration user (a service agent by default: may edit
        activated orders); answers its id, for :meth:`record_update_as`."""
        with self.lock:
            name = username or f"{first_name}.{last_name}.{len(self.org.live.get('User', {}))}@sandbox.example"
            user_id = user_seed(
                self.org,
                first_name=first_name,
                last_name=last_name,
                username=name.lower(),
                email=(email or name).lower(),
                permissions=tuple(permissions),
            )
            self.org.commit()
            return user_id

    def record_update_as(
        self, sobject: str, record_id: str, fields: dict[str, Any], *, user_id: str, system_modstamp: str | None = None
    ) -> dict[str, Any]:
        """Update a record as ``user_id`` would in Salesforce's UI: every rule enforced (the user's own
        permissions), LastModifiedById = ``user_id``, LastModifiedDate = SystemModstamp = now (whole
        seconds) or ``system_modstamp`` (a transaction that began then and commits now). Not an API call:
        nothing is counted. Answers the updated record; raises ApiError as the API would answer."""
        with self.lock:
            stamp = None
            if system_modstamp is not None:
                parsed = datetime_parse(system_modstamp)
                if parsed is None:
                    raise ValueError(f"system_modstamp {system_modstamp!r} is not an ISO 8601 datetime")
                stamp = datetime_format(parsed.replace(microsecond=0))
            mark = self.org.mark()
            try:
                with self.org.acting_as(user_id, system_modstamp=stamp):
                    self.org.update(sobject, record_id, dict(fields))
            except BaseException:
                self.org.rollback(mark)
                raise
            self.org.commit()
            found = self.org.get(record_id)
            assert found is not None
            return record_copy(found[1])

    def picklist_values_add(self, sobject: str, field: str, values: list[str | dict[str, str]]) -> list[str]:
        """Add values to a picklist as an admin would in Setup (``reset()`` removes them); answers its values.

        Each value is a string or ``{"value": "Shipped", "category": "Activated"}``: Order ``Status`` values
        need a category (Draft or Activated), from which the org derives an Order's ``StatusCode``.
        """
        pairs: list[tuple[str, str | None]] = []
        for item in values:
            if isinstance(item, dict):
                if set(item) - {"value", "category"} or "value" not in item:
                    raise ValueError('a picklist value is "text" or {"value": "text", "category"?: "Activated"}')
                pairs.append((item["value"], item.get("category")))
            else:
                pairs.append((item, None))
        with self.lock:
            found = self.schema[sobject].field(field)
            if found is None:
                raise KeyError(f"{sobject} has no field {field}")
            return found.picklist_values_add(pairs)

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every request received since the last reset (control API excluded), oldest first."""
        with self.lock:
            return [dict(call) for call in self._calls]

    def api_calls_counted(self) -> int:
        """How many requests counted against the daily API limit since the last reset."""
        with self.lock:
            return sum(1 for call in self._calls if call["counted"])

    def platform_events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Published platform events (``{"id", "name", "fields"}``), optionally of one event type."""
        with self.lock:
            return [record_copy(event) for event in self.org.events if name is None or event["name"] == name]

    def fault_add(self, kind: str, **spec: Any) -> dict[str, Any]:
        """Inject a fault (see ``sandbox.salesforce.faults``); answers its description with its id."""
        return self.faults.add(kind, **spec).describe()

    def faults_clear(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    def sessions_expire(self) -> None:
        """Invalidate every access token now (the next data call answers 401 INVALID_SESSION_ID)."""
        with self.lock:
            self.sessions.expire_all()

    def token_issue(self) -> str:
        """A valid access token, as a successful login would give."""
        with self.lock:
            return self.sessions.issue(org_id=self.org_id, lifetime=self.token_lifetime)

    def limits(self) -> dict[str, Any]:
        """The ``/limits`` answer."""
        with self.lock:
            events = len(self.org.events)
            query_jobs = sum(1 for job in self.jobs.values() if job.kind == "query")
            batches = sum(len(job.uploads) for job in self.jobs.values())

            def pair(maximum: int, used: int = 0) -> dict[str, int]:
                return {"Max": maximum, "Remaining": max(maximum - used, 0)}

            return {
                "ConcurrentAsyncGetReportInstances": pair(200),
                "DailyApiRequests": pair(self.api_max, self.api_used),
                "DailyAsyncApexExecutions": pair(250000),
                "DailyBulkApiBatches": pair(15000, batches),
                "DailyBulkV2QueryFileStorageMB": pair(976562),
                "DailyBulkV2QueryJobs": pair(10000, query_jobs),
                "DailyDeliveredPlatformEvents": pair(50000),
                "DataStorageMB": pair(1024),
                "FileStorageMB": pair(1024),
                "HourlyPublishedPlatformEvents": pair(250000, events),
                "HourlyPublishedStandardVolumePlatformEvents": pair(100000, events),
                "SingleEmail": pair(5000),
            }

    def state(self) -> dict[str, Any]:
        """Everything, as the control API's ``GET state`` answers it."""
        with self.lock:
            return {
                "records": {
                    name: [record_copy(record) for record in records.values()]
                    for name, records in sorted(self.org.live.items())
                },
                "deleted": {
                    name: [record_copy(record) for record in records.values()]
                    for name, records in sorted(self.org.deleted.items())
                    if records
                },
                "events": self.platform_events(),
                "jobs": [job.info() for job in self.jobs.values()],
                "api": {"used": self.api_used, "max": self.api_max},
                "sessions": len(self.sessions),
                "faults": self.faults.list(),
            }

    # ------------------------------------------------------------------ internals used by the data API

    def cursor_store(self, cursor_id: str, value: Any) -> None:
        self.cursors[cursor_id] = value
        while len(self.cursors) > CURSORS_KEPT:
            self.cursors.popitem(last=False)

    def job_schedule(self, job: bulk.Job) -> None:
        """Process ``job`` after ``bulk_delay`` seconds on a timer thread (asynchronous like Salesforce)."""
        generation = self._generation

        def run() -> None:
            with self.lock:
                if generation != self._generation or self.jobs.get(job.id) is not job:
                    return  # reset since: the job belongs to a discarded org
                if job.kind == "ingest":
                    bulk.ingest_run(job, self.org)
                else:
                    bulk.query_run(job, self.org)

        timer = threading.Timer(self.bulk_delay, run)
        timer.daemon = True
        timer.start()

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._respond(request, environ)
        return response(environ, start_response)

    def _respond(self, request: Request, environ: dict[str, Any]) -> Response:
        path = request.path
        if path.startswith("/__sandbox__/") or path == "/__sandbox__":
            return self._control(request)
        fired = self.faults.draw(request.method, path)
        delay = sum(fault.delay() for fault in fired if fault.kind == "latency")
        if delay:
            time.sleep(delay)  # outside the lock: a slow network does not serialize clients
        if any(fault.kind == "session_expiry" for fault in fired):
            self.sessions_expire()
        terminal = next((fault for fault in fired if fault.kind in TERMINAL), None)
        if terminal is not None:
            if terminal.kind == "drop":
                self._log(request, None, counted=False, fault="drop")
                sock = environ.get("werkzeug.socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                raise _Dropped("sandbox fault: connection dropped")
            response = self._fault_response(terminal, request)
            self._log(request, response.status_code, counted=False, fault=terminal.kind)
            return response
        response, counted = self._serve(request)
        self._log(request, response.status_code, counted=counted, fault=None)
        return response

    def _log(self, request: Request, status: int | None, *, counted: bool, fault: str | None) -> None:
        with self.lock:
            self._calls.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": request.query_string.decode("latin-1"),
                    "status": status,
                    "counted": counted,
                    "fault": fault,
                    "time": datetime_format(now_utc()),
                }
            )

    def _limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_max}"}

    def _fault_response(self, fault: Fault, request: Request) -> Response:
        headers = self._limit_header() if request.path.startswith("/services/data/") else {}
        if fault.kind == "request_limit":
            return _json(403, LIMIT_EXCEEDED, headers)
        if fault.kind == "unable_to_lock_row":
            record_id = _path_record_id(request.path, self.schema)
            body = [
                {
                    "message": f"unable to obtain exclusive access to this record or 1 records: {record_id}",
                    "errorCode": "UNABLE_TO_LOCK_ROW",
                    "fields": [],
                }
            ]
            return _json(400, body, headers)
        if fault.kind == "duplicate_value":
            with self.lock:
                field_name, record_id = _path_duplicate(request.path, self.org)
            body = [
                {
                    "message": f"duplicate value found: {field_name} duplicates value on record with id: {record_id}",
                    "errorCode": "DUPLICATE_VALUE",
                    "fields": [],
                }
            ]
            return _json(400, body, headers)
        if fault.status == 503:
            body = [{"errorCode": "SERVER_UNAVAILABLE", "message": "Server temporarily unavailable. Please retry."}]
        else:
            stamp = int(time.time() * 1000)
            body = [
                {
                    "errorCode": "UNKNOWN_EXCEPTION",
                    "message": "An unexpected error occurred. Please include this ErrorId if you contact support: "
                    f"{stamp % 10**10}-{stamp % 10**5} ({-(stamp % 10**9)})",
                }
            ]
        return _json(fault.status, body, headers)

    def _serve(self, request: Request) -> tuple[Response, bool]:
        path = request.path
        method = request.method
        base_url = request.host_url.rstrip("/")
        if path.rstrip("/") == "/services/oauth2/token":
            if method != "POST":
                return _json(400, {"error": "invalid_request", "error_description": "must use HTTP POST"}), False
            return self._token(request, base_url), False
        if path.rstrip("/") == "/services/oauth2/revoke" and method == "POST":
            token = request.form.get("token", "")
            with self.lock:
                revoked = self.sessions.revoke(token)
            if revoked:
                return Response(b"", status=200), False
            return _json(
                400, {"error": "unsupported_token_type", "error_description": "this token type is not supported"}
            ), False
        if path.rstrip("/") == "/services/data":
            return _json(200, _versions()), False
        if path.rstrip("/") == "/services/oauth2/userinfo" or path.startswith("/id/"):
            return self._userinfo(request, base_url), False
        soap = _SOAP_PATH.match(path)
        if soap is not None:
            return self._soap(request, soap[1], soap[2])
        raw_path = urlsplit(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or path).path
        segments = [unquote(segment) for segment in raw_path.split("/") if segment != ""]
        if segments[:2] != ["services", "data"] or len(segments) < 3:
            return _json(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]), False
        match = _VERSION.match(segments[2])
        version = segments[2][1:]
        if not match or not _version_key(VERSION_MIN) <= _version_key(version) <= _version_key(VERSION_MAX):
            return _json(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]), False
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        raw = request.get_data()  # read before taking the lock: a slow upload must not block others
        if not authorization:
            return _json(401, [{"message": "INVALID_HEADER_TYPE", "errorCode": "INVALID_AUTH_HEADER"}]), False
        with self.lock:
            if scheme.lower() not in {"bearer", "oauth"} or not self.sessions.valid(token.strip()):
                return _json(401, SESSION_INVALID), False
            if self.api_used >= self.api_max:
                return _json(403, LIMIT_EXCEEDED, self._limit_header()), False
            self.api_used += 1
            call = Call(
                "GET" if method == "HEAD" else method,
                version,
                segments[3:],
                dict(parse_qsl(request.query_string.decode("utf-8", "replace"), keep_blank_values=True)),
                {key.lower(): value for key, value in request.headers.items()},
                raw,
            )
            try:
                result = self.data_api.handle(call)
            finally:
                self.org.commit()
            return _result_response(result, self._limit_header()), True

    def _token(self, request: Request, base_url: str) -> Response:
        form = {key: value for key, value in request.form.items()}
        with self.lock:
            outcome = token_grant(
                form=form,
                authorization=request.headers.get("Authorization"),
                credentials=self.credentials,
                base_url=base_url,
                own_audience=not self.rules.get("jwt_audience", True),
            )
            if isinstance(outcome, tuple):
                return _json(*outcome)
            token = self.sessions.issue(org_id=self.org_id, lifetime=self.token_lifetime)
            return _json(
                200,
                token_answer(
                    token=token,
                    base_url=base_url,
                    org_id=self.org_id,
                    user_id=self.org.user_id,
                    client_secret=self.credentials.client_secret,
                ),
            )

    def _userinfo(self, request: Request, base_url: str) -> Response:
        """OpenID Connect userinfo (``/services/oauth2/userinfo``) and the identity URL (``/id/{org}/{user}``):
        how a client learns its own user id (``user_id``) from its access token."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() in {"bearer", "oauth"} else request.args.get("oauth_token", "")
        with self.lock:
            if not self.sessions.valid(token):
                return Response(b"Bad_OAuth_Token", status=403, content_type="text/plain; charset=utf-8")
            user = self.org.live["User"][self.org.user_id]
            identity = f"{base_url}/id/{self.org_id}/{self.org.user_id}"
            if request.path.startswith("/id/") and request.path.rstrip("/") != identity.removeprefix(base_url):
                return Response(b"Bad_Id", status=403, content_type="text/plain; charset=utf-8")
            return _json(
                200,
                _identity(
                    user,
                    identity=identity,
                    org_id=self.org_id,
                    base_url=base_url,
                    openid=not request.path.startswith("/id/"),
                ),
            )

    def _soap(self, request: Request, kind: str, version: str) -> tuple[Response, bool]:
        """The SOAP API: ``convertLead`` only. Counts as one API request, like any other API call."""
        raw = request.get_data()  # read before taking the lock: a slow upload must not block others
        if not _version_key(VERSION_MIN) <= _version_key(version) <= _version_key(VERSION_MAX):
            return _soap_fault(
                kind, SoapFault("sf:UNSUPPORTED_API_VERSION", "Invalid Api version specified on URL")
            ), False
        if request.method != "POST":
            return _soap_fault(kind, SoapFault("soapenv:Client", "SOAP requests must use HTTP POST", None)), False
        if "SOAPAction" not in request.headers:  # SOAP 1.1 over HTTP: the header is required (any value)
            return _soap_fault(kind, SoapFault("soapenv:Client", "No SOAPAction header!", None)), False
        try:
            parsed = soap_parse(raw)
        except SoapFault as error:
            return _soap_fault(kind, error), False
        with self.lock:
            if not self.sessions.valid(parsed.session_id):
                fault = SoapFault(
                    "sf:INVALID_SESSION_ID",
                    "Invalid Session ID found in SessionHeader: Illegal Session. Session not found, missing session "
                    "hash",
                )
                return _soap_fault(kind, fault), False
            if self.api_used >= self.api_max:
                return _soap_fault(kind, SoapFault("sf:REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")), False
            self.api_used += 1
            try:
                if parsed.operation != "convertLead" or parsed.namespace != NAMESPACES[kind]:
                    raise SoapFault(
                        "soapenv:Client",
                        f"No operation available for request {{{parsed.namespace}}}{parsed.operation}, please check "
                        "the WSDL for the service.",
                        None,
                    )
                results = self._lead_converts(lead_converts_parse(parsed.body))
            except SoapFault as fault:
                return _soap_fault(kind, fault), True
            header = limit_info_header(self.api_used, self.api_max)
            body = convert_lead_response(kind, results, header)
            return Response(body.encode("utf-8"), status=200, content_type=XML_TYPE), True

    def _lead_converts(self, converts: list[LeadConvert]) -> list[dict[str, Any]]:
        """Each conversion on its own: a failed one is rolled back and answers its errors."""
        today = now_utc().date().isoformat()
        results = []
        try:
            for convert in converts:
                mark = self.org.mark()
                try:
                    # convertLead is not a create/update/upsert call: duplicate rules don't alert on it.
                    with duplicates_bypassed():
                        ids = lead_convert(self.org, convert, today=today)
                except ApiError as error:
                    self.org.rollback(mark)
                    errors = (
                        error.save_errors()
                        if isinstance(error, DmlError)
                        else DmlError(error.code, error.errors[0]["message"]).save_errors()
                    )
                    results.append({"leadId": None, "success": False, "errors": errors})
                else:
                    results.append({**ids, "success": True, "errors": []})
        finally:
            self.org.commit()
        return results

    # ------------------------------------------------------------------ control API

    def _control(self, request: Request) -> Response:
        action = request.path.removeprefix("/__sandbox__").strip("/")
        method = request.method
        try:
            body: Any = None
            if method in {"POST", "PUT", "PATCH"} and request.get_data().strip():
                body = json.loads(request.get_data())
            return self._control_route(method, action, body, request)
        except (ValueError, TypeError, KeyError) as error:
            return _json(400, {"error": str(error)})
        except ApiError as error:
            return _json(error.status, error.body())

    def _control_route(self, method: str, action: str, body: Any, request: Request) -> Response:
        if action == "state" and method == "GET":
            return _json(200, self.state())
        if action == "reset" and method == "POST":
            self.reset()
            return _json(200, {"reset": True})
        if action == "faults":
            if method == "GET":
                return _json(200, self.faults.list())
            if method == "DELETE":
                self.faults_clear()
                return _json(200, {"faults": []})
            if method == "POST":
                specs = body if isinstance(body, list) else [body]
                if not specs or not all(isinstance(spec, dict) for spec in specs):
                    raise ValueError("POST faults takes a fault object or a list of them")
                return _json(201, [self.faults.add_spec(spec).describe() for spec in specs])
        if action == "calls":
            if method == "GET":
                return _json(200, self.calls)
            if method == "DELETE":
                with self.lock:
                    self._calls.clear()
                return _json(200, [])
        if action == "rules" and method in {"GET", "POST"}:
            if method == "POST":
                if not isinstance(body, dict):
                    raise ValueError('POST rules takes {"rule_name": true|false, ...}')
                self.rules_set(**body)
            return _json(200, dict(self.rules))
        if action == "permissions" and method in {"GET", "POST"}:
            if method == "POST":
                if not isinstance(body, dict):
                    raise ValueError('POST permissions takes {"EditActivatedOrders": true|false, ...}')
                return _json(200, self.user_permissions_set(**body))
            return _json(200, self.user_permissions())
        if action == "events" and method == "GET":
            return _json(200, self.platform_events(request.args.get("name")))
        if action == "api-usage":
            if method == "POST":
                if not isinstance(body, dict) or set(body) - {"max", "used"}:
                    raise ValueError('POST api-usage takes {"max": int, "used": int} (either or both)')
                with self.lock:
                    if "max" in body:
                        self.api_max = int(body["max"])
                    if "used" in body:
                        self.api_used = int(body["used"])
            if method in {"GET", "POST"}:
                return _json(200, {"used": self.api_used, "max": self.api_max})
        if action == "sessions/expire" and method == "POST":
            self.sessions_expire()
            return _json(200, {"sessions": 0})
        if action == "settings" and method in {"GET", "POST"}:
            names = {"token_lifetime", "bulk_delay", "page_size", "platform_event_enqueued"}
            if method == "POST":
                if not isinstance(body, dict) or set(body) - names:
                    raise ValueError(f"POST settings takes any of {sorted(names)}")
                with self.lock:
                    for name, value in body.items():
                        setattr(self, name, type(self._defaults[name])(value))
            return _json(200, {name: getattr(self, name) for name in sorted(names)})
        if action.startswith("picklists/") and method == "POST" and action.count("/") == 2:
            _, sobject, field = action.split("/")
            if not isinstance(body, dict) or not isinstance(body.get("values"), list) or set(body) != {"values"}:
                raise ValueError('POST picklists/{sobject}/{field} takes {"values": ["X" | {"value", "category"}]}')
            return _json(200, {"values": self.picklist_values_add(sobject, field, body["values"])})
        if action == "users" and method == "POST":
            spec = body if isinstance(body, dict) else {}
            unknown = set(spec) - {"first_name", "last_name", "username", "email", "permissions"}
            if unknown:
                raise ValueError(f"POST users takes first_name, last_name, username, email, permissions; not {unknown}")
            if "permissions" in spec:
                spec["permissions"] = tuple(spec["permissions"])
            user_id = self.user_create(**spec)
            return _json(201, {"id": user_id, "user": self.record("User", user_id)})
        if action.startswith("records/") and method == "PATCH" and action.count("/") == 2:
            _, sobject, record_id = action.split("/")
            if not isinstance(body, dict) or not isinstance(body.get("fields"), dict) or "user_id" not in body:
                raise ValueError(
                    'PATCH records/{sobject}/{id} takes {"fields": {...}, "user_id": "005...", '
                    '"system_modstamp"?: "2025-01-01T00:00:00Z"}'
                )
            if set(body) - {"fields", "user_id", "system_modstamp"}:
                raise ValueError(f"unknown keys {sorted(set(body) - {'fields', 'user_id', 'system_modstamp'})}")
            record = self.record_update_as(
                sobject,
                record_id,
                body["fields"],
                user_id=str(body["user_id"]),
                system_modstamp=body.get("system_modstamp"),
            )
            return _json(200, record)
        if action.startswith("records/") and method == "POST":
            sobject = action.split("/", 1)[1]
            rows = body if isinstance(body, list) else [body]
            return _json(201, {"ids": self.records_create(sobject, rows)})
        return _json(404, {"error": f"no control endpoint {method} /__sandbox__/{action}"})


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type=JSON_TYPE)


def _identity(user: dict[str, Any], *, identity: str, org_id: str, base_url: str, openid: bool) -> dict[str, Any]:
    """The user as the UserInfo endpoint (OpenID Connect claims) or the identity URL describes it."""
    versioned = f"{base_url}/services/data/v{{version}}"
    urls = {
        "rest": versioned + "/",
        "sobjects": versioned + "/sobjects/",
        "query": versioned + "/query/",
        "profile": f"{base_url}/{user['Id']}",
    }
    common = {"user_id": user["Id"], "organization_id": org_id, "email": user["Email"], "email_verified": True}
    if openid:
        return {
            "sub": identity,
            **common,
            "preferred_username": user["Username"],
            "nickname": user["Alias"],
            "name": user["Name"],
            "given_name": user["FirstName"],
            "family_name": user["LastName"],
            "zoneinfo": user["TimeZoneSidKey"],
            "active": bool(user["IsActive"]),
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "updated_at": user["LastModifiedDate"],
            "urls": urls,
        }
    return {
        "id": identity,
        "asserted_user": True,
        **common,
        "username": user["Username"],
        "nick_name": user["Alias"],
        "display_name": user["Name"],
        "first_name": user["FirstName"],
        "last_name": user["LastName"],
        "timezone": user["TimeZoneSidKey"],
        "active": bool(user["IsActive"]),
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "last_modified_date": user["LastModifiedDate"],
        "is_app_installed": True,
        "urls": urls,
    }


def _soap_fault(kind: str, fault: SoapFault) -> Response:
    return Response(fault_body(kind, fault).encode("utf-8"), status=500, content_type=XML_TYPE)


def _result_response(result: Result, extra: dict[str, str]) -> Response:
    headers = {**result.headers, **extra}
    if result.text is not None:
        return Response(result.text.encode("utf-8"), status=result.status, headers=headers, content_type=CSV_TYPE)
    if result.body is None:
        return Response(b"", status=result.status, headers=headers)
    return Response(json.dumps(result.body), status=result.status, headers=headers, content_type=JSON_TYPE)


def _versions() -> list[dict[str, str]]:
    out = []
    major = _version_key(VERSION_MIN)[0]
    while major <= _version_key(VERSION_MAX)[0]:
        out.append({"label": f"API {major}.0", "url": f"/services/data/v{major}.0", "version": f"{major}.0"})
        major += 1
    return out


def _path_record_id(path: str, schema: Schema) -> str:
    """The record a lock error names: an id in the path, else a new id of the path's object."""
    segments = [segment for segment in path.split("/") if segment]
    for segment in reversed(segments):
        normalized = id_normalize(segment)
        if normalized and schema.by_prefix(normalized[:3]) is not None:
            return normalized
    if "sobjects" in segments:
        index = segments.index("sobjects")
        if index + 1 < len(segments):
            obj = schema.get(segments[index + 1])
            if obj is not None and not obj.is_event:
                return id_make(obj.key_prefix)
    return id_make("001")


def _path_duplicate(path: str, org: Org) -> tuple[str, str]:
    """(field, record id) for a DUPLICATE_VALUE fault: the upsert URL's field and the record holding the value."""
    segments = [unquote(segment) for segment in path.split("/") if segment]
    if "sobjects" in segments:
        index = segments.index("sobjects")
        obj = org.schema.get(segments[index + 1]) if index + 1 < len(segments) else None
        if obj is not None and not obj.is_event:
            field = obj.field(segments[index + 2]) if index + 3 < len(segments) else None
            if field is not None:
                found = org.match(obj.name, field, "/".join(segments[index + 3 :]))
                return field.name, found[0]["Id"] if found else id_make(obj.key_prefix)
            unique = next((item for item in obj.fields.values() if item.unique), None)
            return (unique.name if unique else "Id"), id_make(obj.key_prefix)
    return "Id", id_make("001")
