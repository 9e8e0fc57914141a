"""invitations: members join by accepting an emailed invitation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tether.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("client_ids", sa.JSON(), nullable=True),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        sa.Column("link_nonce", sa.String(length=64), nullable=False),
        sa.Column("created_at", tether.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tether.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("email_due_at", tether.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("email_sent_at", tether.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("email_attempts", sa.Integer(), nullable=False),
        sa.Column("email_last_error", sa.Text(), nullable=True),
        sa.Column("email_abandoned_at", tether.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["members.id"],
            name=op.f("fk_invitations_invited_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_invitations_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint(
            "organization_id", "email", name=op.f("uq_invitations_organization_id_email")
        ),
    )
    with op.batch_alter_table("invitations") as batch:
        batch.create_index(batch.f("ix_invitations_email_due_at"), ["email_due_at"], unique=False)
        batch.create_index(
            batch.f("ix_invitations_organization_id"), ["organization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch:
        batch.drop_index(batch.f("ix_invitations_organization_id"))
        batch.drop_index(batch.f("ix_invitations_email_due_at"))
    op.drop_table("invitations")
