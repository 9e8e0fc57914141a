"""The sandbox's CallRail dialect in CallRail's own shapes: the token header as Rails reads it,
offset paging, the time series' every day and its limits, and `{"error": …}` bodies."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tether.sandbox import SandboxState
from tether.sandbox.dialects.callrail import account_id

API = "/callrail/api/v3"


@pytest.fixture
def web(sandbox: SandboxState, sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        yield client


def token(sandbox: SandboxState, quoted: bool = False) -> dict[str, str]:
    key = sandbox.user("alice").api_key
    return {"Authorization": f'Token token="{key}"' if quoted else f"Token token={key}"}


def test_the_key_is_read_quoted_or_not_and_refused_otherwise(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    plain = web.get(f"{API}/a.json", headers=token(sandbox))
    quoted = web.get(f"{API}/a.json", headers=token(sandbox, quoted=True))
    bearer = web.get(
        f"{API}/a.json", headers={"Authorization": f"Bearer {sandbox.user('alice').api_key}"}
    )

    assert plain.json() == quoted.json()
    assert plain.json()["accounts"][0]["id"] == account_id(sandbox.user("alice"))
    assert (bearer.status_code, bearer.json()) == (401, {"error": "HTTP Token: Access denied."})


def test_companies_page_by_page_and_per_page(web: httpx.Client, sandbox: SandboxState) -> None:
    account = account_id(sandbox.user("alice"))

    first = web.get(
        f"{API}/a/{account}/companies.json", params={"per_page": 4}, headers=token(sandbox)
    ).json()
    too_many = web.get(
        f"{API}/a/{account}/companies.json", params={"per_page": 251}, headers=token(sandbox)
    )
    elsewhere = web.get(f"{API}/a/ACC0/companies.json", headers=token(sandbox))

    assert (first["page"], first["per_page"], first["total_pages"]) == (1, 4, 3)
    assert first["total_records"] == len(sandbox.reachable_account_ids("u_alice"))
    assert [c["id"] for c in first["companies"]] == [
        f"COM{n}" for n in sandbox.reachable_account_ids("u_alice")[:4]
    ]
    assert too_many.status_code == 400
    assert (elsewhere.status_code, elsewhere.json()) == (404, {"error": "Account not found"})


def test_the_time_series_keeps_within_200_points_and_25_months(
    web: httpx.Client, sandbox: SandboxState
) -> None:
    account = account_id(sandbox.user("alice"))
    company = f"COM{sandbox.reachable_account_ids('u_alice')[0]}"
    today = datetime.now(UTC).date()

    def series(start: int, end: int) -> httpx.Response:
        params = {
            "company_id": company,
            "start_date": (today - timedelta(days=start)).isoformat(),
            "end_date": (today - timedelta(days=end)).isoformat(),
        }
        return web.get(
            f"{API}/a/{account}/calls/timeseries.json", params=params, headers=token(sandbox)
        )

    fine, wide, old = series(199, 0), series(200, 0), series(800, 790)

    assert [row["date"] for row in fine.json()["data"]][-1] == today.isoformat()
    assert len(fine.json()["data"]) == 200
    assert fine.json()["total_results"]["total_calls"] == sum(
        row["total_calls"] for row in fine.json()["data"]
    )
    assert (wide.status_code, old.status_code) == (400, 400)
    assert "25 months" in old.json()["error"]
