"""Typed request dependencies, so an endpoint's needs and rights show in its signature."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise NotAuthenticated("Sign in: send an API token as `Authorization: Bearer <token>`.")
    return credentials.credentials


async def _actor(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    return await members.authenticate(session, _token(credentials))


CurrentActor = Annotated[Actor, Depends(_actor)]


async def _actor_apart(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    async with request.app.state.sessionmaker.begin() as session:
        return await members.authenticate(session, _token(credentials))


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return sessionmaker


# For a route that waits on a provider or an endpoint: the actor is authenticated in a
# transaction of its own, committed before the route runs, and the route opens short ones
# (`async with sessions.begin() as session:`) before and after the wait, so it holds no
# transaction, lock or snapshot while it waits. Every other route takes `SessionDep`.
ActorApart = Annotated[Actor, Depends(_actor_apart)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


RegistryDep = Annotated[Registry, Depends(_registry)]
SettingsDep = Annotated[Settings, Depends(_settings)]
