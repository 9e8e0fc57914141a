"""How a webhook request proves it comes from Tether: a Standard Webhooks signature, and the
older `Tether-*` one beside it while receivers move over.

Standard Webhooks (https://www.standardwebhooks.com/): `webhook-id` is the delivery's id (the
same on every retry of it), `webhook-timestamp` the attempt's time in unix seconds, and
`webhook-signature` is `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with
the bytes the secret's base64 stands for. A receiver checks it with any Standard Webhooks
library: `Webhook(secret).verify(body, headers)`.

A secret is `whsec_` and the base64 of 32 random bytes, as the specification has it. Secrets
issued before Tether signed this way are `whsec_` and URL-safe base64 (`-` and `_` where the
standard alphabet has `+` and `/`). They keep working: their key is read with the two alphabets
taken as one. Libraries read only the standard alphabet, so the holder of such a secret rotates
it, or hands the library its key bytes (see docs/notifications.md).

The older headers: `Tether-Event`, `Tether-Delivery`, `Tether-Timestamp`, and `Tether-Signature`:
`v1=` and the lowercase hex HMAC-SHA256 of `{timestamp}.{body}` keyed with the whole secret
string, UTF-8 encoded; `verify_signature` checks it.
"""

import base64
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_TOLERANCE_SECONDS = 300
_ONE_ALPHABET = str.maketrans("-_", "+/")


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signing_key(secret: str) -> bytes:
    """The key of the Standard Webhooks signature: the bytes of the secret's base64."""
    text = secret.removeprefix(SECRET_PREFIX).rstrip("=").translate(_ONE_ALPHABET)
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def headers(secret: str, *, delivery_id: str, event: str, body: bytes, at: int) -> dict[str, str]:
    """The signing headers of one attempt, made at `at` (unix seconds): Standard Webhooks' and
    the older Tether ones."""
    signature = Webhook(signing_key(secret)).sign(
        delivery_id, datetime.fromtimestamp(at, UTC), body
    )
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(at),
        "webhook-signature": signature,
        "Tether-Event": event,
        "Tether-Delivery": delivery_id,
        "Tether-Timestamp": str(at),
        "Tether-Signature": sign(secret, at, body),
    }


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `Tether-Signature` header's value."""
    return f"v1={_digest(secret, str(timestamp), body)}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes | str,
    signature: str,
    *,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether a request is genuine and recent by its older headers: `Tether-Signature`
    (`signature`, which may hold several comma-separated `v1=` values) is the HMAC of `timestamp`
    (the `Tether-Timestamp` header) and the raw `body` under `secret`, and the timestamp is
    within `tolerance` seconds of `now` (default: the clock)."""
    try:
        stamp = int(str(timestamp).strip())
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = _digest(secret, str(stamp), raw)
    candidates = [part.strip() for part in signature.split(",")]
    return any(
        hmac.compare_digest(value.encode(), expected.encode())
        for scheme, _, value in (c.partition("=") for c in candidates)
        if scheme == "v1"
    )


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
