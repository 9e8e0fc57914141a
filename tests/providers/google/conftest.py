"""Google Ads against the sandbox's Google dialect alone (no database). The end-to-end tests use
the shared `tether`, whose sandbox stands in for Google Ads too."""

import pytest

from tests.fixtures.standalone import http, sandbox, sandbox_url, world
from tether.sandbox import SandboxState


@pytest.fixture
def google_url(sandbox: SandboxState, sandbox_url: str) -> str:
    """Where the Google dialect answers (its paths are Google's under this)."""
    return f"{sandbox_url}/google"


__all__ = ["http", "sandbox", "sandbox_url", "world"]
