"""Tether with the providers of `providers.toml`, against an OAuth 2.0 server this project did
not write (panva's oidc-provider), on SQLite and on PostgreSQL.

`tether` is overridden here, so the shared fixtures (`org`, the clean-up between tests) work on
this Tether. The file's placeholder bases are pointed at the running servers by settings, as
an operator would point them with `TETHER_PROVIDERS__<KEY>__BASE_URLS__<BASE>`.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.databases import Backend
from tests.fixtures.keys import TEST_KEYS
from tests.fixtures.oidc import OidcClient, OidcServer, oidc_server
from tests.fixtures.running import Tether, bound_socket, running
from tests.fixtures.smtp import Mailbox
from tether.app import create_app
from tether.config import ProviderSettings, Settings
from tether.db import create_engine, create_sessionmaker
from tether.kit.crypto import KeyRing

PROVIDERS_FILE = Path(__file__).parent / "providers.toml"
# Test-only clients of the test-only server.
ADS_CLIENT = OidcClient("tether-acme-ads", "acme-ads-test-secret", "client_secret_basic")
DIRECTORY_CLIENT = OidcClient(
    "tether-acme-directory", "acme-directory-test-secret", "client_secret_post"
)
REFRESH_TOKEN_TTL = 86400


@dataclass
class Acme:
    tether: Tether
    idp: OidcServer


def _settings(base: Settings, idp: OidcServer, tether_url: str) -> Settings:
    def client(c: OidcClient) -> ProviderSettings:
        return ProviderSettings(
            client_id=c.client_id, client_secret=c.client_secret, base_urls={"idp": idp.issuer}
        )

    return base.model_copy(
        update={
            "providers_file": PROVIDERS_FILE,
            "providers": {
                "acme_ads": client(ADS_CLIENT),
                "acme_directory": client(DIRECTORY_CLIENT),
                "acme_keys": ProviderSettings(base_urls={"api": f"{tether_url}/sandbox"}),
            },
        }
    )


@pytest.fixture(scope="session")
async def acme(
    backend: Backend, data_dir: Path, keyring: KeyRing, smtp_server: Mailbox
) -> AsyncIterator[Acme]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    with oidc_server(
        clients=[ADS_CLIENT, DIRECTORY_CLIENT],
        redirect_uris=[f"{base_url}/oauth/callback"],
        refresh_token_ttl=REFRESH_TOKEN_TTL,
    ) as idp:
        base = Settings(
            data_dir=data_dir,
            database_url=backend.url,
            secret_keys=TEST_KEYS,
            port=port,
            background=False,
            provider_timeout_seconds=5.0,
            smtp_host="127.0.0.1",
            smtp_port=smtp_server.port,
            smtp_tls="none",
            smtp_timeout_seconds=5.0,
        )
        settings = _settings(base, idp, base_url)
        engine = create_engine(backend.url)
        with running(create_app(settings), sock):
            yield Acme(Tether(backend, base_url, settings, create_sessionmaker(engine)), idp)
        await engine.dispose()


@pytest.fixture(scope="session")
def tether(acme: Acme) -> Tether:
    return acme.tether


@pytest.fixture
async def idp(acme: Acme) -> AsyncIterator[OidcServer]:
    """The OAuth server, its clock put back after each test."""
    yield acme.idp
    await acme.idp.reset_clock()
