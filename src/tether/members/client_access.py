"""The clients a limited staff member may see, kept in memory between their requests.

Every request of such a member needs the set, and loading it is a query of one row per client
(thousands, for a member of a big agency). The member's row, which authenticating reads
anyway, carries `updated_at`, and every change of access moves it in the same transaction
(`repository.replace_client_access`). A kept set is used only while the row still shows the
moment it was read at, so a change made through any process is seen by the next request of
every process. The row is read before the set, and both change in one commit, so a set is never
kept under a moment older than itself. A client deleted meanwhile may linger in a kept set,
which grants nothing: no row has its id any more.
"""

import uuid
from collections import OrderedDict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tether.members import repository
from tether.models import Member

KEEP = 1024  # members whose sets are kept, the least recently used dropped first

_kept: OrderedDict[uuid.UUID, tuple[datetime, frozenset[uuid.UUID]]] = OrderedDict()


async def visible_clients(session: AsyncSession, member: Member) -> frozenset[uuid.UUID]:
    kept = _kept.get(member.id)
    if kept is not None and kept[0] == member.updated_at:
        _kept.move_to_end(member.id)
        return kept[1]
    ids = await repository.client_ids(session, member.id)
    _kept[member.id] = (member.updated_at, ids)
    _kept.move_to_end(member.id)
    while len(_kept) > KEEP:
        _kept.popitem(last=False)
    return ids
