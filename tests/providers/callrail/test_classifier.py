"""CallRail's answers read by its definition: the documented status codes give their reasons
with CallRail's words; its production URL is its own."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tether.config import Settings
from tether.providers.base import Credentials, Reason
from tether.providers.callrail import BASES, CALLRAIL, CallRailProvider
from tether.providers.registry import build_registry


@pytest.fixture
async def callrail() -> AsyncIterator[CallRailProvider]:
    async with httpx.AsyncClient() as http:
        yield CallRailProvider(CALLRAIL, http=http, bases=BASES)


# The status codes CallRail documents (API v3, "HTTP Response Codes"), each with an error body.
DOCUMENTED: list[tuple[int, dict[str, Any], Reason]] = [
    (401, {"error": "HTTP Token: Access denied."}, Reason.INVALID_API_KEY),
    (403, {"error": "You do not have access to this company."}, Reason.ACCESS_REMOVED),
    (429, {"error": "Too many requests."}, Reason.RATE_LIMITED),
    (
        503,
        {"error": "The CallRail API is temporarily offline for maintenance."},
        Reason.PROVIDER_OUTAGE,
    ),
    (500, {"error": "Internal Server Error"}, Reason.PROVIDER_OUTAGE),
    (400, {"error": "Records are kept 25 months: revise your date range."}, Reason.UNKNOWN),
    (422, {"errors": ["company_id is invalid"]}, Reason.UNKNOWN),
]


@pytest.mark.parametrize(("status", "body", "reason"), DOCUMENTED)
async def test_each_documented_answer_reads_as_its_reason_with_callrails_words(
    callrail: CallRailProvider, status: int, body: dict[str, Any], reason: Reason
) -> None:
    found, message = callrail.classify_error(status, body)

    assert found == reason
    assert message == body.get("error", (body.get("errors") or [""])[0])


async def test_with_nothing_set_callrail_is_reached_at_its_production_url() -> None:
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(sandbox_stands_in_for=""), http)
    callrail = registry.providers["callrail"]

    assert registry.available("callrail")  # a key needs no app registration
    assert callrail.url(CALLRAIL.identify.url) == "https://api.callrail.com/v3/a.json"
    sent = callrail.auth_headers(Credentials(api_key="abc123"))
    assert sent["Authorization"] == "Token token=abc123"
