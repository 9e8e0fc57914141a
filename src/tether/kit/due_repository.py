"""Rows that are work coming due (an email to send, a sync asked for): handing them out,
claiming, marking them.

A table of such rows has a due time, a count of attempts, and two ends: done (`done_at`: sent,
finished) and given up (`abandoned_at`). A row is pending while it has neither. The scheduler
hands pending rows out by moving their due time ahead, so its next pass does not hand them out
again; a worker claims them before the attempt, which moves the due time past any second claim. Both
are single UPDATEs that return the rows they moved: two schedulers or two workers racing for
a row never both get it, and neither waits for a row another transaction holds
(`locks_repository.free_of`): it comes round again at the next pass.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from tether.kit.locks_repository import free_of


async def hand_out_due(
    session: AsyncSession,
    due_at: InstrumentedAttribute[Any],
    ids: Sequence[uuid.UUID],
    now: datetime,
    until: datetime,
) -> set[uuid.UUID]:
    """Move the rows of `ids` still due at `now` out of the scheduler's sight until `until`
    (the column `due_at` says when a row is due); returns the ones moved."""
    model = cast(type[Any], due_at.class_)  # a mapped class's column, never an alias's
    return await move_free(session, model, ids, [due_at <= now], {due_at.key: until})


async def move_free(
    session: AsyncSession,
    model: type[Any],
    ids: Sequence[uuid.UUID],
    conditions: Sequence[ColumnElement[bool]],
    values: dict[str, Any],
) -> set[uuid.UUID]:
    """Change the rows of `ids` that meet `conditions` and no other transaction holds; returns
    the ones changed."""
    if not ids:
        return set()
    stmt = (
        update(model)
        .where(model.id.in_(free_of(model, ids, *conditions)))
        .values(values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return set((await session.execute(stmt)).scalars().all())


@dataclass(frozen=True, slots=True)
class DueRows:
    """Which columns of `model` say when a row is due and how it ended."""

    model: type[Any]
    due_at: InstrumentedAttribute[Any]
    attempts: InstrumentedAttribute[int]
    done_at: InstrumentedAttribute[Any]
    abandoned_at: InstrumentedAttribute[Any]
    last_error: InstrumentedAttribute[Any]

    def pending(self) -> ColumnElement[bool]:
        return and_(self.done_at.is_(None), self.abandoned_at.is_(None))

    async def due(self, session: AsyncSession, now: datetime, limit: int) -> Sequence[uuid.UUID]:
        """Pending rows whose time has come, the longest due first, at most `limit`."""
        stmt = (
            select(self.model.id)
            .where(self.pending(), self.due_at <= now)
            .order_by(self.due_at)
            .limit(limit)
        )
        return (await session.scalars(stmt)).all()

    async def hand_out(
        self, session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime, until: datetime
    ) -> set[uuid.UUID]:
        """Move due rows out of the scheduler's sight until `until`; returns the ones moved."""
        return await move_free(
            session, self.model, ids, [self.pending(), self.due_at <= now], {self.due_at.key: until}
        )

    async def claim(
        self,
        session: AsyncSession,
        ids: Sequence[uuid.UUID],
        *,
        claimable_until: datetime,
        until: datetime,
    ) -> set[uuid.UUID]:
        """Take pending rows for one attempt: count it and hold them until `until`.

        A row is claimable while its due time is at most `claimable_until`; a claim sets it past
        that, so a second worker running the same job meanwhile finds nothing to do."""
        values = {self.due_at.key: until, self.attempts.key: self.attempts + 1}
        conditions = [self.pending(), self.due_at <= claimable_until]
        return await move_free(session, self.model, ids, conditions, values)

    async def mark_done(
        self, session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime, **values: Any
    ) -> None:
        """End these rows' work: done at `now`, with any other `values` of the same rows."""
        changes = {self.done_at.key: now, self.last_error.key: None, **values}
        await self._update(session, ids, changes)

    async def mark_failed(
        self, session: AsyncSession, ids: Sequence[uuid.UUID], error: str, retry_at: datetime
    ) -> None:
        await self._update(session, ids, {self.last_error.key: error, self.due_at.key: retry_at})

    async def mark_abandoned(
        self, session: AsyncSession, ids: Sequence[uuid.UUID], error: str, now: datetime
    ) -> None:
        await self._update(session, ids, {self.last_error.key: error, self.abandoned_at.key: now})

    async def _update(
        self, session: AsyncSession, ids: Sequence[uuid.UUID], values: dict[str, Any]
    ) -> None:
        """Change the rows of `ids` still pending: neither sent nor abandoned."""
        await session.execute(
            update(self.model)
            .where(self.model.id.in_(ids), self.pending())
            .values(values)
            .execution_options(synchronize_session=False)
        )
