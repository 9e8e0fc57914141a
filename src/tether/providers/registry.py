"""Which providers this process can reach, built once from the definitions and the settings.

A provider is available when its app credentials are set (or the sandbox stands in for it);
otherwise its card explains what to set up. Every base URL comes from its definition, then
the settings (`TETHER_PROVIDERS__<KEY>__BASE_URLS__<BASE>`), then the sandbox's dialect when
the sandbox stands in for it.
"""

from dataclasses import dataclass, field, replace

import httpx

from tether.config import ProviderSettings, Settings
from tether.errors import NotFound, Unprocessable
from tether.providers import catalog
from tether.providers.base import OAuthAdapter, ProviderAdapter
from tether.providers.catalog import ProviderInfo, info_of
from tether.providers.custom import declared
from tether.providers.defined import DefinedProvider
from tether.providers.definition import ProviderDefinition, Reports
from tether.providers.oauth import OAuthClient

# What a stand-in uses when the operator set nothing: the sandbox's own registered client.
SANDBOX_DEVELOPER_TOKEN = "sandbox-developer-token"
# The sandbox's own providers: they exist only where a sandbox runs.
SANDBOX_KEYS = ("sandbox", "sandbox_api_key")


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Why a provider cannot be connected here, and the settings that would change that."""

    reason: str
    missing: tuple[str, ...] = ()


@dataclass
class Registry:
    providers: dict[str, DefinedProvider] = field(default_factory=dict)
    definitions: dict[str, ProviderDefinition] = field(default_factory=dict)
    unavailable: dict[str, Unavailable] = field(default_factory=dict)
    infos: tuple[ProviderInfo, ...] = catalog.CATALOG
    public_url: str = "http://127.0.0.1:8000"
    # Providers the sandbox answers for (demo, tests, benchmarks): never a real platform.
    stand_ins: frozenset[str] = frozenset()

    def info(self, key: str) -> ProviderInfo:
        for info in self.infos:
            if info.key == key:
                return info
        raise NotFound(f"There is no provider called {key!r}.", code="unknown_provider")

    def available(self, key: str) -> bool:
        return key in self.providers

    def catalog(self) -> tuple[ProviderInfo, ...]:
        return self.infos

    def definition(self, key: str) -> ProviderDefinition | None:
        return self.definitions.get(key)

    def reports_of(self, key: str) -> Reports | None:
        """The provider's report limits; None when it has no daily loads in Tether."""
        provider = self.providers.get(key)
        return provider.definition.reports if provider is not None else None

    def why_unavailable(self, key: str) -> Unavailable | None:
        if key in self.providers:
            return None
        return self.unavailable.get(key) or Unavailable("Tether cannot connect it yet.")

    def adapter(self, key: str) -> ProviderAdapter:
        info = self.info(key)
        provider = self.providers.get(key)
        if provider is None:
            why = self.why_unavailable(key)
            reason = why.reason if why else ""
            raise Unprocessable(
                f"{info.name} cannot be connected here: {reason}", code="provider_unavailable"
            )
        return provider

    def oauth_adapter(self, key: str) -> OAuthAdapter:
        self.adapter(key)
        provider = self.providers[key]
        if provider.oauth is None:
            raise Unprocessable(
                f"{self.info(key).name} is connected with an API key, not by signing in.",
                code="wrong_auth_kind",
            )
        return provider

    @property
    def oauth(self) -> dict[str, OAuthAdapter]:
        """The available providers that are connected by signing in."""
        return {key: p for key, p in self.providers.items() if p.oauth is not None}


def stand_ins_of(settings: Settings) -> list[str]:
    """The providers the sandbox answers for, from TETHER_SANDBOX_STANDS_IN_FOR."""
    return [k.strip() for k in settings.sandbox_stands_in_for.split(",") if k.strip()]


def build_registry(
    settings: Settings,
    http: httpx.AsyncClient,
    custom: tuple[ProviderDefinition, ...] | None = None,
) -> Registry:
    """Every provider of the catalog and the operator's own (from TETHER_PROVIDERS_FILE unless
    given), each available or not."""
    if custom is None:
        custom = declared(settings)
    stand_ins = set(stand_ins_of(settings))
    classes: dict[str, type[DefinedProvider]] = {d.key: cls for d, cls in catalog.BUILTIN}
    definitions = [d for d, _ in catalog.BUILTIN] + list(custom)
    for key in stand_ins:
        if key not in {d.key for d in definitions}:
            raise ValueError(f"TETHER_SANDBOX_STANDS_IN_FOR names an unknown provider: {key}")
    catalog.install(tuple(info_of(d) for d in custom))
    registry = Registry(
        infos=tuple(info_of(d) for d in definitions),
        public_url=settings.resolved_public_url,
        stand_ins=frozenset(stand_ins),
    )
    for definition in definitions:
        registry.definitions[definition.key] = definition
        _add(registry, definition, classes.get(definition.key, DefinedProvider), settings, http,
             stand_in=definition.key in stand_ins)  # fmt: skip
    return registry


def _add(
    registry: Registry,
    definition: ProviderDefinition,
    cls: type[DefinedProvider],
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    stand_in: bool,
) -> None:
    if (stand_in or definition.key in SANDBOX_KEYS) and not settings.sandbox_runs:
        registry.unavailable[definition.key] = Unavailable(
            "it is answered by the sandbox, and no sandbox runs with this Tether.",
            ("TETHER_SANDBOX_URL",),
        )
        return
    own = _settings_of(definition, settings)
    bases = resolve_bases(definition, settings, own, stand_in=stand_in)
    missing = missing_settings(definition, own, stand_in=stand_in)
    if missing:
        registry.unavailable[definition.key] = Unavailable(
            "its app credentials are not set.", tuple(missing)
        )
        return
    oauth = None
    if definition.oauth is not None:
        client_id, client_secret = _client(definition, settings, own)
        endpoints = replace(
            definition.oauth,
            authorize_url=definition.oauth.authorize_url.format_map(bases),
            token_url=definition.oauth.token_url.format_map(bases),
            revoke_url=(definition.oauth.revoke_url or "").format_map(bases) or None,
        )
        oauth = OAuthClient(
            definition, endpoints, client_id=client_id, client_secret=client_secret, http=http
        )
    headers = {
        header: _setting_value(own, name, stand_in)
        for header, name in definition.setting_headers.items()
    }
    registry.providers[definition.key] = cls(
        definition, http=http, bases=bases, oauth=oauth, headers=headers, settings=own
    )


def _settings_of(definition: ProviderDefinition, settings: Settings) -> ProviderSettings:
    """The provider's own settings, filled in from its family's (e.g. `google`)."""
    merged: dict[str, object] = {}
    for key in reversed(definition.settings_keys):
        found = settings.providers.get(key)
        if found is not None:
            # Only what was set: a provider's own `false` overrides its family's `true`.
            merged |= found.model_dump(exclude_unset=True)
    return ProviderSettings.model_validate(merged)


def resolve_bases(
    definition: ProviderDefinition,
    settings: Settings,
    own: ProviderSettings,
    *,
    stand_in: bool,
) -> dict[str, str]:
    """The definition's bases, overridden by the settings, or by the sandbox's dialect."""
    if definition.key in SANDBOX_KEYS or (stand_in and not definition.dialect):
        return {"sandbox": settings.resolved_sandbox_url}
    bases = dict(definition.bases)
    if stand_in:
        sandbox = settings.resolved_sandbox_url
        bases = {name: f"{sandbox}/{definition.dialect}/{name}" for name in bases}
    return bases | {k: v.rstrip("/") for k, v in own.base_urls.items() if k in bases}


def missing_settings(
    definition: ProviderDefinition, own: ProviderSettings, *, stand_in: bool
) -> list[str]:
    """The variables an operator must set before the provider can be connected."""
    if stand_in or definition.key in SANDBOX_KEYS or definition.oauth is None:
        needed: list[str] = []
    else:
        needed = ["client_id", "client_secret"]
    if not stand_in:
        needed += list(definition.setting_headers.values())
    prefix = f"TETHER_PROVIDERS__{definition.settings_keys[-1].upper()}__"
    return [prefix + name.upper() for name in needed if not getattr(own, name, None)]


def _client(
    definition: ProviderDefinition, settings: Settings, own: ProviderSettings
) -> tuple[str, str]:
    if own.client_id and own.client_secret:
        return own.client_id, own.client_secret
    # The sandbox's own client, for the sandbox and every provider it stands in for.
    return settings.sandbox_client_id, settings.sandbox_client_secret


def _setting_value(own: ProviderSettings, name: str, stand_in: bool) -> str:
    value = getattr(own, name, None)
    if value:
        return str(value)
    return SANDBOX_DEVELOPER_TOKEN if stand_in else ""
