"""Does Tether lose or double anything when a worker dies, a provider goes down, or its broker
and mail server do?

Three scenarios, each printing its counts and a last line PASS or MISS against the figures
expected of it:

crash    SIGKILL a worker at random points of refreshes with rotation, `--kills` times (1,000),
         on PostgreSQL (the machinery of tests/health/test_crash_safety.py). Expected: 0 grants
         lost, 0 false lapses, 0 refreshes failed.
outage   One provider (the sandbox's fault switch) down for `--outage-minutes` (60) of simulated
         time, every authorization of a fleet of `--fleet` (500) checked every minute; the clock
         is moved with time-machine, nothing sleeps. Expected: 0 needs_reconnect, one provider
         incident opened and closed, 0 per-authorization alarms.
broker   A lapse storm (bench/lapse_storm.py's), during which this script's own Redis and SMTP
         server are stopped for `--outage-seconds` (600), then brought back. Expected: every
         in-app notification, email and webhook delivered once: 0 lost, 0 duplicates.

    python bench/reliability.py [--scenario crash|outage|broker ...] [--kills 1000] [--seed N]
        [--fleet 500] [--outage-minutes 60] [--outage-seconds 600] [--storm-authorizations 500]

It exits non-zero only when the rig itself failed (a scenario that could not run), not on a
MISS: like the other benchmarks it reports, it does not gate. PostgreSQL is reached at
TETHER_BENCH_POSTGRES_URL (default postgres@127.0.0.1:5432/test); each scenario creates its own
database there and drops it at the end. The broker scenario starts its own `redis-server` on a
free port (never the shared one) and its own aiosmtpd server.
"""

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import redis
import time_machine
from aiosmtpd.controller import Controller

from _harness import database_urls, new_keyring, retrying, stop_process, throwaway_database

# The crash machinery and the fleet live with the tests; the repository root makes them
# importable (and lets the stand-in worker run as `python -m tests.health.refresh_loop`).
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fixtures.builders import create_org  # noqa: E402
from tests.fixtures.fleet import connect_fleet  # noqa: E402
from tests.fixtures.server import serve  # noqa: E402
from tests.health import crashes  # noqa: E402

import lapse_storm  # noqa: E402
from tether import migrate  # noqa: E402
from tether.config import Settings  # noqa: E402
from tether.db import create_engine, create_sessionmaker, utcnow  # noqa: E402
from tether.health import checks  # noqa: E402
from tether.models import Status  # noqa: E402
from tether.runtime import opened  # noqa: E402
from tether.sandbox import SandboxState, create_app  # noqa: E402

HOST = "127.0.0.1"
SCENARIOS = ("crash", "outage", "broker")
RESTART_SECONDS = 5.0  # the least time between two starts of an exited worker


class RigError(RuntimeError):
    """The scenario could not run as designed: its figures say nothing about Tether."""


@dataclass
class Verdict:
    scenario: str
    passed: bool | None  # None: the rig failed
    summary: str

    def line(self) -> str:
        word = {True: "PASS", False: "MISS", None: "ERROR"}[self.passed]
        return f"{word}  {self.scenario}: {self.summary}"


def _elapsed(started: float) -> str:
    seconds = time.perf_counter() - started
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


@contextlib.contextmanager
def _scenario(kind: str) -> Iterator[tuple[str, str, str, Path]]:
    """What every scenario starts from: a migrated throwaway PostgreSQL database (its plain and
    Tether URLs), a new key ring, and a data folder; all gone afterwards."""
    name = f"tether_bench_{kind}_{os.getpid()}"
    plain_url, url = database_urls(name)
    secret_keys = new_keyring()
    with (
        throwaway_database(name, retry_drop=True),
        tempfile.TemporaryDirectory(prefix=f"tether-{kind}-") as folder,
    ):
        migrate.upgrade(url)
        yield plain_url, url, secret_keys, Path(folder)


# ---------------------------------------------------------------------------------------------
# crash: a thousand kills of a worker refreshing with rotation.


def run_crash(args: argparse.Namespace) -> Verdict:
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    print(
        f"\n=== crash: {args.kills:,} SIGKILLs of a worker refreshing (rotation, reuse "
        f"detection) and checking {crashes.AUTHORIZATIONS} authorizations, on PostgreSQL; "
        f"seed {seed}",
        flush=True,
    )
    started = time.perf_counter()
    with _scenario("crash") as (_, url, secret_keys, folder):
        tally, final = asyncio.run(_crash(args.kills, url, secret_keys, folder, seed))
    wall = time.perf_counter() - started
    lost = final["revoked"] + tally.stale
    false_lapses = tally.not_active + final["not_active"]
    failed = tally.failed + final["refresh_failed"]
    rows = [
        ("kills", tally.kills),
        ("kills inside the critical window (a rotated grant not yet stored)", tally.in_window),
        ("grants caught in grace by a kill (summed over kills)", tally.in_grace),
        ("kills that left a refresh lease behind", tally.held_leases),
        ("grants lost (revoked by the sandbox at the end)", final["revoked"]),
        ("kills after which Tether held a replaced refresh token", tally.stale),
        ("false lapses (not active after a kill, or at the end)", false_lapses),
        ("refreshes failed (Tether's after a kill, and the sandbox's count)", failed),
        ("recovered tokens not the newest, or grace left open", tally.not_newest),
        ("probes the sandbox refused", final["me_failed"]),
    ]
    for label, count in rows:
        print(f"  {label:<70} {count:>7,}")
    rate = tally.kills / wall * 60 if wall else 0.0
    print(f"  wall time {_elapsed(started)} ({rate:.0f} kills a minute)")
    if tally.first_problem:
        print(f"  first problem: {tally.first_problem}")
    passed = lost == 0 and false_lapses == 0 and failed == 0 and tally.not_newest == 0
    passed = passed and final["me_failed"] == 0
    if tally.in_window == 0:
        passed = False
        print("  no kill landed in the critical window: nothing was tested")
    return Verdict(
        "crash",
        passed,
        f"{tally.kills:,} kills ({tally.in_window:,} in the window), {lost} grants lost, "
        f"{false_lapses} false lapses, {failed} refreshes failed (expected 0, 0, 0); seed {seed}",
    )


async def _crash(
    kills: int, url: str, secret_keys: str, folder: Path, seed: int
) -> tuple[crashes.Tally, dict[str, int]]:
    tally = crashes.Tally()
    async with crashes.sandbox_world(url) as world:
        crasher = crashes.Crasher(world, url, secret_keys, folder, seed)
        started = time.perf_counter()
        try:
            async with crasher.running():
                for _ in range(kills):
                    tally.add(await crasher.kill_once())
                    if tally.kills % 50 == 0:
                        rate = tally.kills / (time.perf_counter() - started) * 60
                        print(
                            f"  {tally.kills:5,} kills, {tally.in_window:,} in the window, "
                            f"{tally.stale + tally.failed + tally.not_active} problems "
                            f"({rate:.0f} a minute)",
                            flush=True,
                        )
        except crashes.CrashRigError as error:
            raise RigError(f"{error} (after {tally.kills} kills)\n{crasher.logs_tail()}") from None
        statuses = await world.statuses()
        final = {
            "revoked": world.revoked_grants(),
            "not_active": sum(n for s, n in statuses.items() if s != Status.ACTIVE),
            "refresh_failed": world.failed_calls("token_refresh"),
            "me_failed": world.failed_calls("me"),
        }
    return tally, final


# ---------------------------------------------------------------------------------------------
# outage: a provider down for an hour of simulated time, checked every minute.


def run_outage(args: argparse.Namespace) -> Verdict:
    print(
        f"\n=== outage: the sandbox down for {args.outage_minutes} minutes of simulated time, "
        f"{args.fleet:,} authorizations checked every minute, on PostgreSQL",
        flush=True,
    )
    started = time.perf_counter()
    with _scenario("outage") as (plain_url, url, secret_keys, folder):
        seen = asyncio.run(_outage(args, url, plain_url, secret_keys, folder))
    print(f"  wall time {_elapsed(started)} for {seen.checks:,} checks")
    for label, count in (
        ("needs_reconnect at any minute (most seen)", seen.most_needs_reconnect),
        ("provider incidents opened", seen.provider_opened),
        ("provider incidents closed (recovered)", seen.provider_closed),
        ("per-authorization alarms (incidents on an authorization)", seen.alarms),
        ("checks that raised an error (their observation not recorded)", seen.outcomes["error"]),
        ("in-app notifications (of the provider incident)", seen.notifications),
        ("authorizations active after the outage", seen.active_after),
    ):
        print(f"  {label:<60} {count:>7,}")
    print(f"  minute of the provider incident's opening: {seen.opened_at_minute}")
    print(f"  check outcomes: {', '.join(f'{k} {n:,}' for k, n in sorted(seen.outcomes.items()))}")
    passed = (
        seen.most_needs_reconnect == 0
        and seen.provider_opened == 1
        and seen.provider_closed == 1
        and seen.alarms == 0
        and seen.active_after == args.fleet
    )
    return Verdict(
        "outage",
        passed,
        f"{seen.most_needs_reconnect} needs_reconnect, provider incidents "
        f"{seen.provider_opened}/{seen.provider_closed} opened/closed, {seen.alarms} alarms, "
        f"{seen.active_after:,}/{args.fleet:,} active after (expected 0, 1/1, 0, all); "
        f"{seen.outcomes['error']} checks raised",
    )


@dataclass
class OutageSeen:
    checks: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    most_needs_reconnect: int = 0
    provider_opened: int = 0
    provider_closed: int = 0
    opened_at_minute: int | None = None
    alarms: int = 0
    notifications: int = 0
    active_after: int = 0


async def _outage(
    args: argparse.Namespace, url: str, plain_url: str, secret_keys: str, folder: Path
) -> OutageSeen:
    """Minute 0: every authorization checked while the sandbox is up. Then the switch: down
    for `outage_minutes` minutes, checked at every minute of it and once more at its last
    instant (a failure that started at minute 1 has then lasted the whole hour: the point at
    which a per-authorization alarm would fire), then up again and checked twice."""
    seen = OutageSeen()
    state = SandboxState.seeded()
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        with serve(create_app(state)) as sandbox_url:
            org = await create_org(sessions, "http://127.0.0.1")
            await org.api.aclose()
            members = await connect_fleet(
                sessions, state, organization_id=org.id, connector_id=org.admin_id, count=args.fleet
            )
            ids = [m.authorization_id for m in members]
            settings = Settings(
                data_dir=folder, database_url=url, secret_keys=secret_keys, sandbox_url=sandbox_url
            )
            db = await asyncpg.connect(plain_url)
            try:
                async with opened(settings) as runtime:
                    start = utcnow()
                    down_until = args.outage_minutes + 1
                    for minute in range(down_until + 3):
                        if minute == 1:
                            state.set_faults(down=True)
                        if minute == down_until + 1:
                            state.clear_faults()
                        at = start + timedelta(minutes=minute)
                        with time_machine.travel(at, tick=True):
                            outcomes = await checks.check_many(runtime.health, ids)
                        seen.checks += len(ids)
                        seen.outcomes.update(outcomes)
                        lapsed = int(
                            await db.fetchval(
                                "SELECT count(*) FROM authorizations "
                                "WHERE status = 'needs_reconnect'"
                            )
                        )
                        seen.most_needs_reconnect = max(seen.most_needs_reconnect, lapsed)
                        opened_now = await db.fetchval(
                            "SELECT count(*) FROM incidents WHERE scope = 'provider'"
                        )
                        if opened_now and seen.opened_at_minute is None:
                            seen.opened_at_minute = minute
                        if minute % 10 == 0 or minute > down_until:
                            print(
                                f"  minute {minute:3}: "
                                f"{', '.join(f'{k} {n}' for k, n in sorted(outcomes.items()))}, "
                                f"{lapsed} needs_reconnect, {opened_now} provider incident(s)",
                                flush=True,
                            )
                seen.provider_opened = int(
                    await db.fetchval("SELECT count(*) FROM incidents WHERE scope = 'provider'")
                )
                seen.provider_closed = int(
                    await db.fetchval(
                        "SELECT count(*) FROM incidents WHERE scope = 'provider' "
                        "AND closed_at IS NOT NULL"
                    )
                )
                seen.alarms = int(
                    await db.fetchval("SELECT count(*) FROM incidents WHERE scope <> 'provider'")
                )
                seen.notifications = int(await db.fetchval("SELECT count(*) FROM notifications"))
                seen.active_after = int(
                    await db.fetchval("SELECT count(*) FROM authorizations WHERE status = 'active'")
                )
            finally:
                await db.close()
    finally:
        await engine.dispose()
    return seen


# ---------------------------------------------------------------------------------------------
# broker: Redis and the SMTP server stopped during a lapse storm.


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class OwnRedis:
    """A `redis-server` of this script's own on a free port, without persistence: killing it
    loses every queued message, the hardest case for the outbox."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RigError("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        try:
            while True:
                with contextlib.suppress(redis.ConnectionError):
                    if client.ping():
                        return
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RigError(f"redis-server did not start on port {self.port}")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        stop_process(self.process, signal.SIGKILL)
        self.process = None


class StoppableMail(lapse_storm.MailServer):
    """The storm's aiosmtpd server, which can be stopped and started again on its port."""

    def restart(self) -> None:
        self._controller = Controller(self, hostname=HOST, port=self.port)
        self._controller.start()


@contextlib.contextmanager
def _cleanup_redis(own: OwnRedis) -> Iterator[None]:
    try:
        yield
    finally:
        own.kill()


def run_broker(args: argparse.Namespace) -> Verdict:
    short = (
        " (SHORTER than the issue's 600 s: a partial run, not the figure)"
        if args.outage_seconds < 600
        else ""
    )
    n = args.storm_authorizations
    # The receiver listens on 127.0.0.1, a private address webhooks refuse by default: the
    # endpoint is created in this process, the deliveries are made by the worker.
    os.environ["TETHER_WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "true"
    print(
        f"\n=== broker: Redis and the SMTP server stopped for {args.outage_seconds:g} s"
        f"{short} during a lapse storm of {n:,} authorizations, on PostgreSQL",
        flush=True,
    )
    storm = argparse.Namespace(
        digest_window=5,
        tick=0.5,
        threads=None,
        skip=[],
        profile=False,
        extra_env={},
        settle=args.settle,
        timeout=args.outage_seconds + args.recovery_timeout,
    )
    started = time.perf_counter()
    mail, hooks = StoppableMail(), lapse_storm.HookReceiver()
    with (
        _scenario("broker") as (plain_url, url, secret_keys, folder),
        contextlib.ExitStack() as cleanup,
    ):
        own = OwnRedis(folder)
        own.start()
        cleanup.enter_context(_cleanup_redis(own))
        cleanup.callback(mail.stop)
        cleanup.callback(hooks.stop)
        storm.extra_env = {
            "TETHER_BROKER_URL": own.url,
            # The receiver listens on 127.0.0.1, a private address webhooks refuse by default.
            "TETHER_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
        }
        mail.start()
        hooks.start()
        with lapse_storm.sandbox_serving(n, 3) as sandbox:
            seeded, hooks.secret = asyncio.run(
                lapse_storm.seed(
                    url,
                    sandbox.minted,
                    connections=n * 5,
                    clients=max(5, n // 5),
                    receiver_url=hooks.url,
                )
            )
            print(f"  seeded in {_elapsed(started)}; the storm...", flush=True)
            result = _storm_with_outage(
                args,
                storm,
                url,
                plain_url,
                secret_keys,
                sandbox,
                seeded,
                mail,
                hooks,
                own,
                str(folder),
            )
    print(f"  wall time {_elapsed(started)}")
    return _broker_report(args, result)


@dataclass
class BrokerRun:
    tally: lapse_storm.Tally
    gave_up: str | None
    outage: tuple[float, float] | None  # seconds after the switch it began and ended
    worker_restarts: int
    outbox: dict[str, int]
    log_tail: str


def _storm_with_outage(
    args: argparse.Namespace,
    storm: argparse.Namespace,
    url: str,
    plain_url: str,
    secret_keys: str,
    sandbox: lapse_storm.Sandbox,
    seeded: lapse_storm.Seeded,
    mail: StoppableMail,
    hooks: lapse_storm.HookReceiver,
    own: OwnRedis,
    folder_name: str,
) -> BrokerRun:
    folder = Path(folder_name)
    asyncio.run(lapse_storm.vacuum_and_make_due(plain_url))
    env = lapse_storm.worker_env(
        storm,
        url=url,
        secret_keys=secret_keys,
        sandbox=sandbox.url,
        smtp_port=mail.port,
        namespace=f"tether-reliability-{os.getpid()}",
        folder=folder,
    )
    expected = lapse_storm.expect(seeded)
    log_path = folder / "worker.log"
    workers: list[subprocess.Popen[bytes]] = []
    with log_path.open("w") as log:

        def start_worker() -> None:
            # As a process supervisor would: a worker that exits is started again.
            workers.append(
                subprocess.Popen(
                    lapse_storm.worker_command(),
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=folder,
                )
            )

        try:
            wall, switch = datetime.now(UTC), time.monotonic()
            sandbox.revoke_all()
            tally = lapse_storm.Tally(expected, seeded, switch, wall)
            start_worker()
            gave_up, outage = asyncio.run(
                _watch_outage(
                    args, storm, plain_url, tally, mail, hooks, own, workers, start_worker
                )
            )
        finally:
            for worker in workers:
                stop_process(worker)
    tally.read_mails(mail.taken(tally.mails_read))
    tally.read_hooks(hooks.taken())
    outbox = asyncio.run(retrying(lambda: lapse_storm._final_look(plain_url, tally)))
    return BrokerRun(
        tally,
        gave_up,
        outage,
        len(workers) - 1,
        outbox,
        "\n".join(log_path.read_text(errors="replace").splitlines()[-25:]),
    )


async def _watch_outage(
    args: argparse.Namespace,
    storm: argparse.Namespace,
    plain_url: str,
    tally: lapse_storm.Tally,
    mail: StoppableMail,
    hooks: lapse_storm.HookReceiver,
    own: OwnRedis,
    workers: list[subprocess.Popen[bytes]],
    start_worker: Callable[[], None],
) -> tuple[str | None, tuple[float, float] | None]:
    """Poll the receivers and the database; once a quarter of the authorizations are lapsed
    (the storm in full swing), kill Redis and stop the SMTP server; bring them back
    `outage_seconds` later; stop when everything came (and `settle` more seconds passed)."""
    db = await asyncpg.connect(plain_url)
    began: float | None = None
    ended: float | None = None
    try:
        printed = restarted = 0.0
        done_at: float | None = None
        while True:
            tally.read_mails(mail.taken(tally.mails_read))
            tally.read_hooks(hooks.taken())
            await tally.read_database(db)
            elapsed = time.monotonic() - tally.switch
            if began is None and tally.checks.got >= tally.checks.expected / 4:
                own.kill()
                mail.stop()
                began = elapsed
                print(f"  {elapsed:5.0f} s: Redis killed and the SMTP server stopped", flush=True)
            if began is not None and ended is None and elapsed - began >= args.outage_seconds:
                own.start()
                mail.restart()
                ended = elapsed
                print(f"  {elapsed:5.0f} s: Redis and the SMTP server are back", flush=True)
            # Not faster than a supervisor would (systemd's RestartSec): each start costs CPU.
            if workers[-1].poll() is not None and elapsed - restarted >= RESTART_SECONDS:
                restarted = elapsed
                print(
                    f"  {elapsed:5.0f} s: the worker exited (code {workers[-1].returncode}); "
                    "started again",
                    flush=True,
                )
                start_worker()
            if elapsed - printed >= 30:
                printed = elapsed
                status = ", ".join(f"{t.name} {t.got:,}/{t.expected:,}" for t in tally.tracks)
                print(f"  {elapsed:5.0f} s: {status}", flush=True)
            if tally.done and ended is not None:
                done_at = done_at or time.monotonic()
                if time.monotonic() - done_at >= storm.settle:
                    break
            elif elapsed > storm.timeout:
                return f"gave up after {storm.timeout:g} s", _span(began, ended)
            await asyncio.sleep(0.5)
    finally:
        await db.close()
    return None, _span(began, ended)


def _span(began: float | None, ended: float | None) -> tuple[float, float] | None:
    return None if began is None or ended is None else (began, ended)


def _broker_report(args: argparse.Namespace, run: BrokerRun) -> Verdict:
    tally, outbox = run.tally, run.outbox
    if run.outage:
        print(f"  outage from {run.outage[0]:.0f} s to {run.outage[1]:.0f} s after the switch")
    header = f"  {'channel':<34} {'expected':>8} {'delivered':>9} {'lost':>6} {'dupl.':>6}"
    print(header + f" {'unexp.':>6} {'all at':>7}")
    lost_total = duplicates_total = unexpected_total = 0
    for track in tally.tracks:
        lost = max(0, track.expected - track.got)
        lost_total += lost if track is not tally.checks else 0
        duplicates_total += track.duplicates
        unexpected_total += track.unexpected
        at = f"{track.last_at:.0f} s" if track.done and track.last_at is not None else "-"
        print(
            f"  {track.name:<34} {track.expected:8,} {track.got:9,} {lost:6,} "
            f"{track.duplicates:6,} {track.unexpected:6,} {at:>7}"
        )
    message_ids_again = tally.email.problems.get("a Message-ID seen before", 0)
    print(
        f"  emails: {tally.email.messages:,} messages, {message_ids_again} Message-IDs seen twice; "
        f"webhooks: {tally.webhooks.messages:,} requests (duplicates counted by Tether-Delivery "
        f"id and by incident and event)"
    )
    print(
        f"  outbox: {outbox['email_rows']:,} email rows ({outbox['email_sent']:,} sent, "
        f"{outbox['email_retried']:,} tried more than once); {outbox['hook_rows']:,} webhook "
        f"rows ({outbox['hook_sent']:,} delivered, {outbox['hook_retried']:,} tried more than "
        f"once); {outbox['doubled']} authorizations with several incidents"
    )
    problems = [f"{t.name}: {n} x {p}" for t in tally.tracks for p, n in t.problems.items()]
    if run.gave_up:
        problems.append(run.gave_up)
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    print(f"  worker restarts: {run.worker_restarts}")
    if problems or lost_total or duplicates_total:
        print("  last lines of the worker's log:\n    " + run.log_tail.replace("\n", "\n    "))
    lapsed_all = tally.checks.done
    passed = (
        lost_total == 0
        and duplicates_total == 0
        and unexpected_total == 0
        and not problems
        and lapsed_all
        and run.outage is not None
    )
    partial = " (shorter outage than the issue's)" if args.outage_seconds < 600 else ""
    return Verdict(
        "broker",
        passed,
        f"{args.outage_seconds:g} s outage{partial}: {lost_total} lost, {duplicates_total} "
        f"duplicates, {unexpected_total} unexpected over in-app, email and webhooks "
        f"(expected 0, 0, 0)",
    )


# ---------------------------------------------------------------------------------------------


RUNNERS = {"crash": run_crash, "outage": run_outage, "broker": run_broker}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable; default: all three)",
    )
    parser.add_argument("--kills", type=int, default=1_000, help="crash: SIGKILLs (1,000)")
    parser.add_argument("--seed", type=int, default=None, help="crash: replay the kill delays")
    parser.add_argument("--fleet", type=int, default=500, help="outage: authorizations (500)")
    parser.add_argument(
        "--outage-minutes", type=int, default=60, help="outage: simulated minutes down (60)"
    )
    parser.add_argument(
        "--outage-seconds",
        type=float,
        default=600.0,
        help="broker: seconds Redis and SMTP are down (600, the issue's 10 minutes)",
    )
    parser.add_argument(
        "--storm-authorizations", type=int, default=500, help="broker: lapse storm size (500)"
    )
    parser.add_argument(
        "--recovery-timeout",
        type=float,
        default=1_500.0,
        help="broker: give up this long after the outage began plus its length (1,500 s: "
        "email retries back off up to 15 minutes, lost jobs are due again after 5)",
    )
    parser.add_argument(
        "--settle", type=float, default=10.0, help="broker: watch for late duplicates (10 s)"
    )
    args = parser.parse_args(argv)
    verdicts = []
    for scenario in args.scenario or SCENARIOS:
        try:
            verdicts.append(RUNNERS[scenario](args))
        except (RigError, OSError, asyncpg.PostgresError, httpx.HTTPError) as error:
            traceback.print_exc()
            verdicts.append(Verdict(scenario, None, f"the rig failed: {error}"))
    print("\n=== Reliability")
    for verdict in verdicts:
        print(verdict.line())
    return 1 if any(v.passed is None for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
