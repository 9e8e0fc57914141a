"""The process's key ring: where sealed secrets are made and opened.

The ring is loaded once at start-up (`load_keyring`) from `TETHER_SECRET_KEYS`, or from the
data folder's key file, created with 0600 permissions the first time Tether starts.
"""

import os
from pathlib import Path

from tether.config import Settings
from tether.kit.crypto import KeyRing, Sealed, format_key, generate_key, parse_keys

KEY_FILE = "secret.keys"
_ring: KeyRing | None = None


def load_keyring(settings: Settings) -> KeyRing:
    """Build the ring from settings (creating the embedded key file if needed) and use it."""
    if settings.secret_keys:
        ring = KeyRing(parse_keys(settings.secret_keys))
    else:
        ring = KeyRing(parse_keys(_key_file(settings).read_text()))
    use_keyring(ring)
    return ring


def add_embedded_key(settings: Settings) -> str:
    """Put a new newest key at the top of the embedded key file; return its id."""
    path = _key_file(settings)
    existing = parse_keys(path.read_text())
    key = generate_key(f"k{len(existing) + 1}")
    lines = [format_key(key), *(format_key(k) for k in existing)]
    _write_private(path, "\n".join(lines) + "\n")
    return key.key_id


def _key_file(settings: Settings) -> Path:
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _write_private(path, format_key(generate_key("k1")) + "\n")
    return path


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def use_keyring(ring: KeyRing) -> None:
    global _ring
    _ring = ring


def keyring() -> KeyRing:
    if _ring is None:
        raise RuntimeError("No key ring loaded: call tether.vault.load_keyring first.")
    return _ring


def seal(plaintext: str) -> Sealed:
    return keyring().seal(plaintext)


def reveal(sealed: Sealed) -> str:
    """The plaintext of a secret: the one explicit way to read it."""
    return keyring().open(sealed)
