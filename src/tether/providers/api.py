"""/api/v1/providers: the catalog."""

from fastapi import APIRouter

from tether.deps import CurrentActor, RegistryDep
from tether.kit.schemas import Counted, Schema
from tether.providers.base import AuthKind
from tether.providers.catalog import ProviderInfo
from tether.providers.registry import Registry

router = APIRouter(tags=["providers"])


class ProviderRead(Schema):
    key: str
    name: str
    auth_kind: AuthKind
    available: bool
    email_grouping: str
    description: str


def _read(registry: Registry, info: ProviderInfo) -> ProviderRead:
    return ProviderRead(
        key=info.key,
        name=info.name,
        auth_kind=info.auth_kind,
        available=registry.available(info.key),
        email_grouping=info.email_grouping,
        description=info.description,
    )


@router.get("/providers")
async def list_providers(_: CurrentActor, registry: RegistryDep) -> Counted[ProviderRead]:
    catalog = registry.catalog()
    return Counted(data=[_read(registry, info) for info in catalog], total=len(catalog))


@router.get("/providers/{key}")
async def get_provider(_: CurrentActor, registry: RegistryDep, key: str) -> ProviderRead:
    return _read(registry, registry.info(key))
