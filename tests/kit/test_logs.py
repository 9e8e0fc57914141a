"""Tether's log lines as its handler writes them, in JSON and on the console: the request's or
the job's id on each, and a secret raised in an exception masked in the message and the
traceback alike."""

import io
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.keys import TEST_KEYS
from tests.fixtures.running import bound_socket, running
from tether.app import create_app
from tether.config import Settings
from tether.kit import logs
from tether.worker import actor, broker

# A Tether API token and a provider's refresh token: what a careless exception would carry.
CANARY = f"tth_canary{uuid.uuid4().hex}"
REFRESH = f"canaryrefresh{uuid.uuid4().hex}"
FORMATS = ["json", "console"]
_LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error")


@contextmanager
def captured(fmt: logs.Format) -> Iterator[io.StringIO]:
    """Tether's logging, configured as `tether serve` does, writing to a string; the loggers
    as they were afterwards."""
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate)
        for name, lg in ((n, logging.getLogger(n)) for n in _LOGGERS)
    }
    stream = io.StringIO()
    logs.configure("info", fmt, stream)
    try:
        yield stream
    finally:
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def lines_of(stream: io.StringIO, fmt: logs.Format) -> list[dict[str, Any]] | list[str]:
    text = stream.getvalue()
    if fmt == "json":
        # Every line is one object, tracebacks included.
        return [json.loads(line) for line in text.splitlines()]
    assert not any(line.startswith("{") for line in text.splitlines()), text
    return text.split("\n20")  # console: a record starts with its timestamp's year


def assert_no_secret(stream: io.StringIO) -> None:
    text = stream.getvalue()
    for secret in (CANARY, REFRESH):
        assert secret not in text
        assert json.dumps(secret)[1:-1] not in text


def failing_app(tmp_path: Path) -> FastAPI:
    """Tether, with one handler that fails carrying secrets in its exception."""
    settings = Settings(
        data_dir=tmp_path,
        secret_keys=TEST_KEYS,
        background=False,
        mount_sandbox=False,
        seed_demo=False,
    )
    app = create_app(settings)

    async def refresh_now() -> None:
        refresh_token = REFRESH  # in the frame's locals, and in the message below
        raise RuntimeError(f"refused refresh_token={refresh_token} for Bearer {CANARY}")

    app.add_api_route("/refresh-now", refresh_now)
    return app


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_request_that_fails_logs_its_id_and_no_secret_of_its_exception(
    fmt: logs.Format, tmp_path: Path
) -> None:
    sock = bound_socket()
    port = sock.getsockname()[1]
    with running(failing_app(tmp_path), sock), captured(fmt) as stream:
        answer = httpx.get(
            f"http://127.0.0.1:{port}/refresh-now", headers={"X-Request-Id": "req-42"}
        )

    assert answer.status_code == 500
    assert answer.headers["x-request-id"] == "req-42"
    assert_no_secret(stream)
    lines = lines_of(stream, fmt)
    if fmt == "json":
        failed = [line for line in lines if isinstance(line, dict) and "exception" in line]
        assert failed, lines
        for line in failed:
            assert line["request_id"] == "req-42"
            assert line["level"] == "error"
            assert "RuntimeError: refused refresh_token=*** for Bearer ***" in line["exception"]
    else:
        failed = [line for line in lines if isinstance(line, str) and "Traceback" in line]
        assert failed, lines
        for line in failed:
            assert "request_id=req-42" in line
            assert "RuntimeError: refused refresh_token=*** for Bearer ***" in line


async def _leaky(grant: str) -> None:
    """A job that logs a secret and fails with it."""
    refresh_token = REFRESH
    logging.getLogger("tether.health.refresh").info("refreshing with refresh_token=%s", CANARY)
    raise RuntimeError(f"{grant}: refused refresh_token={refresh_token}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_job_logs_its_id_and_actor_and_no_secret_of_its_exception(fmt: logs.Format) -> None:
    bound = broker.create_broker(Settings(broker_url=None))
    dramatiq.Actor(
        actor.logged("health.leaky", _leaky),
        broker=bound,
        actor_name="health.leaky",
        queue_name="default",
        priority=0,
        options={"max_retries": 0},
    )
    worker = dramatiq.Worker(bound, worker_threads=1, worker_timeout=100)
    with captured(fmt) as stream:
        worker.start()
        try:
            sent = bound.actors["health.leaky"].send("grant-7")
            bound.join("default", fail_fast=False)
            worker.join()
        finally:
            worker.stop()

    assert_no_secret(stream)
    lines = lines_of(stream, fmt)
    if fmt == "json":
        own = [line for line in lines if isinstance(line, dict) and line["event"].startswith("ref")]
        assert own, lines
        assert own[0]["job_id"] == sent.message_id
        assert own[0]["actor"] == "health.leaky"
        assert own[0]["event"] == "refreshing with refresh_token=***"
        failed = [line for line in lines if isinstance(line, dict) and "exception" in line]
        assert "RuntimeError: grant-7: refused refresh_token=***" in failed[0]["exception"]
    else:
        own = [line for line in lines if isinstance(line, str) and "refreshing with" in line]
        assert own, lines
        assert f"job_id={sent.message_id}" in own[0]
        assert "actor=health.leaky" in own[0]
        assert any("RuntimeError: grant-7: refused refresh_token=***" in line for line in lines)
