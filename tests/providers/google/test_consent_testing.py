"""A Google app whose OAuth consent screen is still in Testing: Google ends its refresh tokens
7 days after consent, so Tether warns at once instead of letting the grant lapse unannounced."""

from datetime import datetime, timedelta

from tests.fixtures.builders import create_org, sign_in_through
from tests.fixtures.running import Tether, alongside
from tether.config import ProviderSettings
from tether.db import utcnow


async def test_an_app_in_testing_warns_that_its_grants_end_after_7_days(tether: Tether) -> None:
    testing = {"google": ProviderSettings(consent_testing=True)}
    with alongside(tether, providers=testing) as testing_tether:
        org = await create_org(testing_tether.sessions, testing_tether.base_url)
        try:
            authorization_id = await sign_in_through(org.api, body={"provider": "google_ads"})
            checked = await org.api.post(f"/api/v1/authorizations/{authorization_id}/check")
            found = (await org.api.get(f"/api/v1/authorizations/{authorization_id}")).json()
            incidents = (await org.api.get("/api/v1/incidents", params={"kind": "expiring"})).json()
        finally:
            await org.api.aclose()

    assert checked.json()["status"] == "active"
    ends = datetime.fromisoformat(found["refresh_expires_at"])
    assert abs(ends - (utcnow() + timedelta(days=7))) < timedelta(minutes=1)
    (warning,) = incidents["data"]
    assert warning["closed_at"] is None
    assert f"ends on {ends:%Y-%m-%d}" in warning["message"]


async def test_a_published_app_has_no_fixed_end(tether: Tether) -> None:
    org = await create_org(tether.sessions, tether.base_url)
    try:
        authorization_id = await sign_in_through(org.api, body={"provider": "google_ads"})
        await org.api.post(f"/api/v1/authorizations/{authorization_id}/check")
        found = (await org.api.get(f"/api/v1/authorizations/{authorization_id}")).json()
        incidents = (await org.api.get("/api/v1/incidents", params={"kind": "expiring"})).json()
    finally:
        await org.api.aclose()

    assert found["refresh_expires_at"] is None
    assert incidents["data"] == []
