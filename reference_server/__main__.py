"""Command line: python -m reference_server [--host H] [--port P]; the key comes from the environment."""

from __future__ import annotations

import argparse
import os

from .server import serve

KEY_VARIABLE = "ANTHROPIC_CONFORMANCE_SERVER_KEY"


def main(argv: list[str] | None = None) -> None:
    """Parse the options and serve; without the key variable every non-empty key is accepted."""
    parser = argparse.ArgumentParser(
        prog="python -m reference_server",
        description=f"A deterministic fake of the Anthropic Messages API (key: ${KEY_VARIABLE}).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free port)")
    options = parser.parse_args(argv)
    serve(options.host, options.port, api_key=os.environ.get(KEY_VARIABLE) or None)


if __name__ == "__main__":
    main()
