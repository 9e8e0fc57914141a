"""Run Sandbox Ads on its own: `python -m tether.sandbox --host 127.0.0.1 --port 8100`."""

from __future__ import annotations

import argparse

import uvicorn

from tether.kit.serving import KEEP_ALIVE_SECONDS
from tether.sandbox import SandboxState, create_app


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the sandbox until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tether.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8100, help="TCP port to listen on")
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo world")
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(SandboxState.seeded(args.seed)),
        host=args.host,
        port=args.port,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


if __name__ == "__main__":
    main()
