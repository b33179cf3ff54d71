"""Reading BigCommerce's OpenAPI files in tests: a response's documented schema, and validating an answer."""

from __future__ import annotations

from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` within ``spec`` (JSON-pointer escapes included) to the node it names."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def response_schema(spec: dict[str, Any], path: str, status: str = "200", method: str = "get") -> dict[str, Any]:
    """The documented JSON schema of an operation's answer."""
    response = resolve(spec, spec["paths"][path][method]["responses"][status])
    return response["content"]["application/json"]["schema"]


def validate(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Assert ``instance`` matches ``schema`` (refs resolved within ``spec``)."""
    root = {"allOf": [schema], "components": spec["components"]}
    validator = OAS30Validator(root, format_checker=oas30_format_checker)
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:15])
