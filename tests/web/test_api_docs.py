"""The API's documentation page works without internet: its files are installed with Tether."""

import re

import httpx
from playwright.async_api import Route, expect

from tests.fixtures.browser import Web
from tests.fixtures.running import Tether


async def _offline(web: Web) -> list[str]:
    """Abort every request that leaves for another host than Tether's; the list of them."""
    aborted: list[str] = []

    async def only_tether(route: Route) -> None:
        if route.request.url.startswith(f"{web.tether.base_url}/"):
            await route.continue_()
        else:
            aborted.append(route.request.url)
            await route.abort()

    await web.context.route("**/*", only_tether)
    return aborted


async def test_the_swagger_ui_at_docs_shows_the_api_without_internet(web: Web) -> None:
    aborted = await _offline(web)
    await web.page.goto("/docs")
    title = web.page.get_by_role("heading", name=re.compile(r"^Tether\b")).first
    await expect(title).to_be_visible()
    operation = web.page.locator('.opblock [data-path="/api/v1/connections"]').first
    await expect(operation).to_be_visible()
    await expect(web.page).to_have_title("Tether API")
    assert aborted == []


async def test_the_docs_files_are_served_by_tether_with_their_types(tether: Tether) -> None:
    async with httpx.AsyncClient(base_url=tether.base_url) as http:
        page = await http.get("/docs")
        redirect = await http.get("/docs/oauth2-redirect")
        redoc = await http.get("/redoc")
        script = await http.get("/docs/assets/swagger-ui-bundle.js")
        style = await http.get("/docs/assets/swagger-ui.css")
        icon = await http.get("/static/favicon.svg")
        schema = await http.get("/openapi.json")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for url in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css",
                "/static/favicon.svg", "/openapi.json", "/docs/oauth2-redirect"):  # fmt: skip
        assert url in page.text
    assert "cdn." not in page.text
    assert redirect.status_code == 200
    assert redirect.headers["content-type"].startswith("text/html")
    assert redoc.status_code == 404  # off: ReDoc always loads a logo from its vendor's CDN
    assert script.status_code == 200
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Tether"
