"""The web app's tests drive a real Chromium; see tests/fixtures/browser.py."""

from tests.fixtures.browser import browser, web

__all__ = ["browser", "web"]
