"""The production topology of deploy/compose.yaml, run as plain processes: a one-shot migrate,
two web replicas and two workers on PostgreSQL and Redis, in production mode.

The platform is the sandbox run on its own (`tether sandbox`), reached the way an operator
points Tether at any platform: Pinterest Ads' own definition with an OAuth app's id and secret
and its base URLs set (`TETHER_PROVIDERS__PINTEREST_ADS__*`), here the sandbox's Pinterest
dialect. Production refuses the mounted sandbox and its stand-ins, and needs neither.

The whole loop goes through both replicas over HTTP, with a worker killed (SIGKILL) while the
first loads are in flight: nothing is lost and nothing is doubled.
"""

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.fixtures.builders import consent
from tests.fixtures.databases import empty_postgres
from tests.fixtures.receiver import Receiver, receiving
from tests.fixtures.redis import REDIS_URL
from tests.fixtures.smtp import Mailbox, free_port
from tests.fixtures.tls import Certificate, self_signed
from tests.fixtures.topology import (
    EnvFile,
    Topology,
    compose_file,
    environment_of,
    tether_services,
    topology,
)
from tether.kit.crypto import format_key, generate_key

pytestmark = pytest.mark.postgres

PUBLIC_URL = "https://tether.smoke.example"
PROVIDER = "pinterest_ads"
# The sandbox's own registered OAuth app, as a platform's developer console would give one.
APP_ID, APP_SECRET = "tether", "tether-sandbox-secret"
CLIENTS_PER_ACCOUNT, ACCOUNTS = 2, 3
CONNECTIONS = CLIENTS_PER_ACCOUNT * ACCOUNTS
HISTORY_DAYS = 90
SLOW_MS = 2000
# How long a job handed to a worker that died waits before it is handed out again: the one
# setting shortened here (production keeps 300 s), so the test need not wait five minutes.
DISPATCH_TIMEOUT = "10"
WAIT = 90.0
METRICS_TOKEN = uuid.uuid4().hex


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def database() -> Iterator[str]:
    with empty_postgres("tether_smoke") as url:
        yield url


@pytest.fixture
def certificate(folder: Path) -> Certificate:
    return self_signed(folder)


@pytest.fixture
def receiver(certificate: Certificate) -> Iterator[Receiver]:
    """A webhook receiver on https, as Tether on https requires, under a private CA."""
    with receiving(certificate) as running:
        yield running


class Site:
    """The running topology as a member and an operator reach it."""

    def __init__(self, services: "Services", platform: str, token: str):
        self.running = services.running
        self.services = services
        self.platform = httpx.AsyncClient(base_url=f"{platform}/control", timeout=30)
        self.webs = [services.urls["web-1"], services.urls["web-2"]]
        self.api = [
            httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            for url in self.webs
        ]

    async def call(self, replica: int, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.api[replica].request(method, f"/api/v1{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def sign_in(self, start_on: int, finish_on: int, path: str, body: Any = None) -> str:
        """Consent started on one replica, and the platform's redirect (to the public URL)
        answered by the other, as a load balancer may send it: the authorization's id."""
        started = await self.call(start_on, "POST", path, json=body)
        callback = urlsplit(await consent(started["authorize_url"], "alice"))
        assert f"{callback.scheme}://{callback.netloc}" == PUBLIC_URL
        async with httpx.AsyncClient(timeout=30) as browser:
            finished = await browser.get(
                f"{self.webs[finish_on]}{callback.path}?{callback.query}",
                headers={"Accept": "application/json"},
            )
        assert finished.status_code == 200, finished.text
        return str(finished.json()["authorization_id"])

    async def eventually(self, what: str, done: Callable[[], Awaitable[bool]]) -> None:
        deadline = time.monotonic() + WAIT
        while not await done():
            self.running.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"waited {WAIT:.0f} s for {what}")
            await asyncio.sleep(0.5)

    async def coverage_complete(self) -> bool:
        rows = (await self.call(0, "GET", "/coverage"))["data"]
        return len(rows) == CONNECTIONS and all(
            r["days_loaded"] == HISTORY_DAYS and not r["missing"] for r in rows
        )

    async def counts(self, replica: int = 0) -> dict[str, int]:
        return dict(await self.call(replica, "GET", "/connections/counts"))

    async def scrape(self) -> dict[str, list[Sample]]:
        """Every running web replica's and worker's /metrics, by process."""
        scraped = {}
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        async with httpx.AsyncClient(headers=headers, timeout=10) as http:
            for name, url in self.services.urls.items():
                if self.running.processes[name].alive:
                    answer = await http.get(f"{url}/metrics")
                    assert answer.status_code == 200, answer.text
                    families = text_string_to_metric_families(answer.text)
                    scraped[name] = [sample for f in families for sample in f.samples]
        return scraped

    def metrics_show(self, status: str) -> Callable[[], Awaitable[bool]]:
        """Whether every process's /metrics shows the authorization and its connections in
        `status`, and the one lapse counted once across them all."""

        async def shown() -> bool:
            scraped = await self.scrape()
            lapses = sum(
                s.value
                for samples in scraped.values()
                for s in samples
                if s.name == "tether_lapses_total" and s.labels["provider"] == PROVIDER
            )
            return lapses == 1 and all(
                _gauge(samples, "tether_authorizations", status) == 1
                and _gauge(samples, "tether_connections", status) == CONNECTIONS
                for samples in scraped.values()
            )

        return shown

    async def switch(self, method: str, path: str, **kwargs: Any) -> Any:
        """One of the platform's control switches (the sandbox's)."""
        response = await self.platform.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    async def close(self) -> None:
        await self.platform.aclose()
        for client in self.api:
            await client.aclose()


def _gauge(samples: list[Sample], name: str, status: str) -> float:
    """The gauge's value for this test's provider in `status` (0 when it is not shown)."""
    return sum(
        s.value
        for s in samples
        if s.name == name and s.labels == {"provider": PROVIDER, "status": status}
    )


def start_platform(running: Topology) -> str:
    port = free_port()
    running.start("sandbox", running.command({"command": ["sandbox", "--port", str(port)]}), {})
    url = f"http://127.0.0.1:{port}"
    running.wait_ready("sandbox", f"{url}/control/state")
    return url


def env_file(platform: str, smtp: Mailbox, certificate: Certificate) -> EnvFile:
    """What an operator's deploy/.env holds, for this machine."""
    keys = format_key(generate_key("k1"))
    pinterest = "TETHER_PROVIDERS__PINTEREST_ADS__"
    return EnvFile(
        {
            "TETHER_SECRET_KEYS": keys,
            "POSTGRES_PASSWORD": uuid.uuid4().hex,
            "TETHER_PUBLIC_URL": PUBLIC_URL,
            "TETHER_SMTP_HOST": "127.0.0.1",
            "TETHER_SMTP_PORT": str(smtp.port),
            "TETHER_SMTP_TLS": "none",
            "TETHER_SMTP_FROM": "Tether <tether@smoke.example>",
            pinterest + "CLIENT_ID": APP_ID,
            pinterest + "CLIENT_SECRET": APP_SECRET,
            pinterest + "BASE_URLS__WWW": f"{platform}/pinterest/www",
            pinterest + "BASE_URLS__API": f"{platform}/pinterest/api",
            # The webhook receiver listens on this machine's loopback, under a private CA.
            "TETHER_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
            "SSL_CERT_FILE": str(certificate.certfile),
            "TETHER_METRICS_TOKEN": METRICS_TOKEN,
        }
    )


def local(database: str, namespace: str) -> dict[str, str]:
    """This machine's database and broker in place of the compose network's; the PostgreSQL
    connections kept low (the server is shared by every test); and the dispatch time-out."""
    return {
        "TETHER_DATABASE_URL": database,
        "TETHER_BROKER_URL": REDIS_URL,
        "TETHER_BROKER_NAMESPACE": namespace,
        "TETHER_DB_POOL_SIZE": "3",
        "TETHER_DB_MAX_OVERFLOW": "2",
        "TETHER_DISPATCH_TIMEOUT_SECONDS": DISPATCH_TIMEOUT,
    }


class Services:
    """The compose file's Tether services, each started on this machine's free ports."""

    def __init__(self, running: Topology, settings: EnvFile, where: dict[str, str]) -> None:
        self.running = running
        self.compose = tether_services(compose_file())
        self.settings = settings
        self.where = where
        self.urls: dict[str, str] = {}

    def env(self, name: str) -> EnvFile:
        return EnvFile(environment_of(self.compose[name], self.settings) | self.where)

    def run(self, name: str, command: list[str] | None = None) -> str:
        argv = self.running.command({"command": command or self.compose[name]["command"]})
        return self.running.run(name, argv, self.env(name))

    def start(self, *names: str) -> None:
        """Start the services, each on a port of its own, and wait until each answers /readyz."""
        for name in names:
            port = str(free_port())
            local_port = {"TETHER_HOST": "127.0.0.1", "TETHER_PORT": port}
            local_port["TETHER_WORKER_PORT"] = port
            overridden = {k: v for k, v in local_port.items() if k in self.env(name)}
            assert overridden, f"{name} names no port in compose.yaml"
            env = EnvFile(self.env(name) | overridden)
            self.running.start(name, self.running.command(self.compose[name]), env)
            self.urls[name] = f"http://127.0.0.1:{port}"
        for name in names:
            self.running.wait_ready(name, f"{self.urls[name]}/readyz")
        with ThreadPoolExecutor() as pool:
            list(pool.map(self.healthcheck, names))

    def healthcheck(self, name: str) -> None:
        """The service's health check from compose.yaml, run as Docker runs it inside the
        container: its port made this machine's; it must pass."""
        test = self.compose[name]["healthcheck"]["test"]
        assert test[0] == "CMD", test
        local = self.urls[name].removeprefix("http://")
        argv = [word.replace("127.0.0.1:8000", local) for word in test[1:]]
        programs = {"tether": self.running.command({"command": []}), "python": [sys.executable]}
        self.running.run(f"{name}'s health check", programs[argv[0]] + argv[1:], self.env(name))


async def test_two_replicas_and_two_workers_lose_and_double_nothing_through_a_lapse(
    folder: Path,
    database: str,
    namespace: str,
    smtp: Mailbox,
    certificate: Certificate,
    receiver: Receiver,
) -> None:
    with topology(folder) as running:
        platform = start_platform(running)
        settings = env_file(platform, smtp, certificate)
        running.secrets += [settings["TETHER_SECRET_KEYS"], APP_SECRET, METRICS_TOKEN]
        services = Services(running, settings, local(database, namespace))
        services.run("migrate")
        services.start("web-1", "web-2", "worker-1")
        admin = f"admin-{uuid.uuid4().hex[:6]}@agency.example.com"
        token = services.run("migrate", ["admin", "create", admin, "-o", "Smoke Agency"]).strip()
        running.secrets.append(token)
        site = Site(services, platform, token)
        try:
            await _the_loop(site, services, admin, smtp, receiver)
        finally:
            await site.close()


async def _the_loop(
    site: Site, services: Services, admin: str, smtp: Mailbox, receiver: Receiver
) -> None:
    # Production mounts no sandbox: its card says so, and /sandbox is not there to be used.
    sandbox = await site.call(0, "GET", "/providers/sandbox")
    assert (sandbox["available"], sandbox["setup"]["missing"]) == (False, ["TETHER_SANDBOX_URL"])
    assert (await site.api[1].get("/sandbox/control/state")).status_code == 404

    events = ["authorization.lapsed", "connection.lapsed"]
    events += ["authorization.restored", "connection.restored"]
    hook = await site.call(
        1, "POST", "/webhooks", json={"url": f"{receiver.url}/hooks", "events": events}
    )
    site.running.secrets.append(hook["secret"])

    # Connect: consent started on web-1, the platform's redirect answered by web-2.
    authorization_id = await site.sign_in(
        0, 1, "/authorizations/oauth/start", {"provider": PROVIDER}
    )
    accounts = (await site.call(1, "GET", f"/authorizations/{authorization_id}/accounts"))["data"]
    assert len(accounts) >= ACCOUNTS
    # The platform answers slowly, so the first loads are still running when worker-1 dies.
    await site.switch("PUT", "/faults", json={"slow_ms": SLOW_MS})
    for n in range(CONNECTIONS):
        replica = n % 2
        client = await site.call(replica, "POST", "/clients", json={"name": f"Client {n}"})
        body = {"client_id": client["id"], "account_id": accounts[n % ACCOUNTS]["id"]}
        await site.call(replica, "POST", "/connections", json=body)

    # worker-1, the only one, is mid-way through the first loads: it dies with what it held,
    # and worker-2 starts. What worker-1 held is handed out again, nothing twice. (Three
    # accounts, two calls at once per authorization: after the first answer, more are to come.)
    async def loading() -> bool:
        return bool((await site.switch("GET", "/stats"))["totals"]["metrics"]["ok"])

    await site.eventually("worker-1 loading", loading)
    site.running.processes["worker-1"].kill()
    assert not await site.coverage_complete(), "the first loads ended before worker-1 died"
    await site.switch("DELETE", "/faults")
    services.start("worker-2")
    await site.eventually("every connection's history loaded", site.coverage_complete)

    await _lapse(site, authorization_id, admin, smtp, receiver)

    # The killed worker comes back; the member reconnects through web-2, answered by web-1.
    services.start("worker-1")
    assert (
        await site.sign_in(1, 0, f"/authorizations/{authorization_id}/reconnect")
        == authorization_id
    )
    counts = await site.counts(1)
    assert (counts["active"], counts["needs_reconnect"]) == (CONNECTIONS, 0)

    async def restored() -> bool:
        back = _emails(smtp, admin)["works again"]
        return back >= 1 and _events(receiver)["authorization.restored"] >= 1

    await site.eventually("the restoration emailed and sent by webhook", restored)
    await site.eventually("every connection's history loaded again", site.coverage_complete)
    incidents = (await site.call(1, "GET", "/incidents", params={"state": "all"}))["data"]
    assert [(i["authorization_id"], i["closed_at"] is not None) for i in incidents] == [
        (authorization_id, True)
    ]
    await site.eventually("/metrics showing the restoration", site.metrics_show("active"))
    _nothing_doubled(smtp, receiver, admin)


async def _lapse(
    site: Site,
    authorization_id: str,
    admin: str,
    smtp: Mailbox,
    receiver: Receiver,
) -> None:
    """Alice revokes Tether's access on the platform; a check on web-2 sees it, and everyone
    who should hears of it once."""
    await site.switch("POST", "/users/alice/grants/revoke")
    checked = await site.call(1, "POST", f"/authorizations/{authorization_id}/check")
    assert (checked["status"], checked["reason"]) == ("needs_reconnect", "token_revoked")
    assert (await site.counts(0))["needs_reconnect"] == CONNECTIONS
    opened = (await site.call(0, "GET", "/incidents", params={"state": "open"}))["data"]
    assert [(i["provider"], i["authorization_id"]) for i in opened] == [
        (PROVIDER, authorization_id)
    ]
    await site.eventually("/metrics showing the lapse", site.metrics_show("needs_reconnect"))

    async def told() -> bool:
        lapsed = _emails(smtp, admin)["needs reconnecting"]
        return lapsed >= 1 and _events(receiver)["authorization.lapsed"] >= 1

    await site.eventually("the lapse emailed and sent by webhook", told)


def _emails(smtp: Mailbox, address: str) -> Counter[str]:
    """The emails to `address`, by what their subject says happened."""
    said = ("needs reconnecting", "works again")
    return Counter(
        next((words for words in said if r.subject.endswith(words)), r.subject)
        for r in smtp.to(address)
    )


def _events(receiver: Receiver) -> Counter[str]:
    return Counter(json.loads(r.body)["event"] for r in receiver.delivered("/hooks"))


def _nothing_doubled(smtp: Mailbox, receiver: Receiver, admin: str) -> None:
    """Each email reached each recipient once, and each webhook event arrived once."""
    message_ids = Counter(
        (address, str(r.message["Message-ID"])) for r in smtp.received for address in r.recipients
    )
    assert set(message_ids.values()) == {1}, message_ids
    # The connector heard of the lapse once, and of its end once.
    assert _emails(smtp, admin) == {"needs reconnecting": 1, "works again": 1}
    deliveries = Counter(r.headers["webhook-id"] for r in receiver.delivered("/hooks"))
    assert set(deliveries.values()) == {1}, deliveries
    # One authorization lapsed and came back: its events, not one per connection.
    assert _events(receiver) == {"authorization.lapsed": 1, "authorization.restored": 1}
