"""Recording what a check saw: statuses, incidents and audit entries, in one transaction."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tether.audit import service as audit
from tether.config import Settings
from tether.health import repository
from tether.health.classify import Observation, Verdict, backoff, next_check
from tether.health.incidents import (
    authorization_key,
    close_incidents,
    connection_key,
    open_incident,
    provider_key,
)
from tether.kit.words import plural
from tether.models import Account, Authorization, IncidentKind, IncidentScope, Status
from tether.providers.base import ExternalAccount, Reason
from tether.providers.catalog import BY_KEY


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    now: datetime
    actor: str = audit.HEALTH


async def record(
    session: AsyncSession, authorization: Authorization, seen: Observation, ctx: Context
) -> None:
    """Apply one observation of an authorization."""
    authorization.last_checked_at = ctx.now
    if seen.verdict == Verdict.OK:
        await _healthy(session, authorization, ctx)
    elif seen.verdict == Verdict.LAPSE:
        await _lapsed(session, authorization, seen, ctx)
    else:
        await _transient(session, authorization, seen, ctx)
    await _expiring(session, authorization, ctx)
    await session.flush()


def only_check_times_change(a: Authorization, ctx: Context) -> bool:
    """Whether a successful check would change nothing of this authorization but its check
    times: no status, audit entry, outage judgement or expiry warning. Its open incidents, which
    `_healthy` closes, are for the caller to look at."""
    return (
        (a.status, a.reason, a.message) == (Status.ACTIVE, None, None)
        and a.check_failures == 0
        and a.failing_since is None
        and not _expiring_soon(a, ctx)
    )


async def record_healthy(
    session: AsyncSession, authorizations: Sequence[Authorization], ctx: Context
) -> set[uuid.UUID]:
    """Apply a successful check to authorizations for which `only_check_times_change` held
    when they were read (and that had no open lapse or failing incident): exactly what `record`
    would do, in one statement. Returns the ids recorded; the others changed since."""
    return await repository.mark_checked(
        session, [(a, _next_regular(a, ctx)) for a in authorizations], ctx.now
    )


async def _set_status(
    session: AsyncSession, a: Authorization, status: Status, seen: Observation, ctx: Context
) -> bool:
    if (a.status, a.reason, a.message) == (status, seen.reason, seen.message):
        return False
    audit.record(
        session,
        organization_id=a.organization_id,
        actor=ctx.actor,
        action="authorization.status",
        subject_type="authorization",
        subject_id=a.id,
        from_value=a.status,
        to_value=status,
        reason=seen.reason,
    )
    a.status, a.reason, a.message = status, seen.reason, seen.message
    await repository.follow_authorization(session, a)
    return True


async def _healthy(session: AsyncSession, a: Authorization, ctx: Context) -> None:
    was_outage = a.status == Status.FAILING and a.reason == Reason.PROVIDER_OUTAGE
    a.check_failures, a.failing_since = 0, None
    a.next_check_at = _next_regular(a, ctx)
    await _set_status(session, a, Status.ACTIVE, Observation(Verdict.OK), ctx)
    over = [IncidentKind.LAPSE, IncidentKind.FAILING]
    if a.refresh_token is not None and not _expiring_soon(a, ctx):
        # A refresh moved the grant's end out of the warning's reach (a refresh token that ends
        # after days unused, as Microsoft's): the warning given while refreshing failed is over.
        over.append(IncidentKind.EXPIRING)
    await _close_on(session, a, over, "recovered", ctx)
    if was_outage:
        await _judge_outage(session, a.provider, ctx, recovering=True)


async def _lapsed(session: AsyncSession, a: Authorization, seen: Observation, ctx: Context) -> None:
    a.check_failures, a.failing_since = 0, None
    a.next_check_at = _next_regular(a, ctx)
    await _set_status(session, a, Status.NEEDS_RECONNECT, seen, ctx)
    await _close_on(session, a, [IncidentKind.FAILING, IncidentKind.EXPIRING], "lapsed", ctx)
    await _open_on(session, a, IncidentKind.LAPSE, seen.reason, seen.message or "", ctx)


async def _transient(
    session: AsyncSession, a: Authorization, seen: Observation, ctx: Context
) -> None:
    a.check_failures += 1
    a.failing_since = a.failing_since or ctx.now
    a.next_check_at = ctx.now + backoff(a.check_failures, ctx.settings, seen.retry_after)
    # A passing fault proves nothing about a grant already known to be dead.
    if a.status != Status.NEEDS_RECONNECT:
        await _set_status(session, a, Status.FAILING, seen, ctx)
    if seen.reason == Reason.PROVIDER_OUTAGE:
        await _judge_outage(session, a.provider, ctx, recovering=False)
    lasted = ctx.now - a.failing_since >= timedelta(
        seconds=ctx.settings.failing_alarm_after_seconds
    )
    held_back = await repository.open_incident(
        session, provider_key(a.provider), IncidentKind.OUTAGE
    )
    if lasted and held_back is None and a.status == Status.FAILING:
        await _open_on(session, a, IncidentKind.FAILING, seen.reason, seen.message or "", ctx)


async def _open_on(
    session: AsyncSession,
    a: Authorization,
    kind: IncidentKind,
    reason: str | None,
    message: str,
    ctx: Context,
) -> None:
    """Open an incident of this kind on the authorization, naming the clients it serves."""
    await open_incident(
        session,
        kind=kind,
        scope=IncidentScope.AUTHORIZATION,
        scope_key=authorization_key(a.id),
        organization_id=a.organization_id,
        provider=a.provider,
        reason=reason or Reason.UNKNOWN,
        message=message,
        now=ctx.now,
        actor=ctx.actor,
        authorization_id=a.id,
        affected_client_ids=await repository.client_ids_of(session, a.id),
    )


async def _close_on(
    session: AsyncSession, a: Authorization, kinds: list[IncidentKind], how: str, ctx: Context
) -> None:
    await close_incidents(
        session,
        scope_keys=[authorization_key(a.id)],
        kinds=kinds,
        how=how,
        now=ctx.now,
        actor=ctx.actor,
    )


async def _judge_outage(
    session: AsyncSession, provider: str, ctx: Context, *, recovering: bool
) -> None:
    """Open one provider incident when most of its recent checks fail at once. Only a success
    can close it: a quiet window is no evidence that the provider is back."""
    await session.flush()
    since = ctx.now - timedelta(seconds=ctx.settings.outage_window_seconds)
    total, failing = await repository.outage_counts(session, provider, since)
    widespread = total >= ctx.settings.outage_min_authorizations and (
        failing >= total * ctx.settings.outage_ratio
    )
    key = provider_key(provider)
    if widespread:
        name = BY_KEY[provider].name if provider in BY_KEY else provider
        await open_incident(
            session,
            kind=IncidentKind.OUTAGE,
            scope=IncidentScope.PROVIDER,
            scope_key=key,
            organization_id=None,
            provider=provider,
            reason=Reason.PROVIDER_OUTAGE,
            message=f"{name} is failing for {failing} of {total} recently checked connections.",
            now=ctx.now,
            actor=ctx.actor,
        )
    elif recovering:
        await close_incidents(
            session,
            scope_keys=[key],
            kinds=[IncidentKind.OUTAGE],
            how="recovered",
            now=ctx.now,
            actor=ctx.actor,
        )


async def _expiring(session: AsyncSession, a: Authorization, ctx: Context) -> None:
    """Warn ahead of the end of a grant that cannot be renewed without a person, or that Tether
    cannot renew now because refreshing it keeps failing."""
    ends = grant_ends_at(a)
    if not _expiring_soon(a, ctx) or ends is None:
        return
    days = max(0, (ends - ctx.now).days)
    name = BY_KEY[a.provider].name if a.provider in BY_KEY else a.provider
    ending = (
        f"The {name} access of {a.external_user_name} ends on {ends:%Y-%m-%d} "
        f"({plural(days, 'day')} left)"
    )
    if a.status == Status.FAILING:
        fails = f" ({a.message})" if a.message else ""
        message = f"{ending}; {name} fails now{fails}, so Tether cannot renew it."
    else:
        message = f"{ending} and cannot be renewed without signing in again."
    await _open_on(session, a, IncidentKind.EXPIRING, "token_expiring", message, ctx)


def grant_ends_at(a: Authorization) -> datetime | None:
    """When the grant ends unless Tether renews it: a token that cannot be refreshed ends with
    its access token; a refreshable one when its refresh token ends, at a fixed end (LinkedIn's
    365 days) or at one each refresh moves (Microsoft's 90 days unused)."""
    if a.api_key is not None:
        return None
    if a.refresh_token is None:
        return a.expires_at
    return a.refresh_expires_at


def _expiring_soon(a: Authorization, ctx: Context) -> bool:
    ends = grant_ends_at(a)
    if ends is None:
        return False
    warning = timedelta(days=ctx.settings.expiring_warning_days)
    # A passing fault does not stop the clock: a grant whose refreshes keep failing (an outage,
    # a throttle, the app's own secret) still ends when its refresh token does.
    return a.status in (Status.ACTIVE, Status.FAILING) and ends - ctx.now <= warning


def _next_regular(a: Authorization, ctx: Context) -> datetime:
    """The next check: the regular one, or sooner when the token must be refreshed (or ends)
    before it. A moment already past is no reason to come sooner: that refresh was just tried,
    or that token has ended, and this check has recorded what came of it. Coming back at once
    would ask a provider for a dead grant's token at every scheduler pass."""
    regular = next_check(ctx.now, ctx.settings)
    if a.expires_at is None:
        return regular
    sooner = a.expires_at
    if a.refresh_token is not None:
        sooner -= timedelta(seconds=ctx.settings.refresh_window_seconds)
    return min(regular, sooner) if sooner > ctx.now else regular


async def reconcile_accounts(
    session: AsyncSession, a: Authorization, reachable: Sequence[ExternalAccount], ctx: Context
) -> None:
    """Lapse the connections on accounts the grant lost; restore those on accounts it regained."""
    a.accounts_checked_at = ctx.now
    by_id = {account.external_id: account for account in reachable}
    known = await repository.accounts_of(session, a.id)
    for account in known:
        found = by_id.get(account.external_id)
        if found is not None and account.manager_external_id != found.manager_id:
            account.manager_external_id = found.manager_id
        if account.external_id in by_id and account.status != Status.ACTIVE:
            await _account_back(session, a, account, ctx)
        elif account.external_id not in by_id and account.status == Status.ACTIVE:
            await _account_lost(session, a, account, ctx)
    known_ids = {account.external_id for account in known}
    session.add_all(
        Account(
            organization_id=a.organization_id,
            authorization_id=a.id,
            external_id=new.external_id,
            name=new.name,
            currency=new.currency,
            manager_external_id=new.manager_id,
        )
        for new in reachable
        if new.external_id not in known_ids
    )
    await session.flush()


async def _account_lost(
    session: AsyncSession, a: Authorization, account: Account, ctx: Context
) -> None:
    name = BY_KEY[a.provider].name if a.provider in BY_KEY else a.provider
    message = (
        f"{a.external_user_name} can no longer reach {account.name} ({account.external_id}) "
        f"on {name}."
    )
    await lose_account(session, a, account, message=message, now=ctx.now, actor=ctx.actor)


async def lose_account(
    session: AsyncSession,
    a: Authorization,
    account: Account,
    *,
    message: str,
    now: datetime,
    actor: str,
) -> None:
    """The grant no longer reaches this account: its connections (only) lapse, one incident
    each, with a message naming the account."""
    account.status = Status.NEEDS_RECONNECT
    for connection in await repository.connections_on(session, account.id):
        audit.record(
            session,
            organization_id=a.organization_id,
            actor=actor,
            action="connection.status",
            subject_type="connection",
            subject_id=connection.id,
            from_value=connection.status,
            to_value=Status.NEEDS_RECONNECT,
            reason=Reason.ACCESS_REMOVED,
        )
        connection.status, connection.reason = Status.NEEDS_RECONNECT, Reason.ACCESS_REMOVED
        connection.message = message
        await open_incident(
            session,
            kind=IncidentKind.LAPSE,
            scope=IncidentScope.CONNECTION,
            scope_key=connection_key(connection.id),
            organization_id=a.organization_id,
            provider=a.provider,
            reason=Reason.ACCESS_REMOVED,
            message=message,
            now=now,
            actor=actor,
            authorization_id=a.id,
            connection_id=connection.id,
            affected_client_ids=[connection.client_id],
        )


async def _account_back(
    session: AsyncSession, a: Authorization, account: Account, ctx: Context
) -> None:
    account.status = Status.ACTIVE
    connections = await repository.connections_on(session, account.id)
    for connection in connections:
        audit.record(
            session,
            organization_id=a.organization_id,
            actor=ctx.actor,
            action="connection.status",
            subject_type="connection",
            subject_id=connection.id,
            from_value=connection.status,
            to_value=a.status,
        )
        connection.status, connection.reason, connection.message = a.status, a.reason, a.message
    await close_incidents(
        session,
        scope_keys=[connection_key(c.id) for c in connections],
        kinds=[IncidentKind.LAPSE],
        how="recovered",
        now=ctx.now,
        actor=ctx.actor,
    )
