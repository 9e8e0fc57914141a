"""Typed request dependencies, so an endpoint's needs and rights show in its signature."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.config import Settings
from tether.db import transaction
from tether.errors import NotAuthenticated
from tether.members import service as members
from tether.providers.registry import Registry

_bearer = HTTPBearer(auto_error=False, description="An API token (`tth_…`).")


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in transaction(request.app.state.sessionmaker):
        yield session


# scope="function": commit before the response is sent, so a failed commit is never a 200.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


async def _actor(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise NotAuthenticated("Sign in: send an API token as `Authorization: Bearer <token>`.")
    return await members.authenticate(session, credentials.credentials)


CurrentActor = Annotated[Actor, Depends(_actor)]


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


RegistryDep = Annotated[Registry, Depends(_registry)]
SettingsDep = Annotated[Settings, Depends(_settings)]
