"""Secrets never appear in API answers."""

from sqlalchemy import select

from tests.conftest import Tether
from tests.fixtures.builders import Org, connect_sandbox
from tether import vault
from tether.models import Authorization, OAuthState


async def test_no_answer_carries_a_token_or_verifier(org: Org, tether: Tether) -> None:
    authorization = await connect_sandbox(org.api)
    async with tether.sessions() as session:
        stored = await session.scalar(select(Authorization))
        attempt = await session.scalar(select(OAuthState))
    assert stored is not None
    assert stored.access_token
    assert stored.refresh_token
    assert attempt
    secrets = [
        vault.reveal(stored.access_token),
        vault.reveal(stored.refresh_token),
        vault.reveal(attempt.secret),
        stored.access_token.token,
    ]

    answers = [
        await org.api.get("/api/v1/authorizations"),
        await org.api.get(f"/api/v1/authorizations/{authorization['id']}"),
        await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts"),
        await org.api.post(f"/api/v1/authorizations/{authorization['id']}/check"),
        await org.api.get("/api/v1/audit"),
        await org.api.get("/openapi.json"),
    ]

    for answer in answers:
        assert answer.status_code == 200
        for secret in secrets:
            assert secret not in answer.text
