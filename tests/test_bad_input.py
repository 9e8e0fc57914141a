"""Bad requests get a clear error with the right status, never a stack trace, and change nothing."""

from collections.abc import AsyncIterator

import httpx

from tests.conftest import Tether
from tests.fixtures.builders import Org


async def test_malformed_json_is_a_400(org: Org) -> None:
    response = await org.api.post(
        "/api/v1/clients", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "malformed_json",
        "message": "The request body is not valid JSON.",
    }


async def test_a_missing_field_names_the_field(org: Org) -> None:
    response = await org.api.post("/api/v1/clients", json={})

    assert response.status_code == 422
    assert "name" in response.json()["error"]["message"]


async def test_unknown_fields_are_refused(org: Org) -> None:
    response = await org.api.post("/api/v1/clients", json={"name": "A", "colour": "red"})

    assert response.status_code == 422
    assert "colour" in response.json()["error"]["message"]
    assert (await org.api.get("/api/v1/clients")).json()["total"] == 0


async def test_an_oversized_body_is_a_413(org: Org, tether: Tether) -> None:
    big = "x" * (tether.settings.max_body_bytes + 1)

    declared = await org.api.post("/api/v1/clients", json={"name": big})

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        yield big.encode()
        yield b'"}'

    streamed = await org.api.post(
        "/api/v1/clients", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "body_too_large"
    assert streamed.status_code == 413
    assert (await org.api.get("/api/v1/clients")).json()["total"] == 0


async def test_a_bad_id_in_the_path_is_a_422(org: Org) -> None:
    response = await org.api.get("/api/v1/clients/not-a-uuid")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid"


async def test_unknown_paths_and_methods_answer_in_the_error_format(org: Org) -> None:
    missing = await org.api.get("/api/v1/nothing-here")
    wrong_method = await org.api.put("/api/v1/connections")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_healthz_and_openapi_are_served(tether: Tether) -> None:
    async with httpx.AsyncClient(base_url=tether.base_url) as http:
        health = await http.get("/healthz")
        spec = await http.get("/openapi.json")

    assert health.json() == {"status": "ok"}
    paths = spec.json()["paths"]
    assert "/api/v1/connections" in paths
    assert "/api/v1/authorizations/oauth/start" in paths
    assert "/oauth/callback" in paths
