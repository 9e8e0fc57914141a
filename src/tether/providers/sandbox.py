"""Sandbox Ads: Tether's own local ad platform, as a definition plus its daily report."""

from datetime import date
from decimal import Decimal
from urllib.parse import quote

from tether.providers.base import AuthKind, Credentials, DailyMetrics, Reason
from tether.providers.defined import DefinedProvider
from tether.providers.definition import (
    Accounts,
    ApiKey,
    Errors,
    Identify,
    Lifetimes,
    OAuth,
    Paging,
    ProviderDefinition,
    Reports,
    TokenAuthMethod,
    rule,
)

# The sandbox's error codes ({"error": {"code", "message"}} from its API, RFC 6749 bodies from
# its token endpoint), and Tether's reasons for them.
SANDBOX_ERRORS = Errors(
    rules=(
        rule(Reason.TOKEN_EXPIRED, {"error.code": "token_expired"}),
        rule(Reason.TOKEN_REVOKED, {"error.code": ("token_revoked", "invalid_token")}),
        rule(Reason.PASSWORD_CHANGED, {"error.code": "password_changed"}),
        rule(Reason.ACCESS_REMOVED, {"error.code": "access_removed"}),
        rule(Reason.INVALID_API_KEY, {"error.code": "invalid_api_key"}),
        rule(Reason.RATE_LIMITED, {"error.code": "rate_limited"}),
        rule(Reason.PROVIDER_OUTAGE, {"error.code": "unavailable"}),
        # OAuth has one error for every dead grant; its description says which death it was.
        rule(
            Reason.PASSWORD_CHANGED,
            {"error": "invalid_grant"},
            contains={"error_description": "password"},
        ),
        rule(
            Reason.TOKEN_EXPIRED,
            {"error": "invalid_grant"},
            contains={"error_description": "expired"},
        ),
        rule(Reason.TOKEN_REVOKED, {"error": "invalid_grant"}),
        rule(Reason.ACCESS_DENIED, {"error": "access_denied"}),
        rule(Reason.RATE_LIMITED, {"error": "rate_limited"}),
        rule(Reason.PROVIDER_OUTAGE, {"error": "temporarily_unavailable"}),
    ),
    message_paths=("error.message", "error_description", "error"),
)

SANDBOX = ProviderDefinition(
    key="sandbox",
    name="Sandbox Ads",
    auth_kind=AuthKind.OAUTH2,
    description="Tether's local ad platform, for trying every flow without real accounts.",
    bases={"sandbox": "http://127.0.0.1:8000/sandbox"},
    oauth=OAuth(
        authorize_url="{sandbox}/oauth/authorize",
        token_url="{sandbox}/oauth/token",
        revoke_url="{sandbox}/oauth/revoke",
        scopes=("accounts:read", "metrics:read"),
        token_auth_method=TokenAuthMethod.POST,
    ),
    identify=Identify(
        url="{sandbox}/api/v1/me", id_path="id", name_path="name", email_path="email"
    ),
    accounts=Accounts(
        url="{sandbox}/api/v1/accounts",
        items_path="accounts.*",
        currency_path="currency",
        params={"page_size": "1000"},
        paging=Paging.TOKEN,
        next_path="next_page_token",
        next_param="page_token",
    ),
    lifetimes=Lifetimes(
        access_seconds=3600,
        notes="One hour by default; every switch of the sandbox's settings page changes it.",
    ),
    errors=SANDBOX_ERRORS,
    reports=Reports(max_days_per_call=366, history_days=1095, restate_days=3),
)

SANDBOX_API_KEY = ProviderDefinition(
    key="sandbox_api_key",
    name="Sandbox Ads (API key)",
    auth_kind=AuthKind.API_KEY,
    description="The sandbox reached with a user's API key, like API-key tools.",
    bases=SANDBOX.bases,
    identify=SANDBOX.identify,
    accounts=SANDBOX.accounts,
    api_key=ApiKey(header="X-Api-Key", prefix="", hint="Sandbox → control/users lists each key."),
    errors=SANDBOX_ERRORS,
    reports=SANDBOX.reports,
)


class SandboxProvider(DefinedProvider):
    """The sandbox's daily report: `GET /api/v1/accounts/{id}/metrics?start&end`."""

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        body = await self.call(
            "GET",
            self.url("{sandbox}/api/v1/accounts/") + quote(account_id, safe="") + "/metrics",
            credentials,
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
        currency = body.get("currency")
        return [
            DailyMetrics(
                date.fromisoformat(day["date"]),
                int(day["impressions"]),
                int(day["clicks"]),
                Decimal(str(day["spend"])),
                int(day["conversions"]),
                currency,
            )
            for day in body["days"]
        ]
