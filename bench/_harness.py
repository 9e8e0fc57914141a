"""What every benchmark shares: the PostgreSQL server it makes its throw-away databases on."""

import os

import asyncpg

POSTGRES_ADMIN_URL = os.environ.get(
    "TETHER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


async def _admin(*statements: str) -> None:
    """Run statements (CREATE/DROP DATABASE) on the admin database, outside a transaction."""
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()
