"""Probes an orchestrator asks: liveness (the process answers) and readiness (the database,
its schema and the broker), from the web app and, for workers, from `tether health`. And the
schema: in production nothing migrates by itself, and two `tether migrate` at once are safe."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.fixtures.databases import empty_postgres
from tests.fixtures.keys import TEST_KEYS
from tests.fixtures.running import Tether
from tether import migrate, readiness
from tether.config import Settings, async_database_url
from tether.db import create_engine

TETHER = [sys.executable, "-m", "tether.cli"]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    return subprocess.run(
        [*TETHER, *args], env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


async def test_a_serving_tether_is_alive_and_ready(tether: Tether) -> None:
    async with httpx.AsyncClient(base_url=tether.base_url, timeout=10) as http:
        alive = await http.get("/livez")
        ready = await http.get("/readyz")

    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "broker": "ok"},
    }


async def test_readiness_names_a_schema_behind_and_a_broker_that_does_not_answer(
    tmp_path: Path,
) -> None:
    url = async_database_url(f"sqlite:///{tmp_path / 'empty.db'}")
    engine = create_engine(url)
    settings = Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:1/0")
    try:
        found = await readiness.checks(engine, settings, readiness.release_head())
    finally:
        await engine.dispose()

    by_name = {c.name: c for c in found}
    assert by_name["database"].ok
    assert not by_name["schema"].ok
    assert by_name["schema"].detail.startswith("the database has no schema yet")
    assert not by_name["broker"].ok
    assert "127.0.0.1:1" in by_name["broker"].detail


def test_tether_health_is_a_workers_probe(tmp_path: Path) -> None:
    data = {"TETHER_DATA_DIR": str(tmp_path)}

    before = run("health", **data)
    run("migrate", **data)
    after = run("health", **data, TETHER_BROKER_URL="redis://127.0.0.1:6379/0")

    assert before.returncode == 1
    assert "schema: FAILS (the database has no schema yet" in before.stdout
    assert after.returncode == 0, after.stdout + after.stderr
    assert "broker: ok (Redis answers)" in after.stdout


@pytest.mark.postgres
def test_in_production_tether_never_migrates_by_itself_and_says_what_to_run(
    tmp_path: Path,
) -> None:
    with empty_postgres("tether_probe") as url:
        production = {
            "TETHER_ENV": "production",
            "TETHER_DATA_DIR": str(tmp_path),
            "TETHER_DATABASE_URL": url,
            "TETHER_SECRET_KEYS": TEST_KEYS,
            "TETHER_BROKER_URL": "redis://127.0.0.1:6379/0",
            "TETHER_PUBLIC_URL": "https://tether.agency.example",
        }
        serve = run("serve", **production)
        worker = run("worker", **production)
        current, head = migrate.revisions(url)

    for refused in (serve, worker):
        assert refused.returncode == 1
        assert "has no schema yet" in refused.stderr
        assert "Run `tether migrate` first." in refused.stderr
    assert current is None  # nothing was migrated
    assert head == readiness.release_head()


@pytest.mark.postgres
def test_two_migrations_at_once_wait_for_each_other_and_both_succeed(tmp_path: Path) -> None:
    with empty_postgres("tether_migrate") as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
        env |= {"TETHER_DATA_DIR": str(tmp_path), "TETHER_DATABASE_URL": url}
        both = [
            subprocess.Popen([*TETHER, "migrate"], env=env, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=180)[0] for p in both]
        current, head = migrate.revisions(url)

    assert [p.returncode for p in both] == [0, 0]
    assert all("The database is up to date." in out for out in outputs)
    assert current == head
