"""How long does each screen of the web app take to serve, for an organization with 100,000
connections?

Seeds one organization the way bench/connections_list.py does (100,000 connections over 20,000
authorizations and 5,000 clients), adds what the other screens show (an open incident and an
unread notification per lapsed authorization, 3,000 closed incidents, 100,000 audit entries,
30 days of metrics for 10,000 connections), signs in as the admin through the sign-in form, and
requests every screen. It prints, per screen, the server time Tether reports in its
`Server-Timing` header (median and p95) and the p95 of the whole round trip.

Target: every screen's p95 server time under 100 ms.

    python bench/pages.py [--backend postgresql|sqlite|both] [--connections 100000]
        [--authorizations 20000] [--clients 5000] [--requests 50]

PostgreSQL is reached at TETHER_BENCH_POSTGRES_URL (default postgres@127.0.0.1:5432/test); the
benchmark creates its own database there and drops it at the end.
"""

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from _harness import POSTGRES_ADMIN_URL, _admin
from connections_list import Sizes, seed, serving
from tether import migrate
from tether.config import async_database_url
from tether.db import create_engine
from tether.members.passwords import hash_password
from tether.models import (
    Account,
    AuditEvent,
    Authorization,
    Connection,
    Incident,
    Member,
    MetricDay,
    Notification,
    Status,
)

TARGET_P95_MS = 100.0
PASSWORD = "benchmark-password"
BATCH = 5_000
COVERED_CONNECTIONS = 10_000
COVERED_DAYS = 30

SCREENS: tuple[tuple[str, str], ...] = (
    ("Connections: Needs reconnecting tab", "/connections"),
    ("Connections: All, by last updated", "/connections?tab=all&sort=-last_synced_at"),
    ("Connections: one provider", "/connections?tab=all&provider=meta_ads"),
    ("Connections: one client", "/connections?tab=all&client={client}"),
    ("Connections: next page", "{next_page}"),
    ("Client filter suggestions", "/clients/options?client=North"),
    ("Data sources", "/sources"),
    ("Connection settings (Google Ads)", "/sources/google_ads/settings"),
    ("Integrations", "/integrations"),
    ("Integrations: by clients", "/integrations?sort=-clients"),
    ("Integration's clients", "/integrations/{account}"),
    ("Coverage", "/coverage"),
    ("Incidents", "/incidents"),
    ("Audit log", "/audit"),
    ("Notification bell", "/notifications/bell"),
    ("Notifications", "/notifications"),
    ("Notification settings", "/notifications/settings"),
    ("Settings: members", "/settings/members"),
    ("Settings: webhooks", "/settings/webhooks"),
)


@dataclass
class Timed:
    server_ms: list[float]
    round_trip_ms: list[float]
    status: int
    size: int


async def add_screen_data(url: str, organization_id: uuid.UUID) -> dict[str, str]:
    """What the screens beyond Connections show; returns names the screen URLs need."""
    rng = random.Random(20261124)
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        async with engine.begin() as db:
            admin_id = await db.scalar(
                select(Member.id).where(Member.organization_id == organization_id)
            )
            await db.execute(
                update(Member)
                .where(Member.id == admin_id)
                .values(password_hash=hash_password(PASSWORD))
            )
            authorizations = (
                await db.execute(
                    select(Authorization.id, Authorization.provider, Authorization.status)
                )
            ).all()
            incidents, notifications = [], []
            for authorization_id, provider, status in authorizations:
                if status != Status.NEEDS_RECONNECT:
                    continue
                incident_id = uuid.uuid4()
                opened = now - timedelta(hours=rng.uniform(1, 400))
                incidents.append(_incident(incident_id, organization_id, authorization_id,
                                           provider, opened, None))  # fmt: skip
                notifications.append({
                    "id": uuid.uuid4(), "organization_id": organization_id, "member_id": admin_id,
                    "incident_id": incident_id, "event": "authorization.lapsed",
                    "provider": provider, "created_at": opened,
                    "message": "A data source needs reconnecting: the grant was revoked.",
                })  # fmt: skip
            for authorization_id, provider, _ in rng.sample(
                authorizations, min(3_000, len(authorizations))
            ):
                opened = now - timedelta(days=rng.uniform(2, 300))
                closed = opened + timedelta(hours=5)
                incidents.append(_incident(uuid.uuid4(), organization_id, authorization_id,
                                           provider, opened, closed))  # fmt: skip
            audit = [
                {
                    "id": uuid.uuid4(),
                    "organization_id": organization_id,
                    "at": now - timedelta(minutes=rng.uniform(0, 500_000)),
                    "actor": "tether:health",
                    "action": "authorization.status_changed",
                    "subject_type": "authorization",
                    "subject_id": str(authorization_id),
                    "from_value": "active",
                    "to_value": "needs_reconnect",
                    "details": {},
                }
                for authorization_id, _, _ in rng.choices(authorizations, k=100_000)
            ]
            connection_ids = (
                await db.scalars(
                    select(Connection.id).order_by(Connection.id).limit(COVERED_CONNECTIONS)
                )
            ).all()
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
                for connection_id in connection_ids
                for back in range(1, COVERED_DAYS + 1)
                if rng.random() > 0.05  # a few gaps
            ]
            for model, rows in ((Incident, incidents), (Notification, notifications),
                                (AuditEvent, audit), (MetricDay, days)):  # fmt: skip
                for start in range(0, len(rows), BATCH):
                    await db.execute(insert(model), rows[start : start + BATCH])
            client = await db.scalar(
                select(Connection.client_name).order_by(Connection.client_name).limit(1)
            )
            account = await db.scalar(select(Account.id).order_by(Account.name).limit(1))
        return {"client": str(client), "account": str(account)}
    finally:
        await engine.dispose()


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


def sign_in(http: httpx.Client) -> None:
    """Through the form, as a member would: its CSRF token, then the password."""
    form = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "the sign-in form has no CSRF token"
    data = {"email": "admin@benchmark.example", "password": PASSWORD, "csrf_token": token[1]}
    answer = http.post("/login", data=data)
    if answer.status_code != 303:
        raise RuntimeError(f"Signing in failed with {answer.status_code}.")


def time_screens(base_url: str, names: dict[str, str], repeat: int) -> dict[str, Timed]:
    results = {}
    with httpx.Client(base_url=base_url, timeout=60, headers={"Accept": "text/html"}) as http:
        sign_in(http)
        first = http.get("/connections?tab=all").text
        next_page = re.search(r'href="(/connections\?[^"]*cursor=[^"]+)"', first)
        names = {**names, "next_page": next_page[1].replace("&amp;", "&") if next_page else ""}
        for label, template in SCREENS:
            path = template.format(
                **{k: httpx.QueryParams({"v": v})["v"] for k, v in names.items()}
            )
            for _ in range(max(3, repeat // 10)):
                http.get(path)
            server, trips, status, size = [], [], 200, 0
            for _ in range(repeat):
                started = time.perf_counter()
                response = http.get(path)
                trips.append((time.perf_counter() - started) * 1000)
                status, size = response.status_code, len(response.content)
                timing = re.search(r"app;dur=([\d.]+)", response.headers.get("server-timing", ""))
                server.append(float(timing[1]) if timing else float("nan"))
            results[label] = Timed(server, trips, status, size)
    return results


def p95(samples: Sequence[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def run(backend: str, url: str, folder: Path, sizes: Sizes, repeat: int) -> bool:
    print(f"\n{backend}: seeding {sizes.connections:,} connections...", flush=True)
    migrate.upgrade(url)
    seeded = asyncio.run(seed(url, sizes))
    names = asyncio.run(add_screen_data(url, seeded.organization_id))
    print(f"{backend}: timing {repeat} requests per screen...", flush=True)
    with serving(url, folder) as base_url:
        results = time_screens(base_url, names, repeat)
    print(f"\n{backend}, {sizes.connections:,} connections: server time per screen (ms)")
    print(f"  {'screen':<40} {'median':>8} {'p95':>8} {'trip p95':>9} {'KiB':>6}  status")
    ok = True
    for label, timed in results.items():
        server_p95 = p95(timed.server_ms)
        met = timed.status == 200 and server_p95 < TARGET_P95_MS
        ok &= met
        flag = "" if met else "  <-- over target" if timed.status == 200 else "  <-- failed"
        median, trip = statistics.median(timed.server_ms), p95(timed.round_trip_ms)
        print(f"  {label:<40} {median:8.1f} {server_p95:8.1f} {trip:9.1f} "
              f"{timed.size / 1024:6.1f}  {timed.status}{flag}")  # fmt: skip
    worst = max(p95(t.server_ms) for t in results.values())
    print(f"  slowest screen p95 {worst:.1f} ms; target p95 < {TARGET_P95_MS:.0f} ms: "
          f"{'met' if ok else 'MISSED'}")  # fmt: skip
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--connections", type=int, default=100_000)
    parser.add_argument("--authorizations", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args(argv)
    sizes = Sizes(args.connections, args.authorizations, args.clients)
    ok = True
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="tether-bench-") as folder:
            url = async_database_url(f"sqlite:///{Path(folder) / 'tether.db'}")
            ok &= run("SQLite", url, Path(folder), sizes, args.requests)
    if args.backend in ("postgresql", "both"):
        name = f"tether_bench_pages_{os.getpid()}"
        asyncio.run(
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        )
        try:
            base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
            with tempfile.TemporaryDirectory(prefix="tether-bench-") as folder:
                ok &= run("PostgreSQL", async_database_url(f"{base}/{name}"), Path(folder), sizes,
                          args.requests)  # fmt: skip
        finally:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
