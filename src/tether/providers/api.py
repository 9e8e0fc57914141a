"""/api/v1/providers: the catalog, and how each provider is set up here."""

from typing import Annotated

from fastapi import APIRouter, Path

from tether.deps import CurrentActor, RegistryDep, SettingsDep
from tether.kit.schemas import Counted, Schema
from tether.providers.base import AuthKind
from tether.providers.catalog import ProviderInfo
from tether.providers.guide import SetupGuide, guide
from tether.providers.registry import Registry


class LifetimesRead(Schema):
    access_seconds: int | None
    refreshable: bool
    rotates_refresh_token: bool
    refresh_fixed_seconds: int | None
    notes: str


class SetupRead(Schema):
    """What an operator sets to make the provider available. Names of settings only: never
    their values."""

    reason: str | None
    missing: list[str]
    settings: list[str]
    register_url: str
    steps: list[str]
    redirect_uri: str | None
    scopes: list[str]
    lifetimes: LifetimesRead | None


class ProviderRead(Schema):
    key: str
    name: str
    auth_kind: AuthKind
    available: bool
    email_grouping: str
    description: str
    daily_loads: bool


class ProviderDetail(ProviderRead):
    setup: SetupRead


router = APIRouter(tags=["providers"])


def _read(registry: Registry, info: ProviderInfo) -> ProviderRead:
    definition = registry.definition(info.key)
    return ProviderRead(
        key=info.key,
        name=info.name,
        auth_kind=info.auth_kind,
        available=registry.available(info.key),
        email_grouping=info.email_grouping,
        description=info.description,
        daily_loads=definition is not None and definition.reports is not None,
    )


def _setup(found: SetupGuide) -> SetupRead:
    lifetimes = found.lifetimes
    return SetupRead(
        reason=found.reason,
        missing=list(found.missing),
        settings=list(found.settings),
        register_url=found.register_url,
        steps=list(found.steps),
        redirect_uri=found.redirect_uri,
        scopes=list(found.scopes),
        lifetimes=LifetimesRead.model_validate(lifetimes, from_attributes=True)
        if lifetimes
        else None,
    )


@router.get("/providers")
async def list_providers(_: CurrentActor, registry: RegistryDep) -> Counted[ProviderRead]:
    catalog = registry.catalog()
    return Counted(data=[_read(registry, info) for info in catalog], total=len(catalog))


@router.get("/providers/{key}")
async def get_provider(
    _: CurrentActor,
    registry: RegistryDep,
    settings: SettingsDep,
    key: Annotated[str, Path(max_length=40)],
) -> ProviderDetail:
    """One provider, with how to set it up here (the redirect URI to register, its scopes,
    the settings it still needs)."""
    read = _read(registry, registry.info(key))
    found = guide(registry, key, settings.oauth_redirect_uri)
    return ProviderDetail(**read.model_dump(), setup=_setup(found))
