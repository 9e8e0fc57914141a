"""The provider catalog: what each provider is, whether it can be connected here, and why not."""

import httpx
import pytest

from tests.fixtures.builders import Org
from tether.config import ProviderSettings, Settings
from tether.providers.registry import build_registry


async def test_the_catalog_lists_the_sandbox_and_the_real_platforms(org: Org) -> None:
    catalog = (await org.api.get("/api/v1/providers")).json()["data"]
    by_key = {p["key"]: p for p in catalog}

    assert by_key["sandbox"]["auth_kind"] == "oauth2"
    assert by_key["sandbox"]["available"]
    assert by_key["sandbox_api_key"]["auth_kind"] == "api_key"
    # The tests let the sandbox stand in for each platform it has a dialect of.
    for key in (
        "google_ads",
        "google_analytics",
        "youtube",
        "meta_ads",
        "linkedin_ads",
        "tiktok_ads",
        "pinterest_ads",
        "snapchat_ads",
        "amazon_ads",
        "microsoft_ads",
    ):
        assert (by_key[key]["auth_kind"], by_key[key]["available"]) == ("oauth2", True)
        assert by_key[key]["daily_loads"] is True
    assert (by_key["x_ads"]["auth_kind"], by_key["x_ads"]["available"]) == ("oauth1", True)
    assert by_key["x_ads"]["daily_loads"] is True
    assert by_key["meta_ads_system_user"]["auth_kind"] == "api_key"
    assert by_key["snapchat_ads"]["email_grouping"] == "digest"
    assert by_key["x_ads"]["email_grouping"] == "digest"
    assert by_key["youtube"]["email_grouping"] == "digest"


async def test_an_unknown_provider_is_a_404(org: Org) -> None:
    response = await org.api.get("/api/v1/providers/myspace")

    assert response.status_code == 404
    assert "myspace" in response.json()["error"]["message"]


async def test_the_sandbox_stands_in_for_the_providers_named_each_in_its_dialect() -> None:
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(sandbox_stands_in_for="meta_ads, callrail, x_ads"), http)

    assert registry.stand_ins == {"meta_ads", "callrail", "x_ads"}
    assert "meta_ads" in registry.oauth
    assert registry.providers["meta_ads"].bases["graph"] == (
        "http://127.0.0.1:8000/sandbox/meta/graph"
    )
    assert registry.providers["x_ads"].bases["api"] == "http://127.0.0.1:8000/sandbox/x/api"
    callrail = registry.providers["callrail"]
    assert callrail.bases["api"] == "http://127.0.0.1:8000/sandbox/callrail/api"
    assert not registry.available("google_ads")  # not named, and no credentials set


async def test_without_a_sandbox_its_providers_and_stand_ins_cannot_be_connected() -> None:
    # Production mode mounts no sandbox: its cards must not lead to a page that is not there.
    alone = Settings(mount_sandbox=False, sandbox_stands_in_for="meta_ads")
    elsewhere = alone.model_copy(update={"sandbox_url": "http://sbx.internal:9000"})
    async with httpx.AsyncClient() as http:
        without = build_registry(alone, http)
        with_one = build_registry(elsewhere, http)

    for key in ("sandbox", "sandbox_api_key", "meta_ads"):
        why = without.why_unavailable(key)
        assert why is not None
        assert "no sandbox runs" in why.reason
        assert why.missing == ("TETHER_SANDBOX_URL",)
        assert with_one.available(key)
    assert with_one.providers["meta_ads"].bases["graph"] == "http://sbx.internal:9000/meta/graph"


async def test_the_sandbox_cannot_stand_in_for_a_provider_tether_does_not_know() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="unknown provider: quora_ads"):
            build_registry(Settings(sandbox_stands_in_for="meta_ads,quora_ads"), http)


async def test_credentials_make_a_provider_reach_the_real_platform() -> None:
    google = ProviderSettings(client_id="id", client_secret="secret", developer_token="dev")
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(providers={"google": google}), http)

    assert registry.available("google_ads")
    assert registry.available("youtube")  # the family's settings serve every Google product
    ads = registry.providers["google_ads"]
    assert ads.bases["ads"] == "https://googleads.googleapis.com"
    url = ads.authorize_url(state="s", code_verifier="v" * 43, redirect_uri="https://t/cb")
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert "access_type=offline" in url


async def test_a_base_url_setting_points_one_base_elsewhere() -> None:
    meta = ProviderSettings(
        client_id="id", client_secret="secret", base_urls={"graph": "https://proxy.example/fb/"}
    )
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(providers={"meta": meta}), http)

    bases = registry.providers["meta_ads"].bases
    assert bases == {"www": "https://www.facebook.com", "graph": "https://proxy.example/fb"}


async def test_standing_in_for_an_unknown_provider_is_refused_at_start() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="myspace"):
            build_registry(Settings(sandbox_stands_in_for="myspace"), http)


async def test_a_providers_own_setting_overrides_its_familys() -> None:
    family = ProviderSettings(client_id="id", client_secret="secret", consent_testing=True)
    own = ProviderSettings.model_validate({"consent_testing": False})
    async with httpx.AsyncClient() as http:
        registry = build_registry(Settings(providers={"google": family, "youtube": own}), http)

    assert registry.providers["google_analytics"].settings.consent_testing is True
    youtube = registry.providers["youtube"].settings
    assert (youtube.consent_testing, youtube.client_id) == (False, "id")
