"""Placeholder: the meta dialect is being written."""

from fastapi import FastAPI

from tether.sandbox.state import SandboxState


def create_app(state: SandboxState) -> FastAPI:
    return FastAPI()
