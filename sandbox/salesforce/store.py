"""The org's records and the rules Salesforce applies when they are written.

Everything here runs under the sandbox's lock. Every change is journaled so that a
failed all-or-none request (composite, graph, collections) can be rolled back exactly.
"""

from __future__ import annotations

import contextlib
import copy
import re
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sandbox.salesforce.duplicates import duplicates_check
from sandbox.salesforce.errors import ApiError, DmlError
from sandbox.salesforce.ids import id_make, id_normalize
from sandbox.salesforce.leads import lead_statuses_seed, lead_update_check
from sandbox.salesforce.permissions import permissions_seed, user_has, user_permission_access
from sandbox.salesforce.schema import (
    CURRENCY_CREATE_ONLY,
    CURRENCY_FIELD,
    CURRENCY_INHERITED,
    NUMBER_TYPES,
    OPPORTUNITY_STAGES,
    TASK_CLOSED_STATUSES,
    TEXT_TYPES,
    Field,
    Schema,
    SObjectType,
)

STANDARD_PRICEBOOK_NAME = "Standard Price Book"
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def now_utc() -> datetime:
    """The current time (a function so that tests can move the clock with time-machine)."""
    return datetime.now(UTC)


def datetime_format(moment: datetime) -> str:
    """Salesforce's datetime format: ``2024-05-01T12:30:00.000+0000`` (always UTC)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def audit_stamp() -> str:
    """Now, as Salesforce stamps CreatedDate, LastModifiedDate and SystemModstamp: whole seconds (``.000``)."""
    return datetime_format(now_utc().replace(microsecond=0))


def datetime_parse(text: str) -> datetime | None:
    """Parse an ISO 8601 datetime as Salesforce accepts it (no zone means UTC); None when invalid."""
    match = _DATETIME.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tz = UTC
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=tz
        ).astimezone(UTC)
    except ValueError:
        return None


def date_parse(text: str) -> date | None:
    """Parse ``YYYY-MM-DD``; None when invalid."""
    match = _DATE.match(text)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, (int, float)):
        return "VALUE_NUMBER_INT" if isinstance(value, int) else "VALUE_NUMBER_FLOAT"
    if isinstance(value, dict):
        return "START_OBJECT"
    return "START_ARRAY"


def _parser_error(field: Field, value: Any) -> ApiError:
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {field.type} from {_json_kind(value)} value {value} "
        "or request may be missing a required field",
    )


def value_coerce(field: Field, value: Any) -> Any:
    """Convert a JSON value to what the field stores, as Salesforce's deserializer does.

    Raises ``ApiError(JSON_PARSER_ERROR)`` for a value of the wrong kind and ``DmlError`` for
    a value out of range.
    """
    if value is None:
        return None
    kind = field.type
    if value == "" and kind != "boolean":
        return None  # Salesforce stores no empty strings: "" clears the field
    if isinstance(value, (dict, list)):
        raise _parser_error(field, value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise _parser_error(field, value)
    if kind in NUMBER_TYPES:
        if isinstance(value, bool):
            raise _parser_error(field, value)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _parser_error(field, value) from None
        if not number.is_finite():
            raise _parser_error(field, value)
        if kind == "int":
            if number != number.to_integral_value():
                raise _parser_error(field, value)
            if len(str(abs(int(number)))) > (field.digits or 9):
                raise _range_error(field, value)
            return int(number)
        scale = field.scale
        rounded = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
        integer_digits = len(str(abs(int(rounded)))) if int(rounded) else 0
        if integer_digits > max(field.precision - scale, 0):
            raise _range_error(field, value)
        return float(rounded)
    if kind == "date":
        if not isinstance(value, str) or date_parse(value) is None:
            raise _parser_error(field, value)
        return value
    if kind == "datetime":
        parsed = datetime_parse(value) if isinstance(value, str) else None
        if parsed is None:
            raise _parser_error(field, value)
        return datetime_format(parsed)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _range_error(field: Field, value: Any) -> DmlError:
    return DmlError(
        "NUMBER_OUTSIDE_VALID_RANGE",
        f"{field.label}: value outside of valid range on numeric field: {value}",
        [field.name],
    )


class Org:
    """Records, recycle bin, published platform events and the journal of one org."""

    def __init__(self, schema: Schema, *, username: str, rules: dict[str, bool] | None = None) -> None:
        self.schema = schema
        self.rules: dict[str, bool] = rules if rules is not None else {}
        self.live: dict[str, dict[str, dict[str, Any]]] = {}
        self.deleted: dict[str, dict[str, dict[str, Any]]] = {}
        self.types: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        self.journal: list[tuple[Any, ...]] = []
        # (object, field, exact) -> match key -> ids; built on first use, kept up to date on writes.
        self._indexes: dict[tuple[str, str, bool], dict[Any, set[str]]] = {}
        self._autonumbers: dict[str, int] = {}
        self._replay = 0
        self.user_id = id_make("005")
        # Who the current change is made by: the integration user, unless a test acts as another user.
        self.actor_id = self.user_id
        # A stamp to give the next change instead of now (a transaction that commits late), or None.
        self.modstamp_override: str | None = None
        self.standard_pricebook_id = id_make("01s")
        stamp = audit_stamp()
        user = self._blank("User")
        user.update(
            Id=self.user_id,
            Username=username,
            LastName="User",
            FirstName="Integration",
            Name="Integration User",
            Alias="integ",
            Email=username,
            IsActive=True,
            TimeZoneSidKey="GMT",
        )
        self._audit(user, stamp, created=True, user_id=self.user_id)
        self.live.setdefault("User", {})[self.user_id] = user
        self.types[self.user_id] = "User"
        book = self._blank("Pricebook2")
        book.update(Id=self.standard_pricebook_id, Name=STANDARD_PRICEBOOK_NAME, IsActive=True, IsStandard=True)
        self._audit(book, stamp, created=True, user_id=self.user_id)
        self.live.setdefault("Pricebook2", {})[self.standard_pricebook_id] = book
        self.types[self.standard_pricebook_id] = "Pricebook2"
        permissions_seed(self)
        lead_statuses_seed(self)
        self.journal.clear()

    def seed(self, sobject: str, **fields: Any) -> str:
        """Store a record as the org's setup makes it (no rules: read-only fields too); its id."""
        record = self._blank(sobject)
        record_id = id_make(self.schema[sobject].key_prefix)
        record.update(fields, Id=record_id)
        self._audit(record, audit_stamp(), created=True, user_id=self.user_id)
        self._put(sobject, record)
        return record_id

    def seed_update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        """Change a record as setup does (no rules)."""
        record = dict(self.live[sobject][record_id], **fields)
        self._audit(record, audit_stamp(), created=False, user_id=self.user_id)
        self._put(sobject, record)

    @contextlib.contextmanager
    def acting_as(self, user_id: str, *, system_modstamp: str | None = None) -> Iterator[None]:
        """Make the changes inside as ``user_id`` (an active User): LastModifiedById/CreatedById and the
        permission checks are theirs. ``system_modstamp`` stamps the changes with an earlier moment, as a
        transaction that started then and commits now does (its records show up behind a poller's checkpoint).
        """
        found = self.get(user_id)
        if found is None or found[0] != "User" or not found[1].get("IsActive"):
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", f"no active user {user_id}")
        saved = (self.actor_id, self.modstamp_override)
        self.actor_id = found[1]["Id"]
        self.modstamp_override = system_modstamp
        try:
            yield
        finally:
            self.actor_id, self.modstamp_override = saved

    # ----------------------------------------------------------------- lookups

    def sobject(self, name: str) -> SObjectType:
        """The object ``name`` or a 404 NOT_FOUND, as the REST API answers for an unknown type."""
        found = self.schema.get(name)
        if found is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return found

    def rows(self, sobject: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Records of ``sobject`` (live, then deleted ones when asked)."""
        if sobject == "UserPermissionAccess":  # computed from the permission sets when read
            yield user_permission_access(self, datetime_format(now_utc()))
            return
        yield from self.live.get(sobject, {}).values()
        if include_deleted:
            yield from self.deleted.get(sobject, {}).values()

    def get(self, record_id: str | None, *, include_deleted: bool = False) -> tuple[str, dict[str, Any]] | None:
        """(object name, record) for an id in any form, or None."""
        normalized = id_normalize(record_id) if record_id else None
        if normalized is None:
            return None
        sobject = self.types.get(normalized)
        if sobject is None:
            return None
        record = self.live.get(sobject, {}).get(normalized)
        if record is None and include_deleted:
            record = self.deleted.get(sobject, {}).get(normalized)
        return (sobject, record) if record is not None else None

    def is_deleted(self, record_id: str) -> bool:
        normalized = id_normalize(record_id)
        sobject = self.types.get(normalized or "")
        return bool(sobject and normalized in self.deleted.get(sobject, {}))

    def match(self, sobject: str, field: Field, value: Any) -> list[dict[str, Any]]:
        """Live records whose ``field`` equals ``value``, oldest first (text compared case-insensitively
        unless the field is case-sensitive, ids in any of their forms)."""
        if field.type in {"id", "reference"}:
            value = id_normalize(value) if isinstance(value, str) else None
            if value is None:
                return []
        ids = self._index(sobject, field).get(_match_key(field, value), ())
        table = self.live.get(sobject, {})
        return [table[record_id] for record_id in sorted(ids)]

    def _index(self, sobject: str, field: Field) -> dict[Any, set[str]]:
        key = (sobject, field.name, _exact(field))
        index = self._indexes.get(key)
        if index is None:
            index = {}
            for record in self.live.get(sobject, {}).values():
                index.setdefault(_match_key(field, record.get(field.name)), set()).add(record["Id"])
            self._indexes[key] = index
        return index

    def _live_set(self, sobject: str, record_id: str, record: dict[str, Any] | None) -> None:
        """The one way live records change, so that the indexes follow."""
        table = self.live.setdefault(sobject, {})
        old = table.get(record_id)
        for (indexed, name, exact), index in self._indexes.items():
            if indexed != sobject:
                continue
            if old is not None:
                old_key = _key(exact, old.get(name))
                holders = index.get(old_key)
                if holders is not None:
                    holders.discard(record_id)
                    if not holders:
                        del index[old_key]
            if record is not None:
                index.setdefault(_key(exact, record.get(name)), set()).add(record_id)
        if record is None:
            table.pop(record_id, None)
        else:
            table[record_id] = record

    # ----------------------------------------------------------------- journal

    def mark(self) -> int:
        """A savepoint: the journal position to roll back to."""
        return len(self.journal)

    def rollback(self, mark: int) -> None:
        """Undo every change made since ``mark``."""
        while len(self.journal) > mark:
            entry = self.journal.pop()
            if entry[0] == "rec":
                _, sobject, record_id, old_live, old_deleted, old_type = entry
                self._live_set(sobject, record_id, old_live)
                self._restore(self.deleted, sobject, record_id, old_deleted)
                if old_type is None:
                    self.types.pop(record_id, None)
                else:
                    self.types[record_id] = old_type
            elif entry[0] == "event":
                self.events.pop()

    def commit(self) -> None:
        """Forget the journal (the end of a top-level request)."""
        self.journal.clear()

    @staticmethod
    def _restore(table: dict[str, dict[str, Any]], sobject: str, record_id: str, value: Any) -> None:
        if value is None:
            table.get(sobject, {}).pop(record_id, None)
        else:
            table.setdefault(sobject, {})[record_id] = value

    def _journal(self, sobject: str, record_id: str) -> None:
        self.journal.append(
            (
                "rec",
                sobject,
                record_id,
                self.live.get(sobject, {}).get(record_id),
                self.deleted.get(sobject, {}).get(record_id),
                self.types.get(record_id),
            )
        )

    def _put(self, sobject: str, record: dict[str, Any]) -> None:
        self._journal(sobject, record["Id"])
        self._live_set(sobject, record["Id"], record)
        self.types[record["Id"]] = sobject

    def _trash(self, sobject: str, record: dict[str, Any]) -> None:
        self._journal(sobject, record["Id"])
        self._live_set(sobject, record["Id"], None)
        trashed = dict(record, IsDeleted=True)
        self.deleted.setdefault(sobject, {})[record["Id"]] = trashed

    # ----------------------------------------------------------------- helpers

    def _blank(self, sobject: str) -> dict[str, Any]:
        # Checkboxes are never null in Salesforce: they start at their default.
        return {
            name: (bool(field.default) if field.type == "boolean" else None)
            for name, field in self.schema[sobject].fields.items()
        }

    def _stamp(self) -> str:
        return self.modstamp_override or audit_stamp()

    def _audit(self, record: dict[str, Any], stamp: str, *, created: bool, user_id: str) -> None:
        if created:
            record["CreatedDate"] = stamp
            record["CreatedById"] = user_id
            record["IsDeleted"] = False
        record["LastModifiedDate"] = stamp
        record["LastModifiedById"] = user_id
        record["SystemModstamp"] = stamp

    def _autonumber(self, key: str, width: int) -> str:
        self._autonumbers[key] = self._autonumbers.get(key, 99) + 1
        return str(self._autonumbers[key]).rjust(width, "0")

    # ----------------------------------------------------------------- input

    def fields_parse(self, obj: SObjectType, body: Any, *, operation: str) -> dict[str, Any]:
        """Map a JSON body to canonical field names with coerced values.

        Request-level errors (the request is refused as a whole): INVALID_FIELD for an unknown
        field, JSON_PARSER_ERROR for a value of the wrong kind. Record-level errors: writing a
        field that is not createable/updateable, a reference given by an external id that is not found.
        """
        if not isinstance(body, dict):
            raise ApiError(
                400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {obj.name} from {_json_kind(body)} value"
            )
        values: dict[str, Any] = {}
        readonly: list[str] = []
        for key, raw in body.items():
            if key == "attributes":
                continue
            field = obj.field(key)
            if field is None:
                relation = obj.relationship(key) if isinstance(raw, dict) else None
                if relation is None:
                    raise ApiError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
                values[relation.name] = self._reference_by_external_id(relation, raw)
                field = relation
            else:
                values[field.name] = value_coerce(field, raw)
            if field.name == "Id" and operation in {"update", "upsert"}:
                continue  # the id of the record itself, checked by the caller
            allowed = field.createable if operation == "create" else field.updateable
            if operation == "upsert":
                allowed = field.createable or field.updateable
            if not allowed:
                readonly.append(field.name)
        if "Id" in values and operation == "create":
            raise DmlError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        if readonly:
            names = ", ".join(readonly)
            raise DmlError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {names}. Please check the security settings of this field "
                "and verify that it is read/write for your profile or permission set.",
                readonly,
            )
        return values

    def _reference_by_external_id(self, relation: Field, raw: dict[str, Any]) -> str:
        """``"Account": {"BigCommerceCustomerId__c": "x"}`` -> the Account's id."""
        keys = [key for key in raw if key != "attributes"]
        target_name = (raw.get("attributes") or {}).get("type") or relation.referenceTo[0]
        target = self.schema.get(target_name)
        if target is None or len(keys) != 1:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{relation.relationshipName}' on sobject")
        ext = target.field(keys[0])
        if ext is None or not (ext.externalId or ext.type == "id"):
            raise ApiError(400, "INVALID_FIELD", f"No such column '{keys[0]}' on sobject of type {target.name}")
        value = raw[keys[0]]
        found = self.match(target.name, ext, value)
        if not found:
            raise DmlError(
                "INVALID_FIELD",
                f"Foreign key external ID: {value} not found for field {ext.name} in entity {target.name}",
                [],
            )
        if len(found) > 1:
            raise DmlError(
                "DUPLICATE_EXTERNAL_ID",
                f"Foreign key external ID: {value} matched more than one record for field {ext.name} "
                f"in entity {target.name}",
                [],
            )
        found_id: str = found[0]["Id"]
        return found_id

    # ----------------------------------------------------------------- DML

    def create(self, sobject: str, body: Any) -> str:
        """Insert one record; answers its id. Raises ApiError / DmlError like Salesforce."""
        obj = self.sobject(sobject)
        if obj.is_event:
            return self.publish(obj.name, body)
        if not obj.createable:
            raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support insert")
        values = self.fields_parse(obj, body, operation="create")
        return self._insert(obj, values)

    def _insert(self, obj: SObjectType, values: dict[str, Any]) -> str:
        record = self._blank(obj.name)
        for field in obj.fields.values():
            if field.name not in values and field.default is not None:
                record[field.name] = field.default
        record.update(values)
        if obj.field("OwnerId") is not None and record.get("OwnerId") is None:
            record["OwnerId"] = self.user_id
        missing = [
            field.name
            for field in obj.fields.values()
            if field.required and (record.get(field.name) is None or record.get(field.name) == "")
        ]
        if missing:
            raise DmlError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        record_id = id_make(obj.key_prefix)
        record["Id"] = record_id
        self._validate(obj, None, record, set(values))
        self._compute(obj, None, record, set(values))
        if self.rules.get("duplicate_rules", True):
            duplicates_check(self, obj, record)  # the standard duplicate rules alert on create only
        self._audit(record, self._stamp(), created=True, user_id=self.actor_id)
        self._put(obj.name, record)
        self._after_write(obj, None, record)
        return record_id

    def update(self, sobject: str, record_id: str, body: Any) -> None:
        """Update one record by id."""
        obj = self.sobject(sobject)
        values = self.fields_parse(obj, body, operation="update")
        self._update_values(obj, record_id, values)

    def _existing(self, obj: SObjectType, record_id: str) -> dict[str, Any]:
        normalized = id_normalize(record_id)
        if normalized is None or self.types.get(normalized) != obj.name:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if normalized in self.deleted.get(obj.name, {}):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return self.live[obj.name][normalized]

    def _update_values(self, obj: SObjectType, record_id: str, values: dict[str, Any]) -> None:
        old = self._existing(obj, record_id)
        given_id = values.pop("Id", None)
        if given_id is not None and id_normalize(given_id) != old["Id"]:
            raise DmlError("INVALID_FIELD_FOR_INSERT_UPDATE", "Id in the body does not match the record", ["Id"])
        if not obj.updateable:
            raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support update")
        record = dict(old)
        record.update(values)
        cleared = [
            name
            for name, value in values.items()
            if (value is None or value == "") and not obj.fields[name].nillable and obj.fields[name].type != "boolean"
        ]
        if cleared:
            raise DmlError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(cleared)}]", cleared)
        for name, value in values.items():
            if value is None and obj.fields[name].type == "boolean":
                record[name] = False
        self._validate(obj, old, record, set(values))
        self._compute(obj, old, record, set(values))
        self._audit(record, self._stamp(), created=False, user_id=self.actor_id)
        self._put(obj.name, record)
        self._after_write(obj, old, record)

    def upsert(
        self,
        sobject: str,
        field_name: str,
        value: Any,
        body: Any,
        *,
        value_in_body: bool = False,
        update_only: bool = False,
    ) -> tuple[str, bool]:
        """Upsert by an external id field (or Id); answers (id, created).

        Raises ApiError(404) for an unknown/non-external-id field and ApiError(300) with the
        matching record ids (``.matches``) when several records match. With ``value_in_body``
        (sObject Collections, Bulk) the body carries the external id value itself; with
        ``update_only`` (``?updateOnly=true``) a value that matches nothing is 404 NOT_FOUND.
        """
        obj = self.sobject(sobject)
        field = obj.field(field_name)
        if field is None or not (field.externalId or field.type == "id"):
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        values = self.fields_parse(obj, body, operation="upsert")
        if value_in_body:
            value = values.pop(field.name, None)
            if value is None and field.type == "id":
                values.pop("Id", None)
                readonly = [name for name in values if not obj.fields[name].createable]
                if readonly:
                    raise _readonly_error(readonly)
                return self._insert(obj, values), True  # upsert on Id without an Id creates
            if value is None:
                raise DmlError("MISSING_ARGUMENT", f"{field.name} not specified", [field.name])
        else:
            in_body = [name for name in values if name in {field.name, "Id"}]
            if in_body:
                raise DmlError(
                    "INVALID_FIELD",
                    f"{in_body[0]}: do not specify the Id or the external ID field in the body of an upsert "
                    "by external ID; it is given in the URL",
                    in_body,
                )
        values.pop("Id", None)
        if field.type == "id" and id_normalize(value) is None:
            raise DmlError("MALFORMED_ID", f"{field.label}: id value of incorrect type: {value}", [field.name])
        found = self.match(obj.name, field, value)
        if len(found) > 1:
            error = ApiError(300, "MULTIPLE_CHOICES", "more than one record matches")
            error.matches = [rec["Id"] for rec in found]  # type: ignore[attr-defined]
            raise error
        if found:
            readonly = [name for name in values if not obj.fields[name].updateable]
            if readonly:
                raise _readonly_error(readonly)
            self._update_values(obj, found[0]["Id"], values)
            return found[0]["Id"], False
        if field.type == "id" or update_only:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        readonly = [name for name in values if not obj.fields[name].createable]
        if readonly:
            raise _readonly_error(readonly)
        if obj.is_event or not obj.createable:
            raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support upsert")
        values[field.name] = value_coerce(field, value)
        return self._insert(obj, values), True

    def delete(self, sobject: str | None, record_id: str) -> None:
        """Delete one record (into the recycle bin), with Salesforce's cascades and restrictions."""
        normalized = id_normalize(record_id)
        actual = self.types.get(normalized or "")
        if sobject is not None:
            obj = self.sobject(sobject)
            if actual != obj.name:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if actual is None or normalized is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        obj = self.schema[actual]
        if not obj.deletable:
            raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support delete")
        record = self._existing(obj, normalized)
        self._delete_record(obj, record, cascade=False)

    def purge(self, sobject: str, record_id: str) -> None:
        """Remove a deleted record from the recycle bin for good (Bulk ``hardDelete``)."""
        normalized = id_normalize(record_id)
        if normalized and normalized in self.deleted.get(sobject, {}):
            self._journal(sobject, normalized)
            del self.deleted[sobject][normalized]
            self.types.pop(normalized, None)

    def _delete_record(self, obj: SObjectType, record: dict[str, Any], *, cascade: bool) -> None:
        self._before_delete(obj, record, cascade=cascade)
        self._trash(obj.name, record)
        for _, child, field in self._referencing(obj.name):
            for other in self.match(child.name, field, record["Id"]):
                if field.restrictDelete:
                    raise DmlError(
                        "DELETE_FAILED",
                        f"Your attempt to delete {record.get('Name') or record['Id']} could not be completed "
                        f"because it is associated with the following {child.label_plural.lower()}.: "
                        f"{other['Id']}",
                        [],
                    )
                if field.cascadeDelete:
                    self._delete_record(child, other, cascade=True)
                else:
                    changed = dict(other)
                    changed[field.name] = None
                    self._put(child.name, changed)
        self._after_delete(obj, record)

    def _referencing(self, sobject: str) -> Iterable[tuple[str, SObjectType, Field]]:
        for child in self.schema.objects.values():
            if child.is_event:
                continue
            for field in child.fields.values():
                if field.type == "reference" and sobject in field.referenceTo and field.createable:
                    yield field.name, child, field

    def publish(self, event: str, body: Any) -> str:
        """Publish a platform event (journaled: rolled back with its transaction, like "publish after commit")."""
        obj = self.sobject(event)
        values = self.fields_parse(obj, body, operation="create")
        record = dict.fromkeys(obj.fields)
        record.update(values)
        missing = [field.name for field in obj.fields.values() if field.required and record.get(field.name) is None]
        if missing:
            raise DmlError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        self._validate(obj, None, record, set(values))
        self._replay += 1
        event_id = id_make("e00")
        record.update(
            ReplayId=str(self._replay),
            CreatedDate=datetime_format(now_utc()),
            CreatedById=self.user_id,
            EventUuid=str(uuid.uuid4()),
        )
        self.events.append({"id": event_id, "name": obj.name, "fields": record})
        self.journal.append(("event",))
        return event_id

    # ----------------------------------------------------------------- validation

    def _validate(self, obj: SObjectType, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
        """Generic field checks on the fields written, then the object's own rules, then uniqueness."""
        for name in given:
            field = obj.fields[name]
            value = record.get(name)
            if value is None:
                continue
            too_long = field.type in TEXT_TYPES and field.length and len(value) > field.length
            if too_long and _length_enforced(self, field):
                raise DmlError(
                    "STRING_TOO_LONG",
                    f"{field.label}: data value too large: {value} (max length={field.length})",
                    [name],
                )
            if field.type == "email" and not _EMAIL.match(value):
                raise DmlError("INVALID_EMAIL_ADDRESS", f"{field.label}: invalid email address: {value}", [name])
            if field.type == "picklist" and field.restricted and value not in field.picklist:
                raise DmlError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{field.label}: bad value for restricted picklist field: {value}",
                    [name],
                )
            if field.type == "reference":
                record[name] = self._reference_check(field, value)
        if obj.field(CURRENCY_FIELD) is not None:
            self._currency_check(obj, old, record, given)
        rules = _RULES.get(obj.name)
        if rules is not None:
            rules(self, old, record, given)
        for field in obj.fields.values():
            if field.unique and field.name in given and record.get(field.name) not in (None, ""):
                for other in self.match(obj.name, field, record[field.name]):
                    if other["Id"] != record["Id"]:
                        raise DmlError(
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {field.name} duplicates value on record with id: {other['Id']}",
                            [],
                        )

    def currency_of(self, sobject: str, record: dict[str, Any]) -> str | None:
        """The record's CurrencyIsoCode; None in a single-currency org (the object has no such field).

        A record written before the field was added has the corporate currency, as Salesforce gives
        existing records when multiple currencies are enabled.
        """
        field = self.schema[sobject].field(CURRENCY_FIELD)
        if field is None:
            return None
        return record.get(field.name) or corporate_currency(field)

    def _currency_check(
        self, obj: SObjectType, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]
    ) -> None:
        """Multi-currency rules: defaults, the child's inherited currency, currencies fixed once used."""
        field = obj.field(CURRENCY_FIELD)
        assert field is not None
        name = field.name
        inherited = CURRENCY_INHERITED.get(obj.name)
        if inherited is not None:
            parent_object, lookup = inherited
            parent = self.live.get(parent_object, {}).get(record.get(lookup) or "")
            parent_currency = self.currency_of(parent_object, parent) if parent is not None else None
            if parent_currency is not None:
                if name in given and record.get(name) and record[name] != parent_currency:
                    raise DmlError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        f"field integrity exception: {name} (the currency of an order product is the currency of "
                        f"its order: {parent_currency})",
                        [name],
                    )
                record[name] = parent_currency
                return
        if not record.get(name):
            record[name] = (old or {}).get(name) or corporate_currency(field)
        if old is None or name not in given:
            return
        before = self.currency_of(obj.name, old)
        if record[name] == before:
            return
        if obj.name in CURRENCY_CREATE_ONLY:
            raise _readonly_error([name])
        if obj.name == "Order" and self.order_items(record["Id"]):
            raise DmlError(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: CurrencyIsoCode (you can't change the currency of an order that has "
                "order products)",
                [name],
            )

    def _reference_check(self, field: Field, value: str) -> str:
        normalized = id_normalize(value)
        if normalized is None:
            raise DmlError("MALFORMED_ID", f"{field.label}: id value of incorrect type: {value}", [field.name])
        allowed = {self.schema[name].key_prefix for name in field.referenceTo if name in self.schema}
        if normalized[:3] not in allowed:
            raise DmlError(
                "INVALID_CROSS_REFERENCE_KEY",
                f"{field.label}: id value of incorrect type: {value}",
                [field.name],
            )
        found = self.get(normalized)
        if found is None or found[0] not in field.referenceTo:
            raise DmlError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        return normalized

    # ----------------------------------------------------------------- computed values

    def _compute(self, obj: SObjectType, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
        if obj.name in {"Contact", "Lead", "User"}:
            record["Name"] = " ".join(part for part in (record.get("FirstName"), record.get("LastName")) if part)
        compute = _COMPUTE.get(obj.name)
        if compute is not None:
            compute(self, old, record, given)

    def _after_write(self, obj: SObjectType, old: dict[str, Any] | None, record: dict[str, Any]) -> None:
        if obj.name == "OrderItem":
            self._order_total(record["OrderId"])

    def _before_delete(self, obj: SObjectType, record: dict[str, Any], *, cascade: bool) -> None:
        if obj.name == "Order" and record.get("StatusCode") == "Activated":
            raise DmlError("FIELD_INTEGRITY_EXCEPTION", "You can't delete an activated order.", [])
        if obj.name == "OrderItem" and not cascade:
            order = self.live.get("Order", {}).get(record["OrderId"])
            if order is not None and order.get("StatusCode") == "Activated":
                _activated_item_delete_check(self)
        if obj.name == "Pricebook2" and record.get("IsStandard"):
            raise DmlError("DELETE_FAILED", "You can't delete the standard price book.", [])

    def _after_delete(self, obj: SObjectType, record: dict[str, Any]) -> None:
        if obj.name == "OrderItem" and record["OrderId"] in self.live.get("Order", {}):
            self._order_total(record["OrderId"])

    def order_items(self, order_id: str) -> list[dict[str, Any]]:
        return self.match("OrderItem", self.schema["OrderItem"].fields["OrderId"], order_id)

    def _order_total(self, order_id: str) -> None:
        order = self.live.get("Order", {}).get(order_id)
        if order is None:
            return
        total = sum((Decimal(str(item.get("TotalPrice") or 0)) for item in self.order_items(order_id)), Decimal("0"))
        changed = dict(order, TotalAmount=float(total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)))
        if changed["TotalAmount"] != order.get("TotalAmount"):
            # The recalculated total is an update of the order, by whoever changed its products.
            self._audit(changed, self._stamp(), created=False, user_id=self.actor_id)
            self._put("Order", changed)


def corporate_currency(field: Field) -> str | None:
    """The org's corporate currency as a CurrencyIsoCode field tells it: its default, else its first value."""
    return field.default or (field.picklist[0] if field.picklist else None)


def _exact(field: Field) -> bool:
    """Whether values of ``field`` match exactly (ids, case-sensitive fields) rather than case-insensitively."""
    return field.caseSensitive or field.type in {"id", "reference"}


def _key(exact: bool, value: Any) -> Any:
    return value.casefold() if isinstance(value, str) and not exact else value


def _match_key(field: Field, value: Any) -> Any:
    return _key(_exact(field), value)


def _length_enforced(org: Org, field: Field) -> bool:
    """A custom field always has its length; standard fields have theirs under the ``field_lengths`` rule."""
    return field.custom or org.rules.get("field_lengths", True)


def _readonly_error(names: list[str]) -> DmlError:
    return DmlError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(names)}. Please check the security settings of this field "
        "and verify that it is read/write for your profile or permission set.",
        names,
    )


def _edit_activated_error(what: str) -> DmlError:
    """Editing an activated order or its products without the Edit Activated Orders permission
    (Salesforce Help, "Editing and Deletion Limitations for Orders" / "... for Order Products")."""
    return DmlError(
        "FIELD_INTEGRITY_EXCEPTION",
        f"You can't {what} an activated order without the Edit Activated Orders permission.",
        [],
    )


def _changed(old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> list[str]:
    """The fields written with a value unlike the stored one (all given fields on create)."""
    if old is None:
        return sorted(given)
    return sorted(name for name in given if record.get(name) != old.get(name))


def _activated_item_delete_check(org: Org) -> None:
    """Order products of an activated order cannot be deleted, even with Edit Activated Orders."""
    if org.rules.get("activated_orders", True):
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            "You can't delete order products from an activated order. Set the order's Status back to Draft first.",
            [],
        )
    if not user_has(org, "EditActivatedOrders"):
        raise _edit_activated_error("delete order products of")


def _activated_item_check(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    """Adding or changing order products of an activated order: Edit Activated Orders, and with
    Enhanced Commerce Orders never the price-affecting fields (Quantity, UnitPrice) nor new products."""
    changed = _changed(old, record, given)
    if not changed:
        return  # an upsert that sends the stored values changes nothing
    if org.rules.get("enhanced_commerce_orders", True):
        locked = [name for name in changed if name in ENHANCED_COMMERCE_LOCKED]
        if old is None or locked:
            raise DmlError(
                "FIELD_INTEGRITY_EXCEPTION",
                "With Enhanced Commerce Orders, you can't add order products to an activated order or change "
                "their price-affecting fields (Quantity, UnitPrice).",
                locked,
            )
    if not user_has(org, "EditActivatedOrders"):
        raise _edit_activated_error("add or edit order products of" if old is None else "edit order products of")


def _activated_order_check(org: Org, old: dict[str, Any], record: dict[str, Any], given: set[str]) -> None:
    """An activated order's fields (its Status too: deactivating is an edit) need Edit Activated Orders;
    its AccountId changes only while it is Draft."""
    changed = _changed(old, record, given)
    if not changed:
        return
    if "AccountId" in changed and org.rules.get("activated_orders", True):
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            "You can change the account of an order only while the order is in Draft status.",
            ["AccountId"],
        )
    if not user_has(org, "EditActivatedOrders"):
        raise _edit_activated_error("edit")


ENHANCED_COMMERCE_LOCKED = {"Quantity", "UnitPrice"}


# --------------------------------------------------------------------- per-object rules


def _order_contacts_check(org: Org, record: dict[str, Any], given: set[str]) -> None:
    """The Order's bill-to and ship-to Contacts are people of its Account (rule ``order_contacts``).

    Checked whenever the Account or a contact link is written, so moving an Order to another Account
    while it keeps the old customer's Contact is refused too. Salesforce's object reference does not
    spell this out (unconfirmed): the stand-in is the stricter, and b2s links only the Contact it places
    under the Order's own Account (orders.links).
    """
    if not org.rules.get("order_contacts", True) or not given & {"AccountId", "BillToContactId", "ShipToContactId"}:
        return
    for name in ("BillToContactId", "ShipToContactId"):
        contact = org.live.get("Contact", {}).get(record.get(name) or "")
        if contact is not None and contact.get("AccountId") != record.get("AccountId"):
            raise DmlError(
                "FIELD_INTEGRITY_EXCEPTION",
                f"{org.schema['Order'].fields[name].label}: the contact must belong to the order's account.",
                [name],
            )


def order_status_category(org: Org, status: str) -> str:
    """The category (StatusCode) of an Order Status value: the picklist value's own, as an admin set it."""
    return org.schema["Order"].fields["Status"].categories.get(status, "Draft")


def _order_rules(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    category = order_status_category(org, record["Status"])
    if old is None:
        if category != "Draft":
            raise DmlError(
                "FIELD_INTEGRITY_EXCEPTION",
                "Choose a valid order status and try again: a new order's Status must be in the Draft category.",
                ["Status"],
            )
        _order_contacts_check(org, record, given)
        return
    items = org.order_items(record["Id"])
    old_category = old.get("StatusCode") or "Draft"
    if old_category == "Activated":
        _activated_order_check(org, old, record, given)
    if category == "Activated" and old_category != "Activated" and not items:
        raise DmlError("FIELD_INTEGRITY_EXCEPTION", "You can't activate an order that has no order products.", [])
    if category == "Activated" and old_category != "Activated" and not user_has(org, "ActivateOrder"):
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION", "You can't activate an order without the Activate Orders permission.", []
        )
    if "Pricebook2Id" in given and record.get("Pricebook2Id") != old.get("Pricebook2Id") and items:
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            "You can't change the price book of an order that has order products.",
            ["Pricebook2Id"],
        )
    _order_contacts_check(org, record, given)


def _order_compute(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    category = order_status_category(org, record["Status"])
    if old is None:
        record["OrderNumber"] = org._autonumber("Order", 8)
        record["TotalAmount"] = 0.0
    record["StatusCode"] = category
    if category == "Activated" and (old is None or old.get("StatusCode") != "Activated"):
        record["ActivatedDate"] = org._stamp()
        record["ActivatedById"] = org.actor_id
    elif category != "Activated":
        record["ActivatedDate"] = None
        record["ActivatedById"] = None


def _order_item_rules(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    order = org.live["Order"][record["OrderId"]]
    if order.get("StatusCode") == "Activated":
        _activated_item_check(org, old, record, given)
    if old is not None:
        return
    if not order.get("Pricebook2Id"):
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            "field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the "
            "one assigned to the order, or order has no pricebook assigned)",
            ["PricebookEntryId"],
        )
    entry = org.live["PricebookEntry"][record["PricebookEntryId"]]
    if entry["Pricebook2Id"] != order["Pricebook2Id"]:
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            "Order Products must have a Price Book Entry that belongs to the Price Book related to the parent Order.",
            ["PricebookEntryId"],
        )
    order_currency, entry_currency = org.currency_of("Order", order), org.currency_of("PricebookEntry", entry)
    if order_currency is not None and entry_currency is not None and order_currency != entry_currency:
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            "field integrity exception: PricebookEntryId (pricebook entry currency code does not match order "
            "currency code)",
            ["PricebookEntryId"],
        )
    if not entry.get("IsActive"):
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            "field integrity exception: PricebookEntryId (pricebook entry is inactive)",
            ["PricebookEntryId"],
        )
    if record.get("Product2Id") and record["Product2Id"] != entry["Product2Id"]:
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            "field integrity exception: Product2Id (the product does not match the price book entry)",
            ["Product2Id"],
        )


def _order_item_compute(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    if old is None:
        entry = org.live["PricebookEntry"][record["PricebookEntryId"]]
        record["Product2Id"] = entry["Product2Id"]
        record["ListPrice"] = entry["UnitPrice"]
        record["OrderItemNumber"] = org._autonumber("OrderItem", 10)
    total = Decimal(str(record["Quantity"])) * Decimal(str(record["UnitPrice"]))
    record["TotalPrice"] = float(total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    record["AvailableQuantity"] = record["Quantity"]


def _pricebook_entry_rules(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    if old is not None:
        return
    # In a multi-currency org a product has one entry per price book and currency.
    currency = org.currency_of("PricebookEntry", record)
    entries = [
        other
        for other in org.match(
            "PricebookEntry", org.schema["PricebookEntry"].fields["Product2Id"], record["Product2Id"]
        )
        if org.currency_of("PricebookEntry", other) == currency
    ]
    if any(other["Pricebook2Id"] == record["Pricebook2Id"] for other in entries):
        raise DmlError("DUPLICATE_VALUE", "This price definition already exists in this price book", [])
    book = org.live["Pricebook2"][record["Pricebook2Id"]]
    if not book.get("IsStandard"):
        standard = [other for other in entries if other["Pricebook2Id"] == org.standard_pricebook_id]
        if not standard:
            raise DmlError("STANDARD_PRICE_NOT_DEFINED", "No standard price defined for this product", [])


def _pricebook_entry_compute(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    product = org.live.get("Product2", {}).get(record["Product2Id"]) or {}
    record["Name"] = product.get("Name")
    record["ProductCode"] = product.get("ProductCode")


def _opportunity_compute(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    stage = OPPORTUNITY_STAGES.get(record["StageName"])
    if stage is None:
        return
    probability, forecast, closed, won = stage
    stage_changed = old is None or old.get("StageName") != record["StageName"]
    # A stage change brings the stage's probability and forecast category unless given too.
    if stage_changed and "Probability" not in given:
        record["Probability"] = float(probability)
    if stage_changed and "ForecastCategoryName" not in given:
        record["ForecastCategoryName"] = forecast
    record["IsClosed"], record["IsWon"] = closed, won


def _task_rules(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    who, what = record.get("WhoId"), record.get("WhatId")
    if who and what and who.startswith(org.schema["Lead"].key_prefix):
        raise DmlError(
            "FIELD_INTEGRITY_EXCEPTION",
            "Related To ID: a task whose Name (WhoId) is a lead cannot be related to another record (WhatId).",
            ["WhatId"],
        )


def _contact_role_compute(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    """One primary contact per Opportunity: a new primary makes the others non-primary."""
    if not record.get("IsPrimary") or "IsPrimary" not in given:
        return
    lookup = org.schema["OpportunityContactRole"].fields["OpportunityId"]
    for other in org.match("OpportunityContactRole", lookup, record["OpportunityId"]):
        if other["Id"] != record["Id"] and other.get("IsPrimary"):
            org._put("OpportunityContactRole", dict(other, IsPrimary=False))


def _task_compute(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    record["IsClosed"] = record.get("Status") in TASK_CLOSED_STATUSES
    record["IsHighPriority"] = record.get("Priority") == "High"


def _product_compute(org: Org, old: dict[str, Any] | None, record: dict[str, Any], given: set[str]) -> None:
    if old is None:
        return
    if record.get("Name") != old.get("Name") or record.get("ProductCode") != old.get("ProductCode"):
        product_field = org.schema["PricebookEntry"].fields["Product2Id"]
        for entry in org.match("PricebookEntry", product_field, record["Id"]):
            org._put("PricebookEntry", dict(entry, Name=record.get("Name"), ProductCode=record.get("ProductCode")))


_RULES = {
    "Lead": lead_update_check,
    "Order": _order_rules,
    "OrderItem": _order_item_rules,
    "PricebookEntry": _pricebook_entry_rules,
    "Task": _task_rules,
}
_COMPUTE = {
    "Order": _order_compute,
    "OrderItem": _order_item_compute,
    "PricebookEntry": _pricebook_entry_compute,
    "Opportunity": _opportunity_compute,
    "OpportunityContactRole": _contact_role_compute,
    "Task": _task_compute,
    "Product2": _product_compute,
}


def record_copy(record: dict[str, Any]) -> dict[str, Any]:
    """A copy the caller may change freely."""
    return copy.deepcopy(record)
