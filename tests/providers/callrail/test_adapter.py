"""CallRail's adapter over real HTTP against the sandbox's CallRail dialect: the key verified,
companies as accounts through every page, calls per day, a replaced key, a lost company,
throttling and maintenance."""

from datetime import UTC, datetime, timedelta

import pytest

from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.callrail import CallRailProvider, seconds_to_next_hour
from tether.sandbox import SandboxState
from tether.sandbox.dialects.callrail import account_id, calls


def key_of(sandbox: SandboxState, username: str = "alice") -> Credentials:
    return Credentials(api_key=sandbox.user(username).api_key)


async def test_a_key_is_verified_and_names_its_callrail_account(
    callrail: CallRailProvider, sandbox: SandboxState
) -> None:
    identity = await callrail.identify(key_of(sandbox))
    await callrail.probe(key_of(sandbox))

    assert identity.external_user_id == account_id(sandbox.user("alice"))
    assert identity.name == "Alice Martin (agency)"


async def test_every_company_is_an_account_reached_through_its_callrail_account(
    callrail: CallRailProvider, sandbox: SandboxState
) -> None:
    sandbox.create_accounts(300, users=["bob"])

    companies = await callrail.list_accounts(key_of(sandbox, "bob"))

    reachable = sandbox.reachable_account_ids("u_bob")
    assert [c.external_id for c in companies] == [f"COM{n}" for n in reachable]
    assert len(companies) == 305  # two pages of 250
    assert {c.manager_id for c in companies} == {account_id(sandbox.user("bob"))}
    assert companies[0].name == sandbox.accounts[reachable[0]].name


async def test_calls_per_day_are_the_companys_own_with_the_quiet_days_as_zeros(
    callrail: CallRailProvider, sandbox: SandboxState
) -> None:
    credentials = key_of(sandbox)
    company = (await callrail.list_accounts(credentials))[0]
    end = datetime.now(UTC).date()
    start = end - timedelta(days=199)

    days = await callrail.fetch_daily(
        credentials,
        account_id=company.external_id,
        start=start,
        end=end,
        manager_id=company.manager_id,
    )

    account = sandbox.accounts[company.external_id.removeprefix("COM")]
    assert [d.day for d in days] == [start + timedelta(days=n) for n in range(200)]
    assert [d.conversions for d in days] == [calls(account, d.day) for d in days]
    assert {(d.impressions, d.clicks, d.spend) for d in days} == {(0, 0, 0)}


async def test_a_replaced_key_is_an_invalid_key_in_callrails_words(
    callrail: CallRailProvider, sandbox: SandboxState
) -> None:
    credentials = key_of(sandbox)
    sandbox.regenerate_api_key("alice")

    with pytest.raises(ProviderCallError) as refused:
        await callrail.probe(credentials)

    assert (refused.value.reason, refused.value.status) == (Reason.INVALID_API_KEY, 401)
    assert refused.value.message == "HTTP Token: Access denied."
    assert credentials.api_key not in str(refused.value)
    await callrail.probe(key_of(sandbox))  # the new key works


async def test_a_company_the_user_lost_is_access_removed(
    callrail: CallRailProvider, sandbox: SandboxState
) -> None:
    credentials = key_of(sandbox)
    company = (await callrail.list_accounts(credentials))[0]
    sandbox.remove_access("alice", company.external_id.removeprefix("COM"))
    today = datetime.now(UTC).date()

    with pytest.raises(ProviderCallError) as lost:
        await callrail.fetch_daily(
            credentials,
            account_id=company.external_id,
            start=today,
            end=today,
            manager_id=company.manager_id,
        )

    assert (lost.value.reason, lost.value.status) == (Reason.ACCESS_REMOVED, 403)


async def test_a_throttle_waits_for_the_next_hour_and_maintenance_is_passing(
    callrail: CallRailProvider, sandbox: SandboxState
) -> None:
    sandbox.set_faults(throttle_retry_after=60)
    with pytest.raises(ProviderCallError) as throttled:
        await callrail.probe(key_of(sandbox))
    sandbox.set_faults(throttle_retry_after=None, down=True)
    with pytest.raises(ProviderCallError) as down:
        await callrail.probe(key_of(sandbox))

    assert (throttled.value.reason, throttled.value.status) == (Reason.RATE_LIMITED, 429)
    expected = seconds_to_next_hour(datetime.now(UTC))
    assert throttled.value.retry_after is not None
    assert expected - 5 <= throttled.value.retry_after <= expected + 1
    assert (down.value.reason, down.value.status) == (Reason.PROVIDER_OUTAGE, 503)
    assert "maintenance" in down.value.message


def test_the_next_hour_is_counted_from_the_clock() -> None:
    assert seconds_to_next_hour(datetime(2026, 12, 7, 14, 45, tzinfo=UTC)) == 900
    assert seconds_to_next_hour(datetime(2026, 12, 7, 14, 0, tzinfo=UTC)) == 3600
