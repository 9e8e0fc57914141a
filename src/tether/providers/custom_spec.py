"""The format of an operator's providers file, as strict pydantic models.

It mirrors `definition.py` table for table, so what an operator writes reads like a built-in
definition. Every model refuses fields it does not know and values of the wrong type (no
"14" for 14): a typo must stop Tether at start, not silently leave a default in place.
Checks that span fields (bases named in URLs, the auth kind's own table) are in `custom.py`.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tether.providers.base import Reason
from tether.providers.definition import Paging, TokenAuthMethod

KEY_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
# A dotted path into a JSON answer: `error.details.*.reason`.
PATH_PATTERN = r"^[^.\s]+(\.[^.\s]+)*$"

Key = Annotated[str, Field(pattern=KEY_PATTERN)]
BaseName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Path = Annotated[str, Field(pattern=PATH_PATTERN, max_length=200)]
Text = Annotated[str, Field(max_length=2000)]
Url = Annotated[str, Field(min_length=1, max_length=2000)]
Seconds = Annotated[int, Field(gt=0)]
Status = Annotated[int, Field(ge=100, le=599)]
Scalar = str | int | float | bool
# Enums are written as their values in the file; their messages name every choice.
Lax = Field(strict=False)


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OAuthSpec(Spec):
    authorize_url: Url
    token_url: Url
    revoke_url: Url | None = None
    scopes: list[Annotated[str, Field(min_length=1, max_length=500)]] = []
    scope_separator: Annotated[str, Field(min_length=1, max_length=3)] = " "
    authorize_params: dict[str, str] = {}
    token_auth_method: Annotated[TokenAuthMethod, Lax] = TokenAuthMethod.BASIC
    pkce: bool = True


class LifetimesSpec(Spec):
    access_seconds: Seconds | None = None
    refreshable: bool = True
    rotates_refresh_token: bool = False
    refresh_fixed_seconds: Seconds | None = None
    notes: Text = ""


class IdentifySpec(Spec):
    url: Url
    id_path: Path = "id"
    name_path: Path | None = "name"
    email_path: Path | None = None
    params: dict[str, str] = {}


class AccountsSpec(Spec):
    url: Url | None = None
    items_path: Path = "data.*"
    id_path: Path = "id"
    name_path: Path = "name"
    currency_path: Path | None = None
    params: dict[str, str] = {}
    paging: Annotated[Paging, Lax] = Paging.NONE
    next_path: Path | None = None
    next_param: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class RuleSpec(Spec):
    """A failed answer with every one of these means `reason`; rules are tried in order."""

    reason: Annotated[Reason, Lax]
    status: Status | list[Status] = []
    # Path → the value (or one of the values) it must hold.
    where: dict[Path, Scalar | list[Scalar]] = {}
    # Paths that must be present, whatever their value.
    present: list[Path] = []
    # Path → a word its text must hold, whatever its case.
    contains: dict[Path, Annotated[str, Field(min_length=1)]] = {}


class RateLimitsSpec(Spec):
    retry_after_header: bool = True
    body_delay_paths: list[Path] = []
    usage_headers: list[Annotated[str, Field(min_length=1, max_length=100)]] = []


class ApiKeySpec(Spec):
    header: Annotated[str, Field(min_length=1, max_length=100)] = "Authorization"
    prefix: Annotated[str, Field(max_length=100)] = "Bearer "
    hint: Text = ""


class ReportSpec(Spec):
    url: Url
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str] = {}
    rows_path: Path = "data.*"
    date_path: Path = "date"
    date_format: Annotated[str, Field(min_length=2, max_length=40)] = "%Y-%m-%d"
    impressions_path: Path | None = "impressions"
    clicks_path: Path | None = "clicks"
    spend_path: Path | None = "spend"
    conversions_path: Path | None = "conversions"
    currency_path: Path | None = None
    spend_divisor: Annotated[int, Field(gt=0)] = 1
    # The limits of the provider's report API (definition.Reports).
    max_days_per_call: Annotated[int, Field(gt=0, le=3660)] = 366
    history_days: Annotated[int, Field(gt=0, le=36600)] = 1095
    restate_days: Annotated[int, Field(ge=0, le=366)] = 3


class SetupSpec(Spec):
    register_url: Annotated[str, Field(max_length=2000)] = ""
    steps: list[Text] = []


class ProviderSpec(Spec):
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=80)]
    auth: Literal["oauth2", "api_key"]
    description: Text = ""
    email_grouping: Literal["individual", "digest"] = "individual"
    bases: Annotated[dict[BaseName, Url], Field(min_length=1)]
    identify: IdentifySpec
    probe_url: Url | None = None
    accounts: AccountsSpec = AccountsSpec()
    oauth: OAuthSpec | None = None
    api_key: ApiKeySpec | None = None
    lifetimes: LifetimesSpec = LifetimesSpec()
    errors: list[RuleSpec] = []
    # Where the provider's own words are, tried in order (definition.Errors' default if unset).
    message_paths: list[Path] | None = None
    rate_limits: RateLimitsSpec = RateLimitsSpec()
    report: ReportSpec | None = None
    # Header → setting, sent on every API call (TETHER_PROVIDERS__<KEY>__DEVELOPER_TOKEN).
    setting_headers: dict[Annotated[str, Field(min_length=1)], Literal["developer_token"]] = {}
    setup: SetupSpec = SetupSpec()


class FileSpec(Spec):
    provider: Annotated[list[ProviderSpec], Field(min_length=1, max_length=200)]
