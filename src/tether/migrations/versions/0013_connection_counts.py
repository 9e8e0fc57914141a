"""connection_counts: connections by organization, provider and status, kept by triggers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# PostgreSQL: one call per statement, with the rows it changed as transition tables; it appends
# the statement's net change per (organization, provider, status), zero changes left out. An
# insert takes no lock another transaction waits on, whatever the organization.
POSTGRES_FUNCTION = """
CREATE FUNCTION connection_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO connection_count_changes (organization_id, provider, status, n)
        SELECT organization_id, provider, status, count(*)
        FROM new_rows GROUP BY organization_id, provider, status;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO connection_count_changes (organization_id, provider, status, n)
        SELECT organization_id, provider, status, -count(*)
        FROM old_rows GROUP BY organization_id, provider, status;
    ELSE
        INSERT INTO connection_count_changes (organization_id, provider, status, n)
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

# SQLite: one writer at a time, so each row changes the count itself. A decrement only
# updates: an organization being deleted may have lost its counts already.
_ADD = """
    INSERT INTO connection_counts (organization_id, provider, status, n)
    VALUES (NEW.organization_id, NEW.provider, NEW.status, 1)
    ON CONFLICT (organization_id, provider, status) DO UPDATE SET n = n + 1;
"""
_TAKE = """
    UPDATE connection_counts SET n = n - 1
    WHERE organization_id = OLD.organization_id AND provider = OLD.provider
      AND status = OLD.status;
"""
SQLITE_TRIGGERS = {
    "connections_counted_insert": f"AFTER INSERT ON connections BEGIN {_ADD} END",
    "connections_counted_delete": f"AFTER DELETE ON connections BEGIN {_TAKE} END",
    "connections_counted_update": (
        "AFTER UPDATE OF organization_id, provider, status ON connections "
        "WHEN OLD.organization_id IS NOT NEW.organization_id OR OLD.provider IS NOT NEW.provider "
        f"OR OLD.status IS NOT NEW.status BEGIN {_TAKE} {_ADD} END"
    ),
}


def upgrade() -> None:
    op.create_table(
        "connection_counts",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_connection_counts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "organization_id", "provider", "status", name=op.f("pk_connection_counts")
        ),
    )
    op.create_table(
        "connection_count_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_count_changes")),
    )
    op.create_index(
        op.f("ix_connection_count_changes_organization_id"),
        "connection_count_changes",
        ["organization_id"],
    )
    # The counts of the connections there are, then the triggers that keep them. Connections
    # are not written during a migration (servers refuse to run on a schema behind theirs).
    op.execute(
        "INSERT INTO connection_counts (organization_id, provider, status, n) "
        "SELECT organization_id, provider, status, count(*) FROM connections "
        "GROUP BY organization_id, provider, status"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for event, transition in POSTGRES_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER connections_counted_{event.lower()} AFTER {event} ON connections "
                f"{transition} FOR EACH STATEMENT EXECUTE FUNCTION connection_counts_changed()"
            )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "update", "delete"):
        on = " ON connections" if postgres else ""
        op.execute(f"DROP TRIGGER IF EXISTS connections_counted_{event}{on}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS connection_counts_changed()")
    op.drop_index(
        op.f("ix_connection_count_changes_organization_id"), table_name="connection_count_changes"
    )
    op.drop_table("connection_count_changes")
    op.drop_table("connection_counts")
