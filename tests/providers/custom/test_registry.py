"""Declared providers in the registry: in the catalog at once, available once their app
credentials are set, exactly like built-in ones."""

import httpx

from tether.config import ProviderSettings, Settings
from tether.providers import catalog
from tether.providers.custom import declared
from tether.providers.registry import build_registry

from .conftest import PROVIDERS_FILE


async def test_a_declared_oauth_provider_waits_for_its_credentials_from_the_environment() -> None:
    settings = Settings(providers_file=PROVIDERS_FILE, providers={})
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http, custom=declared(settings))

    assert [i.key for i in registry.catalog() if i.key.startswith("acme_")] == [
        "acme_ads",
        "acme_directory",
        "acme_keys",
    ]
    assert not registry.available("acme_ads")
    why = registry.why_unavailable("acme_ads")
    assert why is not None
    assert why.missing == (
        "TETHER_PROVIDERS__ACME_ADS__CLIENT_ID",
        "TETHER_PROVIDERS__ACME_ADS__CLIENT_SECRET",
    )
    assert registry.available("acme_keys")  # each member brings their own key
    assert catalog.name_of("acme_keys") == "Acme Keys"  # emails and audit entries name it


async def test_settings_point_a_declared_providers_bases_elsewhere() -> None:
    own = ProviderSettings(
        client_id="id", client_secret="secret", base_urls={"idp": "https://idp.test/"}
    )
    settings = Settings(providers_file=PROVIDERS_FILE, providers={"acme_ads": own})
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http, custom=declared(settings))
        provider = registry.providers["acme_ads"]

    assert provider.url("{idp}/me") == "https://idp.test/me"
    assert provider.oauth is not None
    assert provider.oauth.endpoints.token_url == "https://idp.test/token"
