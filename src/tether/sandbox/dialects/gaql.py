"""A strict little reader of the Google Ads Query Language: the queries the sandbox's Google
Ads answers (`customer_client` rows of a hierarchy, `customer` rows per `segments.date`), and
Google's QueryError for anything else. Rows are rendered as the REST API writes them:
camelCase names, int64 numbers as strings.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

# Fields each resource answers (resource_name comes with every row).
FIELDS = {
    "customer_client": frozenset(
        f"customer_client.{name}"
        for name in (
            "id",
            "descriptive_name",
            "currency_code",
            "time_zone",
            "manager",
            "level",
            "status",
            "client_customer",
            "hidden",
            "test_account",
        )
    ),
    "customer": frozenset(
        [f"customer.{n}" for n in ("id", "descriptive_name", "currency_code", "time_zone")]
        + [f"metrics.{n}" for n in ("impressions", "clicks", "cost_micros", "conversions")]
        + ["segments.date"]
    ),
}
# Conditions each field may carry in WHERE.
OPERATORS = {
    "customer_client.manager": frozenset({"="}),
    "customer_client.status": frozenset({"=", "!="}),
    "customer_client.level": frozenset({"=", "<", "<=", ">", ">="}),
    "segments.date": frozenset({"BETWEEN"}),
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'[^']*'|\"[^\"]*\")|(?P<operator><=|>=|!=|=|<|>)|(?P<comma>,)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<number>-?\d+))"
)


class QueryError(Exception):
    """A query Google would refuse, with its QueryError code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Query:
    fields: tuple[str, ...]
    resource: str
    conditions: tuple[Condition, ...]

    def selects(self, prefix: str) -> bool:
        return any(f.startswith(prefix) for f in self.fields)

    def date_range(self) -> tuple[date, date] | None:
        """The `segments.date BETWEEN` range, if the query has one."""
        for condition in self.conditions:
            if condition.field == "segments.date":
                return date.fromisoformat(condition.values[0]), date.fromisoformat(
                    condition.values[1]
                )
        return None


def parse(text: str) -> Query:
    """The query, or a QueryError saying what Google would say of it."""
    tokens = _tokens(text)
    reader = _Reader(tokens)
    reader.keyword("SELECT")
    fields = [reader.word()]
    while reader.take(","):
        fields.append(reader.word())
    reader.keyword("FROM")
    resource = reader.word()
    conditions: list[Condition] = []
    if reader.peek_keyword("WHERE"):
        reader.keyword("WHERE")
        conditions.append(_condition(reader))
        while reader.peek_keyword("AND"):
            reader.keyword("AND")
            conditions.append(_condition(reader))
    if not reader.done():
        raise QueryError("QUERY_ERROR", f"Error in query: unexpected input {reader.rest()}.")
    return _checked(Query(tuple(fields), resource, tuple(conditions)))


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        matched = _TOKEN.match(text, position)
        if matched is None or matched.end() == position:
            raise QueryError("BAD_SYMBOL", f"Error in query: unexpected input {text[position:]}.")
        tokens.append(matched.group(matched.lastgroup or "word"))
        position = matched.end()
    return tokens


class _Reader:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.at = tokens, 0

    def done(self) -> bool:
        return self.at >= len(self.tokens)

    def rest(self) -> str:
        return " ".join(self.tokens[self.at :])

    def next(self) -> str:
        if self.done():
            raise QueryError("UNEXPECTED_END_OF_QUERY", "Error in query: unexpected end of query.")
        self.at += 1
        return self.tokens[self.at - 1]

    def take(self, token: str) -> bool:
        if not self.done() and self.tokens[self.at] == token:
            self.at += 1
            return True
        return False

    def peek_keyword(self, keyword: str) -> bool:
        return not self.done() and self.tokens[self.at].upper() == keyword

    def keyword(self, keyword: str) -> None:
        token = self.next()
        if token.upper() != keyword:
            raise QueryError("QUERY_ERROR", f"Error in query: expected {keyword}, got {token}.")

    def word(self) -> str:
        token = self.next()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", token):
            raise QueryError("BAD_FIELD_NAME", f"Error in query: bad field name {token}.")
        return token


def _condition(reader: _Reader) -> Condition:
    field = reader.word()
    if reader.peek_keyword("BETWEEN"):
        reader.keyword("BETWEEN")
        first = _literal(reader.next())
        reader.keyword("AND")
        return Condition(field, "BETWEEN", (first, _literal(reader.next())))
    operator = reader.next()
    if operator not in ("=", "!=", "<", "<=", ">", ">="):
        raise QueryError("BAD_OPERATOR", f"Error in query: invalid operator {operator}.")
    return Condition(field, operator, (_literal(reader.next()),))


def _literal(token: str) -> str:
    if token[:1] in ("'", '"'):
        return token[1:-1]
    return token.upper() if token.upper() in ("TRUE", "FALSE") else token


def _checked(query: Query) -> Query:
    allowed = FIELDS.get(query.resource)
    if allowed is None:
        raise QueryError(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"Invalid resource type '{query.resource}' in the FROM clause.",
        )
    for field in query.fields:
        if field not in allowed:
            raise QueryError("UNRECOGNIZED_FIELD", f"Unrecognized field in the query: '{field}'.")
    for condition in query.conditions:
        if condition.operator not in OPERATORS.get(condition.field, ()):
            raise QueryError(
                "PROHIBITED_FIELD_IN_WHERE_CLAUSE",
                f"The sandbox cannot filter on '{condition.field} {condition.operator}'.",
            )
    _check_dates(query)
    return query


def _check_dates(query: Query) -> None:
    try:
        found = query.date_range()
    except ValueError:
        raise QueryError(
            "INVALID_VALUE_WITH_BETWEEN_OPERATOR",
            "Invalid date in the segments.date filter: dates are written 'YYYY-MM-DD'.",
        ) from None
    if "segments.date" in query.fields and found is None:
        raise QueryError(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            "A finite date range filter on segments.date is required when segments.date is "
            "selected.",
        )
    if found is not None and found[0] > found[1]:
        raise QueryError(
            "DATE_RANGE_TOO_NARROW",
            "Filters on date/week/month/quarter have a start date after end date.",
        )
    if query.selects("metrics.") and "segments.date" not in query.fields:
        raise QueryError(
            "QUERY_ERROR", "The sandbox answers metrics only per day: select segments.date."
        )


def matches(query: Query, values: Mapping[str, Any]) -> bool:
    """Whether a row of these values passes the query's WHERE clause."""
    return all(_holds(c, values.get(c.field)) for c in query.conditions)


def _holds(condition: Condition, value: Any) -> bool:
    if condition.operator == "BETWEEN":
        return condition.values[0] <= str(value) <= condition.values[1]
    wanted: Any = condition.values[0]
    if isinstance(value, bool):
        wanted = wanted == "TRUE"
    elif isinstance(value, int):
        wanted = int(wanted) if wanted.lstrip("-").isdigit() else wanted
    if isinstance(wanted, str) and not isinstance(value, str):
        return False
    return bool(_COMPARE[condition.operator](value, wanted))


def row(query: Query, values: Mapping[str, Any]) -> dict[str, Any]:
    """A GoogleAdsRow of the selected fields (and the resource's name), as REST writes it."""
    out: dict[str, Any] = {}
    resource = _camel(query.resource)
    out[resource] = {"resourceName": values[f"{query.resource}.resource_name"]}
    for field in query.fields:
        value = values.get(field)
        if value is None:
            continue
        group, name = field.split(".", 1)
        out.setdefault(_camel(group), {})[_camel(name)] = _json(value)
    return out


def field_mask(query: Query) -> str:
    return ",".join(".".join(_camel(p) for p in f.split(".", 1)) for f in query.fields)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _json(value: Any) -> Any:
    # Protobuf's JSON writes int64 as a string; bools and doubles stay as they are.
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return str(value)
