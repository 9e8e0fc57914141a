"""The API's documentation page, /docs (Swagger UI), from files installed with Tether.

FastAPI's own pages load their scripts from a CDN, so they stay blank without internet. The files
come from the `fastapi-offline` package (used for its files only): it ships Swagger UI 5, which
reads the OpenAPI 3.1 that FastAPI writes, where `swagger-ui-bundle` still ships Swagger UI 4.
ReDoc (/redoc) is off: its bundle always loads a logo from its vendor's CDN.
"""

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS = "/docs"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
ASSETS = "/docs/assets"
FAVICON = "/static/favicon.svg"
# Swagger UI sends the schema to swagger.io's validator for a badge unless told not to.
SWAGGER_UI = {"validatorUrl": None}


def install(app: FastAPI) -> None:
    """Serve /docs and its OAuth2 redirect; the app is created with docs_url=None and
    redoc_url=None so that FastAPI's CDN-backed pages are not served as well."""
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{FAVICON}",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters={**SWAGGER_UI, **(app.swagger_ui_parameters or {})},
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route(DOCS, swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT, oauth2_redirect, methods=["GET"], include_in_schema=False)
