"""Random sequences of sandbox faults and recoveries, checked against a model after every step.

A Hypothesis state machine drives the sandbox's switches and Tether's `check` endpoint over
HTTP, keeps a model of what the last observation of each authorization should have been, and
asserts after every step that:

- each authorization's status (and reason) is the one its last observation calls for: active
  after a success, needs_reconnect after a lapse, failing after a transient fault unless a lapse
  is already known;
- each connection has the worse of its account's and its authorization's status: connections on
  an account the grant lost are needs_reconnect (access_removed), the others follow the grant;
- at most one incident is open per scope and kind, and exactly the ones the model expects;
- every incident has one `incident.opened` entry, and once closed it has exactly one
  `incident.closed` entry and keeps its closed_at and closed_how (a new lapse opens a NEW one).

At the end of each example everything is recovered and checked once more: nothing stays open.

The world is small: alice's grant serves two clients on two accounts, bob's one client; faults
are global. A dead grant is brought back the way a reconnect will do it: a fresh grant's tokens
written into the existing authorization row (connecting again would be another authorization).

Hypothesis state machines are synchronous: the machine runs in a worker thread and hands its
coroutines to the test's event loop (where the fixtures' engine and clients live).
"""

import asyncio
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import time_machine
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select, text

from tests.fixtures.builders import Org, connect_sandbox, consent, create_org, pkce_pair, query_of
from tests.fixtures.running import Tether
from tether import vault
from tether.db import Base, utcnow
from tether.models import AuditEvent, Authorization, Connection, Incident

T = TypeVar("T")

# Who is connected, and how many of their accounts each serve one client.
ACCOUNTS = {"alice": 2, "bob": 1}
USERS = st.sampled_from(sorted(ACCOUNTS))
PLACES = st.sampled_from([(user, n) for user, count in ACCOUNTS.items() for n in range(count)])
FAULTS = st.sampled_from(["down", "throttle"])
DEATHS = st.sampled_from(["revoke", "expire", "password"])
# What follows each switch: nothing (switches then meet in a later check), a check of everyone
# at once, or one after more than the failing alarm's hour (time travels for Tether and sandbox).
NOTHING, NOW, LATER = "nothing", "check", "wait an hour, check"
THEN = st.sampled_from([NOTHING, NOW, LATER])
REDIRECT_URI = "http://127.0.0.1/oauth/callback"
# A fixed seed, so CI replays the same sequences; this one reaches every status and reason,
# lost accounts, and failing alarms closed both by recovery and by a lapse.
SEED = 5

ACTIVE, FAILING, NEEDS_RECONNECT = "active", "failing", "needs_reconnect"
LAPSE, FAILING_KIND = "lapse", "failing"


@dataclass
class Grant:
    """The sandbox's side of the grant Tether holds for one user."""

    revoked: str | None = None  # the first revocation wins: token_revoked or password_changed
    expired: bool = False


@dataclass
class Side:
    """One sandbox user, their grant, and what Tether should believe about it."""

    username: str
    password: str
    authorization_id: str
    connections: dict[str, str]  # account external id -> connection id
    grant: Grant = field(default_factory=Grant)
    removed: set[str] = field(default_factory=set)  # accounts the user no longer reaches
    # The model of the last observation.
    status: str = ACTIVE
    reason: str | None = None
    failing_since: int | None = None
    lost: set[str] = field(default_factory=set)  # accounts Tether saw the grant lose

    @property
    def key(self) -> str:
        return f"authorization:{self.authorization_id}"


@dataclass
class Snapshot:
    """What the database holds after a step."""

    authorizations: dict[str, tuple[str, str | None]]
    connections: dict[str, tuple[str, str | None]]
    incidents: dict[str, tuple[datetime | None, str | None]]
    open: set[tuple[str, str]]
    closed: Counter[tuple[str, str, str]]
    duplicates: list[tuple[Any, ...]]
    audit: Counter[tuple[str, str]]


class StatusMachine(RuleBasedStateMachine):
    """Each rule flips one switch (and maybe checks); every rule starts by unsettling the
    machine, and only the invariants settle it, so teardown recovers only after a clean step."""

    def __init__(self, tether: Tether, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.tether, self.loop = tether, loop
        self.alarm_after = tether.settings.failing_alarm_after_seconds
        self.clock = 0  # seconds travelled since the example began
        self.down = self.throttled = False
        self.open: set[tuple[str, str]] = set()  # (scope_key, kind) the model expects open
        self.closed: Counter[tuple[str, str, str]] = Counter()  # (scope_key, kind, closed_how)
        self.seen_closed: dict[str, tuple[datetime, str]] = {}
        self.settled = False  # the last step and the invariants after it passed
        self.org: Org | None = None
        self.traveller = time_machine.travel(time.time(), tick=True)
        self.coordinates = self.traveller.start()
        try:
            self.sides = self.run(self._build())
        except BaseException:
            self._release()
            raise

    # -- plumbing ---------------------------------------------------------------------------

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    async def _build(self) -> dict[str, Side]:
        await self.tether.sandbox("POST", "/reset")
        async with self.tether.sessions() as session:
            tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
            if self.tether.backend.name == "postgresql":
                await session.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
            else:
                for table in tables:
                    await session.execute(text(f"DELETE FROM {table}"))
            await session.commit()
        self.org = org = await create_org(self.tether.sessions, self.tether.base_url)
        sides = {}
        for username, count in ACCOUNTS.items():
            authorization = await connect_sandbox(org.api, username=username)
            listed = await org.api.get(f"/api/v1/authorizations/{authorization['id']}/accounts")
            connections = {}
            for account in listed.json()["data"][:count]:
                client = await org.client()
                body = {"client_id": client["id"], "account_id": account["id"]}
                created = await org.api.post("/api/v1/connections", json=body)
                assert created.status_code == 201, created.text
                connections[account["external_id"]] = created.json()["id"]
            sides[username] = Side(
                username, f"{username}-password", str(authorization["id"]), connections
            )
        return sides

    def _release(self) -> None:
        self.traveller.stop()
        if self.org is not None:
            self.run(self.org.api.aclose())

    def teardown(self) -> None:
        try:
            if self.settled:
                self._recover_everything()
        finally:
            self._release()

    def _recover_everything(self) -> None:
        self.provider_recovers(then=NOTHING)
        for username, count in ACCOUNTS.items():
            for n in range(count):
                self.restore_access((username, n), then=NOTHING)
            if self.sides[username].grant != Grant():
                self.reconnect(username, then=NOTHING)
        self._then(NOW)
        self.matches_the_model()
        assert self.open == set(), self.open

    def _account(self, place: tuple[str, int]) -> tuple[Side, str]:
        side = self.sides[place[0]]
        return side, sorted(side.connections)[place[1]]

    async def _current_grant_id(self, side: Side) -> str:
        grants = await self.tether.sandbox("GET", "/grants", params={"username": side.username})
        return str(grants[-1]["id"])  # the newest grant is the one Tether holds

    # -- the sandbox's switches ---------------------------------------------------------------

    @rule(fault=FAULTS, then=THEN)
    def provider_fails(self, fault: str, then: str) -> None:
        self.settled = False
        body = {"down": True} if fault == "down" else {"throttle_retry_after": 30}
        self.run(self.tether.sandbox("PUT", "/faults", json=body))
        self.down = self.down or fault == "down"
        self.throttled = self.throttled or fault == "throttle"
        self._then(then)

    @rule(then=THEN)
    def provider_recovers(self, then: str) -> None:
        self.settled = False
        self.run(self.tether.sandbox("DELETE", "/faults"))
        self.down = self.throttled = False
        self._then(then)

    @rule(place=PLACES, then=THEN)
    def remove_access(self, place: tuple[str, int], then: str) -> None:
        self.settled = False
        side, account = self._account(place)
        if account not in side.removed:  # the sandbox refuses to remove what is gone
            path = f"/users/{side.username}/accounts/{account}"
            self.run(self.tether.sandbox("DELETE", path))
            side.removed.add(account)
        self._then(then)

    @rule(place=PLACES, then=THEN)
    def restore_access(self, place: tuple[str, int], then: str) -> None:
        self.settled = False
        side, account = self._account(place)
        self.run(self.tether.sandbox("PUT", f"/users/{side.username}/accounts/{account}"))
        side.removed.discard(account)
        self._then(then)

    @rule(username=USERS, death=DEATHS, then=THEN)
    def grant_dies(self, username: str, death: str, then: str) -> None:
        """The grant is revoked, expires, or dies with a change of password."""
        self.settled = False
        side = self.sides[username]
        if death == "password":
            side.password = f"{username}-{secrets.token_hex(4)}"
            body = {"password": side.password}
            self.run(self.tether.sandbox("POST", f"/users/{username}/password", json=body))
            side.grant.revoked = side.grant.revoked or "password_changed"
        else:
            grant_id = self.run(self._current_grant_id(side))
            self.run(self.tether.sandbox("POST", f"/grants/{grant_id}/{death}"))
            if death == "revoke":
                side.grant.revoked = side.grant.revoked or "token_revoked"
            else:
                side.grant.expired = True
        self._then(then)

    @precondition(lambda self: not (self.down or self.throttled))  # consent needs the provider
    @rule(username=USERS, then=THEN)
    def reconnect(self, username: str, then: str) -> None:
        """A fresh grant's tokens in the same authorization row, as a reconnect will write."""
        self.settled = False
        side = self.sides[username]
        self.run(self._reconnect(side))
        side.grant = Grant()
        self._then(then)

    async def _reconnect(self, side: Side) -> None:
        verifier, challenge = pkce_pair()
        query = {
            "response_type": "code",
            "client_id": self.tether.settings.sandbox_client_id,
            "redirect_uri": REDIRECT_URI,
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": "accounts:read metrics:read",
        }
        url = f"{self.tether.sandbox_url}/oauth/authorize?{urlencode(query)}"
        code = query_of(await consent(url, side.username, side.password))["code"]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": REDIRECT_URI,
            "client_id": self.tether.settings.sandbox_client_id,
            "client_secret": self.tether.settings.sandbox_client_secret,
        }
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{self.tether.sandbox_url}/oauth/token", data=form)
        assert response.status_code == 200, response.text
        tokens = response.json()
        async with self.tether.sessions() as session:
            authorization = await session.get(Authorization, uuid.UUID(side.authorization_id))
            assert authorization is not None
            authorization.access_token = vault.seal(tokens["access_token"])
            authorization.refresh_token = vault.seal(tokens["refresh_token"])
            authorization.expires_at = utcnow() + timedelta(seconds=tokens["expires_in"])
            await session.commit()

    # -- Tether's checks, and the model of what they should see --------------------------------

    @rule(username=USERS)
    def check(self, username: str) -> None:
        self.settled = False
        side = self.sides[username]
        checked = self.run(self._check(side))
        self._observe(side)
        assert (checked["status"], checked["reason"]) == (side.status, side.reason), checked

    def _then(self, then: str) -> None:
        if then == NOTHING:
            return
        if then == LATER:  # past the failing alarm; checks without a wait are well within it
            seconds = self.alarm_after + 60
            self.coordinates.shift(seconds)
            self.clock += seconds
        for username in sorted(self.sides):
            self.check(username)

    async def _check(self, side: Side) -> dict[str, Any]:
        assert self.org is not None
        response = await self.org.api.post(f"/api/v1/authorizations/{side.authorization_id}/check")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def _observation(self, side: Side) -> tuple[str, str | None]:
        """What a check sees now: faults come first, then the grant's own state."""
        if self.down:
            return "transient", "provider_outage"
        if self.throttled:
            return "transient", "rate_limited"
        if side.grant.revoked:
            return "lapse", side.grant.revoked
        if side.grant.expired:
            return "lapse", "token_expired"
        return "ok", None

    def _observe(self, side: Side) -> None:
        verdict, reason = self._observation(side)
        if verdict == "ok":
            side.status, side.reason, side.failing_since = ACTIVE, None, None
            self._close(side.key, LAPSE, "recovered")
            self._close(side.key, FAILING_KIND, "recovered")
            for account, connection_id in side.connections.items():
                key = f"connection:{connection_id}"
                if account in side.removed:
                    self._open(key, LAPSE)
                else:
                    self._close(key, LAPSE, "recovered")
            side.lost = side.removed & set(side.connections)
        elif verdict == "lapse":
            side.status, side.reason, side.failing_since = NEEDS_RECONNECT, reason, None
            self._close(side.key, FAILING_KIND, "lapsed")
            self._open(side.key, LAPSE)
        else:
            if side.failing_since is None:
                side.failing_since = self.clock
            if side.status != NEEDS_RECONNECT:  # a passing fault proves nothing about a lapse
                side.status, side.reason = FAILING, reason
            if side.status == FAILING and self.clock - side.failing_since >= self.alarm_after:
                self._open(side.key, FAILING_KIND)

    def _open(self, scope_key: str, kind: str) -> None:
        self.open.add((scope_key, kind))

    def _close(self, scope_key: str, kind: str, how: str) -> None:
        if (scope_key, kind) in self.open:
            self.open.remove((scope_key, kind))
            self.closed[(scope_key, kind, how)] += 1

    # -- what must hold after every step ----------------------------------------------------

    @invariant()
    def matches_the_model(self) -> None:
        seen = self.run(self._snapshot())
        for side in self.sides.values():
            assert seen.authorizations[side.authorization_id] == (side.status, side.reason)
            for account, connection_id in side.connections.items():
                if account in side.lost:
                    expected = (NEEDS_RECONNECT, "access_removed")
                else:
                    expected = (side.status, side.reason)
                assert seen.connections[connection_id] == expected, (account, side)
        assert seen.duplicates == [], "more than one open incident for a scope and kind"
        assert seen.open == self.open
        assert seen.closed == self.closed
        for incident_id, (closed_at, closed_how) in seen.incidents.items():
            assert seen.audit[(incident_id, "incident.opened")] == 1, incident_id
            closes = seen.audit[(incident_id, "incident.closed")]
            if closed_at is None:
                assert closes == 0, incident_id
                assert incident_id not in self.seen_closed, f"{incident_id} was reopened"
                continue
            assert closes == 1, f"{incident_id} was closed {closes} times"
            assert closed_how is not None
            once = self.seen_closed.setdefault(incident_id, (closed_at, closed_how))
            assert once == (closed_at, closed_how), f"{incident_id} was closed again"
        assert set(self.seen_closed) <= set(seen.incidents)
        self.settled = True

    async def _snapshot(self) -> Snapshot:
        async with self.tether.sessions() as session:
            authorizations = {
                str(a.id): (a.status, a.reason)
                for a in await session.scalars(select(Authorization))
            }
            connections = {
                str(c.id): (c.status, c.reason) for c in await session.scalars(select(Connection))
            }
            incidents = list(await session.scalars(select(Incident)))
            count = func.count()
            duplicates = (
                await session.execute(
                    select(Incident.scope_key, Incident.kind, count)
                    .where(Incident.closed_at.is_(None))
                    .group_by(Incident.scope_key, Incident.kind)
                    .having(count > 1)
                )
            ).all()
            audit = (
                await session.execute(
                    select(AuditEvent.subject_id, AuditEvent.action).where(
                        AuditEvent.subject_type == "incident"
                    )
                )
            ).all()
        return Snapshot(
            authorizations=authorizations,
            connections=connections,
            incidents={str(i.id): (i.closed_at, i.closed_how) for i in incidents},
            open={(i.scope_key, i.kind) for i in incidents if i.closed_at is None},
            closed=Counter(
                (i.scope_key, i.kind, i.closed_how or "") for i in incidents if i.closed_at
            ),
            duplicates=[tuple(row) for row in duplicates],
            audit=Counter((subject_id, action) for subject_id, action in audit),
        )


async def test_statuses_and_incidents_follow_random_faults_and_recoveries(tether: Tether) -> None:
    loop = asyncio.get_running_loop()

    @seed(SEED)
    def machine() -> StatusMachine:
        return StatusMachine(tether, loop)

    await asyncio.to_thread(
        run_state_machine_as_test,
        machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
