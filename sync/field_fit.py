"""Fitting text values to the lengths of the Salesforce fields they are written to (pure, no I/O).

A text value longer than its field fails the whole record with ``STRING_TOO_LONG``, and BigCommerce
allows longer values than Salesforce's standard fields hold (street lines of 255 each, city 100,
state 100, zip 30). So every record b2s sends is fitted at the wire (``SalesforceClient``) to the
lengths the org's describe reports; what was shortened is noted for the audit entry.

Lengths count UTF-16 code units, as Salesforce (Java) does: a character outside the Basic
Multilingual Plane (an emoji) counts two. A cut never splits such a pair. An email address too long
for its field is dropped rather than cut (a cut address is invalid, or worse, someone else's).
Values that are not strings, and composite references (``@{ref.id}``), are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Describe types whose ``length`` limits the value. Left out on purpose: restricted picklists (a cut
# value is not in the list either; Salesforce's own error says more) and multi-select picklists (a
# cut would leave a partial value); ids and references are never free text.
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "combobox", "encryptedstring"})
_REFERENCE = re.compile(r"@\{[^}]+\}")
# Marks a value to drop (an email that cannot fit): ``record_fit`` leaves the field out of the record.
DROP = object()


@dataclass(frozen=True)
class FieldLimit:
    """One text field's limit, from describe."""

    name: str
    type: str
    length: int


def field_limits_from_describe(describe: dict[str, Any]) -> dict[str, FieldLimit]:
    """``{lower-case field name: FieldLimit}`` of the object's text fields that have a length."""
    limits: dict[str, FieldLimit] = {}
    for entry in describe.get("fields") or []:
        kind = str(entry.get("type") or "")
        length = int(entry.get("length") or 0)
        if kind not in TEXT_TYPES or length <= 0:
            continue
        if kind == "picklist" and entry.get("restrictedPicklist"):
            continue
        limits[str(entry["name"]).lower()] = FieldLimit(str(entry["name"]), kind, length)
    return limits


def text_length(text: str) -> int:
    """The length Salesforce counts: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def text_cut(text: str, length: int) -> str:
    """``text`` cut to at most ``length`` UTF-16 code units (no half pair), trailing blanks removed."""
    if text_length(text) <= length:
        return text
    units = 0
    cut = len(text)
    for index, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > length:
            cut = index
            break
    return text[:cut].rstrip()


def value_fit(value: Any, limit: FieldLimit) -> Any:
    """The value as it fits ``limit``: the same object when it fits or is not free text, ``DROP`` for an email."""
    if not isinstance(value, str) or text_length(value) <= limit.length or _REFERENCE.search(value):
        return value
    if limit.type == "email":
        return DROP
    return text_cut(value, limit.length)


def record_fit(
    record: dict[str, Any], limits: dict[str, FieldLimit], *, sobject: str, dropped: Any = DROP
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the record fitted, notes ``{"object", "field", "from", "to"}`` in UTF-16 units).

    The record is returned as it is when nothing changed, else as a copy (the caller's dict is never
    modified). A dropped email is left out, or set to ``dropped`` when given (Bulk API CSV rows keep
    every column: an empty value there leaves the field unchanged).
    """
    if not limits:
        return record, []
    fitted: dict[str, Any] | None = None
    notes: list[dict[str, Any]] = []
    for name, value in record.items():
        limit = limits.get(name.lower()) if isinstance(value, str) else None
        if limit is None:
            continue
        new = value_fit(value, limit)
        if new is value:
            continue
        if fitted is None:
            fitted = dict(record)
        if new is DROP:
            if dropped is DROP:
                del fitted[name]
            else:
                fitted[name] = dropped
            notes.append({"object": sobject, "field": limit.name, "from": text_length(value), "to": 0})
        else:
            fitted[name] = new
            notes.append({"object": sobject, "field": limit.name, "from": text_length(value), "to": text_length(new)})
    return (fitted if fitted is not None else record), notes
