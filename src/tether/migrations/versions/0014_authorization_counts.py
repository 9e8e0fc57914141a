"""authorization_counts: authorizations by organization, provider and status, kept by triggers

The same design as the connections' counts (0013, docs/decisions/009): SQLite's row triggers
change the counts themselves; PostgreSQL's statement triggers append net changes to
`authorization_count_changes`, which the scheduler folds in.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRES_FUNCTION = """
CREATE FUNCTION authorization_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO authorization_count_changes (organization_id, provider, status, n)
        SELECT organization_id, provider, status, count(*)
        FROM new_rows GROUP BY organization_id, provider, status;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO authorization_count_changes (organization_id, provider, status, n)
        SELECT organization_id, provider, status, -count(*)
        FROM old_rows GROUP BY organization_id, provider, status;
    ELSE
        INSERT INTO authorization_count_changes (organization_id, provider, status, n)
        SELECT organization_id, provider, status, sum(n)
        FROM (
            SELECT organization_id, provider, status, 1 AS n FROM new_rows
            UNION ALL
            SELECT organization_id, provider, status, -1 AS n FROM old_rows
        ) AS moved
        GROUP BY organization_id, provider, status
        HAVING sum(n) <> 0;
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGERS = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}

_ADD = """
    INSERT INTO authorization_counts (organization_id, provider, status, n)
    VALUES (NEW.organization_id, NEW.provider, NEW.status, 1)
    ON CONFLICT (organization_id, provider, status) DO UPDATE SET n = n + 1;
"""
_TAKE = """
    UPDATE authorization_counts SET n = n - 1
    WHERE organization_id = OLD.organization_id AND provider = OLD.provider
      AND status = OLD.status;
"""
SQLITE_TRIGGERS = {
    "authorizations_counted_insert": f"AFTER INSERT ON authorizations BEGIN {_ADD} END",
    "authorizations_counted_delete": f"AFTER DELETE ON authorizations BEGIN {_TAKE} END",
    "authorizations_counted_update": (
        "AFTER UPDATE OF organization_id, provider, status ON authorizations "
        "WHEN OLD.organization_id IS NOT NEW.organization_id OR OLD.provider IS NOT NEW.provider "
        f"OR OLD.status IS NOT NEW.status BEGIN {_TAKE} {_ADD} END"
    ),
}


def upgrade() -> None:
    op.create_table(
        "authorization_counts",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_authorization_counts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "provider", "status", name=op.f("pk_authorization_counts")
        ),
    )
    op.create_table(
        "authorization_count_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_count_changes")),
    )
    op.create_index(
        op.f("ix_authorization_count_changes_organization_id"),
        "authorization_count_changes",
        ["organization_id"],
    )
    # The counts of the authorizations there are, then the triggers that keep them (servers
    # refuse to run on a schema behind theirs, so nothing writes authorizations meanwhile).
    op.execute(
        "INSERT INTO authorization_counts (organization_id, provider, status, n) "
        "SELECT organization_id, provider, status, count(*) FROM authorizations "
        "GROUP BY organization_id, provider, status"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for event, transition in POSTGRES_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER authorizations_counted_{event.lower()} AFTER {event} "
                f"ON authorizations {transition} "
                "FOR EACH STATEMENT EXECUTE FUNCTION authorization_counts_changed()"
            )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "update", "delete"):
        on = " ON authorizations" if postgres else ""
        op.execute(f"DROP TRIGGER IF EXISTS authorizations_counted_{event}{on}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS authorization_counts_changed()")
    op.drop_index(
        op.f("ix_authorization_count_changes_organization_id"),
        table_name="authorization_count_changes",
    )
    op.drop_table("authorization_count_changes")
    op.drop_table("authorization_counts")
