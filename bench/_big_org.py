"""One big organization for the benchmarks: a million connections by default, seeded once.

`generate` draws every row from a fixed seed (plausible names, a realistic mix of statuses), so
both backends hold the same data; `seed` inserts them with Core `insert()` in batches, a
transaction each (the triggers of migration 0013 count every row as it goes in), adds a staff
member who sees one client in ten, folds the kept counts as the scheduler would (PostgreSQL)
and refreshes the planners' statistics. `big_organization` gives a seeded database: a new one
dropped at the end, or, with `keep`, one kept in that folder (SQLite) or under a fixed name
(PostgreSQL) and reused by the next run of the same sizes.
"""

import asyncio
import dataclasses
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from _harness import POSTGRES_ADMIN_URL, _admin, create_admin
from tether import migrate
from tether.authorizations import counts_repository as authorization_counts
from tether.config import async_database_url
from tether.connections import counts_repository
from tether.db import create_engine, create_sessionmaker
from tether.members.service import create_member, create_token
from tether.models import (
    Account,
    Authorization,
    AuthorizationRole,
    Client,
    Connection,
    Role,
    Status,
)

BATCH = 5_000
SEED_CACHE_KIB = 512 * 1024  # SQLite's page cache while seeding: the indexes of 1M rows fit
STAFF_SHARE = 0.10  # the staff member sees this share of the clients

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
    """What the benchmarks need of the seeded organization (kept beside a kept database)."""

    organization_id: uuid.UUID
    token: str = field(repr=False)
    staff_token: str = field(repr=False)
    staff_client_ids: list[uuid.UUID]
    staff_member_id: uuid.UUID
    counts: dict[str, int]
    accounts: int
    migrate_seconds: float = 0.0
    insert_seconds: float = 0.0
    fold_seconds: float = 0.0
    analyze_seconds: float = 0.0
    reused: bool = False

    @property
    def seconds(self) -> float:
        return self.migrate_seconds + self.insert_seconds + self.fold_seconds + self.analyze_seconds

    def dump(self) -> str:
        facts = dataclasses.asdict(self)
        facts["organization_id"] = str(self.organization_id)
        facts["staff_member_id"] = str(self.staff_member_id)
        facts["staff_client_ids"] = [str(i) for i in self.staff_client_ids]
        return json.dumps(facts)

    @classmethod
    def load(cls, raw: str) -> "Seeded":
        facts = json.loads(raw)
        facts["organization_id"] = uuid.UUID(facts["organization_id"])
        facts["staff_member_id"] = uuid.UUID(facts["staff_member_id"])
        facts["staff_client_ids"] = [uuid.UUID(i) for i in facts["staff_client_ids"]]
        return cls(**{**facts, "reused": True})


async def seed(url: str, sizes: Sizes) -> Seeded:
    admin = await create_admin(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        rows = generate(sizes, admin.organization_id, admin.member_id, datetime.now(UTC))
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
        staff_clients = random.Random(7).sample(
            [c["id"] for c in rows.clients], max(1, int(len(rows.clients) * STAFF_SHARE))
        )
        async with sessions.begin() as session:
            staff = await create_member(
                session,
                organization_id=admin.organization_id,
                email="staff@benchmark.example",
                name="Benchmark Staff",
                role=Role.STAFF,
                client_ids=staff_clients,
            )
            _, staff_token = await create_token(session, member=staff, name="benchmark")
        # What the scheduler does at each pass: fold the changes the inserts appended into the
        # kept counts (PostgreSQL; SQLite's triggers count directly).
        folding = time.perf_counter()
        for fold in (counts_repository.fold, authorization_counts.fold):
            while True:
                async with sessions.begin() as session:
                    if not await fold(session):
                        break
        folded = time.perf_counter()
        await _analyze(engine)
        counts = dict.fromkeys([s.value for s in Status], 0)
        for row in rows.connections:
            counts[row["status"]] += 1
        return Seeded(
            organization_id=admin.organization_id,
            token=admin.token,
            staff_token=staff_token,
            staff_client_ids=staff_clients,
            staff_member_id=staff.id,
            counts=counts,
            accounts=len(rows.accounts),
            insert_seconds=inserted - started,
            fold_seconds=folded - folding,
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


def _seeded(url: str, sizes: Sizes) -> Seeded:
    started = time.perf_counter()
    migrate.upgrade(url)
    migrated = time.perf_counter() - started
    seeded = asyncio.run(seed(url, sizes))
    seeded.migrate_seconds = migrated
    return seeded


@contextmanager
def big_organization(backend: str, sizes: Sizes, keep: Path | None) -> Iterator[tuple[str, Seeded]]:
    """A database holding the organization (its SQLAlchemy URL) and what was seeded.

    Without `keep`: a new database (a temporary SQLite file, or `tether_bench_<pid>`), dropped
    at the end. With `keep`: the database of these sizes in that folder (SQLite) or named
    `tether_bench_big_<sizes>` (PostgreSQL), seeded the first time and reused after."""
    tag = f"{sizes.connections}_{sizes.authorizations}_{sizes.clients}"
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        facts = keep / f"big-organization-{backend}-{tag}.json"
        if backend == "sqlite":
            url = async_database_url(f"sqlite:///{keep / f'big-organization-{tag}.db'}")
        else:
            url = _postgres_url(f"tether_bench_big_{tag}")
        if facts.exists():
            migrate.upgrade(url)  # a kept database gets what migrations came since
            yield url, Seeded.load(facts.read_text())
            return
        if backend == "postgresql":
            _recreate(url)
        seeded = _seeded(url, sizes)
        facts.write_text(seeded.dump())
        facts.chmod(0o600)  # it holds the benchmark organization's API tokens
        yield url, seeded
        return
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tether-bench-") as folder:
            url = async_database_url(f"sqlite:///{Path(folder) / 'tether.db'}")
            yield url, _seeded(url, sizes)
        return
    url = _postgres_url(f"tether_bench_{os.getpid()}")
    _recreate(url)
    try:
        yield url, _seeded(url, sizes)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{_name_of(url)}" WITH (FORCE)'))


def _postgres_url(name: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return async_database_url(f"{base}/{name}")


def _name_of(url: str) -> str:
    return url.rpartition("/")[2]


def _recreate(url: str) -> None:
    name = _name_of(url)
    asyncio.run(
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    )
