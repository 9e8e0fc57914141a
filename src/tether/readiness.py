"""Is this process ready to serve: the database answers, its schema is this release's, and the
broker answers. Each check says what failed in an operator's words; a probe asks them all."""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass

import pika
import redis.asyncio as aioredis
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from tether import schema_repository
from tether.config import Settings
from tether.migrate import alembic_config

# A probe must answer before the orchestrator's own time-out (often 1-5 s).
CHECK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def release_head() -> str:
    """The schema revision this release ships (read once: it never changes in a process)."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return head


async def checks(engine: AsyncEngine, settings: Settings, head: str) -> list[Check]:
    """The database, the schema and the broker, each within CHECK_SECONDS."""
    database = await _bounded("database", _database(engine, head))
    broker = await _bounded("broker", _broker(settings))
    return [*database, broker[0]]


async def _bounded(name: str, probe: Awaitable[list[Check]]) -> list[Check]:
    try:
        return await asyncio.wait_for(probe, CHECK_SECONDS)
    except TimeoutError:
        return [Check(name, False, f"did not answer within {CHECK_SECONDS:g} s")]
    except Exception as error:
        return [Check(name, False, f"{type(error).__name__}: {_first_line(error)}")]


async def _database(engine: AsyncEngine, head: str) -> list[Check]:
    current = await schema_repository.revision(engine)
    at = f"is at {current}" if current else "has no schema yet"
    schema = (
        Check("schema", True, head)
        if current == head
        else Check("schema", False, f"the database {at}; this release needs {head}")
    )
    return [Check("database", True, "answers"), schema]


async def _broker(settings: Settings) -> list[Check]:
    url = settings.broker_url
    if not url:
        return [Check("broker", True, "none: jobs run inside this process")]
    if url.startswith(("redis://", "rediss://")):
        client = aioredis.from_url(url, socket_connect_timeout=CHECK_SECONDS)
        try:
            await client.ping()
        finally:
            await client.aclose()
        return [Check("broker", True, "Redis answers")]
    await asyncio.to_thread(_amqp_answers, url)
    return [Check("broker", True, "RabbitMQ answers")]


def _amqp_answers(url: str) -> None:
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = CHECK_SECONDS
    parameters.blocked_connection_timeout = CHECK_SECONDS
    pika.BlockingConnection(parameters).close()


def _first_line(error: Exception) -> str:
    """An error's first line, short (drivers' messages name hosts, never passwords)."""
    return (str(error).splitlines() or [""])[0][:200]
