"""Schemathesis against a served Tether: for members of every role, over real data, nothing the
OpenAPI schema allows gets a 5xx, every answer matches the schema, and no schema-valid request is
refused unless the refusal depends on data (404, 409) or on the member's rights (401, 403)."""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.connected import Connected
from tether.kit.inputs import EARLIEST_DAY, LATEST_DAY
from tether.sync.coverage import MAX_WINDOW_DAYS

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
]
# Enough to reach each operation's bounds and the real rows, small enough for a CI minute.
EXAMPLES = 12
# An id in the path: a random one (404) or one of the fixture's rows.
ID_PARAMETERS = (
    "client_id",
    "connection_id",
    "authorization_id",
    "account_id",
    "endpoint_id",
    "member_id",
)

# The schema states each day's bounds as formatMinimum/formatMaximum, which Schemathesis does not
# read: draw days within them, as a client generated from the schema would.
schemathesis.openapi.format(
    "date", st.dates(min_value=EARLIEST_DAY, max_value=LATEST_DAY).map(date.isoformat)
)


@dataclass
class World:
    """An organization with real data, seen by one member."""

    role: str
    token: str
    ids: dict[str, str]
    own_token_id: str
    failures: list[str] = field(default_factory=list)


async def _world(connected: Connected, role: str) -> World:
    org, tether = connected.org, connected.tether
    authorization, accounts = connected.authorization, connected.accounts
    clients, connections = connected.clients, connected.connections
    # An incident: one account's access is removed at the provider, and a check finds it.
    await tether.sandbox("DELETE", f"/users/alice/accounts/{accounts[1]['external_id']}")
    checked = await org.api.post(f"/api/v1/authorizations/{authorization['id']}/check")
    assert checked.status_code == 200, checked.text
    webhook = await org.api.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/tether", "events": ["connection.lapsed"]},
    )
    assert webhook.status_code == 201, webhook.text
    member = org.api
    if role == "staff":
        member = await org.member("staff", clients=[clients[0]["id"]])
    elif role == "viewer":
        member = await org.member("viewer")
    me = (await member.get("/api/v1/members/me")).json()
    tokens = (await member.get("/api/v1/tokens")).json()["data"]
    ids = {
        "client_id": clients[0]["id"],
        "connection_id": connections[0]["id"],
        "authorization_id": authorization["id"],
        "account_id": accounts[0]["id"],
        "endpoint_id": webhook.json()["id"],
        "member_id": me["id"],
    }
    token = str(member.headers["Authorization"]).removeprefix("Bearer ")
    if member is not org.api:
        await member.aclose()
    return World(role, token, ids, str(tokens[0]["id"]))


def _consistent_days(query: dict[str, Any] | None) -> dict[str, Any] | None:
    """A window's start and end are bounded together (start first, at most MAX_WINDOW_DAYS,
    reaching today without an end), which a schema cannot say: draw them as a client would."""
    if not query or "start" not in query:
        return query
    start = date.fromisoformat(query["start"])
    end = date.fromisoformat(query["end"]) if "end" in query else date.today()
    if end < start or (end - start).days >= MAX_WINDOW_DAYS:
        start = end - timedelta(days=(end - start).days % MAX_WINDOW_DAYS)
    return {**query, "start": max(start, EARLIEST_DAY).isoformat()}


def _load(spec: dict[str, Any], world: World, base_url: str) -> Any:
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.update(base_url=base_url, headers={"Authorization": f"Bearer {world.token}"})

    @schema.hook
    def map_query(_: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
        # A cursor is valid only as Tether issued it; a made-up one is a 400 by design.
        if query and "cursor" in query:
            query = {k: v for k, v in query.items() if k != "cursor"}
        return _consistent_days(query)

    # Whether a receiver's URL is allowed depends on where its name leads, which no schema can
    # state: a client sends its real receiver. Refused addresses have their own tests.
    @schema.hook
    def map_body(_: Any, body: Any) -> Any:
        if isinstance(body, dict) and "url" in body:
            return {**body, "url": "https://hooks.example.com/tether"}
        return body

    # Deleting the member's own token would sign the rest of the run out; deleting one's own
    # membership likewise. Both are covered by their own tests.
    return schema.exclude(
        func=lambda ctx: (
            ctx.operation.method.upper() == "DELETE"
            and ctx.operation.path in ("/api/v1/tokens/{token_id}", "/api/v1/members/{member_id}")
        )
    )


def _strategy(operation: Any, world: World) -> Any:
    """Drawn requests, and (for reading operations) the same with the fixture's real ids."""
    drawn = operation.as_strategy(GenerationMode.POSITIVE)
    names = {p.name for p in operation.path_parameters}
    real = {name: world.ids[name] for name in names if name in world.ids}
    if operation.method.upper() != "GET" or not real or len(real) != len(names):
        return drawn
    return st.one_of(drawn, operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real))


def _run(schema: Any, world: World) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_strategy(operation, world))
        def call(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            call()
        except Exception as failure:
            world.failures.append(f"{operation.label} as {world.role}: {failure}")


@pytest.mark.parametrize("role", ["admin", "staff", "viewer"])
async def test_the_api_keeps_its_contract(connected: Connected, role: str) -> None:
    tether = connected.tether
    world = await _world(connected, role)
    async with httpx.AsyncClient(base_url=tether.base_url) as http:
        spec = (await http.get("/openapi.json")).json()
    schema = _load(spec, world, tether.base_url)

    await asyncio.to_thread(_run, schema, world)

    assert not world.failures, "\n\n".join(world.failures)
    # The run did not lock the member out of their own organization.
    async with httpx.AsyncClient(base_url=tether.base_url) as http:
        me = await http.get(
            "/api/v1/members/me", headers={"Authorization": f"Bearer {world.token}"}
        )
    assert me.status_code == 200
    assert uuid.UUID(me.json()["id"])
