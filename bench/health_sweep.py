"""How many probes a second does one Tether worker make, next to a bare HTTP client?

Connects 20,000 sandbox users with real grants to one organization on PostgreSQL, makes every
authorization due, starts one `tether worker` (Redis broker, scheduler included) and times it
until every authorization has been checked. In the same run, a bare `httpx.AsyncClient` load
generator sends the same number of the probe's request (`GET /api/v1/me` on the sandbox's own
API) with the same tokens to the same sandbox. The sandbox runs in its own process, so it shares
the GIL with neither side. With `--provider google_ads` or `meta_ads` the authorizations are
that provider's and the worker runs with TETHER_SANDBOX_STANDS_IN_FOR=<provider>: both sides
then send that platform's probe to the sandbox's dialect of it.

Target: the engine makes at least 60% of the bare client's requests per second.

    python bench/health_sweep.py [--authorizations 20000] [--threads 8 1] [--concurrency N]
        [--provider {sandbox,google_ads,meta_ads}]
        [--worker-env TETHER_SCHEDULER_BATCH=20000] [--profile 2000]

PostgreSQL is reached at TETHER_BENCH_POSTGRES_URL (default postgres@127.0.0.1:5432/test); the
benchmark creates its own database there and drops it at the end. Redis is TETHER_BENCH_REDIS_URL
(default 127.0.0.1:6379/0); the worker's broker keys live under a namespace of this run's own,
deleted at the end.
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
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import select

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
from tether.health import checks  # noqa: E402
from tether.models import Authorization  # noqa: E402
from tether.sandbox import SandboxState, create_app  # noqa: E402

REDIS_URL = os.environ.get("TETHER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
NAMESPACE = f"tether_bench_health_{os.getpid()}"  # TETHER_BROKER_NAMESPACE: our keys only
TARGET_RATIO = 0.60
POLL_SECONDS = 0.2
# What one `health.check_authorizations` job runs at once (`TETHER_CHECK_CONCURRENCY`'s default;
# --worker-env can change it), and the connection pool of the worker's httpx client (its default).
CHECKS_PER_JOB: int = Settings.model_fields["check_concurrency"].default
ENGINE_HTTP_POOL = 100
# Settings for the worker: every check is a probe only, and comes once.


@dataclass(frozen=True)
class Setup:
    """The database, the key ring and the sandbox every run shares."""

    database: str
    url: str  # async SQLAlchemy URL of the benchmark database
    plain_url: str  # the same for asyncpg
    secret_keys: str
    sandbox_url: str
    sandbox_pid: int
    tokens: list[str]
    through: Through  # the provider the probes go through


# ---------------------------------------------------------------------------------------------
# The sandbox, in its own process: it mints the fleet into its in-memory state (and writes the
# matching authorizations into Tether's database with the fixture), then serves until told.


def sandbox_process(
    pipe: Connection,
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
    # Any message, or the parent going away, stops it.
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
        await connect_fleet(
            create_sessionmaker(engine),
            state,
            organization_id=organization_id,
            connector_id=member_id,
            count=count,
            next_check_at=datetime.now(UTC),
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
# Seeding: database, organization, fleet, and the tokens read back through the key ring.


async def read_tokens(url: str) -> list[str]:
    """Every authorization's access token, opened with the benchmark's key ring."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            sealed = (await session.scalars(select(Authorization.access_token))).all()
        return [vault.reveal(s) for s in sealed if s is not None]
    finally:
        await engine.dispose()


async def make_all_due(plain_url: str) -> None:
    db = await asyncpg.connect(plain_url)
    try:
        await db.execute(
            "UPDATE authorizations SET last_checked_at = NULL, next_check_at = now(), "
            "check_failures = 0, failing_since = NULL"
        )
        await db.execute("VACUUM (ANALYZE) authorizations")
    finally:
        await db.close()


# ---------------------------------------------------------------------------------------------
# The sandbox's own count of calls: the honest measure of what each side did.


@dataclass(frozen=True)
class Calls:
    kind: str  # what the sandbox counts a probe as: `me`, or `accounts` in the dialects
    probes_ok: int
    probes_failed: int
    other: int  # any other kind of call (metrics, refreshes, ...): there should be none
    users_probed_once: int
    requests: list[Shape]  # what the sandbox was sent, by shape

    def problems(self, expected: int) -> list[str]:
        found = []
        kind = f"`{self.kind}` calls"
        if self.probes_ok != expected:
            found.append(f"sandbox counted {self.probes_ok:,} successful {kind}, not {expected:,}")
        if self.probes_failed:
            found.append(f"{self.probes_failed:,} failed {kind}")
        if self.other:
            found.append(f"{self.other:,} calls other than {kind}")
        if self.users_probed_once != expected:
            found.append(f"{self.users_probed_once:,} users probed exactly once, not {expected:,}")
        if sum(shape.count for shape in self.requests) != expected:
            found.append("requests other than the probes: " + "; ".join(map(str, self.requests)))
        return found


def reset_calls(base: str) -> None:
    httpx.delete(f"{base}/control/stats", timeout=30).raise_for_status()
    reset_requests(base)


def read_calls(base: str, kind: str) -> Calls:
    stats = httpx.get(f"{base}/control/stats", timeout=60).json()
    totals = stats["totals"]
    other = sum(v["ok"] + v["failed"] for k, v in totals.items() if k != kind)
    once = sum(
        1
        for name, kinds in stats["users"].items()
        if name.startswith("fleet-") and kinds[kind] == {"ok": 1, "failed": 0}
    )
    probes = totals[kind]
    return Calls(kind, probes["ok"], probes["failed"], other, once, read_requests(base))


# ---------------------------------------------------------------------------------------------
# The bare client: N requests at a fixed concurrency, nothing else.


@dataclass(frozen=True)
class Bare:
    concurrency: int
    seconds: float
    calls: Calls
    load: float  # the machine's 1-minute load average right after
    client_ms: float  # CPU of this process per request
    sandbox_ms: float  # CPU of the sandbox per request

    @property
    def rate(self) -> float:
        return self.calls.probes_ok / self.seconds


async def _bare(setup: Setup, concurrency: int) -> tuple[float, float, float]:
    """Seconds for every token's probe, and the CPU seconds of this process and the sandbox."""
    base, tokens, probe = setup.sandbox_url, setup.tokens, setup.through.probe
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        # Warm up: open the connections (not counted; the stats are reset afterwards).
        warm = tokens[: min(len(tokens), concurrency * 2)]
        await asyncio.gather(*(probe(t).send(http) for t in warm))
        reset_calls(base)
        pending = iter(tokens)

        async def client() -> None:
            for token in pending:
                response = await probe(token).send(http)
                if response.status_code != 200:
                    raise AssertionError(f"bare probe: HTTP {response.status_code}")

        cpu, sandbox_cpu = time.process_time(), cpu_seconds(setup.sandbox_pid)
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        cpu, sandbox_cpu = time.process_time() - cpu, cpu_seconds(setup.sandbox_pid) - sandbox_cpu
        return seconds, cpu, sandbox_cpu


def run_bare(setup: Setup, concurrency: int) -> Bare:
    seconds, cpu, sandbox_cpu = asyncio.run(_bare(setup, concurrency))
    n = len(setup.tokens)
    load = os.getloadavg()[0]
    calls = read_calls(setup.sandbox_url, setup.through.probe_kind)
    return Bare(concurrency, seconds, calls, load, cpu * 1000 / n, sandbox_cpu * 1000 / n)


# ---------------------------------------------------------------------------------------------
# The engine: one `tether worker` process from start until every authorization was checked.


@dataclass
class EngineRun:
    threads: int
    env: dict[str, str]
    seconds: float | None  # None: not every authorization was checked in time
    checked: int
    startup: float  # from the start of the process to the first recorded check
    steady: float  # from the first recorded check to the last
    calls: Calls
    active: int
    load: float  # the machine's 1-minute load average right after
    worker_ms: float  # CPU of the worker process per check, from its first check to its last
    sandbox_ms: float  # CPU of the sandbox per check
    database: "DbCounters"  # what PostgreSQL counted for the run, per check
    problems: list[str] = field(default_factory=list)
    log_tail: str = ""

    @property
    def rate(self) -> float:
        return self.checked / self.seconds if self.seconds else 0.0

    @property
    def steady_rate(self) -> float:
        return (self.checked - 1) / self.steady if self.steady > 0 else 0.0

    @property
    def concurrency(self) -> int:
        return self.threads * CHECKS_PER_JOB


def clear_namespace() -> None:
    clear_redis(REDIS_URL, f"{NAMESPACE}:*")


def run_engine(
    setup: Setup,
    threads: int,
    extra_env: dict[str, str],
    limit: float,
    folder: Path,
    bare_requests: list[Shape],
) -> EngineRun:
    """One worker run; `bare_requests` are the bare client's, which Tether's must equal."""
    n = len(setup.tokens)
    asyncio.run(make_all_due(setup.plain_url))
    reset_calls(setup.sandbox_url)
    clear_namespace()
    before = asyncio.run(_db_counters(setup.plain_url, setup.database))
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
        "TETHER_LOG_LEVEL": "warning",
        **setup.through.worker_env(),
        **extra_env,
    }
    log_path = folder / f"worker-{threads}-{time.monotonic_ns()}.log"
    with log_path.open("w") as log:
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        process = subprocess.Popen(
            worker_command(), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder
        )
        sandbox_cpu = cpu_seconds(setup.sandbox_pid)
        try:
            seen = asyncio.run(_wait_checked(setup, started, limit, process))
        finally:
            stop_process(process)
        sandbox_cpu = cpu_seconds(setup.sandbox_pid) - sandbox_cpu
    load = os.getloadavg()[0]
    time.sleep(1.0)  # the worker's backends have exited and flushed their statistics
    after = asyncio.run(_db_counters(setup.plain_url, setup.database))
    # Less the polling's transactions, and the sessions of the polling and of these readings.
    database = after.minus(before, DbCounters(seen.polls + 2, 2, 0.0)).per(max(seen.checked, 1))
    active = asyncio.run(_count_active(setup.plain_url))
    calls = read_calls(setup.sandbox_url, setup.through.probe_kind)
    checked = max(seen.checked, 1)
    run = EngineRun(
        threads=threads,
        env=extra_env,
        seconds=seen.seconds,
        checked=seen.checked,
        startup=(seen.first - started_at).total_seconds() if seen.first else 0.0,
        steady=(seen.last - seen.first).total_seconds() if seen.first and seen.last else 0.0,
        calls=calls,
        active=active,
        load=load,
        worker_ms=seen.worker_ms,
        sandbox_ms=sandbox_cpu * 1000 / checked,
        database=database,
    )
    if seen.seconds is None:
        run.problems.append(f"only {seen.checked:,} of {n:,} checked within {limit:g} s")
    run.problems += calls.problems(n)
    run.problems += request_problems(calls.requests, bare_requests)
    if active != n:
        run.problems.append(f"{active:,} of {n:,} authorizations active afterwards")
    # Anything the worker logged besides its banner (it logs warnings and errors only): a call
    # that failed and was retried later is no PROBLEM, but it is where the time went.
    logged = log_path.read_text().splitlines()
    if run.problems or any(not line.startswith("Worker running with") for line in logged):
        run.log_tail = "\n".join(logged[-20:])
    return run


@dataclass
class Seen:
    """What polling the database saw of an engine run."""

    seconds: float | None = None  # None: `limit` passed first
    checked: int = 0
    first: datetime | None = None
    last: datetime | None = None
    polls: int = 0
    worker_ms: float = 0.0


async def _wait_checked(
    setup: Setup, started: float, limit: float, process: subprocess.Popen[bytes]
) -> Seen:
    """Poll until every authorization has a last check; the worker's CPU is read at the first
    poll that finds checks and at the end, so that its start-up is left out."""
    n = len(setup.tokens)
    db = await asyncpg.connect(setup.plain_url)
    try:
        sql = (
            "SELECT count(last_checked_at), min(last_checked_at), max(last_checked_at) "
            "FROM authorizations"
        )
        seen, start_cpu, start_checked = Seen(), 0.0, 0
        while True:
            seen.checked, seen.first, seen.last = await db.fetchrow(sql)
            seen.polls += 1
            elapsed = time.perf_counter() - started
            if seen.checked and not start_checked:
                start_cpu, start_checked = cpu_seconds(process.pid), seen.checked
            done = seen.checked >= n
            if done or elapsed > limit or process.poll() is not None:
                break
            await asyncio.sleep(POLL_SECONDS)
        if done:
            seen.seconds = elapsed
        steady = seen.checked - start_checked
        if steady > 0:
            seen.worker_ms = (cpu_seconds(process.pid) - start_cpu) * 1000 / steady
        return seen
    finally:
        await db.close()


@dataclass(frozen=True)
class DbCounters:
    """PostgreSQL's statistics of the benchmark database (they count ended sessions too)."""

    transactions: float  # committed or rolled back
    sessions: float  # connections opened
    active_ms: float  # time backends spent running statements

    def minus(self, *others: "DbCounters") -> "DbCounters":
        return DbCounters(
            self.transactions - sum(o.transactions for o in others),
            self.sessions - sum(o.sessions for o in others),
            self.active_ms - sum(o.active_ms for o in others),
        )

    def per(self, count: int) -> "DbCounters":
        return DbCounters(self.transactions / count, self.sessions / count, self.active_ms / count)


async def _db_counters(plain_url: str, database: str) -> DbCounters:
    db = await asyncpg.connect(plain_url)
    try:
        row = await db.fetchrow(
            "SELECT xact_commit + xact_rollback, sessions, active_time FROM pg_stat_database "
            "WHERE datname = $1",
            database,
        )
        return DbCounters(float(row[0]), float(row[1]), float(row[2]))
    finally:
        await db.close()


async def _count_active(plain_url: str) -> int:
    db = await asyncpg.connect(plain_url)
    try:
        return int(await db.fetchval("SELECT count(*) FROM authorizations WHERE status = 'active'"))
    finally:
        await db.close()


# ---------------------------------------------------------------------------------------------
# Optional: the same checks in this process under cProfile, to see where the time goes.


def profile_checks(setup: Setup, count: int, threads: int, top: int) -> tuple[float, int, str]:
    """`count` checks in this process, as one worker with `threads` threads runs them."""
    asyncio.run(make_all_due(setup.plain_url))
    reset_calls(setup.sandbox_url)
    settings = Settings(
        database_url=setup.url,
        secret_keys=setup.secret_keys,
        sandbox_url=setup.sandbox_url,
        sandbox_stands_in_for=setup.through.key if setup.through.stands_in else "",
        check_interval_seconds=QUIET,
        accounts_check_interval_seconds=QUIET,
    )

    async def checked() -> tuple[float, cProfile.Profile]:
        async with runtime.opened(settings) as opened:
            async with opened.sessions() as session:
                stmt = select(Authorization.id).limit(count)
                ids = list((await session.scalars(stmt)).all())
            # As the worker does it: jobs of 50 ids, `threads` of them at once on one event loop
            # (Dramatiq's AsyncIO middleware runs every async actor on a single loop thread).
            gate = asyncio.Semaphore(threads)

            async def job(batch: list[uuid.UUID]) -> None:
                async with gate:
                    await checks.check_many(opened.health, batch)

            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            await asyncio.gather(*(job(ids[i : i + 50]) for i in range(0, len(ids), 50)))
            profiler.disable()
            return time.perf_counter() - started, profiler

    seconds, profiler = asyncio.run(checked())
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    calls = read_calls(setup.sandbox_url, setup.through.probe_kind)
    return seconds, calls.probes_ok, text[text.index("   ncalls") :]


# ---------------------------------------------------------------------------------------------
# The whole run and the report.


def _verdict(ratio: float) -> str:
    return "yes" if ratio >= TARGET_RATIO else "NO"


def print_report(n: int, through: Through, pairs: list[tuple[EngineRun, Bare]]) -> None:
    print(
        f"\n=== Health probes through {through.title}: {n:,} `{through.key}` authorizations, "
        "one `tether worker` on PostgreSQL"
    )
    if through.stands_in:
        print(f"(the worker ran with TETHER_SANDBOX_STANDS_IN_FOR={through.key})")
    for shape in pairs[0][1].calls.requests if pairs else ():
        print(f"Each side sent: {shape}")
    print(
        f"Engine concurrency = worker threads x {CHECKS_PER_JOB} checks per job (its httpx pool "
        f"holds at most {ENGINE_HTTP_POOL} connections);\nthe bare client runs at the same "
        "concurrency, right before the engine."
    )
    names = [
        f"TETHER_WORKER_THREADS={run.threads}"
        + "".join(f" {k.removeprefix('TETHER_')}={v}" for k, v in run.env.items())
        for run, _ in pairs
    ]
    width = max(26, *(len(name) for name in names))
    header = (
        f"{'worker setting':<{width}} {'conc.':>5} {'engine s':>8} {'engine/s':>8} {'bare s':>6} "
        f"{'bare/s':>6} {'ratio':>5} {'>=60%':>5}  {'startup s':>9} {'steady/s':>8} "
        f"{'load':>4}"
    )
    print(header)
    print("-" * len(header))
    for name, (run, bare) in zip(names, pairs, strict=True):
        ratio = run.rate / bare.rate
        seconds = f"{run.seconds:8.1f}" if run.seconds else f"{'>limit':>8}"
        print(
            f"{name:<{width}} {run.concurrency:5d} {seconds} {run.rate:8.0f} {bare.seconds:6.1f} "
            f"{bare.rate:6.0f} {ratio:5.0%} {_verdict(ratio):>5}  {run.startup:9.1f} "
            f"{run.steady_rate:8.0f} {max(run.load, bare.load):4.1f}"
        )
    print(
        "(engine s: from starting `tether worker` until every authorization has a "
        "last_checked_at,\n polled every 0.2 s; startup: to the first check; steady/s: from the "
        "first check to the last;\n load: "
        f"1-minute load average ({os.cpu_count()} cores), above the core count\n other processes "
        "competed for the CPU. Both sides are verified by the sandbox's own counts:\n "
        f"`{through.probe_kind}` ok = N, none failed, no other calls, every user probed exactly "
        "once, and\n Tether's requests the same as the bare client's.)"
    )
    print(
        "\nCost per probe, which other processes on the machine hardly change: CPU ms of the "
        "client process\n(bare: this one; engine: the worker, from its first check to its last) "
        "and of the sandbox;\none-core rate = 1000 / client ms, what the process would do with a "
        "core of its own (it runs\nPython on one core at a time); PostgreSQL's own counts for the "
        "run: transactions, connections\nopened and ms spent running statements, per probe."
    )
    header = (
        f"{'client':<34} {'client':>6} {'sandbox':>7} {'one-core rate':>13} {'engine/bare':>11} "
        f"{'xacts':>5} {'conns':>5} {'SQL ms':>6}"
    )
    print(header)
    print("-" * len(header))
    for run, bare in pairs:
        print(
            f"{f'bare httpx, concurrency {bare.concurrency}':<34} {bare.client_ms:6.2f} "
            f"{bare.sandbox_ms:7.2f} {1000 / bare.client_ms:11.0f}/s"
        )
        if run.worker_ms:
            name, db = f"engine, {run.threads} worker threads", run.database
            print(
                f"{name:<34} {run.worker_ms:6.2f} {run.sandbox_ms:7.2f} "
                f"{1000 / run.worker_ms:11.0f}/s {bare.client_ms / run.worker_ms:11.0%} "
                f"{db.transactions:5.1f} {db.sessions:5.2f} {db.active_ms:6.2f}"
            )
    for run, bare in pairs:
        for problem in run.problems:
            print(f"  PROBLEM, engine with {run.threads} threads: {problem}")
        if run.log_tail:
            print("  last lines of the worker's log:\n    " + run.log_tail.replace("\n", "\n    "))
        for problem in bare.calls.problems(n):
            print(f"  PROBLEM, bare client at {bare.concurrency}: {problem}")
    good = [(run.rate / bare.rate, run, bare) for run, bare in pairs if not run.problems]
    if good:
        ratio, run, bare = max(good, key=lambda item: item[0])
        print(
            f"\nBest ratio: {run.threads} worker threads, {run.rate:.0f} probes/s = {ratio:.0%} "
            f"of the bare client's {bare.rate:.0f}/s at concurrency {bare.concurrency}: "
            f"target (>= 60%) {'met' if ratio >= TARGET_RATIO else 'missed'}."
        )
        fastest = max(good, key=lambda item: item[1].rate)[1]
        top = max((b for _, b in pairs), key=lambda b: b.rate)
        print(
            f"Fastest engine {fastest.rate:.0f}/s ({fastest.threads} threads) against the "
            f"fastest bare client {top.rate:.0f}/s (concurrency {top.concurrency}): "
            f"{fastest.rate / top.rate:.0%}."
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--authorizations", type=int, default=20_000)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[8, 1], help="TETHER_WORKER_THREADS to try"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help=f"bare client's concurrency (default: the engine's, threads x {CHECKS_PER_JOB})",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="TETHER_X=V",
        help="extra setting for every worker run (repeatable)",
    )
    parser.add_argument(
        "--provider",
        choices=sorted(THROUGH),
        default="sandbox",
        help="the provider the probes go through: the sandbox's own API, or the sandbox "
        "standing in for Google Ads or Meta in their dialects",
    )
    parser.add_argument("--limit", type=float, default=300.0, help="seconds per engine run")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also run N checks in this process under cProfile and print the hot spots",
    )
    args = parser.parse_args(argv)
    extra_env = dict(item.split("=", 1) for item in args.worker_env)
    if any(not k.startswith("TETHER_") for k in extra_env):
        parser.error("--worker-env takes TETHER_NAME=value")
    n = args.authorizations
    through = THROUGH[args.provider]
    started = time.perf_counter()
    print(f"Load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")
    print(f"Provider: {through.key}, through {through.title}.")
    name = f"tether_bench_health_{os.getpid()}"
    plain_url, url = database_urls(name)
    secret_keys = new_keyring()
    with throwaway_database(name), contextlib.ExitStack() as cleanup:
        cleanup.callback(clear_namespace)
        with tempfile.TemporaryDirectory(prefix="tether-bench-") as folder:
            print(f"Seeding {n:,} authorizations...", flush=True)
            migrate.upgrade(url)
            admin = asyncio.run(create_admin(url))
            organization_id, member_id = admin.organization_id, admin.member_id
            serving = sandbox_serving(url, secret_keys, organization_id, member_id, n, through.key)
            with serving as (sandbox, sandbox_pid):
                tokens = asyncio.run(read_tokens(url))
                if len(tokens) != n:
                    raise AssertionError(f"{len(tokens)} tokens for {n} authorizations")
                setup = Setup(
                    name, url, plain_url, secret_keys, sandbox, sandbox_pid, tokens, through
                )
                print(f"Seeded in {time.perf_counter() - started:.1f} s.", flush=True)
                pairs = []
                for threads in args.threads:
                    concurrency = args.concurrency or threads * CHECKS_PER_JOB
                    print(f"Bare client, concurrency {concurrency}...", flush=True)
                    bare = run_bare(setup, concurrency)
                    print(f"Engine, {threads} worker threads...", flush=True)
                    engine = run_engine(
                        setup, threads, extra_env, args.limit, Path(folder), bare.calls.requests
                    )
                    pairs.append((engine, bare))
                profiled = None
                if args.profile:
                    count = min(args.profile, n)
                    print(f"Profiling {count:,} checks in this process...", flush=True)
                    profiled = profile_checks(setup, count, args.threads[0], 25)
            print_report(n, through, pairs)
            if profiled is not None:
                seconds, ok, text = profiled
                print(
                    f"\n=== cProfile: {ok:,} checks in this process as one worker with "
                    f"{args.threads[0]} threads, {ok / seconds:.0f}/s under the profiler; "
                    f"the top 25 by own time:\n{text}"
                )
    print(f"Total time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
