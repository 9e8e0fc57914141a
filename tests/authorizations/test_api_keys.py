"""Connecting an API-key provider: the key is verified with the provider before it is kept."""

import pytest
from sqlalchemy import text

from tests.conftest import Tether
from tests.fixtures.builders import Org


async def _api_key(tether: Tether, username: str) -> str:
    users = await tether.sandbox("GET", "/users")
    return str(next(u for u in users if u["username"] == username)["api_key"])


async def test_a_valid_api_key_connects_and_discovers_accounts(org: Org, tether: Tether) -> None:
    key = await _api_key(tether, "carol")

    response = await org.api.post(
        "/api/v1/authorizations", json={"provider": "sandbox_api_key", "api_key": key}
    )

    assert response.status_code == 201, response.text
    authorization = response.json()
    assert authorization["external_user_id"] == "u_carol"
    assert authorization["account_count"] > 0
    assert key not in response.text
    async with tether.sessions() as session:
        stored = await session.scalar(text("SELECT api_key FROM authorizations"))
    assert stored is not None
    assert stored.startswith("v1.")
    assert key not in stored


async def test_an_invalid_api_key_is_refused_and_nothing_is_stored(org: Org) -> None:
    response = await org.api.post(
        "/api/v1/authorizations", json={"provider": "sandbox_api_key", "api_key": "sbx_wrong"}
    )

    assert response.status_code == 422
    assert "refused the connection" in response.json()["error"]["message"]
    assert "sbx_wrong" not in response.text
    assert (await org.api.get("/api/v1/authorizations")).json()["total"] == 0


async def test_an_api_key_for_an_oauth_provider_is_refused(org: Org) -> None:
    response = await org.api.post(
        "/api/v1/authorizations", json={"provider": "sandbox", "api_key": "anything"}
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "wrong_auth_kind"


async def test_an_api_key_provider_that_is_down_gives_a_502(org: Org, tether: Tether) -> None:
    await tether.sandbox("PUT", "/faults", json={"down": True})

    response = await org.api.post(
        "/api/v1/authorizations",
        json={"provider": "sandbox_api_key", "api_key": await _api_key(tether, "carol")},
    )

    assert response.status_code == 502
    assert "temporarily unavailable" in response.json()["error"]["message"]
    assert (await org.api.get("/api/v1/authorizations")).json()["total"] == 0


@pytest.mark.parametrize(
    ("pasted", "words"),
    [
        ("sbx_…", "the character '…'"),  # the README's placeholder, pasted as it is
        ("sbx_abc def", "spaces or line breaks"),
        ("sbx_abc\nsbx_def", "spaces or line breaks"),
        ("   ", "Enter the API key"),
    ],
)
async def test_a_key_that_cannot_be_one_is_refused_before_the_provider_is_asked(
    org: Org, tether: Tether, pasted: str, words: str
) -> None:
    response = await org.api.post(
        "/api/v1/authorizations", json={"provider": "sandbox_api_key", "api_key": pasted}
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert words in response.json()["error"]["message"]
    stats = await tether.sandbox("GET", "/stats")
    assert stats["totals"]["me"]["ok"] + stats["totals"]["me"]["failed"] == 0
    assert (await org.api.get("/api/v1/authorizations")).json()["data"] == []
