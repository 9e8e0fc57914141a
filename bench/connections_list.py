"""How fast is GET /api/v1/connections at a million connections, over a spread of requests,
next to the same SQL sent straight through the database driver?

Seeds one organization (bench/_big_org.py: 1,000,000 connections, 200,000 authorizations,
50,000 clients, and a staff member who sees one client in ten) on SQLite and on PostgreSQL,
serves Tether from a process of its own over a loopback socket, and times a spread of list
requests: every sort, both directions, status and provider filters, first pages and pages deep
in the result, as the admin and as the staff member, each request different and in a shuffled
order, so that no figure is one warm query repeated. Beside each request it times the very
statement Tether sent for it (captured from SQLAlchemy), through `sqlite3` or `asyncpg`. It also
times the status counts (as the admin, and as the staff member), and the cheapest authenticated
request, `GET /api/v1/tokens` (the token looked up, the member's one token listed), which
every answer costs before its own query.

Targets: list p95 at most 10 ms and at most the raw SQL's p95 + 3 ms; counts p95 at most 5 ms.
A group that misses prints the plans of its slowest requests.

    python bench/connections_list.py [--backend sqlite|postgresql|both] [--connections 1000000]
        [--authorizations 200000] [--clients 50000] [--requests 400] [--keep DIR] [--explain]

PostgreSQL is reached at TETHER_BENCH_POSTGRES_URL (default postgres@127.0.0.1:5432/test).
Without --keep the benchmark seeds a new database and drops it at the end; with --keep DIR it
keeps the seeded databases (SQLite in DIR, PostgreSQL under a fixed name) and reuses them.
"""

import argparse
import asyncio
import base64
import multiprocessing
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event, func, select

from _big_org import Seeded, Sizes, big_organization
from _harness import serve_until_told
from tether.app import create_app
from tether.config import Settings
from tether.connections import repository
from tether.connections.repository import ConnectionFilter
from tether.connections.service import SORTS
from tether.db import create_engine, create_sessionmaker
from tether.kit.pagination import Sort, encode_cursor
from tether.models import Connection, Status

TARGET_LIST_P95_MS = 10.0
TARGET_OVER_SQL_MS = 3.0
TARGET_COUNTS_P95_MS = 5.0
PAGE_SIZE = 50
COUNTS_REPEAT = 200  # or as many as fit in COUNTS_SECONDS, at least MIN_REPEAT
COUNTS_SECONDS = 20.0
MIN_REPEAT = 20
FLOOR_REPEAT = 200
SLOWEST_PLANS = 3
# The cheapest authenticated request: the token looked up and the member's one token listed
# (not /members/me, which lists a limited member's thousands of clients).
FLOOR = "/api/v1/tokens"

# The filters a spread draws from: (statuses, provider).
FILTERS: tuple[tuple[tuple[str, ...], str | None], ...] = (
    ((), None),
    ((Status.NEEDS_RECONNECT,), None),
    ((Status.FAILING,), None),
    ((Status.NEEDS_RECONNECT, Status.FAILING), None),
    ((), "meta_ads"),
    ((), "linkedin_ads"),
    ((Status.NEEDS_RECONNECT,), "google_ads"),
)


@dataclass(frozen=True)
class Ask:
    """One list request of the spread."""

    actor: str  # "admin" or "staff"
    sort: Sort
    statuses: tuple[str, ...]
    provider: str | None
    # None: the first page; else the page after a row drawn at random from the result (the
    # first at or after this id), so deep pages fall anywhere in it.
    pivot: uuid.UUID | None

    @property
    def group(self) -> str:
        who = "admin" if self.actor == "admin" else "staff (1 client in 10)"
        return f"{who}, {'first' if self.pivot is None else 'deep'} pages"

    def describe(self) -> str:
        parts = [f"sort={self.sort.token}"]
        parts += [f"status={s}" for s in self.statuses]
        parts += [f"provider={self.provider}"] if self.provider else []
        parts += [f"after a random row ({self.pivot})"] if self.pivot is not None else []
        return f"{self.actor}: " + " ".join(parts)


def spread(size: int, rng: random.Random) -> list[Ask]:
    asks: dict[Ask, None] = {}
    while len(asks) < size:
        statuses, provider = rng.choice(FILTERS)
        ask = Ask(
            actor=rng.choice(("admin", "staff")),
            sort=Sort(rng.choice(SORTS), rng.random() < 0.5),
            statuses=statuses,
            provider=provider,
            pivot=None if rng.random() < 0.5 else uuid.UUID(int=rng.getrandbits(128), version=4),
        )
        asks[ask] = None
    return list(asks)


@dataclass
class Prepared:
    """A request with what it takes and should answer: its cursor, the statements Tether sends
    for it (two for a nullable sort whose first part does not fill the page) with their
    parameters as the driver gets them, and the ids of the right page."""

    ask: Ask
    cursor: str | None
    statements: list[tuple[str, Any]]
    ids: list[str]
    more: bool


@dataclass
class Samples:
    api: list[float] = field(default_factory=list)
    app: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    slowest: list[tuple[float, Prepared]] = field(default_factory=list)


def repeats() -> Iterator[int]:
    """COUNTS_REPEAT times, or fewer (MIN_REPEAT at least) once COUNTS_SECONDS have passed: a
    count that reads every row takes a second at a million."""
    started = time.monotonic()
    for n in range(COUNTS_REPEAT):
        if n >= MIN_REPEAT and time.monotonic() - started > COUNTS_SECONDS:
            return
        yield n


def p95(samples: Sequence[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[94]


# ---------------------------------------------------------------------------------------------
# Preparing: cursors, the statements Tether sends, the right answers.


class Captured:
    """The statements an engine sends, as its driver gets them."""

    def __init__(self, engine: Any) -> None:
        self.sent: list[tuple[str, Any]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.sent.append((statement, parameters))

    def last(self) -> tuple[str, Any]:
        return self.sent[-1]


def filter_for(
    actor: str, seeded: Seeded, statuses: tuple[str, ...], provider: str | None
) -> ConnectionFilter:
    visible_to = seeded.staff_member_id if actor == "staff" else None
    return ConnectionFilter(seeded.organization_id, visible_to, statuses, provider)


async def prepare(url: str, seeded: Seeded, asks: Sequence[Ask]) -> list[Prepared]:
    engine = create_engine(url)
    captured = Captured(engine)
    prepared = []
    try:
        async with create_sessionmaker(engine)() as session:
            for ask in asks:
                where = filter_for(ask.actor, seeded, ask.statuses, ask.provider)
                after, cursor = None, None
                if ask.pivot is not None:
                    # Ids are random: the first matching row at or after a random id is a row
                    # drawn at random from the result, found along the primary key at once
                    # (where an OFFSET into a million sorted rows takes seconds).
                    column = getattr(Connection, ask.sort.field)
                    drawn = where.apply(select(column, Connection.id)).order_by(Connection.id)
                    row = (
                        await session.execute(drawn.where(Connection.id >= ask.pivot).limit(1))
                    ).first() or (await session.execute(drawn.limit(1))).one()
                    after, cursor = (row[0], row[1]), encode_cursor(ask.sort, row[0], row[1])
                sent = len(captured.sent)
                rows = await repository.page(
                    session, where, sort=ask.sort, after=after, limit=PAGE_SIZE
                )
                statements = captured.sent[sent:]
                ids = [row.id.hex for row in rows[:PAGE_SIZE]]
                prepared.append(Prepared(ask, cursor, statements, ids, len(rows) > PAGE_SIZE))
    finally:
        await engine.dispose()
    return prepared


@dataclass
class CountsAsk:
    """The status counts as one actor sees them, and the statement they take."""

    actor: str
    statement: str = ""
    parameters: Any = None
    answer: dict[str, int] = field(default_factory=dict)


async def prepare_counts(url: str, seeded: Seeded) -> tuple[list[CountsAsk], CountsAsk]:
    """The counts as the admin and the staff member ask them, and, for reference, the full
    count of the organization's rows that the kept counts replace."""
    engine = create_engine(url)
    captured = Captured(engine)
    asks = []
    try:
        async with create_sessionmaker(engine)() as session:
            for actor in ("admin", "staff"):
                where = filter_for(actor, seeded, (), None)
                answer = await repository.counts_by_status(session, where)
                asks.append(CountsAsk(actor, *captured.last(), answer))
            full = select(Connection.status, func.count()).where(
                Connection.organization_id == seeded.organization_id
            )
            rows = (await session.execute(full.group_by(Connection.status))).all()
            reference = CountsAsk("full count", *captured.last(), {s: n for s, n in rows})
    finally:
        await engine.dispose()
    return asks, reference


# ---------------------------------------------------------------------------------------------
# Raw SQL: the captured statements through the driver, in the same shuffled order.


def _id_index() -> int:
    return list(Connection.__table__.columns.keys()).index("id")


def _hex(value: Any) -> str:
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


def raw_sqlite(
    path: Path, prepared: Sequence[Prepared], counts: Sequence[CountsAsk]
) -> dict[int, list[float]]:
    """Milliseconds per prepared request (by index) and per counts ask (-1 - index, repeated)."""
    db = sqlite3.connect(path)
    took: dict[int, list[float]] = {}
    try:
        for n, item in enumerate(prepared):
            started = time.perf_counter()
            rows = [row for sql, values in item.statements for row in db.execute(sql, values)]
            took[n] = [(time.perf_counter() - started) * 1000]
            _check_raw(item, rows)
        for n, ask in enumerate(counts):
            for _ in repeats():
                started = time.perf_counter()
                db.execute(ask.statement, ask.parameters).fetchall()
                took.setdefault(-1 - n, []).append((time.perf_counter() - started) * 1000)
    finally:
        db.close()
    return took


async def raw_postgres(
    url: str, prepared: Sequence[Prepared], counts: Sequence[CountsAsk]
) -> dict[int, list[float]]:
    db = await asyncpg.connect(url)
    took: dict[int, list[float]] = {}
    try:
        for n, item in enumerate(prepared):
            started = time.perf_counter()
            rows = [row for sql, values in item.statements for row in await db.fetch(sql, *values)]
            took[n] = [(time.perf_counter() - started) * 1000]
            _check_raw(item, rows)
        for n, ask in enumerate(counts):
            for _ in repeats():
                started = time.perf_counter()
                await db.fetch(ask.statement, *ask.parameters)
                took.setdefault(-1 - n, []).append((time.perf_counter() - started) * 1000)
    finally:
        await db.close()
    return took


def _check_raw(item: Prepared, rows: Sequence[Sequence[Any]]) -> None:
    ids = [_hex(row[_id_index()]) for row in rows[:PAGE_SIZE]]
    if ids != item.ids:
        raise AssertionError(f"raw SQL of {item.ask.describe()} answered other rows")


# ---------------------------------------------------------------------------------------------
# The API: Tether served by uvicorn from a process of its own, so that the client's work and
# the server's do not share one interpreter lock.


def web_settings(url: str, folder: str, keys: str) -> Settings:
    """A web process alone, as in production beside `tether worker`: no scheduler or worker
    inside it, which would start checking the 200,000 authorizations while the answers are
    timed."""
    return Settings(
        background=False,
        data_dir=Path(folder),
        database_url=url,
        secret_keys=keys,
        mount_sandbox=False,
        seed_demo=False,
        log_level="warning",
    )


def serve_tether(pipe: Pipe, url: str, folder: str, keys: str) -> None:
    serve_until_told(pipe, create_app(web_settings(url, folder, keys)))


@contextmanager
def serving(url: str, serve: Callable[[Pipe, str, str, str], None] = serve_tether) -> Iterator[str]:
    """Tether on a loopback port, served by `serve` in a spawned process of its own; the
    base URL once it answers."""
    keys = "b1:" + base64.b64encode(os.urandom(32)).decode()
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    folder = tempfile.mkdtemp(prefix="tether-bench-")
    process = context.Process(target=serve, args=(child, url, folder, keys))
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("Tether did not start.")
        base = f"http://127.0.0.1:{parent.recv()}"
        deadline = time.monotonic() + 60
        while True:  # the socket is bound before uvicorn listens on it
            try:
                if httpx.get(f"{base}/livez").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or not process.is_alive():
                    raise RuntimeError("Tether did not start.") from None
                time.sleep(0.1)
        yield base
    finally:
        parent.send("stop")
        process.join(15)
        if process.is_alive():
            process.terminate()


def _timed(
    http: httpx.Client, path: str, params: Any = None
) -> tuple[httpx.Response, float, float]:
    started = time.perf_counter()
    response = http.get(path, params=params)
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise AssertionError(f"{path} {params}: HTTP {response.status_code}: {response.text}")
    app = float(response.headers["server-timing"].partition("dur=")[2].split(",")[0])
    return response, took, app


def time_api(
    base_url: str, seeded: Seeded, prepared: Sequence[Prepared], counts: Sequence[CountsAsk]
) -> tuple[dict[int, tuple[float, float]], dict[str, Samples]]:
    """Each list request once, in the prepared (shuffled) order, its answer checked; then the
    counts and the floor, alternating between the actors."""
    tokens = {"admin": seeded.token, "staff": seeded.staff_token}
    clients = {
        actor: httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        for actor, token in tokens.items()
    }
    took: dict[int, tuple[float, float]] = {}
    others: dict[str, Samples] = {}
    try:
        for http in clients.values():  # warm: connections open, first-request costs paid
            for _ in range(20):
                _timed(http, FLOOR)
        for n, item in enumerate(prepared):
            response, api, app = _timed(
                clients[item.ask.actor], "/api/v1/connections", _params(item)
            )
            _check_answer(item, response.json(), seeded)
            took[n] = (api, app)
        for ask in counts:
            for _ in repeats():
                response, api, app = _timed(clients[ask.actor], "/api/v1/connections/counts")
                expected = {**dict.fromkeys([s.value for s in Status], 0), **ask.answer}
                if response.json() != {**expected, "total": sum(expected.values())}:
                    raise AssertionError(f"counts as {ask.actor}: {response.text} != {expected}")
                sample = others.setdefault(f"counts as {ask.actor}", Samples())
                sample.api.append(api)
                sample.app.append(app)
        for _ in range(FLOOR_REPEAT):
            for actor, http in clients.items():
                response, api, app = _timed(http, FLOOR)
                sample = others.setdefault(f"floor: {FLOOR} as {actor}", Samples())
                sample.api.append(api)
                sample.app.append(app)
    finally:
        for http in clients.values():
            http.close()
    return took, others


def _params(item: Prepared) -> list[tuple[str, str]]:
    params = [("sort", item.ask.sort.token), ("limit", str(PAGE_SIZE))]
    params += [("status", s) for s in item.ask.statuses]
    params += [("provider", item.ask.provider)] if item.ask.provider else []
    params += [("cursor", item.cursor)] if item.cursor else []
    return params


def _check_answer(item: Prepared, body: dict[str, Any], seeded: Seeded) -> None:
    """The same rows as the SQL, in the same order, within the filters and what the actor sees,
    with a next cursor exactly when there are more: a broken query cannot look fast."""
    rows = body["data"]
    problems = []
    if [uuid.UUID(row["id"]).hex for row in rows] != item.ids:
        problems.append("other rows than the SQL's")
    if item.ask.statuses and any(row["status"] not in item.ask.statuses for row in rows):
        problems.append("a row of another status")
    if item.ask.provider and any(row["provider"] != item.ask.provider for row in rows):
        problems.append("a row of another provider")
    visible = {str(i) for i in seeded.staff_client_ids}
    if item.ask.actor == "staff" and any(row["client_id"] not in visible for row in rows):
        problems.append("a client the staff member may not see")
    if (body["next_cursor"] is not None) != item.more:
        problems.append("a next cursor where there is no more, or none where there is")
    if problems:
        raise AssertionError(f"{item.ask.describe()}: {'; '.join(problems)}")


# ---------------------------------------------------------------------------------------------
# Plans of the slowest requests of a group over target.


def explain_sqlite(path: Path, items: Sequence[Prepared]) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [
            "\n".join(
                str(row[-1])
                for sql, values in i.statements
                for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", values)
            )
            for i in items
        ]
    finally:
        db.close()


async def explain_postgres(url: str, items: Sequence[Prepared]) -> list[str]:
    db = await asyncpg.connect(url)
    try:
        plans = []
        for i in items:
            lines = []
            for sql, values in i.statements:
                rows = await db.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)
                lines += [str(row[0]) for row in rows]
            plans.append("\n".join(lines))
        return plans
    finally:
        await db.close()


# ---------------------------------------------------------------------------------------------
# A run on one backend, and its report.


@dataclass
class Report:
    backend: str
    version: str
    sizes: Sizes
    seeded: Seeded
    groups: dict[str, Samples]
    others: dict[str, Samples]
    reference: list[float]
    plans: dict[str, list[tuple[Prepared, str]]]


def run(backend: str, sizes: Sizes, size: int, keep: Path | None, explain: bool) -> Report:
    print(f"\n{backend}: the organization...", flush=True)
    with big_organization(backend, sizes, keep) as (url, seeded):
        if seeded.reused:
            print(f"{backend}: reusing the kept database", flush=True)
        asks = spread(size, random.Random(20261207))
        print(
            f"{backend}: preparing {len(asks)} requests (cursors, statements, answers)...",
            flush=True,
        )
        prepared = asyncio.run(prepare(url, seeded, asks))
        random.Random(1).shuffle(prepared)
        counts, reference = asyncio.run(prepare_counts(url, seeded))
        if backend == "sqlite":
            path = Path(url.split("///", 1)[1])
            version = sqlite3.sqlite_version
            raw = raw_sqlite(path, prepared, [*counts, reference])
        else:
            plain = url.replace("postgresql+asyncpg://", "postgresql://")
            version = asyncio.run(_postgres_version(plain))
            raw = asyncio.run(raw_postgres(plain, prepared, [*counts, reference]))
        print(f"{backend}: timing the API...", flush=True)
        with serving(url) as base:
            took, others = time_api(base, seeded, prepared, counts)
        groups: dict[str, Samples] = {}
        for n, item in enumerate(prepared):
            group = groups.setdefault(item.ask.group, Samples())
            api, app = took[n]
            group.api.append(api)
            group.app.append(app)
            group.sql.append(raw[n][0])
            group.slowest.append((api, item))
        for n, ask in enumerate(counts):
            others[f"counts as {ask.actor}"].sql.extend(raw[-1 - n])
        plans: dict[str, list[tuple[Prepared, str]]] = {}
        for name, group in groups.items():
            if explain or not _list_met(group):
                slowest = [
                    item for _, item in sorted(group.slowest, key=lambda s: -s[0])[:SLOWEST_PLANS]
                ]
                if backend == "sqlite":
                    texts = explain_sqlite(path, slowest)
                else:
                    texts = asyncio.run(explain_postgres(plain, slowest))
                plans[name] = list(zip(slowest, texts, strict=True))
        return Report(backend, version, sizes, seeded, groups, others, raw[-1 - len(counts)], plans)


async def _postgres_version(url: str) -> str:
    db = await asyncpg.connect(url)
    try:
        return str(await db.fetchval("SHOW server_version")).split()[0]
    finally:
        await db.close()


def _list_met(group: Samples) -> bool:
    api = p95(group.api)
    return api <= TARGET_LIST_P95_MS and api <= p95(group.sql) + TARGET_OVER_SQL_MS


def print_report(report: Report) -> list[str]:
    """Print one backend's table; return the targets it missed."""
    s, seeded = report.sizes, report.seeded
    name = "SQLite" if report.backend == "sqlite" else "PostgreSQL"
    print(f"\n=== {name} {report.version}: GET /api/v1/connections, {PAGE_SIZE} a page")
    if seeded.reused:
        print("Seeded earlier (kept database).")
    else:
        print(
            f"Seeded {s.connections:,} connections over {s.authorizations:,} authorizations "
            f"({seeded.accounts:,} accounts) and {s.clients:,} clients in "
            f"{seeded.seconds:.0f} s "
            f"(inserts with their counts {seeded.insert_seconds:.0f} s, folding the counts "
            f"{seeded.fold_seconds:.1f} s, analyze {seeded.analyze_seconds:.0f} s)"
        )
    header = (
        f"{'requests':<34} {'n':>4} {'API p50':>8} {'API p95':>8} {'app p95':>8} {'SQL p50':>8} "
        f"{'SQL p95':>8}  {'target':>22} {'met':>4}"
    )
    print(header)
    print("-" * len(header))
    missed = []
    for label, group in sorted(report.groups.items()):
        api, sql = p95(group.api), p95(group.sql)
        met = _list_met(group)
        target = f"<={TARGET_LIST_P95_MS:g}, <=SQL+{TARGET_OVER_SQL_MS:g} ms"
        print(
            f"{label:<34} {len(group.api):4d} {statistics.median(group.api):8.2f} {api:8.2f} "
            f"{p95(group.app):8.2f} {statistics.median(group.sql):8.2f} {sql:8.2f}  {target:>22} "
            f"{'yes' if met else 'NO':>4}"
        )
        if not met:
            missed.append(f"{name} list, {label}: API p95 {api:.1f} ms (SQL p95 {sql:.2f} ms)")
    for label, sample in report.others.items():
        api = p95(sample.api)
        sql = (
            f"{statistics.median(sample.sql):8.2f} {p95(sample.sql):8.2f}"
            if sample.sql
            else f"{'':>8} {'':>8}"
        )
        target, met = "", ""
        if label == "counts as admin":
            target, met = (
                f"<={TARGET_COUNTS_P95_MS:g} ms",
                "yes" if api <= TARGET_COUNTS_P95_MS else "NO",
            )
            if api > TARGET_COUNTS_P95_MS:
                missed.append(f"{name} counts: API p95 {api:.1f} ms")
        print(
            f"{label:<34} {len(sample.api):4d} {statistics.median(sample.api):8.2f} {api:8.2f} "
            f"{p95(sample.app):8.2f} {sql}  {target:>22} {met:>4}"
        )
    ref = report.reference
    print(
        f"{'(full count the kept counts replace)':<34} {len(ref):4d} {'':>8} {'':>8} {'':>8} "
        f"{statistics.median(ref):8.2f} {p95(ref):8.2f}"
    )
    print("(ms. API: a keep-alive httpx client in this process to uvicorn in another, over")
    print(" 127.0.0.1. app: Tether's own Server-Timing. SQL: the statements Tether sent for the")
    print(" same request, through the driver, rows fetched. Each list request differs: sorts,")
    print(" directions, filters and the rows deep pages start after are drawn at random, and")
    print(" each is timed once, in shuffled order.)")
    for label, plans in report.plans.items():
        for item, plan in plans:
            print(f"\n-- plan, {label}: {item.ask.describe()}\n{plan}")
    return missed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--connections", type=int, default=1_000_000)
    parser.add_argument("--authorizations", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=400, help="list requests in the spread")
    parser.add_argument("--keep", type=Path, help="keep the seeded databases here and reuse them")
    parser.add_argument("--explain", action="store_true", help="print plans of every group")
    args = parser.parse_args(argv)
    sizes = Sizes(args.connections, args.authorizations, args.clients)
    if sizes.connections > sizes.clients * sizes.authorizations:
        parser.error("more connections than (client, account) pairs")
    if args.requests < 80:
        parser.error("--requests must be at least 80 for a p95 of each of the four groups")
    started = time.perf_counter()
    missed = []
    for backend in ("sqlite", "postgresql"):
        if args.backend in (backend, "both"):
            missed += print_report(run(backend, sizes, args.requests, args.keep, args.explain))
    print(
        f"\nTargets: list p95 <= {TARGET_LIST_P95_MS:g} ms and <= SQL p95 + "
        f"{TARGET_OVER_SQL_MS:g} ms; counts p95 <= {TARGET_COUNTS_P95_MS:g} ms."
    )
    print("All targets met." if not missed else "Targets missed:\n  " + "\n  ".join(missed))
    print(f"Total time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
