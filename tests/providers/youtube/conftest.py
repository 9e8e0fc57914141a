"""YouTube's tests run against the sandbox's YouTube routes, served on their own, and
against the shared `tether`, whose sandbox stands in for Google."""

from tests.providers.google_analytics.dialect import (
    _fresh_google_world,
    google_http,
    google_sandbox,
    stand_ins,
)

__all__ = [
    "_fresh_google_world",
    "google_http",
    "google_sandbox",
    "stand_ins",
]
