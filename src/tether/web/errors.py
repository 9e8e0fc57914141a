"""Failures on pages: a readable page, or for HTMX requests a message in the flash area.

The API keeps its JSON errors; a request is a page request when it is not under /api or
/sandbox and does not ask for JSON.
"""

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tether.web.auth import SignInRequired, sign_in_url
from tether.web.templating import render

_NOT_PAGES = ("/api/", "/sandbox", "/openapi.json", "/docs", "/redoc")


def is_page_request(request: Request) -> bool:
    if request.url.path.startswith(_NOT_PAGES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or request.headers.get("hx-request") == "true"


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def page_error(request: Request, error: Exception, *, status: int, message: str) -> Response:
    if isinstance(error, SignInRequired):
        target = sign_in_url(request)
        if is_htmx(request):
            return HTMLResponse("", status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    if is_htmx(request):
        return render(request, "partials/flash.html", {"message": message, "error": True},
                      status_code=status)  # fmt: skip
    return render(request, "error.html", {"status": status, "message": message},
                  status_code=status)  # fmt: skip
