"""`tether serve` as an operator runs it: the lines it logs, the request ids it answers with, and
how it stops on SIGTERM."""

import json
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.embedded import Embedded, serving

# A log reader could be fooled by what follows the id: a field of its own making.
FORGED = b'x" level=critical'
LONG = b"x" * 500


def json_lines(log: Path) -> list[dict[str, Any]]:
    """The JSON log lines among what the process wrote (the banner is plain text on stdout)."""
    lines = log.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def request_lines(tether: Embedded, request_id: str) -> list[str]:
    return [line for line in tether.log.read_text().splitlines() if request_id in line]


def test_json_logs_carry_the_request_id_each_answer_returns(tmp_path: Path) -> None:
    with serving(tmp_path / "data", env={"TETHER_LOG_FORMAT": "json"}) as tether:
        given = httpx.get(f"{tether.base_url}/livez", headers={"X-Request-Id": "lb-7f3a.2_x"})
        missing = httpx.get(f"{tether.base_url}/api/v1/no-such-thing")
        forged = httpx.get(f"{tether.base_url}/livez", headers={"X-Request-Id": FORGED})
        long = httpx.get(f"{tether.base_url}/livez", headers={"X-Request-Id": LONG})
        invalid = httpx.put(f"{tether.base_url}/sandbox/control/faults", json={"slow_ms": -1})

    assert given.headers["x-request-id"] == "lb-7f3a.2_x"
    assert missing.status_code == 404
    assert len(missing.headers["x-request-id"]) == 32
    # An id Tether cannot repeat safely is replaced, not echoed.
    assert forged.headers["x-request-id"] not in (FORGED.decode(), given.headers["x-request-id"])
    assert len(long.headers["x-request-id"]) == 32
    assert invalid.status_code == 400
    assert len(invalid.headers["x-request-id"]) == 32
    lines = json_lines(tether.log)
    for line in lines:
        assert {"timestamp", "level", "logger", "event"} <= line.keys(), line
        assert line["timestamp"].endswith("Z"), line
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    by_id = {line.get("request_id"): line for line in access}
    assert "GET /livez" in by_id["lb-7f3a.2_x"]["event"]
    assert "404" in by_id[missing.headers["x-request-id"]]["event"]
    assert "400" in by_id[invalid.headers["x-request-id"]]["event"]
    # What is not JSON is only the banner `tether serve` prints for a person.
    assert all(line.startswith("{") for line in request_lines(tether, "lb-7f3a.2_x"))


def test_console_logs_are_lines_a_person_reads(tmp_path: Path) -> None:
    with serving(tmp_path / "data", env={"TETHER_LOG_FORMAT": "console"}) as tether:
        answer = httpx.get(f"{tether.base_url}/livez", headers={"X-Request-Id": "console-1"})

    assert answer.headers["x-request-id"] == "console-1"
    lines = request_lines(tether, "console-1")
    assert lines
    for line in lines:
        assert not line.startswith("{")
        assert "request_id=console-1" in line
        assert "GET /livez" in line
        assert "[info" in line


def test_sigterm_lets_a_request_in_flight_finish_then_the_server_exits_0(tmp_path: Path) -> None:
    env = {"TETHER_SHUTDOWN_GRACE_SECONDS": "30"}
    with serving(tmp_path / "data", env=env) as tether:
        sandbox = f"{tether.base_url}/sandbox"
        user = httpx.get(f"{sandbox}/control/users").json()[0]["username"]
        key = httpx.post(f"{sandbox}/control/users/{user}/api-key").json()["api_key"]
        httpx.put(f"{sandbox}/control/faults", json={"slow_ms": 3000}).raise_for_status()
        host, port = tether.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            conn.sendall(
                f"GET /sandbox/api/v1/me HTTP/1.1\r\nHost: {host}\r\nX-Api-Key: {key}\r\n"
                "X-Request-Id: slow-1\r\n\r\n".encode()
            )
            # The request is being served (the sandbox holds it 3 s) when SIGTERM comes.
            time.sleep(1.0)
            tether.process.send_signal(signal.SIGTERM)
            answer = _read_answer(conn)
        exit_code = tether.process.wait(timeout=60)

    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert user.encode() in answer
    assert exit_code == 0, tether.log.read_text()


def _read_answer(conn: socket.socket) -> bytes:
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received
