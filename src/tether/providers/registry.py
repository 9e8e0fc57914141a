"""Which adapter serves which provider. Built once per process from the settings."""

from dataclasses import dataclass, field

import httpx

from tether.config import Settings
from tether.errors import NotFound, Unprocessable
from tether.providers.base import AuthKind, OAuthAdapter, ProviderAdapter
from tether.providers.catalog import BY_KEY, CATALOG, ProviderInfo
from tether.providers.sandbox import SandboxAdapter


@dataclass
class Registry:
    adapters: dict[str, ProviderAdapter] = field(default_factory=dict)
    oauth: dict[str, OAuthAdapter] = field(default_factory=dict)

    def info(self, key: str) -> ProviderInfo:
        info = BY_KEY.get(key)
        if info is None:
            raise NotFound(f"There is no provider called {key!r}.", code="unknown_provider")
        return info

    def available(self, key: str) -> bool:
        return key in self.adapters

    def catalog(self) -> tuple[ProviderInfo, ...]:
        return CATALOG

    def adapter(self, key: str) -> ProviderAdapter:
        info = self.info(key)
        adapter = self.adapters.get(key)
        if adapter is None:
            raise Unprocessable(
                f"{info.name} cannot be connected yet: its adapter is not part of this release.",
                code="provider_unavailable",
            )
        return adapter

    def oauth_adapter(self, key: str) -> OAuthAdapter:
        self.adapter(key)
        adapter = self.oauth.get(key)
        if adapter is None:
            raise Unprocessable(
                f"{self.info(key).name} is connected with an API key, not by signing in.",
                code="wrong_auth_kind",
            )
        return adapter


def build_registry(settings: Settings, http: httpx.AsyncClient) -> Registry:
    sandbox = SandboxAdapter(
        http,
        base_url=settings.resolved_sandbox_url,
        client_id=settings.sandbox_client_id,
        client_secret=settings.sandbox_client_secret,
    )
    registry = Registry(
        adapters={"sandbox": sandbox, "sandbox_api_key": sandbox},
        oauth={"sandbox": sandbox},
    )
    for key in filter(None, (k.strip() for k in settings.sandbox_stands_in_for.split(","))):
        info = registry.info(key)
        registry.adapters[key] = sandbox
        if info.auth_kind == AuthKind.OAUTH2:
            registry.oauth[key] = sandbox
    return registry
