"""Does the connected Salesforce org have what b2s needs? (``manage.py salesforce_check``)

Compares the requirements of :mod:`sync.salesforce_schema`, the active field mappings and the
feature flags with the org's describe data, as the integration user sees it (so a field hidden by
field-level security shows as missing, which is exactly what would break a sync).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tabulate import tabulate

from sync.config import config
from sync.models import FieldMapping
from sync.salesforce import SalesforceError
from sync.salesforce_schema import (
    KIND_DESCRIBE_TYPES,
    REQUIRED_CREATE_ACCESS,
    REQUIRED_EVENTS,
    REQUIRED_FIELDS,
    REQUIRED_OBJECTS,
    REQUIRED_USER_PERMISSIONS,
    STANDARD_FIELDS,
    FieldSpec,
)
from sync.seeds import LEAD_CLOSED_STATUS_SETTING, LEAD_CONVERSION_CLOSE, LEAD_CONVERSION_SETTING

OK = "ok"
NOT_NEEDED = "not needed"
MISSING = "missing"
OBJECT_MISSING = "object missing"
WRONG_TYPE = "wrong type"
NOT_EXTERNAL_ID = "not an external id"
TOO_SHORT = "too short"
READ_ONLY = "not writable"
PICKLIST_VALUE_MISSING = "picklist value missing"
PERMISSION_MISSING = "permission missing"
CONVERTED_STATUS = "a converted status"
UNREADABLE = "cannot check"
WARNING = "ok (warning)"
FAILING = frozenset(
    {
        MISSING,
        OBJECT_MISSING,
        WRONG_TYPE,
        NOT_EXTERNAL_ID,
        TOO_SHORT,
        READ_ONLY,
        PICKLIST_VALUE_MISSING,
        PERMISSION_MISSING,
        CONVERTED_STATUS,
        UNREADABLE,
    }
)
# Rows of the integration user's own permissions (``CheckRow.sobject``): its permissions are the User's.
USER_ROW = "User"
LEAD_STATUS_ROW = "LeadStatus"


@dataclass(frozen=True)
class CheckRow:
    """One requirement and what the org has for it."""

    sobject: str
    field: str  # "" for the object itself
    needs: str
    found: str
    status: str
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status in FAILING

    @property
    def name(self) -> str:
        return f"{self.sobject}.{self.field}" if self.field else self.sobject


@dataclass
class SetupReport:
    """The result of a check: one row per requirement, and the API usage seen."""

    rows: list[CheckRow] = field(default_factory=list)
    api_usage: tuple[int, int] | None = None
    daily_api_requests: dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> list[CheckRow]:
        return [row for row in self.rows if row.failed]

    @property
    def ok(self) -> bool:
        return not self.failures


def _describe_type(field_describe: dict[str, Any]) -> str:
    kind: str = field_describe.get("type", "?")
    length = field_describe.get("length") or 0
    if kind in {"string", "textarea", "picklist"} and length:
        kind = f"{kind}({length})"
    elif kind in {"currency", "double"}:
        kind = f"{kind}({field_describe.get('precision', 0)},{field_describe.get('scale', 0)})"
    if field_describe.get("externalId"):
        kind += " external id" + (" unique" if field_describe.get("unique") else "")
    return kind


def _needs(spec: FieldSpec) -> str:
    if spec.kind == "any":
        return "writable field"
    needs = spec.kind + (f"({spec.length})" if spec.length else "")
    if spec.external_id:
        needs += " external id"
    return needs


def _field_row(spec: FieldSpec, fields: dict[str, dict[str, Any]], *, event: bool = False) -> CheckRow:
    """Compare one field requirement with the object's describe fields (keyed by lower-case name)."""
    found = fields.get(spec.name.lower())
    needs = _needs(spec)
    if found is None:
        return CheckRow(spec.sobject, spec.name, needs, "-", MISSING, "absent, or hidden from the integration user")
    have = _describe_type(found)
    accepted = KIND_DESCRIBE_TYPES[spec.kind]
    if accepted and found.get("type") not in accepted:
        return CheckRow(spec.sobject, spec.name, needs, have, WRONG_TYPE, f"expected {' or '.join(sorted(accepted))}")
    if spec.external_id and not found.get("externalId"):
        return CheckRow(spec.sobject, spec.name, needs, have, NOT_EXTERNAL_ID, "b2s upserts by this field")
    if spec.length and found.get("type") in {"string", "textarea"} and (found.get("length") or 0) < spec.length:
        return CheckRow(spec.sobject, spec.name, needs, have, TOO_SHORT, f"b2s writes up to {spec.length} characters")
    # Read-only for the user (field-level security) shows as neither createable nor updateable. Some
    # fields b2s sets only on create (OrderItem.OrderId) are legitimately not updateable.
    writable = found.get("createable") or (not event and found.get("updateable"))
    if not writable:
        return CheckRow(
            spec.sobject, spec.name, needs, have, READ_ONLY, "grant edit access (permission set B2S_Integration)"
        )
    if spec.picklist_values and found.get("type") == "picklist":
        values = {entry.get("value") for entry in found.get("picklistValues") or [] if entry.get("active", True)}
        absent = [value for value in spec.picklist_values if value not in values]
        if absent:
            status = PICKLIST_VALUE_MISSING if found.get("restrictedPicklist") else WARNING
            return CheckRow(spec.sobject, spec.name, needs, have, status, f"values missing: {', '.join(absent)}")
    if spec.external_id and not found.get("unique"):
        return CheckRow(spec.sobject, spec.name, needs, have, WARNING, "not unique: duplicates answer 300 on upsert")
    return CheckRow(spec.sobject, spec.name, needs, have, OK)


def _flag_on(flag: str) -> bool:
    return not flag or config.flag(flag)


def _spec_needed(spec: FieldSpec) -> bool:
    """Any of the flags that make b2s write the field is on (or it is always written)."""
    return not spec.flags or any(config.flag(flag) for flag in spec.flags)


def _flags_off(spec: FieldSpec) -> str:
    names = spec.flags
    return f"flag {names[0]} off" if len(names) == 1 else f"flags {', '.join(names)} off"


def _mapping_specs() -> dict[tuple[str, str], FieldSpec]:
    """Every field the active mappings write (a flag that is off removes its mappings)."""
    specs: dict[tuple[str, str], FieldSpec] = {}
    for sobject in FieldMapping.SObject.values:
        for mapping in config.field_mappings(sobject):
            specs[(sobject, mapping.sf_field)] = FieldSpec(sobject, mapping.sf_field, "any", source="mapping")
    return specs


def _required_specs() -> tuple[list[FieldSpec], list[FieldSpec]]:
    """(needed, not needed) field specs: the typed list, the active mappings and the standard fields."""
    mapped = _mapping_specs()
    needed: list[FieldSpec] = []
    skipped: list[FieldSpec] = []
    typed = {(spec.sobject, spec.name) for spec in REQUIRED_FIELDS}
    for spec in REQUIRED_FIELDS:
        if spec.source == "mapping":
            # A seeded mapping an admin disabled (or whose flag is off) is not written.
            (needed if (spec.sobject, spec.name) in mapped else skipped).append(spec)
        else:
            (needed if _spec_needed(spec) else skipped).append(spec)
    for key, spec in mapped.items():
        if key not in typed:
            needed.append(spec)
    listed = {(spec.sobject, spec.name) for spec in needed}
    for spec in STANDARD_FIELDS:
        if (spec.sobject, spec.name) in listed:
            continue
        (needed if _spec_needed(spec) else skipped).append(spec)
    return needed, skipped


def _describe_fields(describe: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {entry["name"].lower(): entry for entry in (describe or {}).get("fields", [])}


def salesforce_setup_check(*, client: Any) -> SetupReport:
    """Check the org behind ``client`` (a ``SalesforceClient``) against everything b2s needs.

    ``client.describe`` raising an error whose ``status`` is 404 (or code ``NOT_FOUND`` /
    ``INVALID_TYPE``) means the object does not exist for the integration user.
    """
    report = SetupReport()
    needed, skipped = _required_specs()
    objects = list(dict.fromkeys([*REQUIRED_OBJECTS, *(spec.sobject for spec in needed)]))
    describes: dict[str, dict[str, Any] | None] = {}
    for sobject in objects:
        describes[sobject] = _describe_or_none(client, sobject)
        found = describes[sobject] is not None
        report.rows.append(
            CheckRow(sobject, "", "object", "present" if found else "-", OK if found else OBJECT_MISSING)
        )
        create_flag = REQUIRED_CREATE_ACCESS.get(sobject)
        if found and create_flag is not None and _flag_on(create_flag):
            creatable = bool((describes[sobject] or {}).get("createable"))
            note = "" if creatable else "grant create access (permission set B2S_Integration)"
            status = OK if creatable else READ_ONLY
            report.rows.append(CheckRow(sobject, "", "create access", "yes" if creatable else "no", status, note))
    for spec in needed:
        describe = describes.get(spec.sobject)
        if describe is None:
            report.rows.append(CheckRow(spec.sobject, spec.name, _needs(spec), "-", MISSING, "its object is missing"))
            continue
        report.rows.append(_field_row(spec, _describe_fields(describe)))
    report.rows.extend(_not_needed_rows(skipped))
    events_on = config.flag("platform_events")
    for event in REQUIRED_EVENTS:
        if not events_on:
            report.rows.append(CheckRow(event.name, "", "platform event", "", NOT_NEEDED, "flag platform_events off"))
            continue
        describe = _describe_or_none(client, event.name)
        if describe is None:
            report.rows.append(CheckRow(event.name, "", "platform event", "-", OBJECT_MISSING))
            report.rows.extend(
                CheckRow(event.name, spec.name, _needs(spec), "-", MISSING, "its event is missing")
                for spec in event.fields
            )
            continue
        report.rows.append(CheckRow(event.name, "", "platform event", "present", OK))
        fields = _describe_fields(describe)
        report.rows.extend(_field_row(spec, fields, event=True) for spec in event.fields)
    report.rows.extend(_permission_rows(client))
    report.rows.extend(_lead_status_rows(client))
    limits = client.limits()
    daily = limits.get("DailyApiRequests") or {}
    report.daily_api_requests = {key: int(value) for key, value in daily.items() if isinstance(value, int | float)}
    report.api_usage = client.api_usage
    return report


def _permission_rows(client: Any) -> list[CheckRow]:
    """The integration user's effective permissions (``UserPermissionAccess``: the union of its profile
    and assigned permission sets, one row for the current user) against ``REQUIRED_USER_PERMISSIONS``."""
    needed = [spec for spec in REQUIRED_USER_PERMISSIONS if _flag_on(spec.feature_flag)]
    rows = [
        CheckRow(USER_ROW, spec.name, "user permission", "", NOT_NEEDED, f"flag {spec.feature_flag} off")
        for spec in REQUIRED_USER_PERMISSIONS
        if not _flag_on(spec.feature_flag)
    ]
    if not needed:
        return rows
    # The names are constants of REQUIRED_USER_PERMISSIONS.
    soql = f"SELECT {', '.join(f'Permissions{spec.name}' for spec in needed)} FROM UserPermissionAccess"  # noqa: S608
    try:
        records = client.query(soql)
    except SalesforceError as error:
        note = f"UserPermissionAccess could not be read: {error}"
        return rows + [CheckRow(USER_ROW, spec.name, "user permission", "-", UNREADABLE, note) for spec in needed]
    granted = records[0] if records else {}
    for spec in needed:
        if granted.get(f"Permissions{spec.name}") is True:
            rows.append(CheckRow(USER_ROW, spec.name, "user permission", "granted", OK))
        else:
            note = f"{spec.why}; grant it (permission set B2S_Integration)"
            rows.append(CheckRow(USER_ROW, spec.name, "user permission", "not granted", PERMISSION_MISSING, note))
    return rows


def _lead_status_rows(client: Any) -> list[CheckRow]:
    """The Lead status a bought cart's Lead gets: a converted one for ``convertLead``, or the admin's
    ``lead_closed_status``, which must exist and must not be a converted one (a plain update to it is refused)."""
    if not config.flag("low_value_lead_creation"):
        return [CheckRow(LEAD_STATUS_ROW, "", "lead status", "", NOT_NEEDED, "flag low_value_lead_creation off")]
    try:
        records = client.query("SELECT MasterLabel, IsConverted FROM LeadStatus")
    except SalesforceError as error:
        return [CheckRow(LEAD_STATUS_ROW, "", "lead status", "-", UNREADABLE, f"LeadStatus could not be read: {error}")]
    converted = {str(row.get("MasterLabel")): bool(row.get("IsConverted")) for row in records}
    if config.setting(LEAD_CONVERSION_SETTING) != LEAD_CONVERSION_CLOSE:
        found = next((label for label, is_converted in converted.items() if is_converted), "")
        if found:
            return [CheckRow(LEAD_STATUS_ROW, found, "converted status", "present", OK)]
        note = "convertLead needs a Lead status marked converted"
        return [CheckRow(LEAD_STATUS_ROW, "(converted)", "converted status", "-", MISSING, note)]
    wanted = config.setting(LEAD_CLOSED_STATUS_SETTING)
    if wanted not in converted:
        note = f"{LEAD_CLOSED_STATUS_SETTING} names no Lead status of the org"
        return [CheckRow(LEAD_STATUS_ROW, wanted, "not converted", "-", MISSING, note)]
    if converted[wanted]:
        note = f"set {LEAD_CLOSED_STATUS_SETTING} to a status that is not converted: a plain update to it is refused"
        return [CheckRow(LEAD_STATUS_ROW, wanted, "not converted", "converted", CONVERTED_STATUS, note)]
    return [CheckRow(LEAD_STATUS_ROW, wanted, "not converted", "present", OK)]


def _not_needed_rows(specs: Iterable[FieldSpec]) -> list[CheckRow]:
    rows = []
    for spec in specs:
        why = "mapping disabled" if _spec_needed(spec) else _flags_off(spec)
        rows.append(CheckRow(spec.sobject, spec.name, _needs(spec), "", NOT_NEEDED, why))
    return rows


def _describe_or_none(client: Any, sobject: str) -> dict[str, Any] | None:
    try:
        described: dict[str, Any] = client.describe(sobject)
    except SalesforceError as error:
        if error.status == 404 or error.code in {"NOT_FOUND", "INVALID_TYPE"}:
            return None
        raise
    return described


def report_render(report: SetupReport) -> list[str]:
    """The report as text lines: a table, then the API usage."""
    header = ("Object", "Field", "Needs", "Found", "Result")
    rows = [
        (row.sobject, row.field or "(object)", row.needs, row.found, row.status + (f": {row.note}" if row.note else ""))
        for row in report.rows
    ]
    # Text as given: a "Found" length such as 255 is not a number to right-align.
    table = tabulate(rows, headers=header, tablefmt="simple", disable_numparse=True, stralign="left")
    lines = [line.rstrip() for line in table.splitlines()]
    lines.append("")
    daily = report.daily_api_requests
    if daily.get("Max"):
        used = daily["Max"] - daily.get("Remaining", 0)
        lines.append(f"Daily API requests: {used} used of {daily['Max']} ({daily.get('Remaining', 0)} remaining)")
    if report.api_usage:
        lines.append(f"API usage (Sforce-Limit-Info): {report.api_usage[0]}/{report.api_usage[1]}")
    return lines
