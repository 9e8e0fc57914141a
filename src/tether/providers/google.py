"""What Google Ads, Google Analytics and YouTube share: one OAuth app (the `google` family of
settings), Google's token endpoint and its error dialect, and the identity call.

Facts (see the research notes): access tokens last about an hour; refresh tokens do not rotate
and have no fixed end in production, but an app whose OAuth consent screen is in "Testing"
loses them 7 days after consent (`consent_testing`); a dead grant answers 400 `invalid_grant`
("Token has been expired or revoked.") at the token endpoint. Google APIs answer errors as
`{"error": {"code", "message", "status", "details"}}` (google.rpc.Status).
"""

from datetime import UTC, datetime, timedelta

from tether.providers.base import Reason, TokenGrant
from tether.providers.defined import DefinedProvider
from tether.providers.definition import (
    ErrorRule,
    Errors,
    Identify,
    Lifetimes,
    OAuth,
    RateLimits,
    Setup,
    TokenAuthMethod,
    rule,
)

FAMILY = "google"
DIALECT = "google"
# An app in "Testing" gets refresh tokens that end this long after consent.
TESTING_REFRESH_SECONDS = 7 * 86400

BASES = {
    "accounts": "https://accounts.google.com",
    "oauth2": "https://oauth2.googleapis.com",
    "openidconnect": "https://openidconnect.googleapis.com",
}
IDENTITY_SCOPES = ("openid", "email", "profile")

IDENTIFY = Identify(
    url="{openidconnect}/v1/userinfo", id_path="sub", name_path="name", email_path="email"
)

LIFETIMES = Lifetimes(
    access_seconds=3600,
    refreshable=True,
    rotates_refresh_token=False,
    notes=(
        "Access tokens last about an hour and are refreshed ahead of expiry. Refresh tokens "
        "have no fixed end, but Google drops them when the user revokes access, after six "
        "months unused, on a password change (for Gmail scopes), or past its limit of live "
        "tokens per user and app. With the consent screen in Testing they end after 7 days: "
        "set CONSENT_TESTING so Tether warns ahead."
    ),
)

# The token endpoint's RFC 6749 errors, then any Google API's google.rpc.Status.
TOKEN_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.TOKEN_REVOKED, {"error": "invalid_grant"}),
    rule(Reason.UNKNOWN, {"error": ("invalid_client", "unauthorized_client")}),
)
API_RULES: tuple[ErrorRule, ...] = (
    rule(Reason.SCOPE_MISSING, {"error.details.*.reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}),
    rule(Reason.TOKEN_EXPIRED, {"error.status": "UNAUTHENTICATED"}),
    rule(Reason.ACCESS_REMOVED, {"error.status": "PERMISSION_DENIED"}),
    rule(Reason.RATE_LIMITED, {"error.status": "RESOURCE_EXHAUSTED"}),
    rule(
        Reason.PROVIDER_OUTAGE, {"error.status": ("UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED")}
    ),
)
MESSAGE_PATHS = ("error.message", "error_description", "error")


def errors(
    *specific: ErrorRule,
    message_paths: tuple[str, ...] = (),
    rate_limits: RateLimits | None = None,
) -> Errors:
    """Google's error dialect, with a product's own rules (and delay paths) tried first."""
    return Errors(
        rules=(*specific, *TOKEN_RULES, *API_RULES),
        message_paths=(*message_paths, *MESSAGE_PATHS),
        rate_limits=rate_limits or RateLimits(retry_after_header=True),
    )


def oauth(*scopes: str) -> OAuth:
    """Google's consent with offline access, so the grant comes with a refresh token."""
    return OAuth(
        authorize_url="{accounts}/o/oauth2/v2/auth",
        token_url="{oauth2}/token",
        revoke_url="{oauth2}/revoke",
        scopes=(*IDENTITY_SCOPES, *scopes),
        # prompt=consent makes Google send a refresh token again on a reconnect.
        authorize_params={
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        },
        token_auth_method=TokenAuthMethod.POST,
        pkce=True,
    )


def setup(*apis: str, extra: tuple[str, ...] = ()) -> Setup:
    """How an operator registers Tether with Google Cloud."""
    return Setup(
        register_url="https://console.cloud.google.com/apis/credentials",
        steps=(
            "In Google Cloud, create (or pick) a project and enable " + ", ".join(apis) + ".",
            "Configure the OAuth consent screen (External) and publish it: in Testing, "
            "refresh tokens end after 7 days.",
            "Create an OAuth client ID of type Web application, with the redirect URI below.",
        ),
        extra_settings=extra,
    )


class GoogleProvider(DefinedProvider):
    """A Google product: an app in Testing gets refresh tokens with a 7-day end."""

    async def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str
    ) -> TokenGrant:
        grant = await super().exchange_code(
            code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
        )
        if not self.settings.consent_testing or grant.refresh_token is None:
            return grant
        ends = datetime.now(UTC) + timedelta(seconds=TESTING_REFRESH_SECONDS)
        return TokenGrant(
            grant.access_token, grant.refresh_token, grant.expires_at, grant.scope, ends
        )
