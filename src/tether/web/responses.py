"""How the screens answer an action: a flash message with the page told to reload, or the
provider's sign-in URL for a pop-up."""

import json

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from tether.authorizations.oauth import OAuthStart
from tether.web.templating import render

# `tether:changed`, fired on the body rather than on the element that made the request: a region
# reloading at the same moment may have replaced that element, and an event on a detached
# element reaches no listener.
CHANGED = {"HX-Trigger": json.dumps({"tether:changed": {"target": "body"}})}


def changed(request: Request, message: str, *, error: bool = False) -> Response:
    """The answer to an action: a flash message, and `tether:changed`, on which every region
    that shows what may have changed reloads itself."""
    context = {"message": message, "error": error, "oob": True}
    return render(request, "partials/flash.html", context, headers=CHANGED)


def oauth_popup(started: OAuthStart) -> Response:
    """The answer to a `data-oauth-start` button: the URL the page opens in a pop-up, where the
    member signs in at the provider."""
    return JSONResponse({"authorize_url": started.authorize_url})
