"""The browser's icon: asked for at /favicon.ico by every browser, whatever the page says."""

import httpx

from tests.fixtures.running import Tether


async def test_the_favicon_is_served_and_never_a_404(tether: Tether) -> None:
    async with httpx.AsyncClient(base_url=tether.base_url) as http:
        asked = await http.get("/favicon.ico")
        icon = await http.get(asked.headers["location"])
        page = await http.get("/login")

    assert asked.status_code == 301
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert '<link rel="icon" href="/static/favicon.svg"' in page.text
