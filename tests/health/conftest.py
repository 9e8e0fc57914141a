from tests.fixtures.connected import Connected

__all__ = ["Connected"]
