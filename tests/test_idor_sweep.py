"""Every API operation that names an object by id, tried by everyone who must not reach it.

The operations come from the served `/openapi.json`, so a new endpoint is swept without a new
test; an id parameter nobody here knows how to fill fails the sweep instead of passing it by.
"""

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fixtures.builders import Org
from tests.fixtures.connected import Connected

WRITES = {"post", "put", "patch", "delete"}
# Path parameters that are not an object of one organization.
NOT_IDS = {
    "key": "a provider's key: the same catalog for every organization",
    "token": "a signed reconnect link: its signature is the credential, not a tenant's id",
}
# Same-organization writes by staff that the authorization permissions do not refuse yet.
# Empty this set once staff are held to the clients they can see on these operations.
PENDING_STAFF_RULES: set[tuple[str, str]] = set()


Factory = Callable[[Connected], Awaitable[str]]


async def _authorization(world: Connected) -> str:
    return world.id


async def _connection(world: Connected) -> str:
    return str(world.connections[0]["id"])


async def _client(world: Connected) -> str:
    return str(world.clients[0]["id"])


async def _account(world: Connected) -> str:
    return str(world.accounts[0]["id"])


async def _member(world: Connected) -> str:
    return str((await world.org.add_member("viewer")).id)


async def _invitation(world: Connected) -> str:
    body = {"email": f"i-{uuid.uuid4().hex[:8]}@agency.example.com", "role": "viewer"}
    response = await world.org.api.post("/api/v1/invitations", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _token(world: Connected) -> str:
    response = await world.org.api.post("/api/v1/tokens", json={"name": "spare"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _endpoint(world: Connected) -> str:
    body = {"url": "https://hooks.agency.example.com/tether", "events": ["authorization.lapsed"]}
    response = await world.org.api.post("/api/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _notification(world: Connected) -> str:
    listed = (await world.org.api.get("/api/v1/notifications")).json()["data"]
    if not listed:
        await world.lapse()
        listed = (await world.org.api.get("/api/v1/notifications")).json()["data"]
    assert listed, "a lapse gave the admin no notification to sweep with"
    return str(listed[0]["id"])


async def _sync(world: Connected) -> str:
    response = await world.org.api.post(f"/api/v1/connections/{await _connection(world)}/sync")
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


FACTORIES: dict[str, Factory] = {
    "authorization_id": _authorization,
    "connection_id": _connection,
    "client_id": _client,
    "account_id": _account,
    "member_id": _member,
    "invitation_id": _invitation,
    "token_id": _token,
    "endpoint_id": _endpoint,
    "webhook_id": _endpoint,
    "notification_id": _notification,
    "sync_id": _sync,
}


def operations(spec: dict[str, Any]) -> list[tuple[str, str, list[str], dict[str, Any]]]:
    """(method, path, its id parameters, its operation) for every operation naming an object."""
    found = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            ids = [n for n in names if n not in NOT_IDS]
            if ids:
                found.append((method, path, ids, operation))
    return found


def body_for(operation: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A body the request schema accepts, every field filled, so the call reaches the handler."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return None if content is None else sample(content["schema"], spec)


def sample(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return sample(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], spec)
    for choice in ("anyOf", "oneOf", "allOf"):
        if choice in schema:
            options = [s for s in schema[choice] if s.get("type") != "null"]
            return sample(options[0], spec)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: sample(s, spec) for name, s in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample(schema["items"], spec)] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    formats = {"uuid": str(uuid.uuid4()), "date": "2026-01-02", "email": "x@agency.example.com"}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    return "https://hooks.example.com/x".ljust(schema.get("minLength", 0), "x")


async def snapshot(world: Connected, path: str) -> Any:
    """What the owner's admin sees of the object and of the organization's recent history."""
    api = world.org.api
    parts = [(await api.get(path)).text if "{" not in path else ""]
    for listing in ("/api/v1/audit", "/api/v1/authorizations", "/api/v1/connections",
                    "/api/v1/members", "/api/v1/invitations", "/api/v1/tokens", "/api/v1/webhooks",
                    "/api/v1/notifications", "/api/v1/clients"):  # fmt: skip
        parts.append(_stable((await api.get(listing)).text))
    return parts


def _stable(text: str) -> str:
    # A notification's reconnect link is signed afresh on every read: not a change of data.
    return re.sub(r'"reconnect_url":"[^"]*"', '"reconnect_url":""', text)


async def test_no_one_outside_the_organization_reaches_an_object_by_its_id(
    connected: Connected, other_org: Org
) -> None:
    spec = (await connected.org.api.get("/openapi.json")).json()
    swept = operations(spec)
    unknown = sorted({n for _, p, ids, _ in swept for n in ids if n not in FACTORIES})
    assert unknown == [], f"id parameters with no factory (add one to FACTORIES): {unknown}"

    outsiders = {"admin": other_org.api, "staff": await other_org.member("staff"),
                 "viewer": await other_org.member("viewer")}  # fmt: skip
    staff_elsewhere = await connected.org.client("Elsewhere")
    insiders = {"staff": await connected.org.member("staff", clients=[staff_elsewhere["id"]]),
                "viewer": await connected.org.member("viewer")}  # fmt: skip
    calls, breaches, pending, validation = 0, [], [], 0
    for method, path, ids, operation in swept:
        values = {name: await FACTORIES[name](connected) for name in ids}
        url = path.format(**values)
        body = body_for(operation, spec)
        before = await snapshot(connected, url)
        people = list(outsiders.items()) + (list(insiders.items()) if method in WRITES else [])
        for who, (role, api) in zip(["B"] * 3 + ["A"] * 2, people, strict=False):
            response = await api.request(method.upper(), url, json=body)
            calls += 1
            validation += response.status_code == 422
            if response.status_code < 300:
                finding = f"{method.upper()} {path} as {who}'s {role}: {response.status_code}"
                if who == "A" and (method, path) in PENDING_STAFF_RULES:
                    pending.append(finding)
                else:
                    breaches.append(finding)
        after = await snapshot(connected, url)
        changed = [f"{b[:300]} -> {a[:300]}" for b, a in zip(before, after, strict=True) if a != b]
        if changed:
            breaches.append(f"{method.upper()} {path}: the owner's data changed: {changed}")
    for api in (*outsiders.values(), *insiders.values()):
        if api is not other_org.api:
            await api.aclose()

    print(  # noqa: T201  (the counts are part of what this test reports)
        f"\nIDOR sweep: {len(swept)} operations, {calls} calls, {len(breaches)} breaches, "
        f"{len(pending)} pending staff rules {pending}, {validation} answered 422"
    )
    assert breaches == [], "\n".join(breaches)
