"""The sync as the worker runs it: `engine` (tests/conftest.py) and a connected grant."""

from tests.fixtures.connected import Connected

__all__ = ["Connected"]
