"""Bad requests get a clear error with the right status, never a stack trace, and change nothing."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Tether
from tests.fixtures.builders import Org, connect_sandbox


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
    # A browser's landing after consent, not part of the JSON API.
    assert "/oauth/callback" not in paths


# The probe's findings: each of these once answered 500.
@pytest.mark.parametrize("path", ["/api/v1/clients", "/api/v1/integrations"])
async def test_an_offset_past_any_list_is_a_422_naming_it(org: Org, path: str) -> None:
    response = await org.api.get(path, params={"offset": "9223372036854775808"})

    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["offset"]


async def test_a_day_out_of_any_range_is_a_422_naming_it(org: Org) -> None:
    authorization = await connect_sandbox(org.api)
    account = (await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")).json()
    client = await org.client("Northwind")
    connection = await org.api.post(
        "/api/v1/connections",
        json={"client_id": client["id"], "account_id": account["data"][0]["id"]},
    )
    metrics = await org.api.get(
        f"/api/v1/connections/{connection.json()['id']}/metrics", params={"end": "0001-01-01"}
    )
    coverage = await org.api.get("/api/v1/coverage", params={"end": "0001-01-01"})
    far = await org.api.get("/api/v1/coverage", params={"start": "9999-12-31"})

    for response, field, bound in (
        (metrics, "end", "2000-01-01"),
        (coverage, "end", "2000-01-01"),
        (far, "start", "2099-12-31"),
    ):
        assert response.status_code == 422, response.text
        assert [d["field"] for d in response.json()["error"]["details"]] == [field]
        assert bound in response.json()["error"]["message"]


NOT_NAMES = {
    "blank": "",
    "spaces": "   \t ",
    "a NUL": "North\x00wind",
    "a right-to-left override": "Northwind\u202egnp.exe",
    "a zero-width space": "North\u200bwind",
    "a line separator": "North\u2028wind",
    "an escape": "North\x1b[31mwind",
}


@pytest.mark.parametrize("kind", list(NOT_NAMES))
async def test_a_name_must_be_visible_text_wherever_a_name_is_given(org: Org, kind: str) -> None:
    name = NOT_NAMES[kind]
    me = (await org.api.get("/api/v1/members/me")).json()

    answers = [
        await org.api.post("/api/v1/clients", json={"name": name}),
        await org.api.patch("/api/v1/organization", json={"name": name}),
        await org.api.patch(f"/api/v1/members/{me['id']}", json={"name": name}),
        await org.api.post("/api/v1/tokens", json={"name": name}),
    ]

    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert [d["field"] for d in answer.json()["error"]["details"]] == ["name"]
    assert (await org.api.get("/api/v1/clients")).json()["total"] == 0
    assert (await org.api.get("/api/v1/members/me")).json()["name"] == me["name"]
    assert len((await org.api.get("/api/v1/tokens")).json()["data"]) == 1


async def test_a_name_keeps_what_scripts_and_emoji_need(org: Org) -> None:
    # Joiners (ZWJ in a family emoji, ZWNJ in Persian) and tag characters (England's flag).
    for name in (
        "Café 👨\u200d👩\u200d👧",
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        "Fans 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    ):
        made = await org.api.post("/api/v1/clients", json={"name": f"  {name}  "})
        assert made.status_code == 201, made.text
        assert made.json()["name"] == name


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/clients", "search"),
        ("/api/v1/connections", "provider"),
        ("/api/v1/audit", "subject_id"),
    ],
)
async def test_a_nul_in_a_text_filter_is_a_422_naming_it(
    org: Org, path: str, parameter: str
) -> None:
    # PostgreSQL holds no NUL in text: the query itself once failed with a 500.
    response = await org.api.get(path, params={parameter: "\x00North"})

    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [parameter]
