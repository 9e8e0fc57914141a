"""What a browser is told to hold Tether's pages to, and where a sign-in may send it back."""

import httpx
import pytest
from playwright.async_api import expect

from tests.fixtures.browser import Web
from tests.fixtures.builders import Org
from tests.fixtures.running import Tether, alongside
from tether.kit.redirects import is_local_path

# Each of these is a link to another site once a browser has read it.
LEAVING = [
    "//evil.example",
    "/\\evil.example",
    "/\\t/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "https://evil.example",
    "javascript:alert(1)",
    " /connections",
    "/\u202e/evil.example",
]


@pytest.mark.parametrize("target", LEAVING)
def test_only_plain_paths_of_tether_count_as_local(target: str) -> None:
    assert not is_local_path(target)
    assert is_local_path("/connections?tab=active&sort=-status")


def test_an_encoded_tab_stays_encoded_and_so_stays_on_tether() -> None:
    # Browsers do not decode %09 before resolving the path: it is a path on Tether.
    assert is_local_path("/%09/evil.example/../")


async def test_every_answer_carries_the_security_headers(tether: Tether, org: Org) -> None:
    async with httpx.AsyncClient(base_url=tether.base_url) as anonymous:
        page = await anonymous.get("/login")
        docs = await anonymous.get("/docs")
    api = await org.api.get("/api/v1/clients")
    for answer in (page, api, docs):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        # Tether here is served over plain http: HSTS would be a promise it cannot keep.
        assert "strict-transport-security" not in answer.headers
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert "unsafe" not in page.headers["content-security-policy"]


async def test_served_over_https_browsers_are_told_to_keep_to_it(tether: Tether) -> None:
    with alongside(tether, public_url="https://tether.agency.example") as secure:
        async with httpx.AsyncClient(base_url=secure.base_url) as anonymous:
            page = await anonymous.get("/login")
    assert page.headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize("target", ["/\\evil.example", "/\\t/evil.example", "//evil.example"])
async def test_a_sign_in_cannot_be_sent_back_to_another_site(org: Org, target: str) -> None:
    started = await org.api.post(
        "/api/v1/authorizations/oauth/start", json={"provider": "sandbox", "return_to": target}
    )
    assert started.status_code == 422
    assert [d["field"] for d in started.json()["error"]["details"]] == ["return_to"]


async def test_signing_in_to_tether_never_ends_on_another_site(tether: Tether) -> None:
    async with httpx.AsyncClient(base_url=tether.base_url) as anonymous:
        for target in LEAVING:
            page = await anonymous.get("/login", params={"next": target})
            assert 'name="next" value="/connections"' in page.text, target


async def test_the_browser_refuses_a_script_slipped_into_a_page(web: Web) -> None:
    """The policy is enforced, not only sent: an inline handler injected into a page (as a
    stored script would be) does not run, and the suite's watch on refusals hears it."""
    await web.sign_in(await web.admin_email())
    await web.page.goto("/connections")
    await web.page.evaluate(
        "document.body.insertAdjacentHTML('beforeend',"
        ' \'<img id="slipped" src="data:," onerror="document.title = \\\'owned\\\'">\')'
    )
    await expect(web.page.locator("#slipped")).to_be_attached()
    for _ in range(100):  # Chromium reports the refusal a moment after the image fails
        if web.refused:
            break
        await web.page.wait_for_timeout(100)
    assert "Content Security Policy" in web.refused[0]
    assert await web.page.title() != "owned"
    web.refused.clear()  # heard as it should be: not a failure of this test
