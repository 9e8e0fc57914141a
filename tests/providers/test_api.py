"""The provider catalog."""

from tests.fixtures.builders import Org


async def test_the_catalog_lists_the_sandbox_and_the_real_platforms(org: Org) -> None:
    catalog = (await org.api.get("/api/v1/providers")).json()["data"]
    by_key = {p["key"]: p for p in catalog}

    assert by_key["sandbox"]["auth_kind"] == "oauth2"
    assert by_key["sandbox"]["available"]
    assert by_key["sandbox_api_key"]["auth_kind"] == "api_key"
    for key in ("google_ads", "meta_ads", "linkedin_ads", "tiktok_ads", "snapchat_ads",
                "youtube", "x_ads", "microsoft_ads", "google_analytics"):  # fmt: skip
        assert by_key[key]["auth_kind"] == "oauth2"
        assert by_key[key]["available"] is False
    assert by_key["snapchat_ads"]["email_grouping"] == "digest"


async def test_an_unknown_provider_is_a_404(org: Org) -> None:
    response = await org.api.get("/api/v1/providers/myspace")

    assert response.status_code == 404
    assert "myspace" in response.json()["error"]["message"]


async def test_the_sandbox_can_stand_in_for_catalog_providers(org: Org) -> None:
    import httpx

    from tether.config import Settings
    from tether.providers.registry import build_registry

    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(sandbox_stands_in_for="meta_ads, callrail"), http)

    assert registry.available("meta_ads")
    assert "meta_ads" in registry.oauth
    assert registry.available("callrail")
    assert "callrail" not in registry.oauth
    assert not registry.available("google_ads")
