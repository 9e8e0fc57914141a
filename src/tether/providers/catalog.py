"""The provider catalog: every kind of data source Tether knows, with its auth kind."""

from dataclasses import dataclass

from tether.providers.base import AuthKind


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    key: str
    name: str
    auth_kind: AuthKind
    # How lapse emails are grouped for this provider: one per incident, or a digest.
    email_grouping: str = "individual"
    description: str = ""


CATALOG: tuple[ProviderInfo, ...] = (
    ProviderInfo(
        "sandbox",
        "Sandbox Ads",
        AuthKind.OAUTH2,
        description="Tether's local ad platform, for trying every flow without real accounts.",
    ),
    ProviderInfo(
        "sandbox_api_key",
        "Sandbox Ads (API key)",
        AuthKind.API_KEY,
        description="The sandbox reached with a user's API key, like API-key tools.",
    ),
    ProviderInfo("google_ads", "Google Ads", AuthKind.OAUTH2),
    ProviderInfo("meta_ads", "Meta Ads (Facebook and Instagram)", AuthKind.OAUTH2),
    ProviderInfo("linkedin_ads", "LinkedIn Ads", AuthKind.OAUTH2),
    ProviderInfo("tiktok_ads", "TikTok Ads", AuthKind.OAUTH2),
    ProviderInfo("snapchat_ads", "Snapchat Ads", AuthKind.OAUTH2, email_grouping="digest"),
    ProviderInfo("youtube", "YouTube", AuthKind.OAUTH2, email_grouping="digest"),
    ProviderInfo("x_ads", "X Ads", AuthKind.OAUTH2, email_grouping="digest"),
    ProviderInfo("microsoft_ads", "Microsoft Advertising", AuthKind.OAUTH2),
    ProviderInfo("google_analytics", "Google Analytics", AuthKind.OAUTH2),
    ProviderInfo("callrail", "CallRail", AuthKind.API_KEY),
    ProviderInfo("semrush", "Semrush", AuthKind.API_KEY),
)

BY_KEY = {info.key: info for info in CATALOG}
