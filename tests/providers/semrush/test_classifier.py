"""Semrush's answers read by its definition: the documented error lines and the Projects API's
JSON errors give their reasons with Semrush's words; the key travels in the query only; the
production URLs are Semrush's own."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tether.config import Settings
from tether.kit.logs import redact
from tether.providers.base import Credentials, Reason
from tether.providers.registry import build_registry
from tether.providers.semrush import BASES, PROJECTS, SEMRUSH, UNITS, SemrushProvider


@pytest.fixture
async def semrush() -> AsyncIterator[SemrushProvider]:
    async with httpx.AsyncClient() as http:
        yield SemrushProvider(SEMRUSH, http=http, bases=BASES)


# Semrush's documented error lines (developer.semrush.com, "Errors"), each to its reason.
DOCUMENTED = [
    ("ERROR 120 :: WRONG KEY - ID PAIR", Reason.INVALID_API_KEY),
    ("ERROR 121 :: WRONG FORMAT OR EMPTY HASH", Reason.INVALID_API_KEY),
    ("ERROR 122 :: WRONG FORMAT OR EMPTY KEY", Reason.INVALID_API_KEY),
    ("ERROR 130 :: API DISABLED", Reason.SCOPE_MISSING),
    ("ERROR 133 :: DB ACCESS DENIED", Reason.SCOPE_MISSING),
    ("ERROR 135 :: API REPORT TYPE DISABLED", Reason.SCOPE_MISSING),
    ("ERROR 131 :: LIMIT EXCEEDED", Reason.RATE_LIMITED),
    ("ERROR 132 :: API UNITS BALANCE IS ZERO", Reason.RATE_LIMITED),
    ("ERROR 134 :: TOTAL LIMIT EXCEEDED", Reason.RATE_LIMITED),
    ('ERROR 40 :: MANDATORY PARAMETER "type" NOT SET OR EMPTY', Reason.UNKNOWN),
]


@pytest.mark.parametrize(("line", "reason"), DOCUMENTED)
async def test_each_documented_error_line_reads_as_its_reason_with_semrushs_words(
    semrush: SemrushProvider, line: str, reason: Reason
) -> None:
    body = {"error": {"code": int(line.split()[1]), "message": line}}

    found, message = semrush.classify_error(200, body)

    assert (found, message) == (reason, line)


async def test_a_lost_project_and_an_outage_are_told_apart(semrush: SemrushProvider) -> None:
    denied = {"error": {"code": 403, "message": "Forbidden", "description": "No access."}}

    assert semrush.classify_error(403, denied) == (Reason.ACCESS_REMOVED, "Forbidden")
    assert semrush.classify_error(503, {"text": "Service Unavailable"})[0] == (
        Reason.PROVIDER_OUTAGE
    )


async def test_the_key_goes_in_the_query_only_and_the_logs_mask_it(
    semrush: SemrushProvider,
) -> None:
    credentials = Credentials(api_key="0123456789abcdef")

    assert semrush.auth_params(credentials) == {"key": "0123456789abcdef"}
    assert "0123456789abcdef" not in str(semrush.auth_headers(credentials))
    logged = redact("GET /users/countapiunits.html?key=0123456789abcdef HTTP/1.1")
    assert "0123456789abcdef" not in logged


async def test_with_nothing_set_semrush_is_reached_at_its_production_urls() -> None:
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(sandbox_stands_in_for=""), http)
    semrush = registry.providers["semrush"]

    assert registry.available("semrush")  # a key needs no app registration
    assert semrush.url(UNITS) == "https://www.semrush.com/users/countapiunits.html"
    assert semrush.url(PROJECTS) == "https://api.semrush.com/management/v1/projects"
