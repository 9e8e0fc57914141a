"""The provider catalog: every kind of data source Tether knows, built in or declared by the
operator, and the adapter class that runs each built-in definition."""

from dataclasses import dataclass

from tether.providers.amazon_ads import AMAZON_ADS, AmazonAdsProvider
from tether.providers.base import AuthKind
from tether.providers.callrail import CALLRAIL, CallRailProvider
from tether.providers.defined import DefinedProvider
from tether.providers.definition import ProviderDefinition
from tether.providers.google_ads import GOOGLE_ADS, GoogleAdsProvider
from tether.providers.google_analytics import GOOGLE_ANALYTICS, GoogleAnalyticsProvider
from tether.providers.linkedin_ads import LINKEDIN_ADS, LinkedInAdsProvider
from tether.providers.meta_ads import META_ADS, META_ADS_SYSTEM_USER, MetaAdsProvider
from tether.providers.microsoft_ads import MICROSOFT_ADS, MicrosoftAdsProvider
from tether.providers.pinterest_ads import PINTEREST_ADS, PinterestAdsProvider
from tether.providers.sandbox import SANDBOX, SANDBOX_API_KEY, SandboxProvider
from tether.providers.semrush import SEMRUSH, SemrushProvider
from tether.providers.snapchat_ads import SNAPCHAT_ADS, SnapchatAdsProvider
from tether.providers.tiktok_ads import TIKTOK_ADS, TikTokAdsProvider
from tether.providers.x_ads import X_ADS, XAdsProvider
from tether.providers.youtube import YOUTUBE, YouTubeProvider


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    key: str
    name: str
    auth_kind: AuthKind
    # How lapse emails are grouped for this provider: one per incident, or a digest.
    email_grouping: str = "individual"
    description: str = ""


def info_of(definition: ProviderDefinition) -> ProviderInfo:
    return ProviderInfo(
        definition.key,
        definition.name,
        definition.auth_kind,
        definition.email_grouping,
        definition.description,
    )


# Built-in definitions, in catalog order, with the class that adds their code.
BUILTIN: tuple[tuple[ProviderDefinition, type[DefinedProvider]], ...] = (
    (SANDBOX, SandboxProvider),
    (SANDBOX_API_KEY, SandboxProvider),
    (GOOGLE_ADS, GoogleAdsProvider),
    (GOOGLE_ANALYTICS, GoogleAnalyticsProvider),
    (YOUTUBE, YouTubeProvider),
    (META_ADS, MetaAdsProvider),
    (META_ADS_SYSTEM_USER, MetaAdsProvider),
    (LINKEDIN_ADS, LinkedInAdsProvider),
    (TIKTOK_ADS, TikTokAdsProvider),
    (PINTEREST_ADS, PinterestAdsProvider),
    (SNAPCHAT_ADS, SnapchatAdsProvider),
    (AMAZON_ADS, AmazonAdsProvider),
    (MICROSOFT_ADS, MicrosoftAdsProvider),
    (X_ADS, XAdsProvider),
    (CALLRAIL, CallRailProvider),
    (SEMRUSH, SemrushProvider),
)

CATALOG: tuple[ProviderInfo, ...] = tuple(info_of(d) for d, _ in BUILTIN)

# Every provider this process knows, by key: the catalog plus the operator's own, which
# `install` adds when the registry is built (names in emails, audit entries and lists).
BY_KEY: dict[str, ProviderInfo] = {info.key: info for info in CATALOG}
NAMES: dict[str, str] = {info.key: info.name for info in CATALOG}


def install(infos: tuple[ProviderInfo, ...]) -> None:
    """Make operator-declared providers known to every part of this process."""
    for info in infos:
        BY_KEY[info.key] = info
        NAMES[info.key] = info.name


def name_of(key: str) -> str:
    info = BY_KEY.get(key)
    return info.name if info else key
