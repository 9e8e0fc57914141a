"""How long until a storm of lapses has been told everywhere, once and only once?

Seeds one organization on PostgreSQL with 10,000 authorizations, each a distinct sandbox user
with a real grant, spread over three providers that one sandbox process serves (`sandbox`,
`meta_ads` with one email per lapse, `snapchat_ads` with digests), and 50,000 connections over
their accounts across 2,000 clients. The organization has two admins, staff with every client or
only some, a viewer, members who opted in to email, and one webhook endpoint subscribed to every
event. Every authorization is made due, the sandbox revokes every grant at once (the switch), and
`tether worker` processes (Redis broker, scheduler included) start, with Tether's default
settings. The benchmark times, from the switch, until every authorization is `needs_reconnect`
and every expected in-app notification, individual email (at a local SMTP server) and webhook (at
a local receiver that checks signatures) is there, and counts duplicates per channel. "Expected"
follows the recipient rules of docs/notifications.md, computed here from the seeded data. The
storm runs once per worker count (`--workers 1 2`: one worker, then two), each on a fresh
database; the last run also waits for the digests, timed against the close of their window.

Targets: everything but the digests within 30 s of the switch, with no duplicate; each digest
no later than 5 s after its window closes; two workers faster than one.

    python bench/lapse_storm.py [--authorizations 10000] [--connections 50000] [--clients 2000]
        [--workers 1 2] [--accounts-per-user 3] [--digest-window S] [--tick S] [--threads N]
        [--timeout 300] [--settle 5] [--worker-env TETHER_X=V] [--skip email|webhooks]
        [--profile]

--digest-window and --tick change Tether's defaults (900 s and 2 s; the headline says so).
--profile records the (first) worker with py-spy (pip install py-spy); --skip leaves a channel
out to measure the others' cost (a partial run, not the benchmark's figure).

PostgreSQL is reached at TETHER_BENCH_POSTGRES_URL (default postgres@127.0.0.1:5432/test); the
benchmark creates its own database there and drops it at the end. Redis is TETHER_BENCH_REDIS_URL
(default 127.0.0.1:6379/15); the broker uses a namespace of its own, deleted at the end.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from aiosmtpd.controller import Controller
from sqlalchemy import insert
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from _harness import (
    QUIET,
    clear_redis,
    database_urls,
    new_keyring,
    read_cpu_seconds,
    retrying,
    sandbox_in_process,
    serve_until_told,
    stop_process,
    throwaway_database,
    worker_base_env,
    worker_command,
)

# The grant minting lives with the test fixtures; the repository root makes it importable.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fixtures.fleet import mint_grant  # noqa: E402

from tether import migrate, vault  # noqa: E402
from tether.config import Settings  # noqa: E402
from tether.db import create_engine, create_sessionmaker  # noqa: E402
from tether.members import service as members_service  # noqa: E402
from tether.models import (  # noqa: E402
    Account,
    Authorization,
    AuthorizationRole,
    Channel,
    Client,
    Connection,
    Event,
    NotificationPreference,
    Role,
    Status,
)
from tether.notifications import links, webhook_signing, webhooks  # noqa: E402
from tether.notifications.email import DIGEST_LISTED  # noqa: E402
from tether.organizations.service import create_organization  # noqa: E402
from tether.providers.catalog import BY_KEY  # noqa: E402
from tether.sandbox import SandboxState, create_app  # noqa: E402
from tether.sandbox.state import NewAccount, NewUser  # noqa: E402

REDIS_URL = os.environ.get("TETHER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
HOST = "127.0.0.1"
TARGET_SECONDS = 30.0
DIGEST_LATE_SECONDS = 5.0
POLL_SECONDS = 0.25
PROGRESS_EVERY = 5.0
# The sandbox itself, and two catalog providers it stands in for: one mailed per lapse, one in
# digests (the catalog's email_grouping).
PROVIDERS = ("sandbox", "meta_ads", "snapchat_ads")
STANDS_IN_FOR = "meta_ads,snapchat_ads"
# Calls the sandbox refuses per lapsed authorization: the probe, and for Snapchat, whose bare
# 401 does not say why, the one refresh that does.
REFUSED_PER_LAPSE = {"sandbox": 1, "meta_ads": 1, "snapchat_ads": 2}
LAPSED = Event.AUTHORIZATION_LAPSED.value
BATCH = 5_000
PUBLIC_URL = "http://127.0.0.1:8000"  # only printed in links; nothing serves it
USER_PREFIX = "storm"
RECONNECT_LINK = re.compile(rb"/reconnect/([A-Za-z0-9_.\-]+)")
# A digest of more events than it lists counts the rest (notifications/email.py, DIGEST_LISTED).
MORE_TOLD = re.compile(rb"\nAnd ([0-9,]+) more\. ")


# ---------------------------------------------------------------------------------------------
# The sandbox, in its own process: it creates the users, their accounts and grants, hands them
# to the parent, then serves until told to stop. "revoke" throws every switch at once.


@dataclass(frozen=True)
class Minted:
    username: str
    user_id: str
    name: str
    access: str
    refresh: str | None
    expires_in: int
    accounts: list[tuple[str, str]]  # (external id, name)


def sandbox_process(pipe: Pipe, count: int, accounts_per_user: int) -> None:
    state = SandboxState.seeded()
    names = [f"{USER_PREFIX}{n:05d}" for n in range(count)]
    state.add_users(
        NewUser(u, "password", f"Storm {u[len(USER_PREFIX) :]}", None, ()) for u in names
    )
    state.add_accounts(
        NewAccount(f"Storm {u[len(USER_PREFIX) :]} account {n}", "USD", None, (u,))
        for u in names
        for n in range(accounts_per_user)
    )
    minted = []
    for username in names:
        user = state.user(username)
        access, refresh, expires_in = mint_grant(state, username)
        reachable = state.reachable_account_ids(user.id)
        accounts = [(i, state.accounts[i].name) for i in reachable]
        minted.append(Minted(username, user.id, user.name, access, refresh, expires_in, accounts))

    def obey(command: object) -> bool:
        if command != "revoke":
            return False  # "stop", or anything else
        started = time.perf_counter()
        revoked = sum(len(state.act_on_user_grants(u, "revoke")) for u in names)
        pipe.send((revoked, time.perf_counter() - started))
        return True

    pipe.send(minted)
    serve_until_told(pipe, create_app(state), obey)


@dataclass
class Sandbox:
    url: str
    minted: list[Minted]
    pipe: Pipe

    def revoke_all(self) -> tuple[int, float]:
        self.pipe.send("revoke")
        if not self.pipe.poll(60):
            raise RuntimeError("The sandbox did not confirm the revocations.")
        revoked, seconds = self.pipe.recv()
        return int(revoked), float(seconds)

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/control/stats", timeout=60).json())


@contextlib.contextmanager
def sandbox_serving(count: int, accounts_per_user: int) -> Iterator[Sandbox]:
    args = (count, accounts_per_user)
    with sandbox_in_process(sandbox_process, args, bringing="its users", messages=1) as process:
        yield Sandbox(process.url, process.sent[0], process.pipe)


# ---------------------------------------------------------------------------------------------
# The receivers, in this process: an SMTP server and a webhook endpoint. Each keeps what came,
# with the moment it came; the counting is done by the poll below.


@dataclass(frozen=True)
class Mail:
    at: float
    recipients: list[str]
    raw: bytes


class MailServer:
    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = Mail(time.monotonic(), list(envelope.rcpt_tos), bytes(envelope.original_content))
        with self._lock:
            self.mails.append(mail)
        return "250 Message accepted for delivery"

    def taken(self, start: int) -> list[Mail]:
        with self._lock:
            return self.mails[start:]

    def start(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            self.port = int(sock.getsockname()[1])
        self._controller = Controller(self, hostname=HOST, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclass(frozen=True)
class Hook:
    at: float
    delivery: str
    event: str
    incident: str
    authorization: str
    genuine: bool


class HookReceiver:
    """Answers 200 to a request signed with the endpoint's secret, 401 to any other."""

    def __init__(self) -> None:
        self.secret = ""
        self.hooks: list[Hook] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hooks/tether"

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        at = time.monotonic()
        headers = request.headers
        genuine = webhook_signing.verify_signature(
            self.secret,
            headers.get("tether-timestamp", ""),
            body,
            headers.get("tether-signature", ""),
        )
        try:
            incident = json.loads(body).get("incident") or {}
        except ValueError:
            incident = {}
        hook = Hook(
            at,
            headers.get("tether-delivery", ""),
            headers.get("tether-event", ""),
            str(incident.get("id")),
            str(incident.get("authorization_id")),
            genuine,
        )
        with self._lock:
            self.hooks.append(hook)
        return PlainTextResponse("ok" if genuine else "bad signature", 200 if genuine else 401)

    def taken(self) -> list[Hook]:
        with self._lock:
            return list(self.hooks)

    def start(self) -> None:
        app = Starlette(routes=[Route("/hooks/tether", self._receive, methods=["POST"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="receiver", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The webhook receiver did not start.")
            time.sleep(0.01)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)


# ---------------------------------------------------------------------------------------------
# The organization: who is in it, what they see and chose, and what each must hear.


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    role: Role
    share: float | None = None  # limited staff: the share of clients they see
    connector: bool = False  # connects a share of the authorizations
    email_opt_in: bool = False  # opted in to every email
    in_app_opt_out: bool = False  # opted out of in-app authorization.lapsed

    @property
    def email(self) -> str:
        return f"{self.key}@storm.example"


PEOPLE = (
    Person("ada", "Ada Admin", Role.ADMIN, connector=True),
    Person("ben", "Ben Admin", Role.ADMIN, in_app_opt_out=True),
    Person("cleo", "Cleo Staff", Role.STAFF, connector=True),
    Person("dev", "Dev Staff", Role.STAFF, share=0.30, connector=True),
    Person("eve", "Eve Staff", Role.STAFF, share=0.10, email_opt_in=True),
    Person("finn", "Finn Staff", Role.STAFF, share=0.0125),
    Person("gus", "Gus Viewer", Role.VIEWER, email_opt_in=True),
)


@dataclass
class Seeded:
    member_ids: dict[str, uuid.UUID] = field(default_factory=dict)  # person key -> member id
    sees: dict[str, set[uuid.UUID] | None] = field(default_factory=dict)  # None: every client
    authorizations: dict[uuid.UUID, tuple[str, str, set[uuid.UUID]]] = field(
        default_factory=dict
    )  # id -> (provider, connector key, clients of its connections)
    clients: int = 0
    accounts: int = 0
    connections: int = 0


@dataclass
class Expected:
    in_app: set[tuple[uuid.UUID, str]]  # (authorization, person)
    email: set[tuple[uuid.UUID, str]]
    digest: set[tuple[uuid.UUID, str]]  # of `email`, those mailed in digests
    webhooks: set[uuid.UUID]  # authorization.lapsed per authorization (one endpoint)


def expect(seeded: Seeded, skip: Sequence[str] = ()) -> Expected:
    """What docs/notifications.md promises for one lapse per authorization (with `skip`, every
    member opted out of lapse emails, or there is no webhook endpoint)."""
    in_app: set[tuple[uuid.UUID, str]] = set()
    email: set[tuple[uuid.UUID, str]] = set()
    digest: set[tuple[uuid.UUID, str]] = set()
    for authorization_id, (provider, connector, clients) in seeded.authorizations.items():
        for person in PEOPLE:
            sees = seeded.sees[person.key]
            if sees is not None and not sees & clients:
                continue  # a member hears only of clients they can see
            if person.role in (Role.ADMIN, Role.STAFF) and not person.in_app_opt_out:
                in_app.add((authorization_id, person.key))
            if "email" in skip:
                continue
            if person.key == connector or person.email_opt_in:
                email.add((authorization_id, person.key))
                if BY_KEY[provider].email_grouping == "digest":
                    digest.add((authorization_id, person.key))
    hooked = set() if "webhooks" in skip else set(seeded.authorizations)
    return Expected(in_app, email, digest, hooked)


async def seed(
    url: str,
    minted: Sequence[Minted],
    *,
    connections: int,
    clients: int,
    receiver_url: str,
    skip: Sequence[str] = (),
) -> tuple[Seeded, str]:
    """Everything in Tether's database; returns it and the webhook endpoint's secret."""
    rng = random.Random(20261201)
    seeded = Seeded()
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            admin = await create_organization(
                session,
                name="Storm Agency",
                admin_email=PEOPLE[0].email,
                admin_name=PEOPLE[0].name,
                password=None,
            )
            organization_id = admin.organization.id
            client_rows = [
                {
                    "id": uuid.uuid4(),
                    "organization_id": organization_id,
                    "name": f"Client {n:04d}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(clients)
            ]
            await session.execute(insert(Client), client_rows)
            client_ids = [row["id"] for row in client_rows]
            seeded.member_ids[PEOPLE[0].key] = admin.member.id
            seeded.sees[PEOPLE[0].key] = None
            for person in PEOPLE[1:]:
                limited = (
                    set(rng.sample(client_ids, max(1, round(person.share * clients))))
                    if person.share is not None
                    else None
                )
                member = await members_service.create_member(
                    session,
                    organization_id=organization_id,
                    email=person.email,
                    name=person.name,
                    role=person.role,
                    client_ids=sorted(limited) if limited is not None else None,
                )
                seeded.member_ids[person.key] = member.id
                seeded.sees[person.key] = limited
            for person in PEOPLE:
                member_id = seeded.member_ids[person.key]
                if person.email_opt_in or "email" in skip:
                    session.add_all(
                        NotificationPreference(
                            member_id=member_id,
                            event=e,
                            channel=Channel.EMAIL,
                            enabled="email" not in skip,
                        )
                        for e in Event
                    )
                if person.in_app_opt_out:
                    session.add(
                        NotificationPreference(
                            member_id=member_id, event=LAPSED, channel=Channel.IN_APP, enabled=False
                        )
                    )
            secret = ""
            if "webhooks" not in skip:
                actor = await members_service.actor_for(session, admin.member)
                # The receiver listens on 127.0.0.1, which webhooks refuse unless allowed.
                _, secret = await webhooks.create_endpoint(
                    session,
                    actor=actor,
                    settings=Settings(webhooks_allow_private_targets=True),
                    url=receiver_url,
                    description="lapse storm receiver",
                    events=list(Event),
                )
            await session.commit()

        connectors = [p.key for p in PEOPLE if p.connector]
        authorizations, accounts, connection_rows = [], [], []
        per_authorization, extra = divmod(connections, len(minted))
        for number, user in enumerate(minted):
            provider = PROVIDERS[number % len(PROVIDERS)]
            connector = rng.choice(connectors)
            authorization_id = uuid.uuid4()
            authorizations.append(
                {
                    "id": authorization_id,
                    "organization_id": organization_id,
                    "provider": provider,
                    "connector_id": seeded.member_ids[connector],
                    "role": AuthorizationRole.SECONDARY,
                    "status": Status.ACTIVE,
                    "external_user_id": user.user_id,
                    "external_user_name": user.name,
                    "scope": "ads.read",
                    "access_token": vault.seal(user.access),
                    "refresh_token": vault.seal(user.refresh) if user.refresh else None,
                    "expires_at": now + timedelta(seconds=user.expires_in),
                    "next_check_at": now,
                    "accounts_checked_at": now,
                    "check_failures": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            account_rows = [
                {
                    "id": uuid.uuid4(),
                    "organization_id": organization_id,
                    "authorization_id": authorization_id,
                    "external_id": external_id,
                    "name": name,
                    "currency": "USD",
                    "status": Status.ACTIVE,
                    "created_at": now,
                    "updated_at": now,
                }
                for external_id, name in user.accounts
            ]
            accounts += account_rows
            count = per_authorization + (1 if number < extra else 0)
            chosen = rng.sample(range(clients), count)  # distinct clients: no unique clash
            for n, client_index in enumerate(chosen):
                account = account_rows[n % len(account_rows)]
                connection_rows.append(
                    {
                        "id": uuid.uuid4(),
                        "organization_id": organization_id,
                        "client_id": client_ids[client_index],
                        "authorization_id": authorization_id,
                        "account_id": account["id"],
                        "provider": provider,
                        "status": Status.ACTIVE,
                        "client_name": client_rows[client_index]["name"],
                        "account_name": account["name"],
                        "account_external_id": account["external_id"],
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            seeded.authorizations[authorization_id] = (
                provider,
                connector,
                {client_ids[i] for i in chosen},
            )
        async with engine.begin() as connection:
            for model, rows in (
                (Authorization, authorizations),
                (Account, accounts),
                (Connection, connection_rows),
            ):
                for start in range(0, len(rows), BATCH):
                    await connection.execute(insert(model), rows[start : start + BATCH])
        seeded.clients, seeded.accounts = clients, len(accounts)
        seeded.connections = len(connection_rows)
        return seeded, secret
    finally:
        await engine.dispose()


async def vacuum_and_make_due(plain_url: str) -> None:
    db = await asyncpg.connect(plain_url)
    try:
        await db.execute("VACUUM (ANALYZE)")
        await db.execute("UPDATE authorizations SET next_check_at = now(), last_checked_at = NULL")
    finally:
        await db.close()


# ---------------------------------------------------------------------------------------------
# Counting what arrived: every expected item once, nothing unexpected, no duplicate.


@dataclass
class Track:
    """One channel's tally against what it should carry."""

    name: str
    expected: int
    got: int = 0  # expected items that arrived
    duplicates: int = 0
    unexpected: int = 0
    messages: int = 0  # rows, messages or requests, whatever they carried
    first_at: float | None = None  # seconds after the switch
    last_at: float | None = None  # when the last expected item came
    problems: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> bool:
        return self.got >= self.expected

    def seconds(self) -> str:
        return f"{self.last_at:.1f}" if self.done and self.last_at is not None else "-"

    def saw(self, at: float) -> None:
        self.first_at = at if self.first_at is None else min(self.first_at, at)


class Tally:
    """What arrived on each channel, read from the receivers and the database as it comes."""

    def __init__(self, expected: Expected, seeded: Seeded, switch: float, wall: datetime) -> None:
        self.expected = expected
        self.switch, self.wall = switch, wall
        self.person_by_email = {p.email: p.key for p in PEOPLE}
        self.person_by_id = {member_id: key for key, member_id in seeded.member_ids.items()}
        self.checks = Track("authorizations needs_reconnect", len(seeded.authorizations))
        self.in_app = Track("in-app notifications", len(expected.in_app))
        self.email = Track(
            "emails, one per lapse (x recipient)", len(expected.email) - len(expected.digest)
        )
        self.webhooks = Track("webhooks", len(expected.webhooks))
        self.digests = Track("lapses told in digests (x recip.)", len(expected.digest))
        # Each digest message: when it came (seconds after the switch) and to whom.
        self.digest_mails: list[tuple[float, list[str | None]]] = []
        self.digest_listed = 0  # lapses a digest listed with their reconnect link
        self.digest_counted = 0  # lapses a digest counted beyond those it listed
        self.mails_read = 0
        self.several = Counter[str]()  # messages with several lapses, and the lapses in them
        self.parse_seconds = 0.0
        self._message_ids: Counter[str] = Counter()
        self._emailed: Counter[tuple[uuid.UUID, str | None]] = Counter()

    @property
    def tracks(self) -> tuple[Track, ...]:
        """The channels held to the 30 s target."""
        return (self.checks, self.in_app, self.email, self.webhooks)

    @property
    def done(self) -> bool:
        return all(t.done for t in self.tracks)

    @property
    def last_at(self) -> float:
        return max(t.last_at or 0.0 for t in self.tracks)

    def read_mails(self, mails: Sequence[Mail]) -> None:
        """Each message: its Message-ID, and per recipient the lapses it tells of (the reconnect
        links name the authorization: they are verified with the key ring). A message telling of
        a lapse mailed in digests counts on the digests' track, any other on the emails'."""
        started = time.perf_counter()
        for mail in mails:
            self.mails_read += 1
            at = mail.at - self.switch
            message = message_from_bytes(mail.raw)
            text = next(
                (
                    bytes(part.get_payload(decode=True) or b"")
                    for part in message.walk()
                    if part.get_content_type() == "text/plain"
                ),
                b"",
            )
            tokens = RECONNECT_LINK.findall(text)
            targets, forged = [], 0
            for token in tokens:
                try:
                    targets.append(links.check_link(token.decode()))
                except Exception:
                    forged += 1
            told = [
                (target.authorization_id, self.person_by_email.get(recipient))
                for recipient in mail.recipients
                for target in targets
            ]
            digest = any(key in self.expected.digest for key in told)
            track = self.digests if digest else self.email
            expected = self.expected.digest if digest else self.expected.email
            track.messages += 1
            track.saw(at)
            if digest:
                persons = [self.person_by_email.get(r) for r in mail.recipients]
                self.digest_mails.append((at, persons))
                found = MORE_TOLD.search(text)
                more = int(found.group(1).replace(b",", b"")) if found else 0
                # Told, but not by name: no duplicate can be seen among them here (each outbox
                # row is marked sent once, and the run checks none was tried twice).
                self.digest_listed += len(told)
                self.digest_counted += more * len(persons)
                track.got += more * len(persons)
                if more:
                    track.last_at = max(track.last_at or 0.0, at)
            message_id = str(message["Message-ID"])
            self._message_ids[message_id] += 1
            if self._message_ids[message_id] > 1:
                track.problems["a Message-ID seen before"] += 1
            if forged:
                track.problems["a reconnect link that does not verify"] += forged
            items = text.count(b"\n  When: ")
            if items != len(tokens):
                track.problems["lapses told without a reconnect link"] += items - len(tokens)
            if items > 1:
                self.several["messages"] += 1
                self.several["lapses"] += items
            for key in told:
                self._emailed[key] += 1
                if self._emailed[key] > 1:
                    track.duplicates += 1
                elif key in expected:
                    track.got += 1
                    track.last_at = max(track.last_at or 0.0, at)
                else:
                    track.unexpected += 1
        self.parse_seconds += time.perf_counter() - started

    def read_hooks(self, hooks: Sequence[Hook]) -> None:
        """Every request so far (cheap enough to recount): signed, and once per delivery id, per
        (incident, event) and per lapsed authorization."""
        track = self.webhooks
        track.got = track.duplicates = track.unexpected = 0
        track.problems.clear()
        track.messages = len(hooks)
        ids: Counter[str] = Counter()
        events: Counter[tuple[str, str]] = Counter()
        told: set[uuid.UUID] = set()  # authorizations whose lapse came (one incident each)
        for hook in hooks:
            at = hook.at - self.switch
            track.saw(at)
            if not hook.genuine:
                track.problems["a bad signature (answered 401)"] += 1
                continue
            ids[hook.delivery] += 1
            events[(hook.incident, hook.event)] += 1
            if ids[hook.delivery] > 1 or events[(hook.incident, hook.event)] > 1:
                track.duplicates += 1
            elif hook.event == LAPSED and _uuid(hook.authorization) in told:
                track.duplicates += 1  # a second incident for one lapse
            elif hook.event == LAPSED and _uuid(hook.authorization) in self.expected.webhooks:
                told.add(uuid.UUID(hook.authorization))
                track.got += 1
                track.last_at = max(track.last_at or 0.0, at)
            else:
                track.unexpected += 1

    async def read_database(self, db: asyncpg.Connection, *, full: bool = False) -> None:
        """Checks and in-app rows; their times come from the rows' own timestamps. The in-app
        rows are read one by one once there are enough of them (or when `full`)."""
        row = await db.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'needs_reconnect'), "
            "min(last_checked_at), max(last_checked_at) FROM authorizations"
        )
        self.checks.got = self.checks.messages = int(row[0])
        if row[1] is not None:
            self.checks.first_at = (row[1] - self.wall).total_seconds()
            self.checks.last_at = (row[2] - self.wall).total_seconds()
        track = self.in_app
        if track.done and not full:
            return
        track.messages = int(await db.fetchval("SELECT count(*) FROM notifications"))
        if track.messages < track.expected and not full:
            return
        rows = await db.fetch(
            "SELECT i.authorization_id, n.member_id, n.event, n.created_at FROM notifications n "
            "JOIN incidents i ON i.id = n.incident_id"
        )
        seen: Counter[tuple[uuid.UUID, str]] = Counter()
        track.got = track.duplicates = track.unexpected = 0
        track.messages = len(rows)
        for authorization_id, member_id, event, created_at in rows:
            key = (authorization_id, self.person_by_id.get(member_id, str(member_id)))
            seen[key] += 1
            at = (created_at - self.wall).total_seconds()
            track.saw(at)
            if seen[key] > 1:
                track.duplicates += 1
            elif event == LAPSED and key in self.expected.in_app:
                track.got += 1
                track.last_at = max(track.last_at or 0.0, at)
            else:
                track.unexpected += 1


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# The worker, and (optionally) py-spy on it.


def clear_namespace(namespace: str) -> None:
    clear_redis(REDIS_URL, f"{namespace}*")


TROUBLES = {
    "too many clients already": "PostgreSQL refused connections (max_connections is shared with "
    "whatever else runs): checks or deliveries failed and wait for the dispatch timeout",
    "Traceback": "tracebacks",
}


def troubles(log: str) -> Counter[str]:
    return Counter({meaning: log.count(text) for text, meaning in TROUBLES.items() if text in log})


STAGES = (  # a frame (first match wins) that marks the stage a stack belongs to, and its name
    ("tick (tether/worker/scheduler.py", "scheduler ticks"),
    ("<module>", "imports at start-up"),
    ("(tether/health/", "health checks"),
    ("(tether/notifications/email.py", "emails"),
    ("(tether/notifications/webhooks.py", "webhooks"),
    ("(tether/", "other Tether code"),
)
OTHER = "no Tether frame (SQLAlchemy in greenlets, drivers, event loop): not attributable"


def profile_summary(path: Path, top: int = 20) -> str:
    """py-spy's collapsed stacks (only threads holding the GIL), summed per thread and per
    function: own samples, and samples with the function anywhere on the stack."""
    own: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        frames = [_short(f) for f in stack.split(";")]
        total += samples
        threads[re.sub(r"\(\d+\)", "", frames[0])] += samples
        own[frames[-1]] += samples
        for frame in set(frames[1:]):
            inside[frame] += samples
    if not total:
        return "(py-spy recorded no samples)"
    ours = Counter({f: n for f, n in inside.items() if "(tether/" in f})
    kinds: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            kinds[next((k for m, k in STAGES if m in _shorts(stack)), OTHER)] += int(count)
    out = [f"{total:,} samples holding the GIL, at 100 per second ({total / 100:.1f} s)."]
    out.append("By thread:")
    out += [f"  {n / total:6.1%}  {name}" for name, n in threads.most_common(6)]
    out.append("By stage (from the Tether frames on the stack):")
    out += [f"  {n / total:6.1%}  {name}" for name, n in kinds.most_common()]
    out.append("Own time (the function itself held the GIL):")
    out += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    out.append("Inclusive time of Tether's functions (on the stack of a thread holding the GIL):")
    out += [f"  {n / total:6.1%}  {name}" for name, n in ours.most_common(top + 10)]
    return "\n".join(out)


def _shorts(stack: str) -> str:
    return ";".join(_short(f) for f in stack.split(";"))


def _short(frame: str) -> str:
    frame = re.sub(r"\(/[^)]*?/site-packages/", "(", frame)
    frame = re.sub(r"\(/[^)]*?/src/tether/", "(tether/", frame)
    return re.sub(r"\(/[^)]*?/lib/python3\.\d+/", "(", frame)


# ---------------------------------------------------------------------------------------------
# The storm and the report.


@dataclass
class Bare:
    """The floor: the rows Tether wrote for the storm, written again through the driver."""

    rows: int
    seconds: float  # wall time
    cpu: float  # this process's CPU time


@dataclass
class Run:
    workers: int
    tally: Tally
    gave_up: str | None
    revoked: int
    revoke_seconds: float
    outbox: dict[str, int]
    sandbox_calls: dict[str, dict[str, int]]
    log_tail: str
    log_says: Counter[str]  # known troubles found in the workers' logs
    profiles: list[tuple[str, str, Path | None]]  # per phase: name, summary, stacks
    worker_cpu: float | None  # every worker's CPU when the last non-digest item came
    checks_cpu: float | None  # the first worker's CPU when the last authorization was checked
    load: tuple[float, float, float]  # 1-minute load average before seeding, at the switch, end
    waited_for_digests: bool
    lateness: list[float]  # per digest message: seconds after its window closed
    bare: Bare | None


def default_of(name: str) -> Any:
    return Settings.model_fields[name].default


def digest_window(args: argparse.Namespace) -> int:
    """The digest window in effect: --digest-window, or Tether's default."""
    return int(args.digest_window or default_of("email_digest_window_seconds"))


def settings_line(args: argparse.Namespace) -> str:
    """The headline's settings, each marked when it is not Tether's default."""
    window = f"TETHER_EMAIL_DIGEST_WINDOW_SECONDS={digest_window(args)}"
    tick = f"TETHER_SCHEDULER_TICK_SECONDS={args.tick or default_of('scheduler_tick_seconds'):g}"
    return ", ".join(
        f"{text} ({'set for this run' if given else 'default'})"
        for text, given in ((window, args.digest_window), (tick, args.tick))
    )


def worker_env(
    args: argparse.Namespace, *, url: str, secret_keys: str, sandbox: str, smtp_port: int,
    namespace: str, folder: Path,
) -> dict[str, str]:  # fmt: skip
    return {
        **worker_base_env(
            folder=folder,
            url=url,
            secret_keys=secret_keys,
            redis_url=REDIS_URL,
            namespace=namespace,
            sandbox_url=sandbox,
        ),
        "TETHER_PUBLIC_URL": PUBLIC_URL,
        "TETHER_SANDBOX_STANDS_IN_FOR": STANDS_IN_FOR,
        "TETHER_SMTP_HOST": HOST,
        "TETHER_SMTP_PORT": str(smtp_port),
        "TETHER_SMTP_TLS": "none",
        "TETHER_SMTP_FROM": "Tether <tether@storm.example>",
        "TETHER_CHECK_INTERVAL_SECONDS": str(QUIET),
        "TETHER_ACCOUNTS_CHECK_INTERVAL_SECONDS": str(QUIET),
        "TETHER_LOG_LEVEL": "warning",
        # The webhook receiver listens on 127.0.0.1, a private address.
        "TETHER_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        **(
            {"TETHER_EMAIL_DIGEST_WINDOW_SECONDS": str(args.digest_window)}
            if args.digest_window
            else {}
        ),
        **({"TETHER_SCHEDULER_TICK_SECONDS": str(args.tick)} if args.tick else {}),
        **({"TETHER_WORKER_THREADS": str(args.threads)} if args.threads else {}),
        **args.extra_env,
    }


class Watcher:
    """The workers seen from outside: their CPU time when the last authorization was checked
    (the first worker's) and when the last item but the digests came (all of them), and with
    --profile one py-spy recording of the first worker until the last check (start-up and
    checks) and one after (delivery), so that SQLAlchemy's work, which py-spy cannot tie to a
    caller, falls in the right phase."""

    def __init__(
        self, processes: list[subprocess.Popen[bytes]], folder: Path, profile: bool
    ) -> None:
        self.processes, self.folder, self.profile = processes, folder, profile
        self.checks_cpu: float | None = None
        self.delivered_cpu: float | None = None
        self.recordings: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
        if profile:
            self._record("until the last check (start-up, checks, in-app rows)")

    def _record(self, phase: str) -> None:
        path = self.folder / f"pyspy-{len(self.recordings)}.txt"
        spy = subprocess.Popen(
            ["py-spy", "record", "-p", str(self.processes[0].pid), "-r", "100", "-f", "raw",
             "--threads", "--gil", "--nonblocking", "-o", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.recordings.append((phase, path, spy))

    def checked(self) -> None:
        """Every authorization has been checked: note the CPU time, start the second phase."""
        if self.checks_cpu is not None:
            return
        self.checks_cpu = read_cpu_seconds(self.processes[0].pid)
        if self.profile:
            stop_process(self.recordings[-1][2], signal.SIGINT)
            self._record("after the last check (emails, webhooks)")

    def delivered(self) -> None:
        """Everything but the digests came: note the CPU time of every worker."""
        if self.delivered_cpu is None:
            self.delivered_cpu = sum(read_cpu_seconds(p.pid) or 0.0 for p in self.processes)

    def dead(self) -> int | None:
        """The exit code of a worker that stopped, if one did."""
        return next((p.returncode for p in self.processes if p.poll() is not None), None)

    def stop(self) -> None:
        for _, _, spy in self.recordings:
            stop_process(spy, signal.SIGINT)

    def summaries(self) -> list[tuple[str, str, Path | None]]:
        """Per phase: its name, the summary, and where its stacks are kept."""
        out = []
        for phase, path, _ in self.recordings:
            if not path.exists():
                out.append((phase, "(py-spy wrote nothing)", None))
                continue
            kept = Path(tempfile.gettempdir()) / f"lapse_storm_{os.getpid()}_{path.name}"
            shutil.copyfile(path, kept)
            out.append((phase, profile_summary(path), kept))
        return out


def run_storm(
    args: argparse.Namespace,
    *,
    workers: int,
    wait_for_digests: bool,
    url: str,
    plain_url: str,
    secret_keys: str,
    sandbox: Sandbox,
    seeded: Seeded,
    mail: MailServer,
    hooks: HookReceiver,
    folder: Path,
) -> Run:
    namespace = f"tether-storm-{os.getpid()}-{workers}"
    clear_namespace(namespace)
    asyncio.run(vacuum_and_make_due(plain_url))
    httpx.delete(f"{sandbox.url}/control/stats", timeout=30).raise_for_status()
    env = worker_env(
        args,
        url=url,
        secret_keys=secret_keys,
        sandbox=sandbox.url,
        smtp_port=mail.port,
        namespace=namespace,
        folder=folder,
    )
    expected = expect(seeded, args.skip)
    logs = [folder / f"worker-{n + 1}.log" for n in range(workers)]
    processes: list[subprocess.Popen[bytes]] = []
    watcher: Watcher | None = None
    try:
        # The switch: every grant revoked at once. The clock starts here.
        load_at_switch = os.getloadavg()[0]
        wall, switch = datetime.now(UTC), time.monotonic()
        revoked, revoke_seconds = sandbox.revoke_all()
        tally = Tally(expected, seeded, switch, wall)
        for path in logs:
            with path.open("w") as log:
                processes.append(
                    subprocess.Popen(
                        worker_command(), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder
                    )
                )
        watcher = Watcher(processes, folder, args.profile)
        gave_up = asyncio.run(
            _watch(plain_url, tally, mail, hooks, watcher, args, wait_for_digests)
        )
        load = (args.load_before, load_at_switch, os.getloadavg()[0])
    finally:
        for process in processes:
            stop_process(process)
        if watcher is not None:
            watcher.stop()
        clear_namespace(namespace)
    # One last look, after the workers stopped: anything late counts too.
    tally.read_mails(mail.taken(tally.mails_read))
    tally.read_hooks(hooks.taken())
    outbox = asyncio.run(retrying(lambda: _final_look(plain_url, tally)))
    lateness = (
        asyncio.run(_digest_lateness(plain_url, tally, digest_window(args)))
        if wait_for_digests
        else []
    )
    text = "\n".join(path.read_text() for path in logs)
    return Run(
        workers=workers,
        tally=tally,
        gave_up=gave_up,
        revoked=revoked,
        revoke_seconds=revoke_seconds,
        outbox=outbox,
        sandbox_calls=sandbox.stats()["totals"],
        log_tail="\n".join(logs[0].read_text().splitlines()[-25:]),
        log_says=troubles(text),
        profiles=watcher.summaries(),
        worker_cpu=watcher.delivered_cpu,
        checks_cpu=watcher.checks_cpu,
        load=load,
        waited_for_digests=wait_for_digests,
        lateness=lateness,
        bare=None,
    )


async def _watch(
    plain_url: str,
    tally: Tally,
    mail: MailServer,
    hooks: HookReceiver,
    watcher: Watcher,
    args: argparse.Namespace,
    wait_for_digests: bool,
) -> str | None:
    """Poll until everything arrived (then watch `settle` seconds more for late duplicates),
    a worker died, or the time ran out; returns why it gave up, if it did. The digests, when
    waited for, have until their window closes and `--timeout` more."""
    db = await asyncpg.connect(plain_url)
    window = digest_window(args)
    try:
        printed = 0.0
        ended_at: float | None = None
        while True:
            tally.read_mails(mail.taken(tally.mails_read))
            tally.read_hooks(hooks.taken())
            await tally.read_database(db)
            if tally.checks.done:
                watcher.checked()
            if tally.done:
                watcher.delivered()
            elapsed = time.monotonic() - tally.switch
            if elapsed - printed >= PROGRESS_EVERY:
                printed = elapsed
                tracks = (*tally.tracks, tally.digests) if wait_for_digests else tally.tracks
                status = ", ".join(
                    f"{t.name.split(' (')[0].split(',')[0]} "
                    f"{max(t.got, t.messages if t is tally.in_app else 0):,}/{t.expected:,}"
                    for t in tracks
                )
                print(f"  {elapsed:4.0f} s: {status}", flush=True)
            finished = tally.done and (tally.digests.done or not wait_for_digests)
            if finished:
                ended_at = ended_at or time.monotonic()
                if time.monotonic() - ended_at >= args.settle:
                    return None
            elif (dead := watcher.dead()) is not None:
                return f"a worker exited (code {dead}) before the end"
            elif not tally.done and elapsed > args.timeout:
                return f"gave up after {args.timeout:g} s"
            elif elapsed > window + args.timeout:
                return f"gave up on the digests {window + args.timeout:g} s after the switch"
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await db.close()


async def _digest_lateness(plain_url: str, tally: Tally, window: int) -> list[float]:
    """Per digest message, the seconds between its window's close (the oldest lapse of its
    recipient's digest, written to the outbox, plus the window) and its arrival. A storm's
    lapses all fall in one window, so each recipient gets one digest."""
    db = await asyncpg.connect(plain_url)
    try:
        rows = await db.fetch(
            "SELECT member_id, min(created_at) AS oldest FROM email_deliveries "
            "WHERE grouping = 'digest' GROUP BY member_id"
        )
    finally:
        await db.close()
    oldest_of = {tally.person_by_id.get(row["member_id"]): row["oldest"] for row in rows}
    late = []
    for at, persons in tally.digest_mails:
        oldest = min((oldest_of[p] for p in persons if p in oldest_of), default=None)
        if oldest is not None:
            closed = (oldest - tally.wall).total_seconds() + window
            late.append(at - closed)
    return late


BARE_TABLES = (
    "incidents",
    "incident_clients",
    "audit_events",
    "notifications",
    "email_deliveries",
    "webhook_deliveries",
)


async def bare_insert(plain_url: str) -> Bare:
    """The floor of a lapse's writes: every row Tether wrote for the storm (incidents, what
    they name, audit entries, the three outboxes) inserted again through asyncpg's executemany
    into empty copies of their tables (indexes included), and the statuses of the
    authorizations and connections set again on copies, one transaction per table."""
    db = await asyncpg.connect(plain_url)
    rows, seconds, cpu = 0, 0.0, 0.0
    try:
        work: list[tuple[str, list[tuple[Any, ...]]]] = []
        for table in BARE_TABLES:
            records = await db.fetch(f"SELECT * FROM {table}")
            if not records:
                continue
            names = list(records[0].keys())
            await db.execute(f"CREATE TABLE bare_{table} (LIKE {table} INCLUDING ALL)")
            marks = ", ".join(f"${n + 1}" for n in range(len(names)))
            sql = f"INSERT INTO bare_{table} ({', '.join(names)}) VALUES ({marks})"
            work.append((sql, [tuple(r) for r in records]))
            rows += len(records)
        for table in ("authorizations", "connections"):
            await db.execute(f"CREATE TABLE bare_{table} AS SELECT * FROM {table}")
            await db.execute(f"CREATE INDEX ON bare_{table} (id)")
        if await db.fetchval("SELECT count(*) FROM bare_connections") > 0:
            await db.execute("CREATE INDEX ON bare_connections (authorization_id)")
        lapsed = await db.fetch("SELECT id, reason, message FROM authorizations")
        work.append((
            "UPDATE bare_authorizations SET status = 'needs_reconnect', reason = $2, "
            "message = $3, updated_at = now() WHERE id = $1",
            [tuple(r) for r in lapsed],
        ))  # fmt: skip
        work.append((
            "UPDATE bare_connections SET status = 'needs_reconnect', reason = $2, "
            "message = $3, updated_at = now() WHERE authorization_id = $1",
            [tuple(r) for r in lapsed],
        ))  # fmt: skip
        rows += 2 * len(lapsed)
        for sql, values in work:
            started, cpu_started = time.perf_counter(), time.thread_time()
            async with db.transaction():
                await db.executemany(sql, values)
            seconds += time.perf_counter() - started
            cpu += time.thread_time() - cpu_started
    finally:
        await db.close()
    return Bare(rows, seconds, cpu)


async def _final_look(plain_url: str, tally: Tally) -> dict[str, int]:
    """Every in-app row, and what the outbox tables say."""
    db = await asyncpg.connect(plain_url)
    try:
        await tally.read_database(db, full=True)
        queries = {
            "incidents": "SELECT count(*) FROM incidents",
            "doubled": "SELECT count(*) FROM (SELECT authorization_id FROM incidents "
            "GROUP BY authorization_id HAVING count(*) > 1) t",
            "email_rows": "SELECT count(*) FROM email_deliveries",
            "email_sent": "SELECT count(*) FROM email_deliveries WHERE sent_at IS NOT NULL",
            "email_retried": "SELECT count(*) FROM email_deliveries WHERE attempts > 1",
            "hook_rows": "SELECT count(*) FROM webhook_deliveries",
            "hook_sent": "SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL",
            "hook_retried": "SELECT count(*) FROM webhook_deliveries WHERE attempts > 1",
            "lapsed_connections": "SELECT count(*) FROM connections "
            "WHERE status = 'needs_reconnect'",
            "connections": "SELECT count(*) FROM connections",
        }
        return {key: int(await db.fetchval(sql)) for key, sql in queries.items()}
    finally:
        await db.close()


def report(run: Run, seeded: Seeded, args: argparse.Namespace) -> None:
    tally, expected, outbox = run.tally, run.tally.expected, run.outbox
    n = len(seeded.authorizations)
    per_provider = Counter(p for p, _, _ in seeded.authorizations.values())
    providers = ", ".join(f"{per_provider[p]:,} {p}" for p in PROVIDERS)
    workers = f"{run.workers} `tether worker` process{'es' if run.workers > 1 else ''}"
    print(
        f"\n=== Lapse storm: {n:,} authorizations ({providers}), {seeded.connections:,} "
        f"connections over {seeded.accounts:,} accounts and {seeded.clients:,} clients, "
        f"{len(PEOPLE)} members;\n    {workers} on PostgreSQL (Redis broker), "
        f"{settings_line(args)}"
    )
    if args.skip:
        print(f"PARTIAL RUN (--skip {' '.join(args.skip)}): for isolating stages, not the figure.")
    print(
        f"The switch: {run.revoked:,} grants revoked at once in the sandbox "
        f"({run.revoke_seconds * 1000:.0f} ms), then the worker{'s' if run.workers > 1 else ''} "
        "started."
    )
    header = (
        f"{'channel':<36} {'expected':>8} {'arrived':>8} {'dupl.':>6} {'unexp.':>6} "
        f"{'first s':>7} {'all s':>6}"
    )
    print(header)
    print("-" * len(header))
    tracks = (*tally.tracks, tally.digests) if run.waited_for_digests else tally.tracks
    for track in tracks:
        first = f"{track.first_at:.1f}" if track.first_at is not None else "-"
        print(
            f"{track.name:<36} {track.expected:8,} {track.got:8,} {track.duplicates:6,} "
            f"{track.unexpected:6,} {first:>7} {track.seconds():>6}"
        )
    digests = (
        f"{tally.digests.messages:,} digest messages ({tally.several['lapses']:,} lapses in "
        f"{tally.several['messages']:,} messages of several; {tally.digest_listed:,} listed with "
        f"their link, {tally.digest_counted:,} counted beyond the {DIGEST_LISTED} a digest lists)"
        if run.waited_for_digests
        else "digests not waited for in this run"
    )
    print(
        f"(seconds after the switch: checks and in-app from the rows' timestamps, emails and "
        f"webhooks from their arrival.\n {tally.email.messages:,} emails of one lapse; "
        f"{len(expected.digest):,} lapses x recipients go in snapchat_ads digests: {digests};"
        f"\n {tally.webhooks.messages:,} webhook requests; {tally.in_app.messages:,} in-app rows.)"
    )
    print(
        f"Outbox: {outbox['incidents']:,} incidents; {outbox['email_rows']:,} email rows "
        f"({outbox['email_sent']:,} sent, {outbox['email_retried']:,} tried more than once); "
        f"{outbox['hook_rows']:,} webhook rows ({outbox['hook_sent']:,} delivered, "
        f"{outbox['hook_retried']:,} tried more than once)."
    )
    refused = sum(REFUSED_PER_LAPSE[p] * count for p, count in per_provider.items())
    problems = _problems(run, refused)
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    if problems and run.log_tail:
        print("  last lines of the worker's log:\n    " + run.log_tail.replace("\n", "\n    "))
    duplicates = sum(t.duplicates for t in tracks)
    if tally.done:
        slowest = max(tally.tracks, key=lambda t: t.last_at or 0.0)
        print(
            f"\nEverything but the digests delivered {tally.last_at:.1f} s after the switch "
            f"(last: {slowest.name}); duplicates: {duplicates} (must be 0)."
        )
    else:
        print(f"\nNot everything was delivered ({run.gave_up}); duplicates: {duplicates}.")
    print(
        f"Target (everything but the digests under {TARGET_SECONDS:g} s, no duplicate, no "
        f"problem): {'met' if met(run, problems) else 'MISSED'}."
    )
    if run.waited_for_digests:
        window = digest_window(args)
        if run.lateness and tally.digests.done:
            late = sorted(run.lateness)
            print(
                f"Digests: {len(late):,} messages, each {late[0]:+.1f} to {late[-1]:+.1f} s after "
                f"its window closed (the oldest lapse it tells of + {window} s)."
            )
        on_time = bool(run.lateness) and tally.digests.done and min(run.lateness) >= -1.0
        on_time = on_time and max(run.lateness) <= DIGEST_LATE_SECONDS
        print(
            f"Target (each digest within {DIGEST_LATE_SECONDS:g} s after its window closed, "
            f"none before): {'met' if on_time and not problems else 'MISSED'}."
        )
    per_lapse = f"{run.worker_cpu / n * 1000:.1f} ms" if run.worker_cpu is not None else "?"
    cpu = f"Worker CPU until everything but the digests came: {per_lapse} per lapse"
    if run.worker_cpu is not None:
        cpu += f" ({run.worker_cpu:.1f} s over {run.workers} process(es), start-up included"
        if run.checks_cpu is not None:
            cpu += f"; the first worker {run.checks_cpu:.1f} s until the last check"
        cpu += ")"
    if run.bare is not None:
        bare = run.bare
        cpu += (
            f".\nFloor, the same rows written bare ({bare.rows:,} rows: the storm's incidents, "
            "their clients, audit entries and outbox rows inserted again by asyncpg's "
            "executemany into empty copies of their tables, and the statuses set again): "
            f"{bare.seconds / n * 1000:.2f} ms wall, {bare.cpu / n * 1000:.2f} ms of this "
            "process's CPU per lapse"
        )
        if run.worker_cpu is not None and bare.seconds > 0:
            cpu += f"; the worker's CPU per lapse is {run.worker_cpu / bare.seconds:.0f}x that wall"
    busy = ": other work shared the machine, times are inflated" if run.load[0] > 1.0 else ""
    print(
        f"{cpu}.\nThis process spent {tally.parse_seconds:.1f} s parsing emails. Load average "
        f"(1 min) before seeding {run.load[0]:.1f}, at the switch {run.load[1]:.1f}, at the end "
        f"{run.load[2]:.1f}, on {os.cpu_count()} cores{busy}."
    )
    for phase, summary, kept in run.profiles:
        print(f"\n=== py-spy of the (first) worker, {phase}\n{summary}")
        if kept:
            print(f"(py-spy's collapsed stacks: {kept})")


def met(run: Run, problems: Sequence[str] | None = None) -> bool:
    tally = run.tally
    duplicates = sum(t.duplicates for t in tally.tracks)
    clean = not problems if problems is not None else True
    return tally.done and tally.last_at < TARGET_SECONDS and duplicates == 0 and clean


def compare(runs: Sequence[Run]) -> None:
    """One worker against two (or whatever counts ran): the wall time of everything but the
    digests, and the CPU it took."""
    if len(runs) < 2:
        return
    print("\n=== Workers side by side (everything but the digests)")
    print(f"{'workers':>7} {'all s':>7} {'worker CPU s':>12} {'CPU ms/lapse':>12}")
    for run in runs:
        n = len(run.tally.expected.webhooks) or run.tally.checks.expected
        total = f"{run.tally.last_at:.1f}" if run.tally.done else "-"
        cpu = f"{run.worker_cpu:.1f}" if run.worker_cpu is not None else "?"
        per = f"{run.worker_cpu / n * 1000:.1f}" if run.worker_cpu is not None else "?"
        print(f"{run.workers:>7} {total:>7} {cpu:>12} {per:>12}")
    one = next((r for r in runs if r.workers == 1), None)
    more = [r for r in runs if r.workers > 1]
    for run in more:
        if one is None or not (one.tally.done and run.tally.done):
            print(f"Target ({run.workers} workers faster than 1): MISSED (a run did not finish).")
            continue
        less = 1 - run.tally.last_at / one.tally.last_at
        print(
            f"Target ({run.workers} workers faster than 1): "
            f"{'met' if less > 0 else 'MISSED'}: {less:.0%} less wall time."
        )


def _problems(run: Run, refused: int) -> list[str]:
    tally, outbox = run.tally, run.outbox
    problems = []
    tracks = (*tally.tracks, tally.digests) if run.waited_for_digests else tally.tracks
    if run.gave_up:
        missing = ", ".join(f"{t.expected - t.got:,} {t.name}" for t in tracks if not t.done)
        problems.append(f"{run.gave_up}; still missing: {missing}")
    for track in tracks:
        if track.unexpected:
            problems.append(f"{track.unexpected:,} unexpected {track.name}")
        for problem, count in track.problems.items():
            problems.append(f"{track.name}: {count:,} x {problem}")
    calls = run.sandbox_calls
    failed = sum(v["failed"] for v in calls.values())
    succeeded = sum(v["ok"] for v in calls.values())
    if failed != refused or succeeded:
        problems.append(
            f"the sandbox refused {failed:,} calls (expected {refused:,}: each lapse's probe, "
            f"and Snapchat's refresh) and answered {succeeded:,} with success (expected none)"
        )
    for meaning, count in run.log_says.items():
        problems.append(f"the worker's log shows {count:,} x {meaning}")
    if outbox["doubled"]:
        problems.append(f"{outbox['doubled']:,} authorizations with several incidents")
    if outbox["lapsed_connections"] != outbox["connections"]:
        problems.append(
            f"{outbox['lapsed_connections']:,} of {outbox['connections']:,} connections "
            "needs_reconnect"
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--authorizations", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=50_000)
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--accounts-per-user", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="worker processes, one storm per count (default: 1 then 2)",
    )
    parser.add_argument(
        "--digest-window",
        type=int,
        default=None,
        help="TETHER_EMAIL_DIGEST_WINDOW_SECONDS for the runs (default: Tether's, 900)",
    )
    parser.add_argument(
        "--tick", type=float, default=None, help="TETHER_SCHEDULER_TICK_SECONDS (default 2)"
    )
    parser.add_argument("--threads", type=int, default=None, help="TETHER_WORKER_THREADS")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="give up after (s); the digests get this long after their window",
    )
    parser.add_argument(
        "--settle", type=float, default=5.0, help="keep watching after the end for late duplicates"
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="TETHER_X=V",
        help="extra setting for the worker (repeatable)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["email", "webhooks"],
        help="to isolate a stage: every member opts out of lapse emails, or no webhook endpoint",
    )
    parser.add_argument(
        "--profile", action="store_true", help="record the worker with py-spy and summarise"
    )
    args = parser.parse_args(argv)
    args.extra_env = dict(item.split("=", 1) for item in args.worker_env)
    if any(not k.startswith("TETHER_") for k in args.extra_env):
        parser.error("--worker-env takes TETHER_NAME=value")
    if args.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy (pip install py-spy)")
    if args.connections < args.authorizations:
        parser.error("--connections must be at least --authorizations")
    if args.clients < -(-args.connections // args.authorizations):
        parser.error("--clients must be at least the connections per authorization")
    if any(w < 1 or w > 8 for w in args.workers):
        parser.error("--workers takes counts from 1 to 8")
    args.load_before = os.getloadavg()[0]
    started = time.perf_counter()
    runs = []
    for number, workers in enumerate(args.workers):
        last = number == len(args.workers) - 1
        runs.append(storm_on_a_fresh_database(args, workers, wait_for_digests=last))
    compare(runs)
    print(f"Total time: {time.perf_counter() - started:.0f} s")
    return 0


def storm_on_a_fresh_database(
    args: argparse.Namespace, workers: int, *, wait_for_digests: bool
) -> Run:
    """Seed a new database and sandbox, throw the switch with `workers` workers, report."""
    n = args.authorizations
    started = time.perf_counter()
    name = f"tether_bench_storm_{os.getpid()}_{workers}"
    plain_url, url = database_urls(name)
    secret_keys = new_keyring()
    mail, hooks = MailServer(), HookReceiver()
    with throwaway_database(name, retry_drop=True), contextlib.ExitStack() as cleanup:
        cleanup.callback(mail.stop)
        cleanup.callback(hooks.stop)  # first out
        with tempfile.TemporaryDirectory(prefix="tether-storm-") as folder:
            print(
                f"\nSeeding {n:,} authorizations and {args.connections:,} connections for "
                f"{workers} worker(s)...",
                flush=True,
            )
            migrate.upgrade(url)
            mail.start()
            hooks.start()
            with sandbox_serving(n, args.accounts_per_user) as sandbox:
                seeded, hooks.secret = asyncio.run(
                    seed(
                        url,
                        sandbox.minted,
                        connections=args.connections,
                        clients=args.clients,
                        receiver_url=hooks.url,
                        skip=args.skip,
                    )
                )
                waiting = (
                    f", and the digests (their window closes {digest_window(args)} s after "
                    "their first lapse)"
                    if wait_for_digests
                    else ""
                )
                print(
                    f"Seeded in {time.perf_counter() - started:.1f} s. The storm{waiting}...",
                    flush=True,
                )
                run = run_storm(
                    args,
                    workers=workers,
                    wait_for_digests=wait_for_digests,
                    url=url,
                    plain_url=plain_url,
                    secret_keys=secret_keys,
                    sandbox=sandbox,
                    seeded=seeded,
                    mail=mail,
                    hooks=hooks,
                    folder=Path(folder),
                )
            run.bare = asyncio.run(bare_insert(plain_url))
            report(run, seeded, args)
    return run


if __name__ == "__main__":
    sys.exit(main())
