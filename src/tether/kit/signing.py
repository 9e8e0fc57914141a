"""Signed, expiring, single-purpose tokens (for links in emails and notifications).

A token reads `<key id>.<base64url(json payload)>.<base64url(HMAC-SHA256)>`; the payload
carries its purpose and expiry, so a token made for one thing opens nothing else.
"""

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any


class BadSignature(Exception):
    """A token that was forged, altered, or made for another purpose."""


class Expired(Exception):
    """A genuine token past its expiry."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, keys: dict[str, bytes]) -> None:
        """Keys by id, newest first: the first signs, all verify."""
        if not keys:
            raise ValueError("A signer needs at least one key.")
        self._keys = keys
        self._newest = next(iter(keys))

    def sign(self, payload: dict[str, Any], *, purpose: str, expires_at: datetime) -> str:
        body = {**payload, "purpose": purpose, "exp": int(expires_at.timestamp())}
        encoded = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        signed = f"{self._newest}.{encoded}"
        return f"{signed}.{_b64(self._mac(self._newest, signed))}"

    def verify(self, token: str, *, purpose: str, now: datetime) -> dict[str, Any]:
        """The payload of a genuine, unexpired token of this purpose; raises otherwise."""
        try:
            key_id, encoded, signature = token.split(".")
            signed = f"{key_id}.{encoded}"
            genuine = key_id in self._keys and hmac.compare_digest(
                self._mac(key_id, signed), _unb64(signature)
            )
            body = json.loads(_unb64(encoded)) if genuine else None
        except (ValueError, TypeError):
            genuine, body = False, None
        if not genuine or not isinstance(body, dict) or body.get("purpose") != purpose:
            raise BadSignature
        if int(body.get("exp", 0)) < now.timestamp():
            raise Expired
        return body

    def _mac(self, key_id: str, signed: str) -> bytes:
        return hmac.new(self._keys[key_id], signed.encode(), hashlib.sha256).digest()
