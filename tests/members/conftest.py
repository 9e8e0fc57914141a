"""Fixtures of the members tests."""

import pytest
from argon2 import PasswordHasher

from tether.members import passwords, sessions


@pytest.fixture
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests about the sign-in brake, not the hash's cost: hash with the least work."""
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(sessions, "_DUMMY_HASH", passwords.hash_password("unused"))
