"""A SOQL subset: parse, check against the schema, and run against the org's records.

Supported: ``SELECT`` fields (with parent relationship paths such as ``Account.Owner.Name``,
child subqueries such as ``(SELECT Id FROM OrderItems)``, ``COUNT()`` and the aggregates
``COUNT/COUNT_DISTINCT/SUM/AVG/MIN/MAX(field)`` without GROUP BY), ``FROM``, ``WHERE`` with
``= != <> < > <= >= IN / NOT IN / LIKE``, ``AND OR NOT`` and parentheses (mixing AND and OR needs
parentheses, as in SOQL), literals (strings with escapes, numbers, true/false/null, dates,
datetimes, date constants such as ``TODAY`` and ``LAST_N_DAYS:n``), ``ORDER BY`` (ASC/DESC,
NULLS FIRST/LAST), ``LIMIT`` and ``OFFSET``. Text comparisons are case-insensitive and dates are
evaluated in UTC (the org's time zone is GMT). Anything else is refused with MALFORMED_QUERY.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.ids import id_normalize
from sandbox.salesforce.schema import NUMBER_TYPES, TEXT_TYPES, Field, Schema, SObjectType
from sandbox.salesforce.store import Org, date_parse, datetime_parse, now_utc

MAX_OFFSET = 2000
_UNSUPPORTED = {"GROUP", "HAVING", "WITH", "FOR", "USING", "TYPEOF", "INCLUDES", "EXCLUDES", "UPDATE"}
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "TRUE",
    "FALSE",
    "NULL",
} | _UNSUPPORTED
_AGGREGATES = {"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"}
_DATE_CONSTANTS = {
    "TODAY",
    "YESTERDAY",
    "TOMORROW",
    "LAST_WEEK",
    "THIS_WEEK",
    "NEXT_WEEK",
    "LAST_MONTH",
    "THIS_MONTH",
    "NEXT_MONTH",
    "LAST_90_DAYS",
    "NEXT_90_DAYS",
    "THIS_YEAR",
    "LAST_YEAR",
    "NEXT_YEAR",
}
_DATE_CONSTANTS_N = {"LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?|[+-]?\.\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),:])
  | (?P<string>')
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass
class Token:
    kind: str
    value: Any
    pos: int

    @property
    def upper(self) -> str:
        return str(self.value).upper() if self.kind == "ident" else ""


@dataclass
class Path:
    """A field reference, resolved to a chain of relationship fields and a final field."""

    parts: list[str]
    pos: int
    leaf: Field
    relations: list[Field] = field(default_factory=list)
    # The leaf's candidates when the last relationship is polymorphic (What.Name, Who.Name).
    leaf_by_type: dict[str, Field] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return ".".join(self.parts)


@dataclass
class Literal:
    kind: str  # string, number, boolean, null, date, datetime, range
    value: Any
    pos: int
    text: str


@dataclass
class Aggregate:
    function: str
    path: Path | None
    alias: str | None


@dataclass
class Query:
    sobject: SObjectType
    paths: list[Path] = field(default_factory=list)
    subqueries: list[tuple[str, Query, Field]] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    count_only: bool = False
    where: Any = None
    order: list[tuple[Path, bool, bool]] = field(default_factory=list)  # (path, descending, nulls_first)
    limit: int | None = None
    offset: int = 0
    columns: list[str] = field(default_factory=list)


class SoqlError(ApiError):
    """A query error with Salesforce's message layout (the query, a caret, row and column)."""

    def __init__(self, code: str, text: str, pos: int, detail: str) -> None:
        pos = max(0, min(pos, len(text)))
        row = text.count("\n", 0, pos) + 1
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        column = pos - line_start + 1
        message = f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{detail}"
        super().__init__(400, code, message)


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise SoqlError("MALFORMED_QUERY", text, pos, f"unexpected token: '{text[pos]}'")
        kind = match.lastgroup or ""
        if kind == "ws":
            pos = match.end()
            continue
        if kind == "string":
            value, pos_end = _string_read(text, pos)
            tokens.append(Token("string", value, pos))
            pos = pos_end
            continue
        if kind == "number" and tokens and tokens[-1].kind in {"number", "string", "ident"} and match[0][0] in "+-":
            raise SoqlError("MALFORMED_QUERY", text, pos, f"unexpected token: '{match[0]}'")
        tokens.append(Token(kind, match[0], pos))
        pos = match.end()
    tokens.append(Token("eof", None, len(text)))
    return tokens


def _string_read(text: str, start: int) -> tuple[str, int]:
    out = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            if pos + 1 >= len(text):
                break
            nxt = text[pos + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "%_":
                out.append("\\" + nxt)  # kept escaped: only LIKE gives it meaning
            else:
                raise SoqlError("MALFORMED_QUERY", text, pos, f"Invalid string literal '{text[start : pos + 2]}'")
            pos += 2
            continue
        if char == "'":
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise SoqlError("MALFORMED_QUERY", text, start, f"line 1:{len(text)} mismatched character '<EOF>' expecting \"'\"")


class _Parser:
    def __init__(self, text: str, schema: Schema) -> None:
        self.text = text
        self.schema = schema
        self.tokens = _tokenize(text)
        self.index = 0

    # --- token helpers
    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def unexpected(self, token: Token | None = None) -> SoqlError:
        token = token or self.token
        shown = "<EOF>" if token.kind == "eof" else f"'{self.text[token.pos : token.pos + len(str(token.value))]}'"
        if token.kind == "string":
            shown = f"'{token.value}'"
        return SoqlError("MALFORMED_QUERY", self.text, token.pos, f"unexpected token: {shown}")

    def keyword(self, *words: str) -> bool:
        return self.token.kind == "ident" and self.token.upper in words

    def expect_keyword(self, word: str) -> Token:
        if not self.keyword(word):
            raise self.unexpected()
        return self.advance()

    def expect(self, kind: str, value: str | None = None) -> Token:
        token = self.token
        if token.kind != kind or (value is not None and token.value != value):
            raise self.unexpected()
        return self.advance()

    def unsupported_check(self) -> None:
        if self.keyword(*_UNSUPPORTED):
            raise SoqlError(
                "MALFORMED_QUERY",
                self.text,
                self.token.pos,
                f"unexpected token: '{self.token.value}' (not supported by the sandbox stand-in)",
            )

    # --- grammar
    def query(self, parent: SObjectType | None = None) -> Query:
        self.expect_keyword("SELECT")
        items = self.select_items()
        self.expect_keyword("FROM")
        from_token = self.token
        # Object names may be keywords elsewhere (``FROM Order``): any identifier is an object name here.
        if from_token.kind != "ident":
            raise self.unexpected()
        self.advance()
        child_field = None
        if parent is None:
            sobject = self.schema.get(from_token.value)
            if sobject is None or not sobject.queryable:
                detail = (
                    f"sObject type '{from_token.value}' is not supported. If you are attempting to use a custom "
                    "object, be sure to append the '__c' after the entity name. Please reference your WSDL or "
                    "the describe call for the appropriate names."
                )
                raise SoqlError("INVALID_TYPE", self.text, from_token.pos, detail)
        else:
            relation = next(
                (
                    (child, lookup)
                    for name, child, lookup in self.schema.children(parent.name)
                    if name.lower() == str(from_token.value).lower()
                ),
                None,
            )
            if relation is None:
                detail = (
                    f"Didn't understand relationship '{from_token.value}' in FROM part of query call. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after the custom "
                    "relationship name. Please reference your WSDL or the describe call for the appropriate names."
                )
                raise SoqlError("INVALID_TYPE", self.text, from_token.pos, detail)
            sobject, child_field = relation
        query = Query(sobject)
        query.child_field = child_field  # type: ignore[attr-defined]
        self.select_resolve(query, items)
        self.unsupported_check()
        if self.keyword("WHERE"):
            self.advance()
            query.where = self.condition(query.sobject)
        self.unsupported_check()
        if self.keyword("ORDER"):
            self.advance()
            self.expect_keyword("BY")
            query.order = self.order_items(query.sobject)
        self.unsupported_check()
        if self.keyword("LIMIT"):
            self.advance()
            query.limit = self.integer()
        if self.keyword("OFFSET"):
            self.advance()
            query.offset = self.integer()
            if query.offset > MAX_OFFSET:
                raise ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
        self.unsupported_check()
        return query

    def integer(self) -> int:
        token = self.token
        if token.kind != "number" or not re.fullmatch(r"\d+", token.value):
            raise self.unexpected()
        self.advance()
        return int(token.value)

    def select_items(self) -> list[tuple[str, Any]]:
        items: list[tuple[str, Any]] = []
        while True:
            token = self.token
            if token.kind == "punct" and token.value == "(":
                self.advance()
                items.append(("sub", self.index))
                # Parsed once the outer object is known: skip to the closing parenthesis.
                depth = 1
                while depth:
                    current = self.advance()
                    if current.kind == "eof":
                        raise self.unexpected(current)
                    if current.kind == "punct" and current.value == "(":
                        depth += 1
                    elif current.kind == "punct" and current.value == ")":
                        depth -= 1
            elif token.kind == "ident" and token.upper in _AGGREGATES and self.tokens[self.index + 1].value == "(":
                self.advance()
                self.advance()
                argument = None
                if not (self.token.kind == "punct" and self.token.value == ")"):
                    arg_token = self.token
                    if arg_token.kind != "ident" or arg_token.upper in _KEYWORDS:
                        raise self.unexpected()
                    argument = self.advance()
                self.expect("punct", ")")
                alias = None
                if self.token.kind == "ident" and self.token.upper not in _KEYWORDS:
                    alias = self.advance().value
                items.append(("agg", (token, argument, alias)))
            elif token.kind == "ident" and token.upper not in _KEYWORDS:
                self.advance()
                items.append(("field", token))
            else:
                raise self.unexpected()
            if self.token.kind == "punct" and self.token.value == ",":
                self.advance()
                continue
            return items

    def select_resolve(self, query: Query, items: list[tuple[str, Any]]) -> None:
        seen: set[str] = set()
        for kind, payload in items:
            if kind == "field":
                path = self.path(query.sobject, payload)
                key = path.label.lower()
                if key in seen:
                    raise SoqlError(
                        "MALFORMED_QUERY", self.text, payload.pos, f"duplicate field selected: {path.label}"
                    )
                seen.add(key)
                query.paths.append(path)
            elif kind == "sub":
                saved = self.index
                self.index = payload
                sub = self.query(parent=query.sobject)
                self.expect("punct", ")")
                self.index = saved
                name = next(
                    name
                    for name, child, lookup in self.schema.children(query.sobject.name)
                    if child is sub.sobject and lookup is sub.child_field  # type: ignore[attr-defined]
                )
                query.subqueries.append((name, sub, sub.child_field))  # type: ignore[attr-defined]
            else:
                function_token, argument, alias = payload
                function = function_token.upper
                if function == "COUNT" and argument is None:
                    if len(items) > 1:
                        raise SoqlError(
                            "MALFORMED_QUERY",
                            self.text,
                            function_token.pos,
                            "COUNT() and other fields cannot be selected together",
                        )
                    query.count_only = True
                    continue
                if argument is None:
                    raise self.unexpected(function_token)
                path = self.path(query.sobject, argument)
                query.aggregates.append(Aggregate(function, path, alias))
        if query.aggregates and (query.paths or query.subqueries):
            first = query.paths[0] if query.paths else None
            raise SoqlError(
                "MALFORMED_QUERY",
                self.text,
                first.pos if first else 0,
                f"Field must be grouped or aggregated: {first.label if first else 'subquery'}",
            )

    def path(self, sobject: SObjectType, token: Token) -> Path:
        parts = str(token.value).split(".")
        if len(parts) > 1 and parts[0].lower() == sobject.name.lower() and sobject.relationship(parts[0]) is None:
            parts = parts[1:]
        relations: list[Field] = []
        current: list[SObjectType] = [sobject]
        for part in parts[:-1]:
            relation = None
            for candidate in current:
                relation = candidate.relationship(part)
                if relation is not None:
                    break
            if relation is None:
                detail = (
                    f"Didn't understand relationship '{part}' in field path. If you are attempting to use a custom "
                    "relationship, be sure to append the '__r' after the custom relationship name. Please reference "
                    "your WSDL or the describe call for the appropriate names."
                )
                raise SoqlError("INVALID_FIELD", self.text, token.pos, detail)
            relations.append(relation)
            current = [self.schema[name] for name in relation.referenceTo if name in self.schema]
        leaf_name = parts[-1]
        leaf_by_type: dict[str, Field] = {}
        leaf: Field | None = None
        for candidate in current:
            found = candidate.field(leaf_name)
            if found is not None:
                leaf_by_type[candidate.name] = found
                leaf = leaf or found
        if leaf is None:
            owner = current[0].name if current else sobject.name
            detail = (
                f"No such column '{leaf_name}' on entity '{owner}'. If you are attempting to use a custom field, be "
                "sure to append the '__c' after the custom field name. Please reference your WSDL or the describe "
                "call for the appropriate names."
            )
            raise SoqlError("INVALID_FIELD", self.text, token.pos, detail)
        parts = [relation.relationshipName or "" for relation in relations] + [leaf.name]
        return Path(parts, token.pos, leaf, relations, leaf_by_type)

    def order_items(self, sobject: SObjectType) -> list[tuple[Path, bool, bool]]:
        out = []
        while True:
            token = self.token
            if token.kind != "ident" or token.upper in _KEYWORDS:
                raise self.unexpected()
            self.advance()
            path = self.path(sobject, token)
            descending = False
            if self.keyword("ASC", "DESC"):
                descending = self.advance().upper == "DESC"
            nulls_first = not descending
            if self.keyword("NULLS"):
                self.advance()
                if not self.keyword("FIRST", "LAST"):
                    raise self.unexpected()
                nulls_first = self.advance().upper == "FIRST"
            out.append((path, descending, nulls_first))
            if self.token.kind == "punct" and self.token.value == ",":
                self.advance()
                continue
            return out

    def condition(self, sobject: SObjectType) -> Any:
        first = self.unary(sobject)
        connector = None
        terms = [first]
        while self.keyword("AND", "OR"):
            word = self.token.upper
            if connector is not None and word != connector:
                raise self.unexpected()  # SOQL needs parentheses to mix AND and OR
            connector = word
            self.advance()
            terms.append(self.unary(sobject))
        if connector is None:
            return first
        return (connector.lower(), terms)

    def unary(self, sobject: SObjectType) -> Any:
        if self.keyword("NOT"):
            self.advance()
            return ("not", self.unary(sobject))
        if self.token.kind == "punct" and self.token.value == "(":
            self.advance()
            inner = self.condition(sobject)
            self.expect("punct", ")")
            return inner
        return self.comparison(sobject)

    def comparison(self, sobject: SObjectType) -> Any:
        token = self.token
        if token.kind != "ident" or token.upper in _KEYWORDS:
            raise self.unexpected()
        self.advance()
        path = self.path(sobject, token)
        if self.keyword("NOT") and self.tokens[self.index + 1].upper == "IN":
            self.advance()
            self.advance()
            return ("in", path, True, self.literal_list(path))
        if self.keyword("IN"):
            self.advance()
            return ("in", path, False, self.literal_list(path))
        if self.keyword("LIKE"):
            self.advance()
            literal_token = self.token
            if literal_token.kind != "string":
                raise self.unexpected()
            self.advance()
            if path.leaf.type not in TEXT_TYPES | {"id", "reference"}:
                raise SoqlError(
                    "INVALID_FIELD",
                    self.text,
                    token.pos,
                    f"invalid operator on field '{path.label}': LIKE works on text fields only",
                )
            return ("like", path, _like_regex(literal_token.value))
        if self.token.kind != "op":
            raise self.unexpected()
        operator = self.advance().value
        operator = "!=" if operator == "<>" else operator
        literal = self.literal(path)
        return ("cmp", path, operator, literal)

    def literal_list(self, path: Path) -> list[Literal]:
        self.expect("punct", "(")
        if self.keyword("SELECT"):
            raise SoqlError(
                "MALFORMED_QUERY", self.text, self.token.pos, "semi-join subqueries are not supported by the sandbox"
            )
        values = [self.literal(path)]
        while self.token.kind == "punct" and self.token.value == ",":
            self.advance()
            values.append(self.literal(path))
        self.expect("punct", ")")
        return values

    def literal(self, path: Path) -> Literal:
        token = self.advance()
        if token.kind == "string":
            literal = Literal("string", token.value, token.pos, f"'{token.value}'")
        elif token.kind == "number":
            literal = Literal("number", float(token.value), token.pos, token.value)
        elif token.kind == "date":
            parsed = date_parse(token.value)
            if parsed is None:
                raise self.unexpected(token)
            literal = Literal("date", parsed, token.pos, token.value)
        elif token.kind == "datetime":
            parsed_dt = datetime_parse(token.value)
            if parsed_dt is None:
                raise self.unexpected(token)
            literal = Literal("datetime", parsed_dt, token.pos, token.value)
        elif token.kind == "ident" and token.upper in {"TRUE", "FALSE"}:
            literal = Literal("boolean", token.upper == "TRUE", token.pos, token.value)
        elif token.kind == "ident" and token.upper == "NULL":
            literal = Literal("null", None, token.pos, token.value)
        elif token.kind == "ident" and token.upper in _DATE_CONSTANTS:
            literal = Literal("range", _date_range(token.upper, None), token.pos, token.value)
        elif token.kind == "ident" and token.upper in _DATE_CONSTANTS_N:
            self.expect("punct", ":")
            amount = self.integer()
            literal = Literal("range", _date_range(token.upper, amount), token.pos, f"{token.value}:{amount}")
        else:
            raise self.unexpected(token)
        self.literal_check(path, literal)
        return literal

    def literal_check(self, path: Path, literal: Literal) -> None:
        if literal.kind == "null":
            return
        kind = path.leaf.type
        expected = None
        if kind in {"id", "reference"}:
            if literal.kind != "string":
                expected = ("id", True)
            elif id_normalize(literal.value) is None:
                raise SoqlError(
                    "INVALID_QUERY_FILTER_OPERATOR", self.text, literal.pos, f"invalid ID field: {literal.value}"
                )
        elif kind in TEXT_TYPES:
            if literal.kind != "string":
                expected = ("string", True)
        elif kind in NUMBER_TYPES:
            if literal.kind != "number":
                expected = ("double" if kind != "int" else "integer", False)
        elif kind == "boolean":
            if literal.kind != "boolean":
                expected = ("boolean", False)
        elif kind == "date":
            if literal.kind not in {"date", "range"}:
                expected = ("date", False)
        elif kind == "datetime" and literal.kind not in {"datetime", "range"}:
            expected = ("dateTime", False)
        if expected is not None:
            type_name, quoted = expected
            hint = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
            raise SoqlError(
                "INVALID_FIELD",
                self.text,
                literal.pos,
                f"value of filter criterion for field '{path.leaf.name}' must be of type {type_name} and {hint}",
            )


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "%_":
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def _date_range(name: str, amount: int | None) -> tuple[date, date]:
    """[start, end) in days for a date constant, in the org's time zone (GMT)."""
    today = now_utc().date()
    week_start = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday
    month_start = today.replace(day=1)

    def month_add(day: date, months: int) -> date:
        index = day.year * 12 + day.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)

    n = amount or 0
    table = {
        "TODAY": (today, today + timedelta(days=1)),
        "YESTERDAY": (today - timedelta(days=1), today),
        "TOMORROW": (today + timedelta(days=1), today + timedelta(days=2)),
        "THIS_WEEK": (week_start, week_start + timedelta(days=7)),
        "LAST_WEEK": (week_start - timedelta(days=7), week_start),
        "NEXT_WEEK": (week_start + timedelta(days=7), week_start + timedelta(days=14)),
        "THIS_MONTH": (month_start, month_add(month_start, 1)),
        "LAST_MONTH": (month_add(month_start, -1), month_start),
        "NEXT_MONTH": (month_add(month_start, 1), month_add(month_start, 2)),
        "LAST_90_DAYS": (today - timedelta(days=90), today + timedelta(days=1)),
        "NEXT_90_DAYS": (today + timedelta(days=1), today + timedelta(days=91)),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        "NEXT_YEAR": (date(today.year + 1, 1, 1), date(today.year + 2, 1, 1)),
        "LAST_N_DAYS": (today - timedelta(days=n), today + timedelta(days=1)),
        "NEXT_N_DAYS": (today + timedelta(days=1), today + timedelta(days=n + 1)),
        "N_DAYS_AGO": (today - timedelta(days=n), today - timedelta(days=n - 1)),
    }
    return table[name]


def query_parse(text: str, schema: Schema) -> Query:
    """Parse and check a SOQL query; raises ApiError (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, ...)."""
    if not text or not text.strip():
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    parser = _Parser(text, schema)
    query = parser.query()
    if parser.token.kind != "eof":
        raise parser.unexpected()
    return query


# ------------------------------------------------------------------------- running


class Runner:
    """Runs parsed queries against an org; builds REST records or flat CSV rows."""

    def __init__(self, org: Org, *, version: str, include_deleted: bool = False) -> None:
        self.org = org
        self.version = version
        self.include_deleted = include_deleted

    def records(self, query: Query) -> tuple[int, list[dict[str, Any]]]:
        """(totalSize, records) in REST JSON form."""
        matched = self._matched(query, self.org.rows(query.sobject.name, include_deleted=self.include_deleted))
        if query.count_only:
            return len(matched), []
        if query.aggregates:
            return 1, [self._aggregate_row(query, matched)]
        return len(matched), [self._project(query, record) for record in matched]

    def flat(self, query: Query) -> tuple[list[str], list[list[Any]]]:
        """(header, rows) for CSV results (Bulk API query jobs)."""
        matched = self._matched(query, self.org.rows(query.sobject.name, include_deleted=self.include_deleted))
        header = [path.label for path in query.paths]
        rows = [[self._value(record, path) for path in query.paths] for record in matched]
        return header, rows

    def _matched(self, query: Query, candidates: Any) -> list[dict[str, Any]]:
        matched = [record for record in candidates if query.where is None or self._test(query.where, record)]
        if query.order:
            order = query.order

            def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
                return self._compare(order, a, b)

            matched.sort(key=functools.cmp_to_key(compare))
        end = None if query.limit is None else query.offset + query.limit
        return matched[query.offset : end]

    # --- values
    def _target(self, record: dict[str, Any], relations: list[Field]) -> dict[str, Any] | None:
        current: dict[str, Any] | None = record
        for relation in relations:
            if current is None:
                return None
            found = self.org.get(current.get(relation.name), include_deleted=True)
            current = found[1] if found else None
        return current

    def _type_of(self, record: dict[str, Any]) -> str | None:
        return self.org.types.get(record.get("Id") or "")

    def _leaf(self, path: Path, target: dict[str, Any]) -> Field | None:
        if not path.relations:
            return path.leaf
        return path.leaf_by_type.get(self._type_of(target) or "")

    def _value(self, record: dict[str, Any], path: Path) -> Any:
        target = self._target(record, path.relations)
        if target is None:
            return None
        leaf = self._leaf(path, target)
        return None if leaf is None else target.get(leaf.name)

    # --- where
    def _test(self, node: Any, record: dict[str, Any]) -> bool:
        kind = node[0]
        if kind == "and":
            return all(self._test(term, record) for term in node[1])
        if kind == "or":
            return any(self._test(term, record) for term in node[1])
        if kind == "not":
            return not self._test(node[1], record)
        path = node[1]
        value = self._value(record, path)
        if kind == "like":
            return isinstance(value, str) and bool(node[2].match(value))
        if kind == "in":
            hit = any(_compare_values(path.leaf, value, "=", literal) for literal in node[3])
            return not hit if node[2] else hit
        return _compare_values(path.leaf, value, node[2], node[3])

    def _compare(self, order: list[tuple[Path, bool, bool]], a: dict[str, Any], b: dict[str, Any]) -> int:
        for path, descending, nulls_first in order:
            left, right = self._value(a, path), self._value(b, path)
            if path.leaf.type not in {"id", "reference"}:  # ids sort case-sensitively (0-9 < A-Z < a-z)
                left, right = _sort_key(left), _sort_key(right)
            if left == right:
                continue
            if left is None or right is None:
                return (-1 if left is None else 1) * (1 if nulls_first else -1)
            result = -1 if left < right else 1
            return -result if descending else result
        return 0

    # --- output
    def _attributes(self, sobject: str, record_id: str | None) -> dict[str, Any]:
        attributes = {"type": sobject}
        if record_id:
            attributes["url"] = f"/services/data/v{self.version}/sobjects/{sobject}/{record_id}"
        return attributes

    def _project(self, query: Query, record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": self._attributes(query.sobject.name, record.get("Id"))}
        for path in query.paths:
            holder: dict[str, Any] | None = out
            current: dict[str, Any] | None = record
            for relation in path.relations:
                name = relation.relationshipName or relation.name
                assert holder is not None
                if name not in holder:
                    found = self.org.get(current.get(relation.name) if current else None, include_deleted=True)
                    if found is None:
                        holder[name] = None
                        current = None
                    else:
                        holder[name] = {"attributes": self._attributes(found[0], found[1]["Id"])}
                        current = found[1]
                else:
                    found = self.org.get(current.get(relation.name) if current else None, include_deleted=True)
                    current = found[1] if found else None
                holder = holder[name]
                if holder is None:
                    break
            if holder is None or current is None:
                continue
            leaf = self._leaf(path, current)
            holder[path.leaf.name if leaf is None else leaf.name] = None if leaf is None else current.get(leaf.name)
        for name, sub, lookup in query.subqueries:
            if self.include_deleted:
                children = [
                    child
                    for child in self.org.rows(sub.sobject.name, include_deleted=True)
                    if child.get(lookup.name) == record.get("Id")
                ]
            else:
                children = self.org.match(sub.sobject.name, lookup, record.get("Id"))
            rows = self._matched(sub, children)
            out[name] = (
                {"totalSize": len(rows), "done": True, "records": [self._project(sub, row) for row in rows]}
                if rows
                else None
            )
        return out

    def _aggregate_row(self, query: Query, matched: list[dict[str, Any]]) -> dict[str, Any]:
        row: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        unnamed = 0
        for aggregate in query.aggregates:
            assert aggregate.path is not None
            values = [self._value(record, aggregate.path) for record in matched]
            present = [value for value in values if value is not None]
            function = aggregate.function
            if function == "COUNT":
                result: Any = len(present)
            elif function == "COUNT_DISTINCT":
                result = len({_sort_key(value) for value in present})
            elif not present:
                result = None
            elif function == "SUM":
                result = sum(present)
            elif function == "AVG":
                result = sum(present) / len(present)
            elif function == "MIN":
                result = min(present, key=_sort_key)
            else:
                result = max(present, key=_sort_key)
            if aggregate.alias:
                row[aggregate.alias] = result
            else:
                row[f"expr{unnamed}"] = result
                unnamed += 1
        return row


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    return value


def _as_date(value: str) -> date | None:
    return date_parse(value[:10]) if value else None


def _compare_values(leaf: Field | None, value: Any, operator: str, literal: Literal) -> bool:
    """One WHERE comparison with SOQL's semantics (nulls compare only with = and !=)."""
    if literal.kind == "null":
        if operator == "=":
            return value is None
        if operator == "!=":
            return value is not None
        return False
    if value is None:
        return operator == "!="
    kind = leaf.type if leaf else "string"
    if literal.kind == "range":
        start, end = literal.value
        if kind == "datetime":
            moment = datetime_parse(value)
            begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
            finish = datetime(end.year, end.month, end.day, tzinfo=UTC)
            current: Any = moment
        else:
            begin, finish, current = start, end, _as_date(value)
        if current is None:
            return False
        in_range: dict[str, bool] = {
            "=": begin <= current < finish,
            "!=": not (begin <= current < finish),
            "<": current < begin,
            "<=": current < finish,
            ">": current >= finish,
            ">=": current >= begin,
        }
        return in_range[operator]
    if kind in {"id", "reference"}:
        left, right = value, id_normalize(literal.value) or literal.value
    elif kind == "date":
        left, right = _as_date(value), literal.value
    elif kind == "datetime":
        # Salesforce ignores milliseconds when it compares datetimes (audit stamps are whole seconds).
        parsed = datetime_parse(value)
        left = parsed.replace(microsecond=0) if parsed else None
        right = literal.value.replace(microsecond=0)
    elif isinstance(value, str):
        left, right = value.casefold(), str(literal.value).casefold()
    else:
        left, right = value, literal.value
    if left is None:
        return operator == "!="
    try:
        compared: dict[str, bool] = {
            "=": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }
        return compared[operator]
    except TypeError:
        return False
