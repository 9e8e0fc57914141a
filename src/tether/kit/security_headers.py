"""Headers that make a browser hold Tether's pages to what they are.

- `Content-Security-Policy`: Tether's pages load scripts and styles only from Tether itself (no
  inline script, no `eval`), and no other site may frame them (`frame-ancestors 'none'`, with
  `X-Frame-Options` for older browsers), so a page cannot be dressed up to trick a click.
- `X-Content-Type-Options: nosniff`: an answer is only ever what its type says.
- `Referrer-Policy: same-origin`: links out of Tether do not carry the page's address, which
  may hold a reconnect link's token.
- `Strict-Transport-Security` when Tether is served over https, so browsers never fall back to
  plain http.

Two families of pages get a looser script policy, each for a reason outside Tether's pages:
Swagger UI at `/docs` starts itself with an inline script, and the sandbox's pages stand in for
other companies' sign-in pages.
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from tether.kit.asgi import HttpMiddleware, with_headers

STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
LOOSE = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
LOOSE_PREFIXES = ("/docs", "/sandbox")
HSTS = "max-age=31536000"


class SecurityHeadersMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        super().__init__(app)
        self.common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
        ]
        if https:
            self.common.append((b"strict-transport-security", HSTS.encode()))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        policy = LOOSE if path.startswith(LOOSE_PREFIXES) else STRICT
        added = [*self.common, (b"content-security-policy", policy.encode())]
        # A header a handler set itself is kept: it knows its own answer best.
        await self.app(scope, receive, with_headers(send, lambda: added, override=False))
