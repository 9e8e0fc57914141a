"""Microsoft's errors read by its definition: the documented bodies (research notes B2-B4 and B7,
Microsoft's advertising guides, the identity platform's error reference, the REST fault shape
seen by Microsoft's SDKs and their users) give the right reason and keep Microsoft's own words;
a throttle waits its minute; a report file becomes Tether's days; real credentials reach
Microsoft's production URLs."""

import io
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tether.config import ProviderSettings, Settings
from tether.providers.base import Credentials, ProviderCallError, Reason
from tether.providers.microsoft_ads import (
    BASES,
    MICROSOFT_ADS,
    POLL,
    SUBMIT,
    MicrosoftAdsProvider,
)
from tether.providers.microsoft_reports import daily_metrics, report_request, rows_of
from tether.providers.registry import build_registry

TRACKING = "0f6bd5f1-8a3c-4c2b-b6a4-7a7b2d0c9e11"


@pytest.fixture
async def microsoft() -> AsyncIterator[MicrosoftAdsProvider]:
    async with httpx.AsyncClient() as http:
        yield MicrosoftAdsProvider(MICROSOFT_ADS, http=http, bases=BASES)


def ad_api_fault(code: int, error_code: str, message: str) -> dict[str, Any]:
    """A REST `AdApiFaultDetail`, as the REST SDK's models and a real 401 of code 109 show it."""
    error = {"Code": code, "Detail": None, "ErrorCode": error_code, "Message": message}
    return {"TrackingId": TRACKING, "Type": "AdApiFaultDetail", "Errors": [error]}


def api_fault(code: int, message: str, error_code: str | None = None) -> dict[str, Any]:
    """A REST `ApiFault` (Customer Management: no symbolic code) or `ApiFaultDetail`."""
    error: dict[str, Any] = {"Code": code, "Details": None, "Message": message}
    if error_code is None:
        return {"TrackingId": TRACKING, "Type": "ApiFault", "OperationErrors": [error]}
    error["ErrorCode"] = error_code
    return {
        "TrackingId": TRACKING,
        "Type": "ApiFaultDetail",
        "BatchErrors": [],
        "OperationErrors": [error],
    }


INVALID_CREDENTIALS = (
    "Authentication failed. Either supplied credentials are invalid or the account is inactive"
)
COMPROMISED = (
    "We have detected suspicious activity on your Microsoft Advertising account. We think someone "
    "may have logged into your Microsoft Advertising account without your permission. Please "
    "create a new password to secure your account."
)
CALL_RATE = (
    "You have exceeded the number of calls that you are allowed to make in a minute. Please "
    "reduce the number of calls that you make per minute."
)
CONCURRENT = (
    "You have already reached the maximum number of concurrent report requests. Please wait "
    "until the previous reports are completed and then try to submit a new request."
)
NOT_PRIVILEGED = (
    "The specified report request contains at least one account that you do not have "
    "privileges to access."
)
# (HTTP status, body, reason): lapses, throttles and outages as Microsoft Advertising words them.
DOCUMENTED_API = [
    (
        401,
        ad_api_fault(
            109,
            "AuthenticationTokenExpired",
            "Authentication token expired. Please renew it or obtain a new token.",
        ),
        Reason.TOKEN_EXPIRED,
    ),
    (401, ad_api_fault(105, "InvalidCredentials", INVALID_CREDENTIALS), Reason.TOKEN_REVOKED),
    (500, ad_api_fault(105, "InvalidCredentials", INVALID_CREDENTIALS), Reason.TOKEN_REVOKED),
    (
        403,
        ad_api_fault(
            106, "UserIsNotAuthorized", "The user is not authorized to perform this action."
        ),
        Reason.ACCESS_REMOVED,
    ),
    (
        400,
        api_fault(106, "The user is not authorized to perform this action."),
        Reason.ACCESS_REMOVED,
    ),
    (
        400,
        api_fault(2003, NOT_PRIVILEGED, "ReportingServiceAccountNotAuthorized"),
        Reason.ACCESS_REMOVED,
    ),
    (401, ad_api_fault(108, "UserCompromised", COMPROMISED), Reason.PASSWORD_CHANGED),
    (429, ad_api_fault(117, "CallRateExceeded", CALL_RATE), Reason.RATE_LIMITED),
    (400, ad_api_fault(117, "CallRateExceeded", CALL_RATE), Reason.RATE_LIMITED),
    (400, api_fault(207, CONCURRENT, "ConcurrentRequestOverLimit"), Reason.RATE_LIMITED),
    (
        500,
        api_fault(0, "An internal error has occurred.", "InternalError"),
        Reason.PROVIDER_OUTAGE,
    ),
    (
        400,
        ad_api_fault(0, "InternalError", "An internal error has occurred."),
        Reason.PROVIDER_OUTAGE,
    ),
]
# Microsoft's code says what happened: a request Tether made badly is retried, never a lapse.
NOT_LAPSES = [
    (
        400,
        ad_api_fault(
            116,
            "RequestMissingHeaders",
            "One or more required header elements are missing from the request.",
        ),
    ),
    (400, api_fault(3030, "The Predicate passed in the search is invalid.")),
    (
        400,
        api_fault(
            2004,
            "You requested a report with complete data for all included campaigns. Currently only "
            "partial data is available in the respective time zone of one or more campaigns.",
            "ReportingServiceNoCompleteDataAvaliable",
        ),
    ),
    (
        400,
        api_fault(
            2010,
            "The report time contains a custom date range end value that is not valid.",
            "ReportingServiceInvalidCustomDateRangeEnd",
        ),
    ),
    (
        400,
        api_fault(2100, "The report identifier is not valid.", "ReportingServiceInvalidReportId"),
    ),
]


@pytest.mark.parametrize(("status", "answer", "reason"), DOCUMENTED_API)
async def test_a_documented_fault_reads_as_its_reason_with_microsofts_words(
    microsoft: MicrosoftAdsProvider, status: int, answer: dict[str, Any], reason: Reason
) -> None:
    error = microsoft.error_of(status, answer)
    (said,) = answer.get("Errors") or answer["OperationErrors"]

    assert (error.reason, error.message, error.status) == (reason, said["Message"], status)


@pytest.mark.parametrize(("status", "answer"), NOT_LAPSES)
async def test_a_fault_of_the_request_is_no_lapse(
    microsoft: MicrosoftAdsProvider, status: int, answer: dict[str, Any]
) -> None:
    (said,) = answer.get("Errors") or answer["OperationErrors"]

    assert microsoft.classify_error(status, answer) == (Reason.UNKNOWN, said["Message"])


def entra(error: str, code: int | None, words: str, *, traced: bool = True) -> dict[str, Any]:
    """An identity platform error as its reference shows one: the description starts with the
    AADSTS code and ends with the trace lines; `error_codes` lists the code."""
    description = f"AADSTS{code}: {words}" if code is not None else words
    if traced:
        description += (
            "\r\nTrace ID: 255d1aef-8c98-452f-ac51-23d051240864\r\nCorrelation ID: "
            "fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7\r\nTimestamp: 2026-01-09 02:02:12Z"
        )
    body: dict[str, Any] = {"error": error, "error_description": description}
    if code is not None and traced:
        body |= {"error_codes": [code], "timestamp": "2026-01-09 02:02:12Z"}
    return body


INACTIVE = (
    "The refresh token has expired due to inactivity. The token was issued on "
    "2026-04-15T21:52:14.8614768Z and was inactive for 90.00:00:00."
)
REVOKED = (
    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The "
    "user might have changed or reset their password. The grant was issued on "
    "'2026-01-04T10:00:00.0000000Z' and the TokensValidFrom date (before which tokens are not "
    "valid) for this user is '2026-02-01T08:15:00.0000000Z'."
)
NOT_CONSENTED = (
    "The user or administrator has not consented to use the application with ID "
    "'00001111-aaaa-2222-bbbb-3333cccc4444' named 'Tether'. Send an interactive authorization "
    "request for this user and resource."
)
MFA = (
    "Due to a configuration change made by your administrator, or because you moved to a new "
    "location, you must use multi-factor authentication to access "
    "'d42ffc93-c136-491d-b4fd-6f18168c68fd'."
)
UNAUTHENTICATED = (
    "The user could not be authenticated or the grant is expired. The user must first sign in "
    "and if needed grant the client application access to the requested scope."
)
SCOPES_DENIED = (
    "The request was denied because one or more scopes requested are unauthorized or expired. "
    "The user must first sign in and grant the client application access to the requested scope."
)
SECRET_EXPIRED = (
    "The provided client secret keys for app '00001111-aaaa-2222-bbbb-3333cccc4444' are expired. "
    "Visit the Azure portal to create new keys for your app."
)
# (HTTP status, body, reason, the words kept): the token endpoint's refusals of a refresh, each
# kept from its AADSTS code to its first line's end.
DOCUMENTED_TOKEN = [
    (
        400,
        entra("invalid_grant", 700082, INACTIVE),
        Reason.TOKEN_EXPIRED,
        f"AADSTS700082: {INACTIVE}",
    ),  # B2
    (  # the body the issue quotes, without error_codes or trace lines
        400,
        entra(
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity…",
            traced=False,
        ),
        Reason.TOKEN_EXPIRED,
        "AADSTS700082: The refresh token has expired due to inactivity…",
    ),
    (
        400,
        entra("invalid_grant", 50173, REVOKED),
        Reason.PASSWORD_CHANGED,
        f"AADSTS50173: {REVOKED}",
    ),
    (
        400,
        entra("invalid_grant", 65001, NOT_CONSENTED),
        Reason.TOKEN_REVOKED,
        f"AADSTS65001: {NOT_CONSENTED}",
    ),  # B7
    (400, entra("invalid_grant", 50076, MFA), Reason.ACCESS_DENIED, f"AADSTS50076: {MFA}"),
    (400, entra("interaction_required", 50079, MFA), Reason.ACCESS_DENIED, f"AADSTS50079: {MFA}"),
    (  # the advertising guide's "Invalid grant" examples
        400,
        entra("invalid_grant", None, UNAUTHENTICATED, traced=False),
        Reason.TOKEN_REVOKED,
        UNAUTHENTICATED,
    ),
    (
        400,
        entra("invalid_grant", 70000, SCOPES_DENIED, traced=False),
        Reason.SCOPE_MISSING,
        f"AADSTS70000: {SCOPES_DENIED}",
    ),
    (
        401,
        entra("invalid_client", 7000222, SECRET_EXPIRED),
        Reason.UNKNOWN,
        f"AADSTS7000222: {SECRET_EXPIRED}",
    ),
    (
        400,
        entra("invalid_request", None, "Public clients can't send a client secret.", traced=False),
        Reason.UNKNOWN,
        "Public clients can't send a client secret.",
    ),
    (
        503,
        entra("temporarily_unavailable", 90006, "The service is temporarily unavailable."),
        Reason.PROVIDER_OUTAGE,
        "AADSTS90006: The service is temporarily unavailable.",
    ),
    (
        429,
        entra("temporarily_unavailable", 90055, "There are too many incoming requests."),
        Reason.RATE_LIMITED,
        "AADSTS90055: There are too many incoming requests.",
    ),
]


@pytest.mark.parametrize(("status", "answer", "reason", "words"), DOCUMENTED_TOKEN)
async def test_a_documented_token_refusal_reads_as_its_reason_without_the_trace_lines(
    microsoft: MicrosoftAdsProvider, status: int, answer: dict[str, Any], reason: Reason, words: str
) -> None:
    error = microsoft.error_of(status, answer)

    assert (error.reason, error.message) == (reason, words)
    assert "Trace ID" not in error.message


async def test_a_throttle_waits_the_minute_microsoft_asks_unless_told_longer(
    microsoft: MicrosoftAdsProvider,
) -> None:
    throttled = ad_api_fault(117, "CallRateExceeded", CALL_RATE)

    assert microsoft.error_of(429, throttled).retry_after == 60
    assert microsoft.error_of(429, throttled, {"Retry-After": "300"}).retry_after == 300
    assert microsoft.error_of(429, throttled, {"retry-after": "5"}).retry_after == 60
    concurrent = api_fault(207, CONCURRENT, "ConcurrentRequestOverLimit")
    assert microsoft.error_of(400, concurrent).retry_after is None  # Tether's own back-off
    expired = ad_api_fault(109, "AuthenticationTokenExpired", "Authentication token expired.")
    assert microsoft.error_of(401, expired, {"Retry-After": "30"}).reason == Reason.TOKEN_EXPIRED


def zipped_report(text: str, name: str = "report.csv") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "\ufeff" + text)
    return buffer.getvalue()


def test_a_report_file_becomes_days_and_a_day_left_out_is_zeros() -> None:
    archive = zipped_report(
        '"Report Name: Tether daily"\r\n'
        '"Report Aggregation: Daily"\r\n'
        '"Rows: 2"\r\n'
        '"TimePeriod","AccountId","CurrencyCode","Impressions","Clicks","Spend","Conversions"\r\n'
        '"2026-03-01","1000001","EUR","1,204","31","45.67","2.50"\r\n'
        '"2026-03-03","1000001","EUR","980","22","1,012.05","1"\r\n'
        "\r\n"
        '"©2026 Microsoft Corporation. All rights reserved. "\r\n'
    )

    days = daily_metrics(
        rows_of(archive, "Microsoft Advertising"),
        date(2026, 3, 1),
        date(2026, 3, 3),
        "Microsoft Advertising",
    )

    assert [(d.day, d.impressions, d.clicks, d.spend, d.conversions, d.currency) for d in days] == [
        (date(2026, 3, 1), 1204, 31, Decimal("45.67"), 3, "EUR"),  # 2.5 conversions, half up
        (date(2026, 3, 2), 0, 0, Decimal(0), 0, "EUR"),
        (date(2026, 3, 3), 980, 22, Decimal("1012.05"), 1, "EUR"),
    ]


@pytest.mark.parametrize(
    "archive",
    [
        b"not a zip at all",
        zipped_report('"Impressions","Clicks"\r\n"1","2"\r\n'),  # no TimePeriod column
        zipped_report('"TimePeriod","Impressions"\r\n"yesterday","12"\r\n'),
        zipped_report('"TimePeriod","Impressions"\r\n"2026-03-01","many"\r\n'),
    ],
)
def test_a_report_file_tether_cannot_read_is_retried_never_a_lapse(archive: bytes) -> None:
    with pytest.raises(ProviderCallError) as unreadable:
        daily_metrics(
            rows_of(archive, "Microsoft Advertising"),
            date(2026, 3, 1),
            date(2026, 3, 1),
            "Microsoft Advertising",
        )

    assert unreadable.value.reason == Reason.UNKNOWN


def test_the_report_asked_for_is_one_accounts_days_as_a_bare_csv() -> None:
    body = report_request("1000001", date(2026, 1, 30), date(2026, 2, 2))["ReportRequest"]

    assert (body["Type"], body["Aggregation"], body["Format"]) == (
        "AccountPerformanceReportRequest",
        "Daily",
        "Csv",
    )
    assert body["Columns"][0] == "TimePeriod"
    assert {"Impressions", "Clicks", "Spend", "Conversions"} <= set(body["Columns"])
    assert body["Scope"] == {"AccountIds": ["1000001"]}
    assert body["Time"]["CustomDateRangeStart"] == {"Day": 30, "Month": 1, "Year": 2026}
    assert body["Time"]["CustomDateRangeEnd"] == {"Day": 2, "Month": 2, "Year": 2026}
    assert (body["ExcludeReportHeader"], body["ExcludeReportFooter"]) == (True, True)


async def test_with_credentials_set_microsoft_is_reached_at_its_production_urls() -> None:
    credentials = ProviderSettings(
        client_id="00001111-aaaa-2222-bbbb-3333cccc4444",
        client_secret="s3cr3t",
        developer_token="ABC123DEV",
    )
    settings = Settings(sandbox_stands_in_for="", providers={"microsoft_ads": credentials})
    async with httpx.AsyncClient() as http:
        registry = build_registry(settings, http)
    microsoft = registry.providers["microsoft_ads"]

    url = httpx.URL(
        microsoft.authorize_url(
            state="st", code_verifier="v" * 43, redirect_uri="https://t.example/cb"
        )
    )

    assert (url.scheme, url.host, url.path) == (
        "https",
        "login.microsoftonline.com",
        "/common/oauth2/v2.0/authorize",
    )
    assert url.params["scope"] == "https://ads.microsoft.com/msads.manage offline_access"
    assert (url.params["response_type"], url.params["response_mode"]) == ("code", "query")
    assert url.params["client_id"] == "00001111-aaaa-2222-bbbb-3333cccc4444"
    assert url.params["code_challenge_method"] == "S256"  # PKCE, as Microsoft recommends
    assert microsoft.oauth is not None
    endpoints = microsoft.oauth.endpoints
    assert endpoints.token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert endpoints.revoke_url is None
    clientcenter = "https://clientcenter.api.bingads.microsoft.com/CustomerManagement/v13"
    assert microsoft.url(MICROSOFT_ADS.identify.url) == f"{clientcenter}/User/Query"
    assert microsoft.url(MICROSOFT_ADS.accounts.url or "") == f"{clientcenter}/Accounts/Search"
    reporting = "https://reporting.api.bingads.microsoft.com/Reporting/v13/GenerateReport"
    assert (microsoft.url(SUBMIT), microsoft.url(POLL)) == (
        f"{reporting}/Submit",
        f"{reporting}/Poll",
    )
    # The token in a header, never in a URL; the developer token from the settings.
    assert microsoft.auth_headers(Credentials(access_token="t")) == {
        "DeveloperToken": "ABC123DEV",
        "Authorization": "Bearer t",
    }


async def test_the_setup_names_microsofts_variables_when_they_are_missing() -> None:
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(sandbox_stands_in_for=""), http)

    why = registry.why_unavailable("microsoft_ads")

    assert why is not None
    assert why.missing == (
        "TETHER_PROVIDERS__MICROSOFT_ADS__CLIENT_ID",
        "TETHER_PROVIDERS__MICROSOFT_ADS__CLIENT_SECRET",
        "TETHER_PROVIDERS__MICROSOFT_ADS__DEVELOPER_TOKEN",
    )


def test_the_report_limits_are_microsofts_36_months() -> None:
    reports = MICROSOFT_ADS.reports
    assert reports is not None

    assert reports.history_days <= 3 * 365  # 36 months back is never fewer days
    assert reports.max_days_per_call == 366
    assert reports.restate_days >= 30  # a conversion goal's default 30-day window
