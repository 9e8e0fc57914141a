"""sign-in brakes: one counter per email and per client address, replacing a row per failure

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tether.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_brakes",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("counted_at", tether.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", tether.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_brakes")),
    )
    with op.batch_alter_table("sign_in_brakes") as batch:
        batch.create_index(batch.f("ix_sign_in_brakes_counted_at"), ["counted_at"], unique=False)
    # Old failures would only have counted towards a lock-out that no longer exists.
    with op.batch_alter_table("login_failures") as batch:
        batch.drop_index("ix_login_failures_email_at")
        batch.drop_index("ix_login_failures_address_at")
    op.drop_table("login_failures")


def downgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", tether.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures") as batch:
        batch.create_index("ix_login_failures_address_at", ["address", "at"], unique=False)
        batch.create_index("ix_login_failures_email_at", ["email", "at"], unique=False)
    with op.batch_alter_table("sign_in_brakes") as batch:
        batch.drop_index(batch.f("ix_sign_in_brakes_counted_at"))
    op.drop_table("sign_in_brakes")
