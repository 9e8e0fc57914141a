"""Row locks taken in one order, so that transactions may wait for each other but never
deadlock.

Writers lock in this order: authorizations, then their accounts, then their connections, then
incidents and what hangs off them. So:

- a transaction that changes an authorization's accounts or connections locks the
  authorization first, and reads it as it is once locked (`locked`);
- one that writes several authorizations (or the accounts and connections of several) locks
  those authorizations in id order before anything else (`lock_in_order`, or `all_locked`
  to read them as they are once held);
- work handed out or claimed in bulk (due checks, syncs, emails) passes over rows another
  transaction holds (`free_of`): they are that transaction's for now, and come round again at
  the next pass. A bulk UPDATE that waited would hold the rows it had already passed while
  waiting, in an order of the planner's choosing.

PostgreSQL takes `FOR NO KEY UPDATE`, which does not stop another transaction inserting a row
that refers to the locked one (a new connection to the authorization). SQLite locks the whole
database for any write and renders neither clause.
"""

import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def locked(session: AsyncSession, model: type[T], row_id: uuid.UUID) -> T | None:
    """The row as it is once this transaction holds it (None if it is gone), waiting for any
    other transaction that holds it."""
    return await session.get(
        model, row_id, populate_existing=True, with_for_update={"key_share": True}
    )


async def lock_in_order(session: AsyncSession, model: type[Any], ids: Iterable[uuid.UUID]) -> None:
    """Lock these rows of `model` in id order, waiting for those another transaction holds."""
    wanted = sorted(set(ids))
    if wanted:
        stmt = select(model.id).where(model.id.in_(wanted)).order_by(model.id)
        await session.execute(stmt.with_for_update(key_share=True))


async def all_locked(session: AsyncSession, model: type[T], ids: Iterable[uuid.UUID]) -> list[T]:
    """These rows as they are once this transaction holds them all, locked in id order (those
    gone are left out), waiting for any other transaction that holds one."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    stmt = select(model).where(model.id.in_(wanted)).order_by(model.id)  # type: ignore[attr-defined]
    stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    return list((await session.scalars(stmt)).all())


def free_of(
    model: type[Any], ids: Iterable[uuid.UUID], *conditions: ColumnElement[bool]
) -> Select[Any]:
    """The ids among these whose rows meet `conditions` and no other transaction holds, locked
    by this one as the statement that selects them runs (a subquery for a bulk UPDATE)."""
    stmt = select(model.id).where(model.id.in_(list(ids)), *conditions)
    return stmt.with_for_update(key_share=True, skip_locked=True)
