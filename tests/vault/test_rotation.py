"""Rotating the key ring: every stored secret moves to the newest key, nothing is lost."""

import stat

from sqlalchemy import text

from tests.conftest import TEST_KEYS, Tether
from tests.fixtures.builders import Org, connect_sandbox
from tether import vault
from tether.config import Settings
from tether.kit.crypto import KeyRing, Sealed, format_key, generate_key, parse_keys
from tether.vault import rotation


async def _sealed_values(tether: Tether) -> list[str]:
    async with tether.sessions() as session:
        rows = await session.execute(text("SELECT access_token, refresh_token FROM authorizations"))
        return [value for row in rows for value in row if value is not None]


async def test_rotation_reseals_every_secret_under_the_newest_key(org: Org, tether: Tether) -> None:
    await connect_sandbox(org.api)
    before = await _sealed_values(tether)
    plaintexts = [vault.reveal(Sealed(v)) for v in before]
    old = vault.keyring()
    vault.use_keyring(KeyRing([generate_key("t2"), *parse_keys(TEST_KEYS)]))
    try:
        async with tether.sessions() as session:
            moved = await rotation.rotate(session)
            counts = await rotation.count_by_key(session)
            await session.commit()
        after = await _sealed_values(tether)
        assert moved["authorizations.access_token"] == 1
        assert moved["authorizations.refresh_token"] == 1
        assert moved["oauth_states.code_verifier"] == 1
        assert set(counts) == {"t2"}
        assert all(value.startswith("v1.t2.") for value in after)
        assert [vault.reveal(Sealed(v)) for v in after] == plaintexts
    finally:
        vault.use_keyring(old)


def test_the_embedded_key_file_is_created_private_and_grows_on_new_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, secret_keys=None)
    old = vault.keyring()
    try:
        first = vault.load_keyring(settings)
        key_file = tmp_path / vault.KEY_FILE
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        sealed = first.seal("kept")

        new_id = vault.add_embedded_key(settings)
        second = vault.load_keyring(settings)

        assert second.newest_key_id == new_id != first.newest_key_id
        assert second.open(sealed) == "kept"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    finally:
        vault.use_keyring(old)


def test_keys_from_the_environment_take_precedence(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = generate_key("env1")
    old = vault.keyring()
    try:
        ring = vault.load_keyring(Settings(data_dir=tmp_path, secret_keys=format_key(key)))
        assert ring.key_ids == ["env1"]
        assert not (tmp_path / vault.KEY_FILE).exists()
    finally:
        vault.use_keyring(old)
