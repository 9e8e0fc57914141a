"""How long does each screen of the web app take to serve, for an organization with 1,000,000
connections, beside what its own queries and template cost alone?

The organization is `_big_org.py`'s (1,000,000 connections over 200,000 authorizations and
50,000 clients), plus what the other screens show: an open incident and an unread notification
per lapsed authorization, 3,000 closed incidents, 100,000 audit entries, and 90 days of metrics
for the connections of the first 200 clients by name (the Coverage screen's first pages). The
admin signs in through the sign-in form, then every screen is requested `--requests` times
(40), the screens that take a client or an account drawing a different one each time, from a
web process of its own (uvicorn, no scheduler or worker inside).

For each answer the benchmark records:

- the server time Tether reports in `Server-Timing` (`app;dur`);
- its status (every non-200 is counted) and its content, checked against the database through
  the driver: the rows listed are the right ones (of the right status, provider, client or
  account, in the screen's order, as many as there should be), not just a 200;
- the floor: the very statements Tether sent for that answer (captured in the web process),
  run again through the driver (`sqlite3`, `asyncpg`) in this process, plus the time the
  web process spent rendering the page's templates. What is above the floor is Tether's own
  cost: routing, authentication, the ORM, building the page's context.

Targets: every screen's p95 server time at most 50 ms, every answer a 200 with the right rows;
the Coverage screen over 90 days under 300 KB a page.

    python bench/pages.py [--backend sqlite|postgresql|both] [--connections 1000000]
        [--authorizations 200000] [--clients 50000] [--requests 40] [--keep DIR]

`--keep DIR` keeps the seeded databases (as `connections_list.py` does) and reuses them.
PostgreSQL is reached at TETHER_BENCH_POSTGRES_URL (default postgres@127.0.0.1:5432/test).
"""

import argparse
import asyncio
import itertools
import pickle
import random
import re
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import func, insert, select, update

from _big_org import Seeded, Sizes, big_organization
from _harness import serve_until_told
from connections_list import serving, web_settings
from tether.app import create_app
from tether.db import create_engine
from tether.members.passwords import hash_password
from tether.models import (
    Account,
    AuditEvent,
    Authorization,
    Client,
    Connection,
    Incident,
    Member,
    MetricDay,
    Notification,
    Status,
)

TARGET_P95_MS = 50.0
COVERAGE_LIMIT_KB = 300.0
PAGE_SIZE = 50
PASSWORD = "benchmark-password"
ADMIN_EMAIL = "admin@benchmark.example"
BATCH = 5_000
COVERED_CLIENTS = 200  # the first clients by name: the Coverage screen's first pages
COVERED_DAYS = 90
DRAWN = 40  # clients and accounts the screens that take one draw from
AUDIT_ROWS = 100_000


# ---------------------------------------------------------------------------------------------
# The web process: Tether, plus a capture of each answer's statements and template time.


def serve_pages(pipe: Pipe, url: str, folder: str, keys: str) -> None:
    """Tether alone (no scheduler or worker), wrapped so that a request carrying
    `x-bench-key` has its statements (as the driver got them) and the time spent rendering
    templates kept under that key, for `GET /bench/captured/<key>` to hand over once. The
    benchmark sends one request at a time, so "since this request began" is its own."""
    import jinja2
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    settings = web_settings(url, folder, keys)
    current: dict[str, Any] = {"statements": [], "render": 0.0}
    kept: dict[str, dict[str, Any]] = {}

    def sent(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        current["statements"].append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", sent)
    render = jinja2.Template.render

    def timed_render(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        started = time.perf_counter()
        try:
            return render(self, *args, **kwargs)
        finally:
            current["render"] += time.perf_counter() - started

    jinja2.Template.render = timed_render  # type: ignore[method-assign]
    app = create_app(settings)

    async def capturing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if scope["path"].startswith("/bench/captured/"):
            body = pickle.dumps(kept.pop(scope["path"].rpartition("/")[2], None))
            headers = [(b"content-type", b"application/octet-stream")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return None
        key = dict(scope["headers"]).get(b"x-bench-key")
        if key is None:
            return await app(scope, receive, send)
        current["statements"], current["render"] = [], 0.0
        await app(scope, receive, send)
        kept[key.decode()] = {
            "statements": current["statements"],
            "render_ms": current["render"] * 1000,
        }
        return None

    serve_until_told(pipe, capturing)


# ---------------------------------------------------------------------------------------------
# What the screens beyond Connections show.


@dataclass
class Names:
    """Values the screens' URLs take: clients (by name) and accounts (by id) to draw from."""

    clients: list[str]
    accounts: list[str]
    admin_id: uuid.UUID


async def add_screen_data(url: str, seeded: Seeded) -> Names:
    """Incidents, notifications, audit entries and metric days, once per database (a kept
    database has them already); the admin's password, every time."""
    rng = random.Random(20261207)
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        async with engine.begin() as db:
            admin_id = await db.scalar(
                update(Member)
                .where(Member.email == ADMIN_EMAIL)
                .values(password_hash=hash_password(PASSWORD))
                .returning(Member.id)
            )
            done = await db.scalar(select(func.count()).select_from(AuditEvent))
        if done < AUDIT_ROWS:
            await _insert_screen_data(engine, seeded, admin_id, rng, now)
        async with engine.connect() as db:
            drawn = []
            for column, model in ((Client.name, Client), (Account.id, Account)):
                stmt = select(column).where(model.organization_id == seeded.organization_id)
                some = (await db.scalars(stmt.order_by(model.id).limit(DRAWN * 5))).all()
                drawn.append([str(v) for v in rng.sample(list(some), min(DRAWN, len(some)))])
        return Names(drawn[0], drawn[1], admin_id)
    finally:
        await engine.dispose()


async def _insert_screen_data(
    engine: Any, seeded: Seeded, admin_id: uuid.UUID, rng: random.Random, now: datetime
) -> None:
    organization_id = seeded.organization_id
    async with engine.connect() as db:
        authorizations = (
            await db.execute(select(Authorization.id, Authorization.provider, Authorization.status))
        ).all()
        first_clients = select(Client.id).order_by(Client.name).limit(COVERED_CLIENTS)
        covered = (
            await db.scalars(select(Connection.id).where(Connection.client_id.in_(first_clients)))
        ).all()
    incidents, notifications = [], []
    for authorization_id, provider, status in authorizations:
        if status != Status.NEEDS_RECONNECT:
            continue
        incident_id = uuid.uuid4()
        opened = now - timedelta(hours=rng.uniform(1, 400))
        incidents.append(_incident(incident_id, organization_id, authorization_id, provider,
                                   opened, None))  # fmt: skip
        notifications.append({
            "id": uuid.uuid4(), "organization_id": organization_id, "member_id": admin_id,
            "incident_id": incident_id, "event": "authorization.lapsed", "provider": provider,
            "created_at": opened,
            "message": "A data source needs reconnecting: the grant was revoked.",
        })  # fmt: skip
    for authorization_id, provider, _ in rng.sample(
        authorizations, min(3_000, len(authorizations))
    ):
        opened = now - timedelta(days=rng.uniform(2, 300))
        incidents.append(_incident(uuid.uuid4(), organization_id, authorization_id, provider,
                                   opened, opened + timedelta(hours=5)))  # fmt: skip
    audit = [
        {
            "id": uuid.uuid4(),
            "organization_id": organization_id,
            "at": now - timedelta(minutes=rng.uniform(0, 500_000)),
            "actor": "tether:health",
            "action": "authorization.status",
            "subject_type": "authorization",
            "subject_id": str(authorization_id),
            "from_value": "active",
            "to_value": "needs_reconnect",
            "details": {},
        }
        for authorization_id, _, _ in rng.choices(authorizations, k=AUDIT_ROWS)
    ]
    today = now.date()
    days = [
        {
            "connection_id": connection_id,
            "day": today - timedelta(days=back),
            "impressions": 1000,
            "clicks": 50,
            "conversions": 3,
            "spend": Decimal("12.50"),
            "currency": "USD",
            "loaded_at": now,
        }
        for connection_id in covered
        for back in range(1, COVERED_DAYS + 1)
        if rng.random() > 0.05  # a few gaps
    ]
    for model, rows in ((Incident, incidents), (Notification, notifications),
                        (AuditEvent, audit), (MetricDay, days)):  # fmt: skip
        for start in range(0, len(rows), BATCH):
            async with engine.begin() as db:
                await db.execute(insert(model), rows[start : start + BATCH])


def _incident(
    incident_id: uuid.UUID,
    organization_id: uuid.UUID,
    authorization_id: uuid.UUID,
    provider: str,
    opened: datetime,
    closed: datetime | None,
) -> dict[str, Any]:
    return {
        "id": incident_id, "organization_id": organization_id, "scope": "authorization",
        "scope_key": f"authorization:{authorization_id}", "kind": "lapse",
        "provider": provider, "authorization_id": authorization_id, "connection_id": None,
        "reason": "token_revoked", "message": "The grant was revoked on the provider's side.",
        "opened_at": opened, "closed_at": closed, "closed_how": "reconnected" if closed else None,
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The database through the driver: the floor's replays and the content checks.


class Raw:
    """One driver connection (sqlite3 or asyncpg), with `?` placeholders and ids as UUIDs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        self._pg: asyncpg.Connection | None = None
        self._lite: sqlite3.Connection | None = None

    async def open(self) -> None:
        if self.sqlite:
            self._lite = sqlite3.connect(self.url.split("///", 1)[1])
        else:
            self._pg = await asyncpg.connect(self.url.replace("+asyncpg", ""))

    async def close(self) -> None:
        if self._lite is not None:
            self._lite.close()
        if self._pg is not None:
            await self._pg.close()

    async def replay(self, statements: Sequence[tuple[str, Any]]) -> float:
        """The statements as Tether sent them, every row fetched; milliseconds."""
        started = time.perf_counter()
        for sql, parameters in statements:
            if self._lite is not None:
                self._lite.execute(sql, parameters or ()).fetchall()
            else:
                assert self._pg is not None
                await self._pg.fetch(sql, *(parameters or ()))
        return (time.perf_counter() - started) * 1000

    async def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        values = [self.value(a) for a in args]
        if self._lite is not None:
            return [tuple(r) for r in self._lite.execute(sql, values).fetchall()]
        assert self._pg is not None
        numbers = itertools.count(1)
        text = re.sub(r"\?", lambda _: f"${next(numbers)}", sql)
        return [tuple(r) for r in await self._pg.fetch(text, *values)]

    async def ids_in(self, table: str, column: str, ids: Sequence[str]) -> dict[str, Any]:
        """`column` of these rows of `table`, by id (as the page wrote it)."""
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        found = await self.rows(f"SELECT id, {column} FROM {table} WHERE id IN ({marks})", *ids)
        return {str(uuid.UUID(str(i))): value for i, value in found}

    def value(self, value: Any) -> Any:
        if isinstance(value, uuid.UUID) or _is_uuid(value):
            as_uuid = uuid.UUID(str(value))
            return as_uuid.hex if self.sqlite else as_uuid
        return value


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The screens, and what each answer must show.


@dataclass
class Answer:
    path: str
    html: str
    status: int
    server_ms: float
    floor_ms: float
    sql_ms: float
    render_ms: float


Check = Callable[[Raw, Answer, "Context"], Awaitable[list[str]]]


@dataclass
class Context:
    seeded: Seeded
    names: Names
    first_page: list[str] = field(default_factory=list)  # /connections?tab=all's rows


@dataclass(frozen=True)
class Screen:
    label: str
    path: str  # {client} and {account} are drawn per request; {next_page} from the first page
    check: Check


def row_ids(html: str, prefix: str) -> list[str]:
    return re.findall(rf'<tr id="{prefix}-([0-9a-f-]{{36}})"', html)


def _expect(problems: list[str], ok: bool, problem: str) -> None:
    if not ok:
        problems.append(problem)


def _page_size(problems: list[str], ids: Sequence[str], total: int) -> None:
    _expect(problems, len(ids) == min(PAGE_SIZE, total),
            f"{len(ids)} rows where {min(PAGE_SIZE, total)} were due")  # fmt: skip
    _expect(problems, len(set(ids)) == len(ids), "a row listed twice")


def connections_where(condition: str, order: str | None = None) -> Check:
    """Connection rows that all meet `condition` (SQL over `connections`, `?` for the client
    or account drawn), a full page or all there are, in `order` (a column, descending with a
    leading `-`) when given."""

    async def check(raw: Raw, answer: Answer, ctx: Context) -> list[str]:
        problems: list[str] = []
        ids = row_ids(answer.html, "connection")
        drawn = _drawn(answer.path)
        where = f"organization_id = ? AND {condition}"
        args = [ctx.seeded.organization_id, *drawn]
        total = (await raw.rows(f"SELECT count(*) FROM connections WHERE {where}", *args))[0][0]
        _page_size(problems, ids, total)
        if ids:
            marks = ", ".join("?" for _ in ids)
            meeting = await raw.rows(
                f"SELECT count(*) FROM connections WHERE {where} AND id IN ({marks})", *args, *ids
            )
            _expect(problems, meeting[0][0] == len(ids), "a row that does not meet the filter")
        if order and ids:
            column = order.lstrip("-")
            values = await raw.ids_in("connections", column, ids)
            listed = [values[i] for i in ids]
            present = [v for v in listed if v is not None]
            in_order = sorted(present, reverse=order.startswith("-")) == present
            nulls_last = listed[: len(present)] == present
            _expect(problems, in_order and nulls_last, f"rows out of {order} order")
            if order.startswith("-") and present:
                top = await raw.rows(f"SELECT max({column}) FROM connections WHERE {where}", *args)
                _expect(problems, present[0] == top[0][0], "the first row is not the newest")
        return problems

    return check


def _drawn(path: str) -> list[str]:
    """The client or account the path names (the check's `?` after the organization)."""
    client = re.search(r"[?&]client=([^&]+)", path)
    if client:
        return [httpx.QueryParams(client[0][1:])["client"]]
    account = re.search(r"/integrations/([0-9a-f-]{36})", path)
    return [account[1]] if account else []


async def next_page(raw: Raw, answer: Answer, ctx: Context) -> list[str]:
    ids = row_ids(answer.html, "connection")
    problems: list[str] = []
    _expect(problems, len(ids) == PAGE_SIZE, f"{len(ids)} rows on a page after the first")
    _expect(problems, not set(ids) & set(ctx.first_page), "rows of the first page again")
    return problems


def listed(prefix: str, table: str, condition: str, order: str) -> Check:
    """Rows of `table` (ids `prefix-<id>`) that meet `condition` (SQL, `?` for the
    organization), the first page of them in `order` (descending)."""

    async def check(raw: Raw, answer: Answer, ctx: Context) -> list[str]:
        problems: list[str] = []
        ids = row_ids(answer.html, prefix)
        owner = ctx.names.admin_id if "member_id" in condition else ctx.seeded.organization_id
        total = (await raw.rows(f"SELECT count(*) FROM {table} WHERE {condition}", owner))[0][0]
        _page_size(problems, ids, total)
        expected = await raw.rows(
            f"SELECT id FROM {table} WHERE {condition} ORDER BY {order} DESC, id DESC LIMIT 1",
            owner,
        )
        if ids and expected:
            _expect(problems, ids[0] == str(uuid.UUID(str(expected[0][0]))),
                    f"the first row is not the newest by {order}")  # fmt: skip
        return problems

    return check


async def integrations(raw: Raw, answer: Answer, ctx: Context) -> list[str]:
    problems: list[str] = []
    ids = row_ids(answer.html, "integration")
    total = (await raw.rows("SELECT count(*) FROM accounts WHERE organization_id = ?",
                            ctx.seeded.organization_id))[0][0]  # fmt: skip
    _page_size(problems, ids, total)
    owners = await raw.ids_in("accounts", "organization_id", ids)
    _expect(problems, len(owners) == len(ids), "a row that is not one of the accounts")
    if "sort=-clients" in answer.path and ids:
        marks = ", ".join("?" for _ in ids)
        used = dict(
            await raw.rows(
                "SELECT account_id, count(*) FROM connections WHERE account_id "
                f"IN ({marks}) GROUP BY account_id",
                *ids,
            )
        )
        counts = [used.get(raw.value(i), 0) for i in ids]
        _expect(problems, counts == sorted(counts, reverse=True), "rows out of clients order")
    return problems


async def coverage(raw: Raw, answer: Answer, ctx: Context) -> list[str]:
    problems: list[str] = []
    ids = row_ids(answer.html, "coverage")
    _expect(problems, len(ids) == PAGE_SIZE, f"{len(ids)} rows on the first page")
    names = await raw.ids_in("connections", "client_name", ids)
    listed_names = [names.get(i) for i in ids]
    _expect(problems, None not in listed_names, "a row that is not a connection")
    _expect(problems, listed_names == sorted(listed_names, key=str), "rows out of client order")
    days = 90 if "days=90" in answer.path else 30
    strips = answer.html.count('<div class="strip"')
    _expect(problems, strips == len(ids), f"{strips} strips for {len(ids)} rows")
    # Each mark is a run of days in one state; together a row's marks cover the window.
    covered = sum(int(n) for n in re.findall(r'data-days="(\d+)"', answer.html))
    _expect(
        problems, covered == days * len(ids), f"marks cover {covered} days, not {len(ids)} x {days}"
    )
    return problems


def shows(*markers: str) -> Check:
    """A page that lists no rows: it must show these."""

    async def check(raw: Raw, answer: Answer, ctx: Context) -> list[str]:
        return [f"no {m!r} on the page" for m in markers if m not in answer.html]

    return check


ORG = "organization_id = ?"
SCREENS: tuple[Screen, ...] = (
    Screen("Connections: needs reconnecting", "/connections",
           connections_where("status = 'needs_reconnect'")),
    Screen("Connections: all, by last synced", "/connections?tab=all&sort=-last_synced_at",
           connections_where("1 = 1", "-last_synced_at")),
    Screen("Connections: one provider", "/connections?tab=all&provider=meta_ads",
           connections_where("provider = 'meta_ads'")),
    Screen("Connections: one client", "/connections?tab=all&client={client}",
           connections_where("client_name = ?")),
    Screen("Connections: next page", "{next_page}", next_page),
    Screen("Client filter suggestions", "/clients/options?client=North", shows("North")),
    Screen("Data sources", "/sources", shows('id="source-google_ads"', 'id="source-meta_ads"')),
    Screen("Connection settings (Google Ads)", "/sources/google_ads/settings",
           shows("Google Ads")),
    Screen("Integrations", "/integrations", integrations),
    Screen("Integrations: by clients", "/integrations?sort=-clients", integrations),
    Screen("Integration's clients", "/integrations/{account}",
           connections_where("account_id = ?")),
    Screen("Coverage, 30 days", "/coverage", coverage),
    Screen("Coverage, 90 days", "/coverage?days=90", coverage),
    Screen("Incidents: open", "/incidents",
           listed("incident", "incidents", f"{ORG} AND closed_at IS NULL", "opened_at")),
    Screen("Audit log", "/audit", listed("audit", "audit_events", ORG, "at")),
    Screen("Notification bell", "/notifications/bell", shows('id="bell-button"')),
    Screen("Notifications", "/notifications",
           listed("notification", "notifications", "member_id = ?", "created_at")),
    Screen("Notification settings", "/notifications/settings", shows("authorization.lapsed")),
    Screen("Settings: members", "/settings/members", shows(ADMIN_EMAIL)),
    Screen("Settings: webhooks", "/settings/webhooks", shows("Webhooks")),
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Timing.


@dataclass
class Timed:
    answers: list[Answer] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "request n: what was wrong"

    @property
    def failed(self) -> int:
        return sum(1 for a in self.answers if a.status != 200)

    @property
    def kib(self) -> float:
        return max(len(a.html.encode()) for a in self.answers) / 1024


async def sign_in(http: httpx.AsyncClient) -> None:
    """Through the form, as a member would: its CSRF token, then the password."""
    form = await http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "the sign-in form has no CSRF token"
    data = {"email": ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token[1]}
    answer = await http.post("/login", data=data)
    if answer.status_code != 303:
        raise RuntimeError(f"Signing in failed with {answer.status_code}.")


async def time_screens(base_url: str, url: str, ctx: Context, repeat: int) -> dict[str, Timed]:
    rng = random.Random(7)
    raw = Raw(url)
    await raw.open()
    results: dict[str, Timed] = {}
    try:
        async with httpx.AsyncClient(
            base_url=base_url, timeout=120, headers={"Accept": "text/html"}
        ) as http:
            await sign_in(http)
            first = (await http.get("/connections?tab=all")).text
            ctx.first_page = row_ids(first, "connection")
            found = re.search(r'href="(/connections\?[^"]*cursor=[^"]+)"', first)
            after_first = found[1].replace("&amp;", "&") if found else "/connections?tab=all"
            for screen in SCREENS:
                timed = results.setdefault(screen.label, Timed())
                for n in range(max(2, repeat // 10) + repeat):
                    path = screen.path.format(
                        client=httpx.QueryParams({"v": rng.choice(ctx.names.clients)})["v"],
                        account=rng.choice(ctx.names.accounts),
                        next_page=after_first,
                    )
                    answer = await _ask(http, raw, path)
                    if n < max(2, repeat // 10):
                        continue  # warming up: the first answers of a screen are not counted
                    timed.answers.append(answer)
                    if answer.status != 200:
                        timed.problems.append(f"request {n}: {answer.status}")
                        continue
                    for problem in await screen.check(raw, answer, ctx):
                        timed.problems.append(f"{path}: {problem}")
    finally:
        await raw.close()
    return results


async def _ask(http: httpx.AsyncClient, raw: Raw, path: str) -> Answer:
    key = uuid.uuid4().hex
    response = await http.get(path, headers={"x-bench-key": key})
    timing = re.search(r"app;dur=([\d.]+)", response.headers.get("server-timing", ""))
    captured = pickle.loads((await http.get(f"/bench/captured/{key}")).content) or {}
    statements = captured.get("statements", [])
    sql_ms = await raw.replay(statements)
    render_ms = float(captured.get("render_ms", 0.0))
    return Answer(
        path=path,
        html=response.text,
        status=response.status_code,
        server_ms=float(timing[1]) if timing else float("nan"),
        floor_ms=sql_ms + render_ms,
        sql_ms=sql_ms,
        render_ms=render_ms,
    )


def p95(samples: Sequence[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def report(backend: str, sizes: Sizes, results: dict[str, Timed]) -> bool:
    print(f"\n{backend}, {sizes.connections:,} connections: server time per screen (ms), beside "
          "its floor (its statements through the driver + its template rendering)")  # fmt: skip
    print(f"  {'screen':<36} {'p50':>6} {'p95':>6} {'floor p50':>9} {'p95':>6} {'SQL':>5} "
          f"{'tmpl':>5} {'KiB':>6} {'non-200':>7} {'wrong':>5}  target")  # fmt: skip
    ok = True
    for label, timed in results.items():
        server = [a.server_ms for a in timed.answers]
        floor = [a.floor_ms for a in timed.answers]
        sql = statistics.median(a.sql_ms for a in timed.answers)
        render = statistics.median(a.render_ms for a in timed.answers)
        wrong = len(timed.problems) - timed.failed
        big = label.startswith("Coverage, 90") and timed.kib >= COVERAGE_LIMIT_KB
        met = p95(server) <= TARGET_P95_MS and not timed.problems and not big
        ok &= met
        print(f"  {label:<36} {statistics.median(server):6.1f} {p95(server):6.1f} "
              f"{statistics.median(floor):9.1f} {p95(floor):6.1f} {sql:5.1f} {render:5.1f} "
              f"{timed.kib:6.1f} {timed.failed:7} {wrong:5}  "
              f"{'met' if met else 'MISSED'}")  # fmt: skip
        for problem in timed.problems[:3]:
            print(f"      {problem}")
    worst = max(p95([a.server_ms for a in t.answers]) for t in results.values())
    coverage_kib = results["Coverage, 90 days"].kib
    print(f"  slowest screen p95 {worst:.1f} ms (target {TARGET_P95_MS:.0f} ms); Coverage over "
          f"90 days {coverage_kib:.0f} KiB a page (target under {COVERAGE_LIMIT_KB:.0f} KB); "
          f"every answer a 200 with the right rows: "
          f"{'yes' if all(not t.problems for t in results.values()) else 'NO'}.")  # fmt: skip
    print(f"  Targets: {'met' if ok else 'MISSED'}.")
    return ok


def run(backend: str, sizes: Sizes, repeat: int, keep: Path | None) -> bool:
    print(f"\n{backend}: the organization ({sizes.connections:,} connections)...", flush=True)
    with big_organization(backend, sizes, keep) as (url, seeded):
        started = time.perf_counter()
        names = asyncio.run(add_screen_data(url, seeded))
        print(f"{backend}: screen data in {time.perf_counter() - started:.0f} s; timing "
              f"{repeat} requests per screen...", flush=True)  # fmt: skip
        ctx = Context(seeded, names)
        with serving(url, serve_pages) as base_url:
            results = asyncio.run(time_screens(base_url, url, ctx, repeat))
        return report(backend, sizes, results)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--authorizations", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--keep", type=Path, default=None, help="keep and reuse the databases")
    args = parser.parse_args(argv)
    sizes = Sizes(args.connections, args.authorizations, args.clients)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        run(backend, sizes, args.requests, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
