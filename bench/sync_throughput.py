"""How many metric rows a second does one Tether worker store, next to bare HTTP fetches?

Connects 2,000 sandbox users (one account each, real grants) to one organization on PostgreSQL,
with one connection per account, makes every connection due and starts one `tether worker`
(Redis broker, scheduler included), timed until every connection has its 90 days stored. In the
same run, a bare `httpx.AsyncClient` fetches the same 2,000 metric pages (90 days each) with the
same tokens from the same sandbox, at the worker's concurrency. The sandbox runs in its own
process, so it shares the GIL with neither side. With `--provider google_ads` or `meta_ads` the
authorizations and connections are that provider's and the worker runs with
TETHER_SANDBOX_STANDS_IN_FOR=<provider>: both sides then fetch that platform's daily report
(GAQL over searchStream; Insights) from the sandbox's dialect of it.

Target: the worker stores at least 50% of the rows per second the bare client fetches.

    python bench/sync_throughput.py [--connections 2000] [--threads 8] [--concurrency N]
        [--provider {sandbox,google_ads,meta_ads}] [--worker-env TETHER_X=V] [--profile 200]

PostgreSQL is reached at TETHER_BENCH_POSTGRES_URL (default postgres@127.0.0.1:5432/test); the
benchmark creates its own database there and drops it at the end. Redis is TETHER_BENCH_REDIS_URL
(default 127.0.0.1:6379/0); the worker's keys live under a namespace of this run's own, deleted
at the end.
"""

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import insert, select

from _harness import (
    QUIET,
    THROUGH,
    RequestLog,
    Shape,
    Through,
    clear_redis,
    cpu_seconds,
    create_admin,
    database_urls,
    new_keyring,
    read_requests,
    request_problems,
    reset_requests,
    sandbox_in_process,
    serve_until_told,
    stop_process,
    throwaway_database,
    worker_base_env,
    worker_command,
)

# The fleet builder lives with the test fixtures; the repository root makes it importable.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fixtures.fleet import connect_fleet  # noqa: E402

from tether import (  # noqa: E402
    migrate,
    runtime,
    vault,
)
from tether.config import Settings  # noqa: E402
from tether.db import create_engine, create_sessionmaker  # noqa: E402
from tether.models import Account, Authorization, Client, Connection, Status  # noqa: E402
from tether.sandbox import SandboxState, create_app  # noqa: E402
from tether.sync import schedule, service  # noqa: E402

REDIS_URL = os.environ.get("TETHER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
NAMESPACE = f"tether_bench_sync_{os.getpid()}"
TARGET_RATIO = 0.50
DAYS = 90
POLL_SECONDS = 0.5
# What one `sync.sync_connections` job runs at once (sync_many's default).
PER_JOB = 8
CLIENTS = 200


@dataclass(frozen=True)
class Page:
    """One connection's metric page, as the bare client asks for it."""

    token: str
    account: str


@dataclass(frozen=True)
class Setup:
    database: str
    url: str
    plain_url: str
    secret_keys: str
    sandbox_url: str
    sandbox_pid: int
    pages: list[Page]
    through: Through  # the provider the reports come through

    @property
    def calls_per_connection(self) -> int:
        """Report calls (pages) one connection's days take."""
        return self.through.pages(DAYS)


# ---------------------------------------------------------------------------------------------
# The sandbox, in its own process: mints the fleet (and writes its authorizations and accounts
# into Tether's database with the fixture), then serves until told.


def sandbox_process(
    pipe: Pipe,
    url: str,
    secret_keys: str,
    organization_id: str,
    member_id: str,
    count: int,
    provider: str,
) -> None:
    state = SandboxState.seeded()
    vault.load_keyring(Settings(secret_keys=secret_keys))
    through = THROUGH[provider]
    organization, member = uuid.UUID(organization_id), uuid.UUID(member_id)
    asyncio.run(_mint_fleet(state, url, organization, member, count, through))
    serve_until_told(pipe, RequestLog(create_app(state)))


async def _mint_fleet(
    state: SandboxState,
    url: str,
    organization_id: uuid.UUID,
    member_id: uuid.UUID,
    count: int,
    through: Through,
) -> None:
    engine = create_engine(url)
    try:
        # next_check_at None: the health engine leaves these authorizations alone.
        await connect_fleet(
            create_sessionmaker(engine),
            state,
            organization_id=organization_id,
            connector_id=member_id,
            count=count,
            provider=through.key,
            external_id=through.external_id,
            grant_rules=through.grant_rules,
        )
    finally:
        await engine.dispose()


@contextlib.contextmanager
def sandbox_serving(
    url: str,
    secret_keys: str,
    organization_id: uuid.UUID,
    member_id: uuid.UUID,
    count: int,
    provider: str,
) -> Iterator[tuple[str, int]]:
    args = (url, secret_keys, str(organization_id), str(member_id), count, provider)
    with sandbox_in_process(sandbox_process, args, bringing="its fleet") as sandbox:
        yield sandbox.url, sandbox.pid


# ---------------------------------------------------------------------------------------------
# Seeding: database, organization, clients and one connection per account.


async def connect_accounts(url: str, organization_id: uuid.UUID, provider: str) -> list[Page]:
    """A connection (not yet due) for every account, over CLIENTS clients; the pages to fetch."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = (
                await session.execute(
                    select(Account, Authorization.access_token).join(
                        Authorization, Account.authorization_id == Authorization.id
                    )
                )
            ).all()
            clients = [
                {
                    "id": uuid.uuid4(),
                    "organization_id": organization_id,
                    "name": f"Client {n:04d}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(CLIENTS)
            ]
            await session.execute(insert(Client), clients)
            connections, pages = [], []
            for n, (account, sealed) in enumerate(rows):
                client = clients[n % CLIENTS]
                connections.append(
                    {
                        "id": uuid.uuid4(),
                        "organization_id": organization_id,
                        "client_id": client["id"],
                        "authorization_id": account.authorization_id,
                        "account_id": account.id,
                        "provider": provider,
                        "status": Status.ACTIVE,
                        "client_name": client["name"],
                        "account_name": account.name,
                        "account_external_id": account.external_id,
                        "next_sync_at": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                pages.append(Page(vault.reveal(sealed), account.external_id))
            for start in range(0, len(connections), 1000):
                await session.execute(insert(Connection), connections[start : start + 1000])
            await session.commit()
        return pages
    finally:
        await engine.dispose()


async def reset_sync(plain_url: str, due: bool) -> None:
    """No metric stored, no sync recorded; every connection due now (or never)."""
    db = await asyncpg.connect(plain_url)
    try:
        await db.execute("TRUNCATE metric_days, lost_days")
        await db.execute(
            "UPDATE connections SET last_synced_at = NULL, sync_error = NULL, sync_failures = 0, "
            f"next_sync_at = {'now()' if due else 'NULL'}"
        )
        await db.execute("VACUUM (ANALYZE) connections")
    finally:
        await db.close()


# ---------------------------------------------------------------------------------------------
# The sandbox's own count of calls.


@dataclass(frozen=True)
class Calls:
    metrics_ok: int
    metrics_failed: int
    other: int
    requests: list[Shape]  # what the sandbox was sent, by shape

    def problems(self, expected: int) -> list[str]:
        found = []
        if self.metrics_ok != expected:
            found.append(f"sandbox counted {self.metrics_ok:,} metric pages, not {expected:,}")
        if self.metrics_failed:
            found.append(f"{self.metrics_failed:,} failed metric calls")
        if self.other:
            found.append(f"{self.other:,} calls other than metrics")
        if sum(shape.count for shape in self.requests) != expected:
            found.append("requests other than reports: " + "; ".join(map(str, self.requests)))
        return found


def reset_calls(base: str) -> None:
    httpx.delete(f"{base}/control/stats", timeout=30).raise_for_status()
    reset_requests(base)


def read_calls(base: str) -> Calls:
    totals = httpx.get(f"{base}/control/stats", timeout=60).json()["totals"]
    metrics = totals.get("metrics", {"ok": 0, "failed": 0})
    other = sum(v["ok"] + v["failed"] for k, v in totals.items() if k != "metrics")
    return Calls(metrics["ok"], metrics["failed"], other, read_requests(base))


# ---------------------------------------------------------------------------------------------
# The bare client: the same pages at a fixed concurrency, parsed, nothing stored.


@dataclass(frozen=True)
class Bare:
    concurrency: int
    seconds: float
    rows: int
    calls: Calls
    load: float
    client_ms: float  # CPU of this process per page
    sandbox_ms: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def _window() -> tuple[date, date]:
    """The days a first sync loads: the last DAYS days, today included (UTC)."""
    today = datetime.now(UTC).date()
    return today - timedelta(days=DAYS - 1), today


async def _bare(setup: Setup, concurrency: int) -> tuple[float, int, float, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    start, end = _window()
    through = setup.through
    async with httpx.AsyncClient(base_url=setup.sandbox_url, limits=limits, timeout=60) as http:

        async def fetch(page: Page) -> int:
            """The account's report, page after page as the adapter follows them; its days."""
            response = await through.report(page.token, page.account, start, end).send(http)
            rows = 0
            while True:
                if response.status_code != 200:
                    raise AssertionError(f"bare report: HTTP {response.status_code}")
                body = response.json()
                rows += len(through.rows_of(body))
                following = through.next_page_of(body)
                if not following:
                    return rows
                response = await http.get(
                    following, headers={"Authorization": f"Bearer {page.token}"}
                )

        warm = setup.pages[: min(len(setup.pages), concurrency)]
        await asyncio.gather(*(fetch(p) for p in warm))
        reset_calls(setup.sandbox_url)
        pending = iter(setup.pages)
        rows = 0

        async def client() -> None:
            nonlocal rows
            for page in pending:
                got = await fetch(page)  # not `rows += await ...`: that reads rows first
                rows += got

        cpu, sandbox_cpu = time.process_time(), cpu_seconds(setup.sandbox_pid)
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        cpu, sandbox_cpu = time.process_time() - cpu, cpu_seconds(setup.sandbox_pid) - sandbox_cpu
        return seconds, rows, cpu, sandbox_cpu


def run_bare(setup: Setup, concurrency: int) -> Bare:
    seconds, rows, cpu, sandbox_cpu = asyncio.run(_bare(setup, concurrency))
    n = len(setup.pages)
    load = os.getloadavg()[0]
    return Bare(
        concurrency,
        seconds,
        rows,
        read_calls(setup.sandbox_url),
        load,
        cpu * 1000 / n,
        sandbox_cpu * 1000 / n,
    )


# ---------------------------------------------------------------------------------------------
# The worker: one `tether worker` from start until every connection has its days stored.


@dataclass
class WorkerRun:
    threads: int
    seconds: float | None
    rows: int
    synced: int
    startup: float  # from the start of the process to the first sync recorded
    steady: float  # from the first sync recorded to the last
    calls: Calls
    load: float
    worker_ms: float  # CPU of the worker per connection, from its first sync to its last
    sandbox_ms: float
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # not wrong, but where time may have gone
    log_tail: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def steady_rate(self) -> float:
        return self.rows / self.steady if self.steady > 0 else 0.0


def clear_namespace() -> None:
    clear_redis(REDIS_URL, f"{NAMESPACE}:*")


def run_worker(
    setup: Setup,
    threads: int,
    extra_env: dict[str, str],
    limit: float,
    folder: Path,
    bare_requests: list[Shape],
) -> WorkerRun:
    """One worker run; `bare_requests` are the bare client's, which Tether's must equal."""
    n = len(setup.pages)
    asyncio.run(reset_sync(setup.plain_url, due=True))
    reset_calls(setup.sandbox_url)
    clear_namespace()
    env = {
        **worker_base_env(
            folder=folder,
            url=setup.url,
            secret_keys=setup.secret_keys,
            redis_url=REDIS_URL,
            namespace=NAMESPACE,
            sandbox_url=setup.sandbox_url,
        ),
        "TETHER_WORKER_THREADS": str(threads),
        "TETHER_CHECK_INTERVAL_SECONDS": str(QUIET),
        "TETHER_ACCOUNTS_CHECK_INTERVAL_SECONDS": str(QUIET),
        "TETHER_SYNC_HISTORY_DAYS": str(DAYS),
        "TETHER_LOG_LEVEL": "warning",
        **setup.through.worker_env(),
        **extra_env,
    }
    log_path = folder / f"worker-{threads}.log"
    sandbox_cpu = cpu_seconds(setup.sandbox_pid)
    with log_path.open("wb") as log:
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        process = subprocess.Popen(worker_command(), env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            seen = asyncio.run(_wait_stored(setup, started, limit, process))
        finally:
            stop_process(process)
    load = os.getloadavg()[0]
    sandbox_cpu = cpu_seconds(setup.sandbox_pid) - sandbox_cpu
    run = WorkerRun(
        threads=threads,
        seconds=seen.seconds,
        rows=seen.rows,
        synced=seen.synced,
        startup=(seen.first - started_at).total_seconds() if seen.first else 0.0,
        steady=(seen.last - seen.first).total_seconds() if seen.first and seen.last else 0.0,
        calls=read_calls(setup.sandbox_url),
        load=load,
        worker_ms=seen.worker_ms,
        sandbox_ms=sandbox_cpu * 1000 / max(seen.synced, 1),
    )
    if seen.failing:
        run.notes.append(
            f"up to {seen.failing:,} connections at once had a sync error during the run, "
            f"retried after their back-off (e.g. {seen.failure!r})"
        )
    if seen.seconds is None:
        run.problems.append(f"only {seen.synced:,} of {n:,} connections synced in {limit:g} s")
    run.problems += run.calls.problems(n * setup.calls_per_connection)
    run.problems += request_problems(run.calls.requests, bare_requests)
    run.problems += asyncio.run(_verify(setup.plain_url, n))
    # Anything the worker logged besides its banner (it logs warnings and errors only): a call
    # that failed and was retried later is no PROBLEM, but it is where the time went.
    logged = log_path.read_text().splitlines()
    if run.problems or any(not line.startswith("Worker running with") for line in logged):
        run.log_tail = "\n".join(logged[-20:])
    return run


@dataclass
class Seen:
    seconds: float | None = None
    rows: int = 0
    synced: int = 0
    first: datetime | None = None
    last: datetime | None = None
    worker_ms: float = 0.0
    # Connections seen with a sync error while polling: a failed call (one that reached no
    # answer is counted by no sandbox) waits its back-off before the retry that clears it.
    failing: int = 0
    failure: str | None = None


async def _wait_stored(
    setup: Setup, started: float, limit: float, process: subprocess.Popen[bytes]
) -> Seen:
    """Poll until every connection has a sync recorded and all its days stored."""
    n = len(setup.pages)
    db = await asyncpg.connect(setup.plain_url)
    try:
        synced_sql = (
            "SELECT count(last_synced_at), min(last_synced_at), max(last_synced_at), "
            "count(sync_error), max(sync_error) FROM connections"
        )
        seen, start_cpu, start_synced = Seen(), 0.0, 0
        while True:
            seen.synced, seen.first, seen.last, failing, failure = await db.fetchrow(synced_sql)
            if failing > seen.failing:
                seen.failing, seen.failure = failing, failure
            elapsed = time.perf_counter() - started
            if seen.synced and not start_synced:
                start_cpu, start_synced = cpu_seconds(process.pid), seen.synced
            done = False
            if seen.synced >= n:
                seen.rows = int(await db.fetchval("SELECT count(*) FROM metric_days"))
                done = seen.rows >= n * DAYS
            if done or elapsed > limit or process.poll() is not None:
                break
            await asyncio.sleep(POLL_SECONDS)
        if done:
            seen.seconds = elapsed
        else:
            seen.rows = int(await db.fetchval("SELECT count(*) FROM metric_days"))
        steady = seen.synced - start_synced
        if steady > 0:
            seen.worker_ms = (cpu_seconds(process.pid) - start_cpu) * 1000 / steady
        return seen
    finally:
        await db.close()


async def _verify(plain_url: str, n: int) -> list[str]:
    db = await asyncpg.connect(plain_url)
    try:
        found = []
        rows = await db.fetchval("SELECT count(*) FROM metric_days")
        if rows != n * DAYS:
            found.append(f"{rows:,} metric rows, not {n * DAYS:,}")
        short = await db.fetchval(
            "SELECT count(*) FROM connections c WHERE (SELECT count(*) FROM metric_days m "
            f"WHERE m.connection_id = c.id) <> {DAYS}"
        )
        if short:
            found.append(f"{short:,} connections without exactly {DAYS} days")
        lost = await db.fetchval("SELECT count(*) FROM lost_days")
        if lost:
            found.append(f"{lost:,} lost days")
        failed = await db.fetchval("SELECT count(*) FROM connections WHERE sync_error IS NOT NULL")
        if failed:
            found.append(f"{failed:,} connections with a sync error")
        return found
    finally:
        await db.close()


# ---------------------------------------------------------------------------------------------
# Optional: syncs in this process under cProfile, as one worker job after another runs them.


def profile_syncs(setup: Setup, count: int, threads: int, top: int) -> tuple[float, int, str]:
    asyncio.run(reset_sync(setup.plain_url, due=False))
    clear_namespace()
    # As the worker runs them: the budgets on Redis (sync/limits.py) included.
    settings = Settings(
        database_url=setup.url,
        secret_keys=setup.secret_keys,
        sandbox_url=setup.sandbox_url,
        sandbox_stands_in_for=setup.through.key if setup.through.stands_in else "",
        sync_history_days=DAYS,
        broker_url=REDIS_URL,
        broker_namespace=NAMESPACE,
    )

    async def synced() -> tuple[float, int, cProfile.Profile]:
        async with runtime.opened(settings) as opened:
            async with opened.sessions() as session:
                ids = list((await session.scalars(select(Connection.id).limit(count))).all())
            gate = asyncio.Semaphore(threads)

            size = schedule.SYNCS.batch

            async def job(batch: list[uuid.UUID]) -> int:
                async with gate:
                    return (await service.sync_many(opened.health, batch))["synced"]

            # CPU time of this thread, not wall time: on a busy machine a wall-time profile puts
            # much of the run in `socket.send`, the moments the loop waited for a CPU after
            # waking the process it wrote to.
            profiler = cProfile.Profile(time.thread_time)
            started = time.perf_counter()
            profiler.enable()
            done = await asyncio.gather(*(job(ids[i : i + size]) for i in range(0, len(ids), size)))
            profiler.disable()
            return time.perf_counter() - started, sum(done), profiler

    seconds, done, profiler = asyncio.run(synced())
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    return seconds, done, text[text.index("   ncalls") :]


# ---------------------------------------------------------------------------------------------
# The whole run and the report.


def print_report(n: int, setup: Setup, pairs: list[tuple[WorkerRun, Bare]]) -> None:
    through = setup.through
    print(
        f"\n=== Sync throughput through {through.title}: {n:,} `{through.key}` connections x "
        f"{DAYS} days, one `tether worker` on PostgreSQL (Redis broker)"
    )
    if through.stands_in:
        print(f"(the worker ran with TETHER_SANDBOX_STANDS_IN_FOR={through.key})")
    for shape in pairs[0][1].calls.requests if pairs else ():
        print(f"Each side sent: {shape}")
    header = (
        f"{'run':<28} {'conc.':>5} {'seconds':>8} {'rows/s':>8} {'pages/s':>8} {'ratio':>6} "
        f"{'>=50%':>5} {'startup s':>9} {'steady rows/s':>13} {'load':>5}"
    )
    print(header)
    print("-" * len(header))
    for run, bare in pairs:
        print(
            f"{'bare httpx':<28} {bare.concurrency:5d} {bare.seconds:8.1f} {bare.rate:8.0f} "
            f"{n / bare.seconds:8.0f} {'':>6} {'':>5} {'':>9} {'':>13} {bare.load:5.1f}"
        )
        ratio = run.rate / bare.rate
        seconds = f"{run.seconds:8.1f}" if run.seconds else f"{'>limit':>8}"
        print(
            f"{f'worker, {run.threads} threads':<28} {run.threads * PER_JOB:5d} {seconds} "
            f"{run.rate:8.0f} {(run.synced / run.seconds if run.seconds else 0):8.0f} "
            f"{ratio:6.0%} {'yes' if ratio >= TARGET_RATIO else 'NO':>5} {run.startup:9.1f} "
            f"{run.steady_rate:13.0f} {run.load:5.1f}"
        )
    print(
        "(worker seconds: from starting `tether worker` until every connection has a "
        f"last_synced_at and\n{n * DAYS:,} metric rows are stored, polled every {POLL_SECONDS} s; "
        "steady: from the first sync to the last.\nload: 1-minute load average on "
        f"{os.cpu_count()} cores. Verified: the sandbox served exactly "
        f"{n * setup.calls_per_connection:,} report pages to\neach side and nothing else, the "
        f"same requests to both;\n{DAYS} rows per connection, no lost day, no sync error.)"
    )
    print("\nCPU ms per connection (client: this process or the worker; and the sandbox):")
    for run, bare in pairs:
        print(
            f"  bare httpx:           client {bare.client_ms:6.2f}  sandbox {bare.sandbox_ms:6.2f}"
        )
        print(
            f"  worker, {run.threads} threads:   client {run.worker_ms:6.2f}  "
            f"sandbox {run.sandbox_ms:6.2f}"
        )
    for run, bare in pairs:
        for problem in run.problems:
            print(f"  PROBLEM, worker with {run.threads} threads: {problem}")
        for note in run.notes:
            print(f"  NOTE, worker with {run.threads} threads: {note}")
        if run.log_tail:
            print("  last lines of the worker's log:\n    " + run.log_tail.replace("\n", "\n    "))
        for problem in bare.calls.problems(n * setup.calls_per_connection):
            print(f"  PROBLEM, bare client: {problem}")
        if bare.rows != n * DAYS:
            print(f"  PROBLEM, bare client: {bare.rows:,} rows, not {n * DAYS:,}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=2_000)
    parser.add_argument("--threads", type=int, nargs="+", default=[8])
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help=f"bare client's concurrency (default: the worker's, threads x {PER_JOB})",
    )
    parser.add_argument("--worker-env", action="append", default=[], metavar="TETHER_X=V")
    parser.add_argument(
        "--provider",
        choices=sorted(THROUGH),
        default="sandbox",
        help="the provider the reports come through: the sandbox's own API, or the sandbox "
        "standing in for Google Ads or Meta in their dialects",
    )
    parser.add_argument("--limit", type=float, default=600.0, help="seconds per worker run")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also sync N connections in this process under cProfile and print the hot spots",
    )
    args = parser.parse_args(argv)
    extra_env = dict(item.split("=", 1) for item in args.worker_env)
    if any(not k.startswith("TETHER_") for k in extra_env):
        parser.error("--worker-env takes TETHER_NAME=value")
    n = args.connections
    through = THROUGH[args.provider]
    started = time.perf_counter()
    print(f"Load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")
    print(f"Provider: {through.key}, through {through.title}.")
    name = f"tether_bench_sync_{os.getpid()}"
    plain_url, url = database_urls(name)
    secret_keys = new_keyring()
    with throwaway_database(name), contextlib.ExitStack() as cleanup:
        cleanup.callback(clear_namespace)
        with tempfile.TemporaryDirectory(prefix="tether-bench-") as folder:
            print(f"Seeding {n:,} connections...", flush=True)
            migrate.upgrade(url)
            admin = asyncio.run(create_admin(url))
            organization_id, member_id = admin.organization_id, admin.member_id
            serving = sandbox_serving(url, secret_keys, organization_id, member_id, n, through.key)
            with serving as (sandbox, sandbox_pid):
                pages = asyncio.run(connect_accounts(url, organization_id, through.key))
                if len(pages) != n:
                    raise AssertionError(f"{len(pages)} connections for {n} users")
                setup = Setup(
                    name, url, plain_url, secret_keys, sandbox, sandbox_pid, pages, through
                )
                print(f"Seeded in {time.perf_counter() - started:.1f} s.", flush=True)
                pairs = []
                for threads in args.threads:
                    concurrency = args.concurrency or threads * PER_JOB
                    print(f"Bare client, concurrency {concurrency}...", flush=True)
                    bare = run_bare(setup, concurrency)
                    print(f"Worker, {threads} threads...", flush=True)
                    worker = run_worker(
                        setup, threads, extra_env, args.limit, Path(folder), bare.calls.requests
                    )
                    pairs.append((worker, bare))
                profiled = None
                if args.profile:
                    count = min(args.profile, n)
                    print(f"Profiling {count:,} syncs in this process...", flush=True)
                    profiled = profile_syncs(setup, count, args.threads[0], 30)
            print_report(n, setup, pairs)
            if profiled is not None:
                seconds, done, text = profiled
                print(
                    f"\n=== cProfile: {done:,} syncs in this process as one worker with "
                    f"{args.threads[0]} threads, {done * DAYS / seconds:.0f} rows/s under the "
                    f"profiler; the top 30 by own CPU time:\n{text}"
                )
    print(f"Total time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
