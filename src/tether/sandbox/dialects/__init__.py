"""The sandbox speaking real platforms' dialects: each at the platform's own paths, in its
shapes and error bodies, over the one sandbox world (users, accounts, grants, faults).

A dialect is an ASGI app mounted at `/<dialect>`; under it, one prefix per base URL of the
provider definition (`/google/ads/...` stands for `https://googleads.googleapis.com/...`).
"""

from fastapi import FastAPI

from tether.sandbox.dialects import (
    amazon,
    callrail,
    google,
    linkedin,
    meta,
    microsoft,
    pinterest,
    semrush,
    snapchat,
    tiktok,
    x,
)
from tether.sandbox.state import SandboxState

DIALECTS = {
    "google": google.create_app,
    "meta": meta.create_app,
    "linkedin": linkedin.create_app,
    "tiktok": tiktok.create_app,
    "pinterest": pinterest.create_app,
    "snapchat": snapchat.create_app,
    "amazon": amazon.create_app,
    "microsoft": microsoft.create_app,
    "x": x.create_app,
    "callrail": callrail.create_app,
    "semrush": semrush.create_app,
}


def mount(app: FastAPI, state: SandboxState) -> None:
    """Mount every dialect on the sandbox app, sharing its world."""
    for name, create in DIALECTS.items():
        app.mount(f"/{name}", create(state))
