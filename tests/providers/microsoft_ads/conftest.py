"""The sandbox's Microsoft dialect alone (no database)."""

from tests.fixtures.standalone import http, sandbox, sandbox_url, world

__all__ = ["http", "sandbox", "sandbox_url", "world"]
