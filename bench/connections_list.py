"""How fast is GET /api/v1/connections on a big organization, next to the same query in raw SQL?

Seeds one organization with 1,000,000 connections over 200,000 authorizations and 50,000 clients
on SQLite and on PostgreSQL, serves Tether over a real loopback socket, and prints the median and
p95 of each list scenario (first and deep page, filtered by status or not, sorted by account
name; and the status counts) beside the same SELECT sent straight through the database driver,
and the cheapest authenticated request as the floor every answer stands on.

Targets: list p95 under 25 ms, counts p95 at most 5 ms, each within 3x of raw SQL.

    python bench/connections_list.py [--backend sqlite|postgresql|both] [--connections 1000000]
        [--authorizations 200000] [--clients 50000] [--requests 200] [--explain]

PostgreSQL is reached at TETHER_BENCH_POSTGRES_URL (default postgres@127.0.0.1:5432/test); the
benchmark creates its own database there and drops it at the end.
"""

import argparse
import asyncio
import base64
import itertools
import json
import os
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from _harness import POSTGRES_ADMIN_URL, _admin
from tether import migrate
from tether.app import create_app
from tether.config import Settings, async_database_url
from tether.connections import counts_repository
from tether.db import create_engine, create_sessionmaker
from tether.kit.pagination import Sort, encode_cursor
from tether.models import Account, Authorization, AuthorizationRole, Client, Connection, Status
from tether.organizations.service import create_organization

TARGET_P95_MS = 25.0
TARGET_COUNTS_P95_MS = 5.0
TARGET_RATIO = 3.0
PAGE_SIZE = 50
DEEP_POSITION = 0.8  # the deep page starts after the row at 80% of the result set
BATCH = 5_000
SEED_CACHE_KIB = 512 * 1024  # SQLite's page cache while seeding: the indexes of 1M rows fit
SORT = Sort("account_name")

# ---------------------------------------------------------------------------------------------
# Data: deterministic, plausible names and a realistic mix of statuses.

PROVIDERS = {  # key: (weight, campaign types seen in account names)
    "google_ads": (35, ("Search", "Display", "Shopping", "Performance Max", "YouTube")),
    "meta_ads": (30, ("Prospecting", "Retargeting", "Catalog", "Lead Gen")),
    "sandbox": (10, ("Sandbox", "Test")),
    "linkedin_ads": (10, ("Sponsored Content", "Lead Gen", "Recruiting")),
    "tiktok_ads": (10, ("In-Feed", "Spark Ads", "Shop")),
    "microsoft_ads": (5, ("Search", "Audience")),
}
BRAND_START = ("North", "Blue", "Bright", "Silver", "Urban", "Green", "Red", "Golden", "Swift",
               "Summit", "Coastal", "Iron", "Maple", "Cedar", "Harbor", "Lunar", "Solar", "Alpine",
               "Crystal", "Velvet", "Copper", "Prairie", "Atlas", "Nova", "Pioneer", "Royal",
               "Wild", "True", "Clear", "Open")  # fmt: skip
BRAND_END = ("wind", "stone", "leaf", "field", "bridge", "peak", "river", "forge", "light",
             "wave", "wood", "gate", "point", "crest", "line", "works", "haven", "spring",
             "side", "bay", "view", "mark", "path", "star", "root", "dale", "ridge", "port",
             "vale", "brook")  # fmt: skip
CLIENT_KIND = ("Foods", "Travel", "Outdoor", "Health", "Apparel", "Motors", "Home", "Beauty",
               "Finance", "Pets", "Sports", "Coffee")  # fmt: skip
MARKETS = ("US", "UK", "DE", "FR", "ES", "IT", "NL", "Nordics", "APAC", "LATAM", "CA", "AU")
LAPSE_REASONS = ("token_revoked", "token_expired", "password_changed", "access_removed")
FAULT_REASONS = ("provider_outage", "rate_limited", "unknown")


@dataclass(frozen=True)
class Sizes:
    connections: int
    authorizations: int
    clients: int


@dataclass
class Rows:
    clients: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    connections: list[dict[str, Any]] = field(default_factory=list)


def generate(sizes: Sizes, organization_id: uuid.UUID, member_id: uuid.UUID, now: datetime) -> Rows:
    """Every row to insert, from a fixed seed so both backends get the same data."""
    rng = random.Random(20261124)
    rows = Rows()

    def moment(max_days: float) -> datetime:
        return now - timedelta(seconds=rng.uniform(0, max_days * 86_400))

    def stamps(max_days: float) -> dict[str, Any]:
        created = moment(max_days)
        return {"created_at": created, "updated_at": created + (now - created) * rng.random()}

    names: set[str] = set()
    for _ in range(sizes.clients):
        name = f"{rng.choice(BRAND_START)}{rng.choice(BRAND_END)} {rng.choice(CLIENT_KIND)}"
        while name in names:
            name = f"{name} {rng.randint(2, 99)}"
        names.add(name)
        rows.clients.append(
            {"id": uuid.uuid4(), "organization_id": organization_id, "name": name, **stamps(900)}
        )

    keys = list(PROVIDERS)
    weights = [PROVIDERS[key][0] for key in keys]
    mains: set[str] = set()
    external_ids: dict[str, int] = dict.fromkeys(keys, 0)
    for number in range(sizes.authorizations):
        provider = rng.choices(keys, weights)[0]
        status, reason, message = Status.ACTIVE, None, None
        draw = rng.random()
        if draw < 0.03:
            status, reason = Status.NEEDS_RECONNECT, rng.choice(LAPSE_REASONS)
            message = "The grant was revoked on the provider's side; reconnect to restore it."
        elif draw < 0.07:
            status, reason = Status.FAILING, rng.choice(FAULT_REASONS)
            message = "The provider answered with errors on the last checks."
        role = AuthorizationRole.SECONDARY if provider in mains else AuthorizationRole.MAIN
        mains.add(provider)
        authorization = {
            "id": uuid.uuid4(),
            "organization_id": organization_id,
            "provider": provider,
            "connector_id": member_id,
            "role": role,
            "status": status,
            "reason": reason,
            "message": message,
            "external_user_id": f"{provider}-user-{number}",
            "external_user_name": f"analyst{number % 700}@agency.example",
            "scope": "read",
            "expires_at": now + timedelta(minutes=rng.randint(5, 60)),
            "last_synced_at": moment(1),
            **stamps(700),
        }
        rows.authorizations.append(authorization)
        for _ in range(rng.choices((1, 2, 3), (40, 35, 25))[0]):
            external_ids[provider] += 1
            serial = external_ids[provider]
            kind = rng.choice(PROVIDERS[provider][1])
            brand = f"{rng.choice(BRAND_START)}{rng.choice(BRAND_END)}"
            rows.accounts.append(
                {
                    "id": uuid.uuid4(),
                    "organization_id": organization_id,
                    "authorization_id": authorization["id"],
                    "external_id": _external_id(provider, serial),
                    "name": f"{brand} - {rng.choice(MARKETS)} - {kind}",
                    "currency": rng.choice(("USD", "EUR", "GBP")),
                    "status": Status.ACTIVE,
                    "last_synced_at": authorization["last_synced_at"],
                    **stamps(600),
                }
            )

    authorizations = {a["id"]: a for a in rows.authorizations}
    taken: set[tuple[int, int]] = set()
    while len(rows.connections) < sizes.connections:
        client_index = rng.randrange(len(rows.clients))
        account_index = rng.randrange(len(rows.accounts))
        if (client_index, account_index) in taken:
            continue
        taken.add((client_index, account_index))
        client, account = rows.clients[client_index], rows.accounts[account_index]
        authorization = authorizations[account["authorization_id"]]
        status, reason, message = (
            authorization["status"],
            authorization["reason"],
            authorization["message"],
        )
        if status == Status.ACTIVE:
            draw = rng.random()
            if draw < 0.021:
                status, reason = Status.NEEDS_RECONNECT, "access_removed"
                message = "The account is no longer reachable through this authorization."
            elif draw < 0.063:
                status, reason = Status.FAILING, rng.choice(FAULT_REASONS)
                message = "The last syncs of this account failed."
            elif draw < 0.083:
                status, reason, message = Status.DISCONNECTED, None, None
        synced = None if rng.random() < 0.03 else moment(1 if status == Status.ACTIVE else 20)
        rows.connections.append(
            {
                "id": uuid.uuid4(),
                "organization_id": organization_id,
                "client_id": client["id"],
                "authorization_id": authorization["id"],
                "account_id": account["id"],
                "provider": authorization["provider"],
                "status": status,
                "reason": reason,
                "message": message,
                "client_name": client["name"],
                "account_name": account["name"],
                "account_external_id": account["external_id"],
                "last_synced_at": synced,
                **stamps(500),
            }
        )
    return rows


def _external_id(provider: str, serial: int) -> str:
    if provider == "google_ads":
        digits = f"{1_000_000_000 + serial * 7919 % 8_999_999_999:010d}"
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if provider == "meta_ads":
        return f"act_{100_000_000_000_000 + serial * 104_729}"
    if provider == "sandbox":
        return f"sbx-{serial:06d}"
    return f"{5_000_000 + serial * 31:d}"


# ---------------------------------------------------------------------------------------------
# Seeding through Tether's own service layer (organization, admin, token) and Core inserts.


@dataclass
class Seeded:
    organization_id: uuid.UUID
    token: str
    counts: dict[str, int]
    accounts: int
    migrate_seconds: float = 0.0
    insert_seconds: float = 0.0
    fold_seconds: float = 0.0
    analyze_seconds: float = 0.0


async def seed(url: str, sizes: Sizes) -> Seeded:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            admin = await create_organization(
                session,
                name="Benchmark Agency",
                admin_email="admin@benchmark.example",
                admin_name="Benchmark Admin",
                password=None,
            )
            await session.commit()
        rows = generate(sizes, admin.organization.id, admin.member.id, datetime.now(UTC))
        started = time.perf_counter()
        # A transaction a batch: SQLite checkpoints its WAL as it goes, where one transaction of
        # a million rows would grow the WAL to gigabytes and slow every page lookup in it.
        for model, table_rows in (
            (Client, rows.clients),
            (Authorization, rows.authorizations),
            (Account, rows.accounts),
            (Connection, rows.connections),
        ):
            for start in range(0, len(table_rows), BATCH):
                async with engine.begin() as connection:
                    if engine.dialect.name == "sqlite":
                        await connection.execute(text(f"PRAGMA cache_size = -{SEED_CACHE_KIB}"))
                    await connection.execute(insert(model), table_rows[start : start + BATCH])
        inserted = time.perf_counter()
        # What the scheduler does at each pass: fold the changes the inserts appended into the
        # kept counts (PostgreSQL; SQLite's triggers count directly).
        sessions = create_sessionmaker(engine)
        while True:
            async with sessions.begin() as session:
                if not await counts_repository.fold(session):
                    break
        folded = time.perf_counter()
        await _analyze(engine)
        counts = dict.fromkeys([s.value for s in Status], 0)
        for row in rows.connections:
            counts[row["status"]] += 1
        return Seeded(
            organization_id=admin.organization.id,
            token=admin.token,
            counts=counts,
            accounts=len(rows.accounts),
            insert_seconds=inserted - started,
            fold_seconds=folded - inserted,
            analyze_seconds=time.perf_counter() - folded,
        )
    finally:
        await engine.dispose()


async def _analyze(engine: AsyncEngine) -> None:
    """Fresh statistics for the planners. PostgreSQL also gets the VACUUM that autovacuum would
    run after 100,000 inserts (visibility map for index-only scans), so it cannot start in the
    middle of the timings; SQLite checkpoints its WAL."""
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM (ANALYZE)"))
        else:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


async def deep_cursor(url: str, organization_id: uuid.UUID, status: str | None) -> str:
    """The cursor of the row at DEEP_POSITION of the list sorted by account name."""
    engine = create_engine(url)
    try:
        where = [Connection.organization_id == organization_id]
        if status is not None:
            where.append(Connection.status == status)
        async with engine.connect() as connection:
            total = (await connection.execute(select(func.count()).where(*where))).scalar_one()
            stmt = (
                select(Connection.account_name, Connection.id)
                .where(*where)
                .order_by(Connection.account_name, Connection.id)
                .offset(int(total * DEEP_POSITION))
                .limit(1)
            )
            name, row_id = (await connection.execute(stmt)).one()
        return encode_cursor(SORT, name, row_id)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------------------------
# The scenarios: each is one API request and the raw SELECT it should amount to.

COLUMNS = ", ".join(column.name for column in Connection.__table__.columns)


@dataclass(frozen=True)
class Scenario:
    name: str
    status: str | None = None
    deep: bool = False
    counts: bool = False
    target_ms: float = TARGET_P95_MS
    # The counts by reading every row, as before the database kept them (timed raw only).
    full: bool = False

    def api(self, cursor: str | None) -> tuple[str, dict[str, str]]:
        if self.counts:
            return "/api/v1/connections/counts", {}
        params = {"sort": SORT.token, "limit": str(PAGE_SIZE)}
        if self.status is not None:
            params["status"] = self.status
        if self.deep:
            assert cursor is not None
            params["cursor"] = cursor
        return "/api/v1/connections", params

    def sql(self, placeholder: Callable[[int], str]) -> str:
        """The same statement by hand; parameters: organization, [status], [name, id]."""
        if self.full:
            return full_count_sql(placeholder(1))
        if self.counts:
            return kept_counts_sql(placeholder(1))
        where = [f"organization_id = {placeholder(1)}"]
        n = 2
        if self.status is not None:
            where.append(f"status = {placeholder(n)}")
            n += 1
        if self.deep:
            where.append(f"(account_name, id) > ({placeholder(n)}, {placeholder(n + 1)})")
        return (
            f"SELECT {COLUMNS} FROM connections WHERE {' AND '.join(where)} "
            f"ORDER BY account_name, id LIMIT {PAGE_SIZE + 1}"
        )


def kept_counts_sql(organization: str) -> str:
    """The counts the database keeps (migration 0013): the folded rows and the changes still
    pending, which is what the API reads."""
    return (
        "SELECT status, sum(n) FROM ("
        f"SELECT status, n FROM connection_counts WHERE organization_id = {organization} "
        "UNION ALL "
        f"SELECT status, n FROM connection_count_changes WHERE organization_id = {organization}"
        ") AS kept GROUP BY status"
    )


def full_count_sql(organization: str) -> str:
    """What the counts cost before the database kept them: every row of the organization."""
    return (
        f"SELECT status, count(*) FROM connections WHERE organization_id = {organization} "
        "GROUP BY status"
    )


SCENARIOS = (
    Scenario("needs_reconnect, first page", status=Status.NEEDS_RECONNECT),
    Scenario("needs_reconnect, deep page", status=Status.NEEDS_RECONNECT, deep=True),
    Scenario("all statuses, first page"),
    Scenario("all statuses, deep page", deep=True),
    Scenario("counts by status", counts=True, target_ms=TARGET_COUNTS_P95_MS),
)
FULL_COUNT = Scenario("counts by a full count", counts=True, full=True)


def cursor_position(cursor: str) -> tuple[str, uuid.UUID]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    _, name, hex_id = json.loads(raw)
    return str(name), uuid.UUID(hex=hex_id)


# What a raw run returns: the samples (ms) and the ids of the page (or the counts).
Answer = list[str] | dict[str, int]


@dataclass
class Timed:
    samples: list[float]
    answer: Answer

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples, n=100, method="inclusive")[94]

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.samples, n=100, method="inclusive")[98]


def _answer(scenario: Scenario, rows: Sequence[Sequence[Any]]) -> Answer:
    if scenario.counts:
        return {str(row[0]): int(row[1]) for row in rows}
    id_index = list(Connection.__table__.columns.keys()).index("id")
    return [_hex(row[id_index]) for row in rows]


def _hex(value: Any) -> str:
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


def _params(
    scenario: Scenario, organization: Any, cursor: str | None, as_id: Callable[[uuid.UUID], Any]
) -> list[Any]:
    params: list[Any] = [organization]
    if scenario.status is not None:
        params.append(scenario.status)
    if scenario.deep:
        assert cursor is not None
        name, row_id = cursor_position(cursor)
        params += [name, as_id(row_id)]
    return params


def raw_sqlite(
    path: Path,
    organization_id: uuid.UUID,
    cursors: dict[Scenario, str | None],
    repeat: int,
    scenarios: Sequence[Scenario] = SCENARIOS,
) -> dict[Scenario, Timed]:
    results = {}
    db = sqlite3.connect(path)
    try:
        for scenario in scenarios:
            sql = scenario.sql(lambda n: f"?{n}")
            params = _params(scenario, organization_id.hex, cursors[scenario], lambda u: u.hex)
            rows: list[Any] = []
            for _ in range(_warmup(repeat)):
                db.execute(sql, params).fetchall()
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                rows = db.execute(sql, params).fetchall()
                samples.append((time.perf_counter() - started) * 1000)
            results[scenario] = Timed(samples, _answer(scenario, rows))
    finally:
        db.close()
    return results


async def raw_postgres(
    url: str,
    organization_id: uuid.UUID,
    cursors: dict[Scenario, str | None],
    repeat: int,
    scenarios: Sequence[Scenario] = SCENARIOS,
) -> dict[Scenario, Timed]:
    results = {}
    db = await asyncpg.connect(url)
    try:
        for scenario in scenarios:
            sql = scenario.sql(lambda n: f"${n}")
            params = _params(scenario, organization_id, cursors[scenario], lambda u: u)
            rows: list[Any] = []
            for _ in range(_warmup(repeat)):
                await db.fetch(sql, *params)
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                rows = await db.fetch(sql, *params)
                samples.append((time.perf_counter() - started) * 1000)
            results[scenario] = Timed(samples, _answer(scenario, rows))
    finally:
        await db.close()
    return results


def _warmup(repeat: int) -> int:
    return max(10, repeat // 10)


# ---------------------------------------------------------------------------------------------
# The API, served by uvicorn on a loopback socket in a background thread.


@contextmanager
def serving(url: str, data_dir: Path) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        secret_keys="b1:" + base64.b64encode(os.urandom(32)).decode(),
        port=port,
        mount_sandbox=False,
        seed_demo=False,
        log_level="warning",
    )
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("Tether did not start.")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def time_api(
    base_url: str,
    token: str,
    cursors: dict[Scenario, str | None],
    expected: dict[Scenario, Timed],
    seeded: Seeded,
    repeat: int,
    bytewise: bool,
) -> dict[Scenario, Timed]:
    results = {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        for scenario in SCENARIOS:
            path, params = scenario.api(cursors[scenario])
            for _ in range(_warmup(repeat)):
                http.get(path, params=params).raise_for_status()
            samples, responses = [], []
            for _ in range(repeat):
                started = time.perf_counter()
                response = http.get(path, params=params)
                samples.append((time.perf_counter() - started) * 1000)
                responses.append(response)
            answer = check(scenario, responses, expected[scenario].answer, seeded, bytewise)
            results[scenario] = Timed(samples, answer)
    return results


def time_floor(base_url: str, token: str, repeat: int) -> Timed:
    """GET /api/v1/members/me: the token looked up, the member read, the middlewares, the
    routing and a small JSON answer, which every API answer costs before its own query."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        for _ in range(_warmup(repeat)):
            http.get("/api/v1/members/me").raise_for_status()
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = http.get("/api/v1/members/me")
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise AssertionError(f"floor: HTTP {response.status_code}: {response.text}")
    return Timed(samples, [])


def check(
    scenario: Scenario,
    responses: list[httpx.Response],
    raw: Answer,
    seeded: Seeded,
    bytewise: bool,
) -> Answer:
    """Every timed answer must be right, so that a broken query cannot look fast.

    `bytewise`: the database orders text as Python does (SQLite, PostgreSQL's C collation);
    under a linguistic collation the order is checked against the raw SQL only.
    """
    bodies = []
    for response in responses:
        if response.status_code != 200:
            raise AssertionError(f"{scenario.name}: HTTP {response.status_code}: {response.text}")
        bodies.append(response.json())
    first = bodies[0]
    if any(body != first for body in bodies[1:]):
        raise AssertionError(f"{scenario.name}: the same request gave different answers")
    if scenario.counts:
        expected = {**seeded.counts, "total": sum(seeded.counts.values())}
        if first != expected or raw != seeded.counts:
            raise AssertionError(f"{scenario.name}: {first} / raw {raw}, seeded {expected}")
        return dict(first)
    assert isinstance(raw, list)
    data = first["data"]
    ids = [uuid.UUID(row["id"]).hex for row in data]
    problems = []
    if len(data) != PAGE_SIZE:
        problems.append(f"{len(data)} rows, not {PAGE_SIZE}")
    if ids != raw[:PAGE_SIZE]:
        problems.append("not the rows (or not the order) of the raw SQL")
    if len(raw) > PAGE_SIZE and not first["next_cursor"]:
        problems.append("no next_cursor although more rows follow")
    if scenario.status is not None and any(row["status"] != scenario.status for row in data):
        problems.append(f"rows of another status than {scenario.status}")
    keys = [(row["account_name"], uuid.UUID(row["id"])) for row in data]
    if bytewise and any(a >= b for a, b in itertools.pairwise(keys)):
        problems.append("not sorted by (account_name, id)")
    if problems:
        raise AssertionError(f"{scenario.name}: {'; '.join(problems)}")
    return ids


# ---------------------------------------------------------------------------------------------
# One backend from start to finish, and the report.


@dataclass
class Report:
    backend: str
    version: str
    sizes: Sizes
    seeded: Seeded
    api: dict[Scenario, Timed]
    raw: dict[Scenario, Timed]
    plans: dict[Scenario, str]
    # The cheapest authenticated request (GET /api/v1/members/me): what any answer costs.
    floor: Timed


def run_sqlite(sizes: Sizes, repeat: int, explain: bool) -> Report:
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as folder:
        path = Path(folder) / "tether.db"
        url = async_database_url(f"sqlite:///{path}")
        return _run("SQLite", sqlite3.sqlite_version, url, Path(folder), sizes, repeat, explain)


def run_postgresql(sizes: Sizes, repeat: int, explain: bool) -> Report:
    name = f"tether_bench_{os.getpid()}"
    asyncio.run(
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    )
    try:
        base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
        url = async_database_url(f"{base}/{name}")
        with tempfile.TemporaryDirectory(prefix="tether-bench-") as folder:
            return _run("PostgreSQL", "", url, Path(folder), sizes, repeat, explain)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _run(
    backend: str, version: str, url: str, folder: Path, sizes: Sizes, repeat: int, explain: bool
) -> Report:
    bytewise = True
    print(f"\n{backend}: seeding...", flush=True)
    started = time.perf_counter()
    migrate.upgrade(url)
    migrated = time.perf_counter() - started
    seeded = asyncio.run(seed(url, sizes))
    seeded.migrate_seconds = migrated
    cursors: dict[Scenario, str | None] = {
        s: asyncio.run(deep_cursor(url, seeded.organization_id, s.status)) if s.deep else None
        for s in SCENARIOS
    }
    plans: dict[Scenario, str] = {}
    if backend == "SQLite":
        path = Path(url.split("///", 1)[1])
        raw = raw_sqlite(path, seeded.organization_id, cursors, repeat)
        raw |= raw_sqlite(path, seeded.organization_id, {FULL_COUNT: None}, repeat, [FULL_COUNT])
        if explain:
            plans = explain_sqlite(path, seeded.organization_id, cursors)
    else:
        plain = url.replace("postgresql+asyncpg://", "postgresql://")
        version, collation = asyncio.run(_postgres_facts(plain))
        bytewise = collation in ("C", "POSIX") or collation.startswith("C.")
        raw = asyncio.run(raw_postgres(plain, seeded.organization_id, cursors, repeat))
        raw |= asyncio.run(
            raw_postgres(plain, seeded.organization_id, {FULL_COUNT: None}, repeat, [FULL_COUNT])
        )
        if explain:
            plans = asyncio.run(explain_postgres(plain, seeded.organization_id, cursors))
    print(f"{backend}: timing {repeat} requests per scenario...", flush=True)
    with serving(url, folder) as base_url:
        api = time_api(base_url, seeded.token, cursors, raw, seeded, repeat, bytewise)
        floor = time_floor(base_url, seeded.token, repeat)
    return Report(backend, version, sizes, seeded, api, raw, plans, floor)


async def _postgres_facts(url: str) -> tuple[str, str]:
    db = await asyncpg.connect(url)
    try:
        version = await db.fetchval("SHOW server_version")
        collation = await db.fetchval(
            "SELECT datcollate FROM pg_database WHERE datname = current_database()"
        )
        return str(version).split()[0], str(collation)
    finally:
        await db.close()


def explain_sqlite(
    path: Path, organization_id: uuid.UUID, cursors: dict[Scenario, str | None]
) -> dict[Scenario, str]:
    plans = {}
    db = sqlite3.connect(path)
    try:
        for scenario in SCENARIOS:
            params = _params(scenario, organization_id.hex, cursors[scenario], lambda u: u.hex)
            rows = db.execute(f"EXPLAIN QUERY PLAN {scenario.sql(lambda n: f'?{n}')}", params)
            plans[scenario] = "\n".join(str(row[-1]) for row in rows)
    finally:
        db.close()
    return plans


async def explain_postgres(
    url: str, organization_id: uuid.UUID, cursors: dict[Scenario, str | None]
) -> dict[Scenario, str]:
    plans = {}
    db = await asyncpg.connect(url)
    try:
        for scenario in SCENARIOS:
            params = _params(scenario, organization_id, cursors[scenario], lambda u: u)
            sql = f"EXPLAIN (ANALYZE, BUFFERS) {scenario.sql(lambda n: f'${n}')}"
            rows = await db.fetch(sql, *params)
            plans[scenario] = "\n".join(str(row[0]) for row in rows)
    finally:
        await db.close()
    return plans


def print_report(report: Report) -> list[str]:
    """Print one backend's table; return the targets it missed."""
    s, seeded = report.sizes, report.seeded
    title = f"{report.backend} {report.version}".strip()
    print(f"\n=== {title}: GET /api/v1/connections, sorted by account_name, {PAGE_SIZE} a page")
    print(
        f"Seeded {s.connections:,} connections over {s.authorizations:,} authorizations "
        f"({seeded.accounts:,} accounts) and {s.clients:,} clients: "
        f"{seeded.migrate_seconds + seeded.insert_seconds + seeded.analyze_seconds:.1f} s "
        f"(migrations {seeded.migrate_seconds:.1f} s, inserts with their counts "
        f"{seeded.insert_seconds:.1f} s, folding the counts {seeded.fold_seconds:.1f} s, "
        f"analyze {seeded.analyze_seconds:.1f} s)"
    )
    mix = ", ".join(f"{k} {v:,}" for k, v in seeded.counts.items())
    print(f"Statuses: {mix}. Timed requests per scenario: {len(report.api[SCENARIOS[0]].samples)}")
    header = (
        f"{'scenario':<29} {'API med':>8} {'API p95':>8} {'SQL med':>8} {'SQL p95':>8} "
        f"{'p95 ratio':>9}  {'target':>6} {'met':>4}  {'ratio<=3x':>9}  {'API p99':>8}"
    )
    print(header)
    print("-" * len(header))
    missed = []
    for scenario in SCENARIOS:
        api, raw = report.api[scenario], report.raw[scenario]
        ratio = api.p95 / raw.p95
        fast, close = api.p95 <= scenario.target_ms, ratio <= TARGET_RATIO
        print(
            f"{scenario.name:<29} {api.median:8.2f} {api.p95:8.2f} {raw.median:8.2f} "
            f"{raw.p95:8.2f} {ratio:8.1f}x  {scenario.target_ms:5g}ms "
            f"{'yes' if fast else 'NO':>4}  {'yes' if close else 'NO':>9}  {api.p99:8.2f}"
        )
        if not fast:
            missed.append(
                f"{report.backend} {scenario.name}: API p95 {api.p95:.1f} ms > "
                f"{scenario.target_ms:g} ms"
            )
        if not close:
            missed.append(f"{report.backend} {scenario.name}: API/SQL p95 {ratio:.1f}x > 3x")
    floor, full = report.floor, report.raw[FULL_COUNT]
    print(
        f"{'(floor: GET /members/me)':<29} {floor.median:8.2f} {floor.p95:8.2f}"
        "                      every API answer's fixed cost"
    )
    print(
        f"{'(counts by a full count)':<29} {'':>8} {'':>8} {full.median:8.2f} {full.p95:8.2f}"
        "   the SQL the kept counts replace"
    )
    print("(ms; API = one keep-alive httpx client to uvicorn on 127.0.0.1, auth included;")
    print(" SQL = the same SELECT through the driver, rows fetched; for the counts, the kept")
    print(" counts' SELECT; p99 shown, not a target)")
    for scenario, plan in report.plans.items():
        print(f"\n-- plan: {scenario.name}\n{plan}")
    return missed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--authorizations", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per scenario")
    parser.add_argument("--explain", action="store_true", help="print the raw queries' plans")
    args = parser.parse_args(argv)
    sizes = Sizes(args.connections, args.authorizations, args.clients)
    if sizes.connections > sizes.clients * sizes.authorizations:
        parser.error("more connections than (client, account) pairs")
    if args.requests < 20:
        parser.error("--requests must be at least 20 for a p95")
    started = time.perf_counter()
    missed = []
    if args.backend in ("sqlite", "both"):
        missed += print_report(run_sqlite(sizes, args.requests, args.explain))
    if args.backend in ("postgresql", "both"):
        missed += print_report(run_postgresql(sizes, args.requests, args.explain))
    print(
        f"\nTargets: list p95 < {TARGET_P95_MS:g} ms, counts p95 <= {TARGET_COUNTS_P95_MS:g} ms, "
        f"each within {TARGET_RATIO:g}x of raw SQL."
    )
    print("All targets met." if not missed else "Targets missed:\n  " + "\n  ".join(missed))
    print(f"Total time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
