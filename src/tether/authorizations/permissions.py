"""Who may act on an authorization, and how it may be reconnected.

One rule for every action on an authorization (reconnect in place, replace its API key, check,
promote, delete), so the API and the web pages cannot disagree: admins, its connector, and staff
who see every client it serves act on it for everyone; viewers never act. An authorization that
serves no client yet is nobody's client's: it is left to its connector, admins and staff who see
every client.
"""

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from tether.actor import Actor
from tether.authorizations import repository
from tether.errors import Forbidden
from tether.models import Authorization, Connection, Role


class ReconnectMode(StrEnum):
    IN_PLACE = "in_place"  # new tokens into the same authorization, for every client it serves
    OWN_CLIENTS = "own_clients"  # a new authorization for the member's clients only


async def refusal(
    session: AsyncSession,
    actor: Actor,
    authorization: Authorization,
    doing: str,
    *,
    subject: str = "This data source",
) -> str | None:
    """Why the actor may not act on the authorization for everyone (None when they may), in
    words that say who can: `doing` is the action on it, as in "delete it"."""
    if actor.role == Role.VIEWER:
        return "Viewers cannot act on data sources; ask an admin or a staff member."
    if actor.is_admin or actor.client_ids is None or authorization.connector_id == actor.member_id:
        return None
    served = await repository.client_ids_served(session, authorization.id)
    if not served:
        return (
            f"{subject} serves none of your clients, so only its connector, an admin or staff "
            f"who see every client can {doing}."
        )
    if served <= actor.client_ids:
        return None
    return (
        f"{subject} also serves clients you cannot see, so only its connector or an admin "
        f"can {doing}."
    )


async def require_acting_for_everyone(
    session: AsyncSession,
    actor: Actor,
    authorization: Authorization,
    doing: str,
    *,
    subject: str = "This data source",
) -> None:
    """Refuse (403, saying who can) unless the actor may act on the authorization for everyone."""
    refused = await refusal(session, actor, authorization, doing, subject=subject)
    if refused is not None:
        raise Forbidden(refused, code="not_allowed_for_everyone")


async def reconnect_mode(
    session: AsyncSession,
    actor: Actor,
    authorization: Authorization,
    connection: Connection | None = None,
) -> ReconnectMode:
    """Those who may act for everyone reconnect in place; staff who see only some of the
    clients it serves reconnect their own clients' connections; viewers never."""
    if actor.role == Role.VIEWER:
        raise Forbidden("Viewers cannot reconnect data sources; ask an admin or a staff member.")
    refused = await refusal(session, actor, authorization, "reconnect it for everyone")
    if refused is None:
        return ReconnectMode.IN_PLACE
    if connection is not None and actor.can_see_client(connection.client_id):
        return ReconnectMode.OWN_CLIENTS
    # Staff reach their own clients' connections through one of them (only when it serves any).
    if (
        actor.client_ids is not None
        and await repository.client_ids_served(session, authorization.id) & actor.client_ids
    ):
        refused += " Reconnect one of your own clients' connections instead."
    raise Forbidden(refused, code="reconnect_not_allowed")
