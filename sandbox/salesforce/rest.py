"""The data API under ``/services/data/vXX.X/``: sObjects, query, composite, collections, Bulk 2.0, limits.

Handlers run under the sandbox lock with an already authenticated and counted request. The
same dispatcher serves composite and graph subrequests, so a subrequest behaves exactly like
the equivalent single request.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox.salesforce import bulk
from sandbox.salesforce.collation import execution_order
from sandbox.salesforce.duplicates import header_applied, header_parse
from sandbox.salesforce.errors import HALTED_MESSAGE, ApiError, DmlError, not_found
from sandbox.salesforce.ids import id_make, id_normalize
from sandbox.salesforce.schema import SObjectType
from sandbox.salesforce.soql import Runner, query_parse

if TYPE_CHECKING:
    from sandbox.salesforce.app import SalesforceSandbox
    from sandbox.salesforce.store import Org

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"
COMPOSITE_MAX = 25
COMPOSITE_HEAVY_MAX = 5  # query and collections subrequests in one composite request
# Composite graph limits (REST API guide, "Composite Graph Limits"): per request 75 graphs, 500 nodes,
# 15 different nodes (API version + HTTP method + object); a graph at most 15 deep; after 14 failed
# graphs the remaining ones are halted.
GRAPHS_MAX = 75
GRAPH_NODES_MAX = 500
GRAPH_DEPTH_MAX = 15
GRAPH_NODE_KINDS_MAX = 15
GRAPH_FAILURES_MAX = 14
GRAPH_HALTED_MESSAGE = (
    f"Processing halted: more than {GRAPH_FAILURES_MAX} graphs of this request failed, so this graph was not run."
)
COLLECTION_MAX = 200
REFERENCE_ID = re.compile(r"^[A-Za-z0-9_]+$")
REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
# An external id value whose last segment looks like a file extension ("example@email.inc"): Salesforce
# answers 404 (REST API guide, "Upsert Records Using sObject Rows by External ID").
FILE_EXTENSION = re.compile(r"\.[A-Za-z]+$")
_UNSET = object()


@dataclass
class Result:
    """One answer of the data API (``body`` JSON, or ``text`` for CSV)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    content_type: str = JSON_TYPE


@dataclass
class Call:
    """One request to the data API, from HTTP or from a composite subrequest."""

    method: str
    version: str
    segments: list[str]
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""
    parsed: Any = _UNSET

    def json(self) -> Any:
        if self.parsed is not _UNSET:
            return self.parsed
        if not self.raw.strip():
            raise ApiError(400, "JSON_PARSER_ERROR", "No content to map due to end-of-input")
        try:
            self.parsed = json.loads(self.raw)
        except (ValueError, UnicodeDecodeError) as error:
            line, column = getattr(error, "lineno", 1), getattr(error, "colno", 1)
            raise ApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Unexpected character: expected a valid value at [line:{line}, column:{column}]",
            ) from None
        return self.parsed


def _method_not_allowed(method: str, allowed: str) -> ApiError:
    return ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}")


def url_split(url: str) -> tuple[list[str], dict[str, str]]:
    """A URL (or path) as unquoted path segments plus its query parameters."""
    parts = urlsplit(url)
    segments = [unquote(segment) for segment in parts.path.split("/") if segment != ""]
    return segments, dict(parse_qsl(parts.query, keep_blank_values=True))


class DataApi:
    """Dispatches data API calls for one sandbox."""

    def __init__(self, sandbox: SalesforceSandbox) -> None:
        self.sandbox = sandbox

    @property
    def org(self) -> Org:
        return self.sandbox.org

    # ------------------------------------------------------------------ dispatch

    def handle(self, call: Call) -> Result:
        """Answer one call; ApiError becomes Salesforce's error answer."""
        # Sforce-Duplicate-Rule-Header holds for this call only (a subrequest has its own httpHeaders).
        header = header_parse(call.headers.get("sforce-duplicate-rule-header"), call.version)
        try:
            with header_applied(header):
                return self._route(call)
        except ApiError as error:
            return self.error_result(error, call.version)

    def error_result(self, error: ApiError, version: str) -> Result:
        matches = getattr(error, "matches", None)
        if error.status == 300 and matches is not None:
            body = [f"/services/data/v{version}/sobjects/{self.org.types[item]}/{item}" for item in matches]
            return Result(300, body)
        return Result(error.status, error.body())

    def _route(self, call: Call) -> Result:
        segments = call.segments
        if not segments:
            if call.method != "GET":
                raise _method_not_allowed(call.method, "GET,HEAD")
            base = f"/services/data/v{call.version}"
            return Result(
                200,
                {name: f"{base}/{name}" for name in ("sobjects", "query", "queryAll", "composite", "limits", "jobs")},
            )
        head, rest = segments[0], segments[1:]
        if head == "sobjects":
            return self._sobjects(call, rest)
        if head in {"query", "queryAll"}:
            return self._query(call, rest, include_deleted=head == "queryAll")
        if head == "composite":
            return self._composite_root(call, rest)
        if head == "jobs" and rest and rest[0] in {"ingest", "query"}:
            return self._jobs(call, rest[0], rest[1:])
        if head == "limits" and not rest:
            if call.method != "GET":
                raise _method_not_allowed(call.method, "GET,HEAD")
            return Result(200, self.sandbox.limits())
        raise not_found()

    def _atomic(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        mark = self.org.mark()
        try:
            return function(*args, **kwargs)
        except BaseException:
            self.org.rollback(mark)
            raise

    # ------------------------------------------------------------------ sobjects

    def _sobjects(self, call: Call, rest: list[str]) -> Result:
        org = self.org
        if not rest:
            if call.method != "GET":
                raise _method_not_allowed(call.method, "GET,HEAD")
            return Result(
                200,
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [self._object_info(obj, call.version) for obj in org.schema.objects.values()],
                },
            )
        obj = org.sobject(rest[0])
        if len(rest) == 1:
            if call.method == "GET":
                return Result(200, {"objectDescribe": self._object_info(obj, call.version), "recentItems": []})
            if call.method == "POST":
                return self._create(call, obj)
            raise _method_not_allowed(call.method, "GET,HEAD,POST")
        if len(rest) == 2 and rest[1] == "describe":
            if call.method != "GET":
                raise _method_not_allowed(call.method, "GET,HEAD")
            return Result(200, self._describe(obj, call.version))
        if obj.is_event:
            raise not_found()
        if len(rest) == 2:
            return self._record(call, obj, rest[1])
        return self._by_external_id(call, obj, rest[1], "/".join(rest[2:]))

    def _create(self, call: Call, obj: SObjectType) -> Result:
        record_id = self._atomic(self.org.create, obj.name, call.json())
        if obj.is_event:
            return Result(201, self.event_result(record_id))
        return Result(
            201,
            {"id": record_id, "success": True, "errors": []},
            {"Location": f"/services/data/v{call.version}/sobjects/{obj.name}/{record_id}"},
        )

    def event_result(self, event_id: str) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        if self.sandbox.platform_event_enqueued:
            errors.append({"statusCode": "OPERATION_ENQUEUED", "message": str(uuid.uuid4()), "fields": []})
        return {"id": event_id, "success": True, "errors": errors}

    def _record(self, call: Call, obj: SObjectType, raw_id: str) -> Result:
        org = self.org
        normalized = id_normalize(raw_id)
        if normalized is None:
            raise ApiError(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {raw_id}"
            )
        if call.method == "GET":
            return Result(200, self._record_out(obj, self._live(obj, normalized), call.version, call.params))
        if call.method == "PATCH":
            self._atomic(org.update, obj.name, normalized, call.json())
            return Result(204)
        if call.method == "DELETE":
            self._atomic(org.delete, obj.name, normalized)
            return Result(204)
        raise _method_not_allowed(call.method, "GET,PATCH,HEAD,DELETE")

    def _live(self, obj: SObjectType, normalized: str) -> dict[str, Any]:
        org = self.org
        if org.types.get(normalized) != obj.name:
            raise not_found()
        if org.is_deleted(normalized):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return org.live[obj.name][normalized]

    def _record_out(
        self, obj: SObjectType, record: dict[str, Any], version: str, params: dict[str, str]
    ) -> dict[str, Any]:
        names = list(obj.fields)
        wanted = params.get("fields")
        if wanted:
            names = []
            for name in (part.strip() for part in wanted.split(",") if part.strip()):
                found = obj.field(name)
                if found is None:
                    raise ApiError(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{name}' on entity '{obj.name}'. If you are attempting to use a custom "
                        "field, be sure to append the '__c' after the custom field name. Please reference your "
                        "WSDL or the describe call for the appropriate names.",
                    )
                names.append(found.name)
        out: dict[str, Any] = {
            "attributes": {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{record['Id']}"}
        }
        for name in names:
            out[name] = record.get(name)
        return out

    def _by_external_id(self, call: Call, obj: SObjectType, field_name: str, value: str) -> Result:
        org = self.org
        if self.sandbox.rules.get("external_id_extension", True) and FILE_EXTENSION.search(value):
            raise not_found()
        ext = obj.field(field_name)
        if call.method == "PATCH":
            update_only = call.params.get("updateOnly", "").lower() == "true"
            record_id, created = self._atomic(
                org.upsert, obj.name, field_name, value, call.json(), update_only=update_only
            )
            body = {"id": record_id, "success": True, "errors": [], "created": created}
            if created:
                return Result(
                    201, body, {"Location": f"/services/data/v{call.version}/sobjects/{obj.name}/{record_id}"}
                )
            return Result(200, body)
        if call.method not in {"GET", "DELETE"}:
            raise _method_not_allowed(call.method, "GET,PATCH,HEAD,DELETE")
        if ext is None or not (ext.externalId or ext.type == "id"):
            raise ApiError(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
            )
        found = org.match(obj.name, ext, value)
        if not found:
            raise not_found()
        if len(found) > 1:
            error = ApiError(300, "MULTIPLE_CHOICES", "more than one record matches")
            error.matches = [record["Id"] for record in found]  # type: ignore[attr-defined]
            raise error
        if call.method == "GET":
            return Result(200, self._record_out(obj, found[0], call.version, call.params))
        self._atomic(org.delete, obj.name, found[0]["Id"])
        return Result(204)

    def _object_info(self, obj: SObjectType, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{obj.name}"
        return {
            "activateable": False,
            "createable": obj.createable,
            "custom": obj.custom,
            "customSetting": False,
            "deletable": obj.deletable,
            "deprecatedAndHidden": False,
            "feedEnabled": False,
            "hasSubtypes": False,
            "isSubtype": False,
            "keyPrefix": obj.key_prefix,
            "label": obj.label,
            "labelPlural": obj.label_plural,
            "layoutable": not obj.is_event,
            "mergeable": obj.name in {"Account", "Contact", "Lead"},
            "mruEnabled": not obj.is_event,
            "name": obj.name,
            "queryable": obj.queryable,
            "replicateable": not obj.is_event,
            "retrieveable": not obj.is_event,
            "searchable": not obj.is_event,
            "triggerable": True,
            "undeletable": obj.deletable,
            "updateable": obj.updateable,
            "urls": {
                "rowTemplate": f"{base}/{{ID}}",
                "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
                "describe": f"{base}/describe",
                "sobject": base,
            },
        }

    def _describe(self, obj: SObjectType, version: str) -> dict[str, Any]:
        info = self._object_info(obj, version)
        info.update(
            actionOverrides=[],
            childRelationships=[
                {
                    "cascadeDelete": lookup.cascadeDelete,
                    "childSObject": child.name,
                    "deprecatedAndHidden": False,
                    "field": lookup.name,
                    "junctionIdListNames": [],
                    "junctionReferenceTo": [],
                    "relationshipName": name,
                    "restrictedDelete": lookup.restrictDelete,
                }
                for name, child, lookup in self.org.schema.children(obj.name)
            ],
            compactLayoutable=not obj.is_event,
            fields=[item.describe() for item in obj.fields.values()],
            listviewable=None,
            lookupLayoutable=None,
            namedLayoutInfos=[],
            networkScopeFieldName=None,
            recordTypeInfos=[],
            searchLayoutable=not obj.is_event,
            sobjectDescribeOption="FULL",
            supportedScopes=[],
        )
        return dict(sorted(info.items()))

    # ------------------------------------------------------------------ query

    def _query(self, call: Call, rest: list[str], *, include_deleted: bool) -> Result:
        if call.method != "GET":
            raise _method_not_allowed(call.method, "GET,HEAD")
        sandbox = self.sandbox
        if rest:
            locator = rest[0]
            cursor_id, _, offset_text = locator.rpartition("-")
            cursor = sandbox.cursors.get(cursor_id)
            if cursor is None or not offset_text.isdigit():
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            total, records, batch = cursor
            return Result(200, self._page(cursor_id, total, records, int(offset_text), batch, call.version))
        text = call.params.get("q")
        if text is None:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        query = query_parse(text, self.org.schema)
        total, records = Runner(self.org, version=call.version, include_deleted=include_deleted).records(query)
        batch = sandbox.page_size
        options = call.headers.get("sforce-query-options", "")
        match = re.search(r"batchSize=(\d+)", options)
        if match:
            batch = max(200, min(int(match[1]), 2000))
        if len(records) <= batch:
            return Result(200, {"totalSize": total, "done": True, "records": records})
        cursor_id = id_make("01g")[:15]
        sandbox.cursor_store(cursor_id, (total, records, batch))
        return Result(200, self._page(cursor_id, total, records, 0, batch, call.version))

    @staticmethod
    def _page(
        cursor_id: str, total: int, records: list[dict[str, Any]], offset: int, batch: int, version: str
    ) -> dict[str, Any]:
        page = records[offset : offset + batch]
        end = offset + len(page)
        body: dict[str, Any] = {"totalSize": total, "done": end >= len(records)}
        if end < len(records):
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor_id}-{end}"
        body["records"] = page
        return body

    # ------------------------------------------------------------------ composite

    def _composite_root(self, call: Call, rest: list[str]) -> Result:
        if not rest:
            if call.method != "POST":
                raise _method_not_allowed(call.method, "POST")
            return self._composite(call)
        if rest[0] == "graph" and len(rest) == 1:
            if call.method != "POST":
                raise _method_not_allowed(call.method, "POST")
            return self._graph(call)
        if rest[0] == "sobjects":
            return self._collections(call, rest[1:])
        raise not_found()

    def _subrequests(self, body: Any, *, limit: int, label: str) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("compositeRequest"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", f"{label}: compositeRequest (a list) is required")
        requests: list[dict[str, Any]] = body["compositeRequest"]
        if not requests:
            raise ApiError(400, "INVALID_INPUT", f"{label}: compositeRequest is empty")
        if len(requests) > limit:
            raise ApiError(400, "LIMIT_EXCEEDED", f"{label}: {len(requests)} subrequests exceed the maximum of {limit}")
        seen: set[str] = set()
        for item in requests:
            if not isinstance(item, dict) or not item.get("method") or not item.get("url"):
                raise ApiError(400, "JSON_PARSER_ERROR", f"{label}: every subrequest needs method, url, referenceId")
            reference = item.get("referenceId")
            if not isinstance(reference, str) or not REFERENCE_ID.match(reference):
                raise ApiError(
                    400,
                    "INVALID_INPUT",
                    f"Invalid referenceId: {reference!r}. A referenceId may contain only letters, numbers and "
                    "underscores ('_').",
                )
            if reference in seen:
                raise ApiError(400, "INVALID_INPUT", f"Duplicate referenceId provided in the request: {reference}")
            seen.add(reference)
        return requests

    def _subcall(
        self, item: dict[str, Any], version: str, results: dict[str, Any]
    ) -> tuple[Call | None, Result | None]:
        """Build a subrequest's call with its references resolved, or the error answer for it."""
        try:
            url = _substitute_text(str(item["url"]), results)
            body = _substitute(item.get("body"), results) if "body" in item else None
        except _UnresolvedReference as missing:
            message = (
                f"Invalid reference specified. No value for {missing.expression} found in {missing.reference_id}. "
                f"Provided referenceId ({missing.reference_id}) must be the referenceId of a previous, successful "
                "subrequest."
            )
            return None, Result(400, [{"errorCode": "PROCESSING_HALTED", "message": message}])
        segments, params = url_split(url)
        prefix = ["services", "data", f"v{version}"]
        if segments[:3] != prefix:
            message = f"The subrequest URL must start with /services/data/v{version}/: {item['url']}"
            return None, Result(400, [{"errorCode": "INVALID_INPUT", "message": message}])
        headers = {key.lower(): str(value) for key, value in (item.get("httpHeaders") or {}).items()}
        call = Call(str(item["method"]).upper(), version, segments[3:], params, headers)
        call.parsed = body if body is not None else _UNSET
        return call, None

    def _run_composite(
        self, requests: list[dict[str, Any]], version: str, *, all_or_none: bool, allowed: Any, collate: bool = False
    ) -> tuple[list[dict[str, Any]], bool]:
        """Run subrequests (in the order sent, or collated: see ``collation``); answers (compositeResponse
        entries in the order sent, all succeeded)."""
        org = self.org
        mark = org.mark()
        results: dict[str, Any] = {}
        answered: dict[int, dict[str, Any]] = {}
        position = {item["referenceId"]: index for index, item in enumerate(requests)}
        failed_at = None
        for index in execution_order(requests, collate=collate):
            item = requests[index]
            # A reference names an earlier subrequest, whatever ran first.
            earlier = {name: body for name, body in results.items() if position[name] < index}
            call, early = self._subcall(item, version, earlier)
            if call is not None:
                refusal = allowed(call)
                early = Result(400, [{"errorCode": "INVALID_INPUT", "message": refusal}]) if refusal else None
            answer = self._atomic(self.handle, call) if early is None and call is not None else early
            assert answer is not None
            answered[index] = {
                "body": answer.body,
                "httpHeaders": answer.headers,
                "httpStatusCode": answer.status,
                "referenceId": item["referenceId"],
            }
            if answer.status < 300:
                results[item["referenceId"]] = answer.body
            elif failed_at is None:
                failed_at = index
                if all_or_none:
                    break
        if failed_at is not None and all_or_none:
            org.rollback(mark)
            halted = [{"errorCode": "PROCESSING_HALTED", "message": HALTED_MESSAGE}]
            for index, item in enumerate(requests):
                if index != failed_at:
                    answered[index] = {
                        "body": halted,
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": item["referenceId"],
                    }
        return [answered[index] for index in range(len(requests))], failed_at is None

    def _composite(self, call: Call) -> Result:
        body = call.json()
        requests = self._subrequests(body, limit=COMPOSITE_MAX, label="Composite")
        heavy = 0
        for item in requests:
            segments, _ = url_split(str(item.get("url", "")))
            if segments[3:4] in (["query"], ["queryAll"]) or segments[3:5] == ["composite", "sobjects"]:
                heavy += 1
        if heavy > COMPOSITE_HEAVY_MAX:
            raise ApiError(
                400,
                "LIMIT_EXCEEDED",
                f"Composite: at most {COMPOSITE_HEAVY_MAX} query and sObject Collections subrequests are allowed",
            )

        def allowed(sub: Call) -> str | None:
            head = sub.segments[:1]
            if head in (["sobjects"], ["query"], ["queryAll"]) or sub.segments[:2] == ["composite", "sobjects"]:
                return None
            return (
                f"Composite subrequests support sobjects, query, queryAll and composite/sobjects only: {sub.segments}"
            )

        # collateSubrequests defaults to true (API 49.0 and later): only false keeps the order sent.
        collate = self.sandbox.rules.get("collate_subrequests", True) and body.get("collateSubrequests") is not False
        responses, _ = self._run_composite(
            requests, call.version, all_or_none=bool(body.get("allOrNone")), allowed=allowed, collate=collate
        )
        return Result(200, {"compositeResponse": responses})

    def _graph(self, call: Call) -> Result:
        body = call.json()
        graphs = body.get("graphs") if isinstance(body, dict) else None
        if not isinstance(graphs, list) or not graphs:
            raise ApiError(400, "JSON_PARSER_ERROR", "Composite graph: graphs (a non-empty list) is required")
        if len(graphs) > GRAPHS_MAX:
            raise ApiError(
                400,
                "LIMIT_EXCEEDED",
                f"Composite graph: {len(graphs)} graphs exceed the maximum of {GRAPHS_MAX} graphs in one request",
            )
        total = 0
        seen: set[str] = set()
        for graph in graphs:
            if not isinstance(graph, dict) or not graph.get("graphId"):
                raise ApiError(400, "INVALID_INPUT", "Composite graph: every graph needs a graphId")
            if graph["graphId"] in seen:
                raise ApiError(400, "INVALID_INPUT", f"Duplicate graphId provided in the request: {graph['graphId']}")
            seen.add(graph["graphId"])
            nodes = graph.get("compositeRequest")
            total += len(nodes) if isinstance(nodes, list) else 0
        if total > GRAPH_NODES_MAX:
            raise ApiError(
                400,
                "LIMIT_EXCEEDED",
                f"Composite graph: {total} nodes exceed the maximum of {GRAPH_NODES_MAX} nodes in one request",
            )
        # Every graph is checked before any runs: a refused request writes nothing.
        checked = [
            (graph, self._subrequests(graph, limit=GRAPH_NODES_MAX, label=f"Graph {graph['graphId']}"))
            for graph in graphs
        ]
        for graph, requests in checked:
            depth = _graph_depth(requests)
            if depth > GRAPH_DEPTH_MAX:
                raise ApiError(
                    400,
                    "LIMIT_EXCEEDED",
                    f"Composite graph: graph {graph['graphId']} has a depth of {depth}, more than the maximum of "
                    f"{GRAPH_DEPTH_MAX}",
                )
        kinds = {_node_kind(item, self.org) for _, requests in checked for item in requests}
        if len(kinds) > GRAPH_NODE_KINDS_MAX:
            raise ApiError(
                400,
                "LIMIT_EXCEEDED",
                f"Composite graph: {len(kinds)} different nodes (API version, HTTP method and object) exceed the "
                f"maximum of {GRAPH_NODE_KINDS_MAX} in one request",
            )

        def allowed(sub: Call) -> str | None:
            if sub.segments[:1] == ["sobjects"]:
                return None
            return f"Composite graph supports sObject resources only: {'/'.join(sub.segments)}"

        answers = []
        failures = 0
        for graph, requests in checked:
            if failures > GRAPH_FAILURES_MAX:
                # Salesforce stops after too many failed graphs; the rest are not run.
                halted = [{"errorCode": "PROCESSING_HALTED", "message": GRAPH_HALTED_MESSAGE}]
                responses = [
                    {"body": halted, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": item["referenceId"]}
                    for item in requests
                ]
                ok = False
            else:
                responses, ok = self._run_composite(
                    requests,
                    call.version,
                    all_or_none=True,
                    allowed=allowed,
                    collate=self.sandbox.rules.get("collate_subrequests", True),
                )
                failures += 0 if ok else 1
            answers.append(
                {"graphId": graph["graphId"], "graphResponse": {"compositeResponse": responses}, "isSuccessful": ok}
            )
        return Result(200, {"graphs": answers})

    # ------------------------------------------------------------------ collections

    def _collections(self, call: Call, rest: list[str]) -> Result:
        org = self.org
        if not rest:
            if call.method == "POST":
                return self._collection_save(call, mode="create")
            if call.method == "PATCH":
                return self._collection_save(call, mode="update")
            if call.method == "DELETE":
                return self._collection_delete(call)
            raise _method_not_allowed(call.method, "DELETE,PATCH,POST")
        obj = org.sobject(rest[0])
        if len(rest) == 1:
            if call.method == "GET":
                ids = [item for item in call.params.get("ids", "").split(",") if item]
                names = [item for item in call.params.get("fields", "").split(",") if item]
                return self._collection_get(obj, ids, names, call.version)
            if call.method == "POST":
                body = call.json()
                if not isinstance(body, dict):
                    raise ApiError(400, "JSON_PARSER_ERROR", 'Expected {"ids": [...], "fields": [...]}')
                return self._collection_get(
                    obj, list(body.get("ids") or []), list(body.get("fields") or []), call.version
                )
            raise _method_not_allowed(call.method, "GET,POST")
        if len(rest) == 2 and call.method == "PATCH":
            return self._collection_save(call, mode="upsert", obj=obj, external=rest[1])
        raise _method_not_allowed(call.method, "PATCH")

    def _collection_get(self, obj: SObjectType, ids: list[str], names: list[str], version: str) -> Result:
        if not names:
            raise ApiError(400, "MALFORMED_QUERY", "The fields parameter is required")
        if not ids:
            raise ApiError(400, "MALFORMED_QUERY", "The ids parameter is required")
        if len(ids) > 2000:
            raise ApiError(400, "EXCEEDED_ID_LIMIT", "too many ids: the limit is 2000")
        out: list[Any] = []
        for raw_id in ids:
            normalized = id_normalize(raw_id)
            if normalized is None:
                raise ApiError(400, "MALFORMED_ID", f"malformed id {raw_id}")
            record = self.org.live.get(obj.name, {}).get(normalized)
            out.append(None if record is None else self._record_out(obj, record, version, {"fields": ",".join(names)}))
        return Result(200, out)

    def _collection_records(self, body: Any) -> tuple[bool, list[Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "sObject Collections: records (a list) is required")
        records = body["records"]
        if len(records) > COLLECTION_MAX:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_MAX} records into this call",
            )
        return bool(body.get("allOrNone")), records

    def _collection_save(
        self, call: Call, *, mode: str, obj: SObjectType | None = None, external: str | None = None
    ) -> Result:
        org = self.org
        all_or_none, records = self._collection_records(call.json())
        types: list[SObjectType] = []
        for record in records:
            declared = ((record or {}).get("attributes") or {}).get("type") if isinstance(record, dict) else None
            if obj is not None:
                if declared and org.schema.get(declared) is not obj:
                    raise ApiError(
                        400, "INVALID_TYPE", f"sObject type '{declared}' does not match the URL's type {obj.name}"
                    )
                types.append(obj)
                continue
            if not declared:
                raise ApiError(400, "INVALID_TYPE", "Each record in the collection needs attributes.type")
            found = org.schema.get(declared)
            if found is None:
                raise ApiError(400, "INVALID_TYPE", f"sObject type '{declared}' is not supported.")
            types.append(found)
        if mode == "upsert":
            assert obj is not None and external is not None
            ext = obj.field(external)
            if ext is None or not (ext.externalId or ext.type == "id"):
                raise not_found()
        duplicates: set[Any] = set()
        if mode == "upsert":
            seen: set[Any] = set()
            for record in records:
                key = _external_key(record, external or "")
                if key is not None and key in seen:
                    duplicates.add(key)
                seen.add(key)
        mark = org.mark()
        results: list[dict[str, Any]] = []
        any_failed = False
        for record, record_type in zip(records, types, strict=True):
            record_mark = org.mark()
            try:
                if mode == "create":
                    record_id = org.create(record_type.name, record)
                    result = (
                        self.event_result(record_id)
                        if record_type.is_event
                        else {"id": record_id, "success": True, "errors": []}
                    )
                elif mode == "update":
                    result = self._collection_update(record_type, record)
                else:
                    key = _external_key(record, external or "")
                    if key is not None and key in duplicates:
                        raise DmlError(
                            "DUPLICATE_EXTERNAL_ID",
                            f"Duplicate external id specified: {_external_value(record, external or '')}",
                            [],
                        )
                    try:
                        record_id, created = org.upsert(
                            record_type.name, external or "", None, record, value_in_body=True
                        )
                    except ApiError as error:
                        if error.status == 300:
                            raise DmlError(
                                "DUPLICATE_EXTERNAL_ID",
                                "More than one record found for external id field "
                                f"{external}: {getattr(error, 'matches', [])}",
                                [],
                            ) from None
                        raise
                    result = {"id": record_id, "success": True, "errors": [], "created": created}
            except DmlError as error:
                org.rollback(record_mark)
                any_failed = True
                result = {"success": False, "errors": error.save_errors()}
            except ApiError as error:
                if error.status in {404} and mode == "update":
                    org.rollback(record_mark)
                    any_failed = True
                    code = "ENTITY_IS_DELETED" if error.code == "ENTITY_IS_DELETED" else "INVALID_CROSS_REFERENCE_KEY"
                    message = "entity is deleted" if code == "ENTITY_IS_DELETED" else "invalid cross reference id"
                    result = {"success": False, "errors": [{"statusCode": code, "message": message, "fields": []}]}
                else:
                    org.rollback(mark)  # a request-level error refuses the whole call
                    raise
            results.append(result)
        if all_or_none and any_failed:
            org.rollback(mark)
            rolled_back = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the request was using "
                "AllOrNone header",
                "fields": [],
            }
            results = [
                result if not result["success"] else {"success": False, "errors": [dict(rolled_back)]}
                for result in results
            ]
        return Result(200, results)

    def _collection_update(self, obj: SObjectType, record: Any) -> dict[str, Any]:
        if not isinstance(record, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
        raw_id = next((value for key, value in record.items() if key.lower() == "id"), None)
        if not raw_id:
            raise DmlError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        normalized = id_normalize(raw_id)
        if normalized is None:
            raise DmlError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {raw_id}", ["Id"])
        self.org.update(obj.name, normalized, record)
        return {"id": normalized, "success": True, "errors": []}

    def _collection_delete(self, call: Call) -> Result:
        org = self.org
        ids = [item for item in call.params.get("ids", "").split(",") if item]
        if not ids:
            raise ApiError(400, "MALFORMED_QUERY", "The ids parameter is required")
        if len(ids) > COLLECTION_MAX:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_MAX} records into this call",
            )
        all_or_none = call.params.get("allOrNone", "false").lower() == "true"
        mark = org.mark()
        results = []
        any_failed = False
        for raw_id in ids:
            record_mark = org.mark()
            normalized = id_normalize(raw_id)
            try:
                if normalized is None:
                    raise DmlError("MALFORMED_ID", f"malformed id {raw_id}", [])
                if org.is_deleted(normalized):
                    raise DmlError("ENTITY_IS_DELETED", "entity is deleted", [])
                if normalized not in org.types:
                    raise DmlError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
                org.delete(None, normalized)
                results.append({"id": normalized, "success": True, "errors": []})
            except DmlError as error:
                org.rollback(record_mark)
                any_failed = True
                results.append({"id": normalized or raw_id, "success": False, "errors": error.save_errors()})
            except ApiError as error:
                org.rollback(record_mark)
                any_failed = True
                results.append(
                    {
                        "id": normalized or raw_id,
                        "success": False,
                        "errors": [{"statusCode": error.code, "message": error.errors[0]["message"], "fields": []}],
                    }
                )
        if all_or_none and any_failed:
            org.rollback(mark)
            results = [
                result
                if not result["success"]
                else {
                    "id": result["id"],
                    "success": False,
                    "errors": [
                        {
                            "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                            "message": "Record rolled back because not all records were valid and the request "
                            "was using AllOrNone header",
                            "fields": [],
                        }
                    ],
                }
                for result in results
            ]
        return Result(200, results)

    # ------------------------------------------------------------------ bulk 2.0

    def _jobs(self, call: Call, kind: str, rest: list[str]) -> Result:
        sandbox = self.sandbox
        if not rest:
            if call.method == "POST":
                created = bulk.job_create(call.json(), kind=kind, org=self.org, version=call.version)
                sandbox.jobs[created.id] = created
                if kind == "query":
                    sandbox.job_schedule(created)
                return Result(200, created.info(full=False))
            if call.method == "GET":
                records = [
                    job.info(full=False) | {"jobType": "V2Ingest" if job.kind == "ingest" else "V2Query"}
                    for job in sandbox.jobs.values()
                    if job.kind == kind
                ]
                return Result(200, {"done": True, "records": records, "nextRecordsUrl": None})
            raise _method_not_allowed(call.method, "GET,POST")
        job = sandbox.jobs.get(rest[0])
        if job is None or job.kind != kind:
            raise not_found()
        if len(rest) == 1:
            if call.method == "GET":
                return Result(200, job.info())
            if call.method == "PATCH":
                return self._job_state(call, job)
            if call.method == "DELETE":
                if job.state not in bulk.FINAL_STATES:
                    raise ApiError(400, "INVALIDJOBSTATE", f"Cannot delete a job in state {job.state}")
                del sandbox.jobs[job.id]
                return Result(204)
            raise _method_not_allowed(call.method, "DELETE,GET,PATCH")
        action = rest[1]
        if kind == "ingest" and action == "batches" and len(rest) == 2:
            if call.method != "PUT":
                raise _method_not_allowed(call.method, "PUT")
            if job.state != "Open":
                raise ApiError(409, "INVALIDJOBSTATE", f"The job is not open for uploads: its state is {job.state}")
            if not call.headers.get("content-type", "").lower().startswith("text/csv"):
                raise ApiError(400, "INVALIDJOB", "InvalidJob : the upload's Content-Type must be text/csv")
            try:
                job.uploads.append(call.raw.decode("utf-8-sig"))
            except UnicodeDecodeError:
                raise ApiError(400, "INVALIDJOB", "InvalidJob : the upload is not UTF-8") from None
            return Result(201)
        if kind == "ingest" and action.lower() in {"successfulresults", "failedresults", "unprocessedrecords"}:
            if call.method != "GET":
                raise _method_not_allowed(call.method, "GET")
            return Result(200, text=bulk.ingest_results(job, action.lower()), content_type=CSV_TYPE)
        if kind == "query" and action == "results" and len(rest) == 2:
            if call.method != "GET":
                raise _method_not_allowed(call.method, "GET")
            return self._query_results(call, job)
        raise not_found()

    def _job_state(self, call: Call, job: bulk.Job) -> Result:
        body = call.json()
        state = body.get("state") if isinstance(body, dict) else None
        if state == "UploadComplete" and job.kind == "ingest" and job.state == "Open":
            job.state = "UploadComplete"
            job.touch()
            self.sandbox.job_schedule(job)
        elif state == "Aborted" and job.state not in bulk.FINAL_STATES:
            job.state = "Aborted"
            job.touch()
        else:
            raise ApiError(400, "INVALIDJOBSTATE", f"Cannot change the state of a job from {job.state} to {state}")
        return Result(200, job.info(full=False))

    def _query_results(self, call: Call, job: bulk.Job) -> Result:
        if job.state != "JobComplete":
            raise ApiError(400, "INVALIDJOBSTATE", f"The job is not complete: its state is {job.state}")
        try:
            limit = int(call.params.get("maxRecords") or 50000)
            offset = int(call.params.get("locator") or 0)
        except ValueError:
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid locator") from None
        rows = job.result_rows[offset : offset + limit]
        end = offset + len(rows)
        locator = str(end) if end < len(job.result_rows) else "null"
        return Result(
            200,
            text=bulk.csv_text(job, job.result_header, rows),
            content_type=CSV_TYPE,
            headers={"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(len(rows))},
        )


class _UnresolvedReference(Exception):
    def __init__(self, reference_id: str, expression: str) -> None:
        super().__init__(expression)
        self.reference_id = reference_id
        self.expression = expression


def _reference_value(results: dict[str, Any], reference_id: str, path: str) -> Any:
    expression = reference_id + path
    if reference_id not in results:
        raise _UnresolvedReference(reference_id, expression)
    value = results[reference_id]
    for key, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        if key:
            if not isinstance(value, dict):
                raise _UnresolvedReference(reference_id, expression)
            # Salesforce resolves reference field names case-insensitively (``@{ref.Id}`` or ``@{ref.id}``).
            match = next((candidate for candidate in value if candidate.lower() == key.lower()), None)
            if match is None:
                raise _UnresolvedReference(reference_id, expression)
            value = value[match]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise _UnresolvedReference(reference_id, expression)
            value = value[int(index)]
    if value is None:
        raise _UnresolvedReference(reference_id, expression)
    return value


def _substitute_text(text: str, results: dict[str, Any]) -> str:
    return REFERENCE.sub(lambda match: str(_reference_value(results, match[1], match[2])), text)


def _substitute(value: Any, results: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        if whole:
            return _reference_value(results, whole[1], whole[2])
        return _substitute_text(value, results)
    if isinstance(value, dict):
        return OrderedDict((key, _substitute(item, results)) for key, item in value.items())
    if isinstance(value, list):
        return [_substitute(item, results) for item in value]
    return value


def _graph_depth(requests: list[dict[str, Any]]) -> int:
    """The longest chain of ``@{reference}`` dependencies among a graph's nodes (a lone node is 1 deep)."""
    depth: dict[str, int] = {}
    for item in requests:
        text = json.dumps([item.get("url"), item.get("body")])
        parents = [depth[match[0]] for match in REFERENCE.findall(text) if match[0] in depth]
        depth[item["referenceId"]] = 1 + max(parents, default=0)
    return max(depth.values(), default=0)


def _node_kind(item: dict[str, Any], org: Org) -> tuple[str, str, str]:
    """What makes two graph nodes "different" for Salesforce: API version, HTTP method, object."""
    segments, _ = url_split(str(item.get("url", "")))
    version = segments[2] if len(segments) > 2 else ""
    resource = segments[3:5] if len(segments) > 4 and segments[3] == "sobjects" else segments[3:4]
    target = resource[-1] if resource else ""
    known = org.schema.get(target) if resource[:1] == ["sobjects"] else None
    return version, str(item.get("method", "")).upper(), known.name if known else target.lower()


def _external_value(record: Any, external: str) -> Any:
    if not isinstance(record, dict):
        return None
    return next((value for key, value in record.items() if key.lower() == external.lower()), None)


def _external_key(record: Any, external: str) -> Any:
    value = _external_value(record, external)
    return value.casefold() if isinstance(value, str) else value
