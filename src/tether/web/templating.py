"""One Jinja environment for every page, with the filters the screens share."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from tether.providers.catalog import BY_KEY, NAMES

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

STATUS_LABELS = {
    "active": "Active",
    "failing": "Failing",
    "needs_reconnect": "Needs reconnecting",
    "disconnected": "Disconnected",
}


def when(value: datetime | None) -> str:
    """A moment as members read it: `24 Nov 2026, 16:05 UTC`; an em dash for never."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def provider_name(key: str) -> str:
    info = BY_KEY.get(key)
    return info.name if info else key


templates.env.filters["when"] = when
templates.env.filters["provider_name"] = provider_name
templates.env.filters["status_label"] = lambda status: STATUS_LABELS.get(status, status)
templates.env.globals["STATUS_LABELS"] = STATUS_LABELS
# Every provider of the catalog (and the operator's own), key to name, for the lists' filters.
templates.env.globals["PROVIDER_NAMES"] = NAMES


def with_query(request: Request, **changes: str | None) -> str:
    """This page's URL with some query parameters changed (None drops one); a new sort or
    filter starts again from the first page."""
    params = dict(request.query_params)
    params.pop("cursor", None)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    return request.url.path + ("?" + urlencode(params) if params else "")


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A template with what every page needs: the member, their CSRF token, the nav."""
    merged = {
        "actor": getattr(request.state, "actor", None),
        "csrf": getattr(request.state, "csrf", ""),
        "path": request.url.path,
        "with_query": lambda **changes: with_query(request, **changes),
        **(context or {}),
    }
    return templates.TemplateResponse(
        request, name, merged, status_code=status_code, headers=headers
    )
