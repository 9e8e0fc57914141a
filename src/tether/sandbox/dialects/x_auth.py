"""OAuth 1.0a's server side in the sandbox's X dialect (RFC 5849): reading the `Authorization:
OAuth …` header, checking its HMAC-SHA1 signature, its timestamp and its nonce, request tokens
and their verifiers, and X's error envelope.

The signature is checked with Authlib's own base string and HMAC-SHA1 (`construct_base_string`,
`hmac_sha1_signature`), over the URL the sandbox was asked at, every query and form parameter
and the OAuth parameters but the signature, keyed by the app's consumer secret and the token's
secret, as X does.
"""

import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.request import parse_http_list, parse_keqv_list

from authlib.oauth1.rfc5849.signature import construct_base_string, hmac_sha1_signature
from authlib.oauth1.rfc5849.util import unescape
from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

SIGNATURE_METHOD = "HMAC-SHA1"
# X refuses a timestamp further than this from its own clock (code 135).
CLOCK_SKEW_SECONDS = 300
# How long a request token waits for the member's consent (X does not say; assumed).
REQUEST_TOKEN_SECONDS = 900
# Request tokens waiting at once: the oldest go first past this.
MAX_REQUEST_TOKENS = 10_000

BAD_AUTHENTICATION = "Bad Authentication data."
NOT_AUTHENTICATED = "Could not authenticate you."
EXPIRED_TOKEN = "Invalid or expired token."
TIMESTAMP_OUT_OF_BOUNDS = "Timestamp out of bounds."
_FORM = "application/x-www-form-urlencoded"


class XError(Exception):
    """An error as X writes it: `{"errors": [{"code", "message", ...}]}`, the code a number at
    api.x.com and a CAPS_CASE constant at the Ads API, which also echoes the `request` it read."""

    def __init__(
        self,
        status: int,
        code: int | str,
        message: str,
        *,
        more: Mapping[str, Any] | None = None,
        request: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.more = dict(more or {})
        self.request = dict(request) if request is not None else None
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "errors": [{"code": self.code, "message": self.message, **self.more}]
        }
        if self.request is not None:
            body["request"] = {"params": self.request}
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_authentication() -> XError:
    return XError(400, 215, BAD_AUTHENTICATION)


def not_authenticated() -> XError:
    return XError(401, 32, NOT_AUTHENTICATED)


def expired_token() -> XError:
    """X's one answer for an access token it no longer accepts, whatever ended it (X2)."""
    return XError(401, 89, EXPIRED_TOKEN)


def refused_as_text(status: int, words: str) -> Response:
    """The token endpoints' refusals, a line of text rather than JSON."""
    return PlainTextResponse(words, status_code=status)


@dataclass(frozen=True)
class Signed:
    """One request's OAuth 1.0a parameters, and everything its signature covers."""

    method: str
    url: str
    oauth: dict[str, str]
    params: list[tuple[str, str]]

    @property
    def consumer_key(self) -> str:
        return self.oauth.get("oauth_consumer_key", "")

    @property
    def token(self) -> str | None:
        return self.oauth.get("oauth_token")


async def signed(request: Request) -> Signed:
    """The request's `Authorization: OAuth …` parameters; 215 without them."""
    oauth = _header_params(request.headers.get("authorization", ""))
    needed = ("oauth_consumer_key", "oauth_signature", "oauth_nonce", "oauth_timestamp")
    if oauth is None or not all(oauth.get(name) for name in needed):
        raise bad_authentication()
    params = list(request.query_params.multi_items())
    if request.headers.get("content-type", "").startswith(_FORM):
        form = await request.form()
        params += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    params += [(k, v) for k, v in oauth.items() if k != "realm"]
    return Signed(request.method, str(request.url), oauth, params)


def _header_params(header: str) -> dict[str, str] | None:
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "oauth":
        return None
    try:
        pairs = parse_keqv_list(parse_http_list(rest))
    except (IndexError, ValueError):
        return None
    return {unescape(k): unescape(v) for k, v in pairs.items()}


class Nonces:
    """Nonces seen within the timestamp window: one used twice is a replay (X: code 32)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], float] = {}

    def fresh(self, consumer_key: str, token: str | None, nonce: str) -> bool:
        now = time.time()
        if len(self._seen) > 50_000:
            self._seen = {k: t for k, t in self._seen.items() if now - t < 2 * CLOCK_SKEW_SECONDS}
        key = (consumer_key, token or "", nonce)
        if key in self._seen and now - self._seen[key] < 2 * CLOCK_SKEW_SECONDS:
            return False
        self._seen[key] = now
        return True


def check(signed: Signed, consumer_secret: str, token_secret: str | None, nonces: Nonces) -> None:
    """The signature, the clock and the nonce, as X checks them; 401 when any is off."""
    if signed.oauth.get("oauth_signature_method") != SIGNATURE_METHOD:
        raise not_authenticated()
    expected = hmac_sha1_signature(
        construct_base_string(signed.method, signed.url, signed.params),
        consumer_secret,
        token_secret,
    )
    if not hmac.compare_digest(expected, signed.oauth["oauth_signature"]):
        raise not_authenticated()
    try:
        skew = abs(time.time() - int(signed.oauth["oauth_timestamp"]))
    except ValueError:
        raise not_authenticated() from None
    if skew > CLOCK_SKEW_SECONDS:
        raise XError(401, 135, TIMESTAMP_OUT_OF_BOUNDS)
    if not nonces.fresh(signed.consumer_key, signed.token, signed.oauth["oauth_nonce"]):
        raise not_authenticated()


@dataclass
class RequestToken:
    """OAuth 1.0a's temporary credentials: issued to an app for one callback, then (once the
    member consents) bound to them by a verifier."""

    token: str
    secret: str = field(repr=False)
    client_id: str
    callback: str
    expires_at: float
    verifier: str | None = field(default=None, repr=False)


class RequestTokens:
    """The request tokens waiting for a consent or for their exchange. Like authorization codes,
    they are not kept when the sandbox restarts."""

    def __init__(self) -> None:
        self._waiting: dict[str, RequestToken] = {}

    def issue(self, client_id: str, callback: str) -> RequestToken:
        if len(self._waiting) >= MAX_REQUEST_TOKENS:
            now = time.time()
            self._waiting = {k: t for k, t in self._waiting.items() if t.expires_at > now}
            while len(self._waiting) >= MAX_REQUEST_TOKENS:
                del self._waiting[next(iter(self._waiting))]
        issued = RequestToken(
            token=secrets.token_urlsafe(24),
            secret=secrets.token_urlsafe(30),
            client_id=client_id,
            callback=callback,
            expires_at=time.time() + REQUEST_TOKEN_SECONDS,
        )
        self._waiting[issued.token] = issued
        return issued

    def waiting(self, token: str) -> RequestToken | None:
        """A request token still usable, or None."""
        found = self._waiting.get(token)
        if found is not None and found.expires_at <= time.time():
            del self._waiting[token]
            return None
        return found

    def spend(self, token: str) -> RequestToken | None:
        """A request token taken for its exchange: used once, whatever the exchange says."""
        found = self.waiting(token)
        self._waiting.pop(token, None)
        return found
