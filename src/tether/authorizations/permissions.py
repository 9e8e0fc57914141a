"""Who may reconnect an authorization, and how."""

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from tether.authorizations import repository
from tether.errors import Forbidden
from tether.members.actor import Actor
from tether.models import Authorization, Connection, Role


class ReconnectMode(StrEnum):
    IN_PLACE = "in_place"  # new tokens into the same authorization, for every client it serves
    OWN_CLIENTS = "own_clients"  # a new authorization for the member's clients only


async def reconnect_mode(
    session: AsyncSession,
    actor: Actor,
    authorization: Authorization,
    connection: Connection | None = None,
) -> ReconnectMode:
    """The connector, admins, and staff who see every client it serves reconnect in place;
    staff who see only some reconnect their own clients' connections; viewers never."""
    if actor.role == Role.VIEWER:
        raise Forbidden("Viewers cannot reconnect data sources; ask an admin or a staff member.")
    if actor.is_admin or actor.client_ids is None or authorization.connector_id == actor.member_id:
        return ReconnectMode.IN_PLACE
    served = await repository.client_ids_served(session, authorization.id)
    if served <= actor.client_ids:
        return ReconnectMode.IN_PLACE
    if connection is not None and actor.can_see_client(connection.client_id):
        return ReconnectMode.OWN_CLIENTS
    raise Forbidden(
        "This data source also serves clients you cannot see, so only its connector or an admin "
        "can reconnect it for everyone. Reconnect one of your own clients' connections instead.",
        code="reconnect_not_allowed",
    )
