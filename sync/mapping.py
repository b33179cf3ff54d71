"""Admin-edited field mappings: parse and apply source expressions and transforms.

A source expression picks values out of a BigCommerce document:

* a path: ``billing_address.city``, ``shipping_addresses[0].zip``, ``id``;
* ``a + b``: combine several paths (numbers are summed, text is joined);
* ``a || b``: the first alternative that is not empty wins.

A transform is a ``|``-separated chain applied left to right:
``str``, ``int``, ``decimal``, ``money`` (2 places, half-up), ``date``, ``datetime``,
``upper``, ``lower``, ``lines`` (join with new lines), ``truncate:N``,
``format:TEMPLATE`` (``{}`` stands for the value), ``bool``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<indexes>(?:\[\d+\])*)$")
_INDEX = re.compile(r"\[(\d+)\]")
NUMERIC_TRANSFORMS = frozenset({"int", "decimal", "money"})
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Path:
    """A parsed path: a tuple of keys (str) and list indexes (int)."""

    steps: tuple[str | int, ...]

    def resolve(self, document: Any) -> Any:
        """The value at this path, or None when any step is missing."""
        value = document
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(value, list | tuple) or step >= len(value):
                    return None
                value = value[step]
            else:
                if not isinstance(value, Mapping):
                    return None
                value = value.get(step)
            if value is None:
                return None
        return value


@dataclass(frozen=True)
class SourceExpression:
    """Alternatives (``||``) of sums/joins (``+``) of paths."""

    alternatives: tuple[tuple[Path, ...], ...]


def path_parse(text: str) -> Path:
    """Parse ``a.b[0].c``; raises ValidationError with the offending part."""
    text = text.strip()
    if not text:
        raise ValidationError("The source path is empty.")
    steps: list[str | int] = []
    for segment in text.split("."):
        match = _SEGMENT.match(segment.strip())
        if not match:
            raise ValidationError(f"Cannot parse the path segment {segment!r} in {text!r}.")
        steps.append(match.group("name"))
        steps.extend(int(index) for index in _INDEX.findall(match.group("indexes")))
    return Path(tuple(steps))


def expression_parse(text: str) -> SourceExpression:
    """Parse a source expression (see the module docstring)."""
    alternatives = []
    for alternative in text.split("||"):
        parts = tuple(path_parse(part) for part in alternative.split("+"))
        alternatives.append(parts)
    return SourceExpression(tuple(alternatives))


def _to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)  # never let binary floats leak into money
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def parse_datetime_any(value: Any) -> datetime | None:
    """A BigCommerce date: RFC 2822 (v2), ISO 8601 (v3) or Unix seconds; None for empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            raise ValueError(f"not a date: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: Any, tz: ZoneInfo) -> str | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    parsed = parse_datetime_any(value)
    return parsed.astimezone(tz).date().isoformat() if parsed else None


def _datetime(value: Any, tz: ZoneInfo) -> str | None:
    parsed = parse_datetime_any(value)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000") if parsed else None


def _money(value: Any) -> Decimal | None:
    number = _to_decimal(value)
    return number.quantize(CENT, rounding=ROUND_HALF_UP) if number is not None else None


def _int(value: Any) -> int | None:
    number = _to_decimal(value)
    return int(number) if number is not None else None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "on")
    return bool(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


Transform = Callable[[Any, ZoneInfo], Any]


def _simple(function: Callable[[Any], Any]) -> Transform:
    return lambda value, tz: function(value)


def _truncate(argument: str) -> Transform:
    try:
        limit = int(argument)
    except ValueError:
        raise ValidationError(f"truncate needs a whole number, not {argument!r}.") from None
    if limit <= 0:
        raise ValidationError("truncate needs a positive length.")
    return lambda value, tz: None if value is None else str(value)[:limit]


def _format(argument: str) -> Transform:
    if "{}" not in argument:
        raise ValidationError("format needs a template with {} where the value goes.")
    return lambda value, tz: None if value is None else argument.replace("{}", str(value))


_TRANSFORMS: dict[str, Transform] = {
    "str": _simple(_text),
    "int": _simple(_int),
    "decimal": _simple(_to_decimal),
    "money": _simple(_money),
    "date": _date,
    "datetime": _datetime,
    "upper": _simple(lambda v: None if v is None else str(v).upper()),
    "lower": _simple(lambda v: None if v is None else str(v).lower()),
    "lines": _simple(_text),
    "bool": _simple(_bool),
}
_TRANSFORMS_WITH_ARGUMENT: dict[str, Callable[[str], Transform]] = {"truncate": _truncate, "format": _format}


@dataclass(frozen=True)
class TransformChain:
    names: tuple[str, ...]
    functions: tuple[Transform, ...]

    @property
    def numeric(self) -> bool:
        return bool(self.names) and self.names[0] in NUMERIC_TRANSFORMS

    @property
    def joiner(self) -> str:
        return "\n" if "lines" in self.names else " "

    def apply(self, value: Any, tz: ZoneInfo) -> Any:
        for function in self.functions:
            value = function(value, tz)
        return value


def transform_parse(text: str) -> TransformChain:
    """Parse ``str|truncate:80``; an empty text means the value as it is."""
    names, functions = [], []
    for raw in (part.strip() for part in (text or "").split("|")):
        if not raw:
            continue
        name, _, argument = raw.partition(":")
        if name in _TRANSFORMS and not argument:
            functions.append(_TRANSFORMS[name])
        elif name in _TRANSFORMS_WITH_ARGUMENT:
            functions.append(_TRANSFORMS_WITH_ARGUMENT[name](argument))
        else:
            known = ", ".join(sorted([*_TRANSFORMS, *(f"{n}:N" for n in _TRANSFORMS_WITH_ARGUMENT)]))
            raise ValidationError(f"Unknown transform {raw!r}; known: {known}.")
        names.append(name)
    return TransformChain(tuple(names), tuple(functions))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def expression_evaluate(expression: SourceExpression, document: Any, *, numeric: bool, joiner: str) -> Any:
    """Evaluate the expression: the first non-empty alternative, parts summed or joined."""
    for parts in expression.alternatives:
        values = [path.resolve(document) for path in parts]
        present = [value for value in values if not _empty(value)]
        if not present:
            continue
        if len(parts) == 1:
            return present[0]
        if numeric:
            return sum((_to_decimal(value) or Decimal(0) for value in present), Decimal(0))
        return joiner.join(str(value).strip() for value in present if str(value).strip())
    return None


@dataclass(frozen=True)
class CompiledMapping:
    """One mapping row, parsed once."""

    sf_field: str
    expression: SourceExpression
    transform: TransformChain
    default: str

    def value(self, document: Any, *, tz: ZoneInfo) -> Any:
        raw = expression_evaluate(
            self.expression, document, numeric=self.transform.numeric, joiner=self.transform.joiner
        )
        if _empty(raw) and self.default != "":
            raw = self.default
        return self.transform.apply(raw, tz)


def mapping_compile(*, sf_field: str, source_path: str, transform: str, default: str = "") -> CompiledMapping:
    """Parse one mapping; raises ValidationError with a clear message when it cannot be parsed."""
    return CompiledMapping(sf_field, expression_parse(source_path), transform_parse(transform), default or "")


def mappings_apply(mappings: Iterable[CompiledMapping], document: Any, *, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """The Salesforce field values for ``document``; Decimal values are kept exact."""
    zone = tz or ZoneInfo("UTC")
    return {mapping.sf_field: mapping.value(document, tz=zone) for mapping in mappings}
