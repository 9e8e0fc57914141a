"""provider definitions: refresh tokens with a fixed end, accounts reached through a manager

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tether.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("authorizations") as batch:
        batch.add_column(
            sa.Column("refresh_expires_at", tether.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("manager_external_id", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("manager_external_id")
    with op.batch_alter_table("authorizations") as batch:
        batch.drop_column("refresh_expires_at")
