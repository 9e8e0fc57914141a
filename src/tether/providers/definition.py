"""A provider as data: endpoints, scopes, lifetimes, probe, account listing, error mapping.

Everything here is plain, frozen data, so built-in providers and providers declared by an
operator in a file (`custom.py`) are read the same way by the one generic adapter
(`defined.py`). Code is written only for what data cannot say (a report, a manager hierarchy,
a token exchange), in a provider's own module.

URLs are templates over named bases: `"{oauth2}/token"` with `bases={"oauth2": "https://…"}`.
Every base is a setting, so the tests, the demo and the benchmarks point any provider at the
sandbox's dialect of it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tether.providers.base import AuthKind, Reason


class TokenAuthMethod(StrEnum):
    """How the client proves itself at the token endpoint (RFC 6749 §2.3.1)."""

    BASIC = "client_secret_basic"
    POST = "client_secret_post"


class Paging(StrEnum):
    NONE = "none"
    # The answer names the next page's token; the request sends it back as a parameter.
    TOKEN = "token"
    # The answer holds the whole URL of the next page.
    NEXT_URL = "next_url"


@dataclass(frozen=True, slots=True)
class OAuth:
    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    # Extra parameters of the consent URL, e.g. Google's access_type=offline.
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    token_auth_method: TokenAuthMethod = TokenAuthMethod.BASIC
    pkce: bool = True


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """What Tether knows of a provider's tokens (shown in the docs and on the cards)."""

    # Seconds an access token lives, when the token answer does not say.
    access_seconds: int | None = None
    refreshable: bool = True
    rotates_refresh_token: bool = False
    # A refresh token that ends a fixed time after the first consent, refreshing or not.
    refresh_fixed_seconds: int | None = None
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """One field of a JSON answer (a dotted path, `*` for every item of a list) and the
    values that match it; no values means "present". `contains` matches text that holds
    the word, whatever its case (OAuth's one `invalid_grant` says which death in words)."""

    path: str
    values: frozenset[str] = frozenset()
    contains: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """A failed answer that has every one of `where` (and one of `statuses`, when given)
    means `reason`. Rules are tried in order: the first that matches wins."""

    reason: Reason
    where: tuple[Match, ...] = ()
    statuses: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Where a provider says how long to wait."""

    retry_after_header: bool = True
    # A duration like "30s" (Google's retryDelay) or a number of seconds, in the body.
    body_delay_paths: tuple[str, ...] = ()
    # Usage headers worth keeping in the message (e.g. Meta's X-Business-Use-Case-Usage).
    usage_headers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Errors:
    rules: tuple[ErrorRule, ...] = ()
    # Where the provider's own words are, tried in order.
    message_paths: tuple[str, ...] = ("error.message", "error_description", "message", "error")
    rate_limits: RateLimits = RateLimits()


@dataclass(frozen=True, slots=True)
class Identify:
    """The call that answers who the credentials belong to."""

    url: str
    id_path: str = "id"
    name_path: str | None = "name"
    email_path: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Accounts:
    """How to list the accounts a grant reaches. Without a URL, the grant's identity is its
    one account (a tool whose key is its own account)."""

    url: str | None = None
    # Where the items are: `data.*` is every item of the list under `data`.
    items_path: str = "data.*"
    id_path: str = "id"
    name_path: str = "name"
    currency_path: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    paging: Paging = Paging.NONE
    next_path: str | None = None
    next_param: str | None = None


@dataclass(frozen=True, slots=True)
class Reports:
    """Daily metrics: whether the provider has them, and the limits of its report API."""

    # At most this many days per call.
    max_days_per_call: int = 366
    # How far back the provider keeps daily data.
    history_days: int = 1095
    # The last days the provider may still change (late conversions): loaded again each sync.
    restate_days: int = 3


@dataclass(frozen=True, slots=True)
class ReportCall:
    """A daily report as data, for providers without code of their own (an operator's): one
    call per range of days, answered with rows that each hold a day's figures.

    `url` and the values of `params` are templates: the bases, and `{account_id}`, `{start}`
    and `{end}` (dates written in `date_format`). A POST sends `params` as a JSON body. Paths
    of a row's figures are read inside each row; rows of one day (e.g. one per campaign) are
    added up, and a figure the row lacks counts as zero."""

    url: str
    method: str = "GET"
    params: Mapping[str, str] = field(default_factory=dict)
    rows_path: str = "data.*"
    date_path: str = "date"
    date_format: str = "%Y-%m-%d"
    impressions_path: str | None = "impressions"
    clicks_path: str | None = "clicks"
    spend_path: str | None = "spend"
    conversions_path: str | None = "conversions"
    # Read in the row, else in the whole answer.
    currency_path: str | None = None
    # Spend divided by this: 1_000_000 for amounts in micros.
    spend_divisor: int = 1


@dataclass(frozen=True, slots=True)
class ApiKey:
    header: str = "Authorization"
    prefix: str = "Bearer "
    # A query parameter that carries the key instead of a header, for a tool that takes it
    # no other way (Semrush's `key`); Tether's logs mask it.
    param: str | None = None
    # Where to get one, for the connect dialog.
    hint: str = ""


@dataclass(frozen=True, slots=True)
class Setup:
    """What an operator needs to make the provider available, for the card and the docs."""

    register_url: str = ""
    steps: tuple[str, ...] = ()
    # Settings beyond client id and secret, e.g. Google Ads' developer token.
    extra_settings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderDefinition:
    key: str
    name: str
    auth_kind: AuthKind
    bases: Mapping[str, str]
    identify: Identify
    # The cheap call a health check makes to prove the credentials work, when it is not the
    # identity call (e.g. Google Ads' customers:listAccessibleCustomers).
    probe_url: str | None = None
    accounts: Accounts = Accounts()
    oauth: OAuth | None = None
    api_key: ApiKey | None = None
    lifetimes: Lifetimes = Lifetimes()
    errors: Errors = Errors()
    # None: the provider has no daily loads in Tether.
    reports: Reports | None = None
    # A report the generic adapter can call (custom providers); built-ins have code instead.
    report: ReportCall | None = None
    # Lapse emails: one per incident ("individual"), or grouped ("digest").
    email_grouping: str = "individual"
    description: str = ""
    # Providers of one family share an OAuth app and its settings (e.g. "google").
    family: str | None = None
    # The sandbox's dialect of this provider, under `/sandbox/<dialect>/<base>`.
    dialect: str | None = None
    # A header sent on every API call, from a setting (e.g. Google Ads' developer-token).
    setting_headers: Mapping[str, str] = field(default_factory=dict)
    setup: Setup = Setup()
    builtin: bool = True

    @property
    def settings_keys(self) -> tuple[str, ...]:
        """The keys its settings may be found under, most specific first."""
        return (self.key, self.family) if self.family else (self.key,)


def values(*items: object | Iterable[object]) -> frozenset[str]:
    """Match values from strings, numbers and ranges: `values(10, range(200, 300))`."""
    out: set[str] = set()
    for item in items:
        if isinstance(item, range | list | tuple | set | frozenset):
            out |= {str(i) for i in item}
        else:
            out.add(str(item))
    return frozenset(out)


def rule(
    reason: Reason,
    where: Mapping[str, object] | None = None,
    *,
    statuses: Iterable[int] = (),
    contains: Mapping[str, str] | None = None,
) -> ErrorRule:
    """A rule in one line: `rule(Reason.PASSWORD_CHANGED, {"error.code": 190,
    "error.error_subcode": 460})`. A value of `...` matches any value that is present."""
    matches = tuple(
        Match(path, frozenset() if value is ... else values(value))
        for path, value in (where or {}).items()
    ) + tuple(Match(path, contains=word.lower()) for path, word in (contains or {}).items())
    return ErrorRule(reason, matches, frozenset(statuses))
