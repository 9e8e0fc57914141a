"""Reconnect links: signed, expiring, for exactly one authorization or connection."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from tether import vault
from tether.actor import Actor
from tether.db import utcnow
from tether.errors import Forbidden, TetherError
from tether.kit.signing import BadSignature, Expired, Signer

PURPOSE = "reconnect"
LIFETIME = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Target:
    organization_id: uuid.UUID
    authorization_id: uuid.UUID | None
    connection_id: uuid.UUID | None


def _signer() -> Signer:
    return Signer(vault.keyring().derive("links"))


def reconnect_token(target: Target, *, now: datetime | None = None) -> str:
    payload = {
        "org": str(target.organization_id),
        "authorization": str(target.authorization_id) if target.authorization_id else None,
        "connection": str(target.connection_id) if target.connection_id else None,
    }
    return _signer().sign(payload, purpose=PURPOSE, expires_at=(now or utcnow()) + LIFETIME)


def reconnect_url(public_url: str, target: Target) -> str:
    return f"{public_url}/reconnect/{reconnect_token(target)}"


def open_link(token: str, actor: Actor) -> Target:
    """What a link reconnects, if it is genuine, current, and the actor's organization's."""
    target = check_link(token)
    if target.organization_id != actor.organization_id:
        raise Forbidden("This reconnect link belongs to another organization.", code="link_foreign")
    return target


def check_link(token: str) -> Target:
    """The target of a genuine, current link (whoever holds it); raises a clear refusal."""
    try:
        payload = _signer().verify(token, purpose=PURPOSE, now=utcnow())
    except Expired:
        raise TetherError(
            "This reconnect link has expired. Open the connection in Tether to reconnect it.",
            code="link_expired",
            status=410,
        ) from None
    except BadSignature:
        raise TetherError(
            "This reconnect link is not valid. Use the link from the latest email or notification.",
            code="link_invalid",
            # No such link was ever given out: like any other id that names nothing.
            status=404,
        ) from None
    return Target(
        uuid.UUID(payload["org"]),
        uuid.UUID(payload["authorization"]) if payload.get("authorization") else None,
        uuid.UUID(payload["connection"]) if payload.get("connection") else None,
    )
