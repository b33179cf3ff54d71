"""Salesforce error shapes.

A request-level error answers ``[{"message", "errorCode"(, "fields")}]`` with an HTTP status; a record-level
(DML) error is the same inside a single-record call, but becomes a SaveResult entry
``{"statusCode", "message", "fields"}`` inside sObject Collections and Bulk results.
"""

from __future__ import annotations

from typing import Any

NOT_FOUND_MESSAGE = "The requested resource does not exist"
HALTED_MESSAGE = "The transaction was rolled back since another operation in the same transaction failed."


def error_entry(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    """One entry of an error list; ``fields`` is left out when None (as Salesforce does for non-DML errors)."""
    entry: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        entry["fields"] = list(fields)
    return entry


class ApiError(Exception):
    """A request that fails as a whole: HTTP ``status`` with a JSON list of errors."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.errors = [error_entry(code, message, fields)]

    @property
    def code(self) -> str:
        code: str = self.errors[0]["errorCode"]
        return code

    def body(self) -> list[dict[str, Any]]:
        return [dict(entry) for entry in self.errors]


class DmlError(ApiError):
    """A record that cannot be saved (400); one entry per problem, each naming its fields."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(400, code, message, fields if fields is not None else [])

    def save_errors(self) -> list[dict[str, Any]]:
        """The errors as SaveResult entries (``statusCode``, not ``errorCode``)."""
        return [
            {"statusCode": entry["errorCode"], "message": entry["message"], "fields": entry.get("fields", [])}
            for entry in self.errors
        ]


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
