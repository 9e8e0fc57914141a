"""API tokens may expire; an email that cannot be delivered is abandoned with its reason

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tether.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("expires_at", tether.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("email_deliveries") as batch:
        batch.add_column(
            sa.Column("abandoned_at", tether.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("email_deliveries") as batch:
        batch.drop_column("abandoned_at")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
