"""Semrush: SEO tracking, connected with the subscription's API key; its Position Tracking
projects are the accounts, and their estimated organic traffic per day is what Tether loads.

Facts (Semrush API documentation, developer.semrush.com):
- The key travels as the `key` query parameter on every call; Semrush takes it no other way.
  It is the subscription's, cannot be changed by its user (Semrush support replaces it), and
  does not expire.
- `www.semrush.com/users/countapiunits.html?key=…` answers the units left, as text ("1,000"),
  for free: the probe, which proves the key without spending units.
- `api.semrush.com/management/v1/projects?filter=all` lists the projects the key reaches (own
  and shared), each with its `tools`; it costs 100 units.
- Position Tracking's visibility report, `reports/v1/projects/{id}/tracking/?action=report&
  type=tracking_visibility_organic&date_begin=YYYYMMDD&date_end=YYYYMMDD`, answers one entry
  per day: `Dt`, visibility (`Vi`, `Vr`), average position, share of voice, and `Tr`, the
  estimated organic traffic of that day. It costs 100 units a request.
- Errors of the Standard and Projects APIs are a line of text, `ERROR <code> :: <WORDS>`:
  120 WRONG KEY - ID PAIR, 121 WRONG FORMAT OR EMPTY HASH, 122 WRONG FORMAT OR EMPTY KEY,
  130 API DISABLED, 131 LIMIT EXCEEDED, 132 API UNITS BALANCE IS ZERO, 133 DB ACCESS DENIED,
  134 TOTAL LIMIT EXCEEDED, 135 API REPORT TYPE DISABLED, and 50 NOTHING FOUND (no data).

Decisions:
- What fits Tether's daily figures: a project's estimated organic traffic, loaded as clicks.
  Semrush has no impressions, spend or conversions of a site; its traffic cost (`Tc`) is the
  value of that traffic in ads, not money spent, so it is not loaded as spend.
- Only projects with Position Tracking set up are listed: the others have no daily figures.
  A project's id stands for its tracking campaign (a project's first campaign; assumed).
- 120-122 are `invalid_api_key`. 130, 133 and 135 (the plan lacks API access, or this
  report) are `scope_missing`: the key works, but someone must change the subscription.
  131, 132 and 134 (too many requests, units used up) are `rate_limited`: retried with
  back-off, shown as failing, never a lapse; units come back with the subscription's month.
  50 is no data: a report with nothing found is days of zeros.
- Unconfirmed, chosen as plausible: the error line comes with HTTP 200 (Tether reads the text
  whatever the status); a project the key lost answers 403 with Semrush's JSON error shape
  `{"error": {"code", "message", "description"}}` (`access_removed`). The key has no user
  behind it in the API: its identity is a digest of the key, which reveals nothing of it.
- Each sync reloads the last 2 days (a day's tracking lands after it ends) and the first load
  is the usual 90 days; each report request costs 100 units, so days are asked in one range.
"""

import hashlib
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import httpx

from tether.providers import answers
from tether.providers.base import (
    AuthKind,
    Credentials,
    DailyMetrics,
    ExternalAccount,
    Identity,
    Reason,
)
from tether.providers.daily import zero_filled
from tether.providers.defined import DefinedProvider
from tether.providers.definition import (
    Accounts,
    ApiKey,
    Errors,
    Identify,
    Lifetimes,
    ProviderDefinition,
    ReportCall,
    Reports,
    Setup,
    rule,
)
from tether.providers.transport import unreachable

NAME = "Semrush"
DIALECT = "semrush"
BASES = {"www": "https://www.semrush.com", "api": "https://api.semrush.com"}
UNITS = "{www}/users/countapiunits.html"
PROJECTS = "{api}/management/v1/projects"
NOTHING_FOUND = 50
# `ERROR 120 :: WRONG KEY - ID PAIR`, the whole answer of a refused call.
_ERROR_LINE = re.compile(r"^\s*ERROR\s+(\d+)\s*::\s*(.+?)\s*$", re.DOTALL)

VISIBILITY = ReportCall(
    url="{api}/reports/v1/projects/{account_id}/tracking/",
    params={
        "action": "report",
        "type": "tracking_visibility_organic",
        "date_begin": "{start}",
        "date_end": "{end}",
    },
    rows_path="data.*",
    date_path="Dt",
    date_format="%Y%m%d",
    impressions_path=None,
    clicks_path="Tr",
    spend_path=None,
    conversions_path=None,
)

SEMRUSH = ProviderDefinition(
    key="semrush",
    name=NAME,
    auth_kind=AuthKind.API_KEY,
    description="SEO: each Position Tracking project's estimated organic traffic per day.",
    bases=BASES,
    identify=Identify(url=UNITS),
    probe_url=UNITS,
    accounts=Accounts(
        url=PROJECTS,
        items_path="*",
        id_path="project_id",
        name_path="project_name",
        params={"filter": "all"},
    ),
    api_key=ApiKey(
        param="key",
        hint="In Semrush, open Subscription info → API units: the API key is shown there.",
    ),
    lifetimes=Lifetimes(
        refreshable=False,
        notes="The subscription's API key does not expire; Semrush support replaces it on "
        "request, and the old one stops working at once.",
    ),
    errors=Errors(
        rules=(
            rule(Reason.INVALID_API_KEY, {"error.code": (120, 121, 122)}),
            rule(Reason.SCOPE_MISSING, {"error.code": (130, 133, 135)}),
            rule(Reason.RATE_LIMITED, {"error.code": (131, 132, 134)}),
            rule(Reason.ACCESS_REMOVED, statuses={403}),
        ),
        message_paths=("error.message", "error.description", "error", "text"),
    ),
    reports=Reports(max_days_per_call=366, history_days=1095, restate_days=2),
    report=VISIBILITY,
    dialect=DIALECT,
    setup=Setup(
        register_url="https://www.semrush.com/accounts/subscription-info/api-units/",
        steps=(
            "Nothing to register: a member enters the subscription's API key when they connect "
            "Semrush. The API needs a Business plan with API units.",
        ),
    ),
)


class SemrushProvider(DefinedProvider):
    """Semrush's code beyond its definition: errors written as a line of text, the key's
    identity, and only the projects that track positions."""

    async def call(
        self,
        method: str,
        url: str,
        credentials: Credentials,
        *,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """One call; an `ERROR <code> :: <words>` answer fails it, whatever the status."""
        params = {**(kwargs.pop("params", None) or {}), **self.auth_params(credentials)}
        try:
            response = await self._http.request(
                method, url, params=params, headers=self.auth_headers(credentials), **kwargs
            )
        except httpx.HTTPError as error:
            raise unreachable(self.name, error) from None
        body = body_of(response)
        code = answers.first(body, "error.code")
        if code == NOTHING_FOUND:
            return {}
        if code is not None or not response.is_success:
            raise self.error_of(response.status_code, body, response.headers)
        return body

    async def identify(self, credentials: Credentials) -> Identity:
        """The key proved (for free), and named by a digest that reveals nothing of it."""
        await self.probe(credentials)
        digest = hashlib.sha256((credentials.api_key or "").encode()).hexdigest()[:16]
        return Identity(f"key-{digest}", "Semrush API key")

    async def list_accounts(self, credentials: Credentials) -> list[ExternalAccount]:
        """The projects the key reaches that track positions (only they have daily figures)."""
        spec = self.definition.accounts
        assert spec.url is not None
        body = await self.call("GET", self.url(spec.url), credentials, params=dict(spec.params))
        return [
            ExternalAccount(str(p["project_id"]), str(p.get("project_name") or p["project_id"]))
            for p in answers.found(body, "*")
            if isinstance(p, dict) and p.get("project_id") is not None and tracks(p)
        ]

    async def fetch_daily(
        self,
        credentials: Credentials,
        *,
        account_id: str,
        start: date,
        end: date,
        manager_id: str | None = None,
    ) -> list[DailyMetrics]:
        """The project's estimated organic traffic per day; days without tracking are zeros."""
        days = await super().fetch_daily(credentials, account_id=account_id, start=start, end=end)
        return zero_filled(days, start, end)


def tracks(project: Mapping[str, Any]) -> bool:
    """Whether a project has Position Tracking set up."""
    return any(
        isinstance(t, dict) and t.get("tool") == "tracking" for t in project.get("tools") or ()
    )


def body_of(response: httpx.Response) -> Any:
    """The answer as JSON, or a Semrush error line as `{"error": {"code", "message"}}`, or
    the text itself (the units balance)."""
    text = response.text
    matched = _ERROR_LINE.match(text)
    if matched is not None:
        return {"error": {"code": int(matched.group(1)), "message": matched.group(0).strip()}}
    try:
        return response.json()
    except ValueError:
        return {"text": text.strip()[:200]}
