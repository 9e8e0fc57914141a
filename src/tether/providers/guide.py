"""How a provider is set up here: what it needs, what to register where, what Tether knows of
its tokens. The Data sources card, `GET /api/v1/providers/{key}` and docs/providers.md say the
same thing from this one place."""

from dataclasses import dataclass

from tether.config import ProviderSettings
from tether.providers.base import AuthKind
from tether.providers.definition import Lifetimes
from tether.providers.registry import Registry, missing_settings


@dataclass(frozen=True, slots=True)
class SetupGuide:
    key: str
    name: str
    auth_kind: AuthKind
    available: bool
    # Why it cannot be connected here, when it cannot.
    reason: str | None
    # The variables still to set (empty once available).
    missing: tuple[str, ...]
    # Every variable the provider reads.
    settings: tuple[str, ...]
    register_url: str
    steps: tuple[str, ...]
    # OAuth only: the exact redirect URI to register, and the scopes Tether asks for.
    redirect_uri: str | None
    scopes: tuple[str, ...]
    lifetimes: Lifetimes | None
    daily_loads: bool
    defined: bool


def guide(registry: Registry, key: str, redirect_uri: str) -> SetupGuide:
    """What it takes to connect one provider of the catalog here."""
    info = registry.info(key)
    definition = registry.definition(key)
    why = registry.why_unavailable(key)
    if definition is None:
        return SetupGuide(
            key, info.name, info.auth_kind, False, why.reason if why else None, (), (), "", (),
            None, (), None, False, False,
        )  # fmt: skip
    oauth = definition.oauth
    every = tuple(
        missing_settings(definition, ProviderSettings(), stand_in=False)
        + [_variable(definition.settings_keys[-1], "base_urls__" + b) for b in definition.bases]
    )
    if oauth is not None and definition.family == "google":
        every += (_variable("google", "consent_testing"),)
    return SetupGuide(
        key=key,
        name=info.name,
        auth_kind=info.auth_kind,
        available=why is None,
        reason=why.reason if why else None,
        missing=why.missing if why else (),
        settings=every,
        register_url=definition.setup.register_url,
        steps=definition.setup.steps,
        redirect_uri=redirect_uri if oauth is not None else None,
        scopes=oauth.scopes if oauth is not None else (),
        lifetimes=definition.lifetimes,
        daily_loads=definition.reports is not None,
        defined=True,
    )


def _variable(key: str, name: str) -> str:
    return f"TETHER_PROVIDERS__{key.upper()}__{name.upper()}"
