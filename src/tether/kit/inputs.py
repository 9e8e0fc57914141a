"""The bounds every API and page input shares: pages of lists, days, sorts and names.

Each bound lives both in the check and in the OpenAPI schema, so that a client generated from
the schema never sends what Tether refuses, and whatever is out of bounds is a 422 naming the
parameter rather than an overflow deep in the database.
"""

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

import email_validator
from fastapi import Query
from pydantic import AfterValidator, EmailStr, Field

MAX_LIMIT = 200
# Far beyond any real list; an offset is skipped row by row, so it needs a ceiling.
MAX_OFFSET = 100_000
# No platform Tether speaks to serves data from before 2000; past 2099 is a typo.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
NAME_LENGTH = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many rows one page holds.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="How many rows to skip.")]
# Opaque: only a `next_cursor` Tether gave is valid, and anything else is a 400.
Cursor = Annotated[
    str | None,
    Query(max_length=1000, description="The `next_cursor` of the page before, as it was."),
]

_DAY_BOUNDS = {"formatMinimum": EARLIEST_DAY.isoformat(), "formatMaximum": LATEST_DAY.isoformat()}
_DAY_HELP = f"A day, YYYY-MM-DD, from {EARLIEST_DAY} to {LATEST_DAY}."
Day = Annotated[
    date | None,
    Query(ge=EARLIEST_DAY, le=LATEST_DAY, description=_DAY_HELP, json_schema_extra=_DAY_BOUNDS),
]
# The same bounds for a day inside a request body.
BodyDay = Annotated[
    date | None,
    Field(ge=EARLIEST_DAY, le=LATEST_DAY, description=_DAY_HELP, json_schema_extra=_DAY_BOUNDS),
]


def sort_tokens(fields: Sequence[str]) -> list[str]:
    """Every value a sort parameter takes: each field, and each field reversed with '-'."""
    return [token for field in fields for token in (field, f"-{field}")]


def sort_query(fields: Sequence[str]) -> Any:
    """A `sort` query parameter limited to `fields` (or their reverse), listed in the schema:
    `sort: Annotated[str, sort_query(SORTS)] = "name"`."""
    tokens = sort_tokens(fields)

    def allowed(value: str | None) -> str | None:
        if value is not None and value not in tokens:
            raise ValueError(f"sort by one of: {', '.join(fields)} (prefix '-' to reverse)")
        return value

    query = Query(
        description="'-' before a field reverses the order.", json_schema_extra={"enum": tokens}
    )
    query.metadata.append(AfterValidator(allowed))
    return query


# Characters that are invisible or steer how text is shown: controls, format characters (bidi
# overrides and isolates, zero-width spaces, the BOM), line and paragraph separators. The
# zero-width joiners stay: emoji sequences and several scripts need them. So do the format
# characters beyond the Basic Multilingual Plane, whose tags spell subdivision flags (England's,
# Scotland's) and which steer no text direction.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_KEPT = frozenset({"\u200c", "\u200d"})
_SURROGATES = range(0xD800, 0xE000)


def _hidden(char: str) -> bool:
    code = ord(char)
    return code < 0x10000 and unicodedata.category(char) in _HIDDEN_CATEGORIES and char not in _KEPT


def is_refused(char: str) -> bool:
    """Hidden, or a lone surrogate: JSON can spell one, but it is no character and no database
    stores it. A schema cannot name surrogates (no regex engine reads them), and nothing a
    schema-valid client sends holds one, so the pattern leaves them to the check."""
    return _hidden(char) or ord(char) in _SURROGATES


def _ranges(codes: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for code in codes:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return ranges


def _hidden_class() -> str:
    """The hidden characters of the Basic Multilingual Plane as a regex class body, written
    with \\u escapes so that every JSON Schema validator reads it alike."""
    codes = [c for c in range(0x10000) if c not in _SURROGATES and _hidden(chr(c))]
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in _ranges(codes))


HIDDEN_CLASS = _hidden_class()
# Something visible, and nothing hidden anywhere; what the check below accepts.
NAME_PATTERN = f"^[^{HIDDEN_CLASS}]*[^\\s{HIDDEN_CLASS}][^{HIDDEN_CLASS}]*$"
TEXT_PATTERN = f"^[^{HIDDEN_CLASS}]*$"


def clean_text(value: str, *, blank: bool) -> str:
    """Strip the ends; refuse hidden characters, and blank text unless `blank` allows it."""
    value = value.strip()
    if not value and not blank:
        raise ValueError("must not be blank")
    found = next((char for char in value if is_refused(char)), None)
    if found is not None:
        raise ValueError(
            f"must not contain control or invisible formatting characters (U+{ord(found):04X})"
        )
    return value


def _checked(blank: bool) -> Callable[[str], str]:
    return lambda value: clean_text(value, blank=blank)


# The rule of Name and Label for a form field where blank means "none" or is checked later.
VISIBLE_TEXT = AfterValidator(_checked(blank=True))
# A name people read: of a client, member, token, organization. Stripped, never blank.
Name = Annotated[
    str,
    Field(min_length=1, max_length=NAME_LENGTH, json_schema_extra={"pattern": NAME_PATTERN}),
    AfterValidator(_checked(blank=False)),
]
# A free text shown beside a name, such as a description: stripped, may be empty.
Label = Annotated[
    str,
    Field(max_length=NAME_LENGTH, json_schema_extra={"pattern": TEXT_PATTERN}),
    AfterValidator(_checked(blank=True)),
]


# An address at a special-use or reserved domain (`.test`, `.local`, `.invalid`…) can never
# receive mail, so the check refuses it; the pattern says so too, since `format: email` allows it.
_RESERVED_DOMAINS = "|".join(re.escape(d) for d in email_validator.SPECIAL_USE_DOMAIN_NAMES)
EMAIL_PATTERN = f"^(?!.*[@.](?:{_RESERVED_DOMAINS})\\.?$)"
Email = Annotated[
    EmailStr,
    Field(
        max_length=254,
        description="An address that can receive mail: not at a reserved domain such as .test.",
        json_schema_extra={"pattern": EMAIL_PATTERN},
    ),
]


def _visible_or_none(value: str | None) -> str | None:
    return None if value is None else clean_text(value, blank=True)


def text_filter(max_length: int, description: str) -> Any:
    """A free-text query parameter: bounded, and holding nothing hidden (a NUL, which no
    PostgreSQL text holds, would otherwise fail deep in the query)."""
    extra = {"pattern": TEXT_PATTERN}
    return Query(max_length=max_length, description=description, json_schema_extra=extra)


Search = Annotated[
    str | None, text_filter(200, "Part of a name."), AfterValidator(_visible_or_none)
]
ProviderFilter = Annotated[
    str | None, text_filter(40, "A provider's key."), AfterValidator(_visible_or_none)
]
TextFilter = Annotated[
    str | None, text_filter(200, "Matches exactly."), AfterValidator(_visible_or_none)
]
