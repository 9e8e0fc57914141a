"""The web app's tests drive a real Chromium; see tests/fixtures/browser.py."""

from tests.fixtures.browser import browser, web
from tests.fixtures.live import live

__all__ = ["browser", "live", "web"]
