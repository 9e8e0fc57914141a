"""Canaries: secrets are planted, the whole loop runs, and no secret turns up anywhere it could
leak to.

Planted: a member's password (and a mistyped one), an API token, an API key (and a wrong one),
the provider password of the sandbox user who signs in, every access and refresh token the
sandbox issues to Tether, and a webhook's signing secret. Then: connect (OAuth and API key),
load data, refresh, lapse (grant revoked, account access removed), email and webhook
notifications, reconnect (sign-in, API key re-entered through the API and the web), backfill,
every GET of the API for the organization, and the web screens over plain HTTP.

Searched, for each secret as it is and base64-, URL-, HTML- and JSON-encoded: every log record
(root and uvicorn loggers, access log included, at debug level, before any redaction), what the
process printed, every answer Tether gave (headers and body), every email the SMTP server
received, every webhook request, every database row outside the sealed columns, and every file
of the data folder (on SQLite, the database and its WAL) but the sandbox's own world. Two answers
are left out on purpose: the one that creates the API token and the one that creates the
webhook, which show their secret once, by design. The search is shown to find each secret where
it is meant to be, so a pass is not a search that cannot find anything.
"""

import asyncio
import base64
import html
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, quote_plus

import httpx
import pytest
import time_machine
from sqlalchemy import select

from tests.fixtures.builders import Org, consent
from tests.fixtures.invitations import accept, invitation_link
from tests.fixtures.receiver import Receiver, allow_private_targets, receiving
from tests.fixtures.running import Tether
from tests.fixtures.smtp import Mailbox
from tether import vault
from tether.app import SANDBOX_FILE
from tether.db import Base, SealedText, utcnow
from tether.health.checks import Engine
from tether.health.refresh import refresh
from tether.models import Authorization, Event
from tether.notifications import email, invitation_email, webhook_delivery
from tether.sync import schedule
from tether.sync import service as sync
from tether.worker.job import Job

# Columns that hold ciphertext: left out of the rows searched (on SQLite, the raw database file
# is searched with them).
SEALED = {(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns
          if isinstance(c.type, SealedText)}  # fmt: skip
STANDARD_RECORD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


# -- What is searched, and how -----------------------------------------------------------------


@dataclass
class Haystack:
    """Everything that could carry a secret out of Tether, by where it came from."""

    places: list[tuple[str, bytes]] = field(default_factory=list)
    # The answers left out on purpose, and what they said.
    excluded: list[str] = field(default_factory=list)
    shown_once: list[bytes] = field(default_factory=list)

    def add(self, where: str, content: str | bytes) -> None:
        self.places.append((where, content.encode() if isinstance(content, str) else content))

    def count(self, prefix: str) -> int:
        return sum(1 for where, _ in self.places if where.startswith(prefix))

    @property
    def size(self) -> int:
        return sum(len(content) for _, content in self.places)


def encodings(secret: str) -> dict[str, bytes]:
    """The secret as it is and as an encoder would write it, inside a longer text too: base64
    at each of the three alignments a secret can have in an encoded stream. Each form once."""
    raw = secret.encode()
    found = {
        "raw": raw,
        "url": quote(secret, safe="").encode(),
        "form": quote_plus(secret).encode(),
        "html": html.escape(secret).encode(),
        "json": json.dumps(secret)[1:-1].encode(),
    }
    for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        for shift, start in enumerate((0, 2, 3)):
            encoded = encode(b"\0" * shift + raw)
            found[f"{name}+{shift}"] = encoded[start : (shift + len(raw)) // 3 * 4]
    unique: dict[str, bytes] = {}
    for how, form in found.items():
        if form not in unique.values():
            unique[how] = form
    return unique


def search(haystack: Haystack, secrets: dict[str, str]) -> list[str]:
    """Where any secret was found, in any of its encodings."""
    needles = [(name, how, form) for name, secret in secrets.items()
               for how, form in encodings(secret).items()]  # fmt: skip
    found = []
    for where, content in haystack.places:
        lowered = content.lower()
        for name, how, form in needles:
            if form in content or (how == "raw" and form.lower() in lowered):
                found.append(f"{name} ({how}) in {where}")
    return found


# -- Capturing ---------------------------------------------------------------------------------


class KeepRecords(logging.Handler):
    """Every log record as a handler would print it, with any extra fields."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        extra = {k: v for k, v in vars(record).items() if k not in STANDARD_RECORD}
        self.lines.append(f"{self.format(record)} {extra!r}" if extra else self.format(record))


@contextmanager
def logs_kept() -> Iterator[KeepRecords]:
    """Keep every record at debug level, from the root logger and uvicorn's (which do not
    propagate), the access log included; SQL statements stay out, as Tether never echoes them."""
    handler = KeepRecords()
    levels = {"": logging.DEBUG, "uvicorn": logging.DEBUG, "uvicorn.access": logging.DEBUG,
              "uvicorn.error": logging.DEBUG, "sqlalchemy": logging.WARNING}  # fmt: skip
    before = {name: logging.getLogger(name).level for name in levels}
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    for name in ("", "uvicorn", "uvicorn.access"):
        logging.getLogger(name).addHandler(handler)
    try:
        yield handler
    finally:
        for name in ("", "uvicorn", "uvicorn.access"):
            logging.getLogger(name).removeHandler(handler)
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


def keeping(haystack: Haystack, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The client, with every answer it gets kept: status, headers and body."""

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        head = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
        where = f"answer to {request.method} {request.url.path} ({response.status_code})"
        haystack.add(where, head.encode() + b"\n\n" + response.content)

    client.event_hooks["response"] = [*client.event_hooks["response"], keep]
    return client


def api_client(haystack: Haystack, base_url: str, token: str) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"}
    return keeping(haystack, httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30))


def add_emails(haystack: Haystack, smtp: Mailbox) -> None:
    """Each email as it went over the wire, and each of its parts decoded."""
    for n, received in enumerate(smtp.received):
        parts = [str(part.get_content()) for part in received.message.walk()
                 if not part.is_multipart()]  # fmt: skip
        headers = "\n".join(f"{k}: {v}" for k, v in received.message.items())
        haystack.add(f"email {n} (raw)", received.message.as_bytes())
        haystack.add(f"email {n} (decoded)", "\n".join([headers, *parts]))


def add_webhooks(haystack: Haystack, receiver: Receiver) -> None:
    for n, request in enumerate(receiver.received()):
        head = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
        haystack.add(
            f"webhook request {n} to {request.path}", head.encode() + b"\n\n" + request.body
        )


async def add_database(haystack: Haystack, tether: Tether) -> int:
    """Every row of every table as text, the sealed columns left out; how many rows."""
    rows = 0
    async with tether.sessions() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in SEALED]
            found = (await session.execute(select(*columns))).all()
            rows += len(found)
            lines = ["\t".join(str(value) for value in row) for row in found]
            haystack.add(f"database table {table.name}", "\n".join(lines))
    return rows


def add_data_folder(haystack: Haystack, folder: Path) -> int:
    """Every file Tether keeps in its data folder (the SQLite database and its WAL among them),
    but the sandbox's world, which is the provider's and holds its tokens by design."""
    files = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if SANDBOX_FILE in path.name:
            continue
        haystack.add(f"file {path.relative_to(folder)}", path.read_bytes())
        files += 1
    return files


def assert_the_search_finds_what_is_there(
    secrets: dict[str, str], haystack: Haystack, folder: Path
) -> None:
    """The search finds each secret where it is by design: in the two answers that show one
    once, in the sandbox's world (the provider's passwords, keys and tokens), and encoded."""
    controls = Haystack()
    for n, content in enumerate(haystack.shown_once):
        controls.add(f"answer shown once {n}", content)
    controls.add("the sandbox's world", (folder / SANDBOX_FILE).read_bytes())
    password = secrets["member password"]
    controls.add("base64", base64.b64encode(b"{x:" + password.encode()))
    controls.add("form", f"a=1&password={quote_plus(password)}")
    found = {line.split(" in ")[0] for line in search(controls, secrets)}
    expected = {"API token (raw)", "webhook secret (raw)", "API key (raw)",
                "provider password (raw)", "member password (base64+0)",
                "member password (form)"}  # fmt: skip
    expected |= {f"{name} (raw)" for name in secrets if name.startswith("grant token")}
    assert expected <= found, sorted(expected - found)


# -- The sandbox's side ------------------------------------------------------------------------


async def sandbox_user(tether: Tether, username: str, password: str) -> tuple[str, list[str]]:
    """A provider user with three accounts of their own; their API key and account ids."""
    names = [{"name": f"Canary Goods — {channel}"} for channel in ("Search", "Social", "Video")]
    accounts = [a["id"] for a in await tether.sandbox("POST", "/accounts", json=names)]
    body = [{"username": username, "password": password, "accounts": accounts}]
    (user,) = await tether.sandbox("POST", "/users", json=body)
    return str(user["api_key"]), accounts


async def issued_tokens(tether: Tether, username: str) -> list[str]:
    """Every access and refresh token the sandbox issued to this user's grants, read from the
    world it saves in the data folder once a change it makes now has been written."""
    marker = f"saved-{uuid.uuid4().hex}"
    await tether.sandbox("POST", "/accounts", json=[{"name": marker}])
    path = tether.settings.data_dir / SANDBOX_FILE
    deadline = time.monotonic() + 10
    while marker not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, "the sandbox did not save its world"
        await asyncio.sleep(0.1)
    world = json.loads(path.read_text())["state"]
    tokens = []
    for grant in world["grants"]:
        if grant["user_id"] == f"u_{username}":
            tokens += [token for token, _, _ in grant["access_tokens"]]
            tokens += grant["refresh_tokens"]
            tokens += [grant["access_token"], grant["refresh_token"]]
            tokens.append(grant["previous_refresh_token"])
    return sorted({t for t in tokens if t})


async def stored_tokens(tether: Tether) -> list[str]:
    """The tokens and keys Tether holds now, opened from their sealed columns."""
    async with tether.sessions() as session:
        found = (await session.scalars(select(Authorization))).all()
    sealed = [s for a in found for s in (a.access_token, a.refresh_token, a.api_key) if s]
    return [vault.reveal(s) for s in sealed]


# -- The loop ----------------------------------------------------------------------------------


@dataclass
class World:
    tether: Tether
    haystack: Haystack
    api: httpx.AsyncClient
    browser: httpx.AsyncClient
    username: str
    provider_password: str
    ids: dict[str, set[str]] = field(default_factory=dict)
    email: str = ""
    oauth_id: str = ""
    keyed_id: str = ""
    # The sandbox's id of the account the API-key source's client uses.
    keyed_account: str = ""

    def keep(self, kind: str, *values: Any) -> None:
        self.ids.setdefault(kind, set()).update(str(v) for v in values)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.api.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    async def sign_in_at_provider(self, path: str, body: dict[str, Any] | None = None) -> str:
        """Start a sign-in, sign in as the sandbox user, and land on Tether's callback."""
        started = await self.ok("POST", path, json=body)
        callback = await consent(started["authorize_url"], self.username, self.provider_password)
        finished = await self.browser.get(callback, headers={"Accept": "application/json"})
        assert finished.status_code == 200, finished.text
        return str(finished.json()["authorization_id"])

    async def check(self, authorization_id: str) -> dict[str, Any]:
        return dict(await self.ok("POST", f"/api/v1/authorizations/{authorization_id}/check"))


async def run_due_syncs(tether: Tether, engine: Engine) -> None:
    async with tether.sessions() as session:
        jobs = await schedule.SYNCS.take_due(session, utcnow(), tether.settings)
        await session.commit()
    ids = [i for job in jobs if job.actor == schedule.SYNC_ACTOR for i in ids_of(job)]
    await sync.sync_many(engine, [uuid.UUID(i) for i in ids])


def ids_of(job: Job) -> list[str]:
    """The row ids a job of the due-work queue was handed."""
    return cast(list[str], job.args[0])


async def send_notifications(tether: Tether) -> None:
    """The scheduler's pass for emails and webhooks, and their jobs run as a worker would."""
    async with tether.sessions() as session:
        mails = await email.take_due(session, utcnow(), tether.settings)
        invitations = await invitation_email.EMAILS.take_due(session, utcnow(), tether.settings)
        hooks = await webhook_delivery.DELIVERIES.take_due(session, utcnow(), tether.settings)
        await session.commit()
    for job in mails:
        await email.send_emails(tether.sessions, tether.settings, ids_of(job))
    for job in invitations:
        await invitation_email.send_invitations(tether.sessions, tether.settings, ids_of(job))
    for job in hooks:
        await webhook_delivery.deliver(tether.sessions, tether.settings, ids_of(job))


async def connect(world: World, api_key: str) -> None:
    """OAuth and API-key sources, and three clients on their accounts."""
    world.oauth_id = await world.sign_in_at_provider(
        "/api/v1/authorizations/oauth/start", {"provider": "sandbox"}
    )
    body = {"provider": "sandbox_api_key", "api_key": api_key}
    world.keyed_id = (await world.ok("POST", "/api/v1/authorizations", json=body))["id"]
    world.keep("authorization_id", world.oauth_id, world.keyed_id)
    accounts = {}
    for authorization_id in (world.oauth_id, world.keyed_id):
        listed = await world.ok("GET", f"/api/v1/authorizations/{authorization_id}/accounts")
        accounts[authorization_id] = listed["data"]
        world.keep("account_id", *(a["id"] for a in listed["data"]))
    oauth, keyed = accounts[world.oauth_id], accounts[world.keyed_id]
    world.keyed_account = keyed[-1]["external_id"]
    for name, account in zip(("Northwind", "Blue Fjord", "Harbor Bikes"),
                             (oauth[0], oauth[1], keyed[-1]), strict=True):  # fmt: skip
        client = await world.ok("POST", "/api/v1/clients", json={"name": f"{name} {uuid.uuid4()}"})
        body = {"client_id": client["id"], "account_id": account["id"]}
        made = await world.ok("POST", "/api/v1/connections", json=body)
        world.keep("client_id", client["id"])
        world.keep("connection_id", made["id"])


async def refresh_ahead_of_expiry(world: World, engine: Engine) -> None:
    """Rotating refresh tokens: a check inside the window refreshes, and so does a worker."""
    tether = world.tether
    await tether.sandbox("PUT", "/settings", json={"rotate_refresh_tokens": True})
    soon = utcnow().timestamp() + 3600 - tether.settings.refresh_window_seconds + 30
    with time_machine.travel(soon, tick=True):
        assert (await world.check(world.oauth_id))["status"] == "active"
        await world.check(world.keyed_id)
        oauth = uuid.UUID(world.oauth_id)
        await refresh(tether.sessions, engine.registry, tether.settings, oauth, force=True)


async def lapse(world: World) -> None:
    """The grant is revoked at the provider, and the API key loses one account."""
    await world.tether.sandbox("POST", f"/users/{world.username}/grants/revoke")
    await world.tether.sandbox("DELETE", f"/users/{world.username}/accounts/{world.keyed_account}")
    for authorization_id in world.ids["authorization_id"]:
        await world.check(authorization_id)
    counts = await world.ok("GET", "/api/v1/connections/counts")
    assert counts["needs_reconnect"] == 3, counts


async def reconnect(world: World, api_key: str, wrong_key: str) -> None:
    """Sign in again for the OAuth grant; enter the key again (a wrong one first)."""
    path = f"/api/v1/authorizations/{world.oauth_id}/reconnect"
    assert await world.sign_in_at_provider(path) == world.oauth_id
    await world.tether.sandbox("PUT", f"/users/{world.username}/accounts/{world.keyed_account}")
    path = f"/api/v1/authorizations/{world.keyed_id}/api-key"
    refused = await world.api.put(path, json={"api_key": wrong_key})
    assert refused.status_code == 422, refused.text
    await world.ok("PUT", path, json={"api_key": api_key})
    counts = await world.ok("GET", "/api/v1/connections/counts")
    assert counts["needs_reconnect"] == 0, counts


# -- Looking at everything ---------------------------------------------------------------------


async def walk_the_api(world: World) -> int:
    """Every GET of the served OpenAPI, with each id the organization has; how many calls."""
    spec = await world.ok("GET", "/openapi.json")
    calls = 0
    for path, methods in spec["paths"].items():
        if "get" not in methods:
            continue
        names = re.findall(r"{(\w+)}", path)
        for values in _fillings(world, names):
            response = await world.api.get(path.format(**values), params={"limit": 100})
            assert response.status_code == 200, f"GET {path}: {response.text}"
            calls += 1
    return calls


def _fillings(world: World, names: list[str]) -> list[dict[str, str]]:
    aliases = {"endpoint_id": "webhook_id"}
    fillings: list[dict[str, str]] = [{}]
    for name in names:
        values = sorted(world.ids.get(aliases.get(name, name), set()))
        assert values, f"no value for {name}: teach the canary test one"
        fillings = [{**f, name: v} for f in fillings for v in values]
    return fillings


async def sign_in_on_the_web(world: World, email_address: str, password: str, wrong: str) -> None:
    """The sign-in form, refused once with a mistyped password, then signed in."""
    for attempt, expected in ((wrong, 401), (password, 303)):
        page = await world.browser.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        form = {"email": email_address, "password": attempt, "csrf_token": csrf.group(1)}
        answer = await world.browser.post("/login", data=form)
        assert answer.status_code == expected, answer.text


async def web_actions(world: World, api_key: str, wrong_key: str) -> None:
    """Enter the API key again from the web, a wrong one first, as an admin's browser would."""
    page = await world.browser.get("/connections")
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    assert csrf, page.text
    path = f"/sources/authorizations/{world.keyed_id}/api-key"
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf.group(1)}
    for key, expected in ((wrong_key, 422), (api_key, 200)):
        answer = await world.browser.post(path, data={"api_key": key}, headers=headers)
        assert answer.status_code == expected, answer.text


async def walk_the_web(world: World) -> int:
    """The screens and their parts, over plain HTTP with the session cookie; how many."""
    ids = {k: sorted(v) for k, v in world.ids.items()}
    paths = ["/connections", "/connections?tab=all", "/connections/new", "/sources",
             "/sources/sandbox/settings", "/sources/sandbox_api_key/settings",
             "/sources/sandbox_api_key/api-key", "/integrations", "/coverage",
             "/incidents?state=all", "/audit", "/notifications", "/notifications/bell",
             "/notifications/panel", "/notifications/settings", "/settings/members",
             "/settings/members/new", "/settings/webhooks", "/settings/undelivered-emails",
             "/settings/sandbox", "/docs"]  # fmt: skip
    paths += [f"/integrations/{a}" for a in ids["account_id"]]
    paths += [f"/coverage/gaps/{c}?day={utcnow().date()}" for c in ids["connection_id"]]
    paths += [f"/connections/{c}/switch" for c in ids["connection_id"]]
    paths += [f"/sources/authorizations/{a}/{part}" for a in ids["authorization_id"]
              for part in ("accounts", "api-key")]  # fmt: skip
    paths += [
        f"/settings/members/{m}/{part}" for m in ids["member_id"] for part in ("edit", "tokens")
    ]
    paths += [f"/settings/webhooks/{w}" for w in ids["webhook_id"]]
    paths += [f"/reconnect/{t}" for t in ids["token"]]
    for path in paths:
        answer = await world.browser.get(path)
        assert answer.status_code == 200, f"{path}: {answer.text[:500]}"
    return len(paths)


async def reconnect_links(world: World) -> list[str]:
    """The reconnect links of the notifications, as a member would open them."""
    await world.tether.sandbox("POST", f"/users/{world.username}/grants/revoke")
    for authorization_id in world.ids["authorization_id"]:
        await world.check(authorization_id)
    listed = await world.ok("GET", "/api/v1/notifications")
    world.keep("notification_id", *(n["id"] for n in listed["data"]))
    return [n["reconnect_url"].rsplit("/", 1)[1] for n in listed["data"] if n["reconnect_url"]]


# -- The test ----------------------------------------------------------------------------------


@pytest.fixture
async def receiver(tether: Tether, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    allow_private_targets(tether.settings, monkeypatch)
    with receiving() as started:
        yield started


async def plant(
    org: Org, tether: Tether, receiver: Receiver, smtp: Mailbox, haystack: Haystack, mark: str
) -> tuple[World, dict[str, str]]:
    """The secrets, and a world whose clients keep every answer. The API token and the webhook
    are made through the fixture's admin, whose answers are not kept: each shows its secret
    once, by design (and the search is shown to find it there)."""
    secrets = {
        "member password": f"Canary pass/word+&{mark} !",
        "mistyped member password": f"Canary typo?pass={mark}",
        "provider password": f"canary-provider-pw-{mark}",
        "wrong API key": f"sbx_canarywrong{mark}",
    }
    token = await org.api.post("/api/v1/tokens", json={"name": "canary"})
    assert token.status_code == 201, token.text
    body = {"url": f"{receiver.url}/hooks", "events": [event.value for event in Event]}
    hook = await org.api.post("/api/v1/webhooks", json=body)
    assert hook.status_code == 201, hook.text
    haystack.excluded += ["POST /api/v1/tokens (201)", "POST /api/v1/webhooks (201)"]
    haystack.shown_once += [token.content, hook.content]
    secrets["API token"] = token.json()["token"]
    secrets["webhook secret"] = hook.json()["secret"]
    username = f"canary_{mark}"
    secrets["API key"], _ = await sandbox_user(tether, username, secrets["provider password"])

    api = api_client(haystack, tether.base_url, secrets["API token"])
    browser = keeping(haystack, httpx.AsyncClient(base_url=tether.base_url, timeout=30))
    world = World(tether, haystack, api, browser, username, secrets["provider password"])
    world.email = f"canary-{mark}@agency.example.com"
    world.keep("webhook_id", hook.json()["id"])
    world.keep("token_id", token.json()["id"])
    world.keep("key", "sandbox", "sandbox_api_key")
    await world.ok(
        "POST", "/api/v1/invitations",
        json={"email": world.email, "name": "Casey Canary", "role": "admin"},
    )  # fmt: skip
    pending = await world.ok(
        "POST",
        "/api/v1/invitations",
        json={"email": f"later-{mark}@agency.example.com", "role": "viewer"},
    )
    world.keep("invitation_id", pending["id"])
    await send_notifications(tether)
    link = invitation_link(smtp, world.email)
    joined = await accept(world.browser, link, secrets["member password"], name="Casey Canary")
    assert joined.status_code == 303, joined.text
    world.browser.cookies.clear()
    members = (await world.ok("GET", "/api/v1/members"))["data"]
    world.keep("member_id", org.admin_id, *(m["id"] for m in members if m["email"] == world.email))
    await world.ok(
        "PUT", "/api/v1/notification-preferences",
        json=[{"event": e, "channel": "email", "enabled": True}
              for e in ("authorization.lapsed", "connection.lapsed",
                        "authorization.restored", "connection.restored")],
    )  # fmt: skip
    return world, secrets


async def run_the_loop(world: World, engine: Engine, secrets: dict[str, str]) -> tuple[int, int]:
    """Connect, load, refresh, lapse, tell, reconnect, backfill; then look at everything. How
    many API GETs and web pages were looked at."""
    tether, api_key = world.tether, secrets["API key"]
    await connect(world, api_key)
    await run_due_syncs(tether, engine)
    await refresh_ahead_of_expiry(world, engine)
    await lapse(world)
    await send_notifications(tether)
    await reconnect(world, api_key, secrets["wrong API key"])
    await run_due_syncs(tether, engine)
    asked = await tether.sync(world.api, sorted(world.ids["connection_id"])[0])
    world.keep("sync_id", asked["id"])
    await send_notifications(tether)

    password, mistyped = secrets["member password"], secrets["mistyped member password"]
    await sign_in_on_the_web(world, world.email, password, mistyped)
    await web_actions(world, api_key, secrets["wrong API key"])
    world.keep("token", *await reconnect_links(world))
    await send_notifications(tether)
    return await walk_the_api(world), await walk_the_web(world)


async def test_no_planted_secret_is_found_in_logs_answers_emails_webhooks_or_the_database(
    org: Org,
    tether: Tether,
    engine: Engine,
    smtp: Mailbox,
    receiver: Receiver,
    capfd: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    haystack = Haystack()
    await tether.sandbox("POST", "/reset")
    with logs_kept() as logged:
        world, secrets = await plant(org, tether, receiver, smtp, haystack, uuid.uuid4().hex[:12])
        api_calls, web_pages = await run_the_loop(world, engine, secrets)
        issued = {*await issued_tokens(tether, world.username), *await stored_tokens(tether)}
        await world.api.aclose()
        await world.browser.aclose()
    grant_tokens = sorted(issued - {secrets["API key"]})
    assert len(grant_tokens) >= 6, "the loop should have made the sandbox issue several tokens"
    secrets.update({f"grant token {n}": t for n, t in enumerate(grant_tokens, 1)})

    for n, line in enumerate(logged.lines):
        haystack.add(f"log record {n}", line)
    out, err = capfd.readouterr()
    haystack.add("output (stdout)", out)
    haystack.add("output (stderr)", err)
    add_emails(haystack, smtp)
    add_webhooks(haystack, receiver)
    rows = await add_database(haystack, tether)
    files = add_data_folder(haystack, tether.settings.data_dir)
    found = search(haystack, secrets)
    assert_the_search_finds_what_is_there(secrets, haystack, tether.settings.data_dir)

    summary = (
        f"canary secrets on {tether.backend.name}: {len(secrets)} planted "
        f"({len(grant_tokens)} of them grant tokens); searched {len(haystack.places)} places, "
        f"{haystack.size:,} bytes: {haystack.count('log record')} log records, "
        f"{haystack.count('answer')} answers ({api_calls} API GETs, {web_pages} web pages), "
        f"{len(smtp.received)} emails, {len(receiver.received())} webhook requests, "
        f"{rows} database rows in {haystack.count('database table')} tables "
        f"(sealed columns left out: {', '.join(sorted(f'{t}.{c}' for t, c in SEALED))}), "
        f"{files} files of the data folder; left out on purpose: "
        f"{', '.join(haystack.excluded)}; found {len(found)}"
    )
    record_property("canary_secrets", summary)
    with capfd.disabled():
        print(f"\n{summary}")  # noqa: T201  (the counts are part of what this test reports)
    assert smtp.received, "the loop should have sent email"
    assert receiver.received(), "the loop should have posted webhooks"
    assert found == [], "\n".join(found[:100])
