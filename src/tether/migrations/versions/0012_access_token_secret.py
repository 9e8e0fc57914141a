"""authorizations.access_token_secret: OAuth 1.0a's token secret, sealed beside its token

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tether.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("authorizations") as batch:
        batch.add_column(sa.Column("access_token_secret", tether.db.SealedText(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("authorizations") as batch:
        batch.drop_column("access_token_secret")
