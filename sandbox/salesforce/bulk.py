"""Bulk API 2.0: ingest jobs (insert, update, upsert, delete, hardDelete) and query jobs.

Jobs are processed asynchronously: closing an ingest job (``UploadComplete``) or creating a
query job starts a timer; when it fires the job runs under the sandbox lock, record by record
(each record its own transaction, as Bulk API's partial success), and ends ``JobComplete``
(or ``Failed`` with ``errorMessage`` when the data cannot be read at all).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from sandbox.salesforce.errors import ApiError, DmlError
from sandbox.salesforce.ids import id_make
from sandbox.salesforce.soql import Query, Runner, query_parse
from sandbox.salesforce.store import Org, datetime_format, now_utc

INGEST_OPERATIONS = {"insert", "update", "upsert", "delete", "hardDelete"}
QUERY_OPERATIONS = {"query", "queryAll"}
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
FINAL_STATES = {"JobComplete", "Failed", "Aborted"}


def _job_error(message: str, status: int = 400) -> ApiError:
    return ApiError(status, "INVALIDJOB", f"InvalidJob : {message}")


@dataclass
class Job:
    """One Bulk API 2.0 job."""

    id: str
    kind: str  # ingest | query
    object: str
    operation: str
    version: str
    created_by: str
    created: str
    external_id: str | None = None
    line_ending: str = "LF"
    delimiter: str = "COMMA"
    state: str = "Open"
    modified: str = ""
    uploads: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    error_message: str | None = None
    processed: int = 0
    failures: int = 0
    query: Query | None = None
    query_text: str = ""
    result_header: list[str] = field(default_factory=list)
    result_rows: list[list[Any]] = field(default_factory=list)

    def info(self, *, full: bool = True) -> dict[str, Any]:
        """The job as the API answers it (creation answers omit the counters)."""
        base: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created,
            "systemModstamp": self.modified or self.created,
            "state": self.state,
        }
        if self.kind == "ingest" and self.external_id:
            base["externalIdFieldName"] = self.external_id
        base.update(
            concurrencyMode="Parallel",
            contentType="CSV",
            apiVersion=float(self.version),
        )
        if self.kind == "ingest":
            base["contentUrl"] = f"services/data/v{self.version}/jobs/ingest/{self.id}/batches"
        base.update(lineEnding=self.line_ending, columnDelimiter=self.delimiter)
        if full:
            base["jobType"] = "V2Ingest" if self.kind == "ingest" else "V2Query"
            base["numberRecordsProcessed"] = self.processed
            if self.kind == "ingest":
                base["numberRecordsFailed"] = self.failures
            base.update(retries=0, totalProcessingTime=0)
            if self.kind == "ingest":
                base.update(apiActiveProcessingTime=0, apexProcessingTime=0)
            if self.error_message:
                base["errorMessage"] = self.error_message
        return base

    def touch(self) -> None:
        self.modified = datetime_format(now_utc())


def job_create(body: Any, *, kind: str, org: Org, version: str) -> Job:
    """Validate a job creation request and build the job (ApiError when refused)."""
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize the job: expected a JSON object")
    operation = body.get("operation")
    delimiter = body.get("columnDelimiter") or "COMMA"
    line_ending = body.get("lineEnding") or "LF"
    if delimiter not in DELIMITERS:
        raise _job_error(f"Invalid column delimiter: {delimiter}")
    if line_ending not in LINE_ENDINGS:
        raise _job_error(f"Invalid line ending: {line_ending}")
    if (body.get("contentType") or "CSV") != "CSV":
        raise _job_error("Content type is not supported: only CSV")
    stamp = datetime_format(now_utc())
    if kind == "query":
        if operation not in QUERY_OPERATIONS:
            raise _job_error(f"Invalid operation for a query job: {operation}")
        query = query_parse(body.get("query") or "", org.schema)
        if query.count_only or query.aggregates or query.subqueries or query.offset:
            raise ApiError(
                400,
                "API_ERROR",
                "Bulk API query jobs do not support aggregate functions, COUNT(), subqueries or OFFSET",
            )
        job = Job(id_make("750"), "query", query.sobject.name, operation, version, org.user_id, stamp)
        job.query, job.query_text = query, body["query"]
        job.state = "UploadComplete"
        job.line_ending, job.delimiter = line_ending, delimiter
        return job
    if operation not in INGEST_OPERATIONS:
        raise _job_error(f"Invalid operation: {operation}")
    sobject = org.schema.get(str(body.get("object") or ""))
    if sobject is None or sobject.is_event:
        raise ApiError(404, "NOT_FOUND", f"sObject type '{body.get('object')}' is not supported by the Bulk API")
    external = body.get("externalIdFieldName")
    if operation == "upsert":
        if not external:
            raise _job_error(f"External ID was blank for {sobject.name}. An External ID must be specified for upsert.")
        target = sobject.field(external)
        if target is None or not (target.externalId or target.type == "id"):
            raise _job_error(
                f"Field name provided, {external} does not match an External ID, Salesforce Id, or indexed field "
                f"for {sobject.name}"
            )
        external = target.name
    job = Job(id_make("750"), "ingest", sobject.name, operation, version, org.user_id, stamp)
    job.external_id = external if operation == "upsert" else None
    job.line_ending, job.delimiter = line_ending, delimiter
    return job


def _rows(job: Job, text: str) -> tuple[list[str], list[list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.delimiter])
    rows = [row for row in reader if row]
    if not rows:
        return [], []
    return rows[0], rows[1:]


def _error_text(error: ApiError) -> str:
    """A failed row's ``sf__Error``: ``CODE:message:Field1,Field2 --`` (``CODE:message:--`` without fields)."""
    entry = error.errors[0]
    fields = entry.get("fields") or []
    if fields:
        return f"{entry['errorCode']}:{entry['message']}:{','.join(fields)} --"
    return f"{entry['errorCode']}:{entry['message']}:--"


def _body(header: list[str], row: list[str]) -> dict[str, Any]:
    """A CSV row as a REST body: blank cells are left out, ``#N/A`` sets null, ``Rel.ExtId__c`` references."""
    body: dict[str, Any] = {}
    for name, value in zip(header, row, strict=False):
        if value == "":
            continue
        value_or_null: Any = None if value == "#N/A" else value
        if "." in name:
            relation, _, ext_field = name.partition(".")
            body[relation] = {ext_field: value_or_null}
        else:
            body[name] = value_or_null
    return body


def ingest_run(job: Job, org: Org) -> None:
    """Process every uploaded row of an ingest job (call under the sandbox lock)."""
    if job.state != "UploadComplete":
        return
    job.state = "InProgress"
    sobject = org.schema.get(job.object)
    header: list[str] = []
    rows: list[list[str]] = []
    for upload in job.uploads:
        part_header, part_rows = _rows(job, upload)
        if header and part_header != header:
            return _job_fail(job, "InvalidBatch : all uploads of a job must have the same header")
        header = part_header
        rows.extend(part_rows)
    job.header = header
    if not rows or sobject is None:
        return _job_fail(job, "InvalidBatch : No data was uploaded for the job")
    for name in header:
        base = name.partition(".")[0]
        if sobject.field(base) is None and ("." not in name or sobject.relationship(base) is None):
            return _job_fail(job, f"InvalidBatch : Field name not found : {name}")
    if job.operation in {"delete", "hardDelete"} and [name.lower() for name in header] != ["id"]:
        return _job_fail(job, "InvalidBatch : The 'delete' batch must contain only 'Id' column")
    id_column = next((index for index, name in enumerate(header) if name.lower() == "id"), None)
    for row in rows:
        row = (row + [""] * len(header))[: len(header)]
        mark = org.mark()
        record_id = row[id_column] if id_column is not None else ""
        try:
            created = False
            body = _body(header, row)
            if job.operation == "insert":
                record_id = org.create(job.object, body)
                created = True
            elif job.operation == "update":
                body.pop("Id", None)
                body.pop("id", None)
                if not record_id:
                    raise DmlError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
                org.update(job.object, record_id, body)
            elif job.operation == "upsert":
                assert job.external_id is not None
                if job.external_id == "Id" and not record_id:
                    body.pop("Id", None)
                    record_id, created = org.create(job.object, body), True
                else:
                    try:
                        record_id, created = org.upsert(job.object, job.external_id, None, body, value_in_body=True)
                    except ApiError as error:
                        if error.status == 300:
                            value = row[header.index(job.external_id)] if job.external_id in header else ""
                            raise DmlError(
                                "DUPLICATE_EXTERNAL_ID",
                                f"More than one record found for external id field {job.external_id} "
                                f"with value {value}",
                                [],
                            ) from None
                        raise
            else:
                org.delete(job.object, record_id)
                if job.operation == "hardDelete":
                    org.purge(job.object, record_id)
            job.successful.append([record_id, "true" if created else "false", *row])
        except ApiError as error:
            org.rollback(mark)
            job.failed.append([record_id or "", _error_text(error), *row])
            job.failures += 1
        job.processed += 1
    org.commit()
    job.state = "JobComplete"
    job.touch()
    return None


def _job_fail(job: Job, message: str) -> None:
    job.state = "Failed"
    job.error_message = message
    job.touch()
    for upload in job.uploads:
        header, rows = _rows(job, upload)
        job.header = job.header or header
        job.unprocessed.extend(rows)


def query_run(job: Job, org: Org) -> None:
    """Run a query job (call under the sandbox lock)."""
    if job.state != "UploadComplete" or job.query is None:
        return
    job.state = "InProgress"
    runner = Runner(org, version=job.version, include_deleted=job.operation == "queryAll")
    job.result_header, job.result_rows = runner.flat(job.query)
    job.processed = len(job.result_rows)
    job.state = "JobComplete"
    job.touch()


def csv_text(job: Job, header: list[str], rows: list[list[Any]]) -> str:
    """CSV in the job's delimiter and line ending, every value quoted (as Salesforce writes results)."""
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=DELIMITERS[job.delimiter],
        lineterminator=LINE_ENDINGS[job.line_ending],
        quoting=csv.QUOTE_ALL,
    )
    if header:
        writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else _csv_value(value) for value in row])
    return buffer.getvalue()


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def ingest_results(job: Job, kind: str) -> str:
    """One of the three result CSVs (``successfulResults``, ``failedResults``, ``unprocessedrecords``)."""
    if kind == "successfulresults":
        return csv_text(job, ["sf__Id", "sf__Created", *job.header], job.successful)
    if kind == "failedresults":
        return csv_text(job, ["sf__Id", "sf__Error", *job.header], job.failed)
    header = job.header
    if not header and job.uploads:
        header = _rows(job, job.uploads[0])[0]
    rows = list(job.unprocessed)
    if job.state in {"Open", "UploadComplete", "Aborted"} and not job.processed and not rows:
        for upload in job.uploads:
            rows.extend(_rows(job, upload)[1])
    return csv_text(job, header, rows)
