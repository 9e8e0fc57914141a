"""Semrush's adapter over real HTTP against the sandbox's Semrush dialect: the key proved for
free, tracking projects as accounts, estimated traffic per day, a replaced key, a lost
project, throttling and an outage."""

from datetime import UTC, datetime, timedelta

import pytest

from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.semrush import SemrushProvider
from tether.sandbox import SandboxState
from tether.sandbox.dialects.semrush import visits


def key_of(sandbox: SandboxState, username: str = "alice") -> Credentials:
    return Credentials(api_key=sandbox.user(username).api_key)


async def test_a_key_is_proved_without_spending_units_and_named_without_showing_it(
    semrush: SemrushProvider, sandbox: SandboxState
) -> None:
    credentials = key_of(sandbox)

    identity = await semrush.identify(credentials)
    again = await semrush.identify(credentials)

    assert identity == again
    assert identity.name == "Semrush API key"
    assert credentials.api_key is not None
    assert credentials.api_key not in identity.external_user_id
    assert sandbox.stats()["users"]["alice"]["me"]["ok"] == 2
    assert sandbox.stats()["users"]["alice"]["accounts"]["ok"] == 0  # no units spent


async def test_every_tracking_project_is_an_account(
    semrush: SemrushProvider, sandbox: SandboxState
) -> None:
    projects = await semrush.list_accounts(key_of(sandbox))

    reachable = sandbox.reachable_account_ids("u_alice")
    assert [p.external_id for p in projects] == reachable
    assert [p.name for p in projects] == [sandbox.accounts[n].name for n in reachable]


async def test_estimated_traffic_per_day_loads_as_clicks(
    semrush: SemrushProvider, sandbox: SandboxState
) -> None:
    credentials = key_of(sandbox)
    number = sandbox.reachable_account_ids("u_alice")[0]
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=29)

    days = await semrush.fetch_daily(credentials, account_id=number, start=start, end=end)

    account = sandbox.accounts[number]
    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(30)]
    assert [d.clicks for d in days] == [visits(account, d.day) for d in days]
    assert {(d.impressions, d.spend, d.conversions) for d in days} == {(0, 0, 0)}


async def test_a_report_with_nothing_found_is_no_error(
    semrush: SemrushProvider, sandbox: SandboxState
) -> None:
    number = sandbox.reachable_account_ids("u_alice")[0]
    later = datetime.now(UTC).date() + timedelta(days=10)

    days = await semrush.fetch_daily(key_of(sandbox), account_id=number, start=later, end=later)

    assert days == []  # nothing asked for is in the past yet


async def test_a_replaced_key_is_an_invalid_key_with_semrushs_line(
    semrush: SemrushProvider, sandbox: SandboxState
) -> None:
    credentials = key_of(sandbox)
    sandbox.regenerate_api_key("alice")

    with pytest.raises(ProviderCallError) as refused:
        await semrush.probe(credentials)

    assert refused.value.reason == Reason.INVALID_API_KEY
    assert refused.value.message == "ERROR 120 :: WRONG KEY - ID PAIR"
    assert credentials.api_key not in str(refused.value)


async def test_a_lost_project_is_access_removed(
    semrush: SemrushProvider, sandbox: SandboxState
) -> None:
    number = sandbox.reachable_account_ids("u_alice")[0]
    sandbox.remove_access("alice", number)
    today = datetime.now(UTC).date()

    with pytest.raises(ProviderCallError) as lost:
        await semrush.fetch_daily(key_of(sandbox), account_id=number, start=today, end=today)

    assert (lost.value.reason, lost.value.status) == (Reason.ACCESS_REMOVED, 403)


async def test_a_throttle_is_rate_limited_and_an_outage_is_passing(
    semrush: SemrushProvider, sandbox: SandboxState
) -> None:
    sandbox.set_faults(throttle_retry_after=60)
    with pytest.raises(ProviderCallError) as throttled:
        await semrush.probe(key_of(sandbox))
    sandbox.set_faults(throttle_retry_after=None, down=True)
    with pytest.raises(ProviderCallError) as down:
        await semrush.probe(key_of(sandbox))

    assert (throttled.value.reason, throttled.value.message) == (
        Reason.RATE_LIMITED,
        "ERROR 131 :: LIMIT EXCEEDED",
    )
    assert (down.value.reason, down.value.status) == (Reason.PROVIDER_OUTAGE, 503)
