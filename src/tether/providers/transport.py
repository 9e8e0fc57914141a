"""What a provider call that never got an answer means to Tether: a passing outage."""

import httpx

from tether.providers.base import ProviderCallError, Reason


def unreachable(provider_name: str, error: httpx.HTTPError) -> ProviderCallError:
    """A timeout or a broken connection, in words for the screen (never the URL or a token)."""
    if isinstance(error, httpx.TimeoutException):
        return ProviderCallError(Reason.PROVIDER_OUTAGE, f"{provider_name} did not answer in time.")
    return ProviderCallError(
        Reason.PROVIDER_OUTAGE,
        f"{provider_name} could not be reached ({type(error).__name__}).",
    )
