"""AES-256-GCM with a key ring: seal under the newest key, open under any key still held.

A sealed value reads `v1.<key id>.<base64url(nonce || ciphertext || tag)>`, so rotation can
tell which rows still use an older key without opening them.
"""

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_VERSION = "v1"


class KeyRingError(Exception):
    """A key ring that cannot be built, or a sealed value it cannot open."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """Ciphertext of a secret. Holds no plaintext; `KeyRing.open` is the only way back."""

    token: str

    @property
    def key_id(self) -> str:
        return self.token.split(".", 2)[1]

    def __repr__(self) -> str:
        return f"Sealed(key_id={self.key_id!r})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Key:
    key_id: str
    material: bytes = b""

    def __repr__(self) -> str:
        return f"Key(key_id={self.key_id!r})"


class KeyRing:
    """Keys newest first: the first seals, all of them open."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self._keys = list(keys)
        if not self._keys:
            raise KeyRingError("A key ring needs at least one key.")
        ids = [key.key_id for key in self._keys]
        if len(set(ids)) != len(ids):
            raise KeyRingError("Key ids in a key ring must be unique.")
        self._ciphers = {key.key_id: AESGCM(key.material) for key in self._keys}

    @property
    def newest_key_id(self) -> str:
        return self._keys[0].key_id

    @property
    def key_ids(self) -> list[str]:
        return [key.key_id for key in self._keys]

    def seal(self, plaintext: str) -> Sealed:
        """Encrypt under the newest key with a fresh 96-bit nonce."""
        key_id = self.newest_key_id
        nonce = os.urandom(12)
        data = self._ciphers[key_id].encrypt(nonce, plaintext.encode(), key_id.encode())
        body = base64.urlsafe_b64encode(nonce + data).decode().rstrip("=")
        return Sealed(f"{_VERSION}.{key_id}.{body}")

    def open(self, sealed: Sealed) -> str:
        """Decrypt with whichever key sealed it."""
        version, key_id, body = _split(sealed.token)
        cipher = self._ciphers.get(key_id)
        if version != _VERSION or cipher is None:
            raise KeyRingError(f"No key {key_id!r} in the key ring to open this secret.")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return cipher.decrypt(raw[:12], raw[12:], key_id.encode()).decode()
        except InvalidTag:
            raise KeyRingError(f"A secret sealed with key {key_id!r} failed to open.") from None

    def derive(self, label: str) -> dict[str, bytes]:
        """A separate 256-bit key per ring key for another use (signing links, say), so one
        secret never serves two purposes; newest first."""
        return {
            key.key_id: hmac.new(key.material, f"tether:{label}".encode(), hashlib.sha256).digest()
            for key in self._keys
        }

    def reseal(self, sealed: Sealed) -> Sealed:
        """The same secret under the newest key; unchanged if it already is."""
        if sealed.key_id == self.newest_key_id:
            return sealed
        return self.seal(self.open(sealed))


def _split(token: str) -> tuple[str, str, str]:
    parts = token.split(".", 2)
    if len(parts) != 3:
        raise KeyRingError("This is not a sealed secret.")
    return parts[0], parts[1], parts[2]


def generate_key(key_id: str) -> Key:
    """A new random 256-bit key."""
    return Key(_check_id(key_id), AESGCM.generate_key(bit_length=256))


def format_key(key: Key) -> str:
    """`key_id:base64` — one entry of `TETHER_SECRET_KEYS` or the key file."""
    return f"{key.key_id}:{base64.b64encode(key.material).decode()}"


def parse_keys(text: str) -> list[Key]:
    """Parse `id:base64` entries separated by commas or new lines, newest first."""
    keys = []
    for entry in re.split(r"[,\n]", text):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep:
            raise KeyRingError("Each secret key must read `key_id:base64key`.")
        try:
            material = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise KeyRingError(f"Secret key {key_id!r} is not valid base64.") from None
        if len(material) != 32:
            raise KeyRingError(f"Secret key {key_id!r} must be 32 bytes (AES-256).")
        keys.append(Key(_check_id(key_id), material))
    return keys


def _check_id(key_id: str) -> str:
    if not _KEY_ID.match(key_id):
        raise KeyRingError("A key id is 1-32 letters, digits, '-' or '_'.")
    return key_id
